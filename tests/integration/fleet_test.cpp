// The fleet end to end: real vigil-collector and vigil-agent processes, real
// gRPC on loopback, real RocksDB in temp dirs, real probes in the kernel.
//   - three agents (distinct host ids) report; vigilctl shows three hosts and alerts;
//   - one source scanning all three (from a fourth namespace) is one fleet alert;
//   - the collector down for 30 s while events flow: all delivered exactly once;
//   - an agent killed mid-stream and restarted: no gap, no duplicate;
//   - vigil-loadgen's emulated agents are all acked; vigilctl's errors and exit codes;
//   - a model imported with vigilctl is signed, rolled out canary-first to two
//     agents that verify it, reaches the fleet, and is rolled back;
//   - the canary gate judges a model on its canary's behaviour against the
//     control agents' (agents played over gRPC): alerting on everything or on
//     nothing rolls it back, behaving like the control lets it reach the fleet.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/sync_stream.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "util/net.h"
#include "util/played_agent.h"
#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/clock.h"
#include "vigil/v1/agent.grpc.pb.h"
#include "vigil/v1/model.grpc.pb.h"
#include "vigil/v1/query.grpc.pb.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::sh;
using vigil::test::slurp;
using vigil::test::wait_until;
namespace fs = std::filesystem;

class Collector {
 public:
  explicit Collector(fs::path dir) : dir_(std::move(dir)) {}
  // Starts on `port` (0 = any); returns false if it did not come up.
  bool start(int port = 0, std::vector<std::string> extra = {}) {
    const auto run_dir = dir_ / ("run" + std::to_string(++runs_));
    fs::create_directories(run_dir);
    std::vector<std::string> args{VIGIL_COLLECTOR_BIN,
                                  "--listen",
                                  "127.0.0.1:" + std::to_string(port),
                                  "--data-dir",
                                  (dir_ / "data").string(),
                                  "--log-level",
                                  "warn"};
    if (std::find(extra.begin(), extra.end(), "--tls-cert") == extra.end()) {
      args.emplace_back("--insecure");  // plaintext unless the test brings TLS material
    }
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<Proc>(args, run_dir);
    std::smatch m;
    const std::regex re("listening agents=127\\.0\\.0\\.1:(\\d+)");
    if (!wait_until(
            [&] {
              const auto out = proc_->out();
              if (std::regex_search(out, m, re)) {
                port_ = std::stoi(m[1].str());
                return true;
              }
              return false;
            },
            10s)) {
      return false;
    }
    return true;
  }
  int stop() {
    kill(proc_->pid(), SIGTERM);
    return proc_->wait();
  }
  // A crash: no shutdown path runs.
  void kill9() {
    kill(proc_->pid(), SIGKILL);
    proc_->wait();
  }
  [[nodiscard]] std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string err() const { return proc_->err(); }
  [[nodiscard]] std::string out() const { return proc_->out(); }

 private:
  fs::path dir_;
  std::unique_ptr<Proc> proc_;
  int port_ = 0;
  int runs_ = 0;
};

std::unique_ptr<Proc> start_agent(const fs::path& dir, const std::string& host,
                                  const std::string& collector,
                                  std::vector<std::string> extra = {}) {
  static int n = 0;
  const auto run_dir = dir / (host + "-run" + std::to_string(++n));
  fs::create_directories(run_dir);
  std::vector<std::string> args = {VIGIL_AGENT_BIN,       "--host-id",        host,
                                   "--collector",         collector,          "--state-dir",
                                   (dir / host).string(), "--stats-interval", "0"};
  if (std::find(extra.begin(), extra.end(), "--tls-cert") == extra.end()) {
    args.emplace_back("--insecure");  // plaintext unless the test brings TLS material
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<Proc>(args, run_dir);
}

class Api {
 public:
  explicit Api(const std::string& addr)
      : stub_(vigil::v1::QueryService::NewStub(
            grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()))) {}

  std::vector<vigil::v1::AgentRecord> agents() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    vigil::v1::ListAgentsResponse resp;
    if (!stub_->ListAgents(&ctx, {}, &resp).ok()) return {};
    return {resp.agents().begin(), resp.agents().end()};
  }
  std::optional<vigil::v1::AgentRecord> agent(const std::string& id) {
    for (auto& a : agents()) {
      if (a.agent_id() == id) return a;
    }
    return std::nullopt;
  }
  // Every stored seq of one agent, in key (time) order, through all pages.
  std::vector<std::uint64_t> seqs(const std::string& agent_id) {
    std::vector<std::uint64_t> out;
    vigil::v1::QueryEventsRequest req;
    req.set_agent_id(agent_id);
    req.set_limit(10000);
    for (;;) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 30s);
      vigil::v1::QueryEventsResponse resp;
      if (!stub_->QueryEvents(&ctx, req, &resp).ok()) break;
      for (const auto& e : resp.events()) out.push_back(e.event().seq());
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return out;
  }
  std::vector<vigil::v1::Alert> alerts(bool fleet_only) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    vigil::v1::QueryAlertsRequest req;
    req.set_fleet_only(fleet_only);
    req.set_limit(1000);
    vigil::v1::QueryAlertsResponse resp;
    if (!stub_->QueryAlerts(&ctx, req, &resp).ok()) return {};
    return {resp.alerts().begin(), resp.alerts().end()};
  }

 private:
  std::unique_ptr<vigil::v1::QueryService::Stub> stub_;
};

// Runs /bin/true every `period` until stopped: steady real process events.
class ExecLoop {
 public:
  explicit ExecLoop(std::chrono::milliseconds period) {
    thread_ = std::thread([this, period] {
      while (!stop_) {
        pid_t pid = 0;
        char arg0[] = "/bin/true";
        char* argv[] = {arg0, nullptr};
        if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) == 0) {
          waitpid(pid, nullptr, 0);
          ++spawned_;
        }
        std::this_thread::sleep_for(period);
      }
    });
  }
  ~ExecLoop() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] std::uint64_t spawned() const { return spawned_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> spawned_{0};
  std::thread thread_;
};

std::uint64_t json_u64(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return 0;  // proto3 JSON omits zeros
  const auto& v = j[key];
  return v.is_string() ? std::stoull(v.get<std::string>()) : v.get<std::uint64_t>();
}

// Agent's final counters (written at exit).
nlohmann::json agent_stats(const fs::path& state_dir) {
  return nlohmann::json::parse(slurp(state_dir / "agent-stats.json"), nullptr, false);
}

// Asserts `seqs` is exactly 1..n, each once.
void expect_exactly_once(std::vector<std::uint64_t> seqs, std::uint64_t n) {
  std::ranges::sort(seqs);
  const auto dup = std::ranges::adjacent_find(seqs);
  EXPECT_EQ(dup, seqs.end()) << "duplicate seq " << (dup == seqs.end() ? 0 : *dup);
  ASSERT_EQ(seqs.size(), n) << "stored " << seqs.size() << " of " << n;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (seqs[i] != i + 1) {
      FAIL() << "gap: seq " << i + 1 << " missing";
    }
  }
}

// True once the collector's record of `agent_id` has acked beyond `seq` (and,
// if asked, shows the agent connected).
bool acked_beyond(Api& api, const std::string& agent_id, std::uint64_t seq,
                  bool connected = false) {
  const auto a = api.agent(agent_id);
  return a && (!connected || a->connected()) && a->acked_seq() > seq;
}

// BPF links in the kernel right now (bpftool; -1 if it cannot tell).
long bpf_link_count() {
  vigil::test::TempDir dir;
  Proc p({"/usr/sbin/bpftool", "-j", "link", "show"}, dir.path());
  if (p.wait() != 0) return -1;
  const auto j = nlohmann::json::parse(p.out(), nullptr, false);
  return j.is_array() ? static_cast<long>(j.size()) : -1;
}

int stop_agent(Proc& agent) {
  kill(agent.pid(), SIGINT);
  auto rc = agent.wait_for(30s);
  return rc ? *rc : -1;
}

// Stops `agent` (state in `state_dir`) and checks the delivery contract: its
// spool is empty and every seq it assigned, 1..N, is stored exactly once.
// Returns N (0 when the agent's counters cannot be read).
std::uint64_t stop_and_expect_delivered(Proc& agent, const fs::path& state_dir, Api& api,
                                        const std::string& agent_id) {
  EXPECT_EQ(stop_agent(agent), 0) << agent.err();
  const auto stats = agent_stats(state_dir);
  if (stats.is_discarded()) {
    ADD_FAILURE() << "no readable agent-stats.json in " << state_dir;
    return 0;
  }
  const auto n = stats["shipper"]["next_seq"].get<std::uint64_t>() - 1;
  EXPECT_EQ(stats["shipper"]["spool_events"], 0) << stats.dump();
  expect_exactly_once(api.seqs(agent_id), n);
  return n;
}

// ---------------------------------------------------------------------------
// Three hosts, one scanner namespace with a veth to each host's interface.

constexpr int kHosts = 3;
constexpr const char* kScanNs = "vgl-fleet-scan";
constexpr const char* kScanSrc = "10.201.0.9";

std::string root_if(int i) { return "vgl-f" + std::to_string(i) + "r"; }
std::string ns_if(int i) { return "vgl-f" + std::to_string(i) + "s"; }
std::string host_addr(int i) { return "10.201." + std::to_string(i) + ".1"; }

void teardown_scan_net() {
  for (int i = 1; i <= kHosts; ++i) sh("ip link del " + root_if(i));
  sh(std::string("ip netns del ") + kScanNs);
  sh(std::string("ip route del blackhole ") + kScanSrc + "/32");
}

