// A fixed pool of threads running posted jobs in FIFO order. The collector's
// storage writes run here instead of on gRPC's callback threads, which must
// not block: an agent stream posts one job per message and reads its next
// message only when that job is done, so the queue holds at most one job per
// connected stream, and several streams' fsync'd writes reach RocksDB at once
// (its WAL commits them as a group: one fsync for many batches).
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vigil::collector {

class WorkPool {
 public:
  explicit WorkPool(std::size_t threads, std::string name = "vigil-writer") {
    threads = threads == 0 ? 1 : threads;
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
      workers_.emplace_back([this, name] {
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
        run();
      });
    }
  }
  // Runs every job already posted, then joins.
  ~WorkPool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) {
      t.join();
    }
  }
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
      ++queued_;
    }
    cv_.notify_one();
  }
  [[nodiscard]] std::size_t threads() const { return workers_.size(); }
  // Jobs waiting for a thread, now.
  [[nodiscard]] std::size_t waiting() const { return queued_.load(); }

 private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) {
          return;  // stopping, and nothing left
        }
        job = std::move(jobs_.front());
        jobs_.pop_front();
        --queued_;
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::atomic<std::size_t> queued_{0};
  std::vector<std::thread> workers_;
};

}  // namespace vigil::collector
