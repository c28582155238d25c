#include "vigil/agent/model_update.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "vigil/agent/pipeline.h"
#include "vigil/log.h"
#include "vigil/model_release.h"
#include "vigil/signing.h"

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

namespace {

constexpr std::uint64_t kNs = 1'000'000'000ULL;

Result<void> refuse(const v1::ModelUpdate& update, std::string_view why) {
  return make_error(ErrorCode::kPermission, fmt::format("model update '{}' refused: {}",
                                                        update.version().substr(0, 64), why));
}

// Signatures, scope, expiry and release order; the model is not loaded.
Result<void> check_trust(const v1::ModelUpdate& update, const ModelKeys& keys,
                         const ReleaseState& state, std::uint64_t now_ns) {
  if (keys.online.empty()) {
    return refuse(update, "no model_pubkey configured to verify it with");
  }
  const bool canary = update.scope() == kModelScopeCanary;
  if (!canary && update.scope() != kModelScopeFleet) {
    return refuse(update, fmt::format("unknown scope '{}' (a collector older than this agent?)",
                                      update.scope().substr(0, 32)));
  }
  if (canary && update.expires_ns() <= now_ns) {
    return refuse(update, "the canary grant has expired");
  }
  if (canary && update.expires_ns() - now_ns > kModelMaxCanaryTtlS * kNs) {
    return refuse(update, fmt::format("the canary grant runs more than {} days",
                                      kModelMaxCanaryTtlS / 86400));
  }
  if (!canary && update.expires_ns() != 0) {
    return refuse(update, "a fleet grant does not expire");
  }
  if (auto r = verify_signature(
          keys.online, model_grant_message(update.scope(), update.expires_ns(), update.model()),
          update.signature());
      !r) {
    return refuse(update, r.error().code == ErrorCode::kPermission
                              ? fmt::format("bad signature for scope {} by the collector's key",
                                            update.scope())
                              : r.error().message);
  }
  if (canary) {
    return {};  // canary use: the online key is enough; the release order is untouched
  }
  const std::uint64_t seq = update.release_seq();
  if (seq == 0) {
    // Release 0 is what every agent ships with: nothing to sign, but only
    // this agent's own built-in model passes for it.
    if (update.model() != default_model()->proto().SerializeAsString()) {
      return refuse(update, "release 0 must be this agent's built-in default model");
    }
  } else if (keys.release.empty()) {
    return refuse(update,
                  "no model_release_pubkey configured: fleet models need a release signature");
  } else if (update.release_signature().empty()) {
    return refuse(update, fmt::format("fleet scope without a release signature (release {})", seq));
  } else if (auto r = verify_signature(keys.release, model_release_message(seq, update.model()),
                                       update.release_signature());
             !r) {
    return refuse(update, r.error().code == ErrorCode::kPermission
                              ? fmt::format("release {} is not signed by the release key", seq)
                              : "model_release_pubkey is not a hex ed25519 key");
  }
  if (seq >= state.highest || seq == state.current) {
    return {};
  }
  // A downgrade: only with a rollback marker from the highest release seen.
  const bool marked =
      !keys.release.empty() && update.rollback_from_seq() == state.highest &&
      seq >= update.rollback_to_seq() &&
      verify_signature(keys.release,
                       model_rollback_message(update.rollback_from_seq(), update.rollback_to_seq()),
                       update.rollback_signature())
          .has_value();
  if (!marked) {
    return refuse(update,
                  fmt::format("downgrade from release {} to {} without a rollback marker signed by "
                              "the release key",
                              state.highest, seq));
  }
  return {};
}

Result<v1::ModelUpdate> read_update(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  v1::ModelUpdate update;
  if (!in || !update.ParseFromString(ss.str())) {
    return make_error(ErrorCode::kCorrupt, "not a model update");
  }
  return update;
}

}  // namespace

Result<std::shared_ptr<const ScoringModel>> verify_model_update(const v1::ModelUpdate& update,
                                                                const ModelKeys& keys,
                                                                const ReleaseState& state,
                                                                std::uint64_t now_ns) {
  if (auto r = check_trust(update, keys, state, now_ns); !r) {
    return std::unexpected(r.error());
  }
  return ScoringModel::load_bytes(update.model());
}

Result<std::shared_ptr<const ScoringModel>> verify_shadow_update(const v1::ModelUpdate& update,
                                                                 const ModelKeys& keys) {
  const auto no = [&](std::string_view why) {
    return std::unexpected(refuse(update, why).error());
  };
  if (update.scope() != kModelScopeShadow) {
    return no(
        fmt::format("scope '{}' where a shadow model was expected", update.scope().substr(0, 32)));
  }
  if (keys.online.empty()) {
    return no("no model_pubkey configured to verify it with");
  }
  if (update.expires_ns() != 0) {
    return no("a shadow grant does not expire");
  }
  if (auto r = verify_signature(
          keys.online, model_grant_message(update.scope(), update.expires_ns(), update.model()),
          update.signature());
      !r) {
    return no(r.error().code == ErrorCode::kPermission
                  ? "bad signature for scope shadow by the collector's key"
                  : r.error().message);
  }
  return ScoringModel::load_bytes(update.model());
}

