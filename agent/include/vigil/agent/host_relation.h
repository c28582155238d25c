// How an event stands to the host the agent runs on: which of the task's
// namespaces are the host's, what host access a container started with,
// which host namespaces a setns entered, whether a file change landed on the
// host's root filesystem from another root. Computed before the rules; the
// container rules (rules/vigil/container-*.yml, namespace-escape.yml) read it
// as Sigma fields (docs/detections.md, "Containers").
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

#include "vigil/event.h"

namespace vigil::agent {

// What the host is: pid 1's namespaces and its root filesystem's device.
// Zero: unknown (then nothing is compared with the host).
struct HostIdentity {
  Namespaces ns;
  std::uint32_t root_dev = 0;  // st_dev (user space's encoding, as FileData::dev)

  // Reads proc_root/1/ns/* and stat(proc_root/1/root) — pid 1's root, so an
  // agent in a hostPID container still names the host's — falling back to
  // kthreadd's (pid 2: the kernel's initial namespaces and root) when init
  // hides them, then to stat("/").
  [[nodiscard]] static HostIdentity read(const std::filesystem::path& proc_root = "/proc");
};

// True for the container runtime's own processes (runc, crun, youki, runsc,
// conmon, containerd shims, runc's memfd copy of itself): they run in a
// container's cgroup for a moment while still in the host's namespaces.
[[nodiscard]] bool is_container_runtime(std::string_view exe, std::string_view comm);

// Derived values for one event. A view whose data() is null is absent (the
// Sigma field is not set); an empty non-null view is present and empty.
// Views stay valid until the next relate().
struct HostRelation {
  std::string_view ns_host;              // ns.host: kinds shared with the host
  std::string_view ns_entered_host;      // ns.entered_host (namespace_change)
  std::string_view container_host_ns;    // container.host_ns: mnt, pid, net, uts, ipc
  std::string_view container_host_caps;  // container.host_caps
  std::string_view host_filesystem;      // HostFilesystem: "true" / "false"

  [[nodiscard]] static bool present(std::string_view v) { return v.data() != nullptr; }
};

struct ContainerWatchStats {
  std::uint64_t judged = 0;    // containers judged at their first exec
  std::uint64_t rejudged = 0;  // later execs that showed more host access
  std::uint64_t evicted = 0;   // containers forgotten to stay within capacity
};

// The stateful part: per container (by cgroup id, bounded), the namespaces
// its first exec ran in (its own: an escape is leaving them for the host's)
// and the host access already reported, so a container is reported when it
// starts with host namespaces or escape-grade capabilities — and again only
// when a later exec shows more (a privileged container whose entrypoint runs
// as a user and a root `exec` later).
class ContainerWatch {
 public:
  explicit ContainerWatch(HostIdentity host = {}, std::size_t capacity = 4096);

  // The relation of `e` to the host; updates the per-container state.
  HostRelation relate(const Event& e);

  [[nodiscard]] const HostIdentity& host() const { return host_; }
  [[nodiscard]] const ContainerWatchStats& stats() const { return stats_; }
  [[nodiscard]] std::size_t size() const { return containers_.size(); }

  // The capabilities container.host_caps names (bit numbers of cap_eff).
  static constexpr std::uint64_t kEscapeCaps =
      (1ULL << 2) |   // CAP_DAC_READ_SEARCH: open_by_handle_at ("shocker")
      (1ULL << 12) |  // CAP_NET_ADMIN
      (1ULL << 16) |  // CAP_SYS_MODULE
      (1ULL << 17) |  // CAP_SYS_RAWIO
      (1ULL << 19) |  // CAP_SYS_PTRACE
      (1ULL << 21) |  // CAP_SYS_ADMIN
      (1ULL << 39);   // CAP_BPF

 private:
  struct Entry {
    Namespaces home;                // of its first exec
    std::uint32_t reported_ns = 0;  // NsKind bits already reported
    std::uint64_t reported_caps = 0;
  };
  Entry* find(std::uint64_t cgroup_id);
  Entry& insert(std::uint64_t cgroup_id);
  void forget(std::uint64_t cgroup_id);

  HostIdentity host_;
  std::size_t capacity_;
  std::unordered_map<std::uint64_t, Entry> containers_;
  std::deque<std::uint64_t> order_;  // insertion order, for eviction (may hold forgotten ids)
  ContainerWatchStats stats_;
  std::string ns_host_;
  std::string entered_;
  std::string host_ns_;
  std::string host_caps_;
};

}  // namespace vigil::agent
