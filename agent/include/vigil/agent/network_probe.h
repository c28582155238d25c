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

class NetworkProbe final : public Probe {
 public:
  NetworkProbe();
  ~NetworkProbe() override;
  NetworkProbe(const NetworkProbe&) = delete;
  NetworkProbe& operator=(const NetworkProbe&) = delete;

  [[nodiscard]] const std::string& family() const override { return family_; }
  [[nodiscard]] Result<void> start(const ProbeOptions& options) override;
  [[nodiscard]] const std::vector<HookStatus>& status() const override { return status_; }
  [[nodiscard]] int ring_fd() const override;
  [[nodiscard]] Result<KernelStats> read_stats() const override;
  [[nodiscard]] const char* stat_name(std::size_t slot) const override;
  void detach() override;
  void stop() override;

  // Adds a source to the enforcement blocklist (effective when enforcement is on).
  [[nodiscard]] Result<void> block(const BlockEntry& entry);

 private:
  struct Impl;
  std::string family_ = "network";
  std::unique_ptr<Impl> impl_;
  std::vector<HookStatus> status_;
};

}  // namespace vigil::agent
