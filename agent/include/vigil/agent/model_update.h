// Where the agent's scoring model comes from: a file, the state directory (the
// last model rolled out to this host), or a signed update from the collector.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "vigil/result.h"
#include "vigil/scoring.h"
#include "vigil/v1/agent.pb.h"

namespace vigil::agent {

[[nodiscard]] Result<std::shared_ptr<const ScoringModel>> load_model_file(
    const std::filesystem::path& path);
// Written to a temporary file and renamed: a crash never leaves half a model.
[[nodiscard]] Result<void> save_model_file(const std::filesystem::path& path,
                                           const ScoringModel& model);
// Accepts the update only if `signature` is a valid ed25519 signature of
// `model` bytes by `pubkey_hex`; then loads (validates) it.
[[nodiscard]] Result<std::shared_ptr<const ScoringModel>> verify_model_update(
    const v1::ModelUpdate& update, std::string_view pubkey_hex);

}  // namespace vigil::agent
