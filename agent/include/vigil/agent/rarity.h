// Rarity: what this host has never done, that almost no host in the fleet
// does, done in a risky context (docs/learning.md, "Rarity: host memory and
// fleet prevalence"; docs/detections.md, "Rarity (learned)").
//  - Behaviour keys: normalised strings per event ("pc|/usr/sbin/nginx|/bin/sh",
//    "cn|/tmp/**/x|4444|public", ...), built without allocating in steady state.
//  - BehaviourMemory: per-host counts of keys, bounded (LRU, evictions
//    counted), aged out after 30 days, persisted (STATE_DIR/behaviours.tsv), with
//    the bookkeeping of which keys were reported to the collector when.
//  - FleetPrevalence: the collector's table of key hashes (FNV-1a 64) and how
//    many hosts saw each; independent of protobuf so it is unit-testable.
//  - RarityDetector: learns every event's keys and raises one `rare-*`
//    indicator when a key is new here (after the learning window), rare in the
//    fleet and done in a risky context; its severity comes from the contexts.
// Time is wall-clock seconds (the event's), so learning survives restarts.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vigil/agent/indicators.h"
#include "vigil/agent/process_table.h"
#include "vigil/event.h"
#include "vigil/result.h"

namespace vigil::agent {

// FNV-1a 64 of a behaviour key: what leaves the host (the strings never do).
// Stable across builds, hosts and restarts: the fleet table is keyed by it.
[[nodiscard]] constexpr std::uint64_t behaviour_hash(std::string_view key) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : key) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// ------------------------------------------------------------------ keys

// The executable as a behaviour key names it: a path in a writable or
// temporary location becomes `<root>/**/<basename>` (/tmp/x1/work/app ->
// /tmp/**/app; digits in the basename are kept), a memfd `memfd:<name>`, and a
// " (deleted)" suffix elsewhere is dropped (an upgraded binary still running
// is the same program). Appends to `out`.
void append_normalised_exe(std::string_view exe, std::string& out);
// The class of a file target: its directory, /home/<user> and /root as `~`,
// writable roots as `/tmp/**` (etc.), at most 3 leading components, a
// component with a digit as `*`; well-known sensitive files keep their full
// path (/etc/shadow, ~/.ssh/authorized_keys, ~/.bashrc, ...). Appends to `out`.
void append_path_class(std::string_view path, std::string& out);
// loopback, private, linklocal or public (IPv4 and IPv6 alike; a v4-mapped
// v6 address as its v4 one); "unknown" for what does not parse.
[[nodiscard]] std::string_view address_class(std::string_view addr);
// root (0), system (1..999), user (1000.., except nobody), nobody (65534).
[[nodiscard]] std::string_view uid_class(std::uint32_t uid);
// A file target attackers change (or read) for persistence, credentials or
// control: credential files, cron, systemd units, ld.so.preload, shell rc
// files, ~/.ssh, /boot, and for writes the binary and library directories.
[[nodiscard]] bool is_sensitive_target(std::string_view path, bool write);

enum class RarityKind : std::uint8_t { kExec, kConnect, kListener, kFileWrite, kFileRead, kWx };
inline constexpr std::size_t kRarityKinds = 6;
// "exec", "connect", "listener", "file-write", "file-read", "wx".
[[nodiscard]] std::string_view to_string(RarityKind kind);

// The behaviour keys of one event (buffers reused from event to event).
struct BehaviourKeys {
  static constexpr std::size_t kMax = 3;
  RarityKind kind = RarityKind::kExec;
  std::array<std::string, kMax> keys;
  std::size_t n = 0;
  // Connects: `dst|<raddr>|<rport>`, a host-only key (never reported): the
  // "new outbound destination" context.
  std::string dst;
  bool has_dst = false;
  // File events: the target's full path (sensitive-target context).
  std::string_view target;
};
// Fills `out` with the keys of `e` (exec: pc, lin, ux; successful connect or
// UDP send: cn (+dst); successful listen: ls; file changes: fw; sensitive
// reads: fr; W+X and exec-added memory: wx). False: the event has none.
bool build_behaviour_keys(const Event& e, const ProcessTable& table, BehaviourKeys& out);
// Keys the fleet never sees (dst|): kept for the host's own contexts only.
[[nodiscard]] inline bool is_host_only_key(std::string_view key) { return key.starts_with("dst|"); }

// ------------------------------------------------------------------ memory

struct BehaviourMemoryStats {
  std::uint64_t evicted = 0;   // keys dropped over capacity (least recently seen first)
  std::uint64_t reported = 0;  // key hashes handed out for a BehaviourReport
};

class BehaviourMemory {
 public:
  explicit BehaviourMemory(std::size_t capacity = 50000, double max_age_s = 30.0 * 86400);

