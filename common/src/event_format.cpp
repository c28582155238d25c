#include "vigil/event_format.h"

#include <fmt/format.h>

#include <charconv>
#include <iterator>
#include <type_traits>

#include "vigil/abi.h"
#include "vigil/namespaces.h"

namespace vigil {
namespace {

// Integers are the bulk of every line: std::to_chars into a stack buffer is
// several times cheaper than a formatting library round trip.
template <typename T>
void append_int(T v, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

class JsonObject {
 public:
  explicit JsonObject(std::string& out) : out_(out) { out_.push_back('{'); }
  void close() { out_.push_back('}'); }

  void key(std::string_view k) {
    if (!first_) {
      out_.push_back(',');
    }
    first_ = false;
    out_.push_back('"');
    out_.append(k);
    out_.append("\":");
  }
  template <typename T>
  requires std::is_integral_v<T>
  void num(std::string_view k, T v) {
    key(k);
    if constexpr (std::is_same_v<T, bool>) {
      out_.append(v ? "true" : "false");
    } else {
      append_int(v, out_);
    }
  }
  void str(std::string_view k, std::string_view v) {
    key(k);
    append_json_string(v, out_);
  }
  template <typename Range>
  void str_array(std::string_view k, const Range& values) {
    array(k, values, [this](const auto& v) { append_json_string(v, out_); });
  }
  template <typename Range>
  void num_array(std::string_view k, const Range& values) {
    array(k, values, [this](const auto& v) { append_int(v, out_); });
  }
  // A nested object under `k`, filled by `fill(JsonObject&)`.
  template <typename Fn>
  void object(std::string_view k, Fn&& fill) {
    key(k);
    JsonObject inner(out_);
    fill(inner);
    inner.close();
  }

 private:
  template <typename Range, typename Fn>
  void array(std::string_view k, const Range& values, Fn&& element) {
    key(k);
    out_.push_back('[');
    bool first = true;
    for (const auto& v : values) {
      if (!first) {
        out_.push_back(',');
      }
      first = false;
      element(v);
    }
    out_.push_back(']');
  }

  std::string& out_;
  bool first_ = true;
};

void append_type_json(JsonObject& o, const ExecData& d) {
  o.str("filename", d.filename);
  o.num("argc", d.argc);
  o.num("args_truncated", d.args_truncated);
  o.num("setuid", d.setuid);
  o.num("setgid", d.setgid);
  o.num("euid_changed", d.euid_changed);
  if (d.prev_known) {
    o.num("prev_uid", d.prev_uid);
    o.num("prev_euid", d.prev_euid);
  }
  if (d.loginuid != 0xFFFFFFFFU) {
    o.num("loginuid", d.loginuid);
  }
}
void append_type_json(JsonObject& o, const ForkData& d) {
  o.num("child_pid", d.child_pid);
  o.num("child_tid", d.child_tid);
}
void append_type_json(JsonObject& o, const ExitData& d) {
  o.num("exit_code", d.exit_code);
  o.num("signal", d.signal);
  o.num("core_dumped", d.core_dumped);
  o.num("lifetime_ns", d.lifetime_ns);
}
void append_type_json(JsonObject& o, const SetidData& d) {
  o.str("syscall", setid_syscall_name(d.syscall));
  o.num("ret", d.ret);
  o.num_array("req", d.req);
  o.num_array("old", d.old_ids);
  o.num_array("new", d.new_ids);
  o.num("old_cap_eff", d.old_cap_eff);
  o.num("new_cap_eff", d.new_cap_eff);
  o.num("old_cap_prm", d.old_cap_prm);
  o.num("new_cap_prm", d.new_cap_prm);
}
void append_type_json(JsonObject& o, const PtraceData& d) {
  o.num("request", d.request);
  o.str("request_name", ptrace_request_name(d.request));
  o.num("target_pid", d.target_pid);
  o.num("ret", d.ret);
  o.num("addr", d.addr);
  o.num("data", d.data);
}
void append_type_json(JsonObject& o, const KillData& d) {
  o.num("target_pid", d.target_pid);
  if (d.target_uid != UINT32_MAX) {
    o.num("target_uid", d.target_uid);
  }
  o.str("target_comm", d.target_comm);
  o.num("signal", d.signal);
  o.str("signal_name", signal_name(d.signal));
  o.num("si_code", d.si_code);
  o.num("result", d.result);
}

void append_type_json(JsonObject& o, const MemProtData& d) {
  o.num("addr", d.addr);
  o.num("len", d.len);
  o.num("prot", d.prot);
  o.str("prot_str", prot_string(d.prot));
  o.num("flags", d.flags);
  o.str("syscall", d.syscall == VIGIL_MEM_MMAP ? "mmap" : "mprotect");
  o.num("ret", d.ret);
  if (d.anon != VIGIL_MAP_UNKNOWN) {
    o.num("anon", d.anon == VIGIL_MAP_ANON);
  }
  o.num("vm_flags", d.vm_flags);
  o.str("file", d.file);
  o.num("suppressed", d.suppressed);
}
void append_type_json(JsonObject& o, const MemfdData& d) {
  o.str("name", d.name);
  o.num("flags", d.flags);
  o.num("ret", d.ret);
}
void append_type_json(JsonObject& o, const FilelessExecData& d) {
  o.str("filename", d.filename);
  o.str("dname", d.dname);
  o.num("memfd", d.memfd);
  o.num("nlink", d.nlink);
}
void append_type_json(JsonObject& o, const InjectData& d) {
  o.num("target_pid", d.target_pid);
  o.str("method", d.method == VIGIL_INJECT_VM_WRITEV ? "process_vm_writev" : "proc_mem");
  o.num("ret", d.ret);
  o.num("bytes", d.bytes);
  o.num("flags", d.flags);
  o.str("path", d.path);
}
void append_type_json(JsonObject& o, const CrashStormData& d) {
  o.str("crash_exe", d.exe);
  o.num("ino", d.ino);
  o.num("dev", d.dev);
  o.num("count", d.count);
  o.num("signal", d.signal);
  o.str("signal_name", signal_name(d.signal));
  o.num("window_ms", d.window_ms);
}
void append_type_json(JsonObject& o, const AllocRateData& d) {
  o.num("bytes", d.bytes);
  o.num("calls", d.calls);
  o.num("window_ms", d.window_ms);
}

void append_type_json(JsonObject& o, const FileData& d) {
  o.str("op", file_op_name(d.op));
  o.str("path", d.path);
  if (d.op == VIGIL_FILE_RENAME || !d.new_path.empty()) {  // rename, link, symlink
    o.str("new_path", d.new_path);
  }
  o.num("flags", d.flags);
  o.num("mode", d.mode);
  o.num("ret", d.ret);
  if (d.arg_path != d.path) {
    o.str("arg_path", d.arg_path);
  }
  if (d.dev != 0) {
    o.num("dev", d.dev);
    o.num("root_dev", d.root_dev);
  }
}

void append_type_json(JsonObject& o, const SockData& d) {
  o.str("family", d.family == 10 ? "ipv6" : "ipv4");
  o.str("proto", d.proto == 17 ? "udp" : "tcp");
  o.str("laddr", d.laddr);
  o.num("lport", d.lport);
  o.str("raddr", d.raddr);
  o.num("rport", d.rport);
  o.num("ret", d.ret);
  o.num("bytes_sent", d.bytes_sent);
  o.num("bytes_received", d.bytes_received);
}
void append_type_json(JsonObject& o, const NetSummaryData& d) {
  o.str("reason", net_reasons(d.reasons));
  o.str("family", d.family == 10 ? "ipv6" : "ipv4");
  o.str("src", d.src);
  o.num("ifindex", d.ifindex);
  o.num("pkts", d.pkts);
  o.num("bytes", d.bytes);
  o.num("syns", d.syns);
  o.num("udp", d.udp);
  o.num("icmp", d.icmp);
  o.num("dports", d.dports);
  o.num("daddrs", d.daddrs);
  o.num("window_ms", d.window_ms);
}

void append_ns_json(JsonObject& o, const Namespaces& n) {
  const auto inodes = ns_inodes(n);
  for (std::size_t i = 0; i < inodes.size(); ++i) {
    o.num(kNsKindNames[i], inodes[i]);
  }
}

void append_type_json(JsonObject& o, const NsChangeData& d) {
  o.str("syscall", d.syscall == VIGIL_SYS_SETNS ? "setns" : "unshare");
  o.num("ret", d.ret);
  o.num("flags", d.flags);
  std::string kinds;
  append_ns_kinds(ns_kinds_of_clone_flags(d.flags), kinds);
  o.str("ns_types", kinds);
  if (d.before.known()) {
    kinds.clear();
    append_ns_kinds(ns_kinds_differing(d.before, d.after), kinds);
    o.str("changed", kinds);
    o.object("before", [&](JsonObject& b) { append_ns_json(b, d.before); });
  }
  o.object("after", [&](JsonObject& a) { append_ns_json(a, d.after); });
  o.num("cap_eff", d.after.cap_eff);
}
void append_type_json(JsonObject& o, const CgroupData& d) {
  o.str("op", d.removed ? "rmdir" : "mkdir");
  o.num("id", d.id);
  o.num("level", d.level);
  o.str("path", d.path);
}

// Which container and pod, and which namespaces: only what is known.
void append_context_json(JsonObject& o, const Event& e) {
  if (e.container) {
    const ContainerInfo& c = *e.container;
    o.object("container", [&](JsonObject& co) {
      co.str("id", c.id);
      co.str("name", c.name);
      co.str("image", c.image);
      co.str("runtime", c.runtime);
    });
    if (!c.pod.empty() || !c.pod_uid.empty() || !c.k8s_ns.empty()) {
      o.object("k8s", [&](JsonObject& k) {
        k.str("pod", c.pod);
        k.str("pod_uid", c.pod_uid);
        k.str("ns", c.k8s_ns);
      });
    }
  }
  if (e.ns.known()) {
    o.object("ns", [&](JsonObject& n) { append_ns_json(n, e.ns); });
    o.num("ns_pid", e.ns.ns_pid);
    o.num("host_ns", e.host_ns);
    if (e.type == EventType::kExec) {
      o.num("cap_eff", e.ns.cap_eff);  // as the new program starts (the kernel's)
    }
  }
}

void append_quoted_args(const ArgList& args, std::string& out) {
  out.push_back('"');
  bool first = true;
  for (const auto& a : args) {
    if (!first) {
      out.push_back(' ');
    }
    first = false;
    for (char c : a) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
      }
      out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
    }
  }
  out.push_back('"');
}

}  // namespace

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  std::uint32_t min = 0;
  if (c < 0x80) {
    return 1;
  }
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) {
    return 0;
  }
  std::uint32_t cp = c & (0x7F >> len);
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}


