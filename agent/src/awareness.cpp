#include "vigil/agent/awareness.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <fstream>
#include <sstream>

namespace vigil::agent {
namespace {

double decay(double value, double elapsed_s, double half_life_s) {
  if (elapsed_s <= 0 || half_life_s <= 0) {
    return value;
  }
  return value * std::exp2(-elapsed_s / half_life_s);
}

}  // namespace

// Keys are paths and may hold any byte: escape the three the file format uses.
std::string escape_state_key(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '%':
        out += "%25";
        break;
      case '\t':
        out += "%09";
        break;
      case '\n':
        out += "%0A";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> unescape_state_key(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const auto code = s.substr(i + 1, 2);
    if (code == "25") {
      out.push_back('%');
    } else if (code == "09") {
      out.push_back('\t');
    } else if (code == "0A") {
      out.push_back('\n');
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  return out;
}

namespace {

// One 64-bit key per (unit, value[, address]); collisions are as unlikely as
// in any 64-bit hash and cost at most a merged count.
std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t x = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ULL;
  return x ^ (x >> 29);
}

struct UnitKey {
  Spread unit;
  std::uint64_t key;
};

// The units of `a`: the process, then (each with `salt`, e.g. an address) its
// tree, executable and user. Returns how many were filled.
std::size_t unit_keys(const Actor& a, std::uint64_t salt, bool with_exe,
                      std::array<UnitKey, 4>& out) {
  std::size_t n = 0;
  out[n++] = {Spread::kProcess, mix(1, a.pid)};
  if (a.tree > 1) {
    out[n++] = {Spread::kTree, mix(mix(2, a.tree), salt)};
  }
  if (with_exe && !a.exe.empty()) {
    out[n++] = {Spread::kExecutable, mix(mix(3, std::hash<std::string_view>{}(a.exe)), salt)};
  }
  out[n++] = {Spread::kUser, mix(mix(4, a.uid), salt)};
  return n;
}

// Makes room for `incoming` new keys: expired entries go first, then everything.
template <typename Map>
void make_room(Map& m, std::size_t incoming, std::size_t capacity, double now, double window_s) {
  if (m.size() + incoming <= capacity) {
    return;
  }
  std::erase_if(m, [&](const auto& kv) { return now - kv.second.start > window_s; });
  if (m.size() + incoming > capacity) {
    m.clear();  // a storm of distinct units: start over rather than grow
  }
}

}  // namespace

std::string_view to_string(Spread spread) {
  switch (spread) {
    case Spread::kNone:
      return "none";
    case Spread::kProcess:
      return "process";
    case Spread::kTree:
      return "tree";
    case Spread::kExecutable:
      return "executable";
    case Spread::kUser:
      return "user";
  }
  return "?";
}

bool is_crash_signal(std::uint32_t sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGABRT;
}

std::optional<ShellWiring> wire_shell(std::uint32_t pid, std::uint32_t ppid, std::uint32_t tree,
                                      const StdioWiring& w) {
  const auto relayable = [](const FdEnd& e) {
    return e.kind == FdKind::kPipe || e.kind == FdKind::kPty;
  };
  if (!relayable(w.own.fd[0]) || !relayable(w.own.fd[1])) {
    return std::nullopt;
  }
  ShellWiring s;
  s.pid = pid;
  s.tree = tree;
  // Output on a pty goes to whoever holds its master side; on a pipe, to the
  // pipe's reader (the parent, for ncat -e and socat exec:).
  const bool pty = w.own.fd[1].kind == FdKind::kPty;
  const Stdio& out = pty ? w.holder_io : w.own;
  s.relay = pty ? w.holder : ppid;
  s.relay_on_socket =
      pty && w.holder != 0 &&
      (w.holder_io.fd[0].kind == FdKind::kSocket || w.holder_io.fd[1].kind == FdKind::kSocket);
  for (std::size_t fd = 1; fd < out.fd.size(); ++fd) {
    const auto id = out.fd[fd].id;
    const auto used = std::span(s.out).first(s.n_out);
    if (out.fd[fd].kind == FdKind::kPipe && std::ranges::find(used, id) == used.end()) {
      s.out[s.n_out++] = id;
    }
  }
  return s;
}

bool reads_commands_from_stdin(std::span<const std::string> args) {
  bool options = true;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "-") {
      return true;  // `python3 -`: the program is stdin
    }
    if (!options) {
      return false;  // an operand after `--`: a script file
    }
    if (a == "--") {
      options = false;
      continue;
    }
    if (a.starts_with("--")) {
      if (a == "--rcfile" || a == "--init-file") {
        ++i;  // takes a file, which is no script
      }
      continue;  // --login, --norc, --noprofile, ...
    }
    if ((a.starts_with('-') || a.starts_with('+')) && a.size() > 1) {
      if (a.find_first_of("cem") != std::string_view::npos) {
        return false;  // -c, -lc, perl -e, python -m: the program is an argument
      }
      if (a.find('s') != std::string_view::npos) {
        return true;  // -s: commands from stdin, operands are parameters
      }
      if (a.back() == 'o' || a.back() == 'O' || a.back() == 'W' || a.back() == 'X') {
        ++i;  // -o vi, -O extglob, python -W/-X: a value, not a script
      }
      continue;
    }
    return false;  // an operand: a script file
  }
  return true;
}

