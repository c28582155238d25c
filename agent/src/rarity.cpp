// Rarity (rarity.h): behaviour keys, the host's memory of them, the fleet's
// prevalence table and the rare-* detector.
#include "vigil/agent/rarity.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>

#include "vigil/abi.h"
#include "vigil/agent/awareness.h"
#include "vigil/features.h"

namespace vigil::agent {
namespace {

// Writable or temporary roots, as whole path components (/tmp, not /tmpfoo).
constexpr std::array<std::string_view, 4> kWritableRoots = {"/tmp", "/var/tmp", "/dev/shm",
                                                            "/run/user"};
constexpr std::string_view kDeleted = " (deleted)";
constexpr std::string_view kMemfd = "/memfd:";

std::string_view writable_root(std::string_view path) {
  for (const auto root : kWritableRoots) {
    if (path.starts_with(root) && (path.size() == root.size() || path[root.size()] == '/')) {
      return root;
    }
  }
  return {};
}

std::string_view basename_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The part of `path` below a home directory (/home/<user> or /root), starting
// with '/' or empty; false when `path` is not in one.
bool home_rest(std::string_view path, std::string_view& rest) {
  if (path.starts_with("/root") && (path.size() == 5 || path[5] == '/')) {
    rest = path.substr(5);
    return true;
  }
  if (path.starts_with("/home/") && path.size() > 6) {
    const auto slash = path.find('/', 6);
    rest = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
    return true;
  }
  return false;
}

// Files that keep their full path in a path class: what an attacker changes
// or reads by name, so a new program touching one stands out on its own.
constexpr std::array<std::string_view, 14> kSensitiveFiles = {
    "/etc/shadow",   "/etc/gshadow",       "/etc/passwd",   "/etc/group",
    "/etc/sudoers",  "/etc/ld.so.preload", "/etc/crontab",  "/etc/environment",
    "/etc/profile",  "/etc/bash.bashrc",   "/etc/rc.local", "/etc/ssh/sshd_config",
    "/etc/pam.conf", "/etc/anacrontab"};
// ... and below a home directory.
constexpr std::array<std::string_view, 15> kSensitiveHomeFiles = {"/.ssh/authorized_keys",
                                                                  "/.ssh/authorized_keys2",
                                                                  "/.ssh/id_rsa",
                                                                  "/.ssh/id_ecdsa",
                                                                  "/.ssh/id_ed25519",
                                                                  "/.ssh/config",
                                                                  "/.bashrc",
                                                                  "/.bash_profile",
                                                                  "/.bash_login",
                                                                  "/.bash_logout",
                                                                  "/.profile",
                                                                  "/.zshrc",
                                                                  "/.zprofile",
                                                                  "/.bash_history",
                                                                  "/.zsh_history"};

bool contains_name(std::span<const std::string_view> list, std::string_view name) {
  return std::ranges::find(list, name) != list.end();
}

void append_uint(std::uint64_t v, std::string& out) {
  std::array<char, 24> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), r.ptr);
}

std::string_view exe_of(const Event& e) { return e.exe.empty() ? e.comm : e.exe; }
std::string_view exe_of(const ProcessInfo* p) {
  if (p == nullptr) {
    return "?";
  }
  return !p->exe.empty() ? std::string_view(p->exe) : std::string_view(p->comm);
}

bool connect_succeeded(const Event& e) {
  const auto& s = std::get<SockData>(e.data);
  if (e.type == EventType::kUdpSend) {
    return s.ret >= 0;
  }
  return e.type == EventType::kConnect && (s.ret == 0 || s.ret == -EINPROGRESS);
}

bool is_file_change(std::uint32_t op) {
  switch (op) {
    case VIGIL_FILE_WRITE:
    case VIGIL_FILE_CREATE:
    case VIGIL_FILE_RENAME:
    case VIGIL_FILE_UNLINK:
    case VIGIL_FILE_CHMOD:
    case VIGIL_FILE_TRUNCATE:
    case VIGIL_FILE_LINK:
    case VIGIL_FILE_SYMLINK:
      return true;
    default:
      return false;
  }
}

