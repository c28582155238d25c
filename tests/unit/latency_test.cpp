#include "vigil/latency.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace vigil {
namespace {

TEST(LatencyHistogram, BucketsAreContiguousAndBoundsHoldTheirValues) {
  // Every value lands in a bucket whose upper bound is >= it, and the buckets
  // tile the range in order (no gaps, no overlaps).
  std::uint64_t prev_upper = 0;
  for (unsigned i = 1; i < LatencyHistogram::kBuckets; ++i) {
    const auto upper = LatencyHistogram::upper_bound(i);
    ASSERT_GT(upper, prev_upper) << i;
    EXPECT_EQ(LatencyHistogram::index(prev_upper + 1), i) << i;
    EXPECT_EQ(LatencyHistogram::index(upper), i) << i;
    prev_upper = upper;
  }
  EXPECT_EQ(LatencyHistogram::index(std::uint64_t{1} << 50), LatencyHistogram::kBuckets - 1)
      << "values beyond the range clamp into the last bucket";
}

TEST(LatencyHistogram, QuantilesAreWithinTheBucketPrecision) {
  LatencyHistogram h;
  EXPECT_EQ(h.quantile_ns(0.99), 0U) << "empty";
  std::vector<std::uint64_t> values;
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> d(11.0, 1.5);  // ~60 us median, long tail
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<std::uint64_t>(d(rng));
    values.push_back(v);
    h.record_ns(static_cast<std::int64_t>(v));
  }
  std::ranges::sort(values);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const auto truth =
        static_cast<double>(values[static_cast<std::size_t>(q * (values.size() - 1))]);
    const auto got = static_cast<double>(h.quantile_ns(q));
    EXPECT_GE(got, truth) << q << ": the bucket's upper bound";
    EXPECT_LE(got, truth * 1.125 + 1) << q << ": within one bucket (12.5 %)";
  }
  EXPECT_EQ(h.count(), 100000U);
  EXPECT_EQ(h.quantile_ns(1.0), h.max_ns()) << "the top quantile is the maximum";
  EXPECT_EQ(h.max_ns(), values.back());
}

TEST(LatencyHistogram, TimestampsFromOutsideNeverOverflow) {
  LatencyHistogram h;
  h.record_between(1000, 500);  // after now: a clock step or a hostile record
  h.record_between(0, ~std::uint64_t{0});
  h.record_between(~std::uint64_t{0} - 5, 10);  // found by fuzz.decoder (signed overflow)
  h.record_between(400, 1000);
  EXPECT_EQ(h.count(), 4U);
  EXPECT_EQ(h.quantile_ns(0.0), 0U);
  EXPECT_EQ(h.max_ns(), std::uint64_t{1} << 62) << "clamped";
}

TEST(LatencyHistogram, NegativeIsZeroAndMergeAdds) {
  LatencyHistogram a;
  LatencyHistogram b;
  a.record_ns(-5);  // a clock step: counted, as zero
  b.record_ns(1000);
  b.record_ns(3000);
  a.merge(b);
  EXPECT_EQ(a.count(), 3U);
  EXPECT_EQ(a.quantile_ns(0.0), 0U);
  EXPECT_EQ(a.max_ns(), 3000U);
  EXPECT_NEAR(a.mean_ns(), 4000.0 / 3, 1e-9);
}

}  // namespace
}  // namespace vigil
