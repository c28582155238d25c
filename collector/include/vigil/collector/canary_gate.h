// The canary gate's behaviour comparison (docs/learning.md, "Canary gate"):
// after the soak, the canary agents' shipped events are compared with those
// of the control agents (connected, not in the canary, running the previous
// version) over the same window: events per second per agent, alerts per
// 1,000 events and the score distribution. A canary that alerts on
// everything, on nothing while the control alerts, or that ships far fewer
// events (crashed, stalled) is rolled back; too little data holds it.
//
// The numbers come through BehaviourSource, so the decision (judge_canary)
// is tested without a store; StoreBehaviourSource reads the stored events.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vigil/collector/store.h"
#include "vigil/result.h"
#include "vigil/v1/model.pb.h"

namespace YAML {
class Node;
}

namespace vigil::collector {

// Thresholds; collector YAML keys canary_gate_* (docs/operations.md).
struct CanaryGateConfig {
  bool enabled = true;
  // Events each group needs over the window before it is compared; fewer: hold.
  std::uint64_t min_events = 500;
  // "Alerts on everything": canary alerts per 1,000 events above
  // max(alert_ratio x control's, alert_floor_per_1k) ...
  double alert_ratio = 5.0;
  double alert_floor_per_1k = 20.0;
  // ... or more than high_score_fraction of its events score >= high_score
  // while the control's do not.
  std::uint32_t high_score = 50;
  double high_score_fraction = 0.5;
  // "Alerts on nothing": the control alerts at least silent_min_control_per_1k,
  // the canary at most silent_ratio of the control's rate, and the canary's
  // events would have raised at least min_expected_alerts at the control's rate.
  double silent_min_control_per_1k = 1.0;
  double silent_ratio = 0.1;
  double min_expected_alerts = 10.0;
  // "Stalled": canary events/s per agent below min_rate_ratio x the control's.
  double min_rate_ratio = 0.5;
  // Stored events read per check at most (a sample spread over the window).
  std::uint64_t max_scan = 200'000;
};

// Refuses thresholds that cannot work (negative, not finite, ratios > 1 where
// a share is meant).
[[nodiscard]] Result<void> validate_canary_gate(const CanaryGateConfig& cfg);

// Applies a collector YAML key if it is one of the gate's (canary_gate,
// canary_gate_*); false if the key is not the gate's. Throws YAML exceptions
// on bad values, as the other keys do.
bool apply_canary_gate_key(const std::string& key, const YAML::Node& value, CanaryGateConfig& cfg);

inline constexpr std::uint32_t kMaxScore = 100;

// One group's shipped events over the window.
struct GroupStats {
  std::uint32_t agents = 0;
  std::uint64_t events = 0;
  std::uint64_t alert_events = 0;  // events that raised or grew an alert (alert_id set)
  std::array<std::uint64_t, kMaxScore + 1> scores{};  // events by score (above 100: 100)

  void add(std::uint32_t score, bool alert);
  // Per agent, over `seconds` of window.
  [[nodiscard]] double events_per_s(double seconds) const;
  [[nodiscard]] double alerts_per_1k() const;
  [[nodiscard]] double fraction_at_least(std::uint32_t score) const;
  [[nodiscard]] double mean_score() const;
  // The smallest score s with at least q of the events scoring <= s.
  [[nodiscard]] std::uint32_t quantile(double q) const;
};

struct BehaviourSample {
  GroupStats canary;
  GroupStats control;
  double seconds = 0;    // window time the counts cover
  bool sampled = false;  // the scan bound was hit: counts are a sample of the window
};

class BehaviourSource {
 public:
  virtual ~BehaviourSource() = default;
  // The events the agents of each group shipped with since_ns <= ts < until_ns.
  [[nodiscard]] virtual BehaviourSample sample(const std::vector<std::string>& canary,
                                               const std::vector<std::string>& control,
                                               std::uint64_t since_ns, std::uint64_t until_ns) = 0;
};

// Reads the stored events (the events column family is ordered by time). At
// most max_scan events: the window is cut into slices and each slice is read
// from its start up to its share of the bound, so a long soak on a busy fleet
// is sampled across all of it, not only its first minutes.
class StoreBehaviourSource final : public BehaviourSource {
 public:
  StoreBehaviourSource(Store& store, std::uint64_t max_scan) : store_(store), max_scan_(max_scan) {}
  [[nodiscard]] BehaviourSample sample(const std::vector<std::string>& canary,
                                       const std::vector<std::string>& control,
                                       std::uint64_t since_ns, std::uint64_t until_ns) override;

 private:
  Store& store_;
  std::uint64_t max_scan_;
};

enum class GateVerdict { kPass, kRollback, kHold };

struct GateDecision {
  GateVerdict verdict = GateVerdict::kPass;
  std::string reason;  // the rule and its numbers
  v1::CanaryBehaviour numbers;
};

// The rules, in order: no control agents (pass, said so); too little data
// (hold); alerts on everything, alerts on nothing, stalled (rollback);
// otherwise pass.
[[nodiscard]] GateDecision judge_canary(const BehaviourSample& s, const CanaryGateConfig& cfg);

}  // namespace vigil::collector