std::string_view to_string(Level level) {
  switch (level) {
    case Level::kCalm:
      return "calm";
    case Level::kAttentive:
      return "attentive";
    case Level::kAlert:
      return "alert";
    case Level::kCritical:
      return "critical";
  }
  return "?";
}

// ------------------------------------------------------------------ level

void LevelTracker::decay_to(double now) {
  if (!started_) {
    started_ = true;
    last_ = now;
    entered_ = now;
    window_start_ = now;
    return;
  }
  const double elapsed = now - last_;
  pressure_ = decay(pressure_, elapsed, config_.half_life_s);
  alerting_ = decay(alerting_, elapsed, config_.half_life_s);
  last_ = std::max(last_, now);
  if (now - window_start_ >= config_.benign_window_s) {
    // A finished window teaches the benign peak; the current one never does,
    // so a burst cannot raise its own threshold as it climbs.
    benign_peak_ = std::max(decay(benign_peak_, now - window_start_, config_.benign_half_life_s),
                            window_peak_);
    window_peak_ = 0;
    window_start_ = now;
  }
}

Level LevelTracker::justified(bool rising) const {
  const auto& t = rising ? config_.up : config_.down;
  const double attentive = attentive_threshold() * (rising ? 1.0 : t[0] / config_.up[0]);
  if (alerting_ >= t[2]) return Level::kCritical;
  if (alerting_ >= t[1]) return Level::kAlert;
  if (pressure_ >= attentive || alerting_ >= t[0]) return Level::kAttentive;
  return Level::kCalm;
}

std::optional<LevelChange> LevelTracker::observe(double now, std::uint32_t score, bool repeat) {
  decay_to(now);
  if (score >= config_.min_score) {
    pressure_ += score;
    if (score >= config_.alert_score && !repeat) {
      alerting_ += score;
    }
  }
  // Capped, so decay brings any storm back down in bounded time.
  alerting_ = std::min(alerting_, config_.cap_factor * config_.up[2]);
  pressure_ =
      std::min(pressure_, config_.cap_factor * std::max(attentive_threshold(), config_.up[2]));
  if (alerting_ < 1.0) {
    window_peak_ = std::max(window_peak_, pressure_);  // benign work only
  }
  const Level before = level_;
  if (const Level up = justified(true); up > level_) {
    // Up: straight to the highest level the pressure justifies.
    level_ = up;
    entered_ = now;
  } else if (level_ != Level::kCalm && now - entered_ >= config_.min_dwell_s) {
    // Down, after the dwell: to the level the pressure still justifies.
    if (const Level down = justified(false); down < level_) {
      level_ = down;
      entered_ = now;
    }
  }
  if (level_ == before) {
    return std::nullopt;
  }
  return LevelChange{before, level_, pressure_};
}

// ------------------------------------------------------------------ focus

