#include "vigil/agent/process_table.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include "vigil/agent/decoder.h"

namespace vigil::agent {
namespace {

constexpr std::size_t kMaxCmdline = 4096;

bool parse_u32(std::string_view s, std::uint32_t& out) {
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end;
}

Result<std::string> read_small_file(const std::filesystem::path& p, std::size_t limit) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::kNotFound, "cannot open " + p.string());
  }
  std::string data(limit, '\0');
  in.read(data.data(), static_cast<std::streamsize>(limit));
  data.resize(static_cast<std::size_t>(in.gcount()));
  return data;
}

bool in_system_dir(std::string_view exe) {
  for (std::string_view dir : {"/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/opt/"}) {
    if (exe.starts_with(dir)) {
      return true;
    }
  }
  return false;
}

// Unix98 pty slaves (/dev/pts/N) have majors 136..143.
constexpr unsigned kPtySlaveMajorFirst = 136;
constexpr unsigned kPtySlaveMajorLast = 143;

// The inode a /proc/PID/ns/* link names ("mnt:[4026531841]"); 0 if unreadable.
std::uint32_t ns_inode(const char* link) {
  char target[64];
  const ssize_t n = readlink(link, target, sizeof(target) - 1);
  if (n <= 0) {
    return 0;
  }
  const std::string_view t(target, static_cast<std::size_t>(n));
  const auto open = t.find('[');
  const auto close = t.rfind(']');
  std::uint32_t ino = 0;
  if (open == std::string_view::npos || close == std::string_view::npos || close < open ||
      !parse_u32(t.substr(open + 1, close - open - 1), ino)) {
    return 0;
  }
  return ino;
}

// The namespace links of proc_root/PID (ns_pid and cap_eff come from status).
void read_ns_links(const std::filesystem::path& dir, Namespaces& ns) {
  char path[512];
  auto one = [&](const char* name) {
    std::snprintf(path, sizeof(path), "%s/ns/%s", dir.c_str(), name);
    return ns_inode(path);
  };
  ns.mnt = one("mnt");
  ns.pid = one("pid");
  ns.net = one("net");
  ns.user = one("user");
  ns.uts = one("uts");
  ns.ipc = one("ipc");
  ns.cgroup = one("cgroup");
}

// The last number of a status line's value ("NSpid:\t1234\t7" -> 7).
bool last_number(std::string_view value, std::uint32_t& out) {
  const auto end = value.find_last_not_of(" \t\r");
  if (end == std::string_view::npos) {
    return false;
  }
  value = value.substr(0, end + 1);
  const auto start = value.find_last_of(" \t");
  return parse_u32(start == std::string_view::npos ? value : value.substr(start + 1), out);
}

bool on_pty(const Stdio& io, std::uint64_t pty) {
  return std::ranges::any_of(io.fd,
                             [&](const FdEnd& e) { return e.kind == FdKind::kPty && e.id == pty; });
}

}  // namespace

bool is_tree_anchor(std::string_view exe) {
  if (!in_system_dir(exe)) {
    return false;
  }
  const auto slash = exe.rfind('/');
  const auto name = exe.substr(slash + 1);
  for (std::string_view n :
       {"sshd",       "sshd-session", "login", "systemd", "init",   "cron",     "crond",
        "atd",        "agetty",       "getty", "tmux",    "screen", "dropbear", "telnetd",
        "in.telnetd", "xinetd",       "inetd", "runc",    "conmon", "crun"}) {
    if (name == n) {
      return true;
    }
  }
  return name.starts_with("containerd-shim");
}

constexpr std::size_t kMaxSpare = 1024;

ProcessTable::ProcessTable(std::size_t capacity, std::filesystem::path proc_root)
    : capacity_(capacity == 0 ? 1 : capacity), proc_root_(std::move(proc_root)) {
  // No rehash (so no allocation) as processes come and go, up to a bound.
  map_.reserve(std::min<std::size_t>(capacity_, 1U << 17));
  spare_.reserve(std::min(capacity_, kMaxSpare));
  if (!proc_root_.empty()) {
    // Init's namespaces are the host's (an agent in a container needs the
    // host's pid namespace to see them: hostPID in Kubernetes). An init that
    // is not dumpable and holds capabilities the agent lacks hides its links
    // (ptrace access check): then kthreadd's, which are the kernel's initial
    // namespaces, as a host's init's are.
    read_ns_links(proc_root_ / "1", host_ns_);
    if (!host_ns_.known()) {
      auto stat = read_small_file(proc_root_ / "2" / "stat", 256);
      if (stat && stat->find("(kthreadd)") != std::string::npos) {
        read_ns_links(proc_root_ / "2", host_ns_);
      }
    }
    host_ns_.ns_pid = 1;
  }
}

