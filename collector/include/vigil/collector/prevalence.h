// Fleet prevalence of behaviours (docs/api.md, "Behaviour prevalence"): on how
// many hosts each behaviour was seen within the last `window_days`, merged
// from every agent's BehaviourReports, and pushed to agents as a compact table
// so their rarity path can tell a behaviour new to the whole fleet from one
// that is merely new to this host. Behaviours are FNV-1a 64 hashes: the
// behaviour strings never leave the agents.
//
// The truth is the prevalence column family: one record per (hash, agent)
// pair holding the day it was last reported; a day-granular refresh keeps the
// write rate at one put per pair per day. Memory holds only hash -> host count
// and agent -> last day, rebuilt by one scan at start. A sweep drops the pairs
// older than the window (once per day, in chunks so reports are not held up).
// The table (keys on >= 2 hosts, the `max_keys` most widespread, sorted by
// key) goes to every agent after its hello and, debounced, when it changed.
// Agents are reached through PrevalenceLink so the class is testable without
// gRPC. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "vigil/collector/store.h"
#include "vigil/result.h"
#include "vigil/v1/agent.pb.h"

namespace vigil::collector {

struct PrevalenceLink {
  std::function<std::vector<std::string>()> connected;
  // Queues one message to one agent; false if it is not connected.
  std::function<bool(const std::string& agent_id, const v1::Prevalence& table)> send;
};

struct PrevalenceOptions {
  std::uint32_t window_days = 30;  // pairs not reported again within this are dropped
  // Keys in the pushed table at most (the most widespread); capped at
  // wire::kMaxPrevalenceKeys so the table fits an agent's 4 MiB receive limit.
  std::size_t max_keys = 200'000;
  // A changed table reaches connected agents at most this often.
  std::chrono::milliseconds debounce{5000};
  std::size_t sweep_chunk = 10'000;  // pairs examined per lock hold in a sweep
};

struct PrevalenceStats {
  std::atomic<std::uint64_t> reports{0};          // BehaviourReports received
  std::atomic<std::uint64_t> reports_refused{0};  // over wire::kMaxBehaviourKeys
  std::atomic<std::uint64_t> pairs_added{0};      // (key, agent) pairs first seen
  std::atomic<std::uint64_t> pairs_refreshed{0};  // pairs reported again on a later day
  std::atomic<std::uint64_t> pairs_expired{0};    // dropped by the retention sweep
  std::atomic<std::uint64_t> pushes{0};           // Prevalence messages sent to agents
  std::atomic<std::uint64_t> store_errors{0};
};

// The unix day of a unix time in ns.
[[nodiscard]] constexpr std::uint32_t unix_day(std::uint64_t unix_ns) {
  return static_cast<std::uint32_t>(unix_ns / (86'400ULL * 1'000'000'000ULL));
}

class PrevalenceManager {
 public:
  PrevalenceManager(Store& store, PrevalenceLink link, PrevalenceOptions options = {});
  PrevalenceManager(const PrevalenceManager&) = delete;
  PrevalenceManager& operator=(const PrevalenceManager&) = delete;

  // Rebuilds the counts from the store; pairs already outside the window on
  // `today` are deleted on the way.
  [[nodiscard]] Result<void> init(std::uint32_t today);

  // One agent's report: new pairs are stored and counted, pairs last reported
  // on an earlier day are refreshed, all in one WriteBatch. More than
  // wire::kMaxBehaviourKeys keys is refused (kInvalidArgument, counted).
  // Returns how many pairs were new.
  [[nodiscard]] Result<std::size_t> report(const std::string& agent_id,
                                           const v1::BehaviourReport& report, std::uint32_t today);

  // Drops the pairs outside the window on `today` and adjusts the counts.
  // Returns how many were dropped.
  [[nodiscard]] Result<std::size_t> sweep(std::uint32_t today);

  // After an agent's hello: the current table.
  void on_hello(const std::string& agent_id);
  // Sweeps when the day changed since the last sweep; sends a changed table
  // to every connected agent once the debounce interval has passed since the
  // previous round.
  void tick(std::chrono::steady_clock::time_point now, std::uint32_t today);

  // The table as pushed now.
  [[nodiscard]] std::shared_ptr<const v1::Prevalence> table();
  // Hosts that reported `key` within the window (0: none).
  [[nodiscard]] std::uint32_t hosts(std::uint64_t key) const;
  [[nodiscard]] std::size_t keys() const;  // distinct keys known
  [[nodiscard]] std::uint64_t pairs() const;
  [[nodiscard]] std::uint32_t fleet_hosts() const;
  [[nodiscard]] std::size_t table_keys() const;  // keys in the last table built
  [[nodiscard]] const PrevalenceStats& stats() const { return stats_; }

 private:
  [[nodiscard]] bool expired(std::uint32_t day, std::uint32_t today) const {
    return static_cast<std::uint64_t>(day) + options_.window_days <= today;
  }
  // Under mu_: the table, rebuilt when the counts changed since it was built.
  std::shared_ptr<const v1::Prevalence> table_locked();
  // Under mu_: one pair fewer for `key`; marks the table stale when it shows.
  void drop_locked(std::uint64_t key);

  Store& store_;
  PrevalenceLink link_;
  PrevalenceOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, std::uint32_t> counts_;  // key -> hosts
  std::unordered_map<std::string, std::uint32_t> agents_;    // agent -> last day reported
  std::uint64_t pairs_ = 0;
  bool stale_ = true;     // counts changed since table_ was built
  bool changed_ = false;  // table changed since the last broadcast
  std::shared_ptr<const v1::Prevalence> table_;
  std::uint32_t swept_day_ = 0;
  std::chrono::steady_clock::time_point last_broadcast_{};
  PrevalenceStats stats_;
};

// The manager's Prometheus metrics (docs/operations.md, "Metrics").
void append_prevalence_metrics(const PrevalenceManager& prevalence, std::string& out);

}  // namespace vigil::collector