ModelTrust::ModelTrust(std::filesystem::path state_dir, ModelKeys keys)
    : dir_(std::move(state_dir)), keys_(std::move(keys)) {}

Result<void> ModelTrust::persist(const std::filesystem::path& path, const std::string& bytes) {
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())) ||
        !out.flush()) {
      return make_error(ErrorCode::kIo, fmt::format("cannot write {}", tmp.string()));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("rename to {}: {}", path.string(), ec.message()));
  }
  return {};
}

ModelTrust::Restored ModelTrust::restore(std::uint64_t now_ns) {
  Restored out;
  const auto release_path = dir_ / "model-release.pb";
  const auto canary_path = dir_ / "model-canary.pb";
  std::error_code ec;
  if (std::ifstream seq(dir_ / "model-release-seq"); seq) {
    seq >> state_.highest;
  }
  if (std::filesystem::exists(release_path, ec)) {
    auto update = read_update(release_path);
    if (update && update->scope() != kModelScopeFleet) {
      update = make_error(ErrorCode::kPermission, "not a fleet update");
    }
    // At start the release order is the persisted one: the file is checked
    // for what signed it, as it was when it came.
    const ReleaseState as_persisted{
        .current = update ? update->release_seq() : 0,
        .highest = std::max(state_.highest, update ? update->release_seq() : 0)};
    auto model = update
                     ? verify_model_update(*update, keys_, as_persisted, now_ns)
                     : Result<std::shared_ptr<const ScoringModel>>(std::unexpected(update.error()));
    if (model) {
      released_ = *model;
      state_ = as_persisted;
    } else {
      out.refusals.push_back(fmt::format("{}: {}", release_path.string(), model.error().message));
    }
  }
  if (std::filesystem::exists(canary_path, ec)) {
    auto update = read_update(canary_path);
    if (update && update->scope() == kModelScopeCanary && update->expires_ns() <= now_ns) {
      std::filesystem::remove(canary_path, ec);  // a grant that ran out while stopped
    } else {
      if (update && update->scope() != kModelScopeCanary) {
        update = make_error(ErrorCode::kPermission, "not a canary update");
      }
      auto model =
          update ? verify_model_update(*update, keys_, state_, now_ns)
                 : Result<std::shared_ptr<const ScoringModel>>(std::unexpected(update.error()));
      if (model) {
        canary_expires_ns_ = update->expires_ns();
        out.model = *model;
        return out;
      }
      out.refusals.push_back(fmt::format("{}: {}", canary_path.string(), model.error().message));
    }
  }
  // model.pb: written by agents before models carried their signatures.
  if (const auto legacy = dir_ / "model.pb"; !released_ && std::filesystem::exists(legacy, ec)) {
    out.refusals.push_back(
        fmt::format("{}: a model without its signatures (written by an older agent) is not used",
                    legacy.string()));
  }
  out.model = released_;
  return out;
}

Result<std::shared_ptr<const ScoringModel>> ModelTrust::apply(const v1::ModelUpdate& update,
                                                              std::uint64_t now_ns) {
  auto model = verify_model_update(update, keys_, state_, now_ns);
  if (!model) {
    return model;
  }
  std::error_code ec;
  if (update.scope() == kModelScopeCanary) {
    if (auto r = persist(dir_ / "model-canary.pb", update.SerializeAsString()); !r) {
      VLOG_WARN("canary model {} applied but not persisted: {}", update.version(),
                r.error().message);
    }
    canary_expires_ns_ = update.expires_ns();
    return model;
  }
  const ReleaseState next{.current = update.release_seq(),
                          .highest = std::max(state_.highest, update.release_seq())};
  // The highest release first: a crash in between leaves the agent unable
  // to go below it, never able to.
  if (next.highest != state_.highest) {
    if (auto r = persist(dir_ / "model-release-seq", fmt::format("{}\n", next.highest)); !r) {
      return make_error(ErrorCode::kIo, fmt::format("model {} not applied: {}", update.version(),
                                                    r.error().message));
    }
  }
  if (auto r = persist(dir_ / "model-release.pb", update.SerializeAsString()); !r) {
    VLOG_WARN("model {} applied but not persisted: {}", update.version(), r.error().message);
  }
  std::filesystem::remove(dir_ / "model-canary.pb", ec);  // a release ends any canary
  canary_expires_ns_ = 0;
  state_ = next;
  released_ = *model;
  return model;
}

std::optional<std::shared_ptr<const ScoringModel>> ModelTrust::expire(std::uint64_t now_ns) {
  if (canary_expires_ns_ == 0 || now_ns < canary_expires_ns_) {
    return std::nullopt;
  }
  std::error_code ec;
  std::filesystem::remove(dir_ / "model-canary.pb", ec);
  canary_expires_ns_ = 0;
  return released_;
}

}  // namespace vigil::agent