bool setup_scan_net() {
  teardown_scan_net();
  bool ok = sh(std::string("ip netns add ") + kScanNs) &&
            sh(std::string("ip -n ") + kScanNs + " link set lo up") &&
            sh(std::string("ip -n ") + kScanNs + " addr add " + kScanSrc + "/32 dev lo") &&
            // Replies to the scanner die here: nothing leaves through the host's uplink.
            sh(std::string("ip route add blackhole ") + kScanSrc + "/32");
  for (int i = 1; ok && i <= kHosts; ++i) {
    const auto net = "10.201." + std::to_string(i);
    ok = sh("ip link add " + root_if(i) + " type veth peer name " + ns_if(i)) &&
         sh("ip link set " + ns_if(i) + " netns " + kScanNs) &&
         sh("ip addr add " + host_addr(i) + "/24 dev " + root_if(i)) &&
         sh("ip link set " + root_if(i) + " up") &&
         sh(std::string("ip -n ") + kScanNs + " addr add " + net + ".2/24 dev " + ns_if(i)) &&
         sh(std::string("ip -n ") + kScanNs + " link set " + ns_if(i) + " up") &&
         // The same source address towards every host: one scanner, several targets.
         sh(std::string("ip -n ") + kScanNs + " route add " + host_addr(i) + "/32 dev " + ns_if(i) +
            " src " + kScanSrc);
  }
  return ok;
}

// From inside the scanner namespace: one SYN to each of `ports` ports of each host.
int scan_hosts(int ports) {
  std::vector<std::string> targets;
  for (int i = 1; i <= kHosts; ++i) targets.push_back(host_addr(i));
  return vigil::test::syns_from_netns(kScanNs, targets, 2000, ports);
}

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 && std::getenv("CI") == nullptr) {
      GTEST_SKIP() << "needs root (set CI to make this a failure)";
    }
    ASSERT_EQ(::geteuid(), 0) << "privileged test not run as root under CI";
    ASSERT_TRUE(setup_scan_net()) << "veth/netns setup failed";
    collector_ = std::make_unique<Collector>(dir_.path() / "collector");
    ASSERT_TRUE(collector_->start()) << collector_->err();
    api_ = std::make_unique<Api>(collector_->addr());
    for (int i = 1; i <= kHosts; ++i) {
      agents_.push_back(start_agent(dir_.path(), "fleet-h" + std::to_string(i), collector_->addr(),
                                    {"--probes", "process,network", "--xdp-iface", root_if(i),
                                     "--host-addresses", host_addr(i)}));
    }
    ASSERT_TRUE(wait_until(
        [&] {
          int connected = 0;
          for (const auto& a : api_->agents()) connected += a.connected() ? 1 : 0;
          return connected == kHosts;
        },
        30s))
        << agents_[0]->err();
  }
  void TearDown() override {
    for (auto& a : agents_) {
      if (a) stop_agent(*a);
    }
    if (collector_) collector_->stop();
    teardown_scan_net();
  }

  vigil::test::TempDir dir_;
  std::unique_ptr<Collector> collector_;
  std::unique_ptr<Api> api_;
  std::vector<std::unique_ptr<Proc>> agents_;
};

TEST_F(FleetTest, VigilctlReportShowsThreeHostsAndTheirAlerts) {
  // A ptrace attach on this (shared) kernel: every agent sees and scores it.
  const pid_t target = vigil::test::ptrace_attach_a_child();
  ASSERT_GT(target, 0) << "PTRACE_ATTACH failed";

  ASSERT_TRUE(wait_until(
      [&] {
        std::set<std::string> hosts;
        for (const auto& a : api_->alerts(false)) {
          if (a.kind() == "ptrace-attach") hosts.insert(a.host());
        }
        return hosts.size() == kHosts;
      },
      15s));

  // Three agents on one kernel also see this test binary's own execs; when it runs
  // from a writable place (a CI clone under /tmp) that is a fleet-novel-exe alert
  // too, so look for the ptrace alert among the top ones rather than first.
  fs::create_directories(dir_.path() / "ctl");
  Proc ctl({VIGILCTL_BIN, "--collector", collector_->addr(), "--insecure", "--json", "report",
            "--top", "100"},
           dir_.path() / "ctl");
  ASSERT_EQ(ctl.wait(), 0) << ctl.err();
  const auto report = nlohmann::json::parse(ctl.out(), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << ctl.out();
  std::set<std::string> hosts;
  for (const auto& h : report["hosts"]) {
    hosts.insert(h["host"].get<std::string>());
    EXPECT_GE(json_u64(h, "alerts"), 1U) << h.dump();
    EXPECT_GE(json_u64(h, "risk"), 50U) << h.dump();
    EXPECT_GT(json_u64(h, "events"), 0U) << h.dump();
    EXPECT_TRUE(h["agent"].value("connected", false)) << h.dump();
  }
  EXPECT_EQ(hosts, (std::set<std::string>{"fleet-h1", "fleet-h2", "fleet-h3"}));
  std::string id;
  std::string alert_host;
  for (const auto& a : report["top_alerts"]) {
    if (a["kind"] == "ptrace-attach") {
      id = a["id"].get<std::string>();
      alert_host = a["host"].get<std::string>();
      break;
    }
  }
  ASSERT_FALSE(id.empty()) << report["top_alerts"].dump();

  // The table form names every host too.
  fs::create_directories(dir_.path() / "table");
  Proc table({VIGILCTL_BIN, "--collector", collector_->addr(), "--insecure", "report"},
             dir_.path() / "table");
  ASSERT_EQ(table.wait(), 0);
  for (const auto& h : hosts) EXPECT_NE(table.out().find(h), std::string::npos) << table.out();

  // Feedback reaches the stored alert.
  fs::create_directories(dir_.path() / "fb");
  Proc fb({VIGILCTL_BIN, "--collector", collector_->addr(), "--insecure", "feedback", id, "--label",
           "benign"},
          dir_.path() / "fb");
  ASSERT_EQ(fb.wait(), 0) << fb.err();
  bool labelled = false;
  for (const auto& a : api_->alerts(false)) labelled |= a.id() == id && a.label() == "benign";
  EXPECT_TRUE(labelled);
  // ...and the agent that raised it: it suppresses that indicator for that program.
  const auto& raiser = agents_.at(static_cast<std::size_t>(alert_host.back() - '1'));
  EXPECT_TRUE(
      wait_until([&] { return raiser->err().find("labelled benign") != std::string::npos; }, 10s))
      << raiser->err();
}

TEST_F(FleetTest, OneSourceScanningThreeHostsIsOneFleetAlertNamingAll) {
  ASSERT_EQ(scan_hosts(300), 0);
  std::vector<vigil::v1::Alert> scans;
  wait_until(
      [&] {
        scans.clear();
        for (auto& a : api_->alerts(true)) {
          if (a.kind() == "fleet-scan") scans.push_back(a);
        }
        return scans.size() == 1 && scans[0].hosts_size() == kHosts;
      },
      20s);
  ASSERT_EQ(scans.size(), 1U) << "one fleet alert for one scanner";
  EXPECT_EQ(std::set<std::string>(scans[0].hosts().begin(), scans[0].hosts().end()),
            (std::set<std::string>{"fleet-h1", "fleet-h2", "fleet-h3"}));
  EXPECT_NE(scans[0].summary().find(kScanSrc), std::string::npos) << scans[0].summary();
  EXPECT_TRUE(scans[0].fleet());
}

// ---------------------------------------------------------------------------

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 && std::getenv("CI") == nullptr) {
      GTEST_SKIP() << "needs root (set CI to make this a failure)";
    }
    ASSERT_EQ(::geteuid(), 0) << "privileged test not run as root under CI";
  }
  vigil::test::TempDir dir_;
};

TEST_F(DeliveryTest, CollectorDownFor30sLosesNothingAndDuplicatesNothing) {
  Collector collector(dir_.path() / "collector");
  ASSERT_TRUE(collector.start()) << collector.err();
  Api api(collector.addr());
  auto agent = start_agent(dir_.path(), "outage-h", collector.addr());
  ExecLoop load(20ms);
  ASSERT_TRUE(wait_until([&] { return acked_beyond(api, "outage-h", 20); }, 20s)) << agent->err();

  // Nothing is lost when the collector dies right after acking: read the mark first.
  const auto before = api.agent("outage-h");
  ASSERT_TRUE(before);
  ASSERT_EQ(collector.stop(), 0);
  EXPECT_FALSE(api.agent("outage-h")) << "the collector is down";
  const auto spawned_before = load.spawned();
  // 30 s in CI; VIGIL_OUTAGE_S=600 for the long run (docs/reliability.md).
  const char* outage_env = std::getenv("VIGIL_OUTAGE_S");
  std::this_thread::sleep_for(std::chrono::seconds(outage_env ? std::atoi(outage_env) : 30));
  EXPECT_GT(load.spawned(), spawned_before + 100);
  ASSERT_TRUE(collector.start(collector.port())) << collector.err();
  Api api2(collector.addr());
  const auto acked_at_restart = before->acked_seq();
  // The agent reconnects on its own and replays the spool: 30 s of events.
  ASSERT_TRUE(wait_until(
      [&] { return acked_beyond(api2, "outage-h", acked_at_restart + 1000, /*connected=*/true); },
      60s))
      << "acked before the outage " << acked_at_restart << ", now "
      << (api2.agent("outage-h") ? api2.agent("outage-h")->acked_seq() : 0) << ", spawned "
      << load.spawned() << "\nagent:\n"
      << agent->err() << "\ncollector:\n"
      << collector.err();
  load.stop();
  const auto n = stop_and_expect_delivered(*agent, dir_.path() / "outage-h", api2, "outage-h");
  EXPECT_EQ(agent_stats(dir_.path() / "outage-h")["shipper"]["spool_dropped"], 0);
  EXPECT_GT(n, 300U);  // 30 s of /bin/true every 20 ms: exec, fork, exit each
}

