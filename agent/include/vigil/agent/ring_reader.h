// Reads the probes' BPF ring buffers from a Boost.Asio loop: waits on libbpf's
// epoll fd, then drains every ready record in one batch. When the probes batch
// their wakeups (ringbuf_wakeup_us > 0), a backstop timer also drains every
// millisecond while records keep coming: a record submitted without a wakeup
// waits at most that long.
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

  // `map_fds`: ring buffer map fds (owned by the probes, which must outlive this).
  [[nodiscard]] static Result<std::unique_ptr<RingReader>> create(boost::asio::io_context& io,
                                                                  const std::vector<int>& map_fds,
                                                                  RecordFn on_record,
                                                                  BatchFn on_batch_end,
                                                                  bool backstop = false);
  ~RingReader();
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  void start();
  void stop();
  // Consumes everything available now; returns the number of records.
  std::size_t drain();
  [[nodiscard]] std::uint64_t records() const { return records_; }

 private:
  RingReader(boost::asio::io_context& io, RecordFn on_record, BatchFn on_batch_end);
  static int on_sample(void* ctx, void* data, std::size_t size);
  void arm();
  // After a drain that found `n` records: keep polling while records come.
  void backstop_after(std::size_t n);

  static constexpr std::chrono::milliseconds kBackstop{1};

  ring_buffer* rb_ = nullptr;
  boost::asio::posix::stream_descriptor epoll_;
  boost::asio::steady_timer backstop_timer_;
  bool backstop_ = false;  // the probes batch wakeups: poll while records come
  bool backstop_armed_ = false;
  RecordFn on_record_;
  BatchFn on_batch_end_;
  bool running_ = false;
  std::uint64_t records_ = 0;
};

}  // namespace vigil::agent