bool parse_double(std::string_view s, double& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

constexpr std::array<RarityContextInfo, 7> kContexts = {{
    {kCtxNetworkFacing, "network-facing", 25},
    {kCtxSensitiveTarget, "sensitive-target", 25},
    {kCtxUnbackedExe, "unbacked-exe", 25},
    {kCtxPrivilegeChange, "privilege-change", 20},
    {kCtxFreshExe, "fresh-exe", 15},
    {kCtxWritableLocation, "writable-location", 15},
    {kCtxNewDestination, "new-destination", 15},
}};

constexpr std::array<std::string_view, kRarityKinds> kKindIndicators = {
    "rare-exec", "rare-connect", "rare-listener", "rare-file-write", "rare-file-read", "rare-wx"};

}  // namespace

// ------------------------------------------------------------------ keys

void append_normalised_exe(std::string_view exe, std::string& out) {
  if (exe.ends_with(kDeleted)) {
    exe.remove_suffix(kDeleted.size());
  }
  if (exe.starts_with(kMemfd)) {
    out.append("memfd:");
    out.append(exe.substr(kMemfd.size()));
    return;
  }
  if (const auto root = writable_root(exe); !root.empty()) {
    // Where a dropper unpacks varies per run (mktemp); what it is called less so.
    out.append(root);
    out.append("/**/");
    out.append(basename_of(exe));
    return;
  }
  out.append(exe);
}

void append_path_class(std::string_view path, std::string& out) {
  std::string_view rest;
  const bool home = home_rest(path, rest);
  if (home ? contains_name(kSensitiveHomeFiles, rest) : contains_name(kSensitiveFiles, path)) {
    out.append(home ? "~" : "");
    out.append(home ? rest : path);
    return;
  }
  const auto slash = path.rfind('/');
  std::string_view dir =
      slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
  if (const auto root = writable_root(dir); !root.empty()) {
    out.append(root);
    out.append("/**");
    return;
  }
  const std::size_t start = out.size();
  if (home_rest(dir, rest)) {
    out.push_back('~');
    dir = rest;
  }
  std::size_t kept = 0;
  std::size_t pos = 0;
  while (pos < dir.size() && kept < 3) {
    const auto next = dir.find('/', pos);
    const auto comp =
        dir.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    pos = next == std::string_view::npos ? dir.size() : next + 1;
    if (comp.empty()) {
      continue;
    }
    out.push_back('/');
    // Versions, pids, uids, hashes: one class, not one per number.
    if (std::ranges::any_of(comp, [](char c) { return c >= '0' && c <= '9'; })) {
      out.push_back('*');
    } else {
      out.append(comp);
    }
    ++kept;
  }
  if (out.size() == start) {
    out.push_back('/');
  }
}

std::string_view address_class(std::string_view addr) {
  const auto pct = addr.find('%');  // fe80::1%eth0
  addr = addr.substr(0, pct);
  std::array<char, INET6_ADDRSTRLEN + 1> buf{};
  if (addr.empty() || addr.size() >= buf.size()) {
    return "unknown";
  }
  std::copy(addr.begin(), addr.end(), buf.begin());
  std::array<std::uint8_t, 16> a{};
  const std::uint8_t* v4 = nullptr;
  if (inet_pton(AF_INET, buf.data(), a.data()) == 1) {
    v4 = a.data();
  } else if (inet_pton(AF_INET6, buf.data(), a.data()) == 1) {
    const bool mapped = std::all_of(a.begin(), a.begin() + 10, [](auto b) { return b == 0; }) &&
                        a[10] == 0xff && a[11] == 0xff;
    if (mapped) {
      v4 = a.data() + 12;
    } else {
      const bool zero_prefix =
          std::all_of(a.begin(), a.begin() + 15, [](auto b) { return b == 0; });
      if (zero_prefix && (a[15] == 1 || a[15] == 0)) {
        return "loopback";  // ::1, and :: (connects to this host)
      }
      if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) {
        return "linklocal";
      }
      if ((a[0] & 0xfe) == 0xfc) {
        return "private";  // unique local fc00::/7
      }
      return "public";
    }
  } else {
    return "unknown";
  }
  if (v4[0] == 127 || (v4[0] == 0 && v4[1] == 0 && v4[2] == 0 && v4[3] == 0)) {
    return "loopback";
  }
  if (v4[0] == 169 && v4[1] == 254) {
    return "linklocal";
  }
  if (v4[0] == 10 || (v4[0] == 172 && (v4[1] & 0xf0) == 16) || (v4[0] == 192 && v4[1] == 168) ||
      (v4[0] == 100 && (v4[1] & 0xc0) == 64)) {
    return "private";  // RFC 1918 and carrier-grade NAT
  }
  return "public";
}

