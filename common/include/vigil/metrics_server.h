// A small HTTP server for Prometheus scrapes (Boost.Beast): GET /metrics
// answers `render()` as text exposition format 0.0.4; anything else is 404.
// One thread, one connection at a time: a scrape every few seconds is its load.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "vigil/result.h"

namespace vigil {

class MetricsServer {
 public:
  // `listen` is HOST:PORT (port 0 picks one). `render` runs on the server's
  // thread and must be thread-safe.
  [[nodiscard]] static Result<std::unique_ptr<MetricsServer>> start(
      const std::string& listen, std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  [[nodiscard]] int port() const;

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Exposition helpers. A family is one "# HELP"/"# TYPE" header followed by
// its samples; metric() is a family of one sample.
void metric_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help);
void metric_sample(std::string& out, std::string_view name, double value,
                   std::string_view labels = {});
void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value, std::string_view labels = {});
// A label value escaped for the exposition format (\\, \", \n).
[[nodiscard]] std::string label_value(std::string_view v);

}  // namespace vigil
