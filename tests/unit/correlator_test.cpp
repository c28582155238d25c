// Cross-host correlation on synthetic events through the Correlator, as ingest
// drives it: the shipped Sigma pack (fleet-scan, fleet-flood,
// fleet-lateral-movement) and the C++ fleet-novel-exe, on the collector's clock.
#include "vigil/collector/correlator.h"

#include <gtest/gtest.h>

namespace vigil::collector {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kT0 = 1'790'000'000ULL * kSec;

Correlator shipped(CorrelatorOptions options = {}) {
  auto rules = load_correlation_rules(options, nullptr);
  EXPECT_TRUE(rules.has_value()) << (rules ? "" : rules.error().message);
  return Correlator(options, rules ? std::move(*rules) : std::vector<sigma::CorrelationRule>{});
}

// An XDP summary as agents ship it: the reason and the indicator it raised.
v1::Event scan_from(const std::string& src, const char* reason = "scan") {
  v1::Event e;
  e.set_type("net_summary");
  e.set_ts_ns(kT0);
  e.mutable_net_summary()->set_src(src);
  e.mutable_net_summary()->add_reasons(reason);
  const std::string r = reason;
  const char* id = r == "scan"             ? "port-scan"
                   : r == "syn_flood"      ? "syn-flood"
                   : r.ends_with("_flood") ? "packet-flood"
                                           : nullptr;
  if (id != nullptr) e.add_indicators()->set_id(id);
  return e;
}

v1::Event exec_of(const std::string& exe) {
  v1::Event e;
  e.set_type("exec");
  e.set_ts_ns(kT0);
  e.set_exe(exe);
  e.mutable_exec()->set_filename(exe);
  return e;
}

struct Feed {
  Correlator& c;
  std::vector<v1::Alert> out;
  void operator()(const std::string& host, const v1::Event& e, std::uint64_t now) {
    c.observe({.agent_id = host, .host = host}, e, now, out);
  }
};

std::vector<std::string> hosts_of(const v1::Alert& a) {
  return {a.hosts().begin(), a.hosts().end()};
}

TEST(Correlator, OneSourceScanningThreeHostsIsOneFleetAlertNamingAll) {
  auto c = shipped();
  Feed feed{c};
  feed("h1", scan_from("10.9.9.9"), kT0);
  EXPECT_TRUE(feed.out.empty());  // one host is not a fleet pattern
  feed("h1", scan_from("10.9.9.9"), kT0 + kSec);
  EXPECT_TRUE(feed.out.empty());
  feed("h2", scan_from("10.9.9.9"), kT0 + 2 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  const auto id = feed.out[0].id();
  EXPECT_TRUE(feed.out[0].fleet());
  EXPECT_EQ(feed.out[0].kind(), "fleet-scan");
  EXPECT_EQ(feed.out[0].score(), 70U);
  EXPECT_EQ(feed.out[0].indicators(0).attack(), "T1046");
  EXPECT_EQ(feed.out[0].rule().source(), "(shipped) fleet/fleet_scan.yml");
  EXPECT_NE(feed.out[0].summary().find("10.9.9.9"), std::string::npos) << feed.out[0].summary();
  feed("h3", scan_from("10.9.9.9"), kT0 + 3 * kSec);
  ASSERT_EQ(feed.out.size(), 2U);
  EXPECT_EQ(feed.out[1].id(), id);  // the same alert, grown
  EXPECT_EQ(hosts_of(feed.out[1]), (std::vector<std::string>{"h1", "h2", "h3"}));
  // A repeat from a host already named says nothing new.
  feed("h2", scan_from("10.9.9.9"), kT0 + 4 * kSec);
  EXPECT_EQ(feed.out.size(), 2U);
  // Periodic summaries are not scans; other sources are separate episodes.
  feed("h1", scan_from("10.1.1.1", "periodic"), kT0 + 5 * kSec);
  feed("h2", scan_from("10.1.1.1", "periodic"), kT0 + 5 * kSec);
  EXPECT_EQ(feed.out.size(), 2U);
  EXPECT_EQ(c.stats().alerts_created, 1U);
  EXPECT_EQ(c.stats().alerts_updated, 1U);
}

TEST(Correlator, EventsOutsideTheWindowDoNotCorrelate) {
  auto c = shipped();  // the shipped rules' timespan: 5 minutes of collector time
  Feed feed{c};
  feed("h1", scan_from("10.9.9.9"), kT0);
  feed("h2", scan_from("10.9.9.9"), kT0 + 400 * kSec);
  EXPECT_TRUE(feed.out.empty());
  // A flood is its own rule: h2's scan does not count towards it.
  feed("h3", scan_from("10.9.9.9", "syn_flood"), kT0 + 410 * kSec);
  EXPECT_TRUE(feed.out.empty());
  feed("h4", scan_from("10.9.9.9", "udp_flood"), kT0 + 411 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].kind(), "fleet-flood");
  EXPECT_EQ(hosts_of(feed.out[0]), (std::vector<std::string>{"h3", "h4"}));
}

TEST(Correlator, AgentTimestampsDoNotMoveTheWindows) {
  // The old correlator expired on event time: one agent 23 h ahead froze
  // expiry for everyone. Only arrival time counts now.
  auto c = shipped();
  Feed feed{c};
  auto skewed = scan_from("10.9.9.9");
  skewed.set_ts_ns(kT0 + 23ULL * 3600 * kSec);
  feed("h1", skewed, kT0);
  feed("h2", scan_from("10.9.9.9"), kT0 + kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].ts_ns(), kT0 + kSec);
  feed("h3", scan_from("10.9.9.9"), kT0 + 600 * kSec);
  feed("h1", skewed, kT0 + 601 * kSec);
  ASSERT_EQ(feed.out.size(), 2U);
  EXPECT_NE(feed.out[1].id(), feed.out[0].id()) << "the first episode closed on time";
  EXPECT_EQ(hosts_of(feed.out[1]), (std::vector<std::string>{"h1", "h3"}));
}

