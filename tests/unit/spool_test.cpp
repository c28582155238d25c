// The agent's spool on a real temp directory: seqs, acks, restarts, bounds.
#include "vigil/agent/spool.h"

#include <gtest/gtest.h>

#include "util/test_util.h"

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

}  // namespace
}  // namespace vigil::agent
