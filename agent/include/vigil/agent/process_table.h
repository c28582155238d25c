// What the agent knows about every live process: seeded from /proc at start,
// then kept current by exec/fork/exit events. Bounded: when full, the least
// recently seen process is evicted (and counted).
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <span>
#include <string>
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
  std::string comm;
  std::string exe;
  ArgList args;
  std::string cwd;  // at exec (or at seeding); empty if unreadable
  std::uint64_t start_boot_ns = 0;
  // Has listened on or accepted from a socket since its exec (a network-facing
  // service); inherited by forked workers.
  bool listens = false;
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

  // Updates the table from `event` and fills its exe and args.
  void apply(Event& event);

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
  void erase(std::uint32_t pid);

  std::size_t capacity_;
  std::filesystem::path proc_root_;
  std::list<std::uint32_t> lru_;  // front = most recently touched
  Map map_;
  // Entries of exited processes, kept (bounded) with their strings' capacity so
  // process churn does not allocate on the hot path.
  std::vector<Map::node_type> spare_;
  std::list<std::uint32_t> spare_lru_;
  ProcessTableStats stats_;
};

}  // namespace vigil::agent
