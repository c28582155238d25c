// Everything that must be true of the machine before a probe loads: privileges,
// kernel BTF, tracefs and bpffs mounted. Mounts what is missing when allowed.
#pragma once

#include <string>
#include <vector>

#include "vigil/result.h"

namespace vigil::agent {

struct BpfEnvironment {
  std::string btf_path;            // the BTF libbpf will use ("" = /sys/kernel/btf/vmlinux)
  std::vector<std::string> notes;  // what was mounted or is degraded, for the log
};

// Exit codes of vigil-agent, documented in docs/operations.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitEnvironment = 3;

// Fails with kPermission (not privileged) or kUnsupported (no BTF) and a
// message that says what to do.
[[nodiscard]] Result<BpfEnvironment> prepare_bpf_environment(const std::string& btf_override);

// Routes libbpf's own messages through our logger (debug level: the agent
// reports load failures itself, per hook).
void route_libbpf_logs();

// True if the effective capability set allows loading tracing BPF programs.
[[nodiscard]] bool has_bpf_privileges();

// Once probes are loaded and attached, their maps, ring buffers and links are
// file descriptors the agent already holds: nothing more needs CAP_BPF,
// CAP_PERFMON, CAP_SYS_ADMIN or CAP_NET_ADMIN. What stays is reading other
// users' /proc/PID/{exe,cwd,fd} (CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH). Drops
// every other capability from the effective, permitted, inheritable, ambient
// and bounding sets (so nothing can regain them, not even through execve).
// Returns the capabilities kept (names), or why dropping failed.
[[nodiscard]] Result<std::string> drop_capabilities_after_load();

}  // namespace vigil::agent
