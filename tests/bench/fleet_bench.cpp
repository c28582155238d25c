// Fleet path micro-benchmarks: event -> protobuf, the agent spool (append, read,
// ack), the collector's durable ingest and the fleet report over a 10-minute
// history, on a real temp directory.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>

#include "util/test_util.h"
#include "vigil/agent/indicators.h"
#include "vigil/agent/spool.h"
#include "vigil/agent/wire.h"
#include "vigil/collector/keys.h"
#include "vigil/collector/report.h"
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

// --- the fleet report over 10 minutes of history ----------------------------

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kHistoryStart = 1'790'000'040ULL * kSec;  // minute-aligned
constexpr std::uint64_t kHistoryS = 600;
constexpr std::uint64_t kReportNow = kHistoryStart + kHistoryS * kSec - 1;

// One store per history, built on first use and kept for the whole run.
struct History {
  vigil::test::TempDir dir;
  std::unique_ptr<vigil::collector::Store> store;
  std::uint64_t events = 0;
};

// 10 minutes at `per_s` events/s over `hosts` hosts, written as the rollups
// ingest writes for it: one merge per host per second (a batch a second).
// 300k events/s is 180M events: too many to write as events, so this is the
// history's rollups, built exactly as ingest builds them.
History& rollup_history(std::uint64_t per_s, std::uint64_t hosts) {
  static std::map<std::pair<std::uint64_t, std::uint64_t>, std::unique_ptr<History>> cache;
  auto& h = cache[{per_s, hosts}];
  if (h) {
    return *h;
  }
  h = std::make_unique<History>();
  h->store = std::move(*vigil::collector::Store::open(h->dir.path(), {.sync = false}));
  const std::uint64_t host_per_s = per_s / hosts;
  for (std::uint64_t s = 0; s < kHistoryS; ++s) {
    for (std::uint64_t i = 0; i < hosts; ++i) {
      vigil::v1::HostMinute delta;
      delta.set_events(host_per_s);
      auto* p = delta.add_processes();
      p->set_key(i % 3 == 0 ? "/usr/sbin/nginx" : "/usr/bin/python3");
      p->set_count(host_per_s / 10);
      auto* r = delta.add_remotes();
      r->set_key("10.1.0." + std::to_string((s + i) % 20));
      r->set_count(host_per_s);
      (void)h->store->merge_rollup(kHistoryStart + s * kSec, "host-" + std::to_string(i), delta);
      h->events += host_per_s;
    }
  }
  return *h;
}

// 10 minutes at `per_s` events/s over `hosts` hosts, ingested as real events
// in one-second batches per host (events and rollups in one WriteBatch).
History& ingested_history(std::uint64_t per_s, std::uint64_t hosts) {
  static std::map<std::pair<std::uint64_t, std::uint64_t>, std::unique_ptr<History>> cache;
  auto& h = cache[{per_s, hosts}];
  if (h) {
    return *h;
  }
  h = std::make_unique<History>();
  h->store = std::move(*vigil::collector::Store::open(h->dir.path(), {.sync = false}));
  const std::uint64_t host_per_s = per_s / hosts;
  auto events = proto_batch(host_per_s);
  for (std::uint64_t i = 0; i < hosts; ++i) {
    vigil::v1::Hello hello;
    hello.set_agent_id("agent-" + std::to_string(i));
    hello.set_host_id("host-" + std::to_string(i));
    (void)h->store->register_agent(hello, kHistoryStart);
  }
  std::vector<std::uint64_t> seq(hosts, 0);
  vigil::v1::EventBatch batch;
  for (std::uint64_t s = 0; s < kHistoryS; ++s) {
    for (std::uint64_t i = 0; i < hosts; ++i) {
      batch.Clear();
      batch.set_first_seq(seq[i] + 1);
      for (std::uint64_t k = 0; k < host_per_s; ++k) {
        auto* e = batch.add_events();
        *e = events[k];
        e->set_seq(++seq[i]);
        e->set_ts_ns(kHistoryStart + s * kSec + k * (kSec / host_per_s));
      }
      batch.set_last_seq(seq[i]);
      (void)h->store->ingest("agent-" + std::to_string(i), batch, kHistoryStart + s * kSec);
      h->events += host_per_s;
    }
  }
  return *h;
}

void report_loop(benchmark::State& state, History& h) {
  vigil::v1::FleetReportRequest req;
  req.set_window_s(kHistoryS);
  for (auto _ : state) {
    auto rep = vigil::collector::fleet_report_page(*h.store, req, kReportNow);
    if (!rep || rep->events() != h.events || !rep->complete()) {
      state.SkipWithError("the report is not complete");
      return;
    }
    benchmark::DoNotOptimize(rep);
  }
  state.counters["events_in_window"] = static_cast<double>(h.events);
}

// The report reads rollups: hosts x minutes records whatever the event rate.
// range(0) = fleet events/s, range(1) = hosts.
void BM_FleetReport10MinRollups(benchmark::State& state) {
  report_loop(state, rollup_history(static_cast<std::uint64_t>(state.range(0)),
                                    static_cast<std::uint64_t>(state.range(1))));
}
BENCHMARK(BM_FleetReport10MinRollups)
    ->Args({300'000, 200})
    ->Args({3'000, 200})
    ->Unit(benchmark::kMillisecond);

// The same report over histories ingested as real events: its cost does not
// follow the number of events. range(0) = fleet events/s, range(1) = hosts.
void BM_FleetReport10MinIngested(benchmark::State& state) {
  report_loop(state, ingested_history(static_cast<std::uint64_t>(state.range(0)),
                                      static_cast<std::uint64_t>(state.range(1))));
}
BENCHMARK(BM_FleetReport10MinIngested)
    ->Args({300, 10})
    ->Args({3'000, 10})
    ->Unit(benchmark::kMillisecond);

// What the report used to do, for comparison: read every event of the window
// (it stopped at 2M, silently). Same ingested histories.
void BM_ScanEvents10MinIngested(benchmark::State& state) {
  auto& h = ingested_history(static_cast<std::uint64_t>(state.range(0)),
                             static_cast<std::uint64_t>(state.range(1)));
  for (auto _ : state) {
    std::uint64_t n = 0;
    h.store->scan_events(kHistoryStart, kReportNow + 1, [&](const vigil::v1::StoredEvent&) {
      ++n;
      return true;
    });
    if (n != h.events) {
      state.SkipWithError("scan missed events");
      return;
    }
  }
  state.counters["events_in_window"] = static_cast<double>(h.events);
}
BENCHMARK(BM_ScanEvents10MinIngested)
    ->Args({300, 10})
    ->Args({3'000, 10})
    ->Unit(benchmark::kMillisecond);

}  // namespace
