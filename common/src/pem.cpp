#include "vigil/pem.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

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

}  // namespace vigil
