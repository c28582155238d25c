// The memory probe family (bpf/memory.bpf.c): W+X and RW->RX memory, memfd and
// fileless exec, cross-process injection, crash storms, allocation rates.
#pragma once

#include <memory>
#include <vector>

#include "vigil/agent/probe.h"

namespace vigil::agent {

[[nodiscard]] const std::vector<HookSpec>& memory_hooks();

[[nodiscard]] std::unique_ptr<Probe> make_memory_probe();

}  // namespace vigil::agent
