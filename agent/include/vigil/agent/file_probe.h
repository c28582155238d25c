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

[[nodiscard]] std::unique_ptr<Probe> make_file_probe();

}  // namespace vigil::agent
