// RAII over a libbpf skeleton, enforcing open -> configure (rodata, map sizes)
// -> load -> attach. Plugs into plan_and_attach as its ObjectBackend.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "vigil/agent/hook_plan.h"
#include "vigil/agent/probe.h"

namespace vigil::agent {

// Sums a per-CPU array of __u64 counters.
[[nodiscard]] Result<KernelStats> read_percpu_stats(bpf_map* stats_map);

// Fills the shared in-kernel filters (ignore_comm; ignore_exec_prefix if present).
[[nodiscard]] Result<void> fill_filters(bpf_map* ignore_comm, bpf_map* ignore_exec_prefix,
                                        const ProbeOptions& options);

// Traits expected: using Skel; static Skel* open(const bpf_object_open_opts*);
// static int load(Skel*); static void destroy(Skel*); static bpf_object* object(Skel*);
// static void configure(Skel*, const ProbeOptions&) — before load (rodata, sizes);
// optional: static Result<void> after_load(Skel*, const ProbeOptions&) — fills maps.
template <typename Traits>
class Skeleton final : public ObjectBackend {
 public:
  using Skel = typename Traits::Skel;

  explicit Skeleton(ProbeOptions options) : options_(std::move(options)) {}
  ~Skeleton() override { reset(); }
  Skeleton(const Skeleton&) = delete;
  Skeleton& operator=(const Skeleton&) = delete;

  Result<void> load(const std::vector<std::string>& programs) override {
    reset();
    LIBBPF_OPTS(bpf_object_open_opts, opts);
    if (!options_.btf_path.empty()) {
      opts.btf_custom_path = options_.btf_path.c_str();
    }
    Skel* skel = Traits::open(&opts);
    if (skel == nullptr) {
      return make_error(ErrorCode::kKernel, fmt::format("open: {}", std::strerror(errno)));
    }
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, Traits::object(skel)) {
      const std::string name = bpf_program__name(prog);
      bool wanted = false;
      for (const auto& p : programs) {
        wanted = wanted || p == name;
      }
      if constexpr (requires { Traits::manual_programs(); }) {
        // Programs the probe attaches itself (e.g. XDP per interface) always load.
        for (const auto& p : Traits::manual_programs()) {
          wanted = wanted || p == name;
        }
      }
      bpf_program__set_autoload(prog, wanted);
    }
    Traits::configure(skel, options_);
    if (int err = Traits::load(skel); err != 0) {
      Traits::destroy(skel);
      return make_error(ErrorCode::kKernel, fmt::format("load: {}", std::strerror(-err)));
    }
    // Filters go in before anything attaches, so no ignored event slips out.
    auto* obj = Traits::object(skel);
    if (auto filled =
            fill_filters(bpf_object__find_map_by_name(obj, "ignore_comm"),
                         bpf_object__find_map_by_name(obj, "ignore_exec_prefix"), options_);
        !filled) {
      Traits::destroy(skel);
      return filled;
    }
    if constexpr (requires { Traits::after_load(skel, options_); }) {
      // Family-specific maps (watch lists, ...) go in before attach too.
      if (auto r = Traits::after_load(skel, options_); !r) {
        Traits::destroy(skel);
        return r;
      }
    }
    skel_ = skel;
    return {};
  }

  Result<void> attach(const std::vector<std::string>& programs) override {
    if (skel_ == nullptr) {
      return make_error(ErrorCode::kInternal, "attach before load");
    }
    std::vector<bpf_link*> made;
    for (const auto& name : programs) {
      bpf_program* prog = bpf_object__find_program_by_name(Traits::object(skel_), name.c_str());
      if (prog == nullptr) {
        for (auto* l : made) bpf_link__destroy(l);
        return make_error(ErrorCode::kInternal, fmt::format("no program {}", name));
      }
      bpf_link* link = bpf_program__attach(prog);
      if (link == nullptr) {
        const int err = errno;
        for (auto* l : made) bpf_link__destroy(l);
        return make_error(ErrorCode::kKernel,
                          fmt::format("attach {}: {}", name, std::strerror(err)));
      }
      made.push_back(link);
    }
    links_.insert(links_.end(), made.begin(), made.end());
    return {};
  }

  void detach() {
    for (auto* l : links_) {
      bpf_link__destroy(l);
    }
    links_.clear();
  }

  void reset() override {
    detach();
    if (skel_ != nullptr) {
      Traits::destroy(skel_);
      skel_ = nullptr;
    }
  }

  [[nodiscard]] bool loaded() const { return skel_ != nullptr; }
  [[nodiscard]] Skel* get() const { return skel_; }
  [[nodiscard]] bpf_map* map(const char* name) const {
    return skel_ == nullptr ? nullptr : bpf_object__find_map_by_name(Traits::object(skel_), name);
  }

 private:
  ProbeOptions options_;
  Skel* skel_ = nullptr;
  std::vector<bpf_link*> links_;
};

}  // namespace vigil::agent