// The collector SIGKILLed while an agent streams, again and again (3 times here;
// VIGIL_CRASH_LOOPS=20 for the long run in docs/reliability.md): after every
// restart the durable mark is at least what was acked before the crash, and in
// the end every event is stored exactly once. Replays of events the collector
// already had (acked too late to reach the agent) are counted, not stored twice.
TEST_F(DeliveryTest, CollectorKilledRepeatedlyKeepsEveryAckedEventExactlyOnce) {
  const char* loops_env = std::getenv("VIGIL_CRASH_LOOPS");
  const int loops = loops_env != nullptr ? std::atoi(loops_env) : 3;
  Collector collector(dir_.path() / "collector");
  ASSERT_TRUE(collector.start()) << collector.err();
  auto agent = start_agent(dir_.path(), "crash-h", collector.addr());
  ExecLoop load(10ms);
  {
    // Its own channel, closed before the crashes: a channel left in reconnect
    // backoff would make the next ones to this address fail fast.
    Api first(collector.addr());
    ASSERT_TRUE(wait_until([&] { return acked_beyond(first, "crash-h", 20); }, 20s))
        << agent->err();
  }
  for (int i = 0; i < loops; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(700 + 300 * (i % 3)));
    const auto before = Api(collector.addr()).agent("crash-h");
    ASSERT_TRUE(before);
    collector.kill9();
    ASSERT_TRUE(collector.start(collector.port())) << "restart " << i << ": " << collector.err();
    Api api(collector.addr());
    const auto after = api.agent("crash-h");  // read back from RocksDB, before any replay
    ASSERT_TRUE(after);
    EXPECT_GE(after->acked_seq(), before->acked_seq()) << "an acked event was lost in crash " << i;
    ASSERT_TRUE(wait_until(
        [&] { return acked_beyond(api, "crash-h", after->acked_seq(), /*connected=*/true); }, 30s))
        << "the agent reconnects and delivers after crash " << i << "\n"
        << agent->err();
  }
  load.stop();
  Api api(collector.addr());
  const auto n = stop_and_expect_delivered(*agent, dir_.path() / "crash-h", api, "crash-h");
  const auto rec = api.agent("crash-h");
  ASSERT_TRUE(rec);
  std::printf("collector crashes: %d, events: %llu, replayed duplicates dropped: %llu\n", loops,
              static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(rec->duplicates()));
  RecordProperty("replayed_duplicates", static_cast<int>(rec->duplicates()));
}

// The collector's data dir on a small file system that fills up: ingestion
// stops acking with a clear "disk full" status before RocksDB ever sees ENOSPC,
// the agent keeps its events in its spool, and when space returns everything is
// delivered exactly once without a restart.
TEST_F(DeliveryTest, DiskFullStopsAckingLosesNothingAndRecovers) {
  const auto mnt = dir_.path() / "small";
  fs::create_directories(mnt);
  ASSERT_TRUE(sh("mount -t tmpfs -o size=64m vigil-test " + mnt.string()));
  struct Unmount {
    fs::path p;
    ~Unmount() { sh("umount -l " + p.string()); }
  } unmount{mnt};
  Collector collector(mnt);  // data in mnt/data
  ASSERT_TRUE(collector.start(0, {"--min-free-mb", "16"})) << collector.err();
  Api api(collector.addr());
  auto agent = start_agent(dir_.path(), "full-h", collector.addr());
  ExecLoop load(10ms);
  ASSERT_TRUE(wait_until([&] { return acked_beyond(api, "full-h", 20); }, 20s)) << agent->err();

  // Fill the file system to 8 MiB free: below the collector's 16 MiB floor.
  struct statvfs st {};
  ASSERT_EQ(statvfs(mnt.c_str(), &st), 0);
  const auto free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  ASSERT_GT(free_bytes, 9ULL << 20);
  ASSERT_TRUE(sh("fallocate -l " + std::to_string(free_bytes - (8ULL << 20)) + " " +
                 (mnt / "filler").string()));
  ASSERT_TRUE(wait_until([&] { return agent->err().find("disk full:") != std::string::npos; }, 20s))
      << agent->err();
  const auto stalled = api.agent("full-h")->acked_seq();
  std::this_thread::sleep_for(3s);  // events keep coming; none is acked
  EXPECT_EQ(api.agent("full-h")->acked_seq(), stalled) << "nothing acked while the disk is full";
  EXPECT_NE(collector.err().find("disk full:"), std::string::npos) << "the collector says why";

  fs::remove(mnt / "filler");  // space returns: no restart needed
  ASSERT_TRUE(wait_until(
      [&] { return acked_beyond(api, "full-h", stalled + 300, /*connected=*/true); }, 40s))
      << agent->err();
  load.stop();
  stop_and_expect_delivered(*agent, dir_.path() / "full-h", api, "full-h");
  EXPECT_EQ(collector.stop(), 0);
}

TEST_F(DeliveryTest, AgentKilledMidStreamAndRestartedLeavesNoGapAndNoDuplicate) {
  Collector collector(dir_.path() / "collector");
  ASSERT_TRUE(collector.start()) << collector.err();
  const auto links_before = bpf_link_count();
  ASSERT_GE(links_before, 0) << "bpftool -j link show failed";
  Api api(collector.addr());
  ExecLoop load(10ms);
  auto agent = start_agent(dir_.path(), "restart-h", collector.addr());
  ASSERT_TRUE(wait_until([&] { return acked_beyond(api, "restart-h", 50); }, 20s)) << agent->err();
  kill(agent->pid(), SIGKILL);  // no goodbye: the spool is all there is
  agent->wait();
  // Nothing of the dead agent stays in the kernel: its links went with its
  // file descriptors, and it pins nothing.
  EXPECT_TRUE(wait_until([&] { return bpf_link_count() == links_before; }, 10s))
      << bpf_link_count() << " BPF links, " << links_before << " before the agent started";
  EXPECT_FALSE(sh("ls /sys/fs/bpf | grep -qi vigil"));
  agent = start_agent(dir_.path(), "restart-h", collector.addr());
  const auto at_restart = api.agent("restart-h");
  ASSERT_TRUE(at_restart);
  const auto acked_at_restart = at_restart->acked_seq();
  ASSERT_TRUE(wait_until(
      [&] { return acked_beyond(api, "restart-h", acked_at_restart + 50, /*connected=*/true); },
      30s))
      << agent->err();
  load.stop();
  const auto n = stop_and_expect_delivered(*agent, dir_.path() / "restart-h", api, "restart-h");
  EXPECT_EQ(api.agent("restart-h")->acked_seq(), n);
}

TEST_F(DeliveryTest, LoadgenAgentsAreAllAckedAndStored) {
  Collector collector(dir_.path() / "collector");
  ASSERT_TRUE(collector.start()) << collector.err();
  Proc gen({VIGIL_LOADGEN_BIN, "--collector", collector.addr(), "--insecure", "--agents", "5",
            "--rate", "2000", "--duration", "3", "--prefix", "lg"},
           dir_.path());
  ASSERT_EQ(gen.wait(), 0) << gen.out() << gen.err();
  const auto result = nlohmann::json::parse(gen.out(), nullptr, false);
  ASSERT_FALSE(result.is_discarded()) << gen.out();
  EXPECT_EQ(result["acked"], result["sent"]);
  EXPECT_GT(result["sent"].get<std::uint64_t>(), 5U * 2000);
  Api api(collector.addr());
  std::uint64_t stored = 0;
  for (const auto& a : api.agents()) stored += a.events_stored();
  EXPECT_EQ(stored, result["sent"].get<std::uint64_t>());
}

TEST(Vigilctl, ClearErrorsAndExitCodes) {
  vigil::test::TempDir dir;
  Proc unreachable(
      {VIGILCTL_BIN, "--collector", "127.0.0.1:1", "--insecure", "--timeout", "2", "agents"},
      dir.path());
  EXPECT_EQ(unreachable.wait(), 3);
  EXPECT_NE(unreachable.err().find("unreachable"), std::string::npos) << unreachable.err();
  Proc bad_label({VIGILCTL_BIN, "feedback", "x", "--label", "maybe"}, dir.path());
  EXPECT_EQ(bad_label.wait(), 2);
  Proc bad_since({VIGILCTL_BIN, "events", "--since", "yesterday"}, dir.path());
  EXPECT_EQ(bad_since.wait(), 2);
  EXPECT_NE(bad_since.err().find("duration"), std::string::npos);
  Proc no_cmd({VIGILCTL_BIN}, dir.path());
  EXPECT_EQ(no_cmd.wait(), 2);
}

// Runs vigilctl against `collector`; returns its exit code, stdout in `out`.
int vigilctl(const fs::path& dir, const std::string& collector, std::vector<std::string> args,
             std::string* out = nullptr) {
  std::vector<std::string> argv = {VIGILCTL_BIN, "--collector", collector, "--insecure"};
  argv.insert(argv.end(), args.begin(), args.end());
  Proc p(argv, dir);
  const int rc = p.wait();
  if (out != nullptr) *out = p.out();
  if (rc != 0) std::fprintf(stderr, "vigilctl %s: %s\n", args.front().c_str(), p.err().c_str());
  return rc;
}

// The first line of a file, without its newline.
std::string first_line(const fs::path& path) {
  std::string text = slurp(path);
  return text.substr(0, text.find('\n'));
}

