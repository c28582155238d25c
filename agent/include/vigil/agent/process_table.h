// What the agent knows about every live process: seeded from /proc at start,
// then kept current by exec/fork/exit/ns_change events. Bounded: when full,
// the least recently seen process is evicted (and counted).
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

#include "vigil/event.h"
#include "vigil/result.h"

namespace vigil::agent {

struct ProcessInfo {
  std::uint32_t pid = 0;
  std::uint32_t ppid = 0;
  std::uint32_t uid = 0;
  std::uint32_t euid = 0;
  std::uint32_t loginuid = 0xFFFFFFFFU;  // the login uid (audit); 0xFFFFFFFF: unset
  std::string comm;
  std::string exe;
  ArgList args;
  std::string cwd;  // at exec (or at seeding); empty if unreadable
  std::uint64_t start_boot_ns = 0;
  // Has listened on or accepted from a socket since its exec (a network-facing
  // service); inherited by forked workers.
  bool listens = false;
  // Its children start trees of their own: init, kthreadd, and login services
  // and container shims run from a system directory (is_tree_anchor).
  bool anchor = false;
  // The root of its process tree: the topmost ancestor below an anchor, fixed
  // at fork and kept through exec, setsid and the death of its parents, so work
  // spread over many short-lived processes of one session adds up. 0: unknown.
  std::uint32_t tree = 0;
  // Its namespaces and effective capabilities: from /proc when seeded, from
  // the kernel at exec and fork, updated by setns/unshare (and cap_eff by
  // set*id/capset). Per process: a thread that alone calls setns moves the
  // whole entry.
  Namespaces ns;
};

// True for programs whose children are new sessions (sshd, login, systemd, cron,
// getty, tmux, screen, container shims) when run from a system directory: a
// copy named "sshd" in /tmp starts no tree.
[[nodiscard]] bool is_tree_anchor(std::string_view exe);

// What one of fds 0-2 of a process is, from stat() of /proc/PID/fd/N (which
// follows the link to the object itself).
enum class FdKind : std::uint8_t { kNone, kPipe, kPty, kSocket, kOther };
struct FdEnd {
  FdKind kind = FdKind::kNone;
  std::uint64_t id = 0;  // pipe/FIFO: device and inode; pty: its device number; socket: inode
};
struct Stdio {
  std::array<FdEnd, 3> fd{};  // stdin, stdout, stderr
};
// A process's stdio and, when its stdout is a pty, the process on the other
// side: the nearest ancestor not on that pty (sshd, tmux, script, socat,
// python's pty.spawn hold the master side of the terminals they start).
struct StdioWiring {
  Stdio own;
  std::uint32_t holder = 0;  // 0: stdout is no pty, or no ancestor holds it
  Stdio holder_io;
};

struct ProcessTableStats {
  std::uint64_t seeded = 0;
  std::uint64_t evictions = 0;
  std::uint64_t proc_lookups = 0;  // late reads of /proc for unknown pids
};

class ProcessTable {
 public:
  // `proc_root` is where /proc lives (tests point it at a fake tree); empty
  // disables late /proc reads.
  explicit ProcessTable(std::size_t capacity = 65536, std::filesystem::path proc_root = "/proc");

  // Reads every numeric directory under proc_root. Unreadable entries (a process
  // that exited mid-scan) are skipped. Returns the number of processes added.
  Result<std::size_t> seed();

  // Parses one /proc/PID entry.
  [[nodiscard]] Result<ProcessInfo> read_proc(std::uint32_t pid) const;

  // Updates the table from `event` and fills its exe, args, ns and host_ns.
  // e.ns: exec and ns_change the process's after the call; fork the child's
  // (the parent's when the kernel could not reach the child); any other event
  // its process's as the table knows them (unknown: zero). ns_change also gets
  // NsChangeData::before from the table (unknown for a process first seen
  // then). host_ns: ns known and its mnt, pid, net and user are the host's.
  void apply(Event& event);