TEST(Correlator, SameDroppedExecutableOnTwoHosts) {
  auto c = shipped({.window_s = 300, .min_hosts = 2});
  Feed feed{c};
  feed("h1", exec_of("/usr/bin/ls"), kT0);
  feed("h2", exec_of("/usr/bin/ls"), kT0 + kSec);
  EXPECT_TRUE(feed.out.empty());  // system binaries everywhere are normal
  feed("h1", exec_of("/tmp/.x/miner"), kT0 + 2 * kSec);
  feed("h2", exec_of("/tmp/.x/miner"), kT0 + 3 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].kind(), "fleet-novel-exe");
  feed("h3", exec_of("/tmp/.x/miner"), kT0 + 4 * kSec);
  ASSERT_EQ(feed.out.size(), 2U);
  EXPECT_EQ(feed.out[1].hosts_size(), 3);
  // Once raised and expired, the same executable does not alert again.
  feed("h4", exec_of("/tmp/.x/miner"), kT0 + 1000 * kSec);
  feed("h5", exec_of("/tmp/.x/miner"), kT0 + 1001 * kSec);
  EXPECT_EQ(feed.out.size(), 2U);
}

v1::Event with_pids(v1::Event e, std::uint32_t pid, std::uint32_t ppid) {
  e.set_pid(pid);
  e.set_ppid(ppid);
  return e;
}

v1::Event accept_from(const std::string& raddr, std::uint32_t pid, std::uint32_t ppid = 1) {
  v1::Event e;
  e.set_type("accept");
  e.set_ts_ns(kT0);
  e.mutable_socket()->set_raddr(raddr);
  e.mutable_socket()->set_lport(22);
  return with_pids(e, pid, ppid);
}

v1::Event fork_of(std::uint32_t parent, std::uint32_t grandparent, std::uint32_t child) {
  v1::Event e;
  e.set_type("fork");
  e.set_ts_ns(kT0);
  e.mutable_fork()->set_child_pid(child);
  return with_pids(e, parent, grandparent);
}

TEST(Correlator, ConnectionFromAFleetHostThenShellIsLateralMovement) {
  auto c = shipped();
  c.set_host_addresses("web", {"10.0.0.1"});
  c.set_host_addresses("db", {"10.0.0.2"});
  Feed feed{c};
  // sshd (500) accepts web's connection and forks a session (501) whose
  // shell (502) runs a script interpreter (503): 503's ancestry includes 500.
  const auto accept = accept_from("10.0.0.1", 500);
  // The shell first, then the connection: the wrong order.
  feed("db", with_pids(exec_of("/bin/bash"), 502, 501), kT0);
  feed("db", accept, kT0 + kSec);
  feed("db", fork_of(500, 1, 501), kT0 + kSec);
  feed("db", with_pids(exec_of("/usr/bin/ls"), 501, 500), kT0 + 2 * kSec);
  EXPECT_TRUE(feed.out.empty());
  feed("db", fork_of(501, 500, 502), kT0 + 2 * kSec);
  feed("db", with_pids(exec_of("/usr/bin/python3"), 503, 502), kT0 + 3 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].kind(), "fleet-lateral-movement");
  EXPECT_EQ(feed.out[0].score(), 90U);
  EXPECT_EQ(hosts_of(feed.out[0]), (std::vector<std::string>{"db", "web"}));
  ASSERT_EQ(feed.out[0].group_size(), 2);
  EXPECT_EQ(feed.out[0].group(0).value(), "db");
  EXPECT_EQ(feed.out[0].group(1).field(), "lineage");
  EXPECT_EQ(feed.out[0].group(1).value(), "500");
  EXPECT_EQ(c.stats().lineage_links, 1U);

  // A bind shell: the accepting process itself becomes the shell.
  auto self = shipped();
  self.set_host_addresses("web", {"10.0.0.1"});
  Feed bind{self};
  bind("db", accept_from("10.0.0.1", 4444, 4000), kT0);
  bind("db", with_pids(exec_of("/bin/sh"), 4444, 4000), kT0 + kSec);
  ASSERT_EQ(bind.out.size(), 1U);
  EXPECT_EQ(bind.out[0].kind(), "fleet-lateral-movement");

  // A shell long after the connection is not linked to it.
  auto late = shipped();
  late.set_host_addresses("web", {"10.0.0.1"});
  Feed none{late};
  none("db", accept, kT0);
  none("db", with_pids(exec_of("/bin/bash"), 501, 500), kT0 + 500 * kSec);
  EXPECT_TRUE(none.out.empty());
  // A connection from an address outside the fleet is not lateral movement,
  // nor is one from an address the host reported again without it.
  auto outside = shipped();
  outside.set_host_addresses("web", {"10.0.0.1"});
  outside.set_host_addresses("web", {"10.0.0.9"});
  Feed out{outside};
  out("db", accept, kT0);
  out("db", with_pids(exec_of("/bin/bash"), 501, 500), kT0 + kSec);
  out("db", accept_from("203.0.113.5", 500), kT0 + 2 * kSec);
  out("db", with_pids(exec_of("/bin/bash"), 501, 500), kT0 + 3 * kSec);
  EXPECT_TRUE(out.out.empty());
}