TEST(ModelRollout, SignedModelGoesCanaryThenFleetAndRollsBack) {
  vigil::test::TempDir dir;
  // The operators' release key, made offline; the collector gets its public half.
  const auto release_key = dir.path() / "release.key";
  {
    Proc keygen({VIGILCTL_BIN, "models", "keygen", "--out", release_key.string()}, dir.path());
    ASSERT_EQ(keygen.wait(), 0) << keygen.err();
  }
  const std::string release_pub = first_line(release_key.string() + ".pub");
  ASSERT_EQ(release_pub.size(), 64U);
  // Two real agents on one host ship too few events in an 8 s soak for the
  // behaviour comparison (held for data); it has its own test below.
  const auto config = dir.path() / "collector.yaml";
  std::ofstream(config) << "canary_gate: false\n";
  Collector collector(dir.path());
  ASSERT_TRUE(
      collector.start(0, {"--config", config.string(), "--model-release-pubkey", release_pub}));
  const auto pub_path = dir.path() / "data" / "model-signing.key.pub";
  ASSERT_TRUE(wait_until([&] { return fs::exists(pub_path); }, 5s));
  std::string pub = slurp(pub_path);
  pub.erase(pub.find_last_not_of("\n") + 1);
  ASSERT_EQ(pub.size(), 64U);

  const std::vector<std::string> keys = {"--model-pubkey", pub, "--model-release-pubkey",
                                         release_pub};
  auto a = start_agent(dir.path(), "roll-a", collector.addr(), keys);
  auto b = start_agent(dir.path(), "roll-b", collector.addr(), keys);
  Api api(collector.addr());
  std::string shipped;
  ASSERT_TRUE(wait_until(
      [&] {
        auto ra = api.agent("roll-a");
        auto rb = api.agent("roll-b");
        if (!ra || !rb || !ra->connected() || !rb->connected()) return false;
        shipped = ra->model_version();
        return !shipped.empty() && rb->model_version() == shipped;
      },
      20s))
      << "both agents connect running the shipped model";
  // Agents already on the active model are left alone while they ship events.
  for (int i = 0; i < 20; ++i) sh("/bin/true");
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(a->err().find(" -> "), std::string::npos) << "no model update before a rollout";

  // The registry starts with the shipped model, active; make a new version of it.
  auto models = vigil::v1::ModelService::NewStub(
      grpc::CreateChannel(collector.addr(), grpc::InsecureChannelCredentials()));
  vigil::v1::GetModelResponse active;
  {
    grpc::ClientContext ctx;
    vigil::v1::GetModelRequest req;
    req.set_version(shipped);
    ASSERT_TRUE(models->GetModel(&ctx, req, &active).ok());
  }
  EXPECT_EQ(active.info().state(), "active");
  vigil::v1::Model next;
  ASSERT_TRUE(next.ParseFromString(active.model()));
  next.set_version("it-next");
  const auto file = dir.path() / "it-next.pb";
  std::ofstream(file, std::ios::binary) << next.SerializeAsString();
  ASSERT_EQ(vigilctl(dir.path(), collector.addr(), {"models", "import", file.string()}), 0);

  std::string out;
  ASSERT_EQ(vigilctl(dir.path(), collector.addr(), {"models", "show", "it-next"}, &out), 0);
  EXPECT_NE(out.find("state:          candidate"), std::string::npos) << out;
  EXPECT_NE(out.find("6 population networks"), std::string::npos) << out;
  EXPECT_NE(out.find("signature:      ed25519, 64 bytes"), std::string::npos) << out;
  EXPECT_EQ(vigilctl(dir.path(), collector.addr(), {"models", "show", "no-such-model"}), 1);
  ASSERT_EQ(
      vigilctl(dir.path(), collector.addr(),
               {"--json", "models", "rollout", "it-next", "--canary", "0.5", "--soak", "8"}, &out),
      0);
  auto st = nlohmann::json::parse(out);
  EXPECT_EQ(st["phase"], "canary");
  ASSERT_EQ(st["canary_agents"].size(), 1U);
  const std::string canary = st["canary_agents"][0];
  const std::string other = canary == "roll-a" ? "roll-b" : "roll-a";
  ASSERT_TRUE(wait_until([&] { return api.agent(canary)->model_version() == "it-next"; }, 10s))
      << "the canary verified the signature and swapped models";
  EXPECT_EQ(api.agent(other)->model_version(), shipped) << "the rest waits for the soak";
  // The soak ends, the canary is healthy, but nobody released the model: it
  // stays at the canary and says why.
  ASSERT_TRUE(wait_until(
      [&] {
        return vigilctl(dir.path(), collector.addr(), {"models", "status"}, &out) == 0 &&
               out.find(
                   "waiting for a release signature: vigilctl models sign --key KEY "
                   "it-next") != std::string::npos;
      },
      20s))
      << out;
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(vigilctl(dir.path(), collector.addr(), {"--json", "models", "status"}, &out), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["phase"], "canary");
  EXPECT_EQ(api.agent(other)->model_version(), shipped) << "the fleet keeps the old model";

  // An operator releases it with the offline key: signed here, signatures uploaded.
  const auto wrong_key = dir.path() / "wrong.key";
  ASSERT_EQ(
      vigilctl(dir.path(), collector.addr(), {"models", "keygen", "--out", wrong_key.string()}), 0);
  EXPECT_EQ(vigilctl(dir.path(), collector.addr(),
                     {"models", "sign", "--key", wrong_key.string(), "it-next"}),
            1)
      << "not the collector's release key";
  ASSERT_EQ(vigilctl(dir.path(), collector.addr(),
                     {"models", "sign", "--key", release_key.string(), "it-next"}, &out),
            0);
  EXPECT_NE(out.find("released for the fleet as release 1"), std::string::npos) << out;
  ASSERT_TRUE(wait_until([&] { return api.agent(other)->model_version() == "it-next"; }, 25s))
      << "once released, the fleet gets it";
  ASSERT_EQ(vigilctl(dir.path(), collector.addr(), {"--json", "models", "status"}, &out), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["phase"], "fleet");
  ASSERT_EQ(vigilctl(dir.path(), collector.addr(), {"models", "show", "it-next"}, &out), 0);
  EXPECT_NE(out.find("release:        1, signed by the release key"), std::string::npos) << out;

  // The persisted update, tampered with while the agent is stopped (the
  // model now scores everything 0), is not used at the next start.
  kill(b->pid(), SIGTERM);
  b->wait();
  const auto envelope = dir.path() / "roll-b" / "model-release.pb";
  vigil::v1::ModelUpdate persisted;
  ASSERT_TRUE(persisted.ParseFromString(slurp(envelope))) << envelope;
  EXPECT_EQ(persisted.version(), "it-next");
  vigil::v1::Model blind;
  ASSERT_TRUE(blind.ParseFromString(persisted.model()));
  blind.mutable_combiner()->set_bias(-100);
  persisted.set_model(blind.SerializeAsString());
  std::ofstream(envelope, std::ios::binary | std::ios::trunc) << persisted.SerializeAsString();
  b = start_agent(dir.path(), "roll-b", collector.addr(), keys);
  ASSERT_TRUE(wait_until(
      [&] {
        return b->err().find("model-release.pb: model update 'it-next' refused") !=
               std::string::npos;
      },
      10s))
      << b->err();
  EXPECT_NE(b->err().find("scoring model " + shipped + " "), std::string::npos)
      << "it starts on the built-in default: " << b->err();
  ASSERT_TRUE(wait_until([&] { return api.agent("roll-b")->model_version() == "it-next"; }, 20s))
      << "and takes the genuine release from the collector again";

  // An agent that trusts another key refuses the fleet's model (as it would a
  // tampered one), keeps its own, and the refusal shows in `vigilctl agents`.
  auto c =
      start_agent(dir.path(), "roll-c", collector.addr(),
                  {"--model-pubkey", std::string(64, 'a'), "--model-release-pubkey", release_pub});
  ASSERT_TRUE(wait_until(
      [&] {
        out.clear();
        return vigilctl(dir.path(), collector.addr(), {"--json", "agents"}, &out) == 0 &&
               out.find("\"model_refusal\":\"it-next: ") != std::string::npos;
      },
      30s))
      << out << c->err();
  EXPECT_EQ(api.agent("roll-c")->model_version(), shipped);
  EXPECT_EQ(api.agent("roll-c")->model_refusals(), 1U);
  ASSERT_EQ(vigilctl(dir.path(), collector.addr(), {"agents"}, &out), 0);
  EXPECT_NE(out.find(shipped + " (refused 1: it-next: "), std::string::npos) << out;

  ASSERT_EQ(vigilctl(dir.path(), collector.addr(),
                     {"models", "rollback", "--reason", "integration test"}),
            0);
  ASSERT_TRUE(wait_until(
      [&] {
        return api.agent("roll-a")->model_version() == shipped &&
               api.agent("roll-b")->model_version() == shipped;
      },
      20s))
      << "rollback returns every agent to the previous model";
  ASSERT_EQ(vigilctl(dir.path(), collector.addr(), {"--json", "models", "list"}, &out), 0);
  const auto list = nlohmann::json::parse(out);
  for (const auto& m : list["models"]) {
    EXPECT_EQ(m["state"], m["version"] == "it-next" ? "rolled_back" : "active") << m.dump();
  }
  EXPECT_EQ(list["signing_public_key"], pub);
  EXPECT_EQ(list["release_public_key"], release_pub);
}