std::string_view uid_class(std::uint32_t uid) {
  if (uid == 0) {
    return "root";
  }
  if (uid == 65534) {
    return "nobody";
  }
  return uid < 1000 ? "system" : "user";
}

bool is_sensitive_target(std::string_view path, bool write) {
  std::string_view rest;
  const bool home = home_rest(path, rest);
  if (home) {
    return rest.starts_with("/.ssh/") || contains_name(kSensitiveHomeFiles, rest) ||
           rest.starts_with("/.config/systemd/") || rest.starts_with("/.config/autostart/");
  }
  if (contains_name(kSensitiveFiles, path)) {
    return true;
  }
  static constexpr std::array<std::string_view, 17> kDirs = {"/etc/sudoers.d/",
                                                             "/etc/cron",
                                                             "/var/spool/cron/",
                                                             "/etc/systemd/",
                                                             "/lib/systemd/",
                                                             "/usr/lib/systemd/",
                                                             "/run/systemd/system/",
                                                             "/etc/ld.so.conf",
                                                             "/etc/profile.d/",
                                                             "/etc/ssh/",
                                                             "/etc/pam.d/",
                                                             "/etc/security/",
                                                             "/etc/init.d/",
                                                             "/etc/udev/rules.d/",
                                                             "/boot/",
                                                             "/etc/update-motd.d/",
                                                             "/etc/xdg/autostart/"};
  if (std::ranges::any_of(kDirs, [&](std::string_view d) { return path.starts_with(d); })) {
    return true;
  }
  // Binaries and libraries: replaced or added, every later run is the attacker's.
  static constexpr std::array<std::string_view, 10> kBinaryDirs = {
      "/usr/bin/", "/usr/sbin/", "/bin/",       "/sbin/",          "/usr/lib/",
      "/lib/",     "/lib64/",    "/usr/lib64/", "/usr/local/bin/", "/usr/local/sbin/"};
  return write &&
         std::ranges::any_of(kBinaryDirs, [&](std::string_view d) { return path.starts_with(d); });
}

std::string_view to_string(RarityKind kind) {
  static constexpr std::array<std::string_view, kRarityKinds> kNames = {
      "exec", "connect", "listener", "file-write", "file-read", "wx"};
  return kNames[static_cast<std::size_t>(kind)];
}

