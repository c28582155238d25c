// The collector's RocksDB store on a real temp directory: key order, durable
// ingest with (agent, seq) dedupe, spool resets, alerts, queries, retention.
#include <gtest/gtest.h>

#include "util/test_util.h"
#include "vigil/clock.h"
#include "vigil/collector/keys.h"
#include "vigil/collector/store.h"
#include "vigil/collector/validate.h"

namespace vigil::collector {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kT0 = 1'790'000'000ULL * kSec;

v1::Hello hello(const std::string& agent, std::uint64_t spool_id = 7) {
  v1::Hello h;
  h.set_agent_id(agent);
  h.set_host_id("host-" + agent);
  h.set_version("test");
  h.set_spool_id(spool_id);
  return h;
}

v1::EventBatch batch(std::uint64_t first, std::uint64_t last, std::uint64_t ts = kT0) {
  v1::EventBatch b;
  b.set_first_seq(first);
  b.set_last_seq(last);
  for (auto s = first; s <= last; ++s) {
    auto* e = b.add_events();
    e->set_seq(s);
    e->set_type("exec");
    e->set_ts_ns(ts + s * kSec);
    e->set_pid(static_cast<std::uint32_t>(100 + s));
    e->set_comm("sh");
  }
  return b;
}

TEST(CollectorKeys, BigEndianKeysSortByTimeThenSeq) {
  const auto a = event_key(5, 9, "z");
  const auto b = event_key(6, 1, "a");
  const auto c = event_key(256, 0, "a");
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);  // 256 > 6 although its first byte is smaller in little-endian
  auto parsed = parse_event_key(c);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->ts_ns, 256U);
  EXPECT_EQ(parsed->seq, 0U);
  EXPECT_EQ(parsed->agent_id, "a");
  EXPECT_FALSE(parse_event_key("short"));
  EXPECT_EQ(from_hex(to_hex(c)).value(), c);
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
}

TEST(CollectorStore, ReplayedSeqsAreStoredOnceAndAcked) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_EQ(s.register_agent(hello("a1"), kT0).value(), 0U);
  auto r1 = s.ingest("a1", batch(1, 10), kT0);
  ASSERT_OK(r1);
  EXPECT_EQ(r1->stored, 10U);
  EXPECT_EQ(r1->acked_seq, 10U);
  // The agent did not see the ack and replays 6..15.
  auto r2 = s.ingest("a1", batch(6, 15), kT0);
  ASSERT_OK(r2);
  EXPECT_EQ(r2->stored, 5U);
  EXPECT_EQ(r2->duplicates, 5U);
  EXPECT_EQ(r2->acked_seq, 15U);

  v1::QueryEventsRequest q;
  q.set_agent_id("a1");
  q.set_limit(1000);
  auto events = s.query_events(q, kT0 + 1000 * kSec);
  ASSERT_OK(events);
  ASSERT_EQ(events->events_size(), 15);
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(events->events(i).event().seq(), static_cast<std::uint64_t>(i + 1));
    EXPECT_EQ(events->events(i).host(), "host-a1");
  }
  EXPECT_EQ(s.agent("a1")->duplicates(), 5U);
}

TEST(CollectorStore, HighWaterMarkSurvivesReopenAndResetsForANewSpool) {
  test::TempDir dir;
  {
    auto store = Store::open(dir.path());
    ASSERT_OK(store);
    ASSERT_OK((*store)->register_agent(hello("a1"), kT0));
    ASSERT_OK((*store)->ingest("a1", batch(1, 4), kT0));
  }
  auto store = Store::open(dir.path());
  ASSERT_OK(store);
  EXPECT_EQ((*store)->agent("a1")->connected(), false);
  EXPECT_EQ((*store)->register_agent(hello("a1"), kT0).value(), 4U);
  auto dup = (*store)->ingest("a1", batch(3, 4), kT0);
  ASSERT_OK(dup);
  EXPECT_EQ(dup->stored, 0U);
  // The agent's state dir was wiped: a new spool starts again at seq 1.
  EXPECT_EQ((*store)->register_agent(hello("a1", /*spool_id=*/8), kT0).value(), 0U);
  auto fresh = (*store)->ingest("a1", batch(1, 2, kT0 + 100 * kSec), kT0);
  ASSERT_OK(fresh);
  EXPECT_EQ(fresh->stored, 2U);
}

