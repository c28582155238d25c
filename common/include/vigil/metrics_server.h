// A small HTTP/1.1 server (Boost.Beast) for Prometheus scrapes and the
// collector's web view. One thread; every connection gets a deadline, so an idle
// or slow client (a browser's speculative connection) cannot stall the others.
// Each connection serves one request and is closed.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigil/latency.h"
#include "vigil/result.h"

namespace vigil {

struct HttpRequest {
  std::string method;  // "GET", ...
  std::string path;    // target without the query string
  std::string query;   // after '?', undecoded
  std::string authorization;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A certificate chain and its private key (PEM text) to serve HTTPS with.
struct HttpTls {
  std::string cert_pem;
  std::string key_pem;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // `listen` is HOST:PORT (port 0 picks one); `what` names the server in errors.
  // `handler` runs on the server's thread and must be thread-safe. With `tls`
  // the server speaks HTTPS only (TLS 1.2 or later).
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> start(const std::string& listen,
                                                                 Handler handler,
                                                                 std::string_view what,
                                                                 const HttpTls* tls = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  [[nodiscard]] int port() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True for 127.0.0.0/8, ::1 and "localhost" (the host part of HOST:PORT,
// brackets allowed): a bind only this machine can reach.
[[nodiscard]] bool is_loopback_listen(std::string_view listen);

// GET /metrics answers `render()` as text exposition format 0.0.4; anything
// else is 404.
[[nodiscard]] Result<std::unique_ptr<HttpServer>> serve_metrics(
    const std::string& listen, std::function<std::string()> render);

// Exposition helpers. A family is one "# HELP"/"# TYPE" header followed by
// its samples; metric() is a family of one sample.
void metric_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help);
void metric_sample(std::string& out, std::string_view name, double value,
                   std::string_view labels = {});
void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value, std::string_view labels = {});
// A latency histogram as a Prometheus summary in seconds: quantiles 0.5,
// 0.99 and 0.999 (each within 12.5 %, see latency.h), _sum and _count.
void metric_summary(std::string& out, std::string_view name, std::string_view help,
                    const LatencyHistogram& h);
// A label value escaped for the exposition format (\\, \", \n).
[[nodiscard]] std::string label_value(std::string_view v);

}  // namespace vigil
