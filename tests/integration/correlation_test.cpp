// Sigma fleet correlations end to end: a real vigil-collector process with an
// operator rule directory, two agents speaking AgentService over real gRPC on
// loopback (this test plays them: the events carry the indicator ids agents
// put on them), and the correlation alert read back through QueryAlerts,
// `vigilctl alerts` and /metrics. No root needed: no probes are loaded.
// Also the query API's paging against the same real collector: the fleet
// report and the event queries page with opaque tokens bound to their filters;
// and workloads (issue 22): events from containers filtered by container,
// image, pod and namespace, and grouped in the report, over gRPC and vigilctl.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/clock.h"
#include "vigil/v1/agent.grpc.pb.h"
#include "vigil/v1/query.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::wait_until;
namespace fs = std::filesystem;

// The operator's rule: recon by a user on one host, then that user reading
// credentials anywhere in the fleet, in that order.
constexpr const char* kOperatorRule = R"(title: Recon, then credential access by the same user
id: 6d0f7a52-1f53-4a4e-b6a1-3f0de2c1a9e7
name: recon-then-credentials
author: Integration Test
references:
  - https://example.org/recon-then-credentials
tags:
  - attack.credential_access
  - attack.t1003.008
level: critical
correlation:
  type: temporal_ordered
  rules:
    - test-recon
    - credential-read
  group-by:
    - User
  timespan: 10m
)";

class Collector {
 public:
  explicit Collector(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }
  bool start(std::vector<std::string> extra) {
    std::vector<std::string> args{
        VIGIL_COLLECTOR_BIN,      "--listen",   "127.0.0.1:0", "--data-dir",
        (dir_ / "data").string(), "--insecure", "--log-level", "info"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<Proc>(args, dir_);
    const std::regex re("listening agents=127\\.0\\.0\\.1:(\\d+)");
    return wait_until(
        [&] {
          std::smatch m;
          const auto out = proc_->out();
          if (!std::regex_search(out, m, re)) return false;
          addr_ = "127.0.0.1:" + m[1].str();
          return true;
        },
        15s);
  }
  int stop() {
    kill(proc_->pid(), SIGTERM);
    return proc_->wait();
  }
  [[nodiscard]] const std::string& addr() const { return addr_; }
  [[nodiscard]] std::string out() const { return proc_->out(); }
  [[nodiscard]] std::string err() const { return proc_->err(); }
  Proc& proc() { return *proc_; }

 private:
  fs::path dir_;
  std::unique_ptr<Proc> proc_;
  std::string addr_;
};

// One agent's stream: a hello, then batches, each sent once the last was acked.
class TestAgent {
 public:
  TestAgent(const std::string& collector, const std::string& id,
            const std::vector<std::string>& addresses = {})
      : stub_(vigil::v1::AgentService::NewStub(
            grpc::CreateChannel(collector, grpc::InsecureChannelCredentials()))) {
    ctx_.set_deadline(std::chrono::system_clock::now() + 60s);
    stream_ = stub_->Connect(&ctx_);
    vigil::v1::AgentMessage hello;
    hello.mutable_hello()->set_agent_id(id);
    hello.mutable_hello()->set_host_id(id);
    hello.mutable_hello()->set_version("correlation-test");
    hello.mutable_hello()->set_spool_id(7);
    for (const auto& a : addresses) {
      hello.mutable_hello()->add_addresses(a);
    }
    stream_->Write(hello);
  }
  ~TestAgent() {
    stream_->WritesDone();
    vigil::v1::CollectorMessage drain;
    while (stream_->Read(&drain)) {
    }
    stream_->Finish();
  }
  // True once the collector acked the batch (and so has correlated it).
  bool send(std::vector<vigil::v1::Event> events) {
    vigil::v1::AgentMessage msg;
    auto* batch = msg.mutable_batch();
    batch->set_first_seq(seq_ + 1);
    for (auto& e : events) {
      e.set_seq(++seq_);
      *batch->add_events() = std::move(e);
    }
    batch->set_last_seq(seq_);
    if (!stream_->Write(msg)) return false;
    vigil::v1::CollectorMessage in;
    while (stream_->Read(&in)) {
      if (in.has_refusal()) {
        ADD_FAILURE() << "refused: " << in.refusal().reason();
        return false;
      }
      if (in.has_ack() && in.ack().seq() >= seq_) return true;  // models may come first
    }
    return false;
  }