double AttentionFocus::weight_at(const Entry& e, double now) const {
  return decay(e.weight, now - e.at, half_life_s_);
}

void AttentionFocus::add(std::uint32_t entity, std::uint32_t score, double now) {
  auto it = entries_.find(entity);
  if (it != entries_.end()) {
    it->second.weight = weight_at(it->second, now) + score;
    it->second.at = now;
    return;
  }
  if (entries_.size() >= capacity_) {
    // Evict the weakest entry: the one attention has drifted furthest from.
    auto weakest = std::min_element(entries_.begin(), entries_.end(), [&](auto& a, auto& b) {
      return weight_at(a.second, now) < weight_at(b.second, now);
    });
    entries_.erase(weakest);
  }
  entries_.emplace(entity, Entry{static_cast<double>(score), now});
}

bool AttentionFocus::in_focus(std::uint32_t entity, double now) const {
  auto it = entries_.find(entity);
  return it != entries_.end() && weight_at(it->second, now) >= min_weight_;
}

// ------------------------------------------------------------------ baseline

void Baseline::insert(std::string_view key, double when) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    it->second.last_seen = std::max(it->second.last_seen, when);
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  if (index_.size() >= config_.capacity) {
    index_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.emplace_front(key);
  index_.emplace(lru_.front(), Slot{when, lru_.begin()});
}

Spread ConnectScanTracker::observe(const Actor& actor, std::string_view raddr, std::uint16_t port,
                                   double now) {
  std::array<UnitKey, 4> keys{};
  const std::size_t n = unit_keys(actor, std::hash<std::string_view>{}(raddr), true, keys);
  make_room(entries_, n, capacity_, now, window_s_);
  std::array<Entry*, 4> slots{};
  Spread fired = Spread::kNone;
  for (std::size_t i = 0; i < n; ++i) {
    auto& e = entries_[keys[i].key];  // node-based: the pointer stays valid
    slots[i] = &e;
    if (e.ports.empty() || now - e.start > window_s_) {
      e.start = now;
      e.ports.clear();
      e.reported = false;
    }
    if (e.reported || std::ranges::find(e.ports, port) != e.ports.end()) {
      continue;
    }
    e.ports.push_back(port);
    if (e.ports.size() >= min_ports_ && fired == Spread::kNone) {
      fired = keys[i].unit;
    }
  }
  if (fired != Spread::kNone) {
    for (std::size_t i = 0; i < n; ++i) {
      slots[i]->reported = true;
    }
  }
  return fired;
}

CrashSpreadTracker::Entry& CrashSpreadTracker::slot(std::uint64_t key, double now) {
  auto& e = entries_[key];
  if (e.count == 0 || now - e.start > window_s_) {
    e = Entry{now, 0, false};
  }
  return e;
}

Spread CrashSpreadTracker::observe(const Actor& actor, double now) {
  std::array<UnitKey, 4> keys{};
  const std::size_t n = unit_keys(actor, 0, false, keys);
  make_room(entries_, n, capacity_, now, window_s_);
  Spread fired = Spread::kNone;
  // The process itself dies once: only its tree and user add up.
  for (std::size_t i = 1; i < n; ++i) {
    auto& e = slot(keys[i].key, now);
    ++e.count;
    if (!e.reported && e.count >= min_crashes_) {
      e.reported = true;
      if (fired == Spread::kNone) {
        fired = keys[i].unit;
      }
    }
  }
  if (fired != Spread::kNone) {
    for (std::size_t i = 1; i < n; ++i) {
      entries_[keys[i].key].reported = true;
    }
  }
  return fired;
}

void CrashSpreadTracker::reported(const Actor& actor, double now) {
  std::array<UnitKey, 4> keys{};
  const std::size_t n = unit_keys(actor, 0, false, keys);
  make_room(entries_, n, capacity_, now, window_s_);
  for (std::size_t i = 1; i < n; ++i) {
    auto& e = slot(keys[i].key, now);
    if (e.count == 0) {
      e.count = 1;  // opens the window the silence lasts for
    }
    e.reported = true;
  }
}