bool build_behaviour_keys(const Event& e, const ProcessTable& table, BehaviourKeys& out) {
  out.n = 0;
  out.has_dst = false;
  out.target = {};
  auto next = [&](std::string_view prefix) -> std::string& {
    auto& k = out.keys[out.n++];
    k.assign(prefix);
    return k;
  };
  const std::string_view exe = exe_of(e);
  switch (e.type) {
    case EventType::kExec:
    case EventType::kFilelessExec: {
      // A fileless exec is the kernel's word on an exec from a memfd or a
      // deleted file (its exec record names /dev/fd/N or the old path): keyed
      // as an exec of "memfd:NAME" or the deleted path.
      std::string_view prog = exe;
      std::string_view memfd_name;
      if (e.type == EventType::kFilelessExec) {
        const auto& f = std::get<FilelessExecData>(e.data);
        if (f.memfd) {
          constexpr std::string_view kPrefix = "memfd:";  // the dentry's name
          memfd_name = f.dname;
          if (memfd_name.starts_with(kPrefix)) memfd_name.remove_prefix(kPrefix.size());
        } else if (!f.filename.empty()) {
          prog = f.filename;
        }
      }
      const auto program = [&](std::string& k) {
        if (e.type == EventType::kFilelessExec && !memfd_name.empty()) {
          k.append("memfd:");  // as append_normalised_exe writes /memfd:NAME
          k.append(memfd_name);
        } else {
          append_normalised_exe(prog, k);
        }
      };
      out.kind = RarityKind::kExec;
      const auto* parent = table.find(e.ppid);
      const auto* grandparent = parent != nullptr ? table.find(parent->ppid) : nullptr;
      auto& pc = next("pc|");
      append_normalised_exe(exe_of(parent), pc);
      pc.push_back('|');
      program(pc);
      auto& ux = next("ux|");
      ux.append(uid_class(e.uid));
      ux.push_back('|');
      program(ux);
      auto& lin = next("lin|");
      append_normalised_exe(exe_of(grandparent), lin);
      lin.push_back('|');
      append_normalised_exe(exe_of(parent), lin);
      lin.push_back('|');
      program(lin);
      return true;
    }
    case EventType::kConnect:
    case EventType::kUdpSend: {
      if (!connect_succeeded(e)) {
        return false;
      }
      const auto& s = std::get<SockData>(e.data);
      out.kind = RarityKind::kConnect;
      auto& cn = next("cn|");
      append_normalised_exe(exe, cn);
      cn.push_back('|');
      append_uint(s.rport, cn);
      cn.push_back('|');
      cn.append(address_class(s.raddr));
      out.dst.assign("dst|");
      out.dst.append(s.raddr);
      out.dst.push_back('|');
      append_uint(s.rport, out.dst);
      out.has_dst = true;
      return true;
    }
    case EventType::kListen: {
      const auto& s = std::get<SockData>(e.data);
      if (s.ret != 0) {
        return false;
      }
      out.kind = RarityKind::kListener;
      auto& ls = next("ls|");
      append_normalised_exe(exe, ls);
      ls.push_back('|');
      append_uint(s.lport, ls);
      return true;
    }
    case EventType::kFile: {
      const auto& f = std::get<FileData>(e.data);
      const bool read = f.op == VIGIL_FILE_READ_SENSITIVE;
      if (f.ret < 0 || (!read && !is_file_change(f.op))) {
        return false;
      }
      // A rename, link or symlink changes the name it makes.
      const bool to_new =
          (f.op == VIGIL_FILE_RENAME || f.op == VIGIL_FILE_LINK || f.op == VIGIL_FILE_SYMLINK) &&
          !f.new_path.empty();
      out.target = to_new ? std::string_view(f.new_path) : std::string_view(f.path);
      if (out.target.empty()) {
        return false;
      }
      out.kind = read ? RarityKind::kFileRead : RarityKind::kFileWrite;
      auto& k = next(read ? "fr|" : "fw|");
      append_normalised_exe(exe, k);
      k.push_back('|');
      append_path_class(out.target, k);
      return true;
    }
    case EventType::kWxMemory:
    case EventType::kExecAdded: {
      out.kind = RarityKind::kWx;
      append_normalised_exe(exe, next("wx|"));
      return true;
    }
    default:
      return false;
  }
}

// ------------------------------------------------------------------ memory

BehaviourMemory::BehaviourMemory(std::size_t capacity, double max_age_s)
    : capacity_(std::max<std::size_t>(capacity, 1)), max_age_s_(max_age_s) {}

BehaviourMemory::Slot& BehaviourMemory::insert(std::string_view key) {
  if (index_.size() >= capacity_) {
    auto victim = index_.find(*lru_.back());
    if (!is_host_only_key(victim->first) && victim->second.reported_at == 0) {
      --unreported_;
    }
    index_.erase(victim);
    lru_.pop_back();
    ++stats_.evicted;
  }
  auto [it, added] = index_.try_emplace(std::string(key));
  lru_.push_front(&it->first);  // a node's key never moves
  it->second.lru = lru_.begin();
  it->second.hash = behaviour_hash(key);
  if (!is_host_only_key(key)) {
    ++unreported_;
  }
  return it->second;
}

void BehaviourMemory::clear() {
  index_.clear();
  lru_.clear();
  started_ = 0;
  unreported_ = 0;
  next_due_ = 0;
}