// Four agents played over real gRPC, the first two (by id) the canary, each
// shipping 250 events/s scored as the model it runs would score them: "noisy-"
// models alert on every event (score 90), "blind-" models on none (score 5),
// any other model on 1 in 25 (score 80; the rest 10). Three rollouts with a
// 4 s soak: the noisy and the blind model are rolled back automatically, the
// one behaving like the control (released meanwhile) reaches the fleet.
TEST(ModelRollout, CanaryIsJudgedOnItsBehaviourAgainstTheControl) {
  vigil::test::TempDir dir;
  const auto release_key = dir.path() / "release.key";
  {
    Proc keygen({VIGILCTL_BIN, "models", "keygen", "--out", release_key.string()}, dir.path());
    ASSERT_EQ(keygen.wait(), 0) << keygen.err();
  }
  const std::string release_pub = first_line(release_key.string() + ".pub");
  const auto config = dir.path() / "collector.yaml";
  std::ofstream(config) << "canary_gate_min_events: 200\n";
  Collector collector(dir.path());
  ASSERT_TRUE(
      collector.start(0, {"--config", config.string(), "--model-release-pubkey", release_pub}));
  const auto addr = collector.addr();

  // The shipped model (active), and three copies of it under other versions.
  auto models = vigil::v1::ModelService::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  std::string shipped;
  {
    grpc::ClientContext ctx;
    vigil::v1::ListModelsResponse list;
    ASSERT_TRUE(models->ListModels(&ctx, {}, &list).ok());
    for (const auto& m : list.models()) {
      if (m.state() == "active") shipped = m.version();
    }
  }
  ASSERT_FALSE(shipped.empty());
  vigil::v1::GetModelResponse active;
  {
    grpc::ClientContext ctx;
    vigil::v1::GetModelRequest req;
    req.set_version(shipped);
    ASSERT_TRUE(models->GetModel(&ctx, req, &active).ok());
  }
  for (const std::string version : {"noisy-1", "blind-1", "calm-1"}) {
    vigil::v1::Model m;
    ASSERT_TRUE(m.ParseFromString(active.model()));
    m.set_version(version);
    const auto file = dir.path() / (version + ".pb");
    std::ofstream(file, std::ios::binary) << m.SerializeAsString();
    ASSERT_EQ(vigilctl(dir.path(), addr, {"models", "import", file.string()}), 0) << version;
  }

  const std::vector<std::string> ids = {"gate-a1", "gate-a2", "gate-b1", "gate-b2"};
  std::vector<std::unique_ptr<vigil::test::PlayedAgent>> agents;
  for (const auto& id : ids) {
    agents.push_back(std::make_unique<vigil::test::PlayedAgent>(addr, id, shipped));
  }
  Api api(addr);
  ASSERT_TRUE(wait_until(
      [&] {
        return std::ranges::all_of(ids, [&](const auto& id) {
          const auto a = api.agent(id);
          return a && a->connected() && a->model_version() == shipped;
        });
      },
      10s));
  std::atomic<bool> stop{false};
  std::thread shipper([&] {
    std::uint64_t n = 0;
    while (!stop) {
      for (auto& a : agents) {
        const auto model = a->model();
        std::vector<vigil::v1::Event> events;
        for (int i = 0; i < 25; ++i, ++n) {
          vigil::v1::Event e;
          e.set_type("exec");
          e.set_ts_ns(vigil::unix_now_ns());
          e.set_comm("played");
          const bool alert = model.starts_with("noisy") || (!model.starts_with("blind") && i == 0);
          e.set_score(model.starts_with("noisy")   ? 90
                      : model.starts_with("blind") ? 5
                      : alert                      ? 80
                                                   : 10);
          if (alert) e.set_alert_id("gate-" + std::to_string(n / 5));
          events.push_back(std::move(e));
        }
        a->send(std::move(events));
      }
      std::this_thread::sleep_for(100ms);
    }
  });
  struct StopShipping {
    std::atomic<bool>& stop;
    std::thread& t;
    ~StopShipping() {
      stop = true;
      t.join();
    }
  } stop_shipping{stop, shipper};

  const auto rollout = [&](const std::string& version) {
    std::string out;
    EXPECT_EQ(
        vigilctl(dir.path(), addr,
                 {"--json", "models", "rollout", version, "--canary", "0.5", "--soak", "4"}, &out),
        0);
    const auto st = nlohmann::json::parse(out, nullptr, false);
    EXPECT_EQ(st.value("canary_agents", nlohmann::json::array()),
              nlohmann::json({"gate-a1", "gate-a2"}))
        << out;
  };
  const auto settled = [&](const std::string& phase) {
    nlohmann::json st;
    EXPECT_TRUE(wait_until(
        [&] {
          std::string out;
          if (vigilctl(dir.path(), addr, {"--json", "models", "status"}, &out) != 0) return false;
          st = nlohmann::json::parse(out, nullptr, false);
          return !st.is_discarded() && st.value("phase", "") == phase;
        },
        30s))
        << st.dump();
    return st;
  };
  const auto canary_runs = [&](const std::string& version) {
    return wait_until(
        [&] { return agents[0]->model() == version && agents[1]->model() == version; }, 10s);
  };
  // A field of the last comparison (64-bit counts are strings in proto JSON).
  const auto number = [](const nlohmann::json& st, const char* group, const char* field) {
    const auto g = st.value("behaviour", nlohmann::json::object()).value(group, nlohmann::json{});
    if (!g.is_object() || !g.contains(field)) return 0.0;
    const auto& v = g[field];
    return v.is_string() ? std::stod(v.get<std::string>()) : v.get<double>();
  };

  // Alerts on everything: rolled back, the canary returns to the shipped model.
  rollout("noisy-1");
  EXPECT_TRUE(canary_runs("noisy-1"));
  auto st = settled("rolled_back");
  const std::string noisy_reason = st.value("reason", "");
  EXPECT_NE(noisy_reason.find("canary gate failed: canary alerts on everything"), std::string::npos)
      << noisy_reason;
  EXPECT_EQ(st["behaviour"].value("verdict", ""), "rollback") << st.dump();
  EXPECT_GT(number(st, "canary", "alerts_per_1k"), 900) << st.dump();
  EXPECT_NEAR(number(st, "control", "alerts_per_1k"), 40, 5) << st.dump();
  EXPECT_GE(number(st, "canary", "events"), 200) << st.dump();
  EXPECT_TRUE(canary_runs(shipped)) << "the canary gets the shipped model back";

  // Alerts on nothing while the control alerts: rolled back.
  rollout("blind-1");
  EXPECT_TRUE(canary_runs("blind-1"));
  st = settled("rolled_back");
  const std::string blind_reason = st.value("reason", "");
  EXPECT_NE(blind_reason.find("canary gate failed: canary alerts on nothing"), std::string::npos)
      << blind_reason;
  EXPECT_EQ(number(st, "canary", "alert_events"), 0) << st.dump();
  EXPECT_NEAR(number(st, "control", "alerts_per_1k"), 40, 5) << st.dump();
  EXPECT_TRUE(canary_runs(shipped));
  EXPECT_EQ(agents[2]->model_updates(), 0) << "the control never saw either model";
  EXPECT_EQ(agents[3]->model_updates(), 0);

  // Behaves like the control, and is released: the fleet gets it.
  rollout("calm-1");
  EXPECT_TRUE(canary_runs("calm-1"));
  std::string out;
  ASSERT_EQ(
      vigilctl(dir.path(), addr, {"models", "sign", "--key", release_key.string(), "calm-1"}, &out),
      0);
  st = settled("fleet");
  const std::string calm_reason = st.value("reason", "");
  EXPECT_NE(calm_reason.find("rolled out to the fleet; behaves like the control"),
            std::string::npos)
      << calm_reason;
  EXPECT_EQ(st["behaviour"].value("verdict", ""), "pass") << st.dump();
  EXPECT_NEAR(number(st, "canary", "alerts_per_1k"), 40, 5) << st.dump();
  EXPECT_TRUE(wait_until(
      [&] { return std::ranges::all_of(agents, [](auto& a) { return a->model() == "calm-1"; }); },
      10s))
      << "every agent runs the promoted model";

  ASSERT_EQ(vigilctl(dir.path(), addr, {"--json", "models", "list"}, &out), 0);
  for (const auto& m : nlohmann::json::parse(out)["models"]) {
    const std::string v = m["version"];
    if (v == "noisy-1" || v == "blind-1") {
      EXPECT_EQ(m["state"], "rolled_back") << v;
    }
    if (v == "calm-1") {
      EXPECT_EQ(m["state"], "active");
    }
  }
  for (auto& a : agents) EXPECT_TRUE(a->refusals().empty()) << a->refusals().front();
}

grpc::ByteBuffer bytes(const std::string& raw) {
  grpc::Slice slice(raw);
  return grpc::ByteBuffer(&slice, 1);
}

std::string raw_of(const grpc::ByteBuffer& buf) {
  std::vector<grpc::Slice> slices;
  (void)buf.Dump(&slices);
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// grpc.health.v1.Health/Check for `service`: the raw response (empty on error).
std::string health_check(const std::shared_ptr<grpc::Channel>& ch, const std::string& service,
                         grpc::Status* status) {
  std::string req;
  if (!service.empty()) {  // HealthCheckRequest.service = 1 (string)
    req.push_back(0x0a);
    req.push_back(static_cast<char>(service.size()));
    req += service;
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  grpc::ByteBuffer resp;
  *status = grpc::internal::BlockingUnaryCall(
      ch.get(),
      grpc::internal::RpcMethod("/grpc.health.v1.Health/Check",
                                grpc::internal::RpcMethod::NORMAL_RPC),
      &ctx, bytes(req), &resp);
  return status->ok() ? raw_of(resp) : std::string();
}

TEST(CollectorGrpc, StandardHealthServiceAndServerReflection) {
  vigil::test::TempDir dir;
  Collector collector(dir.path());
  ASSERT_TRUE(collector.start());
  auto ch = grpc::CreateChannel(collector.addr(), grpc::InsecureChannelCredentials());
  grpc::Status st;
  // HealthCheckResponse { status = SERVING (1) } is the two bytes 08 01.
  EXPECT_EQ(health_check(ch, "", &st), std::string("\x08\x01", 2)) << st.error_message();
  EXPECT_EQ(health_check(ch, "vigil.v1.QueryService", &st), std::string("\x08\x01", 2))
      << st.error_message();
  health_check(ch, "no.such.Service", &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);

  // grpc.reflection.v1alpha.ServerReflection: list_services (field 7) lists ours.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          ch.get(),
          grpc::internal::RpcMethod("/grpc.reflection.v1alpha.ServerReflection/"
                                    "ServerReflectionInfo",
                                    grpc::internal::RpcMethod::BIDI_STREAMING),
          &ctx));
  ASSERT_TRUE(stream->Write(bytes(std::string("\x3a\x00", 2))));
  stream->WritesDone();
  grpc::ByteBuffer answer;
  ASSERT_TRUE(stream->Read(&answer));
  const auto listed = raw_of(answer);
  for (const char* svc : {"vigil.v1.AgentService", "vigil.v1.QueryService", "vigil.v1.ModelService",
                          "grpc.health.v1.Health"}) {
    EXPECT_NE(listed.find(svc), std::string::npos) << svc << " not listed";
  }
  while (stream->Read(&answer)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(collector.stop(), 0);
}

// With separate ports, each port's health service names only what it serves:
// a probe on the agents' port never hears that QueryService is SERVING there,
// where it would answer UNIMPLEMENTED, and the reverse.
TEST(CollectorGrpc, HealthPerPortTellsTheTruth) {
  vigil::test::TempDir dir;
  Collector collector(dir.path());
  ASSERT_TRUE(collector.start(0, {"--api-listen", "127.0.0.1:0"})) << collector.err();
  std::smatch m;
  const auto out = collector.out();
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(api=(127\.0\.0\.1:\d+))"))) << out;
  ASSERT_NE(m[1].str(), collector.addr());
  auto agents = grpc::CreateChannel(collector.addr(), grpc::InsecureChannelCredentials());
  auto api = grpc::CreateChannel(m[1].str(), grpc::InsecureChannelCredentials());
  const std::string serving("\x08\x01", 2);
  grpc::Status st;
  EXPECT_EQ(health_check(agents, "vigil.v1.AgentService", &st), serving) << st.error_message();
  EXPECT_EQ(health_check(agents, "vigil.v1.EnrollService", &st), serving) << st.error_message();
  for (const char* svc :
       {"vigil.v1.QueryService", "vigil.v1.ModelService", "vigil.v1.RuleService"}) {
    health_check(agents, svc, &st);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND)
        << svc << " claimed on the agents' port";
    EXPECT_EQ(health_check(api, svc, &st), serving) << svc << ": " << st.error_message();
  }
  health_check(api, "vigil.v1.AgentService", &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << "AgentService claimed on the API port";
  EXPECT_EQ(health_check(api, "", &st), serving);
  EXPECT_EQ(collector.stop(), 0);
}

// The loopback address a process printed after `key` ("metrics=", "web=",
// "metrics on "); empty if it has not (yet).
std::string printed_addr(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(key + "(127\\.0\\.0\\.1:\\d+)"))) return {};
  return m[1].str();
}

