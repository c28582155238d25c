// Reports that don't lie and queries that stay bounded, on a real store in a
// temp directory: per-host per-minute rollups written with the events, the
// fleet report read from them (complete, or saying why not), scan bounds,
// opaque page tokens bound to their filters, and pages that fit a default
// 4 MiB gRPC client with ~8k hosts.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "util/test_util.h"
#include "vigil/collector/keys.h"
#include "vigil/collector/query_service.h"
#include "vigil/collector/report.h"
#include "vigil/collector/store.h"

namespace vigil::collector {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
// Minute-aligned, so the test knows which minute an event lands in.
constexpr std::uint64_t kT0 = 1'790'000'040ULL * kSec;
static_assert(kT0 % kMinuteNs == 0);
constexpr std::size_t kGrpcDefaultMax = 4U << 20;

v1::Hello hello(const std::string& agent, const std::string& host) {
  v1::Hello h;
  h.set_agent_id(agent);
  h.set_host_id(host);
  h.set_version("test");
  h.set_spool_id(7);
  return h;
}

// `n` events from seq `first`, spread evenly over [ts, ts + span).
v1::EventBatch batch(std::uint64_t first, std::uint64_t n, std::uint64_t ts, std::uint64_t span) {
  v1::EventBatch b;
  b.set_first_seq(first);
  b.set_last_seq(first + n - 1);
  for (std::uint64_t i = 0; i < n; ++i) {
    auto* e = b.add_events();
    e->set_seq(first + i);
    e->set_type("connect");
    e->set_ts_ns(ts + i * span / n);
    e->set_pid(100);
    e->set_exe("/usr/bin/curl");
    e->set_score(i % 2);  // every other event scored 1
    e->mutable_socket()->set_raddr(i % 3 == 0 ? "10.0.0.1" : "10.0.0.2");
  }
  return b;
}

std::uint64_t sum(const google::protobuf::RepeatedField<std::uint64_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::uint64_t{0});
}