std::uint64_t BehaviourMemory::observe(std::string_view key, double now) {
  if (started_ == 0) {
    started_ = now;
  }
  auto it = index_.find(key);
  if (it == index_.end()) {
    auto& s = insert(key);
    s.count = 1;
    s.first_seen = s.last_seen = now;
    return 0;
  }
  // Known: refreshed in place (no allocation on the common path).
  auto& s = it->second;
  std::uint64_t before = s.count;
  if (now - s.last_seen > max_age_s_) {
    before = 0;  // forgotten: this is a first sighting again
    s.count = 0;
    s.first_seen = now;
  }
  ++s.count;
  s.last_seen = std::max(s.last_seen, now);
  lru_.splice(lru_.begin(), lru_, s.lru);
  return before;
}

std::uint64_t BehaviourMemory::count(std::string_view key, double now) const {
  const auto it = index_.find(key);
  if (it == index_.end() || now - it->second.last_seen > max_age_s_) {
    return 0;
  }
  return it->second.count;
}

bool BehaviourMemory::report_due(double now) const { return unreported_ > 0 || now >= next_due_; }

void BehaviourMemory::report_all_again() {
  unreported_ = 0;
  for (auto& [key, slot] : index_) {
    slot.reported_at = 0;
    unreported_ += is_host_only_key(key) ? 0 : 1;
  }
  next_due_ = 0;
}

std::size_t BehaviourMemory::take_report(double now, std::size_t max,
                                         std::vector<std::uint64_t>& out, double every_s) {
  std::size_t n = 0;
  double next = std::numeric_limits<double>::infinity();
  for (auto& [key, slot] : index_) {
    if (is_host_only_key(key) || now - slot.last_seen > max_age_s_) {
      continue;  // the fleet never sees host-only keys; aged ones are no longer this host's
    }
    const bool never = slot.reported_at == 0;
    if (!never && now - slot.reported_at <= every_s) {
      next = std::min(next, slot.reported_at + every_s);
      continue;
    }
    if (n == max) {
      next = now;  // more than one report's worth: the rest next time
      continue;
    }
    out.push_back(slot.hash);
    slot.reported_at = now;
    unreported_ -= never ? 1 : 0;
    next = std::min(next, now + every_s);
    ++n;
  }
  next_due_ = next;
  stats_.reported += n;
  return n;
}

Result<void> BehaviourMemory::save(const std::filesystem::path& path) const {
  return write_state_file(path, [&](std::ostream& out) {
    out << fmt::format("started\t{:.3f}\n", started_);
    // Oldest first, so a reload rebuilds the same recency order.
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
      const auto& s = index_.find(**it)->second;
      out << fmt::format("{}\t{:.3f}\t{:.3f}\t{:.3f}\t{}\n", s.count, s.first_seen, s.last_seen,
                         s.reported_at, escape_state_key(**it));
    }
  });
}

Result<void> BehaviourMemory::load(const std::filesystem::path& path, double now) {
  clear();
  std::ifstream in(path);
  if (!in) {
    return {};  // first start: nothing learned yet
  }
  std::string line;
  std::size_t n = 0;
  auto bad = [&](std::string_view why) {
    clear();  // half a memory would make known behaviours look new: start learning again
    return make_error(ErrorCode::kCorrupt, fmt::format("{}:{}: {}", path.string(), n, why));
  };
  std::array<std::string_view, 5> f{};
  while (std::getline(in, line)) {
    ++n;
    if (n == 1 && line.starts_with("started\t")) {
      if (!parse_double(std::string_view(line).substr(8), started_)) {
        return bad("bad start time");
      }
      continue;
    }
    std::string_view rest = line;
    std::size_t fields = 0;
    while (fields < f.size()) {
      const auto tab = fields + 1 < f.size() ? rest.find('\t') : std::string_view::npos;
      f[fields++] = rest.substr(0, tab);
      if (tab == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(tab + 1);
    }
    if (fields != f.size()) {
      return bad("expected count<TAB>first<TAB>last<TAB>reported<TAB>key");
    }
    std::uint64_t count = 0;
    double first = 0;
    double last = 0;
    double reported = 0;
    if (!parse_u64(f[0], count) || !parse_double(f[1], first) || !parse_double(f[2], last) ||
        !parse_double(f[3], reported)) {
      return bad("bad number");
    }
    auto key = unescape_state_key(f[4]);
    if (!key || key->empty()) {
      return bad("bad key");
    }
    if (now - last > max_age_s_) {
      continue;  // aged out while the agent was down
    }
    auto found = index_.find(*key);
    auto& s = found != index_.end() ? found->second : insert(*key);
    const bool counted = !is_host_only_key(*key);
    unreported_ -= counted && s.reported_at == 0 ? 1 : 0;
    s.count = count;
    s.first_seen = first;
    s.last_seen = last;
    s.reported_at = reported;
    unreported_ += counted && s.reported_at == 0 ? 1 : 0;
    lru_.splice(lru_.begin(), lru_, s.lru);
  }
  return {};
}

// ------------------------------------------------------------------ fleet

Result<void> FleetPrevalence::assign(std::uint32_t fleet_hosts, std::span<const std::uint64_t> keys,
                                     std::span<const std::uint32_t> hosts,
                                     std::uint32_t window_days) {
  if (keys.size() != hosts.size()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("prevalence: {} keys but {} host counts", keys.size(), hosts.size()));
  }
  if (keys.size() > kMaxKeys) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("prevalence: {} keys (at most {})", keys.size(), kMaxKeys));
  }
  if (std::ranges::adjacent_find(keys, std::greater_equal<>{}) != keys.end()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "prevalence: keys not sorted ascending and unique");
  }
  keys_.assign(keys.begin(), keys.end());
  hosts_.assign(hosts.begin(), hosts.end());
  fleet_hosts_ = fleet_hosts;
  window_days_ = window_days;
  known_ = true;
  return {};
}