double RhythmTracker::observe(std::string_view key, double now) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (index_.size() >= config_.capacity) {
      index_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.emplace_front(key);
    Entry e;
    e.last = now;
    e.lru = lru_.begin();
    index_.emplace(lru_.front(), e);
    return 0;
  }
  auto& e = it->second;
  lru_.splice(lru_.begin(), lru_, e.lru);
  const double interval = now - e.last;
  e.last = now;
  if (interval < config_.min_period_s || interval > config_.max_period_s) {
    // Bursts (retries, several sockets at once) and long gaps break the rhythm.
    e.count = 0;
    e.next = 0;
    return 0;
  }
  e.intervals[e.next] = static_cast<float>(interval);
  e.next = static_cast<std::uint8_t>((e.next + 1) % kWindow);
  e.count = static_cast<std::uint8_t>(std::min<std::size_t>(kWindow, e.count + 1U));
  if (e.count < config_.min_intervals) {
    return 0;
  }
  double sum = 0;
  for (std::size_t i = 0; i < e.count; ++i) {
    sum += e.intervals[i];
  }
  const double mean = sum / e.count;
  double var = 0;
  for (std::size_t i = 0; i < e.count; ++i) {
    var += (e.intervals[i] - mean) * (e.intervals[i] - mean);
  }
  const double cv = std::sqrt(var / e.count) / mean;
  return cv <= config_.max_cv ? mean : 0;
}

bool Baseline::observe(std::string_view key, double now) {
  if (started_ == 0) {
    started_ = now;
  }
  auto it = index_.find(key);
  const bool novel = it == index_.end() || now - it->second.last_seen > config_.max_age_s;
  if (it != index_.end()) {
    // Known: refresh in place (no allocation on the common path).
    it->second.last_seen = std::max(it->second.last_seen, now);
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  } else {
    insert(key, now);
  }
  return novel && !warming_up(now);
}

Result<void> write_state_file(const std::filesystem::path& path,
                              const std::function<void(std::ostream&)>& write) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) {
      return make_error(ErrorCode::kIo, fmt::format("cannot write {}", tmp));
    }
    chmod(tmp.c_str(), 0640);
    write(out);
    if (!out.flush()) {
      return make_error(ErrorCode::kIo, fmt::format("write {} failed", tmp));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("rename to {}: {}", path.string(), ec.message()));
  }
  return {};
}

Result<void> Baseline::save(const std::filesystem::path& path) const {
  return write_state_file(path, [&](std::ostream& out) {
    out << fmt::format("started\t{:.3f}\n", started_);
    // Oldest first, so a reload rebuilds the same recency order.
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
      out << fmt::format("{:.3f}\t{}\n", index_.at(*it).last_seen, escape_state_key(*it));
    }
  });
}

Result<void> Baseline::load(const std::filesystem::path& path, double now) {
  std::ifstream in(path);
  if (!in) {
    return {};  // first start: nothing learned yet
  }
  std::string line;
  std::size_t n = 0;
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kCorrupt, fmt::format("{}:{}: {}", path.string(), n, why));
  };
  while (std::getline(in, line)) {
    ++n;
    const auto tab = line.find('\t');
    if (tab == std::string::npos) {
      return bad("expected <time><TAB><key>");
    }
    double when = 0;
    try {
      when = std::stod(line.substr(0, tab));
    } catch (const std::exception&) {
      if (n == 1 && line.starts_with("started\t")) {
        try {
          started_ = std::stod(line.substr(tab + 1));
        } catch (const std::exception&) {
          return bad("bad start time");
        }
        continue;
      }
      return bad("bad time");
    }
    auto key = unescape_state_key(std::string_view(line).substr(tab + 1));
    if (!key) {
      return bad("bad escape in key");
    }
    if (now - when <= config_.max_age_s) {
      insert(*key, when);
    }
  }
  return {};
}

// ------------------------------------------------------------------ dedupe

