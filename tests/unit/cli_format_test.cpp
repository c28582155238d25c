#include <gtest/gtest.h>

#include "vigil/cli/format.h"
#include "vigil/cli/query_format.h"

namespace vigil::cli {
namespace {

TEST(CliFormat, Durations) {
  EXPECT_EQ(parse_duration("90s"), 90U);
  EXPECT_EQ(parse_duration("15m"), 900U);
  EXPECT_EQ(parse_duration("2h"), 7200U);
  EXPECT_EQ(parse_duration("7d"), 604800U);
  EXPECT_EQ(parse_duration("42"), 42U);
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("m"));
  EXPECT_FALSE(parse_duration("1.5h"));
  EXPECT_FALSE(parse_duration("-3s"));
  EXPECT_FALSE(parse_duration("10y"));
}

TEST(CliFormat, AgentTextIsMadeSafeForTheTerminal) {
  EXPECT_EQ(printable("calm"), "calm");
  EXPECT_EQ(printable("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(printable("a\rb\nc\x7f"), "a\\x0db\\x0ac\\x7f");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x96\x81"), "caf\xc3\xa9 \xe2\x96\x81");  // UTF-8 kept
  EXPECT_EQ(printable("\xc2\x9b"
                      "2J"),
            "\\u009b2J");                          // C1 CSI
  EXPECT_EQ(printable("\xff\xc3"), "\\xff\\xc3");  // not UTF-8
  Table t({"LEVEL"});
  t.add({"\x1b]0;pwned\x07<b>x</b>"});
  const auto out = t.render();
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
}

TEST(CliFormat, TimesAndAges) {
  EXPECT_EQ(format_time(0), "-");
  EXPECT_EQ(format_time(1'790'000'000ULL * 1'000'000'000ULL), "2026-09-21 14:13:20");
  const std::uint64_t now = 1'790'000'000ULL * 1'000'000'000ULL;
  EXPECT_EQ(format_age(now - 5'000'000'000ULL, now), "5s ago");
  EXPECT_EQ(format_age(now - 600'000'000'000ULL, now), "10m ago");
  EXPECT_EQ(format_age(0, now), "never");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(3 << 20), "3.0 MiB");
}

TEST(CliFormat, TableAlignsColumnsAndCutsLongCells) {
  Table t({"HOST", "SCORE"});
  t.add({"web-1", "75"});
  t.add({"a-much-longer-host", "5"});
  EXPECT_EQ(t.render(),
            "HOST                SCORE\nweb-1               75\na-much-longer-host  5\n");
  Table cut({"X", "Y"});
  cut.add({"abcdefghij", "z"});
  EXPECT_EQ(cut.render(5), "X      Y\nabcd…  z\n");
  EXPECT_EQ(sparkline({0, 7, 14}), "▁▄█");
}

v1::Alert alert(const std::string& id, const char* pod) {
  v1::Alert a;
  a.set_id(id);
  a.set_ts_ns(1'790'000'000ULL * 1'000'000'000ULL);
  a.set_score(80);
  a.set_kind("container-shell");
  a.add_hosts("node-1");
  a.set_count(1);
  a.set_summary("exec sh");
  if (pod != nullptr) {
    auto* c = a.mutable_event()->mutable_container();
    c->set_id("4f9d1c2b3a4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef");
    c->set_image("nginx:1.25");
    c->set_pod(pod);
    c->set_k8s_ns("payments");
  }
  return a;
}

TEST(CliFormat, AlertsAndEventsShowContainerColumnsOnlyWhenAContainerIsThere) {
  google::protobuf::RepeatedPtrField<v1::Alert> alerts;
  *alerts.Add() = alert("node-1:run-1", nullptr);
  auto host_only = alerts_table(alerts).render();
  EXPECT_EQ(host_only.find("CONTAINER"), std::string::npos) << host_only;
  EXPECT_NE(host_only.find("LABEL"), std::string::npos);

  *alerts.Add() = alert("node-1:run-2", "api-7f9c");
  const auto both = alerts_table(alerts).render();
  EXPECT_NE(both.find("ATT&CK  CONTAINER     POD                IMAGE       LABEL"),
            std::string::npos)
      << both;
  // The container's name is not known: its id as `docker ps` shows it.
  EXPECT_NE(both.find("-       4f9d1c2b3a4e  payments/api-7f9c  nginx:1.25  -"), std::string::npos)
      << both;
  EXPECT_NE(both.find("-       -             -                  -           -"), std::string::npos)
      << "the host's alert: dashes\n"
      << both;

  google::protobuf::RepeatedPtrField<v1::StoredEvent> events;
  auto* se = events.Add();
  se->set_host("node-1");
  *se->mutable_event() = alert("x", "db-0").event();
  se->mutable_event()->mutable_container()->set_name("db");
  se->mutable_event()->set_comm("psql");
  const auto ev = events_table(events).render();
  EXPECT_NE(ev.find("CONTAINER  POD"), std::string::npos) << ev;
  EXPECT_NE(ev.find("db         payments/db-0  psql"), std::string::npos) << ev;
  EXPECT_EQ(workload_words(se->event()), " container=db pod=payments/db-0 image=nginx:1.25");
  EXPECT_EQ(workload_words(v1::Event{}), "");
  // A pod known only by its uid (kubelet's cgroup layout, no runtime socket).
  v1::Event uid_only;
  uid_only.mutable_container()->set_pod_uid("6d3c2b1a");
  EXPECT_EQ(pod_cell(uid_only), "6d3c2b1a");
  EXPECT_EQ(container_cell(uid_only), "-");
}

TEST(CliFormat, ReportWorkloadGroupsAreTables) {
  google::protobuf::RepeatedPtrField<v1::GroupReport> pods;
  auto* g = pods.Add();
  g->set_key("payments/api-7f9c");
  g->set_events(120);
  g->set_alerts(2);
  g->set_risk(85);
  EXPECT_EQ(groups_table("POD", pods).render(),
            "POD                ALERTS  RISK  EVENTS\n"
            "payments/api-7f9c  2       85    120\n");
  // Names from agents go through printable() like every cell.
  g->set_key("evil\x1b[2J");
  EXPECT_EQ(groups_table("POD", pods).render().find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace vigil::cli
