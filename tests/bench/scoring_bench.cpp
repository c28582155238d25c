// Per-event scoring cost: feature vector + model evaluation (issue 4 target:
// at most 1 us on this machine), for the shipped baseline and for a model of
// the evolved shape (16 hidden units in every population).
#include <benchmark/benchmark.h>

#include <random>

#include "bench_allocs.h"
#include "vigil/agent/indicators.h"
#include "vigil/features.h"
#include "vigil/scoring.h"

namespace {

std::vector<vigil::IndicatorWeight> weights() {
  std::vector<vigil::IndicatorWeight> w;
  for (const auto& ind : vigil::agent::all_indicators()) w.push_back({ind.id, ind.severity});
  return w;
}

vigil::v1::Model dense_model() {
  auto m = vigil::make_baseline_model(weights(), "dense-16");
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0F, 0.3F);
  for (auto& net : *m.mutable_networks()) {
    net.set_hidden(16);
    net.clear_w1();
    net.clear_b1();
    net.clear_w2();
    for (std::size_t i = 0; i < 16 * vigil::kFeatureCount; ++i) net.add_w1(d(rng));
    for (int i = 0; i < 16; ++i) {
      net.add_b1(d(rng));
      net.add_w2(d(rng));
    }
  }
  return m;
}

// `level` 1 (attentive) costs two evaluations since awareness may only raise a
// score (ScoringModel::score: also the calm score); level 0, one.
void run(benchmark::State& state, const vigil::v1::Model& proto, std::uint8_t level = 1) {
  auto model = vigil::ScoringModel::load(proto);
  if (!model) {
    state.SkipWithError(model.error().message.c_str());
    return;
  }
  std::vector<std::string_view> ids = {"ptrace-attach"};
  vigil::FeatureVector x{};
  const vigil::test::AllocsPerIteration allocs(state);
  for (auto _ : state) {
    vigil::compute_features({.type = vigil::EventType::kPtrace,
                             .uid = 1000,
                             .euid = 1000,
                             .exe = "/usr/bin/gdb",
                             .indicators = ids,
                             .lineage_depth = 3,
                             .level = level},
                            x);
    benchmark::DoNotOptimize((*model)->score(x));
  }
}

void BM_ScoreBaseline(benchmark::State& state) {
  run(state, vigil::make_baseline_model(weights(), "baseline"));
}
BENCHMARK(BM_ScoreBaseline);

void BM_ScoreDense16(benchmark::State& state) { run(state, dense_model()); }
BENCHMARK(BM_ScoreDense16);

void BM_ScoreDense16Calm(benchmark::State& state) { run(state, dense_model(), 0); }
BENCHMARK(BM_ScoreDense16Calm);

}  // namespace
