#include "vigil/agent/decoder.h"

#include <fmt/format.h>
#include <time.h>

#include <cstring>
#include <string_view>

#include "vigil/abi.h"

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

}  // namespace

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

void resolve_file_paths(std::uint32_t base, std::span<const std::string_view> comps, bool truncated,
                        FileData& d) {
  // comps are dentry names from the leaf (or base directory) upward.
  std::string joined = truncated ? "/..." : "";
  for (auto it = comps.rbegin(); it != comps.rend(); ++it) {
    joined.push_back('/');
    joined.append(*it);
  }
  auto relative_to = [&joined](const std::string& p) {
    if (p.empty() || p.front() == '/') {
      return p;
    }
    std::string_view rel = p;
    while (rel.starts_with("./")) {
      rel.remove_prefix(2);
    }
    return joined + "/" + std::string(rel);
  };
  switch (base) {
    case VIGIL_BASE_FILE:
      // The kernel's own names: authoritative unless cut short and we have an
      // absolute path from the caller.
      d.path =
          (truncated && d.arg_path.starts_with('/')) ? d.arg_path : (joined.empty() ? "/" : joined);
      break;
    case VIGIL_BASE_DIR:
      d.path = relative_to(d.arg_path);
      d.new_path = relative_to(d.new_path);
      break;
    default:
      d.path = d.arg_path;
      break;
  }
}

void split_args(std::span<const char> blob, ArgList& out) {
  out.clear();
  std::size_t start = 0;
  for (std::size_t i = 0; i < blob.size(); ++i) {
    if (blob[i] == '\0') {
      out.push_back(std::string_view(blob.data() + start, i - start));
      start = i + 1;
    }
  }
  if (start < blob.size()) {
    out.push_back(std::string_view(blob.data() + start, blob.size() - start));
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
  out.comm.assign(bounded(hdr.comm));
  out.exe.clear();
  out.args.clear();
  spares_.harvest(out.data);

  switch (hdr.type) {
    case VIGIL_EV_EXEC: {
      const auto r = load<vigil_exec>(record);
      if (r.args_len > sizeof(r.args)) {
        return fail(DecodeFault::kBadLength,
                    fmt::format("exec args_len {} exceeds {}", r.args_len, sizeof(r.args)));
      }
      auto d = spares_.take<ExecData>(&ExecData::filename);
      d.filename.assign(bounded(r.filename));
      d.args_truncated = (r.flags & VIGIL_EXEC_ARGS_TRUNC) != 0;
      d.setuid = (r.flags & VIGIL_EXEC_SETUID) != 0;
      d.setgid = (r.flags & VIGIL_EXEC_SETGID) != 0;
      d.euid_changed = (r.flags & VIGIL_EXEC_EUID_CHANGED) != 0;
      d.prev_known = (r.flags & VIGIL_EXEC_PREV_UNKNOWN) == 0;
      d.prev_uid = r.prev_uid;
      d.prev_euid = r.prev_euid;
      split_args(std::span<const char>(r.args, r.args_len), out.args);
      d.argc = r.argc != 0 ? r.argc : static_cast<std::uint32_t>(out.args.size());
      out.exe = d.filename;
      out.data = std::move(d);
      break;
    }
    case VIGIL_EV_FORK: {
      const auto r = load<vigil_fork>(record);
      out.data = ForkData{.child_pid = r.child_pid, .child_tid = r.child_tid};
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
      d.target_comm.assign(bounded(r.target_comm));
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
      d.file.assign(bounded(r.file));
      out.data = std::move(d);
      break;
    }
    case VIGIL_EV_MEMFD: {
      const auto r = load<vigil_memfd>(record);
      out.data = MemfdData{.flags = r.flags, .ret = r.ret, .name = std::string(bounded(r.name))};
      break;
    }
    case VIGIL_EV_FILELESS_EXEC: {
      const auto r = load<vigil_fileless_exec>(record);
      auto d =
          spares_.take<FilelessExecData>(&FilelessExecData::filename, &FilelessExecData::dname);
      d.nlink = r.nlink;
      d.memfd = r.memfd != 0;
      d.filename.assign(bounded(r.filename));
      d.dname.assign(bounded(r.dname));
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
                            .path = std::string(bounded(r.path))};
      break;
    }
    case VIGIL_EV_CRASH_STORM: {
      const auto r = load<vigil_crash_storm>(record);
      out.data = CrashStormData{.ino = r.ino,
                                .dev = r.dev,
                                .count = r.count,
                                .signal = r.signal,
                                .window_ms = r.window_ms,
                                .exe = std::string(bounded(r.exe))};
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
      if (r.ncomps > VIGIL_FILE_COMPS + 1 || r.base > VIGIL_BASE_FILE) {
        return fail(DecodeFault::kBadLength,
                    fmt::format("file record ncomps {} base {}", r.ncomps, r.base));
      }
      auto d = spares_.take<FileData>(&FileData::path, &FileData::new_path, &FileData::arg_path);
      d.op = r.op;
      d.ret = r.ret;
      d.flags = r.flags;
      d.mode = r.mode;
      d.arg_path.assign(bounded(r.path));
      d.new_path.assign(bounded(r.new_path));
      std::array<std::string_view, VIGIL_FILE_COMPS> comps{};
      const std::size_t n = std::min<std::size_t>(r.ncomps, VIGIL_FILE_COMPS);
      for (std::size_t i = 0; i < n; ++i) {
        comps[i] = {r.comps[i], strnlen(r.comps[i], VIGIL_FILE_COMP_LEN)};
      }
      const bool truncated = r.ncomps > VIGIL_FILE_COMPS;
      resolve_file_paths(r.base, std::span(comps.data(), n), truncated, d);
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
