// Runs a libFuzzer target without libFuzzer, for builds without clang++-19
// (the fallback of fuzz.wire): every seed the target provides (fuzz_seeds())
// and every file of the corpus directories given (the committed seeds and crash
// regressions), then deterministic mutations of them — bit flips, truncations,
// junk appended, random byte runs, splices of two seeds, pure noise. With
// clang++-19 fuzz.wire is a coverage-guided libFuzzer run instead (docs/testing.md).
//
//   vigil_wire_fuzz [iterations] [corpus-dir...]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "seeds.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 100000;
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
    const auto pick = [&] { return buf.empty() ? 0 : rng() % buf.size(); };
    switch (rng() % 6) {
      case 0:  // flip random bits (never the selector byte: stay on the target)
        for (int n = 0; n < 4 && buf.size() > 1; ++n)
          buf[1 + rng() % (buf.size() - 1)] ^= static_cast<std::uint8_t>(1U << (rng() % 8));
        break;
      case 1:  // truncate
        buf.resize(1 + pick());
        break;
      case 2:  // grow with junk
        buf.resize(buf.size() + rng() % 64, static_cast<std::uint8_t>(rng()));
        break;
      case 3:  // a run of random bytes
        for (std::size_t j = pick(), n = rng() % 16; j < buf.size() && n > 0; ++j, --n) {
          if (j > 0) buf[j] = static_cast<std::uint8_t>(rng());
        }
        break;
      case 4: {  // splice: this seed's head, another seed's tail
        const auto& other = corpus[rng() % corpus.size()];
        buf.resize(1 + pick());
        if (!other.empty())
          buf.insert(buf.end(), other.begin() + rng() % other.size(), other.end());
        break;
      }
      default:  // pure noise of random length, keeping the selector
        buf.resize(1 + rng() % 512);
        for (std::size_t j = 1; j < buf.size(); ++j) buf[j] = static_cast<std::uint8_t>(rng());
    }
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("mutate_driver: %ld inputs, no crash\n",
              iterations + static_cast<long>(corpus.size()));
  return 0;
}
