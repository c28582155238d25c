// Where the agent's scoring model comes from: a file given by the local admin
// (trusted as it is), the state directory (the last model rolled out to this
// host, checked again at start), or an update from the collector. Updates are
// checked against two keys (docs/security.md, "Models"; the signed messages
// are in vigil/model_release.h): the collector's online key grants a model
// for canary or fleet use; a fleet model needs a release signature by the
// offline release key too, and releases only go forward unless the release
// key signed a rollback marker.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/result.h"
#include "vigil/scoring.h"
#include "vigil/v1/agent.pb.h"

namespace vigil::agent {

[[nodiscard]] Result<std::shared_ptr<const ScoringModel>> load_model_file(
    const std::filesystem::path& path);
// Written to a temporary file and renamed: a crash never leaves half a model.
[[nodiscard]] Result<void> save_model_file(const std::filesystem::path& path,
                                           const ScoringModel& model);

// The keys models are checked with (hex ed25519 public keys; "" = none).
struct ModelKeys {
  std::string online;   // model_pubkey: the collector's key
  std::string release;  // model_release_pubkey: the operators' offline release key
};

// Where the agent stands in the release order.
struct ReleaseState {
  std::uint64_t current = 0;  // the release it runs or returns to (0: its built-in default)
  std::uint64_t highest = 0;  // the highest release it ever accepted
};

// Accepts `update` only if the online key granted it for its scope (a canary
// grant not expired and at most kModelMaxCanaryTtlS ahead of `now_ns`); a
// fleet update also needs the release key's signature (release 0: only the
// agent's own built-in default), and a release below `state.highest` (other
// than `state.current`) needs a rollback marker from `state.highest`. Then
// loads (validates) the model. kPermission for every trust failure.
[[nodiscard]] Result<std::shared_ptr<const ScoringModel>> verify_model_update(
    const v1::ModelUpdate& update, const ModelKeys& keys, const ReleaseState& state,
    std::uint64_t now_ns);

// A shadow model (scope "shadow", docs/api.md "Shadow scoring"): granted by
// the online key for that scope, with expires_ns 0, and loadable. It never
// acts, so the release order does not apply and nothing is persisted.
// kPermission for every trust failure.
[[nodiscard]] Result<std::shared_ptr<const ScoringModel>> verify_shadow_update(
    const v1::ModelUpdate& update, const ModelKeys& keys);

// The model updates an agent accepted, kept in its state directory as the
// updates themselves (model and signatures, checked again at every start):
// model-release.pb (the last fleet update), model-canary.pb (a canary grant
// in force) and model-release-seq (ReleaseState::highest).
class ModelTrust {
 public:
  ModelTrust(std::filesystem::path state_dir, ModelKeys keys);

  struct Restored {
    std::shared_ptr<const ScoringModel> model;  // null: the built-in default
    std::vector<std::string> refusals;          // "FILE VERSION: reason", not used
  };
  // At start: the persisted model that still verifies with the configured
  // keys (a canary grant in force, else the last release).
  [[nodiscard]] Restored restore(std::uint64_t now_ns);
  // Verifies and persists an update; the model to run.
  [[nodiscard]] Result<std::shared_ptr<const ScoringModel>> apply(const v1::ModelUpdate& update,
                                                                  std::uint64_t now_ns);
  // When a canary grant has expired: drops it and returns the model to go
  // back to (null inside: the built-in default). nullopt: nothing expired.
  [[nodiscard]] std::optional<std::shared_ptr<const ScoringModel>> expire(std::uint64_t now_ns);

  [[nodiscard]] const ReleaseState& state() const { return state_; }
  [[nodiscard]] std::uint64_t canary_expires_ns() const { return canary_expires_ns_; }

 private:
  [[nodiscard]] Result<void> persist(const std::filesystem::path& path, const std::string& bytes);

  std::filesystem::path dir_;
  ModelKeys keys_;
  ReleaseState state_;
  std::shared_ptr<const ScoringModel> released_;  // null: the built-in default
  std::uint64_t canary_expires_ns_ = 0;           // 0: no canary grant in force
};

}  // namespace vigil::agent
