// Runs a libFuzzer target without libFuzzer (g++ builds, CI): every seed, then
// deterministic mutations of them (bit flips, truncations, header field
// smashing, random lengths). Coverage-guided fuzzing uses the same target with
// clang's -fsanitize=fuzzer (see docs/testing.md).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "util/records.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::vector<std::uint8_t>> seeds() {
  using namespace vigil::test;
  auto raw = [](const auto& rec) {
    std::vector<std::uint8_t> v(sizeof(rec));
    std::memcpy(v.data(), &rec, sizeof(rec));
    return v;
  };
  std::vector<std::vector<std::uint8_t>> s;
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
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 200000;
  std::mt19937_64 rng(0x5eed);
  const auto corpus = seeds();
  for (const auto& s : corpus) {
    LLVMFuzzerTestOneInput(s.data(), s.size());
  }
  std::vector<std::uint8_t> buf;
  for (long i = 0; i < iterations; ++i) {
    buf = corpus[rng() % corpus.size()];
    switch (rng() % 6) {
      case 0:  // flip random bits
        for (int n = 0; n < 8; ++n)
          buf[rng() % buf.size()] ^= static_cast<std::uint8_t>(1U << (rng() % 8));
        break;
      case 1:  // truncate
        buf.resize(rng() % buf.size());
        break;
      case 2:  // grow with junk
        buf.resize(buf.size() + rng() % 64, static_cast<std::uint8_t>(rng()));
        break;
      case 3:  // smash the header's type/version/size
        if (buf.size() >= 8) {
          const auto v = static_cast<std::uint32_t>(rng());
          std::memcpy(buf.data() + (rng() % 3) * 2, &v, 2);
        }
        break;
      case 4:  // random bytes everywhere after the header
        for (std::size_t j = 72; j < buf.size(); ++j) buf[j] = static_cast<std::uint8_t>(rng());
        break;
      default:  // pure noise of random length
        buf.resize(rng() % 1024);
        for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
    }
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("fuzz_driver: %ld inputs, no crash\n", iterations + static_cast<long>(corpus.size()));
  return 0;
}
