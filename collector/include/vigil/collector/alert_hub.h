// Fan-out of new and updated alerts to live watchers (QueryService.WatchAlerts).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "vigil/v1/event.pb.h"

namespace vigil::collector {

class AlertHub {
 public:
  using Sink = std::function<void(const v1::Alert&)>;
  // After unsubscribe returns the sink is never called again.
  std::uint64_t subscribe(Sink sink) {
    std::lock_guard lock(mu_);
    sinks_.emplace(++next_, std::move(sink));
    return next_;
  }
  void unsubscribe(std::uint64_t id) {
    std::lock_guard lock(mu_);
    sinks_.erase(id);
  }
  void publish(const v1::Alert& alert) {
    std::lock_guard lock(mu_);
    for (auto& [id, sink] : sinks_) {
      sink(alert);
    }
  }
  [[nodiscard]] std::size_t watchers() const {
    std::lock_guard lock(mu_);
    return sinks_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::uint64_t, Sink> sinks_;
  std::uint64_t next_ = 0;
};

}  // namespace vigil::collector