bool ProcessTable::in_host_namespaces(const Namespaces& ns) const {
  return ns.known() && host_ns_.known() && ns.mnt == host_ns_.mnt && ns.pid == host_ns_.pid &&
         ns.net == host_ns_.net && ns.user == host_ns_.user;
}

Result<ProcessInfo> ProcessTable::read_proc(std::uint32_t pid) const {
  const auto dir = proc_root_ / std::to_string(pid);
  auto stat = read_small_file(dir / "stat", 4096);
  if (!stat) {
    return std::unexpected(stat.error());
  }
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so
  // split at the last ')'.
  const auto open = stat->find('(');
  const auto close = stat->rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return make_error(ErrorCode::kCorrupt, "malformed " + (dir / "stat").string());
  }
  ProcessInfo info;
  info.pid = pid;
  info.comm = stat->substr(open + 1, close - open - 1);
  std::istringstream rest(stat->substr(close + 1));
  std::vector<std::string> fields{std::istream_iterator<std::string>(rest),
                                  std::istream_iterator<std::string>()};
  // fields[0] = state (field 3), fields[1] = ppid (4), fields[19] = starttime (22).
  if (fields.size() < 20 || !parse_u32(fields[1], info.ppid)) {
    return make_error(ErrorCode::kCorrupt, "malformed " + (dir / "stat").string());
  }
  std::uint64_t start_ticks = 0;
  const auto& st = fields[19];
  std::from_chars(st.data(), st.data() + st.size(), start_ticks);
  static const long kTicks = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  info.start_boot_ns = start_ticks * (1000000000ULL / static_cast<std::uint64_t>(kTicks));

  read_ns_links(dir, info.ns);
  if (auto status = read_small_file(dir / "status", 8192)) {
    std::istringstream lines(*status);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.starts_with("Uid:")) {
        std::istringstream ids(line.substr(4));
        ids >> info.uid >> info.euid;
      } else if (line.starts_with("NSpid:")) {
        // One pid per nested pid namespace, outermost first: the last is its own.
        last_number(std::string_view(line).substr(6), info.ns.ns_pid);
      } else if (line.starts_with("CapEff:")) {
        const auto v = std::string_view(line).substr(7);
        const auto b = v.find_first_not_of(" \t");
        if (b != std::string_view::npos) {
          std::from_chars(v.data() + b, v.data() + v.size(), info.ns.cap_eff, 16);
        }
      }
    }
  }
  if (auto loginuid = read_small_file(dir / "loginuid", 32)) {
    std::uint32_t id = 0;
    if (std::from_chars(loginuid->data(), loginuid->data() + loginuid->size(), id).ec ==
        std::errc{}) {
      info.loginuid = id;
    }
  }
  if (auto cmdline = read_small_file(dir / "cmdline", kMaxCmdline)) {
    split_args(std::span<const char>(cmdline->data(), cmdline->size()), info.args);
  }
  std::error_code ec;
  auto exe = std::filesystem::read_symlink(dir / "exe", ec);
  if (!ec) {
    info.exe = exe.string();
  }
  auto cwd = std::filesystem::read_symlink(dir / "cwd", ec);
  if (!ec) {
    info.cwd = cwd.string();
  }
  info.anchor = pid <= 2 || is_tree_anchor(info.exe);
  return info;
}

Result<std::size_t> ProcessTable::seed() {
  std::error_code ec;
  std::filesystem::directory_iterator it(proc_root_, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, "cannot list " + proc_root_.string() + ": " + ec.message());
  }
  std::size_t added = 0;
  for (const auto& entry : it) {
    std::uint32_t pid = 0;
    if (!parse_u32(entry.path().filename().string(), pid)) {
      continue;
    }
    auto info = read_proc(pid);
    if (!info) {
      continue;  // exited while we looked: not an error
    }
    upsert(pid) = std::move(*info);
    ++added;
  }
  // Parents first or not, every entry is in the table now: place each in its tree.
  for (auto& [pid, slot] : map_) {
    if (slot.info.tree == 0) {
      place_in_tree(slot.info);
    }
  }
  stats_.seeded += added;
  return added;
}