AlertDeduper::Decision AlertDeduper::observe(std::uint32_t entity, std::string_view indicator,
                                             double now) {
  std::string key = fmt::format("{}\x1f{}", entity, indicator);
  auto it = open_.find(key);
  if (it != open_.end() && now - it->second.first_seen < window_s_) {
    ++it->second.count;
    ++suppressed_;
    return Decision{false, it->second.id, it->second.count};
  }
  if (it == open_.end() && open_.size() >= capacity_) {
    // Full of open incidents: forget the oldest rather than grow without bound.
    auto oldest = std::min_element(open_.begin(), open_.end(), [](auto& a, auto& b) {
      return a.second.first_seen < b.second.first_seen;
    });
    open_.erase(oldest);
  }
  Incident inc{next_id_++, 1, now};
  open_[key] = inc;
  return Decision{true, inc.id, 1};
}

bool SequenceTracker::tree_matches(const Stage& s, std::span<const std::uint32_t> lineage,
                                   std::uint32_t tree, double now) const {
  if (now - s.at > window_s_) {
    return false;
  }
  if (s.tree > 1 && s.tree == tree) {
    return true;  // one session, whoever in it is still alive
  }
  return std::ranges::any_of(lineage, [&](std::uint32_t p) {
    // pid 1 is everyone's ancestor: a stage recorded against it proves nothing.
    return p > 1 && (p == s.pid || p == s.ppid);
  });
}

void SequenceTracker::trim(std::deque<Stage>& q, double now) const {
  while (!q.empty() && (now - q.front().at > window_s_ || q.size() > capacity_)) {
    q.pop_front();
  }
}

void SequenceTracker::made_executable(std::string_view path, const Actor& actor, double now) {
  std::string key(path);
  const Stage stage{actor.pid, actor.ppid, actor.tree, actor.uid, now};
  if (dropped_.insert_or_assign(key, stage).second) {
    dropped_order_.push_back(std::move(key));
  }
  while (dropped_order_.size() > capacity_) {
    dropped_.erase(dropped_order_.front());
    dropped_order_.pop_front();
  }
}

bool SequenceTracker::exec_of_dropped(std::string_view exe, std::span<const std::uint32_t> lineage,
                                      const Actor& actor, double now) {
  if (dropped_.empty()) {
    return false;  // the common case: no lookup, no allocation
  }
  auto it = dropped_.find(std::string(exe));
  if (it == dropped_.end()) {
    return false;
  }
  const Stage& s = it->second;
  // One user dropping and running a file from three unrelated processes is
  // still one dropper; the same user is the widest unit that makes sense here.
  return tree_matches(s, lineage, actor.tree, now) ||
         (now - s.at <= window_s_ && s.uid == actor.uid);
}

void SequenceTracker::connected_out(std::uint32_t pid, std::uint32_t tree, double now) {
  if (outbound_.size() >= capacity_ && !outbound_.contains(pid)) {
    std::erase_if(outbound_, [&](const auto& kv) { return now - kv.second.at > kRelayWindowS; });
    if (outbound_.size() >= capacity_) {
      outbound_.clear();  // a connect storm: start over rather than grow
    }
  }
  outbound_[pid] = Outbound{now, tree};
}

bool SequenceTracker::recently_connected(std::uint32_t pid, double now, double within_s) const {
  auto it = outbound_.find(pid);
  return it != outbound_.end() && now - it->second.at <= within_s;
}

std::size_t SequenceTracker::recent_connects_in(std::uint32_t tree, double now,
                                                std::span<std::uint32_t> out) const {
  std::size_t n = 0;
  if (tree <= 1) {
    return 0;
  }
  for (const auto& [pid, o] : outbound_) {
    if (n == out.size()) {
      break;
    }
    if (o.tree == tree && now - o.at <= kRelayWindowS) {
      out[n++] = pid;
    }
  }
  return n;
}

void SequenceTracker::shell_waiting(const ShellWiring& shell, double now) {
  while (!waiting_.empty() &&
         (now - waiting_.front().at > kRelayWindowS || waiting_.size() >= capacity_)) {
    waiting_.pop_front();
  }
  waiting_.push_back({shell, now});
}

