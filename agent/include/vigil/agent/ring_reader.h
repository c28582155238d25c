// Reads the probes' BPF ring buffers from a Boost.Asio loop: waits on libbpf's
// epoll fd, then drains every ready record in one batch. How the reader is
// woken (bpf/maps.bpf.h) decides the rest:
//  - kPolled (the default): a record wakes a waiting reader only if 250 us
//    passed since the last record that could (or past a watermark of unread
//    bytes, or when it is rare and alert-grade); the others are submitted
//    without a wakeup. A timer drains kPollMin after any drain that found
//    records, backing off (doubling) to `poll_max` while polls find nothing:
//    a record waits in the ring at most `poll_max`, in practice ~kPollMin.
//  - kBatched (ringbuf_wakeup_us > 0): the probes force a wakeup at most once
//    per window; a backstop timer also drains every millisecond while records
//    keep coming.
//  - kPerRecord: libbpf's default wakeup per record, no timer.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "vigil/result.h"

struct ring_buffer;

namespace vigil::agent {

class RingReader {
 public:
  using RecordFn = std::function<void(std::span<const std::byte>)>;
  using BatchFn = std::function<void()>;
  enum class Wakeups { kPerRecord, kBatched, kPolled };

  // `map_fds`: ring buffer map fds (owned by the probes, which must outlive this).
  [[nodiscard]] static Result<std::unique_ptr<RingReader>> create(
      boost::asio::io_context& io, const std::vector<int>& map_fds, RecordFn on_record,
      BatchFn on_batch_end, Wakeups wakeups = Wakeups::kPerRecord,
      std::chrono::milliseconds poll_max = kPollMaxDefault);
  ~RingReader();
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  void start();
  void stop();
  // Consumes everything available now; returns the number of records.
  std::size_t drain();
  [[nodiscard]] std::uint64_t records() const { return records_; }
  // Drains (any wakeup or poll), and those that found nothing.
  [[nodiscard]] std::uint64_t drains() const { return drains_; }
  [[nodiscard]] std::uint64_t empty_drains() const { return empty_drains_; }

  static constexpr std::chrono::milliseconds kPollMin{1};
  static constexpr std::chrono::milliseconds kPollMaxDefault{16};

 private:
  RingReader(boost::asio::io_context& io, RecordFn on_record, BatchFn on_batch_end);
  static int on_sample(void* ctx, void* data, std::size_t size);
  void arm();
  // After a drain that found `n` records: keep polling while records come.
  void backstop_after(std::size_t n);
  // kPolled: the next poll, kPollMin after a drain that found records, else
  // twice the last interval up to poll_max_.
  void poll_after(std::size_t n);

  static constexpr std::chrono::milliseconds kBackstop{1};

  ring_buffer* rb_ = nullptr;
  boost::asio::posix::stream_descriptor epoll_;
  boost::asio::steady_timer backstop_timer_;
  Wakeups wakeups_ = Wakeups::kPerRecord;
  bool backstop_armed_ = false;
  std::chrono::milliseconds poll_max_ = kPollMaxDefault;
  std::chrono::milliseconds poll_interval_ = kPollMin;
  RecordFn on_record_;
  BatchFn on_batch_end_;
  bool running_ = false;
  std::uint64_t records_ = 0;
  std::uint64_t drains_ = 0;
  std::uint64_t empty_drains_ = 0;
};

}  // namespace vigil::agent
