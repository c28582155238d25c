// The collector's read-only web view (--web-listen): the page, its script and
// the charting library are compiled in (web/, bundled from npm at build time);
// the data comes from GET /api/overview, which needs a bearer token from the
// collector's token file. Static files are public; no data is.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "vigil/collector/models.h"
#include "vigil/collector/store.h"
#include "vigil/collector/tokens.h"
#include "vigil/metrics_server.h"

namespace vigil::collector {

struct WebAsset {
  std::string_view path;  // URL path, "/" for the page
  std::string_view content_type;
  std::string_view data;
};

// Generated at build time from web/ (cmake/EmbedAssets.cmake).
[[nodiscard]] std::span<const WebAsset> web_assets();

class WebView {
 public:
  WebView(Store& store, ModelManager& models, TokenStore tokens,
          std::function<std::uint64_t()> now_ns);
  // The HTTP handler (runs on the web server's thread).
  [[nodiscard]] HttpResponse handle(const HttpRequest& req);
  // The JSON document behind the page: {"version", "report", "rollout", "active_model"}.
  [[nodiscard]] std::string overview_json(std::uint64_t window_s);

 private:
  Store& store_;
  ModelManager& models_;
  TokenStore tokens_;
  std::function<std::uint64_t()> now_ns_;
};

}  // namespace vigil::collector