void ProcessTable::place_in_tree(ProcessInfo& p) const {
  // Walk up until the parent is an anchor (or init): that child is the root.
  // A known ancestor's tree ends the walk early.
  std::uint32_t cur = p.pid;
  std::uint32_t ppid = p.ppid;
  for (int n = 0; n < 64; ++n) {
    if (cur <= 2 || ppid <= 1) {
      p.tree = cur;
      return;
    }
    const ProcessInfo* parent = find(ppid);
    if (parent == nullptr) {
      // Siblings whose parent is gone or unseen still share a tree.
      p.tree = ppid;
      return;
    }
    if (parent->anchor) {
      p.tree = cur;
      return;
    }
    if (parent->tree != 0) {
      p.tree = parent->tree;
      return;
    }
    cur = ppid;
    ppid = parent->ppid;
  }
  p.tree = cur;  // a cycle or a very deep chain: the topmost seen
}

std::uint32_t ProcessTable::tree_of(std::uint32_t pid) const {
  if (const auto* p = find(pid)) {
    return p->tree;
  }
  return pid == exited_pid_ ? exited_tree_ : 0;
}

ProcessInfo& ProcessTable::upsert(std::uint32_t pid) {
  auto it = map_.find(pid);
  if (it != map_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second.info;
  }
  if (map_.size() >= capacity_) {
    release(map_.find(lru_.back()));
    ++stats_.evictions;
  }
  if (spare_lru_.empty()) {
    lru_.push_front(pid);
  } else {
    lru_.splice(lru_.begin(), spare_lru_, spare_lru_.begin());
    lru_.front() = pid;
  }
  Slot* slot = nullptr;
  if (spare_.empty()) {
    slot = &map_[pid];
  } else {
    auto node = std::move(spare_.back());
    spare_.pop_back();
    node.key() = pid;
    auto& info = node.mapped().info;
    info.ppid = info.uid = info.euid = 0;
    info.comm.clear();
    info.exe.clear();
    info.cwd.clear();
    info.start_boot_ns = 0;
    info.listens = false;
    info.anchor = false;
    info.tree = 0;
    info.ns = {};
    slot = &map_.insert(std::move(node)).position->second;
  }
  slot->lru = lru_.begin();
  slot->info.pid = pid;
  return slot->info;
}

void ProcessTable::release(Map::iterator it) {
  spare_lru_.splice(spare_lru_.begin(), lru_, it->second.lru);
  if (spare_.size() < kMaxSpare) {
    spare_.push_back(map_.extract(it));
  } else {
    map_.erase(it);
  }
  if (spare_lru_.size() > kMaxSpare) {
    spare_lru_.pop_back();
  }
}

void ProcessTable::erase(std::uint32_t pid) {
  auto it = map_.find(pid);
  if (it == map_.end()) {
    return;
  }
  release(it);
}

const ProcessInfo* ProcessTable::find(std::uint32_t pid) const {
  auto it = map_.find(pid);
  return it == map_.end() ? nullptr : &it->second.info;
}

ProcessInfo* ProcessTable::find_or_load(std::uint32_t pid) {
  auto it = map_.find(pid);
  if (it != map_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return &it->second.info;
  }
  if (proc_root_.empty()) {
    return nullptr;
  }
  ++stats_.proc_lookups;
  auto info = read_proc(pid);
  if (!info) {
    return nullptr;
  }
  auto& slot = upsert(pid);
  slot = std::move(*info);
  place_in_tree(slot);
  return &slot;
}

template <typename Visit>
static void walk_lineage(const ProcessTable& table, std::uint32_t pid, std::size_t max_depth,
                         Visit&& visit) {
  for (std::size_t n = 0; n < max_depth; ++n) {
    const auto* p = table.find(pid);
    if (p == nullptr) {
      break;
    }
    visit(pid);
    if (p->ppid == 0 || p->ppid == pid) {
      break;
    }
    pid = p->ppid;
  }
}

std::vector<std::uint32_t> ProcessTable::lineage(std::uint32_t pid, std::size_t max_depth) const {
  std::vector<std::uint32_t> chain;
  walk_lineage(*this, pid, max_depth, [&](std::uint32_t p) { chain.push_back(p); });
  return chain;
}

std::size_t ProcessTable::lineage_into(std::uint32_t pid, std::span<std::uint32_t> out) const {
  std::size_t n = 0;
  walk_lineage(*this, pid, out.size(), [&](std::uint32_t p) { out[n++] = p; });
  return n;
}

bool ProcessTable::fd_is(std::uint32_t pid, const char* fd, std::string_view prefix) const {
  char target[64];
  const auto link = proc_root_ / std::to_string(pid) / "fd" / fd;
  const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
  return n > 0 && std::string_view(target, static_cast<std::size_t>(n)).starts_with(prefix);
}

