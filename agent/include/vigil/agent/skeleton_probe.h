// A Probe made of one libbpf skeleton: plan and attach its hooks, expose its
// ring buffer and counters. Each family supplies Traits (see skeleton.h, plus
// hooks(), ring(Skel*) and stat_name(slot)) and may override the start/detach
// hooks for what the plan does not cover (e.g. XDP per interface).
// Include only from a family's .cpp: Traits name the generated skeleton.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vigil/agent/probe.h"
#include "vigil/agent/skeleton.h"

namespace vigil::agent {

template <typename Traits>
class SkeletonProbe : public Probe {
 public:
  explicit SkeletonProbe(std::string family) : family_(std::move(family)) {}
  ~SkeletonProbe() override { SkeletonProbe::stop(); }
  SkeletonProbe(const SkeletonProbe&) = delete;
  SkeletonProbe& operator=(const SkeletonProbe&) = delete;

  [[nodiscard]] const std::string& family() const override { return family_; }

  [[nodiscard]] Result<void> start(const ProbeOptions& options) override {
    stop();
    skel_ = std::make_unique<Skeleton<Traits>>(options);
    status_ = plan_and_attach(family_, Traits::hooks(), *skel_, options.disabled_modes);
    if (!skel_->loaded()) {
      std::string why;
      for (const auto& s : status_) {
        why += fmt::format("\n  {}: {}", s.hook, s.error);
      }
      return make_error(ErrorCode::kKernel,
                        fmt::format("no {} hook could be attached:{}", family_, why));
    }
    return after_start(options);
  }

  [[nodiscard]] const std::vector<HookStatus>& status() const override { return status_; }

  [[nodiscard]] int ring_fd() const override {
    return loaded() ? bpf_map__fd(Traits::ring(skel_->get())) : -1;
  }

  [[nodiscard]] Result<KernelStats> read_stats() const override {
    if (!loaded()) {
      return make_error(ErrorCode::kInternal, family_ + " probe not loaded");
    }
    return read_percpu_stats(skel_->get()->maps.stats);
  }

  [[nodiscard]] const char* stat_name(std::size_t slot) const override {
    const char* name = Traits::stat_name(slot);
    return name != nullptr ? name : common_stat_name(slot);
  }

  void detach() override {
    if (skel_) {
      before_detach();
      skel_->detach();
    }
  }

  void stop() override {
    if (skel_) {
      before_detach();
      skel_.reset();
    }
  }

 protected:
  // After the planned hooks attached: family-specific attachments and maps.
  virtual Result<void> after_start(const ProbeOptions& /*options*/) { return {}; }
  // Before hooks are detached: undo what after_start attached.
  virtual void before_detach() {}

  [[nodiscard]] bool loaded() const { return skel_ && skel_->loaded(); }
  [[nodiscard]] typename Traits::Skel* skel() const { return skel_->get(); }
  [[nodiscard]] std::vector<HookStatus>& mutable_status() { return status_; }

 private:
  std::string family_;
  std::unique_ptr<Skeleton<Traits>> skel_;
  std::vector<HookStatus> status_;
};

}  // namespace vigil::agent
