// The collector's side of neural Darwinism (docs/learning.md):
//  - a model registry in RocksDB (versions, lineage, held-out fitness, state);
//  - continuous evolution on recent fleet data (on a schedule, after new
//    analyst feedback, or on request); a candidate is registered only if it
//    beats the model in service on held-out fleet data;
//  - signing (ed25519, libsodium) and a canary rollout to agents with a health
//    gate, automatic rollback when the gate fails, and manual rollback (the
//    rollout is an ArtefactRollout, shared with rule packs);
//  - two keys (docs/security.md, "Models"): the collector's online key grants
//    models for canary use; the fleet needs a release signature made with the
//    operators' offline release key (`vigilctl models sign`), of which the
//    collector holds only the public half (release_pubkey).
// Agents are reached through two callbacks so the class is testable without
// gRPC.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "vigil/collector/rollout.h"
#include "vigil/collector/shadow.h"
#include "vigil/collector/store.h"
#include "vigil/evolution.h"
#include "vigil/result.h"
#include "vigil/signing.h"
#include "vigil/v1/agent.pb.h"
#include "vigil/v1/model.pb.h"

namespace vigil::collector {

struct ModelConfig {
  std::filesystem::path signing_key;  // hex ed25519 secret key; created (0600) if missing
  // Hex ed25519 public key of the release key ("" = none: no model other than
  // the shipped one reaches the fleet).
  std::string release_pubkey;
  // A canary is granted for its soak plus this long to get its release
  // signature; agents then drop it, the rollout is rolled back.
  std::uint64_t canary_ttl_s = 3 * 86400;
  std::uint64_t evolve_interval_s = 6 * 3600;  // scheduled evolution (0: only on demand)
  std::uint64_t evolve_window_s = 7 * 86400;   // fleet data it learns from
  std::uint32_t evolve_feedback_trigger = 5;   // new analyst labels that start a run
  std::size_t evolve_population = 100;
  std::size_t evolve_generations = 80;
  std::size_t evolve_workers = 4;
  // Fleet events sampled (reservoir, fixed seed) as negatives (no indicator),
  // and as many again as weak negatives (an indicator, no alert, no label).
  std::size_t evolve_max_negatives = 20000;
  // Labelled scenario recordings (a .vds file, e.g. the shipped
  // models/dataset.vds) learnt beside the fleet's data: the attacks every
  // candidate must keep alerting on. "" = none (positives then come only from
  // analyst feedback). There is no score-based positive: a model's own
  // verdicts are never labels (docs/learning.md, "Fleet learning data").
  std::filesystem::path scenario_dataset;
  // Acceptance (evo::accepts, the rule vigil-evolve --keep-best applies): held-out
  // AUC+TPR gain on the events with an indicator a candidate needs, and the
  // AUC+TPR on all events it may lose.
  double min_improvement = 0.001;
  double all_events_tolerance = 0.002;
  // Independent evolutions joined into each network (evo::TrainOptions::ensemble);
  // at most 4 with networks of up to 16 hidden units.
  std::size_t evolve_ensemble = 4;
  // Folds of inner validation on the training part that choose the generation
  // count (0..evolve_generations); 0 or 1: run them all, keep the last.
  std::size_t evolve_inner_folds = 0;
  // The canary gate's behaviour comparison (canary_gate.h; YAML canary_gate_*).
  CanaryGateConfig canary_gate;
};

// How the manager reaches agents.
struct AgentLink {
  // Connected agent ids.
  std::function<std::vector<std::string>()> connected;
  // Queues a model update to one agent; false if it is not connected.
  std::function<bool(const std::string& agent_id, const v1::ModelUpdate& update)> send;
};

class ModelManager {
 public:
  ModelManager(Store& store, ModelConfig config, AgentLink link);
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Loads or creates the signing key; registers the shipped default model as
  // active when the registry is empty; restores the rollout state.
  [[nodiscard]] Result<void> init(std::string_view shipped_model, std::uint64_t now_ns);
  [[nodiscard]] std::string public_key_hex() const;
  // The collector's ed25519 key (valid after init): rule packs are signed with it too.
  [[nodiscard]] const SigningKey& signing_key() const { return key_; }

  [[nodiscard]] v1::ListModelsResponse list();
  [[nodiscard]] Result<v1::GetModelResponse> get(const std::string& version);
  // Registers a model made elsewhere (vigil-evolve) as a candidate.
  [[nodiscard]] Result<v1::ModelInfo> import(std::string_view model_bytes, std::uint64_t now_ns);
  // Stores a release made with the release key, after checking it (and its
  // rollback marker) against release_pubkey.
  [[nodiscard]] Result<v1::ModelInfo> release(const v1::ReleaseModelRequest& req);

