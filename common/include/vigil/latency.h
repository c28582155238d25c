// Latency histogram for hot paths: log-linear buckets (8 per power of two, so
// any quantile is within 12.5 % of the truth), fixed storage, recording is a
// few instructions and never allocates. Used for kernel -> agent output and
// kernel -> durable-at-collector latencies (docs/PERFORMANCE.md).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <ctime>

namespace vigil {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 3;  // 8 sub-buckets per power of two
  static constexpr unsigned kSub = 1U << kSubBits;
  static constexpr unsigned kMaxPow = 40;  // 2^40 ns ~ 18 min; larger values clamp
  static constexpr unsigned kBuckets = (kMaxPow - kSubBits + 2) * kSub;

  // now - then, for timestamps from outside (a record's, an agent's): a
  // `then` after `now` (clock step, hostile input) counts as zero.
  void record_between(std::uint64_t then_ns, std::uint64_t now_ns) {
    record_ns(then_ns >= now_ns ? 0
                                : static_cast<std::int64_t>(std::min<std::uint64_t>(
                                      now_ns - then_ns, std::uint64_t{1} << 62)));
  }

  void record_ns(std::int64_t ns) {
    const auto v = ns <= 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(ns);
    ++counts_[index(v)];
    ++count_;
    sum_ns_ += v;
    if (v > max_ns_) {
      max_ns_ = v;
    }
  }

  // The upper bound (ns) of the bucket holding quantile q in [0, 1]; 0 when empty.
  [[nodiscard]] std::uint64_t quantile_ns(double q) const {
    if (count_ == 0) {
      return 0;
    }
    const auto rank =
        static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1)) + 1;  // 1-based
    std::uint64_t seen = 0;
    for (unsigned i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const std::uint64_t hi = upper_bound(i);
        return hi < max_ns_ ? hi : max_ns_;
      }
    }
    return max_ns_;
  }

  [[nodiscard]] std::uint64_t count() const { return count_; }
  [[nodiscard]] std::uint64_t max_ns() const { return max_ns_; }
  [[nodiscard]] double mean_ns() const {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_ns_) / static_cast<double>(count_);
  }

  void merge(const LatencyHistogram& other) {
    for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ns_ += other.sum_ns_;
    if (other.max_ns_ > max_ns_) {
      max_ns_ = other.max_ns_;
    }
  }

  // Bucket of value v: below 8 ns one bucket per ns; above, the power of two
  // and the next three bits.
  [[nodiscard]] static unsigned index(std::uint64_t v) {
    if (v < kSub) {
      return static_cast<unsigned>(v);
    }
    const unsigned pow = 63U - static_cast<unsigned>(std::countl_zero(v));  // >= kSubBits
    if (pow > kMaxPow) {
      return kBuckets - 1;
    }
    const auto sub = static_cast<unsigned>((v >> (pow - kSubBits)) & (kSub - 1));
    return (pow - kSubBits + 1) * kSub + sub;
  }
  // Largest value that falls in bucket i.
  [[nodiscard]] static std::uint64_t upper_bound(unsigned i) {
    if (i < kSub) {
      return i;
    }
    const unsigned pow = i / kSub + kSubBits - 1;
    const std::uint64_t sub = i % kSub;
    const std::uint64_t lo = (std::uint64_t{1} << pow) | (sub << (pow - kSubBits));
    return lo + (std::uint64_t{1} << (pow - kSubBits)) - 1;
  }

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ns_ = 0;
  std::uint64_t max_ns_ = 0;
};

// CLOCK_BOOTTIME in ns: the clock the kernel stamps events with.
[[nodiscard]] inline std::int64_t boot_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace vigil
