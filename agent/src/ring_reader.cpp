#include "vigil/agent/ring_reader.h"

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <unistd.h>

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
                                                       bool backstop) {
  if (map_fds.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "no ring buffers to read");
  }
  std::unique_ptr<RingReader> r(new RingReader(io, std::move(on_record), std::move(on_batch_end)));
  r->backstop_ = backstop;
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
  const int n = ring_buffer__consume(rb_);
  if (n < 0) {
    VLOG_WARN("ring buffer consume failed: {}", std::strerror(-n));
  }
  on_batch_end_();
  return static_cast<std::size_t>(records_ - before);
}

void RingReader::start() {
  running_ = true;
  arm();
}

void RingReader::stop() {
  running_ = false;
  boost::system::error_code ec;
  epoll_.cancel(ec);
  backstop_timer_.cancel();
}

void RingReader::arm() {
  epoll_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](const boost::system::error_code& ec) {
                      if (ec || !running_) {
                        return;
                      }
                      backstop_after(drain());
                      arm();
                    });
}

void RingReader::backstop_after(std::size_t n) {
  if (!backstop_ || n == 0 || backstop_armed_ || !running_) {
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

}  // namespace vigil::agent
