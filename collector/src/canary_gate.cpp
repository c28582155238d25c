#include "vigil/collector/canary_gate.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace vigil::collector {
namespace {

// Slices a sampled window is read in (StoreBehaviourSource).
constexpr std::uint64_t kSlices = 16;

v1::GroupBehaviour numbers_of(const GroupStats& g, double seconds, std::uint32_t high_score) {
  v1::GroupBehaviour b;
  b.set_agents(g.agents);
  b.set_events(g.events);
  b.set_alert_events(g.alert_events);
  b.set_events_per_s(g.events_per_s(seconds));
  b.set_alerts_per_1k(g.alerts_per_1k());
  b.set_high_score_fraction(g.fraction_at_least(high_score));
  b.set_mean_score(g.mean_score());
  b.set_p50_score(g.quantile(0.5));
  b.set_p90_score(g.quantile(0.9));
  b.set_p99_score(g.quantile(0.99));
  return b;
}

std::string describe(const char* name, const v1::GroupBehaviour& b, std::uint32_t high_score) {
  return fmt::format(
      "{} {} agent{}: {} events, {:.1f} events/s per agent, {:.1f} alerts/1k events, {:.1f}% "
      "scored >= {}, mean score {:.1f}, p50/p90/p99 {}/{}/{}",
      name, b.agents(), b.agents() == 1 ? "" : "s", b.events(), b.events_per_s(), b.alerts_per_1k(),
      100.0 * b.high_score_fraction(), high_score, b.mean_score(), b.p50_score(), b.p90_score(),
      b.p99_score());
}

bool finite_non_negative(double v) { return std::isfinite(v) && v >= 0; }

}  // namespace

void GroupStats::add(std::uint32_t score, bool alert) {
  ++events;
  if (alert) {
    ++alert_events;
  }
  ++scores[std::min(score, kMaxScore)];
}

double GroupStats::events_per_s(double seconds) const {
  if (agents == 0 || seconds <= 0) {
    return 0;
  }
  return static_cast<double>(events) / static_cast<double>(agents) / seconds;
}

double GroupStats::alerts_per_1k() const {
  return events == 0 ? 0 : 1000.0 * static_cast<double>(alert_events) / static_cast<double>(events);
}

double GroupStats::fraction_at_least(std::uint32_t score) const {
  if (events == 0) {
    return 0;
  }
  std::uint64_t n = 0;
  for (std::uint32_t s = std::min(score, kMaxScore); s <= kMaxScore; ++s) {
    n += scores[s];
  }
  return static_cast<double>(n) / static_cast<double>(events);
}

double GroupStats::mean_score() const {
  if (events == 0) {
    return 0;
  }
  double sum = 0;
  for (std::uint32_t s = 0; s <= kMaxScore; ++s) {
    sum += static_cast<double>(s) * static_cast<double>(scores[s]);
  }
  return sum / static_cast<double>(events);
}

std::uint32_t GroupStats::quantile(double q) const {
  if (events == 0) {
    return 0;
  }
  const auto need =
      static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(events)));
  std::uint64_t seen = 0;
  for (std::uint32_t s = 0; s <= kMaxScore; ++s) {
    seen += scores[s];
    if (seen >= std::max<std::uint64_t>(need, 1)) {
      return s;
    }
  }
  return kMaxScore;
}

Result<void> validate_canary_gate(const CanaryGateConfig& c) {
  const auto bad = [](const char* what) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("canary_gate_{}", what));
  };
  if (!finite_non_negative(c.alert_ratio) || !finite_non_negative(c.alert_floor_per_1k) ||
      !finite_non_negative(c.silent_min_control_per_1k) ||
      !finite_non_negative(c.min_expected_alerts)) {
    return bad(
        "alert_ratio, alert_floor_per_1k, silent_min_control_per_1k and "
        "min_expected_alerts must be finite and >= 0");
  }
  for (const double share : {c.high_score_fraction, c.silent_ratio, c.min_rate_ratio}) {
    if (!std::isfinite(share) || share < 0 || share > 1) {
      return bad("high_score_fraction, silent_ratio and min_rate_ratio must be in [0, 1]");
    }
  }
  if (c.high_score > kMaxScore) {
    return bad("high_score must be 0..100");
  }
  if (c.max_scan == 0) {
    return bad("max_scan must be >= 1");
  }
  return {};
}

