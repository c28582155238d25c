#include "vigil/collector/shadow.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "vigil/log.h"

namespace vigil::collector {
namespace {

constexpr std::uint64_t kNs = 1'000'000'000ULL;
constexpr std::uint64_t kSaveEveryNs = 5 * kNs;
constexpr std::size_t kMaxVersionBytes = 256;

std::uint64_t at(const google::protobuf::RepeatedField<std::uint64_t>& f, int i) {
  return i < f.size() ? f.Get(i) : 0;
}

std::uint64_t sum(const google::protobuf::RepeatedField<std::uint64_t>& f) {
  std::uint64_t n = 0;
  for (const auto v : f) n += v;
  return n;
}

// Why the counts of one report cannot be right ("" = they can).
std::string check_counts(const v1::ShadowCounts& c) {
  for (const auto* buckets : {&c.scores(), &c.active_scores()}) {
    if (!buckets->empty() && buckets->size() != kShadowBuckets) {
      return fmt::format("{} score buckets, not {}", buckets->size(), kShadowBuckets);
    }
    if (!buckets->empty() && sum(*buckets) != c.events()) {
      return fmt::format("score buckets add up to {}, not to its {} events", sum(*buckets),
                         c.events());
    }
  }
  if (c.would_alert() > c.events() || c.active_alerts() > c.events() ||
      c.both_alert() > std::min(c.would_alert(), c.active_alerts())) {
    return fmt::format("alert counts {}/{}/{} do not fit {} events", c.would_alert(),
                       c.active_alerts(), c.both_alert(), c.events());
  }
  return {};
}

// Every count of `later` at least that of `earlier`: the same count, grown.
bool covers(const v1::ShadowCounts& later, const v1::ShadowCounts& earlier) {
  if (later.events() < earlier.events() || later.would_alert() < earlier.would_alert() ||
      later.active_alerts() < earlier.active_alerts() ||
      later.both_alert() < earlier.both_alert()) {
    return false;
  }
  for (int i = 0; i < kShadowBuckets; ++i) {
    if (at(later.scores(), i) < at(earlier.scores(), i) ||
        at(later.active_scores(), i) < at(earlier.active_scores(), i)) {
      return false;
    }
  }
  return true;
}

// into += later - earlier (earlier null: into += later); buckets made 10.
void add_counts(v1::ShadowCounts& into, const v1::ShadowCounts& later,
                const v1::ShadowCounts* earlier) {
  static const v1::ShadowCounts kZero;
  const auto& e = earlier != nullptr ? *earlier : kZero;
  into.set_events(into.events() + later.events() - e.events());
  into.set_would_alert(into.would_alert() + later.would_alert() - e.would_alert());
  into.set_active_alerts(into.active_alerts() + later.active_alerts() - e.active_alerts());
  into.set_both_alert(into.both_alert() + later.both_alert() - e.both_alert());
  for (auto* buckets : {into.mutable_scores(), into.mutable_active_scores()}) {
    buckets->Resize(kShadowBuckets, 0);
  }
  for (int i = 0; i < kShadowBuckets; ++i) {
    into.set_scores(i, into.scores(i) + at(later.scores(), i) - at(e.scores(), i));
    into.set_active_scores(
        i, into.active_scores(i) + at(later.active_scores(), i) - at(e.active_scores(), i));
  }
}

double per_1k(std::uint64_t n, std::uint64_t events) {
  return events == 0 ? 0.0 : 1000.0 * static_cast<double>(n) / static_cast<double>(events);
}

}  // namespace

ShadowTally::ShadowTally(v1::ShadowStatus status) : status_(std::move(status)) {
  for (int i = 0; i < status_.per_agent_size(); ++i) {
    rows_[status_.per_agent(i).agent_id()] = i;
  }
}

Result<void> ShadowTally::add(const std::string& agent_id, const v1::ShadowReport& report,
                              std::uint64_t now_ns) {
  if (report.version() != status_.version() || report.version().empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("a report for shadow model '{}', not '{}'",
                                  report.version().substr(0, kMaxVersionBytes), status_.version()));
  }
  if (auto bad = check_counts(report.counts()); !bad.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "shadow report: " + bad);
  }
  auto [it, fresh] = rows_.try_emplace(agent_id, status_.per_agent_size());
  if (fresh) {
    status_.add_per_agent()->set_agent_id(agent_id);
  }
  auto& row = *status_.mutable_per_agent(it->second);
  // The same count grown: add what is new. Another count: add all of it.
  const bool same =
      !fresh && row.since_ns() == report.since_ns() && covers(report.counts(), row.current());
  const v1::ShadowCounts* earlier = same ? &row.current() : nullptr;
  add_counts(*row.mutable_counts(), report.counts(), earlier);
  add_counts(*status_.mutable_counts(), report.counts(), earlier);
  *row.mutable_current() = report.counts();
  row.set_since_ns(report.since_ns());
  row.set_active_version(report.active_version().substr(0, kMaxVersionBytes));
  row.set_alert_threshold(report.alert_threshold());
  row.set_reported_ns(now_ns);
  const auto& c = status_.counts();
  status_.set_agents_reporting(static_cast<std::uint32_t>(status_.per_agent_size()));
  status_.set_would_alert_per_1k(per_1k(c.would_alert(), c.events()));
  status_.set_active_alerts_per_1k(per_1k(c.active_alerts(), c.events()));
  return {};
}

