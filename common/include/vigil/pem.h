// Reading TLS material (PEM files) with a clear error naming the setting.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "vigil/result.h"

namespace vigil {

// The file's text if it holds at least one PEM block; `what` names the setting
// in the error ("tls_cert /etc/vigil/tls/agent.crt: not a readable PEM file").
[[nodiscard]] Result<std::string> read_pem(const std::filesystem::path& path,
                                           std::string_view what);

// The three PEM files of one side of (m)TLS, read together.
struct TlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
};
[[nodiscard]] Result<TlsFiles> read_tls_files(const std::filesystem::path& ca,
                                              const std::filesystem::path& cert,
                                              const std::filesystem::path& key);

}  // namespace vigil
