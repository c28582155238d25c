// A signed artefact (a scoring model, a rule pack) rolled out to the fleet:
// canary first to a share of the connected agents, a health gate after the
// soak (every canary agent connected and reporting the version; for models
// also the canary's behaviour against the control agents', canary_gate.h), then the
// fleet once nothing holds it back (ArtefactOps::fleet_blocker); automatic rollback when the gate
// fails, manual rollback at any time, agents that say hello later brought to what they should run.
// The state (a RolloutStatus) is kept in the store's meta column family and survives restarts.
// docs/learning.md ("Rollout"), docs/operations.md ("Rule packs").
//
// What differs between artefacts is behind ArtefactOps: the registry (exists,
// active version, state changes), how one agent is sent one version, and which
// version an agent reports.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "vigil/collector/canary_gate.h"
#include "vigil/collector/store.h"
#include "vigil/result.h"
#include "vigil/v1/model.pb.h"
#include "vigil/v1/query.pb.h"

namespace vigil::collector {

struct ArtefactKind {
  std::string noun;       // "model", "rule pack": in logs and errors
  std::string state_key;  // meta key of the persisted RolloutStatus
  // Rule packs: before the first rollout agents run none, so rolling that
  // rollout back sends them "" (no pack). Models always have a previous one.
  bool empty_is_a_version = false;
  // Models: a canary is granted for its soak plus this long (0: no expiry); a
  // canary still held back then (fleet_blocker) is rolled back.
  std::uint64_t canary_ttl_s = 0;
  // Models: after the soak the canary's behaviour is compared with the
  // control's (rolled back, held or passed: judge_canary), and again while it
  // is held, at most every min(soak, 300 s). Null: the health gate only.
  BehaviourSource* behaviour = nullptr;
  CanaryGateConfig gate;
};

// How one agent is sent a version: as a canary (until expires_ns) or for good.
struct PushScope {
  bool canary = false;
  std::uint64_t expires_ns = 0;
};

struct ArtefactOps {
  std::function<std::vector<std::string>()> connected;  // connected agent ids
  // Queues `version` to one agent; false if it is not connected or the version
  // cannot be sent (for that scope).
  std::function<bool(const std::string& agent_id, const std::string& version,
                     const PushScope& scope)>
      push;
  // The version an agent reports running (hello, health).
  std::function<std::string(const v1::AgentRecord&)> running;
  // The registry.
  std::function<Result<bool>(const std::string& version)> exists;
  std::function<std::string()> active_version;
  std::function<void(const std::string& version, const std::string& state)> set_state;
  // Why `version` may not leave its canary for the fleet yet ("" = it may;
  // unset = always may). Models: the release signature.
  std::function<std::string(const std::string& version)> fleet_blocker;
  // Why the canary of `version` fails the gate though it is healthy ("" =
  // it does not; unset = never). Models: its shadow scoring numbers
  // (shadow.h, shadow_blocker). Checked after the health gate, before the
  // behaviour comparison.
  std::function<std::string(const std::string& version)> gate_failure;
};

class ArtefactRollout {
 public:
  ArtefactRollout(Store& store, ArtefactKind kind, ArtefactOps ops);

  // Restores the state saved by a previous run.
  [[nodiscard]] Result<void> restore();
  [[nodiscard]] Result<v1::RolloutStatus> start(const std::string& version, double canary_fraction,
                                                std::uint64_t soak_s, std::uint64_t now_ns);
  [[nodiscard]] Result<v1::RolloutStatus> rollback(const std::string& reason, std::uint64_t now_ns);
  [[nodiscard]] v1::RolloutStatus status();
  // Advances a canary past its soak, or rolls it back when the gate fails.
  void tick(std::uint64_t now_ns);
  // An agent said hello reporting `running`: bring it to what it should run.
  void on_hello(const std::string& agent_id, const std::string& running);

 private:
  [[nodiscard]] Result<void> save();
  void refresh_counts();
  void push(const std::string& agent_id, const std::string& version, const PushScope& scope = {});
  void set_state(const std::string& version, const std::string& state);
  // The behaviour comparison, re-run when due (state_.behaviour keeps the
  // last numbers); its verdict and reason.
  GateVerdict judge_behaviour(std::uint64_t now_ns);

  Store& store_;
  ArtefactKind kind_;
  ArtefactOps ops_;
  std::mutex mu_;  // state_; the ops run under it
  v1::RolloutStatus state_;
  std::string behaviour_reason_;  // of state_.behaviour; "" = not judged since start or restart
};

}  // namespace vigil::collector
