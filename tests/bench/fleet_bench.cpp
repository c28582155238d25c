// Fleet path micro-benchmarks: event -> protobuf, the agent spool (append, read,
// ack) and the collector's durable ingest, on a real temp directory.
#include <benchmark/benchmark.h>

#include "util/test_util.h"
#include "vigil/agent/indicators.h"
#include "vigil/agent/spool.h"
#include "vigil/agent/wire.h"
#include "vigil/collector/store.h"

namespace {

vigil::Event sample_exec() {
  vigil::Event e;
  e.type = vigil::EventType::kExec;
  e.ts_ns = 1'790'000'000'000'000'000ULL;
  e.pid = 4242;
  e.ppid = 1;
  e.uid = 1000;
  e.euid = 1000;
  e.comm = "curl";
  e.exe = "/usr/bin/curl";
  e.args = {"curl", "-s", "https://example.invalid/install.sh", "-o", "/tmp/i.sh"};
  e.host = "bench";
  vigil::ExecData d;
  d.filename = "/usr/bin/curl";
  d.argc = 5;
  e.data = d;
  return e;
}

void BM_ToProto(benchmark::State& state) {
  const auto event = sample_exec();
  const vigil::agent::Indicator* hits[] = {vigil::agent::find_indicator("shell-from-service")};
  vigil::v1::Event out;
  for (auto _ : state) {
    vigil::agent::to_proto(event, 60, hits, "run-1", out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_ToProto);

std::vector<vigil::v1::Event> proto_batch(std::size_t n) {
  const auto event = sample_exec();
  std::vector<vigil::v1::Event> out(n);
  for (auto& e : out) {
    vigil::agent::to_proto(event, 0, {}, "", e);
  }
  return out;
}

// One batch of `range(0)` events through the spool: append, read back, ack.
void BM_SpoolCycle(benchmark::State& state) {
  vigil::test::TempDir dir;
  auto spool = vigil::agent::Spool::open(dir.path());
  if (!spool) {
    state.SkipWithError(spool.error().message.c_str());
    return;
  }
  const auto n = static_cast<std::size_t>(state.range(0));
  auto events = proto_batch(n);
  vigil::v1::EventBatch batch;
  std::uint64_t after = 0;
  for (auto _ : state) {
    if (!(*spool)->append(events) || !(*spool)->read(after, n, batch) ||
        !(*spool)->ack(batch.last_seq())) {
      state.SkipWithError("spool failed");
      return;
    }
    after = batch.last_seq();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_SpoolCycle)->Arg(1000)->Unit(benchmark::kMicrosecond);

// The collector's ingest of one `range(0)`-event batch; range(1) = fsync or not.
void BM_StoreIngest(benchmark::State& state) {
  vigil::test::TempDir dir;
  auto store = vigil::collector::Store::open(dir.path(), {.sync = state.range(1) != 0});
  if (!store) {
    state.SkipWithError(store.error().message.c_str());
    return;
  }
  vigil::v1::Hello hello;
  hello.set_agent_id("bench");
  hello.set_host_id("bench");
  (void)(*store)->register_agent(hello, 1);
  const auto n = static_cast<std::size_t>(state.range(0));
  vigil::v1::EventBatch batch;
  for (auto& e : proto_batch(n)) {
    *batch.add_events() = std::move(e);
  }
  std::uint64_t seq = 0;
  for (auto _ : state) {
    batch.set_first_seq(seq + 1);
    for (auto& e : *batch.mutable_events()) {
      e.set_seq(++seq);
      e.set_ts_ns(1'790'000'000'000'000'000ULL + seq);
    }
    batch.set_last_seq(seq);
    if (!(*store)->ingest("bench", batch, 1)) {
      state.SkipWithError("ingest failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_StoreIngest)->Args({1000, 0})->Args({1000, 1})->Unit(benchmark::kMicrosecond);

}  // namespace