TEST(Correlator, FleetTrafficPlusAnUnrelatedCronShellIsNotLateralMovement) {
  // The old rule linked any fleet peer's connection to any shell on the host
  // within five minutes: a web server serving a fleet host plus a cron job
  // was a score-90 fleet alert. Only a shell descending from the accepting
  // process counts.
  auto c = shipped();
  c.set_host_addresses("web", {"10.0.0.1"});
  Feed feed{c};
  feed("db", fork_of(1, 0, 800), kT0);            // cron, a child of pid 1
  feed("db", accept_from("10.0.0.1", 700), kT0);  // nginx (700) serves web
  feed("db", accept_from("10.0.0.1", 700), kT0 + kSec);
  feed("db", fork_of(800, 1, 900), kT0 + 2 * kSec);                     // cron forks a job...
  feed("db", with_pids(exec_of("/bin/sh"), 900, 800), kT0 + 2 * kSec);  // ...a shell
  feed("db", with_pids(exec_of("/usr/bin/bash"), 901, 900), kT0 + 3 * kSec);
  // A shell whose parent the collector never heard of links nothing either.
  feed("db", with_pids(exec_of("/bin/sh"), 950, 949), kT0 + 4 * kSec);
  EXPECT_TRUE(feed.out.empty());
  EXPECT_EQ(c.stats().lineage_links, 0U);
  // pid 1 accepting (socket activation) is everyone's ancestor: it links nothing.
  feed("db", accept_from("10.0.0.1", 1, 0), kT0 + 5 * kSec);
  feed("db", with_pids(exec_of("/bin/sh"), 902, 800), kT0 + 6 * kSec);
  EXPECT_TRUE(feed.out.empty());
  // The same host, a real chain: still alerts.
  feed("db", fork_of(700, 1, 701), kT0 + 7 * kSec);
  feed("db", with_pids(exec_of("/bin/sh"), 701, 700), kT0 + 8 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].kind(), "fleet-lateral-movement");
}

TEST(Correlator, TheLineageTableIsBounded) {
  auto c = shipped({.max_processes = 100});
  c.set_host_addresses("web", {"10.0.0.1"});
  Feed feed{c};
  for (std::uint32_t pid = 2; pid < 1000; ++pid) {
    feed("db", fork_of(pid, 1, pid + 10'000), kT0);
  }
  EXPECT_GT(c.stats().lineage_resets, 0U);
  // A chain learnt after the reset still links.
  feed("db", accept_from("10.0.0.1", 500), kT0 + kSec);
  feed("db", fork_of(500, 1, 501), kT0 + kSec);
  feed("db", with_pids(exec_of("/bin/bash"), 502, 501), kT0 + 2 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
}

TEST(Correlator, SameSeriousIndicatorOnThreeHosts) {
  auto c = shipped();
  Feed feed{c};
  for (const char* h : {"a", "b"}) {
    auto e = exec_of("/bin/sh");
    e.add_indicators()->set_id("reverse-shell");
    feed(h, e, kT0);
  }
  EXPECT_TRUE(feed.out.empty());
  auto e = exec_of("/usr/bin/python3");
  e.add_indicators()->set_id("reverse-shell");
  feed("c", e, kT0 + kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].kind(), "fleet-indicator-spread");
  EXPECT_EQ(feed.out[0].group(0).field(), "indicator");
  EXPECT_EQ(feed.out[0].group(0).value(), "reverse-shell");
}

}  // namespace
}  // namespace vigil::collector