std::string shadow_blocker(const v1::ShadowStatus& status, const std::string& version,
                           const CanaryGateConfig& cfg) {
  if (status.version() != version || status.counts().events() < cfg.min_events) {
    return {};  // not scored in shadow, or too little to say
  }
  const double limit =
      std::max(cfg.alert_ratio * status.active_alerts_per_1k(), cfg.alert_floor_per_1k);
  if (status.would_alert_per_1k() <= limit) {
    return {};
  }
  return fmt::format(
      "shadow scoring: {} would alert on {:.1f} per 1,000 events where the active model alerted "
      "on {:.1f} (limit {:.1f}) over {} events on {} agents",
      version, status.would_alert_per_1k(), status.active_alerts_per_1k(), limit,
      status.counts().events(), status.agents_reporting());
}

ShadowScoring::ShadowScoring(Store& store, std::string state_key, ShadowOps ops)
    : store_(store), state_key_(std::move(state_key)), ops_(std::move(ops)) {
  tally_.mutable_status().set_phase("idle");
}

Result<void> ShadowScoring::restore() {
  auto saved = store_.get_meta(state_key_);
  if (!saved) {
    return std::unexpected(saved.error());
  }
  if (!saved->has_value()) {
    return {};
  }
  v1::ShadowStatus st;
  if (!st.ParseFromString(**saved)) {
    return make_error(ErrorCode::kCorrupt, "stored shadow scoring state is corrupt");
  }
  std::lock_guard lock(mu_);
  tally_ = ShadowTally(std::move(st));
  return {};
}

Result<void> ShadowScoring::save_locked() {
  dirty_ = false;
  return store_.put_meta(state_key_, tally_.status().SerializeAsString());
}

Result<v1::ShadowStatus> ShadowScoring::start(const std::string& version, double fraction,
                                              std::uint64_t now_ns) {
  if (!std::isfinite(fraction) || fraction <= 0 || fraction > 1) {
    return make_error(ErrorCode::kInvalidArgument, "fraction must be in (0, 1]");
  }
  auto exists = ops_.exists(version);
  if (!exists) {
    return std::unexpected(exists.error());
  }
  if (!*exists) {
    return make_error(
        ErrorCode::kNotFound,
        fmt::format("no model {} (vigilctl models list shows the registry)", version));
  }
  const std::string active = ops_.active_version();
  if (active == version) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} is the active model: shadow scoring compares a candidate "
                                  "with it (vigilctl models list shows the candidates)",
                                  version));
  }
  auto agents = ops_.connected();
  if (agents.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "no agents connected to score in shadow: start it once agents are connected "
                      "(vigilctl agents)");
  }
  std::ranges::sort(agents);
  const auto n = std::clamp<std::size_t>(
      static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(agents.size()))), 1,
      agents.size());
  std::lock_guard lock(mu_);
  const auto& before = tally_.status();
  if (before.phase() == "running") {
    // The agents left out this time drop the previous shadow model; the
    // others get the new one in its place.
    for (const auto& id : before.agents()) {
      if (std::find(agents.begin(), agents.begin() + static_cast<std::ptrdiff_t>(n), id) ==
          agents.begin() + static_cast<std::ptrdiff_t>(n)) {
        (void)ops_.send(id, "");
      }
    }
  }
  const std::string replaced = before.phase() == "running" ? before.version() : "";
  v1::ShadowStatus st;
  st.set_version(version);
  st.set_phase("running");
  st.set_active_version(active);
  st.set_started_ns(now_ns);
  st.set_fraction(fraction);
  std::size_t sent = 0;
  for (std::size_t i = 0; i < n; ++i) {
    st.add_agents(agents[i]);
    sent += ops_.send(agents[i], version) ? 1 : 0;
  }
  st.set_reason(fmt::format("scoring {} in shadow beside {} on {} of {} agents{}{}", version,
                            active.empty() ? "(none)" : active, n, agents.size(),
                            fraction >= 1 ? " (and agents that connect later)" : "",
                            replaced.empty() ? "" : fmt::format("; replaces {}", replaced)));
  if (sent < n) {
    st.set_reason(st.reason() + fmt::format("; {} could not be sent it", n - sent));
  }
  tally_ = ShadowTally(std::move(st));
  if (auto r = save_locked(); !r) {
    return std::unexpected(r.error());
  }
  VLOG_INFO("model {}", tally_.status().reason());
  return tally_.status();
}

