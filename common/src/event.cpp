#include "vigil/event.h"

#include <csignal>

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
    default:
      return "unknown";
  }
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
