// The process probe family (bpf/process.bpf.c): exec, fork, exit, set*id,
// capset, ptrace, cross-user kill, setns/unshare, cgroup v2 mkdir/rmdir.
#pragma once

#include <memory>
#include <vector>

#include "vigil/agent/probe.h"

namespace vigil::agent {

// The hooks of the process family with their variants, in preference order.
[[nodiscard]] const std::vector<HookSpec>& process_hooks();

[[nodiscard]] std::unique_ptr<Probe> make_process_probe();

}  // namespace vigil::agent