// GET http://ADDR/metrics through curl (a real HTTP client, as Prometheus is).
std::string scrape(const fs::path& dir, const std::string& addr) {
  Proc curl({"/usr/bin/curl", "-sf", "http://" + addr + "/metrics"}, dir);
  return curl.wait() == 0 ? curl.out() : std::string();
}

// The value of the first sample line starting with `series` (-1 if absent).
double sample_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

TEST(Metrics, AgentAndCollectorServePrometheusText) {
  vigil::test::TempDir dir;
  Collector collector(dir.path());
  ASSERT_TRUE(collector.start(0, {"--metrics-listen", "127.0.0.1:0"}));
  const auto collector_metrics = printed_addr(collector.out(), "metrics=");
  ASSERT_FALSE(collector_metrics.empty()) << collector.out();

  auto agent =
      start_agent(dir.path(), "metrics-h", collector.addr(), {"--metrics-listen", "127.0.0.1:0"});
  std::string agent_metrics;
  ASSERT_TRUE(wait_until(
      [&] {
        agent_metrics = printed_addr(agent->err(), "metrics on ");
        return !agent_metrics.empty();
      },
      20s));
  std::string text;
  ASSERT_TRUE(wait_until(
      [&] {
        sh("/bin/true");
        text = scrape(dir.path(), agent_metrics);
        return sample_of(text, "vigil_agent_kernel_events_total{probe=\"process\"}") > 0 &&
               sample_of(text, "vigil_agent_collector_connected") == 1;
      },
      20s))
      << text;
  EXPECT_NE(text.find("# TYPE vigil_agent_ringbuf_drops_total counter"), std::string::npos);
  EXPECT_GE(sample_of(text, "vigil_agent_events_total"), 1);
  EXPECT_EQ(sample_of(text, "vigil_agent_awareness_level"), 0);
  EXPECT_NE(text.find("vigil_agent_model_info{version=\""), std::string::npos);
  EXPECT_NE(text.find("# TYPE vigil_agent_event_latency_seconds summary"), std::string::npos);
  EXPECT_GE(sample_of(text, "vigil_agent_event_latency_seconds_count"), 1);
  EXPECT_GT(sample_of(text, "vigil_agent_event_latency_seconds{quantile=\"0.99\"}"), 0);
  EXPECT_GE(sample_of(text, "vigil_agent_events_by_type_total{type=\"exec\"}"), 1);

  ASSERT_TRUE(wait_until(
      [&] {
        text = scrape(dir.path(), collector_metrics);
        return sample_of(text, "vigil_collector_events_total") > 0;
      },
      20s))
      << text;
  EXPECT_EQ(sample_of(text, "vigil_collector_agents_connected"), 1);
  EXPECT_NE(text.find("# TYPE vigil_collector_ack_latency_seconds histogram"), std::string::npos);
  EXPECT_EQ(sample_of(text, "vigil_collector_ack_latency_seconds_bucket{le=\"+Inf\"}"),
            sample_of(text, "vigil_collector_ack_latency_seconds_count"));
  EXPECT_GE(sample_of(text, "vigil_collector_ack_latency_seconds_count"),
            sample_of(text, "vigil_collector_batches_total"));
  EXPECT_NE(text.find("vigil_collector_model_info{version="), std::string::npos);
  // Every stored event is timed from its kernel timestamp to durable here.
  EXPECT_GE(sample_of(text, "vigil_collector_event_durable_latency_seconds_count"),
            sample_of(text, "vigil_collector_events_total"));
  EXPECT_GT(sample_of(text, "vigil_collector_event_durable_latency_seconds{quantile=\"0.5\"}"), 0);
  Proc not_found({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                  "http://" + collector_metrics + "/other"},
                 dir.path());
  not_found.wait();
  EXPECT_EQ(not_found.out(), "404");
}

}  // namespace

// The Python example client (docs/examples/python) against a real collector:
// modules generated from proto/ by its own script, run by Debian's python3.
TEST(PythonClient, PullsTheFleetReportAndFollowsAlerts) {
  vigil::test::TempDir dir;
  const std::string example = VIGIL_SOURCE_DIR "/docs/examples/python";
  const auto gen = dir.path() / "gen";
  fs::create_directories(dir.path() / "generate");
  Proc generate({"/bin/bash", example + "/generate.sh", gen.string()}, dir.path() / "generate");
  ASSERT_EQ(generate.wait(), 0) << generate.err();
  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start()) << collector.err();
  const std::vector<std::string> env_python = {"/usr/bin/env",     "VIGIL_PY_GEN=" + gen.string(),
                                               "/usr/bin/python3", example + "/vigil_client.py",
                                               "--insecure",       "--api",
                                               collector.addr()};
  // Each process writes its stdout/stderr files in a directory of its own.
  auto own_dir = [&](const std::string& name) {
    fs::create_directories(dir.path() / name);
    return dir.path() / name;
  };
  auto client = [&](const std::string& name, std::vector<std::string> args) {
    auto argv = env_python;
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<Proc>(argv, own_dir(name));
  };
  // Follow first, so the alerts the load generator raises next are live ones.
  auto follow = client("follow", {"follow", "--min-score", "50", "--max", "3"});
  std::this_thread::sleep_for(1s);  // the stream is open before alerts flow
  Proc gen_load({VIGIL_LOADGEN_BIN, "--collector", collector.addr(), "--insecure", "--agents", "2",
                 "--rate", "500", "--duration", "2", "--prefix", "py"},
                own_dir("loadgen"));
  ASSERT_EQ(gen_load.wait(), 0) << gen_load.err();
  ASSERT_EQ(follow->wait(), 0) << follow->err();
  std::istringstream lines(follow->out());
  std::string line;
  int alerts = 0;
  while (std::getline(lines, line)) {
    const auto a = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(a.is_discarded()) << line;
    EXPECT_GE(a.value("score", -1), 50) << line;
    EXPECT_EQ(a.value("host", std::string()).rfind("py", 0), 0U) << line;
    EXPECT_EQ(a.value("attack", nlohmann::json()), nlohmann::json::array({"T1055.008"})) << line;
    ++alerts;
  }
  EXPECT_EQ(alerts, 3) << follow->out();

  auto report = client("report", {"report", "--json"});
  ASSERT_EQ(report->wait(), 0) << report->err();
  const auto j = nlohmann::json::parse(report->out(), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << report->out();
  std::set<std::string> hosts;
  for (const auto& h : j["hosts"]) {
    hosts.insert(h["host"].get<std::string>());
    EXPECT_GT(std::stoull(h["events"].get<std::string>()), 0U) << h.dump();  // uint64 as string
  }
  EXPECT_EQ(hosts.size(), 2U) << report->out();
  EXPECT_FALSE(j["top_alerts"].empty());

  auto argv = env_python;
  argv.back() = "127.0.0.1:1";  // --api: nothing listens there
  argv.insert(argv.end(), {"--timeout", "2", "report"});
  auto unreachable = std::make_unique<Proc>(argv, own_dir("unreachable"));
  EXPECT_EQ(unreachable->wait(), 1);
  EXPECT_NE(unreachable->err().find("UNAVAILABLE"), std::string::npos) << unreachable->err();
}

