// Cross-host correlation on synthetic events: windows, host sets, one alert per episode.
#include "vigil/collector/correlator.h"

#include <gtest/gtest.h>

namespace vigil::collector {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kT0 = 1'790'000'000ULL * kSec;

v1::Event scan_from(const std::string& src, std::uint64_t ts, const char* reason = "scan") {
  v1::Event e;
  e.set_type("net_summary");
  e.set_ts_ns(ts);
  e.mutable_net_summary()->set_src(src);
  e.mutable_net_summary()->add_reasons(reason);
  return e;
}

v1::Event exec_of(const std::string& exe, std::uint64_t ts) {
  v1::Event e;
  e.set_type("exec");
  e.set_ts_ns(ts);
  e.set_exe(exe);
  e.mutable_exec()->set_filename(exe);
  return e;
}

TEST(Correlator, OneSourceScanningThreeHostsIsOneFleetAlertNamingAll) {
  Correlator c({.window_s = 60, .min_hosts = 2});
  std::vector<v1::Alert> out;
  c.observe("h1", scan_from("10.9.9.9", kT0), out);
  EXPECT_TRUE(out.empty());  // one host is not a fleet pattern
  c.observe("h1", scan_from("10.9.9.9", kT0 + kSec), out);
  EXPECT_TRUE(out.empty());
  c.observe("h2", scan_from("10.9.9.9", kT0 + 2 * kSec), out);
  ASSERT_EQ(out.size(), 1U);
  const auto id = out[0].id();
  EXPECT_TRUE(out[0].fleet());
  EXPECT_EQ(out[0].kind(), "fleet-scan");
  c.observe("h3", scan_from("10.9.9.9", kT0 + 3 * kSec), out);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[1].id(), id);  // the same alert, grown
  EXPECT_EQ(std::vector<std::string>(out[1].hosts().begin(), out[1].hosts().end()),
            (std::vector<std::string>{"h1", "h2", "h3"}));
  // A repeat from a host already named says nothing new.
  c.observe("h2", scan_from("10.9.9.9", kT0 + 4 * kSec), out);
  EXPECT_EQ(out.size(), 2U);
  // Periodic summaries are not scans; other sources are separate episodes.
  c.observe("h1", scan_from("10.1.1.1", kT0 + 5 * kSec, "periodic"), out);
  c.observe("h2", scan_from("10.1.1.1", kT0 + 5 * kSec, "periodic"), out);
  EXPECT_EQ(out.size(), 2U);
  EXPECT_EQ(c.stats().alerts_created, 1U);
  EXPECT_EQ(c.stats().alerts_updated, 1U);
}

TEST(Correlator, EventsOutsideTheWindowDoNotCorrelate) {
  Correlator c({.window_s = 60, .min_hosts = 2});
  std::vector<v1::Alert> out;
  c.observe("h1", scan_from("10.9.9.9", kT0), out);
  c.observe("h2", scan_from("10.9.9.9", kT0 + 200 * kSec), out);
  EXPECT_TRUE(out.empty());
  // A flood is its own rule: h2's scan does not count towards it.
  c.observe("h3", scan_from("10.9.9.9", kT0 + 210 * kSec, "syn_flood"), out);
  EXPECT_TRUE(out.empty());
  c.observe("h4", scan_from("10.9.9.9", kT0 + 211 * kSec, "syn_flood"), out);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].kind(), "fleet-flood");
  EXPECT_EQ(std::vector<std::string>(out[0].hosts().begin(), out[0].hosts().end()),
            (std::vector<std::string>{"h3", "h4"}));
}

TEST(Correlator, SameDroppedExecutableOnTwoHosts) {
  Correlator c({.window_s = 300, .min_hosts = 2});
  std::vector<v1::Alert> out;
  c.observe("h1", exec_of("/usr/bin/ls", kT0), out);
  c.observe("h2", exec_of("/usr/bin/ls", kT0 + kSec), out);
  EXPECT_TRUE(out.empty());  // system binaries everywhere are normal
  c.observe("h1", exec_of("/tmp/.x/miner", kT0 + 2 * kSec), out);
  c.observe("h2", exec_of("/tmp/.x/miner", kT0 + 3 * kSec), out);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].kind(), "fleet-novel-exe");
  c.observe("h3", exec_of("/tmp/.x/miner", kT0 + 4 * kSec), out);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[1].hosts_size(), 3);
  // Once raised and expired, the same executable does not alert again.
  c.observe("h4", exec_of("/tmp/.x/miner", kT0 + 1000 * kSec), out);
  c.observe("h5", exec_of("/tmp/.x/miner", kT0 + 1001 * kSec), out);
  EXPECT_EQ(out.size(), 2U);
}

TEST(Correlator, ConnectionFromAFleetHostThenShellIsLateralMovement) {
  Correlator c({.window_s = 120, .min_hosts = 2});
  c.set_host_addresses("web", {"10.0.0.1"});
  c.set_host_addresses("db", {"10.0.0.2"});
  std::vector<v1::Alert> out;
  v1::Event accept;
  accept.set_type("accept");
  accept.set_ts_ns(kT0);
  accept.mutable_socket()->set_raddr("10.0.0.1");
  accept.mutable_socket()->set_lport(22);
  c.observe("db", accept, out);
  c.observe("db", exec_of("/usr/bin/ls", kT0 + kSec), out);
  EXPECT_TRUE(out.empty());
  c.observe("db", exec_of("/bin/bash", kT0 + 2 * kSec), out);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].kind(), "fleet-lateral-movement");
  EXPECT_EQ(std::vector<std::string>(out[0].hosts().begin(), out[0].hosts().end()),
            (std::vector<std::string>{"db", "web"}));
  // A shell long after the connection is not linked to it.
  Correlator late({.window_s = 120, .min_hosts = 2});
  late.set_host_addresses("web", {"10.0.0.1"});
  std::vector<v1::Alert> none;
  late.observe("db", accept, none);
  late.observe("db", exec_of("/bin/bash", kT0 + 500 * kSec), none);
  EXPECT_TRUE(none.empty());
  // A connection from an address outside the fleet is not lateral movement.
  Correlator outside({.window_s = 120, .min_hosts = 2});
  outside.set_host_addresses("web", {"10.0.0.1"});
  accept.mutable_socket()->set_raddr("203.0.113.5");
  outside.observe("db", accept, none);
  outside.observe("db", exec_of("/bin/bash", kT0 + kSec), none);
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace vigil::collector
