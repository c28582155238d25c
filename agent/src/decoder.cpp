#include "vigil/agent/decoder.h"

#include <fmt/format.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "vigil/abi.h"
#include "vigil/event_format.h"

namespace vigil::agent {
namespace {

template <std::size_t N>
std::string_view bounded(const char (&chars)[N]) {
  return {chars, strnlen(chars, N)};
}

template <typename Rec>
Rec load(std::span<const std::byte> record) {
  Rec r;
  std::memcpy(&r, record.data(), sizeof(Rec));
  return r;
}

// Assigns `raw` to `dst` in the escaped form (see escape_name), reusing dst's buffer.
void assign_name(std::string& dst, std::string_view raw) {
  if (!needs_escape(raw)) {
    dst.assign(raw);
    return;
  }
  dst.clear();
  append_escaped(raw, dst);
}

Namespaces namespaces_of(const vigil_ns& n) {
  return Namespaces{.mnt = n.mnt,
                    .pid = n.pid,
                    .net = n.net,
                    .user = n.user,
                    .uts = n.uts,
                    .ipc = n.ipc,
                    .cgroup = n.cgroup,
                    .ns_pid = n.ns_pid,
                    .cap_eff = n.cap_eff};
}

// The kernel's dev_t (major << 20 | minor, see abi.h) as user space's (what
// stat(2) puts in st_dev), so it compares with stat() results; 0 stays 0.
std::uint32_t user_dev(std::uint32_t kdev) {
  return static_cast<std::uint32_t>(makedev(kdev >> 20, kdev & ((1U << 20) - 1)));
}

// Escapes `s` in place when it needs it (strings built from several raw parts).
void escape_in_place(std::string& s, std::string& scratch) {
  if (!needs_escape(s)) {
    return;
  }
  scratch.clear();
  append_escaped(s, scratch);
  s.swap(scratch);
}

// Lexical normalisation of an absolute path: "//" and "/./" collapse, "/.."
// drops the previous component (at "/" it stays at "/"). Symlinks are not
// followed: this is what the string says, as the kernel would walk it without
// links. A canonical path is returned unchanged without copying.
void normalize_path(std::string& p, std::string& scratch) {
  if (p.empty() || p.front() != '/') {
    return;
  }
  const bool canonical = p.find("//") == std::string::npos && p.find("/./") == std::string::npos &&
                         p.find("/../") == std::string::npos && !p.ends_with("/.") &&
                         !p.ends_with("/..");
  if (canonical) {
    return;
  }
  scratch.clear();
  std::size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && p[i] == '/') {
      ++i;
    }
    std::size_t end = p.find('/', i);
    if (end == std::string::npos) {
      end = p.size();
    }
    const std::string_view comp(p.data() + i, end - i);
    if (comp == "..") {
      const auto slash = scratch.rfind('/');
      scratch.resize(slash == std::string::npos ? 0 : slash);
    } else if (!comp.empty() && comp != ".") {
      scratch.push_back('/');
      scratch.append(comp);
    }
    i = end;
  }
  if (scratch.empty()) {
    scratch.push_back('/');
  }
  p.swap(scratch);
}

}  // namespace

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

bool needs_escape(std::string_view raw) {
  for (std::size_t i = 0; i < raw.size();) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x80) {
      if (c == '\\' && i + 1 < raw.size() && raw[i + 1] == 'x') {
        return true;
      }
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(raw, i);
    if (n == 0) {
      return true;
    }
    i += n;
  }
  return false;
}

void append_escaped(std::string_view raw, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (std::size_t i = 0; i < raw.size();) {
    const auto c = static_cast<unsigned char>(raw[i]);
    const std::size_t n = utf8_sequence_length(raw, i);
    if (n == 0) {
      out.append("\\x");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      ++i;
    } else if (c == '\\') {
      out.append("\\\\");
      ++i;
    } else {
      out.append(raw.substr(i, n));
      i += n;
    }
  }
}

std::string escape_name(std::string_view raw) {
  std::string out;
  assign_name(out, raw);
  return out;
}

