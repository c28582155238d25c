#include "vigil/metrics_server.h"

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <type_traits>

namespace vigil {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace beast = boost::beast;

struct HttpServer::Impl {
  static constexpr auto kDeadline = std::chrono::seconds(10);
  asio::io_context io;
  tcp::acceptor acceptor{io};
  Handler handler;
  std::optional<ssl::context> tls;
  std::thread thread;

  // One request/response per connection, under a deadline. `Stream` is a
  // beast::tcp_stream (HTTP) or an ssl_stream over one (HTTPS).
  template <class Stream>
  struct Session : std::enable_shared_from_this<Session<Stream>> {
    static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
    // The server outlives its sessions: they live in handlers of its io_context.
    template <class... StreamArgs>
    Session(Impl* owner, StreamArgs&&... args)
        : stream(std::forward<StreamArgs>(args)...), server(owner) {}
    Stream stream;
    Impl* server;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response<http::string_body> res;

    beast::tcp_stream& lowest() {
      if constexpr (kTls) {
        return stream.next_layer();
      } else {
        return stream;
      }
    }
    void run() {
      lowest().expires_after(kDeadline);
      if constexpr (kTls) {
        stream.async_handshake(ssl::stream_base::server,
                               [self = this->shared_from_this()](beast::error_code ec) {
                                 if (!ec) self->read();
                               });
      } else {
        read();
      }
    }
    void read() {
      http::async_read(stream, buffer, req,
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         if (!ec) self->respond();
                       });
    }
    void respond() {
      HttpRequest in;
      in.method = std::string(req.method_string());
      const std::string_view target(req.target().data(), req.target().size());
      const auto q = target.find('?');
      in.path = std::string(target.substr(0, q));
      in.query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
      if (const auto it = req.find(http::field::authorization); it != req.end()) {
        in.authorization = std::string(it->value());
      }
      HttpResponse out;
      try {
        out = server->handler(in);
      } catch (const std::exception& e) {
        out =
            HttpResponse{.status = 500, .body = std::string("internal error: ") + e.what() + "\n"};
      }
      res.version(req.version());
      res.keep_alive(false);
      res.result(out.status);
      res.set(http::field::content_type, out.content_type);
      res.set(http::field::cache_control, "no-store");
      if constexpr (kTls) {
        res.set(http::field::strict_transport_security, "max-age=31536000");
      }
      for (const auto& [k, v] : out.headers) {
        res.set(k, v);
      }
      res.body() = std::move(out.body);
      res.prepare_payload();
      lowest().expires_after(kDeadline);
      http::async_write(
          stream, res,
          [self = this->shared_from_this()](beast::error_code, std::size_t) { self->close(); });
    }
    void close() {
      if constexpr (kTls) {
        stream.async_shutdown([self = this->shared_from_this()](beast::error_code) {
          beast::error_code ignored;
          self->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
        });
      } else {
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      }
    }
  };

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        return;  // closed: shutting down
      }
      if (tls) {
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(this, std::move(socket),
                                                                        *tls)
            ->run();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(this, std::move(socket))->run();
      }
      accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  asio::post(impl_->io, [impl = impl_.get()] {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
  });
  impl_->io.stop();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
}

int HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

bool is_loopback_listen(std::string_view listen) {
  auto host = listen.substr(0, listen.rfind(':'));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") {
    return true;
  }
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(std::string(host), ec);
  return !ec && addr.is_loopback();
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& listen, Handler handler,
                                                      std::string_view what, const HttpTls* tls) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} listen address '{}' is not HOST:PORT", what, listen));
  }
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  boost::system::error_code ec;
  if (tls != nullptr) {
    auto& ctx = impl->tls.emplace(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain(asio::buffer(tls->cert_pem), ec);
    if (!ec) ctx.use_private_key(asio::buffer(tls->key_pem), ssl::context::pem, ec);
    if (ec) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: TLS certificate or key: {}", what, ec.message()));
    }
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} listen address '{}': {}", what, listen, ec.message()));
  }
  unsigned port = 0;
  try {
    port = static_cast<unsigned>(std::stoul(listen.substr(colon + 1)));
  } catch (const std::exception&) {
    port = 65536;
  }
  if (port > 65535) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} listen address '{}': bad port", what, listen));
  }
  const tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(64, ec);
  if (ec) {
    return make_error(ErrorCode::kIo,
                      fmt::format("{}: cannot listen on {}: {}", what, listen, ec.message()));
  }
  impl->accept();
  impl->thread = std::thread([raw = impl.get()] { raw->io.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

Result<std::unique_ptr<HttpServer>> serve_metrics(const std::string& listen,
                                                  std::function<std::string()> render) {
  return HttpServer::start(
      listen,
      [render = std::move(render)](const HttpRequest& req) {
        if (req.method == "GET" && req.path == "/metrics") {
          return HttpResponse{.content_type = "text/plain; version=0.0.4; charset=utf-8",
                              .body = render()};
        }
        return HttpResponse{.status = 404, .body = "only GET /metrics is served here\n"};
      },
      "metrics");
}

void metric_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void metric_sample(std::string& out, std::string_view name, double value, std::string_view labels) {
  if (labels.empty()) {
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
  } else {
    fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", name, labels, value);
  }
}

void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value, std::string_view labels) {
  metric_header(out, name, type, help);
  metric_sample(out, name, value, labels);
}

void metric_summary(std::string& out, std::string_view name, std::string_view help,
                    const LatencyHistogram& h) {
  metric_header(out, name, "summary", help);
  for (const auto& [q, label] : {std::pair{0.5, "0.5"}, {0.99, "0.99"}, {0.999, "0.999"}}) {
    metric_sample(out, name, static_cast<double>(h.quantile_ns(q)) / 1e9,
                  fmt::format("quantile=\"{}\"", label));
  }
  metric_sample(out, fmt::format("{}_sum", name),
                h.mean_ns() * static_cast<double>(h.count()) / 1e9);
  metric_sample(out, fmt::format("{}_count", name), static_cast<double>(h.count()));
}

std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace vigil
