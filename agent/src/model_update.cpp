#include "vigil/agent/model_update.h"

#include <fmt/format.h>
#include <sodium.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace vigil::agent {

Result<std::shared_ptr<const ScoringModel>> load_model_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::kNotFound, fmt::format("model {}: cannot read", path.string()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto model = ScoringModel::load_bytes(ss.str());
  if (!model) {
    return make_error(model.error().code,
                      fmt::format("model {}: {}", path.string(), model.error().message));
  }
  return model;
}

Result<void> save_model_file(const std::filesystem::path& path, const ScoringModel& model) {
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !model.proto().SerializeToOstream(&out)) {
      return make_error(ErrorCode::kIo, fmt::format("model: cannot write {}", tmp.string()));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return make_error(ErrorCode::kIo,
                      fmt::format("model: rename to {}: {}", path.string(), ec.message()));
  }
  return {};
}

Result<std::shared_ptr<const ScoringModel>> verify_model_update(const v1::ModelUpdate& update,
                                                                std::string_view pubkey_hex) {
  if (pubkey_hex.empty()) {
    return make_error(ErrorCode::kPermission,
                      "model update refused: no model_pubkey configured to verify it with");
  }
  if (sodium_init() < 0) {
    return make_error(ErrorCode::kInternal, "libsodium failed to initialise");
  }
  std::vector<unsigned char> pk(crypto_sign_PUBLICKEYBYTES);
  std::size_t pk_len = 0;
  if (sodium_hex2bin(pk.data(), pk.size(), pubkey_hex.data(), pubkey_hex.size(), nullptr, &pk_len,
                     nullptr) != 0 ||
      pk_len != crypto_sign_PUBLICKEYBYTES) {
    return make_error(ErrorCode::kInvalidArgument, "model_pubkey is not a hex ed25519 key");
  }
  if (update.signature().size() != crypto_sign_BYTES ||
      crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(update.signature().data()),
                                  reinterpret_cast<const unsigned char*>(update.model().data()),
                                  update.model().size(), pk.data()) != 0) {
    return make_error(
        ErrorCode::kPermission,
        fmt::format("model update '{}' refused: bad signature", update.version().substr(0, 64)));
  }
  return ScoringModel::load_bytes(update.model());
}

}  // namespace vigil::agent