TEST(CollectorStore, BatchBeforeHelloIsRefused) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto r = (*store)->ingest("ghost", batch(1, 1), kT0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST(CollectorStore, AgentAlertsAreStoredLabelledAndQueriedNewestFirst) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("a1"), kT0));
  auto b = batch(1, 3);
  for (int i = 0; i < 3; ++i) {
    auto* e = b.mutable_events(i);
    e->set_score(static_cast<std::uint32_t>(60 + i * 10));
    e->set_alert_id("run-" + std::to_string(i));
    auto* hit = e->add_indicators();
    hit->set_id("ptrace-attach");
    hit->set_attack("T1055.008");
  }
  auto r = s.ingest("a1", b, kT0);
  ASSERT_OK(r);
  ASSERT_EQ(r->alerts.size(), 3U);
  EXPECT_EQ(r->alerts[0].id(), "a1:run-0");
  EXPECT_EQ(r->alerts[0].kind(), "ptrace-attach");

  v1::QueryAlertsRequest q;
  q.set_min_score(70);
  auto alerts = s.query_alerts(q, kT0 + 100 * kSec);
  ASSERT_OK(alerts);
  ASSERT_EQ(alerts->alerts_size(), 2);
  EXPECT_EQ(alerts->alerts(0).id(), "a1:run-2");  // newest first
  EXPECT_EQ(alerts->alerts(1).id(), "a1:run-1");

  // Paging: one at a time walks all three.
  q.set_min_score(0);
  q.set_limit(1);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto page = s.query_alerts(q, kT0 + 100 * kSec);
    ASSERT_OK(page);
    for (const auto& a : page->alerts()) ids.push_back(a.id());
    if (page->next_page_token().empty()) break;
    q.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"a1:run-2", "a1:run-1", "a1:run-0"}));

  auto labelled = s.set_label("a1:run-1", "benign", "admin debugging", kT0);
  ASSERT_OK(labelled);
  EXPECT_EQ(s.get_alert("a1:run-1")->label(), "benign");
  EXPECT_EQ(s.set_label("a1:nope", "benign", "", kT0).error().code, ErrorCode::kNotFound);
}

// Two events of one incident in the same batch: one alert, counted twice,
// not two records under two keys (the second event's find would not see the
// first, which is not written yet).
TEST(CollectorStore, OneAlertIdTwiceInABatchIsOneAlertCountedTwice) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("a1"), kT0));
  auto b = batch(1, 3);
  for (int i = 0; i < 3; ++i) {
    b.mutable_events(i)->set_score(static_cast<std::uint32_t>(60 + i * 10));
    b.mutable_events(i)->set_alert_id(i < 2 ? "incident" : "other");
  }
  auto r = s.ingest("a1", b, kT0);
  ASSERT_OK(r);
  v1::QueryAlertsRequest q;
  auto alerts = s.query_alerts(q, kT0 + 100 * kSec);
  ASSERT_OK(alerts);
  ASSERT_EQ(alerts->alerts_size(), 2);
  const auto incident = s.get_alert("a1:incident");
  ASSERT_OK(incident);
  EXPECT_EQ(incident->count(), 2U);
  EXPECT_EQ(incident->score(), 70U);
  EXPECT_EQ(incident->ts_ns(), kT0 + 1 * kSec);       // the first event's
  EXPECT_EQ(incident->updated_ns(), kT0 + 2 * kSec);  // the second's
  // The next batch updates the same record.
  auto more = batch(4, 4);
  more.mutable_events(0)->set_alert_id("incident");
  ASSERT_OK(s.ingest("a1", more, kT0));
  EXPECT_EQ(s.get_alert("a1:incident")->count(), 3U);
  alerts = s.query_alerts(q, kT0 + 100 * kSec);
  ASSERT_OK(alerts);
  EXPECT_EQ(alerts->alerts_size(), 2);
}

TEST(CollectorStore, EventFiltersAndPaging) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("a1"), kT0));
  ASSERT_OK(s.register_agent(hello("a2"), kT0));
  ASSERT_OK(s.ingest("a1", batch(1, 50), kT0));
  auto b2 = batch(1, 50);
  b2.mutable_events(10)->set_type("connect");
  ASSERT_OK(s.ingest("a2", b2, kT0));

  v1::QueryEventsRequest q;
  q.set_host("host-a2");
  q.set_type("connect");
  auto one = s.query_events(q, kT0 + 1000 * kSec);
  ASSERT_OK(one);
  ASSERT_EQ(one->events_size(), 1);
  EXPECT_EQ(one->events(0).event().seq(), 11U);

  v1::QueryEventsRequest all;
  all.set_limit(7);
  std::size_t seen = 0;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = s.query_events(all, kT0 + 1000 * kSec);
    ASSERT_OK(page);
    seen += static_cast<std::size_t>(page->events_size());
    if (page->next_page_token().empty()) break;
    all.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(seen, 100U);

  v1::QueryEventsRequest bad;
  bad.set_page_token("not-hex");
  EXPECT_EQ(s.query_events(bad, kT0).error().code, ErrorCode::kInvalidArgument);
}