bool apply_canary_gate_key(const std::string& key, const YAML::Node& v, CanaryGateConfig& cfg) {
  if (key == "canary_gate") {
    cfg.enabled = v.as<bool>();
  } else if (key == "canary_gate_min_events") {
    cfg.min_events = v.as<std::uint64_t>();
  } else if (key == "canary_gate_alert_ratio") {
    cfg.alert_ratio = v.as<double>();
  } else if (key == "canary_gate_alert_floor_per_1k") {
    cfg.alert_floor_per_1k = v.as<double>();
  } else if (key == "canary_gate_high_score") {
    cfg.high_score = v.as<std::uint32_t>();
  } else if (key == "canary_gate_high_score_fraction") {
    cfg.high_score_fraction = v.as<double>();
  } else if (key == "canary_gate_silent_min_control_per_1k") {
    cfg.silent_min_control_per_1k = v.as<double>();
  } else if (key == "canary_gate_silent_ratio") {
    cfg.silent_ratio = v.as<double>();
  } else if (key == "canary_gate_min_expected_alerts") {
    cfg.min_expected_alerts = v.as<double>();
  } else if (key == "canary_gate_min_rate_ratio") {
    cfg.min_rate_ratio = v.as<double>();
  } else if (key == "canary_gate_max_scan") {
    cfg.max_scan = v.as<std::uint64_t>();
  } else {
    return false;
  }
  return true;
}

BehaviourSample StoreBehaviourSource::sample(const std::vector<std::string>& canary,
                                             const std::vector<std::string>& control,
                                             std::uint64_t since_ns, std::uint64_t until_ns) {
  BehaviourSample out;
  out.canary.agents = static_cast<std::uint32_t>(canary.size());
  out.control.agents = static_cast<std::uint32_t>(control.size());
  if (until_ns <= since_ns) {
    return out;
  }
  std::unordered_map<std::string, GroupStats*> group;
  for (const auto& id : canary) group[id] = &out.canary;
  for (const auto& id : control) group.try_emplace(id, &out.control);
  const std::uint64_t span = until_ns - since_ns;
  const std::uint64_t per_slice = std::max<std::uint64_t>(1, max_scan_ / kSlices);
  std::uint64_t covered_ns = 0;
  for (std::uint64_t i = 0; i < kSlices; ++i) {
    const std::uint64_t from = since_ns + span / kSlices * i;
    const std::uint64_t to = i + 1 == kSlices ? until_ns : since_ns + span / kSlices * (i + 1);
    if (to <= from) {
      continue;
    }
    std::uint64_t read = 0;
    std::uint64_t cut_at = 0;  // ts of the first event not read (0: the slice was read whole)
    store_.scan_events(from, to, [&](const v1::StoredEvent& se) {
      if (read == per_slice) {
        cut_at = se.event().ts_ns();
        return false;
      }
      ++read;
      if (auto it = group.find(se.agent_id()); it != group.end()) {
        it->second->add(se.event().score(), !se.event().alert_id().empty());
      }
      return true;
    });
    if (cut_at != 0) {
      out.sampled = true;
      // Every event before cut_at was read; at least a nanosecond of window.
      covered_ns += std::max<std::uint64_t>(cut_at > from ? cut_at - from : 0, 1);
    } else {
      covered_ns += to - from;
    }
  }
  out.seconds = static_cast<double>(covered_ns) / 1e9;
  return out;
}