TEST(CollectorReport, RollupsWrittenWithTheEventsMakeAnExactReport) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("a1", "web"), kT0));
  ASSERT_OK(s.register_agent(hello("a2", "db"), kT0));
  // web: 600 events over minutes 0..2; db: 300 over minute 1.
  ASSERT_OK(s.ingest("a1", batch(1, 600, kT0, 3 * kMinuteNs), kT0));
  ASSERT_OK(s.ingest("a2", batch(1, 300, kT0 + kMinuteNs, kMinuteNs), kT0));
  // A replay of stored seqs adds nothing to the rollups.
  ASSERT_OK(s.ingest("a1", batch(1, 600, kT0, 3 * kMinuteNs), kT0));
  // Two agent alerts on db (one event each, then one more event for the first).
  for (std::uint64_t i = 0; i < 3; ++i) {
    v1::EventBatch alert = batch(301 + i, 1, kT0 + kMinuteNs + i * kSec, kSec);
    auto* e = alert.mutable_events(0);
    e->set_score(static_cast<std::uint32_t>(70 + i));
    e->set_alert_id(i == 2 ? "run-0" : "run-" + std::to_string(i));
    e->add_indicators()->set_id("reverse-shell");
    ASSERT_OK(s.ingest("a2", alert, kT0));
  }

  std::map<std::pair<std::uint64_t, std::string>, std::uint64_t> per_minute;
  s.scan_rollups(0, ~0ULL,
                 [&](std::uint64_t minute, std::string_view host, const v1::HostMinute& m) {
                   per_minute[{(minute - kT0) / kMinuteNs, std::string(host)}] = m.events();
                   return true;
                 });
  EXPECT_EQ(per_minute,
            (decltype(per_minute){
                {{0, "web"}, 200}, {{1, "db"}, 303}, {{1, "web"}, 200}, {{2, "web"}, 200}}));

  v1::FleetReportRequest req;
  req.set_window_s(600);
  auto rep = fleet_report_page(s, req, kT0 + 9 * kMinuteNs + 30 * kSec);
  ASSERT_OK(rep);
  EXPECT_TRUE(rep->complete()) << rep->DebugString();
  EXPECT_EQ(rep->events(), 903U);
  EXPECT_EQ(sum(rep->events_trend()), 903U);
  EXPECT_EQ(rep->events_trend_size(), 10);  // ten one-minute buckets
  EXPECT_EQ(rep->bucket_s(), 60U);
  EXPECT_EQ(rep->events_trend(0), 200U);
  EXPECT_EQ(rep->events_trend(1), 503U);
  EXPECT_EQ(rep->alerts(), 2U);
  EXPECT_EQ(sum(rep->alerts_trend()), 2U);
  ASSERT_EQ(rep->alerts_by_kind_size(), 1);
  EXPECT_EQ(rep->alerts_by_kind(0).key(), "reverse-shell");
  EXPECT_EQ(rep->alerts_by_kind(0).count(), 2U);
  ASSERT_EQ(rep->hosts_size(), 2);
  EXPECT_EQ(rep->hosts(0).host(), "db");
  EXPECT_EQ(rep->hosts(0).events(), 303U);
  EXPECT_EQ(rep->hosts(0).alerts(), 2U);
  EXPECT_EQ(rep->hosts(0).risk(), 72U);
  EXPECT_EQ(rep->hosts(1).events(), 600U);
  ASSERT_GE(rep->top_remote_addresses_size(), 2);
  EXPECT_EQ(rep->top_remote_addresses(0).key(), "10.0.0.2");
  EXPECT_EQ(rep->top_remote_addresses(0).count() + rep->top_remote_addresses(1).count(), 903U);
  ASSERT_EQ(rep->top_processes_size(), 1);
  EXPECT_EQ(rep->top_processes(0).key(), "/usr/bin/curl");
  ASSERT_EQ(rep->top_alerts_size(), 2);
  EXPECT_EQ(rep->top_alerts(0).score(), 72U);

  // A window that starts after web's first minute leaves it out, exactly.
  req.set_window_s(120);
  rep = fleet_report_page(s, req, kT0 + 2 * kMinuteNs + 30 * kSec);
  ASSERT_OK(rep);
  EXPECT_EQ(rep->events(), 703U);
}

TEST(CollectorReport, ATenMinuteReportOfA300kEventsPerSecondHistoryIsComplete) {
  // 10 minutes at 300k events/s is 180M events: the rollups ingest would have
  // written for them (200 hosts x 1,500 events/s), merged as ingest merges,
  // in ~1 s batches. The old report read events from the oldest and stopped
  // at 2M (the first ~7 s) without saying so.
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  constexpr std::uint64_t kHosts = 200;
  constexpr std::uint64_t kPerHostPerSecond = 300'000 / kHosts;
  for (std::uint64_t minute = 0; minute < 10; ++minute) {
    for (std::uint64_t h = 0; h < kHosts; ++h) {
      v1::HostMinute delta;
      delta.set_events(kPerHostPerSecond * 60);
      auto* p = delta.add_processes();
      p->set_key(h % 2 == 0 ? "/usr/sbin/nginx" : "/usr/bin/python3");
      p->set_count(kPerHostPerSecond);
      auto* r = delta.add_remotes();
      r->set_key("10.1.0." + std::to_string(h % 7));
      r->set_count(kPerHostPerSecond * 60);
      ASSERT_OK(s.merge_rollup(kT0 + minute * kMinuteNs, "host-" + std::to_string(h), delta));
    }
  }
  v1::FleetReportRequest req;
  req.set_window_s(600);
  req.set_page_size(50);
  std::uint64_t hosts = 0;
  std::uint64_t host_events = 0;
  for (int pages = 0; pages < 10; ++pages) {
    auto rep = fleet_report_page(s, req, kT0 + 9 * kMinuteNs + 59 * kSec);
    ASSERT_OK(rep);
    EXPECT_TRUE(rep->complete()) << rep->DebugString();
    EXPECT_EQ(rep->events(), 180'000'000U);
    EXPECT_EQ(sum(rep->events_trend()), 180'000'000U);
    EXPECT_EQ(rep->total_hosts(), kHosts);
    for (const auto& h : rep->hosts()) {
      ++hosts;
      host_events += h.events();
    }
    if (rep->next_page_token().empty()) break;
    req.set_page_token(rep->next_page_token());
  }
  EXPECT_EQ(hosts, kHosts);
  EXPECT_EQ(host_events, 180'000'000U);
}

