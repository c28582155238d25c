// Sigma correlation rules on the collector: parsing (and the errors a bad rule
// gets), each correlation type, group-by and aliases, sliding windows on an
// injected collector clock, agents' timestamps that must not matter, bounded
// state, and the shipped fleet pack.
#include "vigil/collector/sigma_correlation.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>

#include "util/test_util.h"
#include "vigil/collector/collector.h"
#include "vigil/collector/correlator.h"

namespace vigil::collector::sigma {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kT0 = 1'790'000'000ULL * kSec;

std::vector<CorrelationRule> rules_of(std::string_view yaml) {
  auto r = parse_rules(yaml, "test.yml", nullptr);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : std::vector<CorrelationRule>{};
}

// The error a rule file gets; "" when it loads.
std::string error_of(std::string_view yaml) {
  auto r = parse_rules(yaml, "bad.yml", nullptr);
  return r ? std::string() : r.error().message;
}

v1::Event event(std::initializer_list<const char*> indicators, std::uint64_t agent_ts = kT0,
                const std::string& type = "exec") {
  v1::Event e;
  e.set_type(type);
  e.set_ts_ns(agent_ts);
  e.set_uid(1000);
  for (const char* id : indicators) e.add_indicators()->set_id(id);
  return e;
}

v1::Event exec_hit(const char* indicator, const std::string& exe) {
  auto e = event({indicator});
  e.set_exe(exe);
  e.mutable_exec()->set_filename(exe);
  e.mutable_exec()->add_args(exe);
  e.mutable_exec()->add_args("-x");
  return e;
}

v1::Event connect_hit(const char* indicator, const std::string& raddr, const std::string& laddr) {
  auto e = event({indicator}, kT0, "connect");
  e.mutable_socket()->set_raddr(raddr);
  e.mutable_socket()->set_rport(443);
  e.mutable_socket()->set_laddr(laddr);
  return e;
}

// Feeds an engine as the collector does: one host per call, the arrival time given.
struct Feed {
  CorrelationEngine& engine;
  std::vector<v1::Alert> out;
  void operator()(const std::string& host, const v1::Event& e, std::uint64_t now,
                  std::string_view peer = {}) {
    engine.observe({.agent = "agent-" + host, .host = host, .peer = peer, .event = e}, now, out);
  }
};

std::vector<std::string> hosts_of(const v1::Alert& a) {
  return {a.hosts().begin(), a.hosts().end()};
}

constexpr std::string_view kValueCountHosts = R"(
title: One tool on several hosts
id: 0b1d7f1e-5a55-4c1a-9d3b-6c2f4a1e0001
name: tool-spread
author: Test Author
references:
  - https://example.org/tool-spread
tags:
  - attack.lateral_movement
  - attack.t1570
level: high
correlation:
  type: value_count
  rules:
    - dropped-tool
  group-by:
    - Image
  timespan: 1m
  condition:
    field: host
    gte: 2
)";

