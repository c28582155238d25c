// Synthetic kernel records for decoder and pipeline tests.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "vigil/abi.h"

namespace vigil::test {

inline void fill_hdr(vigil_hdr& h, std::uint16_t type, std::uint32_t size, std::uint32_t pid,
                     const char* comm = "bash") {
  h.type = type;
  h.abi_version = VIGIL_ABI_VERSION;
  h.size = size;
  h.ts_ns = 1'000'000'000;
  h.pid = pid;
  h.tid = pid;
  h.ppid = 1;
  h.uid = 1000;
  h.euid = 1000;
  h.gid = 1000;
  h.egid = 1000;
  h.cgroup_id = 42;
  std::strncpy(h.comm, comm, sizeof(h.comm) - 1);
}

template <typename Rec>
std::vector<std::byte> bytes_of(const Rec& r) {
  std::vector<std::byte> out(sizeof(Rec));
  std::memcpy(out.data(), &r, sizeof(Rec));
  return out;
}

inline vigil_exec make_exec(std::uint32_t pid, const char* filename,
                            const std::vector<std::string>& args) {
  vigil_exec e{};
  fill_hdr(e.hdr, VIGIL_EV_EXEC, sizeof(e), pid);
  std::strncpy(e.filename, filename, sizeof(e.filename) - 1);
  std::size_t off = 0;
  for (const auto& a : args) {
    std::memcpy(e.args + off, a.c_str(), a.size() + 1);
    off += a.size() + 1;
  }
  e.args_len = static_cast<std::uint32_t>(off);
  e.argc = static_cast<std::uint32_t>(args.size());
  e.prev_uid = 1000;
  e.prev_euid = 1000;
  return e;
}

inline vigil_fork make_fork(std::uint32_t parent, std::uint32_t child) {
  vigil_fork f{};
  fill_hdr(f.hdr, VIGIL_EV_FORK, sizeof(f), parent);
  f.child_pid = child;
  f.child_tid = child;
  return f;
}

inline vigil_exit make_exit(std::uint32_t pid, int code) {
  vigil_exit x{};
  fill_hdr(x.hdr, VIGIL_EV_EXIT, sizeof(x), pid);
  x.exit_code = code;
  x.lifetime_ns = 5'000'000;
  return x;
}

// A setns/unshare that left the caller in `ns`.
inline vigil_ns_change make_ns_change(std::uint32_t pid, std::uint32_t syscall, std::uint32_t flags,
                                      const vigil_ns& ns, std::int32_t ret = 0) {
  vigil_ns_change c{};
  fill_hdr(c.hdr, VIGIL_EV_NS_CHANGE, sizeof(c), pid, "nsenter");
  c.syscall = syscall;
  c.ret = ret;
  c.flags = flags;
  c.ns = ns;
  return c;
}

// A cgroup v2 directory made (or removed) by `pid`.
inline vigil_cgroup make_cgroup(std::uint32_t pid, std::uint32_t op, std::uint64_t id,
                                std::uint32_t level, const std::string& path) {
  vigil_cgroup c{};
  fill_hdr(c.hdr, VIGIL_EV_CGROUP, sizeof(c), pid, "runc");
  c.op = op;
  c.id = id;
  c.level = level;
  std::strncpy(c.path, path.c_str(), sizeof(c.path) - 1);
  return c;
}

// A W+X mprotect of one anonymous page (prot = PROT_READ | PROT_WRITE | PROT_EXEC = 7).
inline vigil_mem_prot make_mem_prot(std::uint32_t pid, std::uint32_t prot) {
  vigil_mem_prot m{};
  fill_hdr(m.hdr, VIGIL_EV_MEM_WX, sizeof(m), pid, "jit");
  m.addr = 0x7f0000000000ULL;
  m.len = 4096;
  m.prot = prot;
  m.syscall = VIGIL_MEM_MPROTECT;
  m.anon = VIGIL_MAP_ANON;
  return m;
}

// A file record whose kernel names (leaf first) resolve to `path` (absolute).
inline vigil_file make_file(std::uint32_t pid, std::uint32_t op, const std::string& path,
                            const char* comm = "bash") {
  vigil_file f{};
  fill_hdr(f.hdr, VIGIL_EV_FILE, sizeof(f), pid, comm);
  f.op = op;
  f.base = VIGIL_BASE_ABSOLUTE;
  std::strncpy(f.path, path.c_str(), sizeof(f.path) - 1);
  return f;
}

// A successful IPv4 TCP connect to a.b.c.d:port.
inline vigil_sock make_connect(std::uint32_t pid, std::array<std::uint8_t, 4> addr,
                               std::uint16_t port, const char* comm = "curl") {
  vigil_sock s{};
  fill_hdr(s.hdr, VIGIL_EV_SOCK, sizeof(s), pid, comm);
  s.op = VIGIL_SOCK_CONNECT;
  s.family = 2;  // AF_INET
  s.proto = 6;   // IPPROTO_TCP
  s.lport = 40000;
  s.rport = port;
  s.laddr[0] = 10;
  s.laddr[3] = 1;
  std::memcpy(s.raddr, addr.data(), 4);
  return s;
}

}  // namespace vigil::test