bool ProcessTable::stdio_is_socket(std::uint32_t pid) const {
  return !proc_root_.empty() && (fd_is(pid, "0", "socket:") || fd_is(pid, "1", "socket:"));
}

bool ProcessTable::stdio_is_pipe(std::uint32_t pid) const {
  return !proc_root_.empty() && fd_is(pid, "0", "pipe:") && fd_is(pid, "1", "pipe:");
}

Stdio ProcessTable::stdio(std::uint32_t pid) const {
  Stdio io;
  if (proc_root_.empty()) {
    return io;
  }
  char path[512];
  for (std::size_t fd = 0; fd < io.fd.size(); ++fd) {
    std::snprintf(path, sizeof(path), "%s/%u/fd/%zu", proc_root_.c_str(), pid, fd);
    struct stat st {};
    if (::stat(path, &st) != 0) {
      continue;
    }
    auto& end = io.fd[fd];
    if (S_ISFIFO(st.st_mode)) {
      // Anonymous pipes and named FIFOs alike: both ends show the same inode.
      end = {FdKind::kPipe, (static_cast<std::uint64_t>(st.st_dev) << 32) ^ st.st_ino};
    } else if (S_ISSOCK(st.st_mode)) {
      end = {FdKind::kSocket, st.st_ino};
    } else if (S_ISCHR(st.st_mode) && major(st.st_rdev) >= kPtySlaveMajorFirst &&
               major(st.st_rdev) <= kPtySlaveMajorLast) {
      end = {FdKind::kPty, st.st_rdev};
    } else {
      end = {FdKind::kOther, st.st_ino};
    }
  }
  return io;
}

StdioWiring ProcessTable::stdio_wiring(std::uint32_t pid) const {
  StdioWiring w;
  w.own = stdio(pid);
  const FdEnd& out = w.own.fd[1];
  if (out.kind != FdKind::kPty) {
    return w;
  }
  // Ancestors on the same pty (the shell that ran `bash`, `sh -c bash`) are
  // passengers; the first one off it holds the master side.
  const ProcessInfo* p = find(pid);
  for (int n = 0; n < 4 && p != nullptr && p->ppid > 1 && p->ppid != p->pid; ++n) {
    const std::uint32_t parent = p->ppid;
    Stdio io = stdio(parent);
    if (!on_pty(io, out.id)) {
      w.holder = parent;
      w.holder_io = io;
      break;
    }
    p = find(parent);
  }
  return w;
}

std::size_t ProcessTable::lineage_depth(std::uint32_t pid, std::size_t max_depth) const {
  std::size_t depth = 0;
  walk_lineage(*this, pid, max_depth, [&](std::uint32_t) { ++depth; });
  return depth;
}

void ProcessTable::apply(Event& e) {
  apply_process(e);
  e.host_ns = in_host_namespaces(e.ns);
}