void append_json_string(std::string_view s, std::string& out) {
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    // Copy the run of bytes that need no escaping in one append.
    std::size_t run = i;
    while (run < s.size()) {
      const auto r = static_cast<unsigned char>(s[run]);
      if (r < 0x20 || r >= 0x80 || r == '"' || r == '\\') {
        break;
      }
      ++run;
    }
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out.append("\xEF\xBF\xBD");  // U+FFFD
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

void append_json(const Event& e, std::string& out) {
  JsonObject o(out);
  o.num("ts", e.ts_ns);
  o.str("host", e.host);
  o.str("type", to_string(e.type));
  o.num("pid", e.pid);
  o.num("tid", e.tid);
  o.num("ppid", e.ppid);
  o.num("uid", e.uid);
  o.num("euid", e.euid);
  o.num("gid", e.gid);
  o.num("egid", e.egid);
  o.str("comm", e.comm);
  o.str("exe", e.exe);
  o.str_array("args", e.args);
  o.num("cgroup_id", e.cgroup_id);
  append_context_json(o, e);
  std::visit([&o](const auto& d) { append_type_json(o, d); }, e.data);
  o.close();
}

void append_text(const Event& e, std::string& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{} pid={} ppid={} uid={}", to_string(e.type), e.pid, e.ppid, e.uid);
  if (e.euid != e.uid) {
    fmt::format_to(it, " euid={}", e.euid);
  }
  fmt::format_to(it, " comm={} exe={}", e.comm, e.exe.empty() ? "?" : e.exe);
  std::visit(
      [&](const auto& d) {
        using T = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<T, ExecData>) {
          out.append(" args=");
          append_quoted_args(e.args, out);
          if (d.setuid) {
            out.append(" SETUID");
          }
        } else if constexpr (std::is_same_v<T, ForkData>) {
          fmt::format_to(it, " child={}", d.child_pid);
        } else if constexpr (std::is_same_v<T, ExitData>) {
          fmt::format_to(it, " code={} signal={} lifetime_ms={}", d.exit_code, d.signal,
                         d.lifetime_ns / 1000000);
        } else if constexpr (std::is_same_v<T, SetidData>) {
          fmt::format_to(it, " syscall={} ret={} old={}/{}/{} new={}/{}/{}",
                         setid_syscall_name(d.syscall), d.ret, d.old_ids[0], d.old_ids[1],
                         d.old_ids[2], d.new_ids[0], d.new_ids[1], d.new_ids[2]);
        } else if constexpr (std::is_same_v<T, PtraceData>) {
          fmt::format_to(it, " request={} target={} ret={}", ptrace_request_name(d.request),
                         d.target_pid, d.ret);
        } else if constexpr (std::is_same_v<T, MemProtData>) {
          fmt::format_to(it, " {} addr={:#x} len={} prot={} anon={} file={}",
                         d.syscall == VIGIL_MEM_MMAP ? "mmap" : "mprotect", d.addr, d.len,
                         prot_string(d.prot), d.anon == VIGIL_MAP_ANON, d.file);
        } else if constexpr (std::is_same_v<T, MemfdData>) {
          fmt::format_to(it, " name={} fd={}", d.name, d.ret);
        } else if constexpr (std::is_same_v<T, FilelessExecData>) {
          fmt::format_to(it, " filename={} file={}", d.filename, d.dname);
        } else if constexpr (std::is_same_v<T, InjectData>) {
          fmt::format_to(it, " method={} target={} ret={}",
                         d.method == VIGIL_INJECT_VM_WRITEV ? "process_vm_writev" : "proc_mem",
                         d.target_pid, d.ret);
        } else if constexpr (std::is_same_v<T, CrashStormData>) {
          fmt::format_to(it, " crash_exe={} count={} signal={} window_ms={}", d.exe, d.count,
                         signal_name(d.signal), d.window_ms);
        } else if constexpr (std::is_same_v<T, SockData>) {
          fmt::format_to(it, " {} {}:{} -> {}:{} ret={}", d.proto == 17 ? "udp" : "tcp", d.laddr,
                         d.lport, d.raddr, d.rport, d.ret);
        } else if constexpr (std::is_same_v<T, NetSummaryData>) {
          fmt::format_to(it, " reason={} src={} pkts={} syns={} dports={} daddrs={} window_ms={}",
                         net_reasons(d.reasons), d.src, d.pkts, d.syns, d.dports, d.daddrs,
                         d.window_ms);
        } else if constexpr (std::is_same_v<T, FileData>) {
          fmt::format_to(it, " op={} path={}", file_op_name(d.op), d.path);
          if (d.op == VIGIL_FILE_RENAME) {
            fmt::format_to(it, " new_path={}", d.new_path);
          }
          if (d.op == VIGIL_FILE_CHMOD) {
            fmt::format_to(it, " mode={:o}", d.mode);
          }
          fmt::format_to(it, " ret={}", d.ret);
        } else if constexpr (std::is_same_v<T, AllocRateData>) {
          fmt::format_to(it, " bytes={} calls={} window_ms={}", d.bytes, d.calls, d.window_ms);
        } else if constexpr (std::is_same_v<T, KillData>) {
          fmt::format_to(it, " signal={} target={} target_comm={}", signal_name(d.signal),
                         d.target_pid, d.target_comm);
          if (d.target_uid != UINT32_MAX) {
            fmt::format_to(it, " target_uid={}", d.target_uid);
          }
        } else if constexpr (std::is_same_v<T, NsChangeData>) {
          fmt::format_to(it, " syscall={} ret={} ns_types=",
                         d.syscall == VIGIL_SYS_SETNS ? "setns" : "unshare", d.ret);
          append_ns_kinds(ns_kinds_of_clone_flags(d.flags), out);
        } else if constexpr (std::is_same_v<T, CgroupData>) {
          fmt::format_to(it, " op={} id={} path={}", d.removed ? "rmdir" : "mkdir", d.id, d.path);
        }
      },
      e.data);
  if (e.container) {
    // Falco's short form of the id (its first 12 characters).
    fmt::format_to(it, " container={}", std::string_view(e.container->id).substr(0, 12));
  }
}

}  // namespace vigil
