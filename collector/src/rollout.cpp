#include "vigil/collector/rollout.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "vigil/log.h"
#include "vigil/model_release.h"

namespace vigil::collector {
namespace {

constexpr std::uint64_t kNs = 1'000'000'000ULL;

std::string shown(const std::string& version) { return version.empty() ? "(none)" : version; }

}  // namespace

ArtefactRollout::ArtefactRollout(Store& store, ArtefactKind kind, ArtefactOps ops)
    : store_(store), kind_(std::move(kind)), ops_(std::move(ops)) {
  state_.set_phase("idle");
}

Result<void> ArtefactRollout::restore() {
  auto saved = store_.get_meta(kind_.state_key);
  if (!saved) {
    return std::unexpected(saved.error());
  }
  std::lock_guard lock(mu_);
  if (saved->has_value() && !state_.ParseFromString(**saved)) {
    return make_error(ErrorCode::kCorrupt,
                      fmt::format("stored {} rollout state is corrupt", kind_.noun));
  }
  return {};
}

Result<void> ArtefactRollout::save() {
  return store_.put_meta(kind_.state_key, state_.SerializeAsString());
}

void ArtefactRollout::push(const std::string& agent_id, const std::string& version,
                           const PushScope& scope) {
  if (version.empty() && !kind_.empty_is_a_version) {
    return;
  }
  if (!ops_.push(agent_id, version, scope)) {
    VLOG_DEBUG("{} {} not sent to {} (not connected)", kind_.noun, shown(version), agent_id);
  }
}

void ArtefactRollout::set_state(const std::string& version, const std::string& state) {
  if (!version.empty()) {
    ops_.set_state(version, state);
  }
}

void ArtefactRollout::refresh_counts() {
  const auto connected = ops_.connected();
  std::uint32_t updated = 0;
  for (const auto& id : connected) {
    if (auto rec = store_.agent(id); rec && ops_.running(*rec) == state_.version()) {
      ++updated;
    }
  }
  state_.set_agents_total(static_cast<std::uint32_t>(connected.size()));
  state_.set_agents_updated(updated);
}

v1::RolloutStatus ArtefactRollout::status() {
  std::lock_guard lock(mu_);
  refresh_counts();
  return state_;
}

Result<v1::RolloutStatus> ArtefactRollout::start(const std::string& version, double canary_fraction,
                                                 std::uint64_t soak_s, std::uint64_t now_ns) {
  if (!std::isfinite(canary_fraction) || canary_fraction <= 0 || canary_fraction > 1) {
    return make_error(ErrorCode::kInvalidArgument, "canary_fraction must be in (0, 1]");
  }
  std::lock_guard lock(mu_);
  if (state_.phase() == "canary") {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("rollout of {} is in its canary phase: wait or roll back", state_.version()));
  }
  auto exists = ops_.exists(version);
  if (!exists) {
    return std::unexpected(exists.error());
  }
  if (!*exists) {
    return make_error(ErrorCode::kNotFound, fmt::format("no {} {}", kind_.noun, version));
  }
  const std::string previous = ops_.active_version();
  if (previous == version) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("{} is already active", version));
  }
  auto agents = ops_.connected();
  if (agents.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "no agents connected to roll out to");
  }
  std::ranges::sort(agents);
  const auto n = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(canary_fraction * static_cast<double>(agents.size()))));
  state_.Clear();
  behaviour_reason_.clear();
  state_.set_version(version);
  state_.set_phase("canary");
  state_.set_previous_version(previous);
  state_.set_started_ns(now_ns);
  state_.set_soak_s(soak_s);
  if (kind_.canary_ttl_s > 0) {
    // Agents refuse a longer grant (kModelMaxCanaryTtlS); a day of margin
    // for their clocks.
    const std::uint64_t grant_s =
        std::min(soak_s + kind_.canary_ttl_s, kModelMaxCanaryTtlS - 86400);
    state_.set_canary_expires_ns(now_ns + grant_s * kNs);
  }
  for (std::size_t i = 0; i < n && i < agents.size(); ++i) {
    state_.add_canary_agents(agents[i]);
    push(agents[i], version, {.canary = true, .expires_ns = state_.canary_expires_ns()});
  }
  state_.set_reason(fmt::format("canary: {} of {} agents for {} s", n, agents.size(), soak_s));
  set_state(version, "canary");
  if (auto r = save(); !r) {
    return std::unexpected(r.error());
  }
  VLOG_INFO("{} rollout {}: {}", kind_.noun, version, state_.reason());
  refresh_counts();
  return state_;
}

