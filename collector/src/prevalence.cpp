#include "vigil/collector/prevalence.h"

#include <fmt/format.h>

#include <algorithm>

#include "vigil/log.h"
#include "vigil/metrics_server.h"
#include "vigil/wire_limits.h"

namespace vigil::collector {

PrevalenceManager::PrevalenceManager(Store& store, PrevalenceLink link, PrevalenceOptions options)
    : store_(store), link_(std::move(link)), options_(options) {
  options_.max_keys = std::min<std::size_t>(options_.max_keys, wire::kMaxPrevalenceKeys);
  options_.window_days = std::max<std::uint32_t>(1, options_.window_days);
  options_.sweep_chunk = std::max<std::size_t>(1, options_.sweep_chunk);
}

Result<void> PrevalenceManager::init(std::uint32_t today) {
  std::lock_guard lock(mu_);
  counts_.clear();
  agents_.clear();
  pairs_ = 0;
  std::optional<PrevalencePair> after;
  for (;;) {
    auto chunk = store_.prevalence_pairs(after ? &*after : nullptr, options_.sweep_chunk);
    if (!chunk) {
      ++stats_.store_errors;
      return std::unexpected(chunk.error());
    }
    std::vector<PrevalencePair> erase;
    for (auto& p : *chunk) {
      if (expired(p.day, today)) {
        erase.push_back(p);
        continue;
      }
      ++counts_[p.key];
      ++pairs_;
      auto& last = agents_[p.agent_id];
      last = std::max(last, p.day);
    }
    if (auto r = store_.write_prevalence({}, erase); !r) {
      ++stats_.store_errors;
      return std::unexpected(r.error());
    }
    stats_.pairs_expired += erase.size();
    if (chunk->size() < options_.sweep_chunk) {
      break;
    }
    after = std::move(chunk->back());
  }
  swept_day_ = today;
  stale_ = true;
  return {};
}

Result<std::size_t> PrevalenceManager::report(const std::string& agent_id,
                                              const v1::BehaviourReport& report,
                                              std::uint32_t today) {
  ++stats_.reports;
  if (static_cast<std::size_t>(report.keys_size()) > wire::kMaxBehaviourKeys) {
    ++stats_.reports_refused;
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} behaviour keys in one report (at most {})",
                                  report.keys_size(), wire::kMaxBehaviourKeys));
  }
  if (report.keys_size() == 0) {
    return 0;
  }
  std::vector<std::uint64_t> keys(report.keys().begin(), report.keys().end());
  std::ranges::sort(keys);
  keys.erase(std::ranges::unique(keys).begin(), keys.end());

  std::lock_guard lock(mu_);
  auto days = store_.prevalence_days(agent_id, keys);
  if (!days) {
    ++stats_.store_errors;
    return std::unexpected(days.error());
  }
  std::vector<PrevalencePair> put;
  std::vector<std::uint64_t> added;
  std::size_t refreshed = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& day = (*days)[i];
    if (!day) {
      added.push_back(keys[i]);
    } else if (*day < today) {
      ++refreshed;
    } else {
      continue;  // already reported today (or a clock that went back)
    }
    put.push_back({.key = keys[i], .agent_id = agent_id, .day = today});
  }
  if (auto r = store_.write_prevalence(put, {}); !r) {
    ++stats_.store_errors;
    return std::unexpected(r.error());
  }
  for (auto k : added) {
    if (++counts_[k] >= 2) {
      stale_ = true;
    }
  }
  pairs_ += added.size();
  auto [it, new_agent] = agents_.try_emplace(agent_id, today);
  if (new_agent) {
    stale_ = true;  // fleet_hosts changed
  } else {
    it->second = std::max(it->second, today);
  }
  stats_.pairs_added += added.size();
  stats_.pairs_refreshed += refreshed;
  return added.size();
}

void PrevalenceManager::drop_locked(std::uint64_t key) {
  auto it = counts_.find(key);
  if (it == counts_.end()) {
    return;
  }
  if (it->second >= 2) {
    stale_ = true;  // its host count shows in the table, or it leaves it
  }
  if (--it->second == 0) {
    counts_.erase(it);
  }
  --pairs_;
}

Result<std::size_t> PrevalenceManager::sweep(std::uint32_t today) {
  std::size_t dropped = 0;
  std::optional<PrevalencePair> after;
  for (;;) {
    // One chunk per lock hold: the pairs read and the counts adjusted are
    // consistent with any report, and reports wait for one chunk at most.
    std::lock_guard lock(mu_);
    auto chunk = store_.prevalence_pairs(after ? &*after : nullptr, options_.sweep_chunk);
    if (!chunk) {
      ++stats_.store_errors;
      return std::unexpected(chunk.error());
    }
    std::vector<PrevalencePair> erase;
    for (const auto& p : *chunk) {
      if (expired(p.day, today)) {
        erase.push_back(p);
      }
    }
    if (auto r = store_.write_prevalence({}, erase); !r) {
      ++stats_.store_errors;
      return std::unexpected(r.error());
    }
    for (const auto& p : erase) {
      drop_locked(p.key);
    }
    dropped += erase.size();
    stats_.pairs_expired += erase.size();
    if (chunk->size() < options_.sweep_chunk) {
      break;
    }
    after = std::move(chunk->back());
  }
  std::lock_guard lock(mu_);
  // An agent's last day is its newest pair's: when that expired, all did.
  const auto before = agents_.size();
  std::erase_if(agents_, [&](const auto& a) { return expired(a.second, today); });
  if (agents_.size() != before) {
    stale_ = true;
  }
  swept_day_ = today;
  return dropped;
}

