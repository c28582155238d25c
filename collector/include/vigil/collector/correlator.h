// Cross-host correlation in time windows (docs/detections.md, "Fleet rules"):
//   fleet-scan / fleet-flood  one source summarised as scanning or flooding by the
//                             XDP probes of several hosts;
//   fleet-novel-exe           the same executable in a user-writable location
//                             (or one the agents scored) running on several hosts;
//   fleet-lateral-movement    a host accepted a connection from another fleet host
//                             and then spawned a shell.
// Time is the events' own timestamps, so replays and tests are deterministic.
// Kernel-, network- and disk-free: fed StoredEvents, returns fleet alerts.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "vigil/v1/event.pb.h"

namespace vigil::collector {

struct CorrelatorOptions {
  std::uint64_t window_s = 300;  // events further apart than this do not correlate
  std::uint32_t min_hosts = 2;   // hosts that must take part before a fleet alert
};

struct CorrelatorStats {
  std::uint64_t events = 0;
  std::uint64_t alerts_created = 0;
  std::uint64_t alerts_updated = 0;
  std::uint64_t open_episodes = 0;
};

class Correlator {
 public:
  explicit Correlator(CorrelatorOptions options = {}) : options_(options) {}

  // The addresses a host reported in its hello: connections from them are
  // connections from that fleet host.
  void set_host_addresses(const std::string& host, const std::vector<std::string>& addresses);

  // Feeds one event from `host`; appends fleet alerts it created or grew.
  void observe(const std::string& host, const v1::Event& event, std::vector<v1::Alert>& out);

  [[nodiscard]] CorrelatorStats stats() const;

 private:
  struct Episode {
    v1::Alert alert;
    std::uint64_t last_ns = 0;
    std::set<std::string> hosts;
    bool raised = false;
  };

  void join(const std::string& key, const std::string& kind, std::uint32_t score,
            const std::vector<std::string>& hosts, std::uint64_t ts_ns, const std::string& what,
            const v1::Event& event, std::vector<v1::Alert>& out);
  void expire(std::uint64_t now_ns);

  CorrelatorOptions options_;
  std::map<std::string, Episode> episodes_;
  std::unordered_map<std::string, std::string> addr_owner_;  // address -> host
  // host -> (peer host -> last accept from it)
  std::unordered_map<std::string, std::map<std::string, std::uint64_t>> inbound_;
  std::set<std::string> known_exes_;  // executables that already raised a fleet alert
  std::uint64_t next_id_ = 0;
  std::uint64_t last_expire_ns_ = 0;
  CorrelatorStats stats_;
};

// True for executables under user-writable locations (/tmp, /var/tmp, /dev/shm, /home, /root,
// /run/user).
[[nodiscard]] bool in_writable_location(const std::string& path);

}  // namespace vigil::collector