// The collector's web view end to end: real collector with real data, the page
// rendered by headless Chromium (Debian's), which runs the page's script, fetches
// /api/overview with the token and draws the hosts and the timeline.
TEST(WebView, HeadlessChromiumShowsTheFleetAndTakesAScreenshot) {
  vigil::test::TempDir dir;
  const std::string token = "web-test-token-0123456789";
  {
    std::ofstream out(dir.path() / "tokens");
    out << "viewer " << token << "\n";
  }
  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start(
      0, {"--web-listen", "127.0.0.1:0", "--token-file", (dir.path() / "tokens").string()}))
      << collector.err();
  const auto web_addr = printed_addr(collector.out(), "web=");
  ASSERT_FALSE(web_addr.empty()) << collector.out();
  const std::string web = "http://" + web_addr;
  auto own_dir = [&](const std::string& name) {
    fs::create_directories(dir.path() / name);
    return dir.path() / name;
  };
  Proc load({VIGIL_LOADGEN_BIN, "--collector", collector.addr(), "--insecure", "--agents", "3",
             "--rate", "300", "--duration", "2", "--prefix", "web", "--containers", "4"},
            own_dir("loadgen"));
  ASSERT_EQ(load.wait(), 0) << load.err();

  // The data needs the token; the static page does not.
  auto http_code = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-s", "-o",
                                     "/dev/null",     "-w", "%{http_code}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Proc curl(argv, own_dir(name));
    curl.wait();
    return curl.out();
  };
  EXPECT_EQ(http_code("c1", {web + "/api/overview"}), "401");
  EXPECT_EQ(http_code("c2", {"-H", "Authorization: Bearer wrong-token-0123456789",
                             web + "/api/overview"}),
            "401");
  EXPECT_EQ(http_code("c3", {"-H", "Authorization: Bearer " + token, web + "/api/overview"}),
            "200");
  EXPECT_EQ(
      http_code("c4", {"-H", "Authorization: Bearer " + token, web + "/api/overview?window=0"}),
      "400");
  EXPECT_EQ(http_code("c5", {"-X", "POST", web + "/api/overview"}), "405");
  EXPECT_EQ(http_code("c6", {web + "/"}), "200");
  EXPECT_EQ(http_code("c7", {web + "/vendor/uPlot.iife.min.js"}), "200");

  // The rendered DOM, after the script has fetched and drawn the overview.
  const std::vector<std::string> chromium = {
      "/usr/bin/chromium",
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--user-data-dir=" + (dir.path() / "chromium").string(),
      "--window-size=1280,1000",
      "--virtual-time-budget=10000"};
  auto dom_args = chromium;
  dom_args.insert(dom_args.end(), {"--dump-dom", web + "/#token=" + token});
  Proc dom(dom_args, own_dir("dom"));
  ASSERT_EQ(dom.wait(), 0) << dom.err();
  const auto html = dom.out();
  EXPECT_NE(html.find("data-state=\"ready\""), std::string::npos) << html.substr(0, 2000);
  for (const char* host : {"web-host-0", "web-host-1", "web-host-2"}) {
    EXPECT_NE(html.find(std::string("data-host=\"") + host + "\""), std::string::npos) << host;
  }
  EXPECT_NE(html.find("class=\"uplot"), std::string::npos) << "no timeline chart";
  EXPECT_NE(html.find("ptrace-attach"), std::string::npos) << "no top alert";
  EXPECT_NE(html.find("T1055.008"), std::string::npos);
  // Workloads: the report's pods, namespaces and images, and alerts' containers.
  for (const char* group : {"payments/app-0-7f9c", "kube-system", "registry.local/app-1:1.1"}) {
    EXPECT_NE(html.find(group), std::string::npos) << group;
  }
  EXPECT_NE(html.find("-7f9c · registry.local/app-"), std::string::npos)
      << "no alert shows its pod and image";

  // Without a token the page asks for one and shows no data.
  auto anon_args = chromium;
  anon_args.insert(anon_args.end(), {"--dump-dom", web + "/"});
  Proc anon(anon_args, own_dir("anon"));
  ASSERT_EQ(anon.wait(), 0) << anon.err();
  EXPECT_NE(anon.out().find("data-state=\"login\""), std::string::npos);
  EXPECT_EQ(anon.out().find("data-host=\"web-host-0\""), std::string::npos);

  // A screenshot, kept next to the test binary for people to look at.
  const auto png = fs::current_path() / "web-view.png";
  fs::remove(png);
  auto shot_args = chromium;
  shot_args.insert(shot_args.end(), {"--screenshot=" + png.string(), web + "/#token=" + token});
  Proc shot(shot_args, own_dir("shot"));
  ASSERT_EQ(shot.wait(), 0) << shot.err();
  const auto bytes = slurp(png);
  ASSERT_GT(bytes.size(), 20000U) << "screenshot too small to show the page";
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

