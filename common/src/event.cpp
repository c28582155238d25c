#include "vigil/event.h"

#include <arpa/inet.h>

#include <cmath>
#include <csignal>
#include <utility>

#include "vigil/abi.h"

namespace vigil {

std::string_view to_string(EventType type) {
  switch (type) {
    case EventType::kExec:
      return "exec";
    case EventType::kFork:
      return "fork";
    case EventType::kExit:
      return "exit";
    case EventType::kSetuid:
      return "setuid";
    case EventType::kSetgid:
      return "setgid";
    case EventType::kCapset:
      return "capset";
    case EventType::kPtrace:
      return "ptrace";
    case EventType::kKill:
      return "kill";
    case EventType::kNsChange:
      return "ns_change";
    case EventType::kCgroup:
      return "cgroup";
    case EventType::kWxMemory:
      return "wx_memory";
    case EventType::kExecAdded:
      return "exec_added";
    case EventType::kMemfd:
      return "memfd";
    case EventType::kFilelessExec:
      return "fileless_exec";
    case EventType::kInject:
      return "inject";
    case EventType::kCrashStorm:
      return "crash_storm";
    case EventType::kAllocRate:
      return "alloc_rate";
    case EventType::kFile:
      return "file";
    case EventType::kConnect:
      return "connect";
    case EventType::kNetSummary:
      return "net_summary";
    case EventType::kAccept:
      return "accept";
    case EventType::kListen:
      return "listen";
    case EventType::kClose:
      return "close";
    case EventType::kConnectFailed:
      return "connect_failed";
    case EventType::kUdpSend:
      return "udp_send";
  }
  return "unknown";
}

std::optional<EventType> event_type_from_string(std::string_view name) {
  for (std::uint16_t t = 1; t <= VIGIL_EV_MAX; ++t) {
    auto type = static_cast<EventType>(t);
    if (to_string(type) == name) {
      return type;
    }
  }
  return std::nullopt;
}

std::string_view file_op_name(std::uint32_t op) {
  switch (op) {
    case VIGIL_FILE_WRITE:
      return "write";
    case VIGIL_FILE_CREATE:
      return "create";
    case VIGIL_FILE_RENAME:
      return "rename";
    case VIGIL_FILE_UNLINK:
      return "unlink";
    case VIGIL_FILE_CHMOD:
      return "chmod";
    case VIGIL_FILE_TRUNCATE:
      return "truncate";
    case VIGIL_FILE_READ_SENSITIVE:
      return "read_sensitive";
    case VIGIL_FILE_LINK:
      return "link";
    case VIGIL_FILE_SYMLINK:
      return "symlink";
    default:
      return "unknown";
  }
}

std::string net_reasons(std::uint32_t reasons) {
  std::string out;
  const std::pair<std::uint32_t, const char*> names[] = {{VIGIL_NET_SCAN, "scan"},
                                                         {VIGIL_NET_SYN_FLOOD, "syn_flood"},
                                                         {VIGIL_NET_UDP_FLOOD, "udp_flood"},
                                                         {VIGIL_NET_ICMP_FLOOD, "icmp_flood"},
                                                         {VIGIL_NET_PERIODIC, "periodic"}};
  for (const auto& [bit, name] : names) {
    if (reasons & bit) {
      if (!out.empty()) out.push_back(',');
      out += name;
    }
  }
  return out;
}

std::uint32_t linear_count(std::uint32_t set_bits, std::uint32_t m) {
  if (set_bits >= m) {
    return m * 8;  // saturated: at least this many, reported as a floor
  }
  const double zero = static_cast<double>(m - set_bits) / m;
  return static_cast<std::uint32_t>(std::lround(-static_cast<double>(m) * std::log(zero)));
}

std::string addr_string(std::uint16_t family, const std::uint8_t* addr16) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET6) {
    inet_ntop(AF_INET6, addr16, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET, addr16, buf, sizeof(buf));
  }
  return buf;
}

std::string prot_string(std::uint32_t prot) {
  std::string s = "---";
  if (prot & 1U) s[0] = 'r';
  if (prot & 2U) s[1] = 'w';
  if (prot & 4U) s[2] = 'x';
  return s;
}

std::string_view setid_syscall_name(std::uint32_t syscall) {
  switch (syscall) {
    case VIGIL_SYS_SETUID:
      return "setuid";
    case VIGIL_SYS_SETREUID:
      return "setreuid";
    case VIGIL_SYS_SETRESUID:
      return "setresuid";
    case VIGIL_SYS_SETFSUID:
      return "setfsuid";
    case VIGIL_SYS_SETGID:
      return "setgid";
    case VIGIL_SYS_SETREGID:
      return "setregid";
    case VIGIL_SYS_SETRESGID:
      return "setresgid";
    case VIGIL_SYS_SETFSGID:
      return "setfsgid";
    case VIGIL_SYS_CAPSET:
      return "capset";
    default:
      return "unknown";
  }
}

std::string_view ptrace_request_name(std::int64_t request) {
  switch (request) {
    case 0:
      return "PTRACE_TRACEME";
    case 4:
      return "PTRACE_POKETEXT";
    case 5:
      return "PTRACE_POKEDATA";
    case 6:
      return "PTRACE_POKEUSER";
    case 13:
      return "PTRACE_SETREGS";
    case 15:
      return "PTRACE_SETFPREGS";
    case 16:
      return "PTRACE_ATTACH";
    case 0x4205:
      return "PTRACE_SETREGSET";
    case 0x4206:
      return "PTRACE_SEIZE";
    default:
      return "PTRACE_OTHER";
  }
}

std::string_view signal_name(std::uint32_t sig) {
  switch (sig) {
    case SIGHUP:
      return "SIGHUP";
    case SIGINT:
      return "SIGINT";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGILL:
      return "SIGILL";
    case SIGTRAP:
      return "SIGTRAP";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGKILL:
      return "SIGKILL";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGUSR2:
      return "SIGUSR2";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGALRM:
      return "SIGALRM";
    case SIGTERM:
      return "SIGTERM";
    case SIGCHLD:
      return "SIGCHLD";
    case SIGCONT:
      return "SIGCONT";
    case SIGSTOP:
      return "SIGSTOP";
    case SIGTSTP:
      return "SIGTSTP";
    case SIGSYS:
      return "SIGSYS";
    default:
      return "SIG?";
  }
}

}  // namespace vigil
