#include "vigil/collector/web.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "vigil/collector/collector.h"
#include "vigil/collector/report.h"

namespace vigil::collector {
namespace {

constexpr std::uint64_t kMaxWindowS = 30ULL * 24 * 3600;

nlohmann::json to_json(const google::protobuf::Message& msg) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(msg, &out, opts);
  return nlohmann::json::parse(out, nullptr, false);
}

// The value of `key` in an undecoded query string ("a=1&window=60").
std::string_view query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == key) {
      return pair.substr(eq + 1);
    }
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return {};
}

// On every response, pages and API alike: no framing (clickjacking), no MIME
// sniffing, no referrer (the token lives in the URL fragment, which browsers
// never send, but nothing else should leak either).
std::vector<std::pair<std::string, std::string>> security_headers() {
  return {{"Content-Security-Policy",
           "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
           "base-uri 'none'; form-action 'none'"},
          {"X-Frame-Options", "DENY"},
          {"X-Content-Type-Options", "nosniff"},
          {"Referrer-Policy", "no-referrer"}};
}

HttpResponse text(unsigned status, std::string body) {
  return HttpResponse{.status = status, .body = std::move(body), .headers = security_headers()};
}

}  // namespace

WebView::WebView(Store& store, ModelManager& models, TokenStore tokens,
                 std::function<std::uint64_t()> now_ns)
    : store_(store), models_(models), tokens_(std::move(tokens)), now_ns_(std::move(now_ns)) {}

std::string WebView::overview_json(std::uint64_t window_s) {
  v1::FleetReportRequest req;
  req.set_window_s(window_s);
  req.set_top(10);
  const auto report = build_fleet_report(store_, req, now_ns_());
  std::string active;
  const auto registry = models_.list();
  for (const auto& m : registry.models()) {
    if (m.state() == "active") {
      active = m.version();
    }
  }
  nlohmann::json doc = {{"version", std::string(kVersion)},
                        {"report", to_json(report)},
                        {"rollout", to_json(models_.status())},
                        {"active_model", active}};
  return doc.dump();
}

HttpResponse WebView::handle(const HttpRequest& req) {
  if (req.method != "GET") {
    return text(405, "the web view is read-only: GET only\n");
  }
  if (req.path == "/api/overview") {
    if (!tokens_.check_bearer(req.authorization)) {
      auto res = text(401, "a valid bearer token is required\n");
      res.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"vigil\"");
      return res;
    }
    std::uint64_t window_s = kDefaultReportWindowS;
    if (const auto w = query_param(req.query, "window"); !w.empty()) {
      const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), window_s);
      if (ec != std::errc() || end != w.data() + w.size() || window_s == 0 ||
          window_s > kMaxWindowS) {
        return text(400, fmt::format("window must be 1..{} seconds\n", kMaxWindowS));
      }
    }
    return HttpResponse{.content_type = "application/json",
                        .body = overview_json(window_s),
                        .headers = security_headers()};
  }
  for (const auto& asset : web_assets()) {
    if (asset.path == req.path || (asset.path == "/" && req.path == "/index.html")) {
      return HttpResponse{.content_type = std::string(asset.content_type),
                          .body = std::string(asset.data),
                          .headers = security_headers()};
    }
  }
  return text(404, "not found\n");
}

}  // namespace vigil::collector