Result<v1::RolloutStatus> ArtefactRollout::rollback(const std::string& reason,
                                                    std::uint64_t now_ns) {
  std::lock_guard lock(mu_);
  const auto phase = state_.phase();
  if ((phase != "canary" && phase != "fleet") ||
      (state_.previous_version().empty() && !kind_.empty_is_a_version)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("nothing to roll back (rollout phase {})", phase));
  }
  const std::string bad = state_.version();
  const std::string good = state_.previous_version();
  for (const auto& id : ops_.connected()) {
    push(id, good);
  }
  set_state(bad, "rolled_back");
  set_state(good, "active");
  state_.set_phase("rolled_back");
  state_.set_reason(reason.empty() ? "rolled back by an operator" : reason);
  state_.set_started_ns(now_ns);
  if (auto r = save(); !r) {
    return std::unexpected(r.error());
  }
  VLOG_WARN("{} rollout {} rolled back to {}: {}", kind_.noun, bad, shown(good), state_.reason());
  refresh_counts();
  return state_;
}

void ArtefactRollout::tick(std::uint64_t now_ns) {
  std::lock_guard lock(mu_);
  if (state_.phase() != "canary") {
    return;
  }
  if (state_.canary_expires_ns() != 0 && now_ns >= state_.canary_expires_ns()) {
    // The canary agents drop the grant themselves; the registry says so too.
    for (const auto& id : state_.canary_agents()) {
      push(id, state_.previous_version());
    }
    set_state(state_.version(), "rolled_back");
    state_.set_phase("rolled_back");
    state_.set_reason(
        fmt::format("the canary grant expired before the fleet rollout ({})", state_.reason()));
    VLOG_WARN("{} rollout {}: {}", kind_.noun, state_.version(), state_.reason());
    if (auto r = save(); !r) {
      VLOG_WARN("{} rollout state not saved: {}", kind_.noun, r.error().message);
    }
    return;
  }
  if (now_ns < state_.started_ns() + state_.soak_s() * kNs) {
    return;
  }
  // The health gate: every canary agent is connected and runs the version.
  std::string failure;
  for (const auto& id : state_.canary_agents()) {
    auto rec = store_.agent(id);
    if (!rec || !rec->connected()) {
      failure = fmt::format("canary agent {} is not connected", id);
    } else if (ops_.running(*rec) != state_.version()) {
      failure = fmt::format("canary agent {} runs {} (refused or failed to load {})", id,
                            shown(ops_.running(*rec)), state_.version());
    }
    if (!failure.empty()) break;
  }
  if (failure.empty() && ops_.gate_failure) {
    failure = ops_.gate_failure(state_.version());
  }
  // The behaviour gate: the canary against the control agents (canary_gate.h).
  std::string behaviour;  // what it found, when it passed
  if (failure.empty() && kind_.behaviour != nullptr && kind_.gate.enabled) {
    switch (judge_behaviour(now_ns)) {
      case GateVerdict::kRollback:
        failure = behaviour_reason_;
        break;
      case GateVerdict::kHold: {
        auto why = fmt::format("canary healthy after {} s; {}", state_.soak_s(), behaviour_reason_);
        if (why != state_.reason()) {
          state_.set_reason(std::move(why));
          VLOG_WARN("{} rollout {}: {}", kind_.noun, state_.version(), state_.reason());
          if (auto r = save(); !r) {
            VLOG_WARN("{} rollout state not saved: {}", kind_.noun, r.error().message);
          }
        }
        return;
      }
      case GateVerdict::kPass:
        behaviour = behaviour_reason_;
        break;
    }
  }
  if (failure.empty() && ops_.fleet_blocker) {
    // Healthy but held back: the canary keeps running (the gate is checked
    // again on every tick) until its grant expires.
    if (auto why = ops_.fleet_blocker(state_.version()); !why.empty()) {
      why = fmt::format("canary healthy after {} s; {}", state_.soak_s(), why);
      if (!behaviour.empty()) {
        why += "; " + behaviour;
      }
      if (why != state_.reason()) {
        state_.set_reason(std::move(why));
        VLOG_WARN("{} rollout {}: {}", kind_.noun, state_.version(), state_.reason());
        if (auto r = save(); !r) {
          VLOG_WARN("{} rollout state not saved: {}", kind_.noun, r.error().message);
        }
      }
      return;
    }
  }
  if (failure.empty()) {
    const std::string version = state_.version();
    set_state(state_.previous_version(), "retired");
    set_state(version, "active");
    for (const auto& id : ops_.connected()) {
      if (auto rec = store_.agent(id); !rec || ops_.running(*rec) != version) {
        push(id, version);
      }
    }
    state_.set_phase("fleet");
    state_.set_reason(
        fmt::format("canary healthy after {} s: rolled out to the fleet", state_.soak_s()));
    if (!behaviour.empty()) {
      state_.set_reason(state_.reason() + "; " + behaviour);
    }
    VLOG_INFO("{} rollout {}: {}", kind_.noun, version, state_.reason());
  } else {
    // Automatic rollback: the canary agents go back to the previous version.
    for (const auto& id : state_.canary_agents()) {
      push(id, state_.previous_version());
    }
    set_state(state_.version(), "rolled_back");
    state_.set_phase("rolled_back");
    state_.set_reason("canary gate failed: " + failure);
    VLOG_WARN("{} rollout {}: {}", kind_.noun, state_.version(), state_.reason());
  }
  if (auto r = save(); !r) {
    VLOG_WARN("{} rollout state not saved: {}", kind_.noun, r.error().message);
  }
}