TEST(CollectorReport, TopListsThatLostEntriesSaySo) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("a1", "web"), kT0));
  // 100 distinct remote addresses in one minute: more than a rollup keeps.
  auto b = batch(1, 100, kT0, kSec);
  for (int i = 0; i < 100; ++i) {
    b.mutable_events(i)->mutable_socket()->set_raddr("10.2.0." + std::to_string(i));
  }
  ASSERT_OK(s.ingest("a1", b, kT0));
  auto rep = fleet_report_page(s, {}, kT0 + 30 * kSec);
  ASSERT_OK(rep);
  EXPECT_EQ(rep->events(), 100U) << "totals stay exact";
  EXPECT_FALSE(rep->complete());
  ASSERT_EQ(rep->approximations_size(), 1);
  EXPECT_NE(rep->approximations(0).find("top_remote_addresses"), std::string::npos);

  // An alert scan that hits its bound says so too.
  for (int i = 0; i < 5; ++i) {
    v1::Alert a;
    a.set_id("fleet-" + std::to_string(i));
    a.set_ts_ns(kT0 + static_cast<std::uint64_t>(i) * kSec);
    a.set_fleet(true);
    ASSERT_OK(s.put_alert(a));
  }
  rep = fleet_report_page(s, {}, kT0 + 30 * kSec, {.max_alert_scan = 3});
  ASSERT_OK(rep);
  EXPECT_FALSE(rep->complete());
  EXPECT_EQ(rep->approximations_size(), 2);
  EXPECT_EQ(rep->fleet_alerts(), 3U);
}

TEST(CollectorReport, ARollupScanThatHitsItsBoundKeepsTheNewestMinutesAndSaysSo) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  for (std::uint64_t minute = 0; minute < 5; ++minute) {
    for (const char* host : {"a", "b"}) {
      v1::HostMinute m;
      m.set_events(10 + minute);
      ASSERT_OK(s.merge_rollup(kT0 + minute * kMinuteNs, host, m));
    }
  }
  v1::FleetReportRequest req;
  req.set_window_s(300);
  const auto now = kT0 + 4 * kMinuteNs + kSec;
  auto whole = fleet_report_page(s, req, now);
  ASSERT_OK(whole);
  EXPECT_TRUE(whole->complete());
  EXPECT_EQ(whole->events(), 2U * (10 + 11 + 12 + 13 + 14));
  // 5 host-minutes: minutes 4 and 3 whole, one host of minute 2.
  auto cut = fleet_report_page(s, req, now, {.max_rollups = 5});
  ASSERT_OK(cut);
  EXPECT_FALSE(cut->complete());
  ASSERT_EQ(cut->approximations_size(), 1);
  EXPECT_NE(cut->approximations(0).find("rollup scan stopped at 5"), std::string::npos);
  EXPECT_EQ(cut->events(), 2U * (14 + 13) + 12);
  EXPECT_EQ(cut->events_trend(4), 28U);
  EXPECT_EQ(cut->events_trend(0), 0U);
}