std::optional<std::string> unescape_name(std::string_view name) {
  if (name.find("\\x") == std::string_view::npos) {
    return std::string(name);
  }
  auto hex = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '\\') {
      out.push_back(name[i]);
      continue;
    }
    if (i + 1 < name.size() && name[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (i + 3 < name.size() && name[i + 1] == 'x' && hex(name[i + 2]) >= 0 &&
               hex(name[i + 3]) >= 0) {
      out.push_back(static_cast<char>(hex(name[i + 2]) * 16 + hex(name[i + 3])));
      i += 3;
    } else {
      return std::nullopt;  // not an escaped form
    }
  }
  return out;
}

std::uint64_t DecodeStats::errors() const {
  std::uint64_t n = 0;
  for (auto f : faults) {
    n += f;
  }
  return n;
}

const char* to_string(DecodeFault fault) {
  switch (fault) {
    case DecodeFault::kShort:
      return "short";
    case DecodeFault::kBadVersion:
      return "bad_version";
    case DecodeFault::kUnknownType:
      return "unknown_type";
    case DecodeFault::kSizeMismatch:
      return "size_mismatch";
    case DecodeFault::kBadLength:
      return "bad_length";
    case DecodeFault::kCount_:
      break;
  }
  return "?";
}

std::int64_t boot_to_unix_offset_ns() {
  timespec real{};
  timespec boot{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  return (static_cast<std::int64_t>(real.tv_sec) - boot.tv_sec) * 1000000000LL +
         (real.tv_nsec - boot.tv_nsec);
}

namespace {

// A dentry name read into VIGIL_FILE_COMP_LEN bytes may have been cut.
bool is_cut(std::string_view comp) { return comp.size() >= VIGIL_FILE_COMP_LEN - 1; }

// `joined` with its cut names completed from the caller's path where that path
// agrees: each of the kernel's names must be a prefix of the caller's name at
// the same place, counted from the leaf (so a relative path completes the
// names it has).
std::string uncut(const PathBase& b, std::string_view as_passed, std::string joined) {
  std::vector<std::string_view> passed;
  for (std::size_t i = 0; i < as_passed.size();) {
    const std::size_t end = std::min(as_passed.find('/', i), as_passed.size());
    if (end > i) {
      passed.emplace_back(as_passed.substr(i, end - i));
    }
    i = end + 1;
  }
  if (passed.empty() || std::ranges::any_of(passed, [](auto c) { return c == "." || c == ".."; })) {
    return joined;
  }
  std::string out = b.truncated ? "/..." : "";
  for (std::size_t k = b.comps.size(); k-- > 0;) {
    std::string_view name = b.comps[k];
    if (k < passed.size()) {
      const auto candidate = passed[passed.size() - 1 - k];
      if (is_cut(name) && candidate.starts_with(name)) {
        name = candidate;
      } else if (candidate != name) {
        return joined;  // the caller's path disagrees (a symlink, a rename): keep the kernel's
      }
    }
    out.push_back('/');
    out.append(name);
  }
  return out;
}

}  // namespace

void resolve_file_paths(const PathBase& path, const PathBase& new_path, FileData& d) {
  // comps are dentry names from the leaf (or base directory) upward.
  auto join = [](const PathBase& b) {
    std::string joined = b.truncated ? "/..." : "";
    for (auto it = b.comps.rbegin(); it != b.comps.rend(); ++it) {
      joined.push_back('/');
      joined.append(*it);
    }
    return joined;
  };
  auto resolve = [&join](const PathBase& b, const std::string& as_passed) -> std::string {
    switch (b.base) {
      case VIGIL_BASE_FILE: {
        // The kernel's own names: authoritative unless cut short (too deep,
        // or a name of VIGIL_FILE_COMP_LEN - 1 bytes or more) and the caller's
        // path says the same thing in full.
        if (b.truncated && as_passed.starts_with('/')) {
          return as_passed;
        }
        if (std::ranges::none_of(b.comps, is_cut)) {
          std::string joined = join(b);
          return joined.empty() ? "/" : joined;
        }
        return uncut(b, as_passed, join(b));
      }
      case VIGIL_BASE_DIR: {
        if (as_passed.empty() || as_passed.front() == '/') {
          return as_passed;
        }
        std::string_view rel = as_passed;
        while (rel.starts_with("./")) {
          rel.remove_prefix(2);
        }
        return join(b) + "/" + std::string(rel);
      }
      default:
        return as_passed;
    }
  };
  // Paths taken as passed are copied into the reused strings (no allocation
  // once they have grown); the others are built.
  auto as_is = [](const PathBase& b, const std::string& as_passed) {
    return b.base == VIGIL_BASE_ABSOLUTE || b.base == VIGIL_BASE_VERBATIM ||
           (b.base == VIGIL_BASE_DIR && (as_passed.empty() || as_passed.front() == '/'));
  };
  std::string scratch;
  if (as_is(path, d.arg_path)) {
    d.path.assign(d.arg_path);
  } else {
    d.path = resolve(path, d.arg_path);
  }
  if (path.base != VIGIL_BASE_VERBATIM) {
    normalize_path(d.path, scratch);
  }
  if (!d.new_path.empty()) {
    if (!as_is(new_path, d.new_path)) {
      d.new_path = resolve(new_path, d.new_path);
    }
    normalize_path(d.new_path, scratch);
  }
}

void split_args(std::span<const char> blob, ArgList& out, bool append) {
  if (!append) {
    out.clear();
  }
  std::string escaped;
  auto push = [&](std::string_view arg) {
    if (needs_escape(arg)) {
      escaped.clear();
      append_escaped(arg, escaped);
      arg = escaped;
    }
    out.push_back(arg);
  };
  std::size_t start = 0;
  for (std::size_t i = 0; i < blob.size(); ++i) {
    if (blob[i] == '\0') {
      push(std::string_view(blob.data() + start, i - start));
      start = i + 1;
    }
  }
  if (start < blob.size()) {
    push(std::string_view(blob.data() + start, blob.size() - start));
  }
}

Result<void> Decoder::fail(DecodeFault fault, std::string message) {
  ++stats_.faults[static_cast<std::size_t>(fault)];
  return make_error(ErrorCode::kCorrupt, std::move(message));
}

Result<void> Decoder::decode(std::span<const std::byte> record, Event& out) {
  if (record.size() < sizeof(vigil_hdr)) {
    return fail(DecodeFault::kShort,
                fmt::format("record of {} bytes is shorter than the header", record.size()));
  }
  const auto hdr = load<vigil_hdr>(record);
  if (hdr.abi_version != VIGIL_ABI_VERSION) {
    return fail(DecodeFault::kBadVersion,
                fmt::format("ABI version {} (expected {})", hdr.abi_version, VIGIL_ABI_VERSION));
  }
  if (hdr.type == 0 || hdr.type > VIGIL_EV_MAX) {
    return fail(DecodeFault::kUnknownType, fmt::format("unknown record type {}", hdr.type));
  }
  if (hdr.size > record.size()) {
    return fail(DecodeFault::kSizeMismatch,
                fmt::format("header says {} bytes, record has {}", hdr.size, record.size()));
  }

  std::size_t expected = 0;
  switch (hdr.type) {
    case VIGIL_EV_EXEC:
      expected = sizeof(vigil_exec);
      break;
    case VIGIL_EV_FORK:
      expected = sizeof(vigil_fork);
      break;
    case VIGIL_EV_EXIT:
      expected = sizeof(vigil_exit);
      break;
    case VIGIL_EV_SETUID:
    case VIGIL_EV_SETGID:
    case VIGIL_EV_CAPSET:
      expected = sizeof(vigil_setid);
      break;
    case VIGIL_EV_PTRACE:
      expected = sizeof(vigil_ptrace);
      break;
    case VIGIL_EV_KILL:
      expected = sizeof(vigil_kill);
      break;
    case VIGIL_EV_NS_CHANGE:
      expected = sizeof(vigil_ns_change);
      break;
    case VIGIL_EV_CGROUP:
      expected = sizeof(vigil_cgroup);
      break;
    case VIGIL_EV_MEM_WX:
    case VIGIL_EV_MEM_EXEC_ADDED:
      expected = sizeof(vigil_mem_prot);
      break;
    case VIGIL_EV_MEMFD:
      expected = sizeof(vigil_memfd);
      break;
    case VIGIL_EV_FILELESS_EXEC:
      expected = sizeof(vigil_fileless_exec);
      break;
    case VIGIL_EV_INJECT:
      expected = sizeof(vigil_inject);
      break;
    case VIGIL_EV_CRASH_STORM:
      expected = sizeof(vigil_crash_storm);
      break;
    case VIGIL_EV_ALLOC_RATE:
      expected = sizeof(vigil_alloc_rate);
      break;
    case VIGIL_EV_FILE:
      expected = sizeof(vigil_file);
      break;
    case VIGIL_EV_SOCK:
      expected = sizeof(vigil_sock);
      break;
    case VIGIL_EV_NET_SUMMARY:
      expected = sizeof(vigil_net_summary);
      break;
    default:
      return fail(DecodeFault::kUnknownType, fmt::format("unknown record type {}", hdr.type));
  }
  if (hdr.size != expected) {
    return fail(DecodeFault::kSizeMismatch, fmt::format("type {} record is {} bytes, expected {}",
                                                        hdr.type, hdr.size, expected));
  }

  out.type = static_cast<EventType>(hdr.type);
  out.boot_ns = hdr.ts_ns;
  out.ts_ns = static_cast<std::uint64_t>(static_cast<std::int64_t>(hdr.ts_ns) + boot_to_unix_ns_);
  out.pid = hdr.pid;
  out.tid = hdr.tid;
  out.ppid = hdr.ppid;
  out.uid = hdr.uid;
  out.euid = hdr.euid;
  out.gid = hdr.gid;
  out.egid = hdr.egid;
  out.cgroup_id = hdr.cgroup_id;
  assign_name(out.comm, bounded(hdr.comm));
  out.exe.clear();
  out.args.clear();
  // Enrichment of the event this one reuses: exec, fork and ns_change set ns
  // below, the process table fills the rest, the container table container.
  out.ns = {};
  out.host_ns = true;
  out.container.reset();
  spares_.harvest(out.data);

  switch (hdr.type) {
    case VIGIL_EV_EXEC: {
      const auto r = load<vigil_exec>(record);
      if (r.args_len > sizeof(r.args) || r.args_tail > r.args_len) {
        return fail(DecodeFault::kBadLength, fmt::format("exec args_len {} args_tail {} exceed {}",
                                                         r.args_len, r.args_tail, sizeof(r.args)));
      }
      auto d = spares_.take<ExecData>(&ExecData::filename);
      assign_name(d.filename, bounded(r.filename));
      d.args_truncated = (r.flags & VIGIL_EXEC_ARGS_TRUNC) != 0;
      d.setuid = (r.flags & VIGIL_EXEC_SETUID) != 0;
      d.setgid = (r.flags & VIGIL_EXEC_SETGID) != 0;
      d.euid_changed = (r.flags & VIGIL_EXEC_EUID_CHANGED) != 0;
      d.prev_known = (r.flags & VIGIL_EXEC_PREV_UNKNOWN) == 0;
      d.prev_uid = r.prev_uid;
      d.prev_euid = r.prev_euid;
      d.loginuid = r.loginuid;
      if (r.args_tail == 0) {
        split_args(std::span<const char>(r.args, r.args_len), out.args);
      } else {
        // argv's head, then its tail: the arguments between are not here.
        split_args(std::span<const char>(r.args, r.args_tail), out.args);
        split_args(std::span<const char>(r.args + r.args_tail, r.args_len - r.args_tail), out.args,
                   /*append=*/true);
      }
      d.argc = r.argc != 0 ? r.argc : static_cast<std::uint32_t>(out.args.size());
      out.ns = namespaces_of(r.ns);
      out.exe = d.filename;
      out.data = std::move(d);
      break;
    }
    case VIGIL_EV_FORK: {
      const auto r = load<vigil_fork>(record);
      out.data = ForkData{.child_pid = r.child_pid, .child_tid = r.child_tid};
      out.ns = namespaces_of(r.ns);  // the child's (unknown from the classic tracepoint)
      break;
    }
    case VIGIL_EV_NS_CHANGE: {
      const auto r = load<vigil_ns_change>(record);
      if (r.syscall != VIGIL_SYS_SETNS && r.syscall != VIGIL_SYS_UNSHARE) {
        return fail(DecodeFault::kBadLength, fmt::format("ns_change syscall {}", r.syscall));
      }
      NsChangeData d;
      d.syscall = r.syscall;
      d.ret = r.ret;
      d.flags = r.flags;
      d.after = namespaces_of(r.ns);
      out.ns = d.after;
      out.data = d;
      break;
    }
    case VIGIL_EV_CGROUP: {
      const auto r = load<vigil_cgroup>(record);
      if (r.op != VIGIL_CGROUP_MKDIR && r.op != VIGIL_CGROUP_RMDIR) {
        return fail(DecodeFault::kBadLength, fmt::format("cgroup record op {}", r.op));
      }
      auto d = spares_.take<CgroupData>(&CgroupData::path);
      d.removed = r.op == VIGIL_CGROUP_RMDIR;
      d.id = r.id;
      d.level = r.level;
      assign_name(d.path, bounded(r.path));
      out.data = std::move(d);
      break;
    }
    case VIGIL_EV_EXIT: {
      const auto r = load<vigil_exit>(record);
      out.data = ExitData{.exit_code = r.exit_code,
                          .signal = r.signal,
                          .core_dumped = r.core_dumped != 0,
                          .lifetime_ns = r.lifetime_ns};
      break;
    }
    case VIGIL_EV_SETUID:
    case VIGIL_EV_SETGID:
    case VIGIL_EV_CAPSET: {
      const auto r = load<vigil_setid>(record);
      SetidData d;
      d.syscall = r.syscall;
      d.ret = r.ret;
      std::memcpy(d.req.data(), r.req, sizeof(r.req));
      std::memcpy(d.old_ids.data(), r.old_ids, sizeof(r.old_ids));
      std::memcpy(d.new_ids.data(), r.new_ids, sizeof(r.new_ids));
      d.old_cap_eff = r.old_cap_eff;
      d.new_cap_eff = r.new_cap_eff;
      d.old_cap_prm = r.old_cap_prm;
      d.new_cap_prm = r.new_cap_prm;
      out.data = d;
      break;
    }
    case VIGIL_EV_PTRACE: {
      const auto r = load<vigil_ptrace>(record);
      out.data = PtraceData{.request = r.request,
                            .target_pid = r.target_pid,
                            .ret = r.ret,
                            .addr = r.addr,
                            .data = r.data};
      break;
    }
    case VIGIL_EV_KILL: {
      const auto r = load<vigil_kill>(record);
      KillData d;
      d.target_pid = r.target_pid;
      d.target_uid = r.target_uid;
      d.signal = r.signal;
      d.si_code = r.si_code;
      d.result = r.result;
      assign_name(d.target_comm, bounded(r.target_comm));
      out.data = std::move(d);
      break;
    }
    case VIGIL_EV_MEM_WX:
    case VIGIL_EV_MEM_EXEC_ADDED: {
      const auto r = load<vigil_mem_prot>(record);
      auto d = spares_.take<MemProtData>(&MemProtData::file);
      d.addr = r.addr;
      d.len = r.len;
      d.prot = r.prot;
      d.flags = r.flags;
      d.syscall = r.syscall;
      d.ret = r.ret;
      d.vm_flags = r.vm_flags;
      d.anon = r.anon;
      d.suppressed = r.suppressed;
      assign_name(d.file, bounded(r.file));
      out.data = std::move(d);
      break;
    }
    case VIGIL_EV_MEMFD: {
      const auto r = load<vigil_memfd>(record);
      out.data = MemfdData{.flags = r.flags, .ret = r.ret, .name = escape_name(bounded(r.name))};
      break;
    }
    case VIGIL_EV_FILELESS_EXEC: {
      const auto r = load<vigil_fileless_exec>(record);
      auto d =
          spares_.take<FilelessExecData>(&FilelessExecData::filename, &FilelessExecData::dname);
      d.nlink = r.nlink;
      d.memfd = r.memfd != 0;
      assign_name(d.filename, bounded(r.filename));
      assign_name(d.dname, bounded(r.dname));
      out.exe = d.filename;
      out.data = std::move(d);
      break;
    }
    case VIGIL_EV_INJECT: {
      const auto r = load<vigil_inject>(record);
      out.data = InjectData{.target_pid = r.target_pid,
                            .ret = r.ret,
                            .bytes = r.bytes,
                            .method = r.method,
                            .flags = r.flags,
                            .path = escape_name(bounded(r.path))};
      break;
    }
    case VIGIL_EV_CRASH_STORM: {
      const auto r = load<vigil_crash_storm>(record);
      out.data = CrashStormData{.ino = r.ino,
                                .dev = r.dev,
                                .count = r.count,
                                .signal = r.signal,
                                .window_ms = r.window_ms,
                                .exe = escape_name(bounded(r.exe))};
      break;
    }
    case VIGIL_EV_SOCK: {
      const auto r = load<vigil_sock>(record);
      static constexpr EventType kByOp[] = {
          EventType::kConnect, EventType::kConnect,       EventType::kAccept, EventType::kListen,
          EventType::kClose,   EventType::kConnectFailed, EventType::kUdpSend};
      if (r.op == 0 || r.op > VIGIL_SOCK_UDP_SEND) {
        return fail(DecodeFault::kBadLength, fmt::format("socket record op {}", r.op));
      }
      out.type = kByOp[r.op];
      SockData d;
      d.ret = r.ret;
      d.family = r.family;
      d.proto = r.proto;
      d.lport = r.lport;
      d.rport = r.rport;
      d.laddr = addr_string(r.family, r.laddr);
      d.raddr = addr_string(r.family, r.raddr);
      d.bytes_sent = r.bytes_sent;
      d.bytes_received = r.bytes_received;
      out.data = std::move(d);
      break;
    }
    case VIGIL_EV_NET_SUMMARY: {
      const auto r = load<vigil_net_summary>(record);
      NetSummaryData d;
      d.reasons = r.reason;
      d.ifindex = r.ifindex;
      d.family = r.family;
      d.src = addr_string(r.family, r.src);
      d.window_ms = r.window_ms;
      d.pkts = r.pkts;
      d.bytes = r.bytes;
      d.syns = r.syns;
      d.udp = r.udp;
      d.icmp = r.icmp;
      d.dports = linear_count(r.dport_bits, VIGIL_NET_PORT_BITS);
      d.daddrs = linear_count(r.daddr_bits, VIGIL_NET_ADDR_BITS);
      out.data = std::move(d);
      break;
    }
    case VIGIL_EV_FILE: {
      const auto r = load<vigil_file>(record);
      if (r.ncomps > VIGIL_FILE_COMPS + 1 || r.base > VIGIL_BASE_VERBATIM ||
          r.new_ncomps > VIGIL_FILE_COMPS + 1 || r.new_base > VIGIL_BASE_VERBATIM) {
        return fail(DecodeFault::kBadLength,
                    fmt::format("file record ncomps {} base {} new_ncomps {} new_base {}", r.ncomps,
                                r.base, r.new_ncomps, r.new_base));
      }
      auto d = spares_.take<FileData>(&FileData::path, &FileData::new_path, &FileData::arg_path);
      d.op = r.op;
      d.ret = r.ret;
      d.flags = r.flags;
      d.mode = r.mode;
      d.dev = user_dev(r.dev);
      d.root_dev = user_dev(r.root_dev);
      d.arg_path.assign(bounded(r.path));
      d.new_path.assign(bounded(r.new_path));
      auto comps_of = [](const char(&names)[VIGIL_FILE_COMPS][VIGIL_FILE_COMP_LEN],
                         std::uint32_t ncomps,
                         std::array<std::string_view, VIGIL_FILE_COMPS>& out) {
        const std::size_t n = std::min<std::size_t>(ncomps, VIGIL_FILE_COMPS);
        for (std::size_t i = 0; i < n; ++i) {
          out[i] = {names[i], strnlen(names[i], VIGIL_FILE_COMP_LEN)};
        }
        return std::span<const std::string_view>(out.data(), n);
      };
      std::array<std::string_view, VIGIL_FILE_COMPS> comps{};
      std::array<std::string_view, VIGIL_FILE_COMPS> new_comps{};
      const PathBase path{r.base, comps_of(r.comps, r.ncomps, comps), r.ncomps > VIGIL_FILE_COMPS};
      const PathBase new_path{r.new_base, comps_of(r.new_comps, r.new_ncomps, new_comps),
                              r.new_ncomps > VIGIL_FILE_COMPS};
      resolve_file_paths(path, new_path, d);
      escape_in_place(d.path, scratch_);
      escape_in_place(d.new_path, scratch_);
      escape_in_place(d.arg_path, scratch_);
      out.data = std::move(d);
      break;
    }
    case VIGIL_EV_ALLOC_RATE: {
      const auto r = load<vigil_alloc_rate>(record);
      out.data = AllocRateData{.bytes = r.bytes, .window_ms = r.window_ms, .calls = r.calls};
      break;
    }
    default:
      break;
  }
  ++stats_.decoded;
  return {};
}

}  // namespace vigil::agent