std::uint32_t FleetPrevalence::hosts(std::uint64_t key) const {
  const auto it = std::ranges::lower_bound(keys_, key);
  if (it == keys_.end() || *it != key) {
    return 0;
  }
  return hosts_[static_cast<std::size_t>(it - keys_.begin())];
}

std::uint32_t FleetPrevalence::common_threshold(std::uint32_t min_hosts, double fraction) const {
  const double share = std::ceil(fraction * static_cast<double>(fleet_hosts_));
  return std::max(min_hosts, static_cast<std::uint32_t>(std::max(0.0, share)));
}

// ------------------------------------------------------------------ detector

std::span<const RarityContextInfo> rarity_contexts() { return kContexts; }

std::uint32_t rarity_severity(std::uint32_t contexts) {
  std::uint32_t sum = 30;
  for (const auto& c : kContexts) {
    if ((contexts & c.bit) != 0) {
      sum += c.weight;
    }
  }
  return std::min<std::uint32_t>(75, sum);
}

RarityDetector::RarityDetector(RarityConfig config)
    : config_(config), memory_(config.max_keys, config.max_age_s) {
  for (std::size_t i = 0; i < kRarityKinds; ++i) {
    indicators_[i] = find_indicator(kKindIndicators[i]);
  }
}

void RarityDetector::set_config(RarityConfig config) {
  config_ = config;
  memory_ = BehaviourMemory(config.max_keys, config.max_age_s);
}

Result<void> RarityDetector::apply_prevalence(std::uint32_t fleet_hosts,
                                              std::span<const std::uint64_t> keys,
                                              std::span<const std::uint32_t> hosts,
                                              std::uint32_t window_days) {
  auto r = fleet_.assign(fleet_hosts, keys, hosts, window_days);
  ++(r ? stats_.prevalence_updates : stats_.prevalence_refused);
  return r;
}

