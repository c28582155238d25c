// Runs the decoder target without libFuzzer, for builds without clang++-19
// (the fallback of fuzz.decoder): every seed (fuzz_seeds()) and every file of
// the corpus directories given (the committed seeds and crash regressions), then
// deterministic mutations of them (bit flips, truncations, header field
// smashing, random lengths). With clang++-19 fuzz.decoder is a coverage-guided
// libFuzzer run of the same target instead (docs/testing.md).
//
//   vigil_decoder_fuzz [iterations] [corpus-dir...]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "seeds.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 200000;
  std::mt19937_64 rng(0x5eed);
  auto corpus = fuzz_seeds();
  for (int i = 2; i < argc; ++i) {
    for (auto& input : read_corpus(argv[i])) {
      corpus.push_back(std::move(input));
    }
  }
  for (const auto& s : corpus) {
    LLVMFuzzerTestOneInput(s.data(), s.size());
  }
  std::vector<std::uint8_t> buf;
  for (long i = 0; i < iterations; ++i) {
    buf = corpus[rng() % corpus.size()];
    if (buf.empty()) {
      buf.push_back(0);
    }
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
