#include "vigil/model_release.h"

#include <fmt/format.h>

namespace vigil {

std::string model_grant_message(std::string_view scope, std::uint64_t expires_ns,
                                std::string_view model_bytes) {
  auto m = fmt::format("vigil.v1.ModelGrant\n{}\n{}\n", scope, expires_ns);
  m.append(model_bytes);
  return m;
}

std::string model_release_message(std::uint64_t release_seq, std::string_view model_bytes) {
  auto m = fmt::format("vigil.v1.ModelRelease\n{}\n", release_seq);
  m.append(model_bytes);
  return m;
}

std::string model_rollback_message(std::uint64_t from_seq, std::uint64_t to_seq) {
  return fmt::format("vigil.v1.ModelRollback\n{}\n{}\n", from_seq, to_seq);
}

}  // namespace vigil