GateVerdict ArtefactRollout::judge_behaviour(std::uint64_t now_ns) {
  const auto verdict_of = [](const std::string& v) {
    return v == "rollback" ? GateVerdict::kRollback
           : v == "hold"   ? GateVerdict::kHold
                           : GateVerdict::kPass;
  };
  // Re-judged while the canary is held (too little data, or no release
  // signature yet) over the whole window so far, at most this often: each
  // judgement reads up to gate.max_scan stored events.
  const std::uint64_t every_ns = std::clamp<std::uint64_t>(state_.soak_s(), 1, 300) * kNs;
  if (!behaviour_reason_.empty() && state_.has_behaviour() &&
      now_ns < state_.behaviour().checked_ns() + every_ns) {
    return verdict_of(state_.behaviour().verdict());
  }
  std::vector<std::string> canary(state_.canary_agents().begin(), state_.canary_agents().end());
  std::vector<std::string> control;
  for (const auto& id : ops_.connected()) {
    if (std::ranges::find(canary, id) != canary.end()) {
      continue;
    }
    if (auto rec = store_.agent(id); rec && ops_.running(*rec) == state_.previous_version()) {
      control.push_back(id);
    }
  }
  const auto sample = kind_.behaviour->sample(canary, control, state_.started_ns(), now_ns);
  auto decision = judge_canary(sample, kind_.gate);
  decision.numbers.set_checked_ns(now_ns);
  *state_.mutable_behaviour() = std::move(decision.numbers);
  behaviour_reason_ = std::move(decision.reason);
  VLOG_INFO("{} rollout {}: {}", kind_.noun, state_.version(), behaviour_reason_);
  return decision.verdict;
}

void ArtefactRollout::on_hello(const std::string& agent_id, const std::string& running) {
  std::string desired;
  {
    std::lock_guard lock(mu_);
    if (state_.phase() == "idle" && kind_.empty_is_a_version) {
      return;  // nothing was ever rolled out: the agent's own configuration rules
    }
    if (state_.phase() == "canary" &&
        std::ranges::find(state_.canary_agents(), agent_id) != state_.canary_agents().end()) {
      if (state_.version() != running) {
        push(agent_id, state_.version(),
             {.canary = true, .expires_ns = state_.canary_expires_ns()});
      }
      return;
    }
    desired = ops_.active_version();
  }
  if ((!desired.empty() || kind_.empty_is_a_version) && desired != running) {
    push(agent_id, desired);
  }
}

}  // namespace vigil::collector
