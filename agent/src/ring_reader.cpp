#include "vigil/agent/ring_reader.h"

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vigil/log.h"

namespace vigil::agent {

RingReader::RingReader(boost::asio::io_context& io, RecordFn on_record, BatchFn on_batch_end)
    : epoll_(io),
      backstop_timer_(io),
      on_record_(std::move(on_record)),
      on_batch_end_(std::move(on_batch_end)) {}

RingReader::~RingReader() {
  stop();
  if (rb_ != nullptr) {
    ring_buffer__free(rb_);
  }
}

Result<std::unique_ptr<RingReader>> RingReader::create(boost::asio::io_context& io,
                                                       const std::vector<int>& map_fds,
                                                       RecordFn on_record, BatchFn on_batch_end,
                                                       Wakeups wakeups,
                                                       std::chrono::milliseconds poll_max) {
  if (map_fds.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "no ring buffers to read");
  }
  std::unique_ptr<RingReader> r(new RingReader(io, std::move(on_record), std::move(on_batch_end)));
  r->wakeups_ = wakeups;
  r->poll_max_ = std::max(poll_max, kPollMin);
  for (int fd : map_fds) {
    if (r->rb_ == nullptr) {
      r->rb_ = ring_buffer__new(fd, &RingReader::on_sample, r.get(), nullptr);
      if (r->rb_ == nullptr) {
        return make_error(ErrorCode::kKernel,
                          fmt::format("ring_buffer__new: {}", std::strerror(errno)));
      }
    } else if (int err = ring_buffer__add(r->rb_, fd, &RingReader::on_sample, r.get()); err) {
      return make_error(ErrorCode::kKernel,
                        fmt::format("ring_buffer__add: {}", std::strerror(-err)));
    }
  }
  // Asio owns (and closes) what it is given: hand it a duplicate of libbpf's fd.
  const int efd = dup(ring_buffer__epoll_fd(r->rb_));
  if (efd < 0) {
    return make_error(ErrorCode::kIo, fmt::format("dup epoll fd: {}", std::strerror(errno)));
  }
  r->epoll_.assign(efd);
  return r;
}

int RingReader::on_sample(void* ctx, void* data, std::size_t size) {
  auto* self = static_cast<RingReader*>(ctx);
  ++self->records_;
  self->on_record_(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
  return 0;
}

std::size_t RingReader::drain() {
  const auto before = records_;
  const int consumed = ring_buffer__consume(rb_);
  if (consumed < 0) {
    VLOG_WARN("ring buffer consume failed: {}", std::strerror(-consumed));
  }
  on_batch_end_();
  const auto n = static_cast<std::size_t>(records_ - before);
  ++drains_;
  if (n == 0) {
    ++empty_drains_;
  }
  return n;
}

void RingReader::start() {
  running_ = true;
  arm();
  if (wakeups_ == Wakeups::kPolled) {
    poll_after(0);
  }
}

void RingReader::stop() {
  running_ = false;
  boost::system::error_code ec;
  epoll_.cancel(ec);
  backstop_timer_.cancel();
}

void RingReader::arm() {
  epoll_.async_wait(
      boost::asio::posix::stream_descriptor::wait_read,
      [this](const boost::system::error_code& ec) {
        if (ec || !running_) {
          return;
        }
        const auto n = drain();
        if (wakeups_ == Wakeups::kBatched) {
          backstop_after(n);
        } else if (wakeups_ == Wakeups::kPolled && n != 0 &&
                   backstop_timer_.expiry() > std::chrono::steady_clock::now() + kPollMin) {
          // Records came: records submitted just after them
          // without a wakeup are read within kPollMin.
          poll_after(n);
        }
        arm();
      });
}

void RingReader::backstop_after(std::size_t n) {
  if (wakeups_ != Wakeups::kBatched || n == 0 || backstop_armed_ || !running_) {
    return;  // quiet: the next record's wakeup brings the reader back
  }
  backstop_armed_ = true;
  backstop_timer_.expires_after(kBackstop);
  backstop_timer_.async_wait([this](const boost::system::error_code& ec) {
    backstop_armed_ = false;
    if (ec || !running_) {
      return;
    }
    backstop_after(drain());
  });
}

void RingReader::poll_after(std::size_t n) {
  if (!running_) {
    return;
  }
  poll_interval_ = n != 0 ? kPollMin : std::min(poll_interval_ * 2, poll_max_);
  backstop_timer_.expires_after(poll_interval_);
  backstop_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) {
      return;
    }
    poll_after(drain());
  });
}

}  // namespace vigil::agent