  // Records one sighting of `key` at `now`. Returns how often it was seen
  // before: 0 when new, or when its last sighting is older than max_age_s
  // (then it starts over). The first observation ever sets started().
  std::uint64_t observe(std::string_view key, double now);
  // The count observe() would return, without recording anything.
  [[nodiscard]] std::uint64_t count(std::string_view key, double now) const;
  [[nodiscard]] bool contains(std::string_view key) const { return index_.contains(key); }

  // When this host started learning (0: never); persisted.
  [[nodiscard]] double started() const { return started_; }
  void set_started(double t) { started_ = t; }
  // True until `learn_s` have passed since started().
  [[nodiscard]] bool learning(double now, double learn_s) const {
    return started_ == 0 || now - started_ < learn_s;
  }

  // Up to `max` hashes of keys to report to the collector at `now`: keys never
  // reported, or last reported more than `every_s` ago, and not aged out;
  // host-only keys never. Each is marked reported at `now`. Appends to `out`;
  // returns how many.
  std::size_t take_report(double now, std::size_t max, std::vector<std::uint64_t>& out,
                          double every_s = 86400);
  // A take_report at `now` could return something (cheap).
  [[nodiscard]] bool report_due(double now) const;
  // Everything is to be reported again (a collector that lost its table).
  void report_all_again();

