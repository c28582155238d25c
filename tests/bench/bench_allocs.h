// Reports a benchmark's heap allocations per iteration as its "allocs"
// counter: construct before the timing loop, it records when it goes out of
// scope. The hot paths' figure must be 0 (docs/PERFORMANCE.md).
#pragma once

#include <benchmark/benchmark.h>

#include "alloc_counter.h"

namespace vigil::test {

class AllocsPerIteration {
 public:
  explicit AllocsPerIteration(benchmark::State& state) : state_(state), before_(allocations()) {}
  ~AllocsPerIteration() {
    state_.counters["allocs"] = benchmark::Counter(static_cast<double>(allocations() - before_),
                                                   benchmark::Counter::kAvgIterations);
  }
  AllocsPerIteration(const AllocsPerIteration&) = delete;
  AllocsPerIteration& operator=(const AllocsPerIteration&) = delete;

 private:
  benchmark::State& state_;
  std::uint64_t before_;
};

}  // namespace vigil::test
