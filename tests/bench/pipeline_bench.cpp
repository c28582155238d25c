// Per-event user-space cost: decode, enrich, indicators, JSON. Kernel-free.
//   build/tests/bench/vigil_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include "bench_allocs.h"
#include "util/records.h"
#include "vigil/agent/pipeline.h"
#include "vigil/event_format.h"

namespace {

using namespace vigil;
using namespace vigil::agent;

const std::vector<std::byte>& exec_record() {
  static const auto rec = test::bytes_of(
      test::make_exec(4242, "/usr/bin/env", {"/usr/bin/env", "true", "--flag", "value"}));
  return rec;
}

void BM_Decode(benchmark::State& state) {
  Decoder d;
  Event e;
  const test::AllocsPerIteration allocs(state);
  for (auto _ : state) {
    auto r = d.decode(exec_record(), e);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decode);

void BM_DecodeEnrich(benchmark::State& state) {
  Decoder d;
  Event e;
  ProcessTable table(65536, "");
  const test::AllocsPerIteration allocs(state);
  for (auto _ : state) {
    (void)d.decode(exec_record(), e);
    table.apply(e);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeEnrich);

void BM_Json(benchmark::State& state) {
  Decoder d;
  Event e;
  (void)d.decode(exec_record(), e);
  std::string out;
  const test::AllocsPerIteration allocs(state);
  for (auto _ : state) {
    out.clear();
    append_json(e, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Json);

void BM_Indicators(benchmark::State& state) {
  Decoder d;
  Event e;
  (void)d.decode(exec_record(), e);
  ProcessTable table(16, "");
  IndicatorEngine engine;
  std::vector<const Indicator*> hits;
  const test::AllocsPerIteration allocs(state);
  for (auto _ : state) {
    engine.evaluate(e, table, hits);
    benchmark::DoNotOptimize(hits.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Indicators);

// A few drains first, so "allocs" counts the steady state, not the buffers'
// first growth (the drain's event slots, the JSON line).
void warm_up(Pipeline& p) {
  for (int i = 0; i < 4 * 256; ++i) {
    p.on_record(exec_record());
    if (i % 256 == 255) {
      p.on_batch_end();
    }
  }
}

// Feeds the exec record, ending a drain every 256 records as the agent does
// (it flushes once per ring buffer drain), after a warm-up.
void run_drains(benchmark::State& state, Pipeline& p) {
  warm_up(p);
  std::int64_t n = 0;
  const test::AllocsPerIteration allocs(state);
  for (auto _ : state) {
    p.on_record(exec_record());
    if (++n % 256 == 0) {
      p.on_batch_end();
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// The whole per-record path as the agent runs it, JSON written to /dev/null.
void BM_PipelineToDevNull(benchmark::State& state) {
  ProcessTable table(65536, "");
  Pipeline p("bench-host", table, 0);
  auto sink = LineSink::open("/dev/null");
  if (!sink) {
    state.SkipWithError("cannot open /dev/null");
    return;
  }
  p.set_events(std::make_unique<EventWriter>(std::move(*sink), OutputFormat::kJson));
  run_drains(state, p);
}
BENCHMARK(BM_PipelineToDevNull);

// What every event costs before any output: decode, enrich, indicators,
// features and the model (issue 8: <= 1 us, no allocation).
void BM_PipelineScoreOnly(benchmark::State& state) {
  ProcessTable table(65536, "");
  Pipeline p("bench-host", table, 0);
  run_drains(state, p);
}
BENCHMARK(BM_PipelineScoreOnly);

}  // namespace

BENCHMARK_MAIN();