  // The host's namespaces: proc_root/1's (kthreadd's when init's are hidden),
  // read when the table is made (zero when unreadable or proc_root is empty;
  // then no event is in them).
  [[nodiscard]] const Namespaces& host_namespaces() const { return host_ns_; }
  void set_host_namespaces(const Namespaces& ns) { host_ns_ = ns; }
  // ns is known and its mnt, pid, net and user namespaces are the host's.
  [[nodiscard]] bool in_host_namespaces(const Namespaces& ns) const;

  [[nodiscard]] const ProcessInfo* find(std::uint32_t pid) const;
  // pid, parent, grandparent, ... up to max_depth entries, stopping at unknowns.
  [[nodiscard]] std::vector<std::uint32_t> lineage(std::uint32_t pid,
                                                   std::size_t max_depth = 16) const;
  // lineage() into a caller's buffer, without allocating; returns the count.
  std::size_t lineage_into(std::uint32_t pid, std::span<std::uint32_t> out) const;
  // True when the process's stdin or stdout is a socket (a shell wired to a
  // network connection). Reads proc_root/PID/fd/{0,1}; false if unreadable.
  [[nodiscard]] bool stdio_is_socket(std::uint32_t pid) const;
  // True when both stdin and stdout are pipes (a program relaying for it).
  [[nodiscard]] bool stdio_is_pipe(std::uint32_t pid) const;
  // Fds 0-2 of the process (three stat calls; kNone for what cannot be read).
  [[nodiscard]] Stdio stdio(std::uint32_t pid) const;
  // stdio() of the process and, if its stdout is a pty, of the pty's holder
  // (up to 4 ancestors are read).
  [[nodiscard]] StdioWiring stdio_wiring(std::uint32_t pid) const;
  // The process's tree root (ProcessInfo::tree); for the process whose exit
  // was applied last, its root before the entry went. 0: unknown.
  [[nodiscard]] std::uint32_t tree_of(std::uint32_t pid) const;
  // How many entries lineage() would return, without allocating.
  [[nodiscard]] std::size_t lineage_depth(std::uint32_t pid, std::size_t max_depth = 16) const;
  [[nodiscard]] std::size_t size() const { return map_.size(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  [[nodiscard]] const ProcessTableStats& stats() const { return stats_; }

 private:
  struct Slot {
    ProcessInfo info;
    std::list<std::uint32_t>::iterator lru;
  };
  using Map = std::unordered_map<std::uint32_t, Slot>;

  // The entry for pid, created if new. A new entry may be a recycled one: its
  // scalars and strings are reset, but `args` keeps stale elements (so their
  // buffers are reused) and every caller assigns it.
  ProcessInfo& upsert(std::uint32_t pid);
  // Removes an entry, keeping its map and list nodes for the next upsert.
  void release(Map::iterator it);
  // The target of proc_root/PID/fd/FD starts with `prefix`.
  [[nodiscard]] bool fd_is(std::uint32_t pid, const char* fd, std::string_view prefix) const;
  ProcessInfo* find_or_load(std::uint32_t pid);
  // apply() without host_ns.
  void apply_process(Event& e);
  void erase(std::uint32_t pid);
  // Sets a new entry's tree from its parent's (the parent's own pid when the
  // parent is unknown).
  void place_in_tree(ProcessInfo& p) const;

  std::size_t capacity_;
  std::filesystem::path proc_root_;
  std::list<std::uint32_t> lru_;  // front = most recently touched
  Map map_;
  // Entries of exited processes, kept (bounded) with their strings' capacity so
  // process churn does not allocate on the hot path.
  std::vector<Map::node_type> spare_;
  std::list<std::uint32_t> spare_lru_;
  ProcessTableStats stats_;
  Namespaces host_ns_;
  // The last exit applied: its pid and tree (exits are scored after apply()).
  std::uint32_t exited_pid_ = 0;
  std::uint32_t exited_tree_ = 0;
};

}  // namespace vigil::agent