bool SequenceTracker::shells_waiting(std::uint32_t tree, double now) const {
  // Entries are in arrival order: if the newest has expired, all have (the
  // common case on a host with no shell waiting costs one comparison).
  if (waiting_.empty() || now - waiting_.back().at > kRelayWindowS) {
    return false;
  }
  return std::ranges::any_of(waiting_, [&](const Waiting& w) {
    return now - w.at <= kRelayWindowS && w.shell.tree == tree;
  });
}

bool SequenceTracker::relay_connected(std::uint32_t pid, std::uint32_t tree,
                                      std::uint64_t stdin_pipe, double now) {
  auto it = std::ranges::find_if(waiting_, [&](const Waiting& w) {
    if (now - w.at > kRelayWindowS) {
      return false;
    }
    if (w.shell.relay != 0 && w.shell.relay == pid) {
      return true;
    }
    const auto out = std::span(w.shell.out).first(w.shell.n_out);
    return stdin_pipe != 0 && w.shell.tree == tree &&
           std::ranges::find(out, stdin_pipe) != out.end();
  });
  if (it == waiting_.end()) {
    return false;
  }
  waiting_.erase(it);  // one finding per shell
  return true;
}

void SequenceTracker::scanned(const Actor& actor, double now) {
  scans_.push_back({actor.pid, actor.ppid, actor.tree, actor.uid, now});
  trim(scans_, now);
}

void SequenceTracker::connected(std::span<const std::uint32_t> lineage, const Actor& actor,
                                double now) {
  trim(scans_, now);
  for (const auto& s : scans_) {
    if (tree_matches(s, lineage, actor.tree, now)) {
      // The connection carries the tree forward: its process, parent and tree.
      connects_.push_back({actor.pid, actor.ppid, actor.tree, actor.uid, now});
      trim(connects_, now);
      return;
    }
  }
}

bool SequenceTracker::exec_after_scan_connect(std::span<const std::uint32_t> lineage,
                                              const Actor& actor, double now) {
  trim(connects_, now);
  auto it = std::ranges::find_if(
      connects_, [&](const Stage& c) { return tree_matches(c, lineage, actor.tree, now); });
  if (it == connects_.end()) {
    return false;
  }
  connects_.erase(it);  // one finding per scan -> connect, not one per later exec
  return true;
}

bool is_pipe_feeder(std::string_view exe) {
  static constexpr std::array<std::string_view, 22> kFeeders = {
      "curl",     "wget",    "fetch", "aria2c",  "tftp",   "ftp",    "lftp",   "nc",
      "ncat",     "netcat",  "socat", "openssl", "base64", "base32", "basenc", "xxd",
      "uudecode", "busybox", "gpg",   "telnet",  "ssh",    "scp"};
  const auto slash = exe.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? exe : exe.substr(slash + 1);
  return std::ranges::find(kFeeders, base) != kFeeders.end();
}

const PipeLinks::End* PipeLinks::note(std::unordered_map<std::uint64_t, End>& mine,
                                      const std::unordered_map<std::uint64_t, End>& theirs,
                                      std::uint64_t pipe, std::string_view exe,
                                      std::string_view command_line, double now) {
  if (mine.size() >= capacity_) {
    std::erase_if(mine, [&](const auto& kv) { return now - kv.second.at > window_s_; });
    if (mine.size() >= capacity_) {
      mine.clear();
    }
  }
  auto& end = mine[pipe];
  end.exe.assign(exe);
  end.command_line.assign(command_line);
  end.at = now;
  const auto it = theirs.find(pipe);
  if (it == theirs.end() || now - it->second.at > window_s_) {
    return nullptr;
  }
  return &it->second;
}

const PipeLinks::End* PipeLinks::feeder(std::uint64_t pipe, std::string_view exe,
                                        std::string_view command_line, double now) {
  return note(feeders_, readers_, pipe, exe, command_line, now);
}

const PipeLinks::End* PipeLinks::reader(std::uint64_t pipe, std::string_view exe, double now) {
  return note(readers_, feeders_, pipe, exe, {}, now);
}

}  // namespace vigil::agent
