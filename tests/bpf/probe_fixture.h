// Shared fixture for probe tests on the real kernel: loads one probe family,
// reads its ring buffer directly and waits for events matching a predicate.
#pragma once

#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "util/test_util.h"
#include "vigil/agent/bpf_env.h"
#include "vigil/agent/decoder.h"
#include "vigil/agent/probe.h"

namespace vigil::agent {

constexpr std::uint32_t kNobody = 65534;

// `Factory` makes the probe under test (make_process_probe, ...).
template <auto Factory>
class ProbeFixture : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_ROOT_OR_SKIP(); }

  void start(ProbeOptions options = {}) {
    auto env = prepare_bpf_environment("");
    ASSERT_OK(env);
    ASSERT_OK(probe_->start(options));
    rb_ = ring_buffer__new(probe_->ring_fd(), &ProbeFixture::on_sample, this, nullptr);
    ASSERT_NE(rb_, nullptr);
  }

  void TearDown() override {
    if (rb_ != nullptr) {
      ring_buffer__free(rb_);
    }
    probe_->stop();
  }

  static int on_sample(void* ctx, void* data, std::size_t size) {
    auto* self = static_cast<ProbeFixture*>(ctx);
    Event e;
    if (self->decoder_.decode(std::span(static_cast<const std::byte*>(data), size), e)) {
      self->events_.push_back(std::move(e));
    }
    return 0;
  }

  // Polls the ring buffer until an event matches or the deadline passes.
  std::optional<Event> wait_for(const std::function<bool(const Event&)>& pred,
                                std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t seen = 0;
    while (true) {
      for (; seen < events_.size(); ++seen) {
        if (pred(events_[seen])) {
          return events_[seen];
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return std::nullopt;
      }
      ring_buffer__poll(rb_, 50);
    }
  }

  // Drains for a short while and reports whether any event matched.
  bool seen_any(const std::function<bool(const Event&)>& pred) {
    for (int i = 0; i < 5; ++i) {
      ring_buffer__poll(rb_, 20);
    }
    for (const auto& e : events_) {
      if (pred(e)) {
        return true;
      }
    }
    return false;
  }

  // Forks a child that becomes `nobody` and pauses; returns once it has switched.
  static pid_t spawn_paused_nobody() {
    int ready[2];
    if (pipe(ready) != 0) {
      return -1;
    }
    const pid_t child = fork();
    if (child == 0) {
      if (setuid(kNobody) != 0) _exit(1);
      (void)!write(ready[1], "x", 1);
      pause();
      _exit(0);
    }
    char c = 0;
    const bool ok = child > 0 && read(ready[0], &c, 1) == 1;
    close(ready[0]);
    close(ready[1]);
    return ok ? child : -1;
  }

  // One kernel counter of the probe (0 if unreadable).
  std::uint64_t kernel_stat(std::size_t slot) {
    auto st = probe_->read_stats();
    return st ? (*st)[slot] : 0;
  }

  static int wait_child(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  }

  std::unique_ptr<Probe> probe_ = Factory();
  ring_buffer* rb_ = nullptr;
  Decoder decoder_;
  std::vector<Event> events_;
};

// The kernel's notion of this process's pid, for comparing with event fields.
inline std::uint32_t self_pid() { return static_cast<std::uint32_t>(getpid()); }

}  // namespace vigil::agent
