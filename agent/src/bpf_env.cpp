#include "vigil/agent/bpf_env.h"

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "vigil/log.h"

namespace vigil::agent {
namespace {

constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  (void)level;  // every libbpf message goes to debug: failures are reported per hook
  if (!spdlog::default_logger_raw()->should_log(spdlog::level::debug)) {
    return 0;
  }
  char buf[1024];
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(buf, sizeof(buf), format, copy);
  va_end(copy);
  std::string_view msg(buf, n > 0 ? std::min<std::size_t>(n, sizeof(buf) - 1) : 0);
  while (!msg.empty() && msg.back() == '\n') {
    msg.remove_suffix(1);
  }
  VLOG_DEBUG("libbpf: {}", msg);
  return n;
}

bool fs_has_magic(const char* path, long magic) {
  struct statfs st {};
  return statfs(path, &st) == 0 && st.f_type == magic;
}

}  // namespace

void route_libbpf_logs() { libbpf_set_print(libbpf_print); }

bool has_bpf_privileges() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("CapEff:")) {
      const std::uint64_t caps = std::stoull(line.substr(7), nullptr, 16);
      const auto has = [caps](int cap) { return (caps >> cap) & 1U; };
      return has(kCapSysAdmin) || (has(kCapBpf) && has(kCapPerfmon));
    }
  }
  return geteuid() == 0;
}

Result<BpfEnvironment> prepare_bpf_environment(const std::string& btf_override) {
  BpfEnvironment env;
  if (!has_bpf_privileges()) {
    return make_error(ErrorCode::kPermission,
                      "loading eBPF probes needs root (or CAP_BPF + CAP_PERFMON, or "
                      "CAP_SYS_ADMIN); run with sudo");
  }
  if (!btf_override.empty()) {
    if (!std::filesystem::exists(btf_override)) {
      return make_error(ErrorCode::kNotFound,
                        fmt::format("BTF file {} does not exist", btf_override));
    }
    env.btf_path = btf_override;
  } else if (!std::filesystem::exists("/sys/kernel/btf/vmlinux")) {
    return make_error(ErrorCode::kUnsupported,
                      "this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing; it needs "
                      "CONFIG_DEBUG_INFO_BTF=y). vigil's probes are CO-RE and need kernel type "
                      "information: pass --btf FILE with a BTF for this exact kernel");
  }

  // Classic tracepoints are found through tracefs; mount it if nobody has.
  if (!std::filesystem::exists("/sys/kernel/tracing/events") &&
      !std::filesystem::exists("/sys/kernel/debug/tracing/events")) {
    if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0) {
      env.notes.emplace_back("mounted tracefs at /sys/kernel/tracing");
    } else {
      env.notes.push_back(fmt::format(
          "tracefs is not mounted and mounting it failed ({}): classic tracepoint hooks will "
          "not attach",
          std::strerror(errno)));
    }
  }
  // bpffs is where pinned maps live; mount it so later tooling finds it.
  if (!fs_has_magic("/sys/fs/bpf", BPF_FS_MAGIC)) {
    if (mount("bpf", "/sys/fs/bpf", "bpf", 0, nullptr) == 0) {
      env.notes.emplace_back("mounted bpffs at /sys/fs/bpf");
    } else {
      env.notes.push_back(fmt::format(
          "bpffs is not mounted at /sys/fs/bpf and mounting it failed ({})", std::strerror(errno)));
    }
  }
  return env;
}

}  // namespace vigil::agent