TEST(SigmaCorrelation, ValueCountOverHostsRaisesOneAlertThatGrowsAndCarriesTheRule) {
  CorrelationEngine engine(rules_of(kValueCountHosts));
  Feed feed{engine};
  feed("h1", exec_hit("dropped-tool", "/tmp/x"), kT0);
  feed("h1", exec_hit("dropped-tool", "/tmp/x"), kT0 + kSec);
  EXPECT_TRUE(feed.out.empty()) << "one host twice is one distinct host";
  feed("h2", exec_hit("dropped-tool", "/tmp/other"), kT0 + 2 * kSec);
  EXPECT_TRUE(feed.out.empty()) << "another Image is another group";
  feed("h2", exec_hit("dropped-tool", "/tmp/x"), kT0 + 3 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  const auto a = feed.out[0];
  EXPECT_TRUE(a.fleet());
  EXPECT_EQ(a.kind(), "tool-spread");
  EXPECT_EQ(a.score(), 70U);  // level high
  EXPECT_EQ(a.ts_ns(), kT0 + 3 * kSec);
  EXPECT_EQ(hosts_of(a), (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(a.rule().title(), "One tool on several hosts");
  EXPECT_EQ(a.rule().id(), "0b1d7f1e-5a55-4c1a-9d3b-6c2f4a1e0001");
  EXPECT_EQ(a.rule().author(), "Test Author");
  ASSERT_EQ(a.rule().references_size(), 1);
  EXPECT_EQ(a.rule().references(0), "https://example.org/tool-spread");
  EXPECT_EQ(a.rule().type(), "value_count");
  EXPECT_EQ(a.rule().source(), "test.yml");
  ASSERT_EQ(a.group_size(), 1);
  EXPECT_EQ(a.group(0).field(), "Image");
  EXPECT_EQ(a.group(0).value(), "/tmp/x");
  ASSERT_EQ(a.indicators_size(), 1);
  EXPECT_EQ(a.indicators(0).attack(), "T1570");
  EXPECT_NE(a.summary().find("Image=/tmp/x"), std::string::npos) << a.summary();
  EXPECT_EQ(a.count(), 3U);  // the group's three events

  feed("h2", exec_hit("dropped-tool", "/tmp/x"), kT0 + 4 * kSec);
  EXPECT_EQ(feed.out.size(), 1U) << "a host already named says nothing new";
  feed("h3", exec_hit("dropped-tool", "/tmp/x"), kT0 + 5 * kSec);
  ASSERT_EQ(feed.out.size(), 2U);
  EXPECT_EQ(feed.out[1].id(), a.id()) << "the same alert, grown";
  EXPECT_EQ(hosts_of(feed.out[1]), (std::vector<std::string>{"h1", "h2", "h3"}));
  EXPECT_EQ(feed.out[1].updated_ns(), kT0 + 5 * kSec);
  const auto s = engine.stats();
  EXPECT_EQ(s.alerts_created, 1U);
  EXPECT_EQ(s.alerts_updated, 1U);
  EXPECT_EQ(s.groups, 2U);  // /tmp/x and /tmp/other
}

TEST(SigmaCorrelation, EventCountPerGroupAndUpdatesOnlyWhenThereIsNews) {
  CorrelationEngine engine(rules_of(R"(
title: Credential reads by one user
name: cred-burst
correlation:
  type: event_count
  rules: [credential-read, history-tamper]
  group-by: [User]
  timespan: 5m
  condition: {gte: 3}
)"));
  Feed feed{engine};
  auto e = event({"credential-read"});
  feed("h1", e, kT0);
  feed("h2", event({"history-tamper"}), kT0 + kSec);
  auto other_user = e;
  other_user.set_uid(0);
  feed("h1", other_user, kT0 + 2 * kSec);
  EXPECT_TRUE(feed.out.empty()) << "uid 0 is another group";
  feed("h1", event({"unrelated"}), kT0 + 3 * kSec);
  EXPECT_TRUE(feed.out.empty()) << "an id no rule references counts nothing";
  // One event with both referenced ids is still one event.
  feed("h1", event({"credential-read", "history-tamper"}), kT0 + 4 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].group(0).field(), "User");
  EXPECT_EQ(feed.out[0].group(0).value(), "1000");
  EXPECT_EQ(hosts_of(feed.out[0]), (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(feed.out[0].score(), 45U);  // no level: medium
  // From the same hosts, the count has to double before the alert is re-sent.
  for (int i = 0; i < 2; ++i) feed("h1", e, kT0 + (5 + i) * kSec);
  EXPECT_EQ(feed.out.size(), 1U);
  feed("h1", e, kT0 + 7 * kSec);  // 6 events: twice the 3 that opened it
  ASSERT_EQ(feed.out.size(), 2U);
  EXPECT_EQ(feed.out[1].id(), feed.out[0].id());
  EXPECT_EQ(feed.out[1].count(), 6U);
}

TEST(SigmaCorrelation, EventCountKeepsOnlyWhatTheConditionNeedsAndHonoursUpperBounds) {
  CorrelationEngine engine(rules_of(R"(
title: Two or three
name: two-or-three
correlation:
  type: event_count
  rules: [x]
  timespan: 1m
  condition: {gt: 1, lte: 3}
)"));
  Feed feed{engine};
  feed("h1", event({"x"}), kT0);
  EXPECT_TRUE(feed.out.empty());
  feed("h1", event({"x"}), kT0 + kSec);
  ASSERT_EQ(feed.out.size(), 1U);  // 2
  for (int i = 0; i < 10; ++i) feed("h1", event({"x"}), kT0 + (2 + i) * kSec);
  // Past 3 the condition no longer holds, so the count reaching twice 2 says nothing.
  EXPECT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(engine.stats().rules.at(0).entries, 4U) << "lte 3 needs 4 kept to tell 3 from more";
}

TEST(SigmaCorrelation, TemporalNeedsEveryRuleWithinTheTimespanInAnyOrder) {
  CorrelationEngine engine(rules_of(R"(
title: Recon burst
name: recon
correlation:
  type: temporal
  rules: [recon-a, recon-b, recon-c]
  group-by: [host, User]
  timespan: 2m
)"));
  Feed feed{engine};
  feed("h1", event({"recon-c"}), kT0);
  feed("h1", event({"recon-a"}), kT0 + 10 * kSec);
  feed("h2", event({"recon-b"}), kT0 + 20 * kSec);
  EXPECT_TRUE(feed.out.empty()) << "recon-b on another host is another group";
  feed("h1", event({"recon-b"}), kT0 + 30 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].kind(), "recon");
  ASSERT_EQ(feed.out[0].group_size(), 2);
  EXPECT_EQ(feed.out[0].group(0).value(), "h1");
  EXPECT_EQ(feed.out[0].group(1).value(), "1000");

  // On h3 the first hit is older than the timespan when the last arrives.
  feed("h3", event({"recon-a"}), kT0 + 40 * kSec);
  feed("h3", event({"recon-b"}), kT0 + 100 * kSec);
  feed("h3", event({"recon-c"}), kT0 + 161 * kSec);
  EXPECT_EQ(feed.out.size(), 1U);
  feed("h3", event({"recon-a"}), kT0 + 162 * kSec);
  EXPECT_EQ(feed.out.size(), 2U) << "a fresh recon-a completes the set again";
}

TEST(SigmaCorrelation, TemporalOrderedEnforcesTheOrder) {
  CorrelationEngine engine(rules_of(R"(
title: Download then execute
name: download-exec
correlation:
  type: temporal_ordered
  rules: [download, chmod, run]
  group-by: [host]
  timespan: 5m
)"));
  Feed feed{engine};
  // Wrong order on h1: run, chmod, download.
  feed("h1", event({"run"}), kT0);
  feed("h1", event({"chmod"}), kT0 + kSec);
  feed("h1", event({"download"}), kT0 + 2 * kSec);
  EXPECT_TRUE(feed.out.empty());
  EXPECT_EQ(engine.stats().groups, 1U) << "a chain starts only with the first rule";
  // One event matching two steps does not complete both.
  feed("h1", event({"chmod", "run"}), kT0 + 3 * kSec);
  EXPECT_TRUE(feed.out.empty());
  feed("h1", event({"run"}), kT0 + 4 * kSec);
  ASSERT_EQ(feed.out.size(), 1U) << "download, chmod, run in order";
  EXPECT_EQ(hosts_of(feed.out[0]), (std::vector<std::string>{"h1"}));

  // Right order, but on two hosts: the group is per host.
  feed("h2", event({"download"}), kT0 + 5 * kSec);
  feed("h3", event({"chmod"}), kT0 + 6 * kSec);
  feed("h2", event({"run"}), kT0 + 7 * kSec);
  EXPECT_EQ(feed.out.size(), 1U);
  // Right order, too slow: the chain's start fell out of the timespan.
  feed("h4", event({"download"}), kT0 + 10 * kSec);
  feed("h4", event({"chmod"}), kT0 + 210 * kSec);
  feed("h4", event({"run"}), kT0 + 311 * kSec);
  EXPECT_EQ(feed.out.size(), 1U);
}

TEST(SigmaCorrelation, GroupByFieldsOfTheCollectorsViewAndAliases) {
  auto rules = rules_of(R"(
title: Same remote from two sides
name: two-sides
correlation:
  type: temporal
  rules: [outbound, inbound]
  group-by: [addr]
  timespan: 1m
  aliases:
    addr:
      outbound: DestinationIp
      inbound: SourceIp
)");
  ASSERT_EQ(rules.size(), 1U);
  CorrelationEngine engine(std::move(rules));
  Feed feed{engine};
  feed("h1", connect_hit("outbound", "203.0.113.9", "10.0.0.1"), kT0);
  feed("h2", connect_hit("inbound", "10.9.9.9", "203.0.113.8"), kT0 + kSec);
  EXPECT_TRUE(feed.out.empty()) << "203.0.113.9 vs .8: different groups";
  feed("h2", connect_hit("inbound", "10.9.9.9", "203.0.113.9"), kT0 + 2 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].group(0).field(), "addr");
  EXPECT_EQ(feed.out[0].group(0).value(), "203.0.113.9");
  EXPECT_EQ(hosts_of(feed.out[0]), (std::vector<std::string>{"h1", "h2"}));

  // An exec has no address: it takes no part, and is counted.
  feed("h1", exec_hit("outbound", "/bin/true"), kT0 + 3 * kSec);
  EXPECT_EQ(engine.stats().rules.at(0).ungrouped, 1U);
}

TEST(SigmaCorrelation, EveryFieldResolvesFromTheEvent) {
  // value_count over each field in turn: two distinct values of it raise an alert.
  struct Case {
    const char* field;
    v1::Event a;
    v1::Event b;
  };
  auto file = [](const char* path, const char* new_path) {
    auto e = event({"x"}, kT0, "file");
    e.mutable_file()->set_path(path);
    e.mutable_file()->set_new_path(new_path);
    return e;
  };
  auto with_uid = [](std::uint32_t uid) {
    auto e = event({"x"});
    e.set_uid(uid);
    return e;
  };
  auto summary = [](const char* src) {
    auto e = event({"x"}, kT0, "net_summary");
    e.mutable_net_summary()->set_src(src);
    return e;
  };
  auto sock = [](std::uint32_t lport, std::uint32_t rport) {
    auto e = connect_hit("x", "1.1.1.1", "2.2.2.2");
    e.mutable_socket()->set_lport(lport);
    e.mutable_socket()->set_rport(rport);
    return e;
  };
  auto in = [](const char* id, const char* name, const char* image, const char* pod,
               const char* ns) {
    auto e = event({"x"});
    auto* c = e.mutable_container();
    c->set_id(id);
    c->set_name(name);
    c->set_image(image);
    c->set_pod(pod);
    c->set_k8s_ns(ns);
    return e;
  };
  std::vector<Case> cases = {
      {"container.id", in("a1", "n", "i", "p", "ns"), in("b2", "n", "i", "p", "ns")},
      {"container.name", in("a1", "n", "i", "p", "ns"), in("a1", "m", "i", "p", "ns")},
      {"container.image", in("a1", "n", "i", "p", "ns"), in("a1", "n", "j", "p", "ns")},
      {"k8s.pod", in("a1", "n", "i", "p", "ns"), in("a1", "n", "i", "q", "ns")},
      {"k8s.pod.name", in("a1", "n", "i", "p", "ns"), in("a1", "n", "i", "q", "ns")},
      {"k8s.ns", in("a1", "n", "i", "p", "ns"), in("a1", "n", "i", "p", "nt")},
      {"k8s.ns.name", in("a1", "n", "i", "p", "ns"), in("a1", "n", "i", "p", "nt")},
      {"Image", exec_hit("x", "/a"), exec_hit("x", "/b")},
      {"CommandLine", exec_hit("x", "/a"), exec_hit("x", "/b")},
      {"User", with_uid(1), with_uid(2)},
      {"EventType", event({"x"}), event({"x"}, kT0, "connect")},
      {"TargetFilename", file("/etc/a", ""), file("/etc/a", "/etc/b")},
      {"SourceIp", summary("10.0.0.1"), summary("10.0.0.2")},
      {"SourcePort", sock(1000, 80), sock(1001, 80)},
      {"DestinationPort", sock(1000, 80), sock(1000, 81)},
      {"DestinationIp", connect_hit("x", "1.1.1.1", "l"), connect_hit("x", "1.1.1.2", "l")},
  };
  for (const auto& c : cases) {
    CorrelationEngine engine(rules_of(fmt::format(R"(
title: two values of {0}
name: two-{0}
correlation:
  type: value_count
  rules: [x]
  timespan: 1m
  condition: {{field: {0}, gte: 2}}
)",
                                                  c.field)));
    Feed feed{engine};
    feed("h1", c.a, kT0);
    feed("h1", c.a, kT0 + 1);
    EXPECT_TRUE(feed.out.empty()) << c.field;
    feed("h1", c.b, kT0 + 2);
    EXPECT_EQ(feed.out.size(), 1U) << c.field;
  }
  // agent, host, peer and indicator come from the origin, not the event.
  CorrelationEngine engine(rules_of(R"(
title: peers
name: peers
correlation:
  type: value_count
  rules: [x, y]
  group-by: [agent, indicator]
  timespan: 1m
  condition: {field: peer, gte: 2}
)"));
  Feed feed{engine};
  feed("h1", event({"x"}), kT0, "web");
  feed("h1", event({"y"}), kT0, "db");
  EXPECT_TRUE(feed.out.empty()) << "x and y are different indicator groups";
  feed("h1", event({"x"}), kT0, "db");
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].group(0).value(), "agent-h1");
  EXPECT_EQ(feed.out[0].group(1).value(), "x");
  // Peers are participants: the alert names them with the reporting host.
  EXPECT_EQ(hosts_of(feed.out[0]), (std::vector<std::string>{"db", "h1", "web"}));
}

TEST(SigmaCorrelation, WindowsSlideOnTheInjectedCollectorClock) {
  CorrelationEngine engine(rules_of(kValueCountHosts));  // 1 minute
  Feed feed{engine};
  feed("h1", exec_hit("dropped-tool", "/tmp/x"), kT0);
  feed("h2", exec_hit("dropped-tool", "/tmp/x"), kT0 + 61 * kSec);
  EXPECT_TRUE(feed.out.empty()) << "h1's hit left the window before h2's arrived";
  feed("h3", exec_hit("dropped-tool", "/tmp/x"), kT0 + 120 * kSec);
  ASSERT_EQ(feed.out.size(), 1U) << "h2 and h3 within a minute";
  EXPECT_EQ(hosts_of(feed.out[0]), (std::vector<std::string>{"h2", "h3"}));
  const auto first = feed.out[0].id();

  // Untouched groups close when their window does.
  EXPECT_EQ(engine.stats().groups, 1U);
  engine.expire(kT0 + 181 * kSec);
  EXPECT_EQ(engine.stats().groups, 0U);
  EXPECT_EQ(engine.stats().rules.at(0).expired, 2U);
  // A new episode is a new alert.
  feed("h1", exec_hit("dropped-tool", "/tmp/x"), kT0 + 200 * kSec);
  feed("h2", exec_hit("dropped-tool", "/tmp/x"), kT0 + 201 * kSec);
  ASSERT_EQ(feed.out.size(), 2U);
  EXPECT_NE(feed.out[1].id(), first);

  // A collector clock stepping back is held at its last value: nothing reopens.
  feed("h4", exec_hit("dropped-tool", "/tmp/y"), kT0 + 300 * kSec);
  feed("h5", exec_hit("dropped-tool", "/tmp/y"), kT0 + 100 * kSec);
  ASSERT_EQ(feed.out.size(), 3U);
  EXPECT_EQ(feed.out[2].ts_ns(), kT0 + 300 * kSec);
}

TEST(SigmaCorrelation, AnAgentClock23HoursAheadNeitherFreezesNorExtendsWindows) {
  constexpr std::uint64_t kSkew = 23ULL * 3600 * kSec;
  CorrelationEngine engine(rules_of(kValueCountHosts));  // 1 minute
  Feed feed{engine};
  auto skewed = exec_hit("dropped-tool", "/tmp/x");
  skewed.set_ts_ns(kT0 + kSkew);
  auto honest = exec_hit("dropped-tool", "/tmp/x");
  // Arriving together, they correlate whatever their timestamps say.
  feed("skewed", skewed, kT0);
  feed("honest", honest, kT0 + kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  EXPECT_EQ(feed.out[0].ts_ns(), kT0 + kSec) << "alert time is the collector's";
  // The skewed event does not keep the window open for 23 hours...
  engine.expire(kT0 + 62 * kSec);
  EXPECT_EQ(engine.stats().groups, 0U);
  // ...nor stretches it now: h2, then the skewed agent 70 s later, is no match,
  feed("h2", honest, kT0 + 100 * kSec);
  feed("skewed", skewed, kT0 + 170 * kSec);  // its timestamp is still 23 h ahead
  EXPECT_EQ(feed.out.size(), 1U);
  // while h3 within the minute after it is: a new episode, on collector time.
  feed("h3", honest, kT0 + 200 * kSec);
  ASSERT_EQ(feed.out.size(), 2U);
  EXPECT_NE(feed.out[1].id(), feed.out[0].id());
  EXPECT_EQ(hosts_of(feed.out[1]), (std::vector<std::string>{"h3", "skewed"}));
  EXPECT_EQ(feed.out[1].ts_ns(), kT0 + 200 * kSec);
}

TEST(SigmaCorrelation, StateIsBoundedAndEvictionsAreCounted) {
  auto rules = rules_of(R"(
title: Many sources
name: many-sources
correlation:
  type: value_count
  rules: [port-scan]
  group-by: [SourceIp]
  timespan: 1h
  condition: {field: host, gte: 2}
)");
  CorrelationEngine engine(std::move(rules), {.max_groups = 4, .max_entries = 100});
  Feed feed{engine};
  for (int i = 0; i < 10; ++i) {
    auto e = event({"port-scan"}, kT0, "net_summary");
    e.mutable_net_summary()->set_src("10.0.0." + std::to_string(i));
    feed("h1", e, kT0 + static_cast<std::uint64_t>(i) * kSec);
  }
  auto s = engine.stats();
  EXPECT_EQ(s.groups, 4U);
  EXPECT_EQ(s.evictions, 6U);
  EXPECT_EQ(s.rules.at(0).evictions, 6U);
  // The most recent groups survive: 10.0.0.9 still correlates, 10.0.0.0 starts over.
  auto recent = event({"port-scan"}, kT0, "net_summary");
  recent.mutable_net_summary()->set_src("10.0.0.9");
  feed("h2", recent, kT0 + 20 * kSec);
  ASSERT_EQ(feed.out.size(), 1U);
  auto old = recent;
  old.mutable_net_summary()->set_src("10.0.0.0");
  feed("h2", old, kT0 + 21 * kSec);
  EXPECT_EQ(feed.out.size(), 1U);

  // The entries budget bounds kept hits across groups, whatever the group count.
  CorrelationEngine counts(rules_of(R"(
title: Busy hosts
name: busy
correlation:
  type: event_count
  rules: [x]
  group-by: [host]
  timespan: 1h
  condition: {gte: 5}
)"),
                           {.max_groups = 100, .max_entries = 8});
  Feed f2{counts};
  for (int h = 0; h < 3; ++h) {
    for (int i = 0; i < 3; ++i) f2("h" + std::to_string(h), event({"x"}), kT0);
  }
  s = counts.stats();
  EXPECT_LE(s.rules.at(0).entries, 8U);
  EXPECT_EQ(s.evictions, 1U);  // h0's three hits made room for h2's
  EXPECT_EQ(s.groups, 2U);
}

TEST(SigmaCorrelation, BadRulesFailWithTheReason) {
  const std::string base = "title: t\nname: n\ncorrelation:\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {base + "  type: event_sum\n  rules: [a]\n  timespan: 1m\n  condition: {gte: 1}\n",
       "correlation type 'event_sum' is not supported"},
      {base + "  type: event_count\n  rules: [a]\n  condition: {gte: 1}\n", "timespan"},
      {base + "  type: event_count\n  rules: [a]\n  timespan: 5x\n  condition: {gte: 1}\n",
       "timespan '5x'"},
      {base + "  type: event_count\n  rules: [a]\n  timespan: 31d\n  condition: {gte: 1}\n",
       "longer than 30d"},
      {base + "  type: event_count\n  rules: [a]\n  group-by: [Hostname]\n  timespan: 1m\n"
              "  condition: {gte: 1}\n",
       "unknown field 'Hostname'"},
      {base + "  type: value_count\n  rules: [a]\n  timespan: 1m\n  condition: {gte: 2}\n",
       "needs 'field'"},
      {base + "  type: event_count\n  rules: [a]\n  timespan: 1m\n  condition: {lt: 5}\n",
       "lower bound"},
      {base + "  type: event_count\n  rules: [a]\n  timespan: 1m\n  condition: {gte: 5, lt: 3}\n",
       "can never hold"},
      {base + "  type: event_count\n  rules: [a]\n  timespan: 1m\n  condition: {gte: -1}\n",
       "non-negative"},
      {base + "  type: event_count\n  rules: [a]\n  timespan: 1m\n", "needs a 'condition'"},
      {base + "  type: event_count\n  rules: []\n  timespan: 1m\n  condition: {gte: 1}\n",
       "at least one rule"},
      {base + "  type: event_count\n  rules: [a, a]\n  timespan: 1m\n  condition: {gte: 1}\n",
       "names 'a' twice"},
      {base + "  type: temporal\n  rules: [a]\n  timespan: 1m\n", "at least two rules"},
      {base + "  type: temporal\n  rules: [a, b]\n  timespan: 1m\n  condition: {gte: 3}\n",
       "counts referenced rules"},
      {base + "  type: temporal_ordered\n  rules: [a, b]\n  timespan: 1m\n  condition: {gte: 1}\n",
       "in order"},
      {base + "  type: event_count\n  rules: [a]\n  timespan: 1m\n  groupby: [host]\n"
              "  condition: {gte: 1}\n",
       "unknown key 'correlation.groupby'"},
      {base + "  type: temporal\n  rules: [a, b]\n  timespan: 1m\n  aliases:\n    ip:\n"
              "      c: SourceIp\n",
       "names rule 'c'"},
      {base + "  type: temporal\n  rules: [a, b]\n  timespan: 1m\n  aliases:\n    ip:\n"
              "      a: SrcIp\n",
       "unknown field 'SrcIp'"},
      {"title: t\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1m\n"
       "  condition: {gte: 1}\n",
       "needs a 'name' or an 'id'"},
      {"name: n\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1m\n"
       "  condition: {gte: 1}\n",
       "'title' is required"},
      {base + "  type: event_count\n  rules: [a]\n  timespan: 1m\n  condition: {gte: 1}\nlevel: "
              "severe\n",
       "level 'severe'"},
      {"title: t\nname: n\nlogsource: {product: linux}\n", "neither a correlation rule"},
      {base + "  type: [unclosed\n", "YAML"},
  };
  for (const auto& [yaml, want] : cases) {
    const auto err = error_of(yaml);
    EXPECT_NE(err.find(want), std::string::npos) << "want '" << want << "' in: " << err << "\n"
                                                 << yaml;
    EXPECT_TRUE(err.starts_with("bad.yml: ")) << err;
  }
  // A detection rule bundled with a correlation is the agents' and is noted, not an error.
  std::vector<std::string> notes;
  auto bundled = parse_rules(R"(title: base
name: a
logsource: {product: linux, category: process_creation}
detection: {sel: {Image: /x}, condition: sel}
---
title: corr
name: c
correlation: {type: event_count, rules: [a], timespan: 1m, condition: {gte: 2}}
)",
                             "bundle.yml", &notes);
  ASSERT_TRUE(bundled.has_value()) << bundled.error().message;
  EXPECT_EQ(bundled->size(), 1U);
  ASSERT_EQ(notes.size(), 1U);
  EXPECT_NE(notes[0].find("detection rule"), std::string::npos);
}

TEST(SigmaCorrelation, RuleSetChecksNamesChainingAndLimits) {
  auto one = rules_of(
      "title: a\nname: a\ncorrelation: {type: event_count, rules: [x], "
      "timespan: 1m, condition: {gte: 2}}\n");
  auto two = rules_of(
      "title: b\nname: a\ncorrelation: {type: event_count, rules: [y], "
      "timespan: 1m, condition: {gte: 2}}\n");
  auto chained = rules_of(
      "title: c\nname: c\ncorrelation: {type: event_count, rules: [a], "
      "timespan: 1m, condition: {gte: 2}}\n");
  auto big = rules_of(
      "title: d\nname: d\ncorrelation: {type: event_count, rules: [x], "
      "timespan: 1m, condition: {gte: 500}}\n");
  std::vector<CorrelationRule> dup = one;
  dup.insert(dup.end(), two.begin(), two.end());
  auto r = validate_rule_set(dup, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("name or id"), std::string::npos) << r.error().message;
  std::vector<CorrelationRule> chain = one;
  chain.insert(chain.end(), chained.begin(), chained.end());
  r = validate_rule_set(chain, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("chaining"), std::string::npos) << r.error().message;
  r = validate_rule_set(big, {.max_groups = 10, .max_entries = 100});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("correlation_max_entries"), std::string::npos);
  EXPECT_TRUE(validate_rule_set(big, {}));
}

TEST(SigmaCorrelation, ShippedPackLoadsAndOperatorRulesAddOrReplace) {
  auto shipped = load_shipped_rules();
  ASSERT_TRUE(shipped.has_value()) << shipped.error().message;
  std::vector<std::string> kinds;
  for (const auto& r : *shipped) {
    kinds.push_back(r.kind());
    EXPECT_FALSE(r.id.empty()) << r.kind();
    EXPECT_TRUE(r.source.starts_with("(shipped) fleet/")) << r.source;
  }
  std::ranges::sort(kinds);
  EXPECT_EQ(kinds, (std::vector<std::string>{"fleet-flood", "fleet-indicator-spread",
                                             "fleet-lateral-movement", "fleet-scan"}));

  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "sub");
  std::ofstream(dir.path() / "sub" / "scan.yml")
      << "title: Tighter scan rule\nname: fleet-scan\ncorrelation: {type: value_count, rules: "
         "[port-scan], group-by: [SourceIp], timespan: 1m, condition: {field: host, gte: 3}}\n";
  std::ofstream(dir.path() / "extra.yaml")
      << "title: Extra\nname: extra\ncorrelation: {type: event_count, rules: [x], timespan: 1m, "
         "condition: {gte: 2}}\n";
  std::ofstream(dir.path() / "README.md") << "not a rule";
  std::vector<std::string> notes;
  auto set = load_rule_set({.dirs = {dir.path()}}, &notes);
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ(set->size(), 5U);
  const auto scan = std::ranges::find(*set, std::string("fleet-scan"), &CorrelationRule::name);
  ASSERT_NE(scan, set->end());
  EXPECT_EQ(scan->title, "Tighter scan rule");
  ASSERT_EQ(notes.size(), 1U);
  EXPECT_NE(notes[0].find("replaces the shipped rule 'fleet-scan'"), std::string::npos);
  auto operator_only = load_rule_set({.shipped = false, .dirs = {dir.path()}}, nullptr);
  ASSERT_TRUE(operator_only.has_value());
  EXPECT_EQ(operator_only->size(), 2U);

  // A broken file stops the whole set, naming the file.
  std::ofstream(dir.path() / "broken.yml") << "title: Broken\nname: broken\ncorrelation: "
                                              "{type: event_count, rules: [x], timespan: 1m}\n";
  auto bad = load_rule_set({.dirs = {dir.path()}}, nullptr);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find((dir.path() / "broken.yml").string()), std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("needs a 'condition'"), std::string::npos);
  auto missing = load_rule_set({.dirs = {dir.path() / "nope"}}, nullptr);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("nope"), std::string::npos);
}

