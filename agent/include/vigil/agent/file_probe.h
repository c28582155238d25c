// The file probe family (bpf/file.bpf.c): changes below watched locations and
// reads of credential stores, filtered in the kernel.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vigil/agent/probe.h"

namespace vigil::agent {

[[nodiscard]] const std::vector<HookSpec>& file_hooks();

// Defaults used when the configuration names none.
[[nodiscard]] const std::vector<std::string>& default_file_watch_prefixes();
[[nodiscard]] const std::vector<std::string>& default_file_read_paths();
[[nodiscard]] const std::vector<std::string>& default_file_watch_names();

// The kernel's dev_t encoding (major << 20 | minor) of a user-space st_dev.
[[nodiscard]] std::uint32_t kernel_dev(std::uint64_t st_dev);

class FileProbe final : public Probe {
 public:
  FileProbe();
  ~FileProbe() override;
  FileProbe(const FileProbe&) = delete;
  FileProbe& operator=(const FileProbe&) = delete;

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
  std::string family_ = "file";
  std::unique_ptr<Impl> impl_;
  std::vector<HookStatus> status_;
};

}  // namespace vigil::agent
