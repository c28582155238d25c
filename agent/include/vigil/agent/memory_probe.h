// The memory probe family (bpf/memory.bpf.c): W+X and RW->RX memory, memfd and
// fileless exec, cross-process injection, crash storms, allocation rates.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vigil/agent/probe.h"

namespace vigil::agent {

[[nodiscard]] const std::vector<HookSpec>& memory_hooks();

class MemoryProbe final : public Probe {
 public:
  MemoryProbe();
  ~MemoryProbe() override;
  MemoryProbe(const MemoryProbe&) = delete;
  MemoryProbe& operator=(const MemoryProbe&) = delete;

  [[nodiscard]] const std::string& family() const override { return family_; }
  [[nodiscard]] Result<void> start(const ProbeOptions& options) override;
  [[nodiscard]] const std::vector<HookStatus>& status() const override { return status_; }
  [[nodiscard]] int ring_fd() const override;
  [[nodiscard]] Result<KernelStats> read_stats() const override;
  [[nodiscard]] const char* stat_name(std::size_t slot) const override;
  void detach() override;
  void stop() override;

 private:
  struct Impl;
  std::string family_ = "memory";
  std::unique_ptr<Impl> impl_;
  std::vector<HookStatus> status_;
};

}  // namespace vigil::agent