TEST(SigmaCorrelation, CollectorConfigKeys) {
  CollectorConfig cfg;
  EXPECT_TRUE(cfg.correlation.shipped_rules);
  EXPECT_TRUE(cfg.correlation.rule_dirs.empty());
  ASSERT_OK(apply_yaml(
      "correlation_rules: [/etc/vigil/corr, /srv/corr]\ncorrelation_shipped_rules: false\n"
      "correlation_max_groups: 50\ncorrelation_max_entries: 500\n",
      cfg));
  EXPECT_EQ(cfg.correlation.rule_dirs,
            (std::vector<std::filesystem::path>{"/etc/vigil/corr", "/srv/corr"}));
  EXPECT_FALSE(cfg.correlation.shipped_rules);
  EXPECT_EQ(cfg.correlation.max_groups, 50U);
  EXPECT_EQ(cfg.correlation.max_entries, 500U);
  CollectorConfig one;
  ASSERT_OK(apply_yaml("correlation_rules: /etc/vigil/corr\n", one));
  EXPECT_EQ(one.correlation.rule_dirs, (std::vector<std::filesystem::path>{"/etc/vigil/corr"}));
  CollectorConfig zero;
  EXPECT_FALSE(apply_yaml("correlation_max_groups: 0\n", zero));
}

}  // namespace
}  // namespace vigil::collector::sigma
