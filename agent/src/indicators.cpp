#include "vigil/agent/indicators.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>

#include "vigil/abi.h"
#include "vigil/features.h"

namespace vigil::agent {
namespace {

enum Id : std::size_t {
  kSetuidExec,
  kSetuidExecWritable,
  kExecWritable,
  kSetuidToRoot,
  kPtraceAttachOther,
  kPtraceWrite,
  kKillCrossUser,
  kShellFromService,
  kNovelParentChild,
  kWxMemory,
  kExecAddedAnon,
  kWxNovelExecutable,
  kFilelessExec,
  kInjectVmWritev,
  kInjectProcMem,
  kCrashStorm,
  kCronWrite,
  kSystemdWrite,
  kAuthorizedKeys,
  kShellRc,
  kLdPreload,
  kSetuidBitSet,
  kSystemBinaryChanged,
  kCredentialRead,
  kHistoryTamper,
  kNetScan,
  kNetSynFlood,
  kNetVolumeFlood,
  kBeaconing,
  kReverseShell,
  kConnectScan,
  kOffensiveTool,
  kShellFromListener,
  kDroppedExec,
  kScanConnectExec,
  kNovelExePort,
  kNovelListener,
  kCount,
};

constexpr std::array<Indicator, kCount> kIndicators = {{
    {"setuid-exec", "T1548.001", 30,
     "set-uid execution: effective uid became 0 across exec for a non-root user"},
    {"setuid-exec-writable", "T1548.001", 85,
     "set-uid-root binary executed from a writable or temporary location"},
    {"exec-writable-location", "T1204.002", 35,
     "program executed from a writable or temporary location (/tmp, /dev/shm, memfd, deleted)"},
    {"setuid-to-root", "T1548", 45, "a non-root process changed its effective uid to 0"},
    {"ptrace-attach", "T1055.008", 55, "ptrace attach to another process"},
    {"ptrace-write", "T1055.008", 75,
     "ptrace write into another process's memory or registers (code injection)"},
    {"kill-cross-user", "T1489", 20, "a process signalled a process of another user"},
    {"shell-from-service", "T1059.004", 70,
     "a shell or interpreter was started by a network-facing service (web shell, exploited "
     "daemon)"},
    {"novel-parent-child", "TA0002", 25,
     "this host has never seen this parent executable start this child executable"},
    {"wx-memory", "T1620", 40, "memory mapped writable and executable at once"},
    {"exec-added-anon", "T1620", 45,
     "execute permission added to anonymous memory that was writable (RW->RX staging)"},
    {"wx-novel-executable", "T1620", 60,
     "an executable never seen using W+X memory on this host did so (not a known JIT)"},
    {"fileless-exec", "T1620", 80, "a program was executed from a memfd or a deleted file"},
    {"inject-vm-writev", "T1055", 75, "process_vm_writev wrote into another process"},
    {"inject-proc-mem", "T1055.009", 80, "another process's /proc/PID/mem was opened for writing"},
    {"crash-storm", "T1203", 60,
     "one executable keeps dying of SIGSEGV/SIGBUS/SIGILL/SIGABRT: exploitation attempts"},
    {"cron-write", "T1053.003", 60, "a cron table or cron directory was changed"},
    {"systemd-unit-write", "T1543.002", 55, "a systemd unit was created or changed"},
    {"authorized-keys-write", "T1098.004", 70, "an SSH authorized_keys file was changed"},
    {"shell-rc-write", "T1546.004", 45,
     "a shell start-up file was changed (.bashrc, profile.d, ...)"},
    {"ld-preload-write", "T1574.006", 80, "/etc/ld.so.preload was changed: every program loads it"},
    {"setuid-bit-set", "T1548.001", 65, "a set-uid or set-gid bit was set on a file"},
    {"system-binary-changed", "T1554", 50,
     "a system binary directory was changed by something other than the package manager"},
    {"credential-read", "T1003.008", 70,
     "a credential store (/etc/shadow, private keys) was read by an unexpected program"},
    {"history-tamper", "T1070.003", 55, "a shell history file was deleted or truncated"},
    {"port-scan", "T1046", 60, "one source probed many destination ports (XDP summary)"},
    {"syn-flood", "T1498.001", 65, "one source sent a flood of SYNs without completing handshakes"},
    {"packet-flood", "T1498.001", 55, "one source sent a UDP or ICMP flood"},
    {"beaconing", "T1071", 55,
     "a program contacts the same destination at a steady rhythm (command-and-control beacon)"},
    {"reverse-shell", "T1059.004", 85,
     "a shell or interpreter started with its stdin or stdout connected to a network socket"},
    {"connect-scan", "T1046", 60,
     "one process failed to connect to many different ports within seconds (connect scan)"},
    {"offensive-tool", "T1588.002", 20,
     "a known offensive tool or its telltale arguments (nmap, masscan, ncat -e, socat exec, "
     "stratum miners): a low-weight hint"},
    {"shell-from-listener", "T1059.004", 40,
     "a shell or interpreter started by a process that listens on or accepted from a socket "
     "(not a known login service)"},
    {"dropped-exec", "T1105", 60,
     "a freshly written file in a writable location was made executable and run by the same "
     "process tree (write -> chmod +x -> exec)"},
    {"scan-connect-exec", "T1210", 65,
     "a process tree scanned ports, then connected, then executed a program "
     "(scan -> connect -> exec)"},
    {"novel-exe-port", "T1571", 15,
     "an executable connected to a remote port it never used on this host (after warm-up)"},
    {"novel-listener", "T1571", 30,
     "a program listened on a port never listened on by it on this host (after warm-up)"},
}};

// Indicators without a feature slot yet: the scoring model never sees them
// (a slot bumps kFeatureSchemaVersion and needs the shipped model evolved
// again); the agent floors an event's score at their severity, as it does for
// a Sigma rule with no slot, so one of 50 or more alerts on its own.
//
// The rare-* indicators are the rarity path's (rarity.h): a behaviour new on
// this host, rare in the fleet, in a risky context. Their severity here is
// the least one can have (one context); each hit's own, computed from its
// contexts (45..75), is what the agent floors the score at.
constexpr std::array<Indicator, 8> kUnslotted = {{
    {"container-shell-novel", "T1059", 70,
     "a shell or interpreter ran in a container whose image never ran it, on this host or "
     "anywhere in the fleet, after the image's learning window (T1609 when run through the "
     "runtime's exec)"},
    {"container-shell-unprofiled", "T1059", 30,
     "a shell or interpreter ran in a container whose image and name are unknown (no profile "
     "to compare with): a hint, first time per container and shell"},
    {"rare-exec", "TA0002", 45,
     "a program start (parent -> program, lineage or user class) new on this host and rare in "
     "the fleet, in a risky context (network-facing, writable location, unbacked, privilege "
     "change, freshly written)"},
    {"rare-connect", "TA0011", 45,
     "a connection (program -> remote port and address class) new on this host and rare in the "
     "fleet, in a risky context (network-facing, new destination, writable location, ...)"},
    {"rare-listener", "TA0011", 45,
     "a program listening on a port, new on this host and rare in the fleet, in a risky "
     "context"},
    {"rare-file-write", "TA0003", 45,
     "a program changing files of a directory class new for it on this host and rare in the "
     "fleet, in a risky context (a sensitive target: credentials, cron, units, rc files, "
     "binaries)"},
    {"rare-file-read", "TA0006", 45,
     "a program reading a sensitive file new for it on this host and rare in the fleet, in a "
     "risky context"},
    {"rare-wx", "T1620", 45,
     "a program using writable+executable memory, new on this host and rare in the fleet, in a "
     "risky context"},
}};

std::string_view basename(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool in_list(std::string_view name, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

}  // namespace

std::span<const Indicator> all_indicators() { return kIndicators; }

std::span<const Indicator> unslotted_indicators() { return kUnslotted; }

const Indicator* find_indicator(std::string_view id) {
  for (const auto& i : kIndicators) {
    if (i.id == id) {
      return &i;
    }
  }
  for (const auto& i : kUnslotted) {
    if (i.id == id) {
      return &i;
    }
  }
  return nullptr;
}

bool looks_offensive(std::string_view exe, std::span<const std::string> args) {
  const auto slash = exe.rfind('/');
  const auto name = slash == std::string_view::npos ? exe : exe.substr(slash + 1);
  if (in_list(name, {"nmap", "masscan", "zmap", "hydra", "sqlmap", "nikto", "xmrig", "minerd"})) {
    return true;
  }
  const bool netcat = in_list(name, {"ncat", "nc", "netcat", "nc.traditional", "nc.openbsd"});
  for (const auto& a : args) {
    if ((netcat &&
         (a == "-e" || a == "-c" || a.starts_with("--exec") || a.starts_with("--sh-exec"))) ||
        (name == "socat" && (a.starts_with("exec:") || a.starts_with("EXEC:") ||
                             a.starts_with("system:") || a.starts_with("SYSTEM:"))) ||
        a.find("stratum+tcp://") != std::string::npos) {
      return true;
    }
  }
  return false;
}

bool is_service_binary(std::string_view exe) {
  const auto name = basename(exe);
  return in_list(name, {"nginx",        "httpd",  "apache2",   "lighttpd", "caddy",    "haproxy",
                        "php-fpm",      "uwsgi",  "gunicorn",  "mysqld",   "mariadbd", "postgres",
                        "redis-server", "mongod", "memcached", "vsftpd",   "proftpd",  "named",
                        "dovecot",      "exim4",  "smbd",      "tomcat",   "jenkins",  "squid"}) ||
         name.starts_with("php-fpm");
}

bool is_login_service(std::string_view exe) {
  const auto name = basename(exe);
  // Their job is to start shells for people who logged in.
  return in_list(name, {"sshd", "sshd-session", "login", "systemd", "init", "cron", "agetty",
                        "getty", "tmux: server", "tmux", "screen", "dropbear", "telnetd",
                        "in.telnetd", "xinetd", "inetd", "su", "sudo"}) ||
         name.starts_with("containerd-shim") || name == "runc" || name == "conmon";
}

bool is_toolchain(std::string_view exe) {
  const auto name = basename(exe);
  return in_list(name, {"ld",       "ld.bfd",  "ld.gold", "ld.lld", "lld",     "mold",
                        "collect2", "gcc",     "g++",     "cc",     "c++",     "clang",
                        "clang++",  "rustc",   "cargo",   "go",     "install", "dpkg",
                        "apt",      "apt-get", "pip",     "pip3",   "npm",     "node"}) ||
         name.starts_with("gcc-") || name.starts_with("g++-") || name.starts_with("clang-") ||
         name.starts_with("x86_64-linux-gnu-");
}

bool is_writable_location(std::string_view path) { return writable_location(path); }

bool freshly_written(const std::string& path, std::uint64_t event_unix_ns, bool or_chmod) {
  constexpr std::int64_t kFreshS = 600;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return false;
  }
  const auto event_s = static_cast<std::int64_t>(event_unix_ns / 1000000000ULL);
  const auto changed =
      or_chmod ? std::max(st.st_mtim.tv_sec, st.st_ctim.tv_sec) : st.st_mtim.tv_sec;
  return event_s - static_cast<std::int64_t>(changed) <= kFreshS;
}

// The detections that are plain predicates over one event (sensitive file
// writes and reads, writable-location exec, offensive tools, ptrace and
// injection requests, W+X and fileless exec) are Sigma rules in rules/vigil,
// named after the indicators below, so they keep their feature slots: see
// RulePack. What stays here needs context beyond the event (the parent's
// image or sockets, the uid before the exec) or is a kernel summary.
void IndicatorEngine::evaluate(const Event& e, const ProcessTable& table,
                               std::vector<const Indicator*>& hits) const {
  hits.clear();
  switch (e.type) {
    case EventType::kExec: {
      const auto& x = std::get<ExecData>(e.data);
      const bool writable = is_writable_location(e.exe);
      if (is_shell_or_interpreter(e.exe)) {
        const auto* parent = table.find(e.ppid);
        if (parent != nullptr && is_service_binary(parent->exe)) {
          hits.push_back(&kIndicators[kShellFromService]);
        } else if (parent != nullptr && parent->listens && !is_login_service(parent->exe)) {
          hits.push_back(&kIndicators[kShellFromListener]);
        }
      }
      if (x.euid_changed && e.euid == 0 && e.uid != 0) {
        hits.push_back(&kIndicators[writable ? kSetuidExecWritable : kSetuidExec]);
      }
      // exec-writable-location and offensive-tool are rules (rules/vigil).
      return;
    }
    case EventType::kSetuid: {
      const auto& s = std::get<SetidData>(e.data);
      if (s.ret == 0 && s.old_ids[1] != 0 && s.new_ids[1] == 0) {
        hits.push_back(&kIndicators[kSetuidToRoot]);
      }
      return;
    }
    case EventType::kKill:
      hits.push_back(&kIndicators[kKillCrossUser]);
      return;
    case EventType::kCrashStorm:
      hits.push_back(&kIndicators[kCrashStorm]);
      return;
    case EventType::kNetSummary: {
      const auto& n = std::get<NetSummaryData>(e.data);
      if (n.reasons & VIGIL_NET_SCAN) {
        hits.push_back(&kIndicators[kNetScan]);
      }
      if (n.reasons & VIGIL_NET_SYN_FLOOD) {
        hits.push_back(&kIndicators[kNetSynFlood]);
      }
      if (n.reasons & (VIGIL_NET_UDP_FLOOD | VIGIL_NET_ICMP_FLOOD)) {
        hits.push_back(&kIndicators[kNetVolumeFlood]);
      }
      return;
    }
    default:
      return;
  }
}

}  // namespace vigil::agent
