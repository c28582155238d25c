// The process probe family (bpf/process.bpf.c): exec, fork, exit, set*id,
// capset, ptrace, cross-user kill.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vigil/agent/probe.h"

namespace vigil::agent {

// The hooks of the process family with their variants, in preference order.
[[nodiscard]] const std::vector<HookSpec>& process_hooks();

class ProcessProbe final : public Probe {
 public:
  ProcessProbe();
  ~ProcessProbe() override;
  ProcessProbe(const ProcessProbe&) = delete;
  ProcessProbe& operator=(const ProcessProbe&) = delete;

  [[nodiscard]] const std::string& family() const override { return family_; }
  [[nodiscard]] Result<void> start(const ProbeOptions& options) override;
  [[nodiscard]] const std::vector<HookStatus>& status() const override { return status_; }
  [[nodiscard]] int ring_fd() const override;
  [[nodiscard]] Result<KernelStats> read_stats() const override;
  void detach() override;
  void stop() override;

 private:
  struct Impl;
  std::string family_ = "process";
  std::unique_ptr<Impl> impl_;
  std::vector<HookStatus> status_;
};

}  // namespace vigil::agent