void ProcessTable::apply_process(Event& e) {
  switch (e.type) {
    case EventType::kExec: {
      auto& p = upsert(e.pid);
      p.ppid = e.ppid;
      p.uid = e.uid;
      p.euid = e.euid;
      if (const auto* x = std::get_if<ExecData>(&e.data)) {
        p.loginuid = x->loginuid;
      }
      p.comm = e.comm;
      p.args = e.args;
      p.exe = e.exe;
      p.listens = false;  // a new program: its sockets are its own business again
      if (e.ns.known()) {
        p.ns = e.ns;
      } else {
        e.ns = p.ns;
      }
      p.cwd.clear();
      if (!proc_root_.empty()) {
        char path[512];
        char buf[4096];
        // One readlink per exec: cheap next to the exec itself (and a stack
        // buffer for its path, so exec does not allocate).
        std::snprintf(path, sizeof(path), "%s/%u/cwd", proc_root_.c_str(), e.pid);
        const ssize_t n = readlink(path, buf, sizeof(buf));
        if (n > 0) {
          p.cwd.assign(buf, static_cast<std::size_t>(n));
        }
        if (!p.exe.empty() && (p.exe.front() != '/' || p.exe.starts_with("/proc/"))) {
          // A relative path (./x, execveat with a dirfd) or a /proc link that
          // names no file of its own (/proc/self/exe: busybox running an
          // applet, a program re-executing itself; /proc/self/fd/N: fexecve):
          // the kernel's own link is authoritative while the process lives.
          // (/dev/fd/N is left as given: runc starts `runc init` that way, and
          // the container's own program may already have replaced it.)
          std::snprintf(path, sizeof(path), "%s/%u/exe", proc_root_.c_str(), e.pid);
          const ssize_t m = readlink(path, buf, sizeof(buf));
          if (m > 0) {
            p.exe.assign(buf, static_cast<std::size_t>(m));
          }
        }
      }
      // An exec keeps the tree; a process first seen at its exec joins its parent's.
      p.anchor = e.pid <= 2 || is_tree_anchor(p.exe);
      if (p.tree == 0) {
        place_in_tree(p);
      }
      e.exe = p.exe;
      return;
    }
    case EventType::kFork: {
      const auto& f = std::get<ForkData>(e.data);
      const ProcessInfo* parent = find_or_load(e.pid);
      if (parent != nullptr) {
        e.exe = parent->exe;
        e.args = parent->args;
      }
      if (parent != nullptr && (capacity_ < 2 || f.child_pid == e.pid)) {
        // The child's entry could evict or be the parent's: copy first.
        ProcessInfo child = *parent;
        child.pid = f.child_pid;
        child.ppid = e.pid;
        child.start_boot_ns = e.boot_ns;
        child.tree = parent->anchor || e.pid <= 1 ? f.child_pid
                     : parent->tree != 0          ? parent->tree
                                                  : e.pid;
        if (e.ns.known()) {
          child.ns = e.ns;  // clone(CLONE_NEW*) gives the child its own
        } else {
          e.ns = child.ns;
        }
        upsert(f.child_pid) = std::move(child);
        return;
      }
      // The parent was just touched (front of the LRU), so making the child's
      // entry cannot evict it; fields are copied into the (maybe recycled)
      // entry's existing buffers.
      auto& c = upsert(f.child_pid);
      if (parent != nullptr) {
        c.uid = parent->uid;
        c.euid = parent->euid;
        c.loginuid = parent->loginuid;
        c.comm = parent->comm;
        c.exe = parent->exe;
        c.args = parent->args;
        c.cwd = parent->cwd;
        c.listens = parent->listens;
        // The child of an anchor roots a tree; anyone else's joins the parent's.
        c.anchor = parent->anchor;
        c.tree = parent->anchor || e.pid <= 1 ? f.child_pid
                 : parent->tree != 0          ? parent->tree
                                              : e.pid;
        c.ns = e.ns.known() ? e.ns : parent->ns;
      } else {
        c.comm = e.comm;
        c.uid = e.uid;
        c.euid = e.euid;
        c.exe.clear();
        c.args.clear();
        c.cwd.clear();
        c.listens = false;
        c.anchor = false;
        c.tree = e.pid > 1 ? e.pid : f.child_pid;  // siblings of an unseen parent
        c.ns = e.ns;
      }
      c.ppid = e.pid;
      c.start_boot_ns = e.boot_ns;
      e.ns = c.ns;
      return;
    }
    case EventType::kExit: {
      exited_pid_ = e.pid;
      exited_tree_ = 0;
      if (const auto* p = find(e.pid)) {
        e.exe = p->exe;
        e.args = p->args;
        e.ns = p->ns;
        exited_tree_ = p->tree;
      }
      erase(e.pid);
      return;
    }
    case EventType::kNsChange: {
      auto& d = std::get<NsChangeData>(e.data);
      // Only what the table knew before the record: a late /proc read would
      // see the namespaces after the call.
      const ProcessInfo* known = find(e.pid);
      d.before = known != nullptr ? known->ns : Namespaces{};
      if (auto* p = find_or_load(e.pid)) {
        if (d.after.known()) {
          p->ns = d.after;
        }
        p->uid = e.uid;
        p->euid = e.euid;
        e.exe = p->exe;
        e.args = p->args;
      }
      e.ns = d.after;
      return;
    }
    default: {
      if (e.pid == 0) {
        return;  // no process (XDP summaries)
      }
      if (auto* p = find_or_load(e.pid)) {
        p->uid = e.uid;
        p->euid = e.euid;
        if ((e.type == EventType::kListen || e.type == EventType::kAccept) &&
            std::get<SockData>(e.data).ret >= 0) {
          p->listens = true;
        }
        if (const auto* s = std::get_if<SetidData>(&e.data); s != nullptr && p->ns.known()) {
          p->ns.cap_eff = s->new_cap_eff;  // read after the call, whatever it returned
        }
        e.exe = p->exe;
        e.args = p->args;
        e.ns = p->ns;
      }
      return;
    }
  }
}

}  // namespace vigil::agent
