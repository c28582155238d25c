// Synthetic kernel records for decoder and pipeline tests.
#pragma once

#include <cstddef>
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

}  // namespace vigil::test
