#include "vigil/pem.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <tuple>

namespace vigil {

Result<std::string> read_pem(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in || ss.str().find("-----BEGIN ") == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} {}: not a readable PEM file", what, path.string()));
  }
  return ss.str();
}

Result<TlsFiles> read_tls_files(const std::filesystem::path& ca, const std::filesystem::path& cert,
                                const std::filesystem::path& key) {
  TlsFiles out;
  for (auto [path, what, dest] :
       {std::tuple{&ca, "tls_ca", &out.ca}, std::tuple{&cert, "tls_cert", &out.cert},
        std::tuple{&key, "tls_key", &out.key}}) {
    auto pem = read_pem(*path, what);
    if (!pem) {
      return std::unexpected(pem.error());
    }
    *dest = std::move(*pem);
  }
  return out;
}

}  // namespace vigil