GateDecision judge_canary(const BehaviourSample& s, const CanaryGateConfig& cfg) {
  GateDecision d;
  const auto hs = cfg.high_score;
  *d.numbers.mutable_canary() = numbers_of(s.canary, s.seconds, hs);
  *d.numbers.mutable_control() = numbers_of(s.control, s.seconds, hs);
  d.numbers.set_seconds(s.seconds);
  d.numbers.set_sampled(s.sampled);
  d.numbers.set_high_score(hs);
  const auto& can = d.numbers.canary();
  const auto& ctl = d.numbers.control();
  const std::string numbers =
      fmt::format("{}; {} (over {:.0f} s{})", describe("canary", can, hs),
                  describe("control", ctl, hs), s.seconds, s.sampled ? ", sampled" : "");
  const auto verdict = [&](GateVerdict v, std::string why) {
    d.verdict = v;
    d.reason = fmt::format("{}: {}", why, numbers);
    d.numbers.set_verdict(v == GateVerdict::kPass   ? "pass"
                          : v == GateVerdict::kHold ? "hold"
                                                    : "rollback");
    return d;
  };

  if (s.control.agents == 0) {
    // The operator chose a canary of the whole fleet (or the rest runs other
    // versions): nothing to compare with. Promoted, and the reason says so.
    return verdict(GateVerdict::kPass,
                   "behaviour not compared (no control agents: none connected outside the "
                   "canary runs the previous version)");
  }
  if (s.control.events < cfg.min_events) {
    return verdict(GateVerdict::kHold,
                   fmt::format("too little control data to compare behaviour (control {} events, "
                               "need {}): the canary keeps soaking",
                               s.control.events, cfg.min_events));
  }
  // Stalled before "too little canary data": a canary that ships nothing is
  // the case this rule is for. Judged only when, at the control's rate, the
  // canary would have shipped enough to tell.
  const double expected = static_cast<double>(s.control.events) *
                          static_cast<double>(s.canary.agents) /
                          static_cast<double>(s.control.agents);
  if (expected >= static_cast<double>(std::max<std::uint64_t>(cfg.min_events, 1)) &&
      static_cast<double>(s.canary.events) < cfg.min_rate_ratio * expected) {
    return verdict(GateVerdict::kRollback,
                   fmt::format("canary stalled: {:.1f} events/s per agent, below {:.0f}% of the "
                               "control's {:.1f}",
                               can.events_per_s(), 100.0 * cfg.min_rate_ratio, ctl.events_per_s()));
  }
  if (s.canary.events < cfg.min_events) {
    return verdict(GateVerdict::kHold,
                   fmt::format("too little canary data to compare behaviour (canary {} events, "
                               "need {}): the canary keeps soaking",
                               s.canary.events, cfg.min_events));
  }
  const double alert_limit =
      std::max(cfg.alert_ratio * ctl.alerts_per_1k(), cfg.alert_floor_per_1k);
  if (can.alerts_per_1k() > alert_limit) {
    return verdict(GateVerdict::kRollback,
                   fmt::format("canary alerts on everything: {:.1f} alerts/1k events, above "
                               "{:.1f} (max of {:.1f} x the control's {:.1f} and {:.1f})",
                               can.alerts_per_1k(), alert_limit, cfg.alert_ratio,
                               ctl.alerts_per_1k(), cfg.alert_floor_per_1k));
  }
  if (can.high_score_fraction() > cfg.high_score_fraction &&
      ctl.high_score_fraction() <= cfg.high_score_fraction) {
    return verdict(GateVerdict::kRollback,
                   fmt::format("canary alerts on everything: {:.1f}% of its events score >= {} "
                               "(limit {:.1f}%; control {:.1f}%)",
                               100.0 * can.high_score_fraction(), hs,
                               100.0 * cfg.high_score_fraction, 100.0 * ctl.high_score_fraction()));
  }
  const double expected_alerts =
      static_cast<double>(s.canary.events) * ctl.alerts_per_1k() / 1000.0;
  if (ctl.alerts_per_1k() >= cfg.silent_min_control_per_1k && ctl.alerts_per_1k() > 0 &&
      can.alerts_per_1k() <= cfg.silent_ratio * ctl.alerts_per_1k() &&
      expected_alerts >= cfg.min_expected_alerts) {
    return verdict(GateVerdict::kRollback,
                   fmt::format("canary alerts on nothing: {:.2f} alerts/1k events against the "
                               "control's {:.2f} ({:.0f} expected at the control's rate, {} "
                               "raised)",
                               can.alerts_per_1k(), ctl.alerts_per_1k(), expected_alerts,
                               s.canary.alert_events));
  }
  return verdict(GateVerdict::kPass, "behaves like the control");
}

}  // namespace vigil::collector
