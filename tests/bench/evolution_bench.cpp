// One generation of neural Darwinism (6 populations x 100 genomes) over N
// training samples, with 1 and 4 workers: the cost of evolution, and what the
// worker pool buys on this machine. And one generation on the shipped
// dataset's distinct points (Dataset::distinct, as train() evolves on them).
//   build/tests/bench/vigil_evolution_bench --benchmark_filter='/100000'
//   build/tests/bench/vigil_evolution_bench --benchmark_filter=Shipped
#include <benchmark/benchmark.h>

#include "vigil/evolution.h"

namespace {

using namespace vigil;

// Distinct samples (duplicates would be merged by train(); the engine itself
// evaluates what it is given): a mix of indicator, context and family slots.
evo::Dataset dataset(std::size_t n) {
  evo::Dataset d;
  std::uint64_t r = 42;
  auto next = [&] {
    r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    return r >> 33;
  };
  for (std::size_t i = 0; i < n; ++i) {
    evo::Sample s;
    s.label = next() % 10 == 0 ? 1.0F : 0.0F;
    s.x[next() % kIndicatorFeatures] = s.label > 0 || next() % 4 == 0 ? 1.0F : 0.0F;
    s.x[kFamilyProcess + next() % 4] = 1.0F;
    s.x[kLineageDepth] = static_cast<float>(next() % 9) / 8.0F;
    s.x[kEuidRoot] = static_cast<float>(next() % 2);
    d.samples.push_back(s);
  }
  return d;
}

void BM_EvolutionGeneration(benchmark::State& state) {
  const auto data = dataset(static_cast<std::size_t>(state.range(1)));
  evo::EvolutionConfig cfg;
  cfg.population_size = 100;
  cfg.workers = static_cast<std::size_t>(state.range(0));
  evo::Evolution evolution(cfg, data);
  for (auto _ : state) {
    benchmark::DoNotOptimize(evolution.step());
  }
  state.counters["samples"] = static_cast<double>(data.samples.size());
  state.counters["genomes"] = 6 * 100;
}
// {workers, samples}: the 20k case is CI's smoke run.
BENCHMARK(BM_EvolutionGeneration)
    ->Args({1, 20'000})
    ->Args({1, 100'000})
    ->Args({4, 100'000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The shipped dataset (models/dataset.vds) as train() evolves on it: calm
// copies of the attacks recorded on an aroused host added, then identical
// (vector, label) samples merged into one point weighted by their count.
void BM_EvolutionGenerationShippedDistinct(benchmark::State& state) {
  auto data = evo::Dataset::load(VIGIL_DATASET);
  if (!data) {
    state.SkipWithError(data.error().message.c_str());
    return;
  }
  (void)evo::add_calm_copies(*data);
  const auto points = data->distinct();
  evo::EvolutionConfig cfg;
  cfg.population_size = 100;
  cfg.workers = static_cast<std::size_t>(state.range(0));
  evo::Evolution evolution(cfg, points);
  for (auto _ : state) {
    benchmark::DoNotOptimize(evolution.step());
  }
  state.counters["samples"] = static_cast<double>(data->samples.size());
  state.counters["points"] = static_cast<double>(points.samples.size());
  state.counters["genomes"] = 6 * 100;
}
BENCHMARK(BM_EvolutionGenerationShippedDistinct)
    ->Arg(1)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
