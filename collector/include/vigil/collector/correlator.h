// Cross-host correlation (docs/detections.md, "Fleet rules" and "Fleet
// correlations (Sigma)"): the Sigma correlation engine running the shipped pack
// (rules/fleet: fleet-scan, fleet-flood, fleet-lateral-movement,
// fleet-indicator-spread) and the operator's rules, plus the one fleet rule
// that stays in C++:
//   fleet-novel-exe  the same executable in a user-writable location (or one
//                    the agents scored) running on several hosts, once per
//                    executable per collector run. Its predicate is the agents'
//                    score and its memory outlives any window: neither is a
//                    Sigma correlation.
// The correlator derives the collector-side indicators only it can know:
//   fleet-peer-accept  an accept from an address another fleet host reported;
//   shell-exec         an exec of a shell or interpreter,
// it names the event's fleet peer (the host owning its remote address), and it
// traces lineage: from the pid/ppid of forks (and their child pids), execs and
// accepts it keeps each host's recent process tree, so a shell exec whose
// ancestry includes a process that accepted a fleet peer's connection carries
// that process as its `lineage` (fleet-lateral-movement groups by it: an
// accept and an unrelated cron shell on one host do not correlate).
// Time is the collector's clock (the arrival time passed in), never the
// agents' timestamps. Kernel-, network- and disk-free.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "vigil/collector/sigma_correlation.h"
#include "vigil/result.h"
#include "vigil/v1/event.pb.h"

namespace vigil::collector {

inline constexpr std::string_view kFleetPeerAccept = "fleet-peer-accept";
inline constexpr std::string_view kShellExec = "shell-exec";

struct CorrelatorOptions {
  std::uint64_t window_s = 300;  // fleet-novel-exe: events further apart do not correlate
  std::uint32_t min_hosts = 2;   // fleet-novel-exe: hosts that must take part
  std::vector<std::filesystem::path> rule_dirs;  // the operator's correlation rules
  bool shipped_rules = true;                     // load rules/fleet (compiled in)
  std::size_t max_groups = 10'000;               // per correlation rule
  std::size_t max_entries = 100'000;             // per correlation rule, across its groups
  std::size_t max_processes = 65'536;            // per host, in the lineage table
};

struct CorrelatorStats {
  std::uint64_t events = 0;
  std::uint64_t alerts_created = 0;  // every fleet rule
  std::uint64_t alerts_updated = 0;
  std::uint64_t open_episodes = 0;       // fleet-novel-exe
  std::uint64_t known_exes_evicted = 0;  // fleet-novel-exe's once-per-executable memory
  std::uint64_t lineage_resets = 0;      // hosts whose process table hit max_processes
  std::uint64_t lineage_links = 0;       // shell execs traced to a fleet peer's accept
  sigma::EngineStats sigma;
};

// The shipped pack and the operator's directories, checked as one set. An
// error names the file, the rule and the reason; `notes` collects what start-up
// should log (bundled detection rules skipped, shipped rules replaced).
[[nodiscard]] Result<std::vector<sigma::CorrelationRule>> load_correlation_rules(
    const CorrelatorOptions& options, std::vector<std::string>* notes);

// Where an event came from.
struct EventOrigin {
  std::string_view agent_id;
  std::string_view host;
};

class Correlator {
 public:
  Correlator(CorrelatorOptions options, std::vector<sigma::CorrelationRule> rules);

  // The addresses a host reported in its hello (replacing its earlier ones):
  // connections from them are connections from that fleet host.
  void set_host_addresses(const std::string& host, const std::vector<std::string>& addresses);

  // Feeds one event that arrived at `now_ns` (collector clock, unix ns);
  // appends the fleet alerts it created or grew.
  void observe(const EventOrigin& from, const v1::Event& event, std::uint64_t now_ns,
               std::vector<v1::Alert>& out);

  [[nodiscard]] CorrelatorStats stats() const;
  [[nodiscard]] std::size_t rule_count() const { return engine_.size(); }

 private:
  struct Episode {
    v1::Alert alert;
    std::uint64_t last_ns = 0;
    std::set<std::string> hosts;
    bool raised = false;
  };

  // One host's recent process tree, learnt from its events (collector time).
  struct HostLineage {
    struct Proc {
      std::uint32_t ppid = 0;
      std::uint64_t seen_ns = 0;
    };
    std::unordered_map<std::uint32_t, Proc> procs;
    std::unordered_map<std::uint32_t, std::uint64_t> acceptors;  // pid -> last fleet-peer accept
  };

  void learn(HostLineage& tree, const v1::Event& event, std::uint64_t now);
  // The nearest process in the event's ancestry (itself first) that accepted
  // a fleet peer's connection recently; 0 if none.
  [[nodiscard]] static std::uint32_t accepting_ancestor(const HostLineage& tree,
                                                        const v1::Event& event, std::uint64_t now);
  void observe_novel_exe(std::string_view host, const v1::Event& event, std::uint64_t now,
                         std::vector<v1::Alert>& out);
  void expire(std::uint64_t now_ns);
  void remember_exe(const std::string& exe);

  CorrelatorOptions options_;
  sigma::CorrelationEngine engine_;
  std::map<std::string, Episode> episodes_;  // fleet-novel-exe, by executable
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // address -> host; looked up by view for every socket event, so no copy
  std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> addr_owner_;
  std::unordered_map<std::string, std::vector<std::string>> host_addrs_;
  std::unordered_map<std::string, HostLineage, StringHash, std::equal_to<>> lineage_;
  std::uint64_t last_lineage_sweep_ns_ = 0;
  std::unordered_set<std::string> known_exes_;  // executables that raised a fleet alert
  std::deque<std::string> known_order_;         // ... oldest first, for the bound
  std::uint64_t now_ns_ = 0;
  std::uint64_t next_id_ = 0;
  std::uint64_t last_expire_ns_ = 0;
  CorrelatorStats stats_;
};

// True for executables under user-writable locations (/tmp, /var/tmp, /dev/shm, /home, /root,
// /run/user).
[[nodiscard]] bool in_writable_location(const std::string& path);

}  // namespace vigil::collector
