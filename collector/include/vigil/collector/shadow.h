// Shadow scoring in the collector (docs/api.md, "Shadow scoring"): a
// candidate model is sent to all connected agents, or a share of them, as a
// shadow model (scope "shadow"): they score every event with it beside the
// active model, count what it would have alerted on and report the counts in
// their health (Health.shadow), and it never acts. The collector adds the
// reports up per candidate (ShadowTally) and shows them in the rollout status
// (RolloutStatus.shadow), `vigilctl models status` and the API; the canary gate
// refuses to take a candidate to the fleet while its shadow numbers say it
// would alert far more than the active model (shadow_blocker).
//
// One shadow model at a time; the state (a ShadowStatus, with every agent's
// numbers) is kept in the store's meta column family and survives restarts.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "vigil/collector/canary_gate.h"
#include "vigil/collector/store.h"
#include "vigil/result.h"
#include "vigil/v1/agent.pb.h"
#include "vigil/v1/model.pb.h"

namespace vigil::collector {

// Score buckets of ShadowCounts.scores: [0,10), ..., [90,100].
inline constexpr int kShadowBuckets = 10;

// Adds up the agents' reports for one shadow model. A report is cumulative
// since its since_ns: one with the same since_ns replaces that agent's
// current count, one with another since_ns (the agent restarted, or took the
// model again) starts a new count and the earlier ones stay in the sums.
class ShadowTally {
 public:
  // Starts from a status (its version, and the numbers of a restored one).
  explicit ShadowTally(v1::ShadowStatus status = {});

  // Adds one report; refuses (kInvalidArgument, saying why) one for another
  // version or whose counts do not add up, and changes nothing then.
  [[nodiscard]] Result<void> add(const std::string& agent_id, const v1::ShadowReport& report,
                                 std::uint64_t now_ns);
  // The status with the sums, rates and the agents' rows.
  [[nodiscard]] const v1::ShadowStatus& status() const { return status_; }
  [[nodiscard]] v1::ShadowStatus& mutable_status() { return status_; }

 private:
  v1::ShadowStatus status_;
  std::unordered_map<std::string, int> rows_;  // agent id -> index in per_agent
};

// Why the gate holds `version` back from the fleet on its shadow numbers, ""
// if nothing does: at least cfg.min_events events scored in shadow, and a
// would-be alert rate per 1,000 events above max(cfg.alert_ratio x the active
// model's on the same events, cfg.alert_floor_per_1k) (the canary gate's
// "alerts on everything" thresholds).
[[nodiscard]] std::string shadow_blocker(const v1::ShadowStatus& status, const std::string& version,
                                         const CanaryGateConfig& cfg);

// How the shadow scoring reaches agents and the registry.
struct ShadowOps {
  std::function<std::vector<std::string>()> connected;  // connected agent ids
  // Sends `version` to one agent as its shadow model ("" withdraws it); false
  // if it is not connected or the model cannot be sent.
  std::function<bool(const std::string& agent_id, const std::string& version)> send;
  std::function<Result<bool>(const std::string& version)> exists;
  std::function<std::string()> active_version;
};

class ShadowScoring {
 public:
  ShadowScoring(Store& store, std::string state_key, ShadowOps ops);

  // Restores the state saved by a previous run.
  [[nodiscard]] Result<void> restore();
  // Sends `version` to `fraction` (0..1, at least one agent) of the connected
  // agents; replaces a shadow model in force. Not the active model.
  [[nodiscard]] Result<v1::ShadowStatus> start(const std::string& version, double fraction,
                                               std::uint64_t now_ns);
  // Withdraws the shadow model from the agents; the numbers stay.
  [[nodiscard]] Result<v1::ShadowStatus> stop(const std::string& reason, std::uint64_t now_ns);
  [[nodiscard]] v1::ShadowStatus status();
  // An agent's Health: adds its shadow report, if it has one for the shadow
  // model in force. Any thread.
  void on_health(const std::string& agent_id, const v1::Health& health, std::uint64_t now_ns);
  // An agent said hello: sends it the shadow model if it is one of the chosen
  // (all of them: fraction 1).
  void on_hello(const std::string& agent_id);
  // Periodic: saves the numbers (at most every few seconds), and stops the
  // shadow scoring of a model that became the active one.
  void tick(std::uint64_t now_ns);
  // shadow_blocker on the numbers for `version`, if they are the last shadow
  // scoring's.
  [[nodiscard]] std::string blocker(const std::string& version, const CanaryGateConfig& cfg);
  // Reports refused (another version, counts that do not add up) since start.
  [[nodiscard]] std::uint64_t refused_reports();

 private:
  [[nodiscard]] Result<void> save_locked();

  Store& store_;
  std::string state_key_;
  ShadowOps ops_;
  std::mutex mu_;
  ShadowTally tally_;
  bool dirty_ = false;
  std::uint64_t saved_ns_ = 0;
  std::uint64_t refused_ = 0;
  std::string last_refusal_;
};

}  // namespace vigil::collector