  // One evolution run on the stored fleet data, synchronously. Registers the
  // evolved model as a candidate if it beats the active one on held-out data.
  [[nodiscard]] Result<v1::EvolutionStatus> evolve_once(std::uint64_t now_ns);
  // Starts evolve_once on a background thread unless one is running.
  v1::EvolutionStatus evolve_async(std::uint64_t now_ns);
  [[nodiscard]] v1::EvolutionStatus evolution_status();
  // The labelled samples evolve_once would learn from (exposed for tests):
  // analyst labels (malicious 1, benign 0; evo::LabelSource::kFeedback), the
  // scenario dataset as recorded, fleet events without an indicator as
  // negatives and indicator events neither escalated nor labelled as weak
  // negatives (both sampled to evolve_max_negatives). Never a positive from a
  // score.
  [[nodiscard]] evo::Dataset fleet_dataset(std::uint64_t now_ns);

  [[nodiscard]] Result<v1::RolloutStatus> rollout(const std::string& version,
                                                  double canary_fraction, std::uint64_t soak_s,
                                                  std::uint64_t now_ns);
  [[nodiscard]] Result<v1::RolloutStatus> rollback(const std::string& reason, std::uint64_t now_ns);
  // The rollout, with the shadow scoring (RolloutStatus.shadow).
  [[nodiscard]] v1::RolloutStatus status();

  // Shadow scoring (shadow.h): `version` scored beside the active model on
  // `fraction` of the agents, counted, never acting; stopped on request or
  // when it becomes the active model. A canary whose shadow numbers say it
  // alerts on everything fails the canary gate.
  [[nodiscard]] Result<v1::ShadowStatus> shadow(const std::string& version, double fraction,
                                                std::uint64_t now_ns);
  [[nodiscard]] Result<v1::ShadowStatus> stop_shadow(const std::string& reason,
                                                     std::uint64_t now_ns);
  [[nodiscard]] v1::ShadowStatus shadow_status() { return shadow_.status(); }
  // An agent's health (its shadow report). Any thread.
  void on_health(const std::string& agent_id, const v1::Health& health);

  // Periodic: advances a canary past its soak (or rolls it back), starts
  // scheduled or feedback-triggered evolution.
  void tick(std::uint64_t now_ns);
  // An agent said hello: bring it to the model it should run.
  void on_hello(const std::string& agent_id, const std::string& model_version);
  // An analyst labelled an alert (counts towards the feedback trigger).
  void on_feedback() { ++new_feedback_; }

 private:
  [[nodiscard]] Result<v1::ModelRecord> sign(const v1::Model& model, v1::ModelInfo info);
  [[nodiscard]] std::string active_version();
  bool push(const std::string& agent_id, const std::string& version, const PushScope& scope);
  // Sends `version` as the agent's shadow model ("" withdraws it).
  bool push_shadow(const std::string& agent_id, const std::string& version);
  // Why `version` may not go to the fleet ("" = it may).
  [[nodiscard]] std::string fleet_blocker(const std::string& version);
  [[nodiscard]] std::string fleet_blocker(const v1::ModelRecord& rec) const;
  void set_state(const std::string& version, const std::string& state);

  Store& store_;
  ModelConfig config_;
  AgentLink link_;
  SigningKey key_;
  std::string shipped_bytes_;  // the shipped model as stored: release 0, agents have it built in
  evo::Dataset scenarios_;     // config_.scenario_dataset, loaded by init()

  std::mutex mu_;  // registry read-modify-writes (import, release); marker_
  // The newest release's rollback marker, sent with every fleet update so
  // that a rollback from it reaches agents (rollback_* fields of ModelUpdate).
  v1::ModelUpdate marker_;
  StoreBehaviourSource behaviour_;  // what the canary gate compares (before rollout_)
  ShadowScoring shadow_;            // before rollout_, whose gate reads it
  ArtefactRollout rollout_;

  std::mutex evo_mu_;
  v1::EvolutionStatus evo_status_;
  std::atomic<bool> evolving_{false};
  std::atomic<bool> stopping_{false};  // the destructor cancels a running evolution
  std::thread evo_thread_;
  std::atomic<std::uint32_t> new_feedback_{0};
  std::uint64_t last_scheduled_ns_ = 0;
};

}  // namespace vigil::collector
