// Seeds of a fuzz target and the committed corpus. Each target's *_seeds.cpp
// defines fuzz_seeds(); write_seeds.cpp writes them to tests/fuzz/corpus/<target>/
// (the libFuzzer seed corpus), the g++ drivers mutate them directly.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

using FuzzInput = std::vector<std::uint8_t>;

std::vector<FuzzInput> fuzz_seeds();

// Every regular file under dir, in name order: the committed seeds and crash
// regressions, replayed by the g++ drivers as libFuzzer replays them.
inline std::vector<FuzzInput> read_corpus(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<FuzzInput> out;
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}
