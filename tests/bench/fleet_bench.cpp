// Fleet path micro-benchmarks: event -> protobuf, the agent spool (append, read,
// ack), the collector's durable ingest (one agent, and several agents at once),
// its correlator and the fleet report over a 10-minute history, on a real temp
// directory.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "util/test_util.h"
#include "vigil/agent/indicators.h"
#include "vigil/agent/spool.h"
#include "vigil/agent/wire.h"
#include "vigil/collector/correlator.h"
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

// --- concurrent ingest and correlation (issue 21) ---------------------------

// The next batch of `n` events for an agent whose last seq is `seq`; 2 %
// raise a new agent alert, as vigil-loadgen's mix does.
void next_batch(std::uint64_t& seq, std::size_t n, vigil::v1::EventBatch& batch) {
  if (batch.events_size() != static_cast<int>(n)) {
    batch.Clear();
    for (auto& e : proto_batch(n)) {
      *batch.add_events() = std::move(e);
    }
  }
  batch.set_first_seq(seq + 1);
  for (auto& e : *batch.mutable_events()) {
    e.set_seq(++seq);
    e.set_ts_ns(1'790'000'000'000'000'000ULL + seq);
    if (seq % 50 == 0) {
      e.set_alert_id("a-" + std::to_string(seq));
    } else {
      e.clear_alert_id();
    }
  }
  batch.set_last_seq(seq);
}

// One store per run of BM_StoreIngestConcurrent, made before its threads start.
struct SharedStore {
  vigil::test::TempDir dir;
  std::unique_ptr<vigil::collector::Store> store;
};
std::unique_ptr<SharedStore> g_shared;

void open_shared_store(const benchmark::State& state) {
  g_shared = std::make_unique<SharedStore>();
  auto s = vigil::collector::Store::open(g_shared->dir.path(), {.sync = true});
  if (!s) {
    g_shared.reset();
    return;
  }
  g_shared->store = std::move(*s);
  for (int t = 0; t < state.threads(); ++t) {
    vigil::v1::Hello hello;
    hello.set_agent_id("agent-" + std::to_string(t));
    hello.set_host_id("host-" + std::to_string(t));
    (void)g_shared->store->register_agent(hello, 1);
  }
}

void close_shared_store(const benchmark::State& /*state*/) { g_shared.reset(); }

// state.threads() agents, one thread each, ingesting batches of range(0)
// events into one store with WAL fsync, as the collector's writer threads do:
// the store's own locking, then RocksDB's group commit (several agents'
// batches, one fsync). items/s is the sum over the threads.
void BM_StoreIngestConcurrent(benchmark::State& state) {
  if (!g_shared) {
    state.SkipWithError("store did not open");
    return;
  }
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::string agent = "agent-" + std::to_string(state.thread_index());
  vigil::v1::EventBatch batch;
  std::uint64_t seq = 0;
  for (auto _ : state) {
    next_batch(seq, n, batch);
    if (!g_shared->store->ingest(agent, batch, 1)) {
      state.SkipWithError("ingest failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_StoreIngestConcurrent)
    ->Setup(open_shared_store)
    ->Teardown(close_shared_store)
    ->Arg(100)
    ->Arg(1000)
    ->Threads(1)
    ->Threads(4)
    ->Threads(8)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The collector's correlator over vigil-loadgen's event mix (30 % exec, 20 %
// fork, 20 % exit, 15 % connect, 12 % file, 2 % ptrace, 1 % XDP summary; pids
// drawn from 1000-31000, parents from 1-1000) from range(0) hosts: one
// iteration is one 1000-event batch of one host, hosts in turn, as ingest
// feeds it (under one lock).
void BM_CorrelatorObserve(benchmark::State& state) {
  auto rules = vigil::collector::load_correlation_rules({}, nullptr);
  if (!rules) {
    state.SkipWithError(rules.error().message.c_str());
    return;
  }
  vigil::collector::Correlator correlator({}, std::move(*rules));
  const auto hosts = static_cast<std::size_t>(state.range(0));
  std::vector<std::string> names;
  for (std::size_t h = 0; h < hosts; ++h) {
    names.push_back("host-" + std::to_string(h));
    correlator.set_host_addresses(names.back(), {"10.0.0." + std::to_string(h)});
  }
  std::mt19937_64 rng(42);
  static const char* kExes[] = {"/usr/bin/bash",    "/usr/bin/ls",
                                "/usr/sbin/sshd",   "/usr/bin/curl",
                                "/usr/bin/python3", "/usr/lib/systemd/systemd-journald"};
  std::vector<vigil::v1::Event> pool(4096);
  for (auto& e : pool) {
    const char* exe = kExes[rng() % std::size(kExes)];
    e.set_exe(exe);
    const auto pick = rng() % 100;
    if (pick < 30) {
      e.set_type("exec");
      e.mutable_exec()->set_filename(exe);
    } else if (pick < 50) {
      e.set_type("fork");
      e.mutable_fork();
    } else if (pick < 70) {
      e.set_type("exit");
    } else if (pick < 85) {
      e.set_type("connect");
      e.mutable_socket()->set_raddr("192.0.2." + std::to_string(rng() % 250));
    } else if (pick < 97) {
      e.set_type("file");
      e.mutable_file()->set_path("/etc/cron.d/job" + std::to_string(rng() % 10));
    } else if (pick < 99) {
      e.set_type("ptrace");
      e.set_score(75);
      e.add_indicators()->set_id("ptrace-attach");
    } else {
      e.set_type("net_summary");
      e.mutable_net_summary()->set_src("198.51.100." + std::to_string(rng() % 250));
      e.mutable_net_summary()->add_reasons("periodic");
    }
  }
  std::vector<vigil::v1::Alert> out;
  std::uint64_t now = 1'790'000'000ULL * kSec;
  std::size_t host = 0;
  std::size_t next = 0;
  for (auto _ : state) {
    const vigil::collector::EventOrigin from{.agent_id = names[host], .host = names[host]};
    for (int i = 0; i < 1000; ++i) {
      auto& e = pool[next++ % pool.size()];
      e.set_pid(static_cast<std::uint32_t>(1000 + rng() % 30000));
      e.set_ppid(static_cast<std::uint32_t>(1 + rng() % 1000));
      if (e.has_fork()) {
        e.mutable_fork()->set_child_pid(e.pid() + 1);
      }
      correlator.observe(from, e, now, out);
      now += 10'000;  // 100 000 events/s
    }
    out.clear();
    host = (host + 1) % hosts;
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_CorrelatorObserve)->Arg(100)->Unit(benchmark::kMicrosecond);

}  // namespace