// Ingest writes each event's record without copying it into a StoredEvent:
// the bytes must be exactly what StoredEvent's own serializer writes.
TEST(CollectorStore, StoredRecordsAreTheStoredEventSerialization) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("a1"), kT0));
  auto b = batch(1, 3);
  auto* e = b.mutable_events(1);
  e->set_exe(std::string(300, 'x'));  // a length needing a two-byte varint
  e->mutable_exec()->add_args("--flag");
  e->mutable_container()->set_image("registry.local/app:1");
  e->add_indicators()->set_id("shell-from-service");
  ASSERT_OK(s.ingest("a1", b, kT0));
  std::vector<v1::StoredEvent> got;
  s.scan_events(0, kT0 + 1000 * kSec, [&](const v1::StoredEvent& r) {
    got.push_back(r);
    return true;
  });
  ASSERT_EQ(got.size(), 3U);
  for (int i = 0; i < 3; ++i) {
    v1::StoredEvent want;
    want.set_agent_id("a1");
    want.set_host("host-a1");
    *want.mutable_event() = b.events(i);
    EXPECT_EQ(got[static_cast<std::size_t>(i)].SerializeAsString(), want.SerializeAsString());
  }
}

TEST(CollectorStore, RetentionDeletesEventsOlderThanTheAge) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false, .retention_age_s = 3600});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("a1"), kT0));
  ASSERT_OK(s.ingest("a1", batch(1, 5, kT0), kT0));                // old
  ASSERT_OK(s.ingest("a1", batch(6, 8, kT0 + 7200 * kSec), kT0));  // recent
  auto r = s.enforce_retention(kT0 + 7300 * kSec);
  ASSERT_OK(r);
  v1::QueryEventsRequest q;
  auto left = s.query_events(q, kT0 + 8000 * kSec);
  ASSERT_OK(left);
  ASSERT_EQ(left->events_size(), 3);
  EXPECT_EQ(left->events(0).event().seq(), 6U);
}

TEST(CollectorValidate, RejectsMalformedMessagesWithReasons) {
  EXPECT_OK(validate_hello(hello("agent-1.example_x")));
  auto bad = hello("bad id");
  EXPECT_NE(validate_hello(bad).error().message.find("agent_id"), std::string::npos);
  bad = hello("");
  EXPECT_FALSE(validate_hello(bad));

  EXPECT_OK(validate_batch(batch(1, 3)));
  EXPECT_FALSE(validate_batch(v1::EventBatch{}));
  auto unordered = batch(1, 3);
  unordered.mutable_events(2)->set_seq(2);
  EXPECT_NE(validate_batch(unordered).error().message.find("out of order"), std::string::npos);
  auto range = batch(1, 3);
  range.set_last_seq(2);
  EXPECT_FALSE(validate_batch(range));
  auto inflated = batch(1, 3);  // the header claims more than the events hold
  inflated.set_last_seq(20);
  ASSERT_TRUE(check_batch(inflated));
  EXPECT_EQ(check_batch(inflated)->reason, Reason::kHeaderMismatch);
  auto type = batch(1, 1);
  type.mutable_events(0)->set_type("teleport");
  EXPECT_NE(validate_batch(type).error().message.find("unknown type"), std::string::npos);
  auto score = batch(1, 1);
  score.mutable_events(0)->set_score(101);
  EXPECT_FALSE(validate_batch(score));
  auto no_ts = batch(1, 1);
  no_ts.mutable_events(0)->set_ts_ns(0);
  EXPECT_FALSE(validate_batch(no_ts));
  auto future = batch(1, 1);
  future.mutable_events(0)->set_ts_ns(unix_now_ns() + 2 * 86'400ULL * 1'000'000'000ULL);
  EXPECT_NE(validate_batch(future).error().message.find("more than a day in the future"),
            std::string::npos);
  auto skewed = batch(1, 1);  // an hour ahead: clock skew, accepted
  skewed.mutable_events(0)->set_ts_ns(unix_now_ns() + 3600ULL * 1'000'000'000ULL);
  EXPECT_OK(validate_batch(skewed));
  auto huge = batch(1, 1);
  huge.mutable_events(0)->set_summary(std::string(kMaxStringBytes + 1, 'x'));
  EXPECT_FALSE(validate_batch(huge));
  // One bad event is the event's refusal, not the batch's.
  EXPECT_FALSE(check_batch(type));
  ASSERT_TRUE(check_event(type.events(0)));
  EXPECT_EQ(check_event(type.events(0))->reason, Reason::kUnknownType);
  EXPECT_TRUE(valid_label("benign"));
  EXPECT_FALSE(valid_label("maybe"));
}

}  // namespace
}  // namespace vigil::collector