  [[nodiscard]] std::size_t size() const { return index_.size(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  [[nodiscard]] const BehaviourMemoryStats& stats() const { return stats_; }

  // Text file: a "started<TAB>T" header, then one
  // "count<TAB>first_seen<TAB>last_seen<TAB>reported_at<TAB>key" per line,
  // oldest first (keys escaped like baseline.tsv); written to a temporary
  // file and renamed, mode 0640.
  [[nodiscard]] Result<void> save(const std::filesystem::path& path) const;
  // Replaces what is in memory. A missing file is an empty memory; a malformed
  // line is an error naming the line (the memory is then empty and learning
  // starts over). Keys older than max_age_s are dropped.
  [[nodiscard]] Result<void> load(const std::filesystem::path& path, double now);

 private:
  struct Slot {
    std::uint64_t count = 0;
    double first_seen = 0;
    double last_seen = 0;
    double reported_at = 0;  // 0: never
    std::uint64_t hash = 0;
    std::list<const std::string*>::iterator lru;
  };
  // Transparent hashing: a lookup by string_view allocates nothing.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  };
  Slot& insert(std::string_view key);
  void clear();

  std::size_t capacity_;
  double max_age_s_;
  double started_ = 0;
  std::unordered_map<std::string, Slot, KeyHash, std::equal_to<>> index_;
  std::list<const std::string*> lru_;  // index_'s keys, front = most recently seen
  std::size_t unreported_ = 0;         // keys (not host-only) never reported
  double next_due_ = 0;                // earliest re-report time known (0: unknown)
  BehaviourMemoryStats stats_;
};

// ------------------------------------------------------------------ fleet

// The collector's prevalence table: key hashes (sorted) and how many distinct
// hosts reported each within the window; a key absent was seen on at most one
// host. No table yet (standalone agent): every key is rare.
class FleetPrevalence {
 public:
  static constexpr std::size_t kMaxKeys = 1'000'000;

  // Replaces the table. `keys` ascending and unique, `hosts` parallel; a table
  // that breaks this (or is larger than kMaxKeys) is refused, the old one stays.
  [[nodiscard]] Result<void> assign(std::uint32_t fleet_hosts, std::span<const std::uint64_t> keys,
                                    std::span<const std::uint32_t> hosts,
                                    std::uint32_t window_days);
  [[nodiscard]] bool known() const { return known_; }
  // Hosts that saw `key` (0: absent, or no table).
  [[nodiscard]] std::uint32_t hosts(std::uint64_t key) const;
  // The number of hosts at which a key counts as common:
  // max(min_hosts, ceil(fraction * fleet_hosts)).
  [[nodiscard]] std::uint32_t common_threshold(std::uint32_t min_hosts, double fraction) const;
  [[nodiscard]] bool common(std::uint64_t key, std::uint32_t min_hosts, double fraction) const {
    return known_ && hosts(key) >= common_threshold(min_hosts, fraction);
  }
  [[nodiscard]] std::uint32_t fleet_hosts() const { return fleet_hosts_; }
  [[nodiscard]] std::uint32_t window_days() const { return window_days_; }
  [[nodiscard]] std::size_t size() const { return keys_.size(); }

 private:
  bool known_ = false;
  std::uint32_t fleet_hosts_ = 0;
  std::uint32_t window_days_ = 0;
  std::vector<std::uint64_t> keys_;
  std::vector<std::uint32_t> hosts_;
};

// ------------------------------------------------------------------ detector

// Risky contexts, as bits of RarityHit::contexts; weights add up to the
// severity (docs/detections.md, "Rarity (learned)").
enum RarityContext : std::uint32_t {
  kCtxNetworkFacing = 1U << 0,     // stdin a socket, an ancestor listens, the parent connected (25)
  kCtxSensitiveTarget = 1U << 1,   // a file write/read of a sensitive path (25)
  kCtxUnbackedExe = 1U << 2,       // memfd: or (deleted) executable (25)
  kCtxPrivilegeChange = 1U << 3,   // euid != uid, or root below a non-root parent (20)
  kCtxFreshExe = 1U << 4,          // the executable changed within 10 minutes (15)
  kCtxWritableLocation = 1U << 5,  // it or its parent runs from /tmp & co (15)
  kCtxNewDestination = 1U << 6,    // a connect to an address:port new on this host (15)
};
struct RarityContextInfo {
  RarityContext bit;
  std::string_view name;  // "network-facing", ...
  std::uint32_t weight;
};
[[nodiscard]] std::span<const RarityContextInfo> rarity_contexts();
// min(75, 30 + the weights of `contexts`).
[[nodiscard]] std::uint32_t rarity_severity(std::uint32_t contexts);

struct RarityConfig {
  bool enabled = true;
  double learn_s = 86400;  // after the memory's start, keys are only learned this long
  std::size_t max_keys = 50000;
  std::uint32_t fleet_common_hosts = 3;
  double fleet_common_fraction = 0.05;
  double max_age_s = 30.0 * 86400;
};

// What the rarity path raised for one event (valid until the next evaluate).
struct RarityHit {
  const Indicator* indicator = nullptr;  // null: nothing raised
  std::uint32_t severity = 0;            // computed from the contexts
  RarityKind kind = RarityKind::kExec;
  std::uint32_t contexts = 0;     // RarityContext bits
  std::uint32_t fleet_hosts = 0;  // hosts of the fleet table that saw the key
  std::string key;
  explicit operator bool() const { return indicator != nullptr; }
};

struct RarityStats {
  std::uint64_t novel = 0;         // events with a key new on this host (after learning)
  std::uint64_t fleet_common = 0;  // ... whose new keys are all common in the fleet
  std::uint64_t no_context = 0;    // ... rare in the fleet, but in no risky context
  std::uint64_t hits = 0;          // rare-* raised
  std::array<std::uint64_t, kRarityKinds> hits_by_kind{};
  std::uint64_t prevalence_updates = 0;  // fleet tables applied
  std::uint64_t prevalence_refused = 0;  // fleet tables refused (malformed)
};

class RarityDetector {
 public:
  explicit RarityDetector(RarityConfig config = {});
  // Before load: a new config starts an empty memory.
  void set_config(RarityConfig config);
  [[nodiscard]] const RarityConfig& config() const { return config_; }

  // Learns every behaviour key of `e` (the table has applied it) and returns
  // the rare-* hit it raises, if any.
  const RarityHit& evaluate(const Event& e, const ProcessTable& table);

  // A fleet table from the collector (counted; a malformed one is refused).
  Result<void> apply_prevalence(std::uint32_t fleet_hosts, std::span<const std::uint64_t> keys,
                                std::span<const std::uint32_t> hosts, std::uint32_t window_days);

  [[nodiscard]] BehaviourMemory& memory() { return memory_; }
  [[nodiscard]] const BehaviourMemory& memory() const { return memory_; }
  [[nodiscard]] const FleetPrevalence& fleet() const { return fleet_; }
  [[nodiscard]] const RarityStats& stats() const { return stats_; }

 private:
  [[nodiscard]] std::uint32_t contexts_of(const Event& e, const ProcessTable& table,
                                          bool new_destination) const;

  // Processes that made an outbound connection lately (pid -> seconds): a
  // program they start is driven from the network (a relay like `ncat -e`
  // pipes a shell's stdio, so the shell's stdin is no socket). Fixed slots
  // indexed by pid: bounded, no allocation; a collision forgets the older.
  struct Connected {
    std::uint32_t pid = 0;
    double at = 0;
  };
  static constexpr std::size_t kConnectedSlots = 1024;
  static constexpr double kConnectedWindowS = 60;
  [[nodiscard]] bool parent_connected(std::uint32_t ppid, double now) const;
  std::array<Connected, kConnectedSlots> connected_{};

  RarityConfig config_;
  BehaviourMemory memory_;
  FleetPrevalence fleet_;
  BehaviourKeys keys_;
  RarityHit hit_;
  RarityStats stats_;
  std::array<const Indicator*, kRarityKinds> indicators_{};
};

}  // namespace vigil::agent