std::shared_ptr<const v1::Prevalence> PrevalenceManager::table_locked() {
  if (!stale_ && table_) {
    return table_;
  }
  std::vector<std::pair<std::uint64_t, std::uint32_t>> common;
  for (const auto& [key, n] : counts_) {
    if (n >= 2) {
      common.emplace_back(key, n);
    }
  }
  if (common.size() > options_.max_keys) {
    // The most widespread first; ties by key, so the cut is deterministic.
    const auto by_hosts = [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    };
    std::ranges::nth_element(
        common, common.begin() + static_cast<std::ptrdiff_t>(options_.max_keys), by_hosts);
    common.resize(options_.max_keys);
  }
  std::ranges::sort(common);
  auto next = std::make_shared<v1::Prevalence>();
  next->set_fleet_hosts(static_cast<std::uint32_t>(agents_.size()));
  next->set_window_days(options_.window_days);
  next->mutable_keys()->Reserve(static_cast<int>(common.size()));
  next->mutable_hosts()->Reserve(static_cast<int>(common.size()));
  for (const auto& [key, n] : common) {
    next->add_keys(key);
    next->add_hosts(n);
  }
  const bool same = table_ && table_->fleet_hosts() == next->fleet_hosts() &&
                    std::ranges::equal(table_->keys(), next->keys()) &&
                    std::ranges::equal(table_->hosts(), next->hosts());
  if (!same) {
    table_ = std::move(next);
    changed_ = true;
  }
  stale_ = false;
  return table_;
}

std::shared_ptr<const v1::Prevalence> PrevalenceManager::table() {
  std::lock_guard lock(mu_);
  return table_locked();
}

void PrevalenceManager::on_hello(const std::string& agent_id) {
  std::shared_ptr<const v1::Prevalence> t;
  {
    std::lock_guard lock(mu_);
    t = table_locked();
  }
  if (link_.send(agent_id, *t)) {
    ++stats_.pushes;
  }
}

void PrevalenceManager::tick(std::chrono::steady_clock::time_point now, std::uint32_t today) {
  bool sweep_due = false;
  {
    std::lock_guard lock(mu_);
    sweep_due = today != swept_day_;
  }
  if (sweep_due) {
    if (auto r = sweep(today); !r) {
      VLOG_WARN("prevalence: retention sweep: {}", r.error().message);
    }
  }
  std::shared_ptr<const v1::Prevalence> t;
  {
    std::lock_guard lock(mu_);
    if (!stale_ && !changed_) {
      return;
    }
    if (now - last_broadcast_ < options_.debounce) {
      return;
    }
    t = table_locked();
    if (!changed_) {
      return;  // the counts moved, the table did not
    }
    changed_ = false;
    last_broadcast_ = now;
  }
  // An agent not connected now gets the table at its next hello.
  for (const auto& id : link_.connected()) {
    if (link_.send(id, *t)) {
      ++stats_.pushes;
    }
  }
}

std::uint32_t PrevalenceManager::hosts(std::uint64_t key) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  return it == counts_.end() ? 0 : it->second;
}

std::size_t PrevalenceManager::keys() const {
  std::lock_guard lock(mu_);
  return counts_.size();
}

std::uint64_t PrevalenceManager::pairs() const {
  std::lock_guard lock(mu_);
  return pairs_;
}

std::uint32_t PrevalenceManager::fleet_hosts() const {
  std::lock_guard lock(mu_);
  return static_cast<std::uint32_t>(agents_.size());
}

std::size_t PrevalenceManager::table_keys() const {
  std::lock_guard lock(mu_);
  return table_ ? static_cast<std::size_t>(table_->keys_size()) : 0;
}

void append_prevalence_metrics(const PrevalenceManager& prevalence, std::string& out) {
  const auto& s = prevalence.stats();
  metric(out, "vigil_collector_prevalence_keys", "gauge",
         "Distinct behaviour hashes reported within the prevalence window.",
         static_cast<double>(prevalence.keys()));
  metric(out, "vigil_collector_prevalence_pairs", "gauge",
         "(behaviour, agent) pairs kept in the prevalence column family.",
         static_cast<double>(prevalence.pairs()));
  metric(out, "vigil_collector_prevalence_fleet_hosts", "gauge",
         "Agents that reported behaviours within the prevalence window.",
         static_cast<double>(prevalence.fleet_hosts()));
  metric(out, "vigil_collector_prevalence_table_keys", "gauge",
         "Keys in the prevalence table pushed to agents (seen on >= 2 hosts).",
         static_cast<double>(prevalence.table_keys()));
  metric(out, "vigil_collector_prevalence_pushes_total", "counter",
         "Prevalence tables sent to agents (after hellos and changes).",
         static_cast<double>(s.pushes.load()));
  metric(out, "vigil_collector_prevalence_reports_total", "counter",
         "BehaviourReports received from agents.", static_cast<double>(s.reports.load()));
  metric(out, "vigil_collector_prevalence_pairs_expired_total", "counter",
         "(behaviour, agent) pairs dropped by the retention sweep.",
         static_cast<double>(s.pairs_expired.load()));
}

}  // namespace vigil::collector