// mTLS and API tokens end to end (issue 7): certificates from deploy/make-certs.sh,
// a collector with TLS on its port and a token file, real agents and vigilctl.
TEST(Security, MutualTlsBindsAgentIdentityAndTokensGateTheApi) {
  vigil::test::TempDir dir;
  auto own_dir = [&](const std::string& name) {
    fs::create_directories(dir.path() / name);
    return dir.path() / name;
  };
  const auto certs = dir.path() / "tls";
  Proc make({"/bin/bash", VIGIL_SOURCE_DIR "/deploy/make-certs.sh", certs.string(), "--agent",
             "tls-a", "--agent", "tls-b"},
            own_dir("make-certs"));
  ASSERT_EQ(make.wait(), 0) << make.err();
  const auto pem = [&](const std::string& f) { return (certs / f).string(); };
  {
    std::ofstream out(dir.path() / "tokens");
    out << "viewer   viewer-token-0123456789\noperator operator-token-0123456789\n";
    std::ofstream(dir.path() / "viewer.token") << "viewer viewer-token-0123456789\n";
    std::ofstream(dir.path() / "operator.token") << "operator-token-0123456789\n";
  }
  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start(
      0, {"--tls-cert", pem("collector.crt"), "--tls-key", pem("collector.key"), "--tls-ca",
          pem("ca.crt"), "--token-file", (dir.path() / "tokens").string()}))
      << collector.err();

  // vigilctl over TLS; returns the exit code, stdout and stderr.
  auto ctl = [&](const std::string& name, std::vector<std::string> args, std::string* out,
                 std::string* err = nullptr) {
    std::vector<std::string> argv = {
        VIGILCTL_BIN, "--collector", collector.addr(), "--ca", pem("ca.crt"), "--timeout", "5"};
    argv.insert(argv.end(), args.begin(), args.end());
    Proc p(argv, own_dir(name));
    const int rc = p.wait();
    if (out != nullptr) *out = p.out();
    if (err != nullptr) *err = p.err();
    return rc;
  };
  const std::string viewer = "--token-file=" + (dir.path() / "viewer.token").string();
  const std::string op = "--token-file=" + (dir.path() / "operator.token").string();

  // A certified agent connects under its own identity.
  auto good = start_agent(dir.path(), "tls-a", collector.addr(),
                          {"--tls-ca", pem("ca.crt"), "--tls-cert", pem("agent-tls-a.crt"),
                           "--tls-key", pem("agent-tls-a.key")});
  // tls-b's certificate, but claiming to be host tls-c: refused.
  auto impostor = start_agent(dir.path(), "tls-c", collector.addr(),
                              {"--tls-ca", pem("ca.crt"), "--tls-cert", pem("agent-tls-b.crt"),
                               "--tls-key", pem("agent-tls-b.key")});
  // Plaintext against the TLS port: never connects.
  auto plain = start_agent(dir.path(), "tls-plain", collector.addr());  // start_agent: --insecure
  std::string out;
  ASSERT_TRUE(wait_until(
      [&] {
        return ctl("agents", {viewer, "--json", "agents"}, &out) == 0 &&
               out.find("\"agent_id\":\"tls-a\"") != std::string::npos &&
               out.find("\"connected\":true") != std::string::npos;
      },
      30s))
      << out << good->err();
  ASSERT_TRUE(wait_until(
      [&] {
        return impostor->err().find(
                   "collector refused: certificate identity 'tls-b' may not "
                   "speak for agent 'tls-c' on host 'tls-c'") != std::string::npos;
      },
      30s))
      << impostor->err();
  std::this_thread::sleep_for(2s);  // the plaintext agent has had time to try
  ASSERT_EQ(ctl("agents2", {viewer, "--json", "agents"}, &out), 0);
  EXPECT_EQ(out.find("tls-c"), std::string::npos) << out;
  EXPECT_EQ(out.find("tls-plain"), std::string::npos) << out;

  // A gRPC client with the CA but no client certificate: AgentService refuses it.
  {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = slurp(certs / "ca.crt");
    auto stub = vigil::v1::AgentService::NewStub(
        grpc::CreateChannel(collector.addr(), grpc::SslCredentials(tls)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    auto stream = stub->Connect(&ctx);
    vigil::v1::AgentMessage hello;
    hello.mutable_hello()->set_agent_id("tls-a");
    hello.mutable_hello()->set_host_id("tls-a");
    hello.mutable_hello()->set_version("test");
    ASSERT_TRUE(stream->Write(hello));
    vigil::v1::CollectorMessage reply;
    ASSERT_TRUE(stream->Read(&reply));
    ASSERT_TRUE(reply.has_refusal());
    EXPECT_NE(reply.refusal().reason().find("no verified client certificate"), std::string::npos)
        << reply.refusal().reason();
    stream->WritesDone();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }

  // Tokens and roles on the operator API.
  std::string err;
  EXPECT_EQ(ctl("no-token", {"report"}, &out, &err), 1);
  EXPECT_NE(err.find("needs a bearer token"), std::string::npos) << err;
  { std::ofstream(dir.path() / "wrong.token") << "viewer not-a-token-0123456789\n"; }
  EXPECT_EQ(ctl("wrong-token", {"--token-file=" + (dir.path() / "wrong.token").string(), "report"},
                &out, &err),
            1);
  EXPECT_NE(err.find("unknown bearer token"), std::string::npos) << err;
  EXPECT_EQ(ctl("viewer-report", {viewer, "report"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("tls-a"), std::string::npos) << out;
  EXPECT_EQ(
      ctl("viewer-feedback", {viewer, "feedback", "tls-a:x", "--label", "benign"}, &out, &err), 1);
  EXPECT_NE(err.find("needs an operator token"), std::string::npos) << err;
  EXPECT_EQ(ctl("viewer-rollback", {viewer, "models", "rollback"}, &out, &err), 1);
  EXPECT_NE(err.find("needs an operator token"), std::string::npos) << err;
  // The operator passes authorisation; the unknown alert is the only complaint.
  EXPECT_EQ(ctl("operator-feedback", {op, "feedback", "tls-a:x", "--label", "benign"}, &out, &err),
            1);
  EXPECT_EQ(err.find("token"), std::string::npos) << err;
  EXPECT_NE(err.find("tls-a:x"), std::string::npos) << err;
  // Plaintext vigilctl against the TLS port: unreachable (exit 3), nothing served.
  Proc plain_ctl({VIGILCTL_BIN, "--collector", collector.addr(), "--insecure", "--timeout", "3",
                  viewer, "report"},
                 own_dir("plain-ctl"));
  EXPECT_EQ(plain_ctl.wait(), 3) << plain_ctl.err();

  // The Python client over TLS with a viewer token.
  const std::string example = VIGIL_SOURCE_DIR "/docs/examples/python";
  const auto gen = dir.path() / "gen";
  Proc generate({"/bin/bash", example + "/generate.sh", gen.string()}, own_dir("generate"));
  ASSERT_EQ(generate.wait(), 0) << generate.err();
  Proc py({"/usr/bin/env", "VIGIL_PY_GEN=" + gen.string(), "/usr/bin/python3",
           example + "/vigil_client.py", "--api", collector.addr(), "--ca", pem("ca.crt"),
           "--token-file", (dir.path() / "viewer.token").string(), "report", "--json"},
          own_dir("python"));
  ASSERT_EQ(py.wait(), 0) << py.err();
  EXPECT_NE(py.out().find("\"host\": \"tls-a\""), std::string::npos) << py.out();
}

// Limits on what one agent may cost the collector: a noisy agent over
// max_events_per_s is slowed (refused, it retries) while a quiet one is
// unaffected, agents beyond max_agents are refused, and the collector stays up.
TEST(Limits, ANoisyAgentIsSlowedOthersAreUnaffectedAndAgentCountIsCapped) {
  vigil::test::TempDir dir;
  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start(
      0, {"--max-events-per-s", "1000", "--max-agents", "3", "--metrics-listen", "127.0.0.1:0"}))
      << collector.err();
  auto own_dir = [&](const std::string& name) {
    fs::create_directories(dir.path() / name);
    return dir.path() / name;
  };
  auto loadgen = [&](const std::string& prefix, const std::string& agents, const std::string& rate,
                     const std::string& seconds) {
    return std::make_unique<Proc>(
        std::vector<std::string>{VIGIL_LOADGEN_BIN, "--collector", collector.addr(), "--insecure",
                                 "--agents", agents, "--rate", rate, "--duration", seconds,
                                 "--batch", "100", "--prefix", prefix},
        own_dir(prefix));
  };
  auto noisy = loadgen("noisy", "1", "20000", "3");
  auto quiet = loadgen("quiet", "1", "200", "3");
  noisy->wait();
  ASSERT_EQ(quiet->wait(), 0) << quiet->out() << quiet->err();
  const auto n = nlohmann::json::parse(noisy->out(), nullptr, false);
  const auto q = nlohmann::json::parse(quiet->out(), nullptr, false);
  ASSERT_FALSE(n.is_discarded() || q.is_discarded()) << noisy->out() << quiet->out();
  EXPECT_GE(n["refused"].get<int>(), 1) << n.dump();
  EXPECT_LT(n["acked"].get<std::uint64_t>(), n["sent"].get<std::uint64_t>()) << n.dump();
  // About 2 s of burst plus 1000/s, far below the 60 000 offered.
  EXPECT_LE(n["acked"].get<std::uint64_t>(), 6000U) << n.dump();
  EXPECT_EQ(q["refused"], 0) << q.dump();
  EXPECT_EQ(q["acked"], q["sent"]) << q.dump();

  // One message over the 64 MiB limit: refused by gRPC before anything parses it.
  {
    auto stub = vigil::v1::AgentService::NewStub(
        grpc::CreateChannel(collector.addr(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    auto stream = stub->Connect(&ctx);
    vigil::v1::AgentMessage big;
    auto* e = big.mutable_batch()->add_events();
    e->set_seq(1);
    e->set_type("exec");
    e->set_ts_ns(vigil::unix_now_ns());
    e->set_summary(std::string(65 << 20, 'x'));
    stream->Write(big);
    stream->WritesDone();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }

  auto many = loadgen("many", "5", "50", "2");
  many->wait();
  const auto m = nlohmann::json::parse(many->out(), nullptr, false);
  ASSERT_FALSE(m.is_discarded()) << many->out();
  EXPECT_EQ(m["refused"], 2) << m.dump();

  // Still serving, and the refusals are counted where operators look.
  const auto metrics = printed_addr(collector.out(), "metrics=");
  ASSERT_FALSE(metrics.empty()) << collector.out();
  const auto text = scrape(own_dir("scrape"), metrics);
  EXPECT_GE(sample_of(text, "vigil_collector_rate_limited_total"), 1) << text;
  EXPECT_EQ(sample_of(text, "vigil_collector_over_max_agents_total"), 2) << text;
  EXPECT_EQ(collector.stop(), 0);
}

// Resident memory of a process, from /proc (0 if gone).
std::uint64_t rss_bytes(pid_t pid) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// A long outage against a small spool: the agent's memory stays flat while
// events pile up (they go to the bounded on-disk spool, not to RAM), the
// overflow is dropped and counted, and the count reaches the collector's agent
// record and the fleet report once the collector is back.
TEST_F(DeliveryTest, BoundedSpoolAndFlatMemoryDuringAnOutageDropsAreReported) {
  Collector collector(dir_.path() / "collector");
  ASSERT_TRUE(collector.start()) << collector.err();
  auto agent = start_agent(dir_.path(), "spool-h", collector.addr(),
                           {"--spool-max-mb", "1", "--metrics-listen", "127.0.0.1:0"});
  std::string metrics;
  ASSERT_TRUE(wait_until(
      [&] {
        metrics = printed_addr(agent->err(), "metrics on ");
        return !metrics.empty();
      },
      20s));
  ExecLoop load(2ms);
  {
    // Its own channel, closed before the crashes: a channel left in reconnect
    // backoff would make the next ones to this address fail fast.
    Api first(collector.addr());
    ASSERT_TRUE(wait_until([&] { return acked_beyond(first, "spool-h", 100); }, 20s))
        << agent->err();
  }
  ASSERT_EQ(collector.stop(), 0);
  const auto rss_before = rss_bytes(agent->pid());
  ASSERT_GT(rss_before, 0U);
  std::uint64_t rss_peak = rss_before;
  std::string text;
  ASSERT_TRUE(wait_until(
      [&] {
        rss_peak = std::max(rss_peak, rss_bytes(agent->pid()));
        text = scrape(dir_.path(), metrics);
        return sample_of(text, "vigil_agent_spool_dropped_total") > 1000;
      },
      60s))
      << text;
  std::this_thread::sleep_for(5s);  // keep overflowing a while longer
  rss_peak = std::max(rss_peak, rss_bytes(agent->pid()));
  text = scrape(dir_.path(), metrics);
  const auto dropped = sample_of(text, "vigil_agent_spool_dropped_total");
  EXPECT_LE(sample_of(text, "vigil_agent_spool_bytes"), 2.0 * (1 << 20)) << text;
  // Thousands of events later the agent's memory has not followed them.
  EXPECT_LT(rss_peak, rss_before + (32ULL << 20))
      << "RSS " << rss_before << " -> " << rss_peak << " with " << dropped << " dropped";

  ASSERT_TRUE(collector.start(collector.port())) << collector.err();
  Api api(collector.addr());
  ASSERT_TRUE(wait_until(
      [&] {
        auto a = api.agent("spool-h");
        return a && a->connected() && a->spool_dropped() > 1000;
      },
      40s))
      << agent->err();
  std::string out;
  ASSERT_EQ(vigilctl(dir_.path(), collector.addr(), {"--json", "report"}, &out), 0);
  const auto report = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << out;
  bool seen = false;
  for (const auto& h : report["hosts"]) {
    if (h["host"] == "spool-h") {
      seen = true;
      EXPECT_GT(std::stoull(h["agent"]["spool_dropped"].get<std::string>()), 1000U) << h.dump();
    }
  }
  EXPECT_TRUE(seen) << out;
  load.stop();
  EXPECT_EQ(stop_agent(*agent), 0) << agent->err();
}

// Kernel ring buffer overflow (a 4 KiB buffer and bursts of 400 parallel
// execs): the records the kernel could not queue are counted per probe family,
// and the count travels from the kernel counter through the agent's health to
// the collector's agent record and the fleet report.
TEST_F(DeliveryTest, RingBufferOverflowIsCountedFromKernelToFleetReport) {
  Collector collector(dir_.path() / "collector");
  ASSERT_TRUE(collector.start()) << collector.err();
  auto agent = start_agent(dir_.path(), "drops-h", collector.addr(),
                           {"--ringbuf-kib", "4", "--probes", "process"});
  Api api(collector.addr());
  ASSERT_TRUE(wait_until(
      [&] {
        auto a = api.agent("drops-h");
        return a && a->connected();
      },
      20s))
      << agent->err();
  ASSERT_TRUE(wait_until(
      [&] {
        sh("for i in $(seq 400); do /bin/true & done; wait");
        auto a = api.agent("drops-h");
        return a && a->kernel_drops() > 0;
      },
      60s))
      << agent->err();
  const auto drops = api.agent("drops-h")->kernel_drops();
  std::string out;
  ASSERT_EQ(vigilctl(dir_.path(), collector.addr(), {"--json", "report"}, &out), 0);
  const auto report = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << out;
  bool seen = false;
  for (const auto& h : report["hosts"]) {
    if (h["host"] == "drops-h") {
      seen = true;
      EXPECT_GE(std::stoull(h["agent"]["kernel_drops"].get<std::string>()), drops) << h.dump();
    }
  }
  EXPECT_TRUE(seen) << out;
  EXPECT_EQ(stop_agent(*agent), 0) << agent->err();
  // The agent's own final counters agree that the kernel dropped records.
  const auto stats = agent_stats(dir_.path() / "drops-h");
  ASSERT_FALSE(stats.is_discarded());
  EXPECT_GE(stats["kernel"]["process"]["ringbuf_drops"].get<std::uint64_t>(), drops)
      << stats.dump();
}
