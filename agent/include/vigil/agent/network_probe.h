// The network probe family (bpf/network.bpf.c): XDP per-source summaries with
// optional enforcement, and socket events attributed to processes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vigil/agent/probe.h"

namespace vigil::agent {

[[nodiscard]] const std::vector<HookSpec>& network_hooks();

// "all" expands to every interface that is up and not loopback.
[[nodiscard]] std::vector<std::string> resolve_xdp_ifaces(const std::vector<std::string>& wanted);

// Parses "10.0.0.1", "2001:db8::1" or "10.0.0.1/300" (expiry in seconds).
struct BlockEntry {
  std::uint16_t family = 0;
  std::uint8_t addr[16] = {};
  std::uint32_t ttl_s = 0;  // 0 = until removed
};
[[nodiscard]] Result<BlockEntry> parse_block_entry(std::string_view text);

[[nodiscard]] std::unique_ptr<Probe> make_network_probe();

}  // namespace vigil::agent
