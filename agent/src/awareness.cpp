#include "vigil/agent/awareness.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
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

// Keys are paths and may hold any byte: escape the three the file format uses.
std::string escape(std::string_view s) {
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

std::optional<std::string> unescape(std::string_view s) {
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

}  // namespace

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
    return;
  }
  pressure_ = decay(pressure_, now - last_, config_.half_life_s);
  last_ = std::max(last_, now);
}

std::optional<LevelChange> LevelTracker::observe(double now, std::uint32_t score) {
  decay_to(now);
  if (score >= config_.min_score) {
    pressure_ += score;
  }
  const Level before = level_;
  // Up: straight to the highest level the pressure justifies.
  auto target = static_cast<int>(level_);
  while (target < 3 && pressure_ >= config_.up[static_cast<std::size_t>(target)]) {
    ++target;
  }
  if (target > static_cast<int>(level_)) {
    level_ = static_cast<Level>(target);
    entered_ = now;
  } else if (level_ != Level::kCalm && now - entered_ >= config_.min_dwell_s &&
             pressure_ < config_.down[static_cast<std::size_t>(level_) - 1]) {
    // Down: one step at a time, and only after the dwell time.
    level_ = static_cast<Level>(static_cast<int>(level_) - 1);
    entered_ = now;
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

bool ConnectScanTracker::observe(std::uint32_t pid, std::uint16_t port, double now) {
  if (entries_.size() >= capacity_ && !entries_.contains(pid)) {
    entries_.clear();
  }
  auto& e = entries_[pid];
  if (e.ports.empty() || now - e.start > window_s_) {
    e.start = now;
    e.ports.clear();
    e.reported = false;
  }
  if (e.reported || std::ranges::find(e.ports, port) != e.ports.end()) {
    return false;
  }
  e.ports.push_back(port);
  if (e.ports.size() >= min_ports_) {
    e.reported = true;
    return true;
  }
  return false;
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

Result<void> Baseline::save(const std::filesystem::path& path) const {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) {
      return make_error(ErrorCode::kIo, fmt::format("cannot write {}", tmp));
    }
    chmod(tmp.c_str(), 0640);
    out << fmt::format("started\t{:.3f}\n", started_);
    // Oldest first, so a reload rebuilds the same recency order.
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
      out << fmt::format("{:.3f}\t{}\n", index_.at(*it).last_seen, escape(*it));
    }
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
    auto key = unescape(std::string_view(line).substr(tab + 1));
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
                                   double now) const {
  if (now - s.at > window_s_) {
    return false;
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

void SequenceTracker::made_executable(std::string_view path, std::uint32_t pid, std::uint32_t ppid,
                                      double now) {
  std::string key(path);
  if (dropped_.insert_or_assign(key, Stage{pid, ppid, now}).second) {
    dropped_order_.push_back(std::move(key));
  }
  while (dropped_order_.size() > capacity_) {
    dropped_.erase(dropped_order_.front());
    dropped_order_.pop_front();
  }
}

bool SequenceTracker::exec_of_dropped(std::string_view exe, std::span<const std::uint32_t> lineage,
                                      double now) {
  if (dropped_.empty()) {
    return false;  // the common case: no lookup, no allocation
  }
  auto it = dropped_.find(std::string(exe));
  return it != dropped_.end() && tree_matches(it->second, lineage, now);
}

void SequenceTracker::connected_out(std::uint32_t pid, double now) {
  if (outbound_.size() >= capacity_ && !outbound_.contains(pid)) {
    std::erase_if(outbound_, [&](const auto& kv) { return now - kv.second > window_s_; });
    if (outbound_.size() >= capacity_) {
      outbound_.clear();  // a connect storm: start over rather than grow
    }
  }
  outbound_[pid] = now;
}

bool SequenceTracker::recently_connected(std::uint32_t pid, double now, double within_s) const {
  auto it = outbound_.find(pid);
  return it != outbound_.end() && now - it->second <= within_s;
}

void SequenceTracker::scanned(std::uint32_t pid, std::uint32_t ppid, double now) {
  scans_.push_back({pid, ppid, now});
  trim(scans_, now);
}

void SequenceTracker::connected(std::span<const std::uint32_t> lineage, double now) {
  trim(scans_, now);
  for (const auto& s : scans_) {
    if (tree_matches(s, lineage, now)) {
      // The connection carries the tree forward: its process and parent.
      connects_.push_back({lineage.front(), lineage.size() > 1 ? lineage[1] : 0, now});
      trim(connects_, now);
      return;
    }
  }
}

bool SequenceTracker::exec_after_scan_connect(std::span<const std::uint32_t> lineage, double now) {
  trim(connects_, now);
  auto it = std::ranges::find_if(connects_,
                                 [&](const Stage& c) { return tree_matches(c, lineage, now); });
  if (it == connects_.end()) {
    return false;
  }
  connects_.erase(it);  // one finding per scan -> connect, not one per later exec
  return true;
}

}  // namespace vigil::agent