 private:
  std::unique_ptr<vigil::v1::AgentService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<vigil::v1::AgentMessage, vigil::v1::CollectorMessage>>
      stream_;
  std::uint64_t seq_ = 0;
};

vigil::v1::Event event(const std::string& type, const char* indicator, std::uint64_t ts_ns,
                       std::uint32_t uid) {
  vigil::v1::Event e;
  e.set_type(type);
  e.set_ts_ns(ts_ns);
  e.set_pid(4242);
  e.set_uid(uid);
  e.set_comm("tool");
  e.set_exe("/usr/bin/tool");
  e.set_score(40);
  auto* hit = e.add_indicators();
  hit->set_id(indicator);
  hit->set_severity(40);
  return e;
}

std::vector<vigil::v1::Alert> fleet_alerts(const std::string& addr) {
  auto stub = vigil::v1::QueryService::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  vigil::v1::QueryAlertsRequest req;
  req.set_fleet_only(true);
  req.set_limit(100);
  vigil::v1::QueryAlertsResponse resp;
  if (!stub->QueryAlerts(&ctx, req, &resp).ok()) return {};
  return {resp.alerts().begin(), resp.alerts().end()};
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

TEST(Correlation, AnOperatorRuleJoinsTwoAgentsEventsIntoOneFleetAlert) {
  vigil::test::TempDir dir;
  const auto rules = dir.path() / "rules";
  fs::create_directories(rules);
  std::ofstream(rules / "recon_then_credentials.yml") << kOperatorRule;
  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(
      collector.start({"--correlation-rules", rules.string(), "--metrics-listen", "127.0.0.1:0"}))
      << collector.err();
  EXPECT_NE(collector.err().find("5 Sigma correlation rules loaded"), std::string::npos)
      << collector.err();

  const auto now = vigil::unix_now_ns();
  {
    TestAgent web(collector.addr(), "corr-web");
    TestAgent db(collector.addr(), "corr-db");
    // The wrong order first: credentials, then recon, for uid 1001.
    ASSERT_TRUE(db.send({event("file", "credential-read", now, 1001)}));
    ASSERT_TRUE(web.send({event("exec", "test-recon", now, 1001)}));
    // The right order for uid 1000, from two hosts; db's clock runs 23 h ahead,
    // which must not matter: windows run on the collector's clock.
    ASSERT_TRUE(web.send({event("exec", "test-recon", now, 1000)}));
    ASSERT_TRUE(
        db.send({event("file", "credential-read", now + 23ULL * 3600 * 1'000'000'000ULL, 1000)}));
  }

  // Acked means correlated and stored: the alert is there now.
  const auto alerts = fleet_alerts(collector.addr());
  std::vector<vigil::v1::Alert> ours;
  for (const auto& a : alerts) {
    if (a.kind() == "recon-then-credentials") ours.push_back(a);
  }
  ASSERT_EQ(ours.size(), 1U) << "uid 1001's events came in the wrong order";
  const auto& a = ours[0];
  EXPECT_TRUE(a.fleet());
  EXPECT_EQ(a.score(), 90U);  // level critical
  EXPECT_EQ(std::vector<std::string>(a.hosts().begin(), a.hosts().end()),
            (std::vector<std::string>{"corr-db", "corr-web"}));
  EXPECT_EQ(a.rule().title(), "Recon, then credential access by the same user");
  EXPECT_EQ(a.rule().id(), "6d0f7a52-1f53-4a4e-b6a1-3f0de2c1a9e7");
  EXPECT_EQ(a.rule().author(), "Integration Test");
  ASSERT_EQ(a.rule().references_size(), 1);
  EXPECT_EQ(a.rule().references(0), "https://example.org/recon-then-credentials");
  EXPECT_EQ(a.rule().source(), (rules / "recon_then_credentials.yml").string());
  ASSERT_EQ(a.group_size(), 1);
  EXPECT_EQ(a.group(0).field(), "User");
  EXPECT_EQ(a.group(0).value(), "1000");
  ASSERT_EQ(a.indicators_size(), 1);
  EXPECT_EQ(a.indicators(0).attack(), "T1003.008");
  // Alert time is the collector's: not 23 h ahead.
  EXPECT_LT(a.ts_ns(), vigil::unix_now_ns() + 60'000'000'000ULL);

  // vigilctl shows it, with its provenance in --json.
  fs::create_directories(dir.path() / "ctl");
  Proc table({VIGILCTL_BIN, "--collector", collector.addr(), "--insecure", "alerts", "--fleet"},
             dir.path() / "ctl");
  ASSERT_EQ(table.wait(), 0) << table.err();
  EXPECT_NE(table.out().find("recon-then-credentials"), std::string::npos) << table.out();
  EXPECT_NE(table.out().find("T1003.008"), std::string::npos) << table.out();
  fs::create_directories(dir.path() / "ctl-json");
  Proc json(
      {VIGILCTL_BIN, "--collector", collector.addr(), "--insecure", "--json", "alerts", "--fleet"},
      dir.path() / "ctl-json");
  ASSERT_EQ(json.wait(), 0) << json.err();
  const auto parsed = nlohmann::json::parse(json.out(), nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << json.out();
  bool found = false;
  for (const auto& j : parsed["alerts"]) {
    if (j.value("kind", "") != "recon-then-credentials") continue;
    found = true;
    EXPECT_EQ(j["rule"]["author"], "Integration Test") << j.dump();
    EXPECT_EQ(j["group"][0]["value"], "1000") << j.dump();
  }
  EXPECT_TRUE(found) << json.out();

  // Operators see the rule set and what it did on /metrics.
  std::smatch m;
  const auto out = collector.out();
  ASSERT_TRUE(std::regex_search(out, m, std::regex("metrics=(127\\.0\\.0\\.1:\\d+)"))) << out;
  fs::create_directories(dir.path() / "curl");
  Proc curl({"/usr/bin/curl", "-sf", "http://" + m[1].str() + "/metrics"}, dir.path() / "curl");
  ASSERT_EQ(curl.wait(), 0);
  const auto text = curl.out();
  EXPECT_EQ(sample_of(text, "vigil_collector_correlation_rules"), 5) << text;
  EXPECT_EQ(sample_of(text,
                      "vigil_collector_correlation_rule_alerts_total{rule=\"recon-then-"
                      "credentials\"}"),
            1)
      << text;
  EXPECT_EQ(sample_of(text, "vigil_collector_correlation_evictions_total"), 0) << text;
  EXPECT_EQ(collector.stop(), 0);
}

TEST(Correlation, TheShippedPackRunsInTheRealCollector) {
  vigil::test::TempDir dir;
  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start({})) << collector.err();
  const auto now = vigil::unix_now_ns();
  auto scan = [&](std::uint64_t ts) {
    auto e = event("net_summary", "port-scan", ts, 0);
    e.clear_exe();
    e.mutable_net_summary()->set_src("198.51.100.7");
    e.mutable_net_summary()->add_reasons("scan");
    return e;
  };
  {
    TestAgent a(collector.addr(), "ship-a");
    TestAgent b(collector.addr(), "ship-b");
    ASSERT_TRUE(a.send({scan(now)}));
    ASSERT_TRUE(b.send({scan(now)}));
  }
  std::vector<vigil::v1::Alert> scans;
  for (const auto& a : fleet_alerts(collector.addr())) {
    if (a.kind() == "fleet-scan") scans.push_back(a);
  }
  ASSERT_EQ(scans.size(), 1U);
  EXPECT_EQ(scans[0].rule().source(), "(shipped) fleet/fleet_scan.yml");
  EXPECT_EQ(scans[0].group(0).value(), "198.51.100.7");
  EXPECT_EQ(scans[0].hosts_size(), 2);
  EXPECT_EQ(collector.stop(), 0);
}

TEST(Correlation, ABadRuleFileStopsStartUpNamingTheFileAndTheReason) {
  vigil::test::TempDir dir;
  const auto rules = dir.path() / "rules";
  fs::create_directories(rules);
  std::ofstream(rules / "good.yml") << kOperatorRule;
  std::ofstream(rules / "typo.yml") << "title: Typo\nname: typo\ncorrelation:\n  type: "
                                       "event_count\n  rules: [x]\n  group-by: [Hostname]\n  "
                                       "timespan: 5m\n  condition: {gte: 2}\n";
  // Through the YAML key, as a packaged collector.yaml would say it.
  const auto config = dir.path() / "collector.yaml";
  std::ofstream(config) << "correlation_rules: " << rules.string() << "\n";
  fs::create_directories(dir.path() / "run");
  Proc p({VIGIL_COLLECTOR_BIN, "--config", config.string(), "--listen", "127.0.0.1:0", "--data-dir",
          (dir.path() / "data").string(), "--insecure"},
         dir.path() / "run");
  const auto rc = p.wait_for(20s);
  ASSERT_TRUE(rc.has_value()) << "the collector started with a broken rule file";
  EXPECT_EQ(*rc, 1);  // start-up failed (not a crash, not a usage error)
  EXPECT_NE(p.err().find((rules / "typo.yml").string()), std::string::npos) << p.err();
  EXPECT_NE(p.err().find("unknown field 'Hostname'"), std::string::npos) << p.err();
  EXPECT_EQ(p.out().find("listening"), std::string::npos) << p.out();
}

// A process event as agents ship it: pid, ppid and the detail that matters.
vigil::v1::Event proc_event(const std::string& type, std::uint32_t pid, std::uint32_t ppid,
                            const std::string& exe) {
  vigil::v1::Event e;
  e.set_type(type);
  e.set_ts_ns(vigil::unix_now_ns());
  e.set_pid(pid);
  e.set_ppid(ppid);
  e.set_comm(exe.substr(exe.rfind('/') + 1));
  e.set_exe(exe);
  return e;
}

std::size_t lateral_alerts(const std::string& addr) {
  std::size_t n = 0;
  for (const auto& a : fleet_alerts(addr)) {
    n += a.kind() == "fleet-lateral-movement" ? 1 : 0;
  }
  return n;
}

TEST(Correlation, LateralMovementNeedsTheShellToDescendFromTheAcceptingProcess) {
  vigil::test::TempDir dir;
  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start({})) << collector.err();
  // web's hello claims the address its stream comes from (so it is verified):
  // connections from 127.0.0.1 are connections from the fleet host web.
  TestAgent web(collector.addr(), "lat-web", {"127.0.0.1"});
  TestAgent db(collector.addr(), "lat-db");
  ASSERT_TRUE(web.send({proc_event("exec", 10, 1, "/usr/bin/true")}));
  auto fork = [](std::uint32_t parent, std::uint32_t grandparent, std::uint32_t child,
                 const std::string& exe) {
    auto e = proc_event("fork", parent, grandparent, exe);
    e.mutable_fork()->set_child_pid(child);
    return e;
  };
  auto accept = proc_event("accept", 700, 1, "/usr/sbin/nginx");
  accept.mutable_socket()->set_raddr("127.0.0.1");
  accept.mutable_socket()->set_lport(443);
  // Ordinary traffic from web to db's nginx, and cron running a shell job:
  // the old rule linked them into a score-90 fleet alert.
  ASSERT_TRUE(
      db.send({fork(1, 0, 800, "/usr/sbin/cron"), accept, fork(800, 1, 900, "/usr/sbin/cron"),
               proc_event("exec", 900, 800, "/bin/sh")}));
  EXPECT_EQ(lateral_alerts(collector.addr()), 0U);
  // The accepting process spawning the shell is lateral movement.
  ASSERT_TRUE(
      db.send({fork(700, 1, 701, "/usr/sbin/nginx"), proc_event("exec", 701, 700, "/bin/bash")}));
  const auto alerts = fleet_alerts(collector.addr());
  std::vector<vigil::v1::Alert> lateral;
  for (const auto& a : alerts) {
    if (a.kind() == "fleet-lateral-movement") lateral.push_back(a);
  }
  ASSERT_EQ(lateral.size(), 1U);
  EXPECT_EQ(std::vector<std::string>(lateral[0].hosts().begin(), lateral[0].hosts().end()),
            (std::vector<std::string>{"lat-db", "lat-web"}));
  ASSERT_EQ(lateral[0].group_size(), 2);
  EXPECT_EQ(lateral[0].group(1).field(), "lineage");
  EXPECT_EQ(lateral[0].group(1).value(), "700");
}

TEST(QueryApi, ReportAndEventsPageWithOpaqueTokensBoundToTheirFilters) {
  vigil::test::TempDir dir;
  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start({})) << collector.err();
  {
    TestAgent a(collector.addr(), "page-a");
    TestAgent b(collector.addr(), "page-b");
    TestAgent c(collector.addr(), "page-c");
    for (auto* agent : {&a, &b, &c}) {
      std::vector<vigil::v1::Event> events;
      for (std::uint32_t i = 0; i < 50; ++i) {
        events.push_back(proc_event("exec", 100 + i, 1, "/usr/bin/true"));
      }
      ASSERT_TRUE(agent->send(std::move(events)));
    }
  }
  auto stub = vigil::v1::QueryService::NewStub(
      grpc::CreateChannel(collector.addr(), grpc::InsecureChannelCredentials()));
  auto report = [&](const vigil::v1::FleetReportRequest& req, vigil::v1::FleetReport* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    return stub->FleetReport(&ctx, req, out);
  };
  vigil::v1::FleetReportRequest req;
  req.set_window_s(600);
  req.set_page_size(1);
  std::vector<std::string> hosts;
  for (int pages = 0; pages < 10; ++pages) {
    vigil::v1::FleetReport page;
    ASSERT_TRUE(report(req, &page).ok());
    EXPECT_TRUE(page.complete());
    EXPECT_EQ(page.events(), 150U) << "every page carries the whole window's totals";
    EXPECT_EQ(page.total_hosts(), 3U);
    for (const auto& h : page.hosts()) hosts.push_back(h.host());
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
    if (pages == 0) {
      auto other = req;
      other.set_top(9);
      vigil::v1::FleetReport refused;
      EXPECT_EQ(report(other, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    }
  }
  EXPECT_EQ(hosts, (std::vector<std::string>{"page-a", "page-b", "page-c"}));

  auto events = [&](const vigil::v1::QueryEventsRequest& r, vigil::v1::QueryEventsResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    return stub->QueryEvents(&ctx, r, out);
  };
  vigil::v1::QueryEventsRequest q;
  q.set_host("page-b");
  q.set_limit(20);
  vigil::v1::QueryEventsResponse first;
  ASSERT_TRUE(events(q, &first).ok());
  ASSERT_EQ(first.events_size(), 20);
  ASSERT_FALSE(first.next_page_token().empty());
  auto other = q;
  other.set_host("page-c");
  other.set_page_token(first.next_page_token());
  vigil::v1::QueryEventsResponse resp;
  EXPECT_EQ(events(other, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto forged = q;
  forged.set_page_token(std::string(first.next_page_token()).replace(3, 1, "x"));
  EXPECT_EQ(events(forged, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // vigilctl follows every page: all 150 events of the three hosts.
  fs::create_directories(dir.path() / "ctl");
  Proc all({VIGILCTL_BIN, "--collector", collector.addr(), "--insecure", "--json", "events",
            "--limit", "40", "--all"},
           dir.path() / "ctl");
  ASSERT_EQ(all.wait(), 0) << all.err();
  const auto parsed = nlohmann::json::parse(all.out(), nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << all.out();
  EXPECT_EQ(parsed["events"].size(), 150U);
  EXPECT_EQ(collector.stop(), 0);
}

vigil::v1::Container workload(const std::string& id, const std::string& name,
                              const std::string& image, const std::string& pod,
                              const std::string& ns) {
  vigil::v1::Container c;
  c.set_id(id);
  c.set_runtime("containerd");
  c.set_name(name);
  c.set_image(image);
  c.set_pod(pod);
  c.set_k8s_ns(ns);
  c.set_pod_uid(pod + "-uid");
  return c;
}

TEST(QueryApi, WorkloadsAreFilteredAndGroupedOverGrpcAndVigilctl) {
  vigil::test::TempDir dir;
  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start({})) << collector.err();
  const auto api = workload(std::string(64, 'a'), "api", "registry.local/payments/api:1.4",
                            "api-7f9c", "payments");
  const auto web = workload(std::string(64, 'b'), "web", "nginx:1.25", "web-1", "shop");
  {
    TestAgent node(collector.addr(), "node-1");
    std::vector<vigil::v1::Event> events;
    for (int i = 0; i < 3; ++i) {
      auto e = proc_event("exec", 200 + i, 1, "/usr/bin/curl");
      *e.mutable_container() = web;
      events.push_back(e);
    }
    auto shell = proc_event("exec", 300, 1, "/bin/sh");
    *shell.mutable_container() = api;
    auto* label = shell.mutable_container()->add_labels();
    label->set_key("app");
    label->set_value("api");
    shell.mutable_ns()->set_mnt(4026532801);
    shell.mutable_ns()->set_ns_pid(1);
    shell.set_host_ns(false);
    shell.set_score(80);
    shell.set_alert_id("run-1");
    shell.add_indicators()->set_id("container-shell");
    events.push_back(shell);
    events.push_back(proc_event("exec", 400, 1, "/usr/bin/true"));  // the host's
    // A pod name with an escape sequence: refused (bad_text), the rest stored.
    auto hostile = proc_event("exec", 500, 1, "/bin/sh");
    *hostile.mutable_container() = web;
    hostile.mutable_container()->set_pod("web-1\x1b[2J");
    events.push_back(hostile);
    ASSERT_TRUE(node.send(std::move(events)));
  }
  auto stub = vigil::v1::QueryService::NewStub(
      grpc::CreateChannel(collector.addr(), grpc::InsecureChannelCredentials()));
  const auto deadline = [] { return std::chrono::system_clock::now() + 5s; };

  vigil::v1::QueryAlertsResponse alerts;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    vigil::v1::QueryAlertsRequest req;
    req.set_k8s_ns("payments");
    ASSERT_TRUE(stub->QueryAlerts(&ctx, req, &alerts).ok());
  }
  ASSERT_EQ(alerts.alerts_size(), 1);
  const auto& stored = alerts.alerts(0).event();
  EXPECT_EQ(stored.container().pod(), "api-7f9c");
  EXPECT_EQ(stored.container().image(), "registry.local/payments/api:1.4");
  ASSERT_EQ(stored.container().labels_size(), 1);
  EXPECT_EQ(stored.ns().mnt(), 4026532801U);
  EXPECT_FALSE(stored.host_ns());

  auto events = [&](vigil::v1::QueryEventsRequest req, vigil::v1::QueryEventsResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    req.set_since_ns(1);
    return stub->QueryEvents(&ctx, req, out);
  };
  vigil::v1::QueryEventsRequest by_pod;
  by_pod.set_pod("shop/web-1");
  by_pod.set_limit(2);
  vigil::v1::QueryEventsResponse page;
  ASSERT_TRUE(events(by_pod, &page).ok());
  ASSERT_EQ(page.events_size(), 2);
  EXPECT_EQ(page.events(0).event().container().name(), "web");
  ASSERT_FALSE(page.next_page_token().empty());
  by_pod.set_page_token(page.next_page_token());
  ASSERT_TRUE(events(by_pod, &page).ok());
  EXPECT_EQ(page.events_size(), 1) << "the hostile event was not stored";
  auto other = by_pod;
  other.set_image("nginx");  // a token is bound to its workload filters
  EXPECT_EQ(events(other, &page).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  vigil::v1::FleetReport report;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    vigil::v1::FleetReportRequest req;
    req.set_window_s(600);
    ASSERT_TRUE(stub->FleetReport(&ctx, req, &report).ok());
  }
  EXPECT_EQ(report.events(), 5U);
  ASSERT_EQ(report.top_pods_size(), 2);
  EXPECT_EQ(report.top_pods(0).key(), "payments/api-7f9c");
  EXPECT_EQ(report.top_pods(0).alerts(), 1U);
  EXPECT_EQ(report.top_pods(0).risk(), 80U);
  EXPECT_EQ(report.top_pods(1).key(), "shop/web-1");
  EXPECT_EQ(report.top_pods(1).events(), 3U);
  ASSERT_EQ(report.top_k8s_namespaces_size(), 2);
  ASSERT_EQ(report.top_images_size(), 2);
  EXPECT_EQ(report.top_images(1).key(), "nginx:1.25");

  // vigilctl: the issue's command, global options after the subcommand.
  int n = 0;
  auto ctl = [&](std::vector<std::string> args) {
    const auto d = dir.path() / ("ctl-" + std::to_string(++n));
    fs::create_directories(d);
    args.insert(args.begin(), VIGILCTL_BIN);
    args.insert(args.end(), {"--collector", collector.addr(), "--insecure"});
    auto p = std::make_unique<Proc>(args, d);
    EXPECT_EQ(p->wait(), 0) << p->err();
    return p->out();
  };
  const auto text = ctl({"alerts", "--k8s-ns", "payments"});
  EXPECT_NE(text.find("CONTAINER"), std::string::npos) << text;
  EXPECT_NE(text.find("payments/api-7f9c"), std::string::npos) << text;
  EXPECT_NE(text.find("registry.local/payments/api:1.4"), std::string::npos) << text;
  EXPECT_EQ(text.find("web-1"), std::string::npos) << text;
  EXPECT_EQ(ctl({"alerts", "--k8s-ns", "shop"}).find("run-1"), std::string::npos);
  auto json = nlohmann::json::parse(ctl({"--json", "alerts", "--pod", "api-7f9c"}), nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  ASSERT_EQ(json["alerts"].size(), 1U);
  EXPECT_EQ(json["alerts"][0]["event"]["container"]["k8s_ns"], "payments");
  json = nlohmann::json::parse(
      ctl({"events", "--image", "nginx", "--container", "bbbbbbbbbbbb", "--json"}), nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  EXPECT_EQ(json["events"].size(), 3U);
  const auto events_text = ctl({"events", "--k8s-ns", "payments"});
  EXPECT_NE(events_text.find("api-7f9c"), std::string::npos) << events_text;
  EXPECT_EQ(events_text.find("/usr/bin/true"), std::string::npos) << events_text;
  const auto report_text = ctl({"report"});
  EXPECT_NE(report_text.find("Top pods"), std::string::npos) << report_text;
  EXPECT_NE(report_text.find("payments/api-7f9c  1       80    1"), std::string::npos)
      << report_text;
  EXPECT_NE(report_text.find("Top Kubernetes namespaces"), std::string::npos) << report_text;
  json = nlohmann::json::parse(ctl({"report", "--json"}), nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  EXPECT_EQ(json["top_images"][0]["key"], "registry.local/payments/api:1.4");
  EXPECT_EQ(collector.stop(), 0);
}

}  // namespace
