#include "vigil/agent/bpf_env.h"

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
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

Result<std::string> drop_capabilities_after_load() {
  constexpr int kCapDacReadSearch = 2;
  constexpr int kCapSetpcap = 8;
  constexpr int kCapSysPtrace = 19;
  const std::uint64_t keep = (1ULL << kCapDacReadSearch) | (1ULL << kCapSysPtrace);
  // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next.
  for (int cap = 0; cap <= 63; ++cap) {
    if ((keep >> cap) & 1U) {
      continue;
    }
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) <= 0) {
      continue;  // not in the set, or beyond what this kernel knows
    }
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && cap != kCapSetpcap) {
      return make_error(ErrorCode::kPermission,
                        fmt::format("cannot drop capability {} from the bounding set: {}", cap,
                                    std::strerror(errno)));
    }
  }
  (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct hdr{};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  __user_cap_data_struct data[2]{};
  for (int i = 0; i < 2; ++i) {
    const auto bits = static_cast<std::uint32_t>(keep >> (32 * i));
    data[i].effective = bits;
    data[i].permitted = bits;
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &hdr, data) != 0) {
    return make_error(ErrorCode::kPermission, fmt::format("capset: {}", std::strerror(errno)));
  }
  return std::string("CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE");
}

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