Result<v1::ShadowStatus> ShadowScoring::stop(const std::string& reason, std::uint64_t now_ns) {
  std::lock_guard lock(mu_);
  auto& st = tally_.mutable_status();
  if (st.phase() != "running") {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("no shadow scoring running (phase {}): vigilctl models shadow "
                                  "VERSION starts one",
                                  st.phase()));
  }
  for (const auto& id : st.agents()) {
    (void)ops_.send(id, "");
  }
  st.set_phase("stopped");
  st.set_stopped_ns(now_ns);
  st.set_reason(reason.empty() ? "stopped by an operator" : reason);
  if (auto r = save_locked(); !r) {
    return std::unexpected(r.error());
  }
  VLOG_INFO("model {} shadow scoring stopped: {}", st.version(), st.reason());
  return st;
}

v1::ShadowStatus ShadowScoring::status() {
  std::lock_guard lock(mu_);
  return tally_.status();
}

void ShadowScoring::on_health(const std::string& agent_id, const v1::Health& health,
                              std::uint64_t now_ns) {
  if (!health.has_shadow()) {
    return;
  }
  std::lock_guard lock(mu_);
  if (tally_.status().phase() == "idle") {
    return;
  }
  if (auto r = tally_.add(agent_id, health.shadow(), now_ns); !r) {
    // Not per report in the log: an agent reports every few seconds.
    if (refused_++ == 0 || r.error().message != last_refusal_) {
      VLOG_WARN("agent '{}' shadow report not counted: {}", agent_id, r.error().message);
      last_refusal_ = r.error().message;
    }
    return;
  }
  dirty_ = true;
}

void ShadowScoring::on_hello(const std::string& agent_id) {
  std::lock_guard lock(mu_);
  auto& st = tally_.mutable_status();
  if (st.phase() != "running") {
    return;
  }
  if (std::ranges::find(st.agents(), agent_id) == st.agents().end()) {
    if (st.fraction() < 1) {
      return;  // not chosen
    }
    st.add_agents(agent_id);
    dirty_ = true;
  }
  (void)ops_.send(agent_id, st.version());
}

void ShadowScoring::tick(std::uint64_t now_ns) {
  std::string promoted;
  {
    std::lock_guard lock(mu_);
    if (tally_.status().phase() == "running" &&
        ops_.active_version() == tally_.status().version()) {
      promoted = tally_.status().version();
    }
  }
  if (!promoted.empty()) {
    (void)stop(fmt::format("{} became the active model: nothing left to compare", promoted),
               now_ns);
    return;
  }
  std::lock_guard lock(mu_);
  if (dirty_ && now_ns >= saved_ns_ + kSaveEveryNs) {
    saved_ns_ = now_ns;
    if (auto r = save_locked(); !r) {
      VLOG_WARN("shadow scoring state not saved: {}", r.error().message);
    }
  }
}

std::string ShadowScoring::blocker(const std::string& version, const CanaryGateConfig& cfg) {
  std::lock_guard lock(mu_);
  return shadow_blocker(tally_.status(), version, cfg);
}

std::uint64_t ShadowScoring::refused_reports() {
  std::lock_guard lock(mu_);
  return refused_;
}

}  // namespace vigil::collector