std::uint32_t RarityDetector::contexts_of(const Event& e, const ProcessTable& table,
                                          bool new_destination) const {
  std::uint32_t ctx = 0;
  const auto* parent = table.find(e.ppid);
  if (e.type == EventType::kFilelessExec || e.exe.starts_with(kMemfd) ||
      e.exe.ends_with(kDeleted)) {
    ctx |= kCtxUnbackedExe;
  } else if (e.exe.starts_with('/') && freshly_written(e.exe, e.ts_ns, true)) {
    ctx |= kCtxFreshExe;
  }
  if (writable_location(e.exe) || (parent != nullptr && writable_location(parent->exe))) {
    ctx |= kCtxWritableLocation;
  }
  if (e.euid != e.uid || (e.euid == 0 && parent != nullptr && parent->uid != 0)) {
    ctx |= kCtxPrivilegeChange;
  }
  if ((keys_.kind == RarityKind::kFileWrite || keys_.kind == RarityKind::kFileRead) &&
      is_sensitive_target(keys_.target, keys_.kind == RarityKind::kFileWrite)) {
    ctx |= kCtxSensitiveTarget;
  }
  if (new_destination) {
    ctx |= kCtxNewDestination;
  }
  // Network-facing: stdin a socket (inetd-style services, shells on a
  // connection; stdout alone is not: systemd services log to the journal
  // through one), or the process or an ancestor listens or accepted (a
  // listener's own listen does not count), login services excepted.
  if (table.stdio(e.pid).fd[0].kind == FdKind::kSocket) {
    ctx |= kCtxNetworkFacing;
  } else if (keys_.kind == RarityKind::kExec && parent != nullptr &&
             !is_login_service(parent->exe) &&
             parent_connected(e.ppid, static_cast<double>(e.ts_ns) / 1e9)) {
    // Started by a process that just connected out: a relay (`ncat -e`,
    // a downloader running what it fetched, an implant's tasking).
    ctx |= kCtxNetworkFacing;
  } else {
    std::array<std::uint32_t, 5> lineage{};  // the process and 4 ancestors
    const auto n = table.lineage_into(e.pid, lineage);
    for (std::size_t i = keys_.kind == RarityKind::kListener ? 1 : 0; i < n; ++i) {
      const auto* p = table.find(lineage[i]);
      if (p != nullptr && p->listens && !is_login_service(p->exe)) {
        ctx |= kCtxNetworkFacing;
        break;
      }
    }
  }
  return ctx;
}

bool RarityDetector::parent_connected(std::uint32_t ppid, double now) const {
  const auto& slot = connected_[ppid % kConnectedSlots];
  return ppid != 0 && slot.pid == ppid && now - slot.at <= kConnectedWindowS;
}

const RarityHit& RarityDetector::evaluate(const Event& e, const ProcessTable& table) {
  hit_.indicator = nullptr;
  if (!config_.enabled || !build_behaviour_keys(e, table, keys_)) {
    return hit_;
  }
  const double now = static_cast<double>(e.ts_ns) / 1e9;
  if (keys_.kind == RarityKind::kConnect && e.type == EventType::kConnect) {
    connected_[e.pid % kConnectedSlots] = {e.pid, now};
  }
  // Every key is learned, whatever comes of it.
  std::array<std::uint64_t, BehaviourKeys::kMax> before{};
  for (std::size_t i = 0; i < keys_.n; ++i) {
    before[i] = memory_.observe(keys_.keys[i], now);
  }
  const bool new_destination = keys_.has_dst && memory_.observe(keys_.dst, now) == 0;
  if (memory_.learning(now, config_.learn_s)) {
    return hit_;
  }
  bool novel = false;
  std::size_t chosen = BehaviourKeys::kMax;
  for (std::size_t i = 0; i < keys_.n && chosen == BehaviourKeys::kMax; ++i) {
    if (before[i] != 0) {
      continue;
    }
    novel = true;
    if (!fleet_.common(behaviour_hash(keys_.keys[i]), config_.fleet_common_hosts,
                       config_.fleet_common_fraction)) {
      chosen = i;
    }
  }
  if (!novel) {
    return hit_;
  }
  ++stats_.novel;
  if (chosen == BehaviourKeys::kMax) {
    ++stats_.fleet_common;
    return hit_;
  }
  const std::uint32_t ctx = contexts_of(e, table, new_destination);
  if (ctx == 0) {
    ++stats_.no_context;
    return hit_;
  }
  const auto kind = static_cast<std::size_t>(keys_.kind);
  hit_.indicator = indicators_[kind];
  hit_.kind = keys_.kind;
  hit_.contexts = ctx;
  hit_.severity = rarity_severity(ctx);
  hit_.fleet_hosts = fleet_.hosts(behaviour_hash(keys_.keys[chosen]));
  hit_.key.assign(keys_.keys[chosen]);
  ++stats_.hits;
  ++stats_.hits_by_kind[kind];
  return hit_;
}

}  // namespace vigil::agent