TEST(CollectorReport, RetentionDropsExpiredRollups) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false, .retention_age_s = 3600});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("a1", "web"), kT0));
  ASSERT_OK(s.ingest("a1", batch(1, 10, kT0, kSec), kT0));
  ASSERT_OK(s.ingest("a1", batch(11, 10, kT0 + 7200 * kSec, kSec), kT0));
  ASSERT_OK(s.enforce_retention(kT0 + 7300 * kSec));
  std::vector<std::uint64_t> minutes;
  s.scan_rollups(0, ~0ULL, [&](std::uint64_t minute, std::string_view, const v1::HostMinute&) {
    minutes.push_back(minute);
    return true;
  });
  EXPECT_EQ(minutes, std::vector<std::uint64_t>{kT0 + 7200 * kSec});
}

TEST(CollectorQuery, EventScansAreBoundedAndSayWhenTheyHitTheBound) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false, .query_max_scan = 10});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("a1", "web"), kT0));
  ASSERT_OK(s.register_agent(hello("a2", "db"), kT0));
  ASSERT_OK(s.ingest("a1", batch(1, 45, kT0, 45 * kSec), kT0));
  ASSERT_OK(s.ingest("a2", batch(1, 1, kT0 + 50 * kSec, kSec), kT0));
  // Only db's one event matches: the scan reads 10 records per page, says it
  // stopped, and the tokens walk on to it.
  v1::QueryEventsRequest q;
  q.set_host("db");
  int pages = 0;
  std::vector<std::string> found;
  for (; pages < 20; ++pages) {
    auto page = s.query_events(q, kT0 + 100 * kSec);
    ASSERT_OK(page);
    EXPECT_LE(page->scanned(), 10U);
    for (const auto& e : page->events()) found.push_back(e.host());
    if (page->next_page_token().empty()) {
      EXPECT_FALSE(page->scan_limited());
      break;
    }
    EXPECT_TRUE(page->scan_limited() || page->events_size() > 0);
    q.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(found, std::vector<std::string>{"db"});
  EXPECT_EQ(pages, 4);  // 10 + 10 + 10 + 10 read, then the last 6

  // Alerts too.
  for (int i = 0; i < 25; ++i) {
    v1::Alert a;
    a.set_id("x-" + std::to_string(i));
    a.set_ts_ns(kT0 + static_cast<std::uint64_t>(i) * kSec);
    a.set_score(i == 0 ? 90 : 10);
    ASSERT_OK(s.put_alert(a));
  }
  v1::QueryAlertsRequest qa;
  qa.set_min_score(50);
  auto first = s.query_alerts(qa, kT0 + 100 * kSec);
  ASSERT_OK(first);
  EXPECT_EQ(first->alerts_size(), 0);
  EXPECT_TRUE(first->scan_limited());
  EXPECT_EQ(first->scanned(), 10U);
  std::vector<std::string> ids;
  while (!qa.page_token().empty() || ids.empty()) {
    auto page = s.query_alerts(qa, kT0 + 100 * kSec);
    ASSERT_OK(page);
    for (const auto& a : page->alerts()) ids.push_back(a.id());
    if (page->next_page_token().empty()) break;
    qa.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(ids, std::vector<std::string>{"x-0"});
}

TEST(CollectorQuery, PageTokensAreOpaqueAndBoundToTheirFilters) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("a1", "web"), kT0));
  ASSERT_OK(s.ingest("a1", batch(1, 20, kT0, 20 * kSec), kT0));
  v1::QueryEventsRequest q;
  q.set_host("web");
  q.set_limit(5);
  auto page = s.query_events(q, kT0 + 100 * kSec);
  ASSERT_OK(page);
  const auto token = page->next_page_token();
  ASSERT_FALSE(token.empty());
  // Not a storage key any more: no hex of a timestamp in clear.
  EXPECT_FALSE(from_hex(token).has_value());

  auto refused = [&](v1::QueryEventsRequest r) {
    auto res = s.query_events(r, kT0 + 100 * kSec);
    return !res && res.error().code == ErrorCode::kInvalidArgument;
  };
  auto next = q;
  next.set_page_token(token);
  next.set_limit(7);  // the page size may change
  EXPECT_OK(s.query_events(next, kT0 + 100 * kSec));
  auto other_host = next;
  other_host.set_host("db");
  EXPECT_TRUE(refused(other_host)) << "a token is bound to its filters";
  auto other_type = next;
  other_type.set_type("exec");
  EXPECT_TRUE(refused(other_type));
  // Forged: a storage key in hex (the old format), a flipped character, junk.
  auto forged = q;
  forged.set_page_token(to_hex(event_key(kT0, 1, "a1")));
  EXPECT_TRUE(refused(forged));
  auto flipped = token;
  flipped[flipped.size() / 2] = flipped[flipped.size() / 2] == 'A' ? 'B' : 'A';
  forged.set_page_token(flipped);
  EXPECT_TRUE(refused(forged));
  forged.set_page_token("not a token");
  EXPECT_TRUE(refused(forged));
  // A QueryEvents token is no QueryAlerts token.
  v1::QueryAlertsRequest qa;
  qa.set_host("web");
  qa.set_page_token(token);
  EXPECT_EQ(s.query_alerts(qa, kT0).error().code, ErrorCode::kInvalidArgument);
  // Tokens outlive a restart (the secret is kept), and a forged report token is refused.
  store->reset();
  auto reopened = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(reopened);
  EXPECT_OK((*reopened)->query_events(next, kT0 + 100 * kSec));
  v1::FleetReportRequest rr;
  rr.set_page_token(token);
  EXPECT_EQ(fleet_report_page(**reopened, rr, kT0).error().code, ErrorCode::kInvalidArgument);
}

