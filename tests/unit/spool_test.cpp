// The agent's spool on a real temp directory: seqs, acks, restarts, bounds;
// and the shipper's hand-off to it from the agent loop.
#include "vigil/agent/spool.h"

#include <gtest/gtest.h>

#include <chrono>

#include "util/test_util.h"
#include "vigil/agent/shipper.h"

namespace vigil::agent {
namespace {

std::vector<v1::Event> events(std::size_t n, std::uint32_t score = 0, std::size_t pad = 0) {
  std::vector<v1::Event> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i].set_type("exec");
    out[i].set_ts_ns(1'000'000'000ULL + i);
    out[i].set_score(score);
    out[i].set_summary(std::string(pad, 'x'));
  }
  return out;
}

TEST(Spool, AssignsIncreasingSeqsAndReadsInOrder) {
  test::TempDir dir;
  auto spool = Spool::open(dir.path());
  ASSERT_OK(spool);
  auto a = events(3);
  ASSERT_OK((*spool)->append(a));
  EXPECT_EQ(a[0].seq(), 1U);
  EXPECT_EQ(a[2].seq(), 3U);
  v1::EventBatch b;
  ASSERT_OK((*spool)->read(0, 2, b));
  ASSERT_EQ(b.events_size(), 2);
  EXPECT_EQ(b.first_seq(), 1U);
  EXPECT_EQ(b.last_seq(), 2U);
  ASSERT_OK((*spool)->read(2, 100, b));
  ASSERT_EQ(b.events_size(), 1);
  EXPECT_EQ(b.events(0).seq(), 3U);
  ASSERT_OK((*spool)->read(3, 100, b));
  EXPECT_EQ(b.events_size(), 0);
}

TEST(Spool, AckForgetsAndSeqsSurviveRestartWithoutReuse) {
  test::TempDir dir;
  std::uint64_t id = 0;
  {
    auto spool = Spool::open(dir.path());
    ASSERT_OK(spool);
    id = (*spool)->spool_id();
    auto a = events(10);
    ASSERT_OK((*spool)->append(a));
    ASSERT_OK((*spool)->ack(10));  // everything acked: the spool is empty
    EXPECT_EQ((*spool)->stats().events, 0U);
    auto b = events(2);
    ASSERT_OK((*spool)->append(b));
    ASSERT_OK((*spool)->ack(11));
  }
  auto spool = Spool::open(dir.path());
  ASSERT_OK(spool);
  EXPECT_EQ((*spool)->spool_id(), id);
  const auto st = (*spool)->stats();
  EXPECT_EQ(st.events, 1U);  // seq 12 was never acked
  EXPECT_EQ(st.next_seq, 13U);
  EXPECT_EQ(st.acked_seq, 11U);
  v1::EventBatch b;
  ASSERT_OK((*spool)->read(st.acked_seq, 100, b));
  ASSERT_EQ(b.events_size(), 1);
  EXPECT_EQ(b.events(0).seq(), 12U);
  auto c = events(1);
  ASSERT_OK((*spool)->append(c));
  EXPECT_EQ(c[0].seq(), 13U);  // never reused after a restart, even when empty
}

TEST(Spool, WhenFullTheLowestScoresGoFirstAndAreCounted) {
  test::TempDir dir;
  auto spool = Spool::open(dir.path(), {.max_bytes = 64 * 1024});
  ASSERT_OK(spool);
  auto high = events(20, 90, 500);
  ASSERT_OK((*spool)->append(high));
  auto low = events(200, 0, 500);  // ~100 KiB: over the bound
  ASSERT_OK((*spool)->append(low));
  const auto st = (*spool)->stats();
  EXPECT_LE(st.bytes, 64U * 1024);
  EXPECT_GT(st.dropped, 0U);
  EXPECT_EQ(st.events + st.dropped, 220U);
  // Every high-score event is still there.
  v1::EventBatch b;
  ASSERT_OK((*spool)->read(0, 1000, b));
  std::size_t highs = 0;
  for (const auto& e : b.events()) highs += e.score() == 90 ? 1 : 0;
  EXPECT_EQ(highs, 20U);
  EXPECT_EQ(static_cast<std::uint64_t>(b.events_size()), st.events);
  // Acking across dropped seqs (gaps) is fine.
  ASSERT_OK((*spool)->ack(220));
  EXPECT_EQ((*spool)->stats().events, 0U);
  EXPECT_EQ((*spool)->stats().bytes, 0U);
}

// A shipper whose collector never answers: only the hand-off and the spool run.
ShipperOptions unreachable(std::size_t batch_max, std::size_t handoff_max = 32768) {
  ShipperOptions o;
  o.collector = "127.0.0.1:1";
  o.batch_max = batch_max;
  o.handoff_max = handoff_max;
  o.backoff_min = std::chrono::milliseconds(1000);
  return o;
}

TEST(ShipperHandoff, EveryEventReachesTheSpoolInOrderThroughTheWriterThread) {
  test::TempDir dir;
  auto spool = Spool::open(dir.path());
  ASSERT_OK(spool);
  {
    Shipper shipper(unreachable(100), **spool, v1::Hello{});
    shipper.start();
    for (std::size_t i = 0; i < 2500; ++i) {
      v1::Event e;
      e.set_type("exec");
      e.set_ts_ns(i);
      shipper.add(std::move(e));  // hands off every 100
    }
    shipper.add(v1::Event{});  // one left pending: stop() hands it off and writes it
    shipper.stop(std::chrono::milliseconds(0));
    const auto st = shipper.stats();
    EXPECT_EQ(st.handoff_full, 0U);
    EXPECT_EQ(st.handoff_queued, 0U);
    EXPECT_GE(st.spool_writes, 1U);
    EXPECT_LE(st.spool_writes, 26U);  // one write per hand-off at most, never per event
  }
  EXPECT_EQ((*spool)->stats().appended, 2501U);
  v1::EventBatch b;
  ASSERT_OK((*spool)->read(0, 3000, b));
  ASSERT_EQ(b.events_size(), 2501);
  for (int i = 0; i < 2500; ++i) {
    ASSERT_EQ(b.events(i).ts_ns(), static_cast<std::uint64_t>(i));  // handed-off order
    ASSERT_EQ(b.events(i).seq(), static_cast<std::uint64_t>(i) + 1);
  }
}

TEST(ShipperHandoff, WithoutItsThreadsAFlushAppendsAtOnce) {
  test::TempDir dir;
  auto spool = Spool::open(dir.path());
  ASSERT_OK(spool);
  Shipper shipper(unreachable(100), **spool, v1::Hello{});
  for (int i = 0; i < 3; ++i) {
    shipper.add(v1::Event{});
  }
  EXPECT_EQ((*spool)->stats().appended, 0U);
  shipper.flush();
  EXPECT_EQ((*spool)->stats().appended, 3U);
  EXPECT_EQ(shipper.stats().spool_writes, 1U);
}

TEST(ShipperHandoff, AFullQueueMakesTheLoopWaitAndLosesNothing) {
  test::TempDir dir;
  auto spool = Spool::open(dir.path());
  ASSERT_OK(spool);
  std::uint64_t full = 0;
  {
    // Hand-offs of 50 into a queue of 10: each waits until the writer has
    // written everything before it (or finds it done already).
    Shipper shipper(unreachable(50, 10), **spool, v1::Hello{});
    shipper.start();
    for (int i = 0; i < 500; ++i) {
      v1::Event e;
      e.set_ts_ns(static_cast<std::uint64_t>(i));
      shipper.add(std::move(e));
    }
    shipper.stop(std::chrono::milliseconds(0));
    full = shipper.stats().handoff_full;
  }
  EXPECT_LE(full, 9U);  // the first hand-off always finds the queue empty
  EXPECT_EQ((*spool)->stats().appended, 500U);
  v1::EventBatch b;
  ASSERT_OK((*spool)->read(0, 1000, b));
  ASSERT_EQ(b.events_size(), 500);
  for (int i = 0; i < 500; ++i) {
    ASSERT_EQ(b.events(i).ts_ns(), static_cast<std::uint64_t>(i));  // in order
  }
}

}  // namespace
}  // namespace vigil::agent
