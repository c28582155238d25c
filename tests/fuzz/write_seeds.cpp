// Writes a fuzz target's seeds (fuzz_seeds()) as files seed-00, seed-01, ... into
// the directory given: the committed libFuzzer seed corpus tests/fuzz/corpus/<target>/
// is made with `cmake --build build --target vigil_fuzz_corpus`. Other files there
// (crash-* regressions) are left alone.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  std::filesystem::create_directories(dir);
  const auto seeds = fuzz_seeds();
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "seed-%02zu", i);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seeds[i].data()),
              static_cast<std::streamsize>(seeds[i].size()));
    if (!out) {
      std::fprintf(stderr, "write_seeds: cannot write %s\n", (dir / name).c_str());
      return 1;
    }
  }
  std::printf("write_seeds: %zu seeds in %s\n", seeds.size(), dir.c_str());
  return 0;
}