TEST(CollectorQuery, EightThousandHostsPageUnderFourMiB) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  constexpr int kHosts = 8000;
  for (int i = 0; i < kHosts; ++i) {
    auto h = hello(fmt::format("agent-{:05}", i), fmt::format("host-{:05}.prod.example.com", i));
    h.set_kernel(std::string(400, 'k'));  // ~700 bytes a record: 8k of them pass 4 MiB
    for (int a = 0; a < 8; ++a) {
      h.add_addresses(fmt::format("fd00:{:x}:{:x}::{:x}", i, a, a + 1));
    }
    ASSERT_OK(s.register_agent(h, kT0));
  }
  // Unpaged, the list is over a default client's limit: what paging is for.
  v1::ListAgentsResponse all;
  for (auto& a : s.agents()) *all.add_agents() = std::move(a);
  ASSERT_GT(all.ByteSizeLong(), kGrpcDefaultMax);

  std::set<std::string> agents;
  v1::ListAgentsRequest lr;
  lr.set_page_size(100'000);  // asks too much: capped
  for (int pages = 0; pages < 100; ++pages) {
    auto page = list_agents_page(s, lr);
    ASSERT_OK(page);
    EXPECT_LT(page->ByteSizeLong(), kGrpcDefaultMax);
    EXPECT_LE(page->agents_size(), static_cast<int>(kMaxAgentsPageSize));
    for (const auto& a : page->agents()) agents.insert(a.agent_id());
    if (page->next_page_token().empty()) break;
    lr.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(agents.size(), static_cast<std::size_t>(kHosts));

  std::set<std::string> hosts;
  v1::FleetReportRequest rr;
  rr.set_page_size(100'000);
  int pages = 0;
  for (; pages < 100; ++pages) {
    auto page = fleet_report_page(s, rr, kT0 + kSec);
    ASSERT_OK(page);
    EXPECT_LT(page->ByteSizeLong(), kGrpcDefaultMax);
    EXPECT_EQ(page->total_hosts(), static_cast<std::uint64_t>(kHosts));
    for (const auto& h : page->hosts()) hosts.insert(h.host());
    if (page->next_page_token().empty()) break;
    rr.set_page_token(page->next_page_token());
    // A page token is bound to the report's window and top.
    auto other = rr;
    other.set_window_s(60);
    EXPECT_EQ(fleet_report_page(s, other, kT0).error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(hosts.size(), static_cast<std::size_t>(kHosts));
  EXPECT_GE(pages, 3);
}

}  // namespace
}  // namespace vigil::collector
