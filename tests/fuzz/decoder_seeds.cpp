// Seeds of the decoder target: one valid record of every kind the kernel side
// emits, as tests/util/records.h builds them.
#include <cstring>

#include "seeds.h"
#include "util/records.h"

std::vector<FuzzInput> fuzz_seeds() {
  using namespace vigil::test;
  auto raw = [](const auto& rec) {
    std::vector<std::uint8_t> v(sizeof(rec));
    std::memcpy(v.data(), &rec, sizeof(rec));
    return v;
  };
  std::vector<FuzzInput> s;
  s.push_back(raw(make_exec(100, "/tmp/x", {"x", "-y"})));
  s.push_back(raw(make_fork(100, 101)));
  s.push_back(raw(make_exit(101, 3)));
  vigil_setid st{};
  fill_hdr(st.hdr, VIGIL_EV_SETUID, sizeof(st), 100);
  s.push_back(raw(st));
  vigil_ptrace pt{};
  fill_hdr(pt.hdr, VIGIL_EV_PTRACE, sizeof(pt), 100);
  pt.request = 16;
  pt.target_pid = 5;
  s.push_back(raw(pt));
  vigil_kill k{};
  fill_hdr(k.hdr, VIGIL_EV_KILL, sizeof(k), 100);
  s.push_back(raw(k));
  vigil_mem_prot m{};
  fill_hdr(m.hdr, VIGIL_EV_MEM_WX, sizeof(m), 100);
  s.push_back(raw(m));
  vigil_memfd mf{};
  fill_hdr(mf.hdr, VIGIL_EV_MEMFD, sizeof(mf), 100);
  s.push_back(raw(mf));
  vigil_fileless_exec fe{};
  fill_hdr(fe.hdr, VIGIL_EV_FILELESS_EXEC, sizeof(fe), 100);
  s.push_back(raw(fe));
  vigil_inject in{};
  fill_hdr(in.hdr, VIGIL_EV_INJECT, sizeof(in), 100);
  s.push_back(raw(in));
  vigil_crash_storm cs{};
  fill_hdr(cs.hdr, VIGIL_EV_CRASH_STORM, sizeof(cs), 100);
  s.push_back(raw(cs));
  vigil_file fl{};
  fill_hdr(fl.hdr, VIGIL_EV_FILE, sizeof(fl), 100);
  fl.base = VIGIL_BASE_DIR;
  fl.ncomps = 2;
  std::strcpy(fl.comps[0], "etc");
  std::strcpy(fl.path, "x");
  s.push_back(raw(fl));
  vigil_sock so{};
  fill_hdr(so.hdr, VIGIL_EV_SOCK, sizeof(so), 100);
  so.op = VIGIL_SOCK_CONNECT;
  so.family = 2;
  s.push_back(raw(so));
  vigil_net_summary ns{};
  fill_hdr(ns.hdr, VIGIL_EV_NET_SUMMARY, sizeof(ns), 0);
  ns.reason = VIGIL_NET_SCAN;
  s.push_back(raw(ns));
  vigil_alloc_rate ar{};
  fill_hdr(ar.hdr, VIGIL_EV_ALLOC_RATE, sizeof(ar), 100);
  s.push_back(raw(ar));
  const vigil_ns host{.mnt = 4026531841, .pid = 4026531836, .net = 4026531840, .user = 4026531837};
  s.push_back(raw(make_ns_change(100, VIGIL_SYS_SETNS, 0x00020000, host)));
  s.push_back(raw(make_cgroup(100, VIGIL_CGROUP_MKDIR, 1051, 2, "/libpod_parent/libpod-0123")));
  return s;
}
