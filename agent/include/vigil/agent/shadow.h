// Shadow scoring on the agent (docs/api.md, "Shadow scoring"): a candidate
// model the collector sends beside the active one (CollectorMessage
// .shadow_model, scope "shadow", checked like any model update). Every event
// the active model scores is scored by the shadow model too, on the same
// feature vector and with the same indicator floors; the agent counts what it
// would have alerted on, and on how many of those events the active model did,
// and reports the counts in Health.shadow. A shadow model never acts: it
// raises, ships and logs nothing, and changes no level, focus or incident.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "vigil/features.h"
#include "vigil/scoring.h"
#include "vigil/v1/agent.pb.h"

namespace vigil::agent {

// Score buckets of the reports: [0,10), [10,20), ..., [90,100].
inline constexpr std::size_t kShadowBuckets = 10;

struct ShadowCounts {
  std::uint64_t events = 0;         // scored by both models
  std::uint64_t would_alert = 0;    // the shadow's score >= threshold, an indicator fired
  std::uint64_t active_alerts = 0;  // the active model's, on the same events
  std::uint64_t both_alert = 0;
  std::array<std::uint64_t, kShadowBuckets> scores{};  // by the shadow's score
  std::array<std::uint64_t, kShadowBuckets> active_scores{};
};

class ShadowScorer {
 public:
  [[nodiscard]] static std::size_t bucket(std::uint32_t score) {
    return std::min<std::size_t>(score / 10, kShadowBuckets - 1);
  }

  // Installs `model` (null: drops the shadow model); the counts start again
  // from `since_ns` (unix ns).
  void set(std::shared_ptr<const ScoringModel> model, std::uint64_t since_ns) {
    model_ = std::move(model);
    counts_ = {};
    since_ns_ = model_ ? since_ns : 0;
  }
  [[nodiscard]] bool installed() const { return model_ != nullptr; }
  [[nodiscard]] const std::shared_ptr<const ScoringModel>& model() const { return model_; }
  [[nodiscard]] std::uint64_t since_ns() const { return since_ns_; }
  [[nodiscard]] const ShadowCounts& counts() const { return counts_; }

  // One event the active model scored `active` (after floors): `floor` is the
  // highest floor of the indicators that fired (0: none), `indicator` whether
  // any did. Allocates nothing; only when installed().
  void observe(const FeatureVector& x, std::uint32_t floor, bool indicator, std::uint32_t active,
               std::uint32_t threshold) {
    const std::uint32_t shadow = std::max(model_->score(x), floor);
    const bool would = indicator && shadow >= threshold;
    const bool acted = indicator && active >= threshold;
    ++counts_.events;
    counts_.would_alert += would ? 1 : 0;
    counts_.active_alerts += acted ? 1 : 0;
    counts_.both_alert += would && acted ? 1 : 0;
    ++counts_.scores[bucket(shadow)];
    ++counts_.active_scores[bucket(active)];
  }

  // Health.shadow; nothing when no shadow model is installed.
  void report(v1::ShadowReport& out, std::string_view active_version,
              std::uint32_t threshold) const {
    if (!model_) {
      return;
    }
    out.set_version(model_->version());
    out.set_active_version(std::string(active_version));
    out.set_since_ns(since_ns_);
    out.set_alert_threshold(threshold);
    auto& c = *out.mutable_counts();
    c.set_events(counts_.events);
    c.set_would_alert(counts_.would_alert);
    c.set_active_alerts(counts_.active_alerts);
    c.set_both_alert(counts_.both_alert);
    c.mutable_scores()->Assign(counts_.scores.begin(), counts_.scores.end());
    c.mutable_active_scores()->Assign(counts_.active_scores.begin(), counts_.active_scores.end());
  }

 private:
  std::shared_ptr<const ScoringModel> model_;
  std::uint64_t since_ns_ = 0;
  ShadowCounts counts_;
};

}  // namespace vigil::agent
