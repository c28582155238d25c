#include "vigil/agent/memory_probe.h"

#include "memory.skel.h"
#include "vigil/agent/skeleton.h"

namespace vigil::agent {
namespace {

struct MemoryTraits {
  using Skel = memory_bpf;
  static Skel* open(const bpf_object_open_opts* opts) { return memory_bpf__open_opts(opts); }
  static int load(Skel* s) { return memory_bpf__load(s); }
  static void destroy(Skel* s) { memory_bpf__destroy(s); }
  static bpf_object* object(Skel* s) { return s->obj; }
  static void configure(Skel* s, const ProbeOptions& o) {
    s->rodata->agent_tgid = o.agent_tgid;
    bpf_map__set_max_entries(s->maps.memory_events, o.ringbuf_bytes);
  }
};

}  // namespace

const std::vector<HookSpec>& memory_hooks() {
  static const std::vector<HookSpec> kHooks = {
      {"wx_mmap", {{"tracepoint", {"mmap_enter", "mmap_exit"}}}},
      {"mprotect", {{"tracepoint", {"mprotect_enter", "mprotect_exit"}}}},
      {"brk", {{"tracepoint", {"brk_enter", "brk_exit"}}}},
      {"memfd", {{"tracepoint", {"memfd_enter", "memfd_exit"}}}},
      {"fileless", {{"tp_btf", {"fileless_btf"}}, {"tracepoint", {"fileless_tp"}}}},
      {"vm_writev", {{"tracepoint", {"vm_writev_enter", "vm_writev_exit"}}}},
      {"proc_mem", {{"tracepoint", {"openat_enter", "openat_exit"}}}},
      // The classic signal tracepoint has no target task, so no executable to
      // count crashes by: tp_btf only.
      {"crash", {{"tp_btf", {"crash_btf"}}}},
  };
  return kHooks;
}

struct MemoryProbe::Impl {
  explicit Impl(ProbeOptions o) : skel(std::move(o)) {}
  Skeleton<MemoryTraits> skel;
};

MemoryProbe::MemoryProbe() = default;
MemoryProbe::~MemoryProbe() { stop(); }

Result<void> MemoryProbe::start(const ProbeOptions& options) {
  stop();
  impl_ = std::make_unique<Impl>(options);
  status_ = plan_and_attach(family_, memory_hooks(), impl_->skel, options.disabled_modes);
  if (!impl_->skel.loaded()) {
    return make_error(ErrorCode::kKernel, "no memory hook could be attached");
  }
  return {};
}

int MemoryProbe::ring_fd() const {
  if (!impl_ || !impl_->skel.loaded()) {
    return -1;
  }
  return bpf_map__fd(impl_->skel.get()->maps.memory_events);
}

Result<KernelStats> MemoryProbe::read_stats() const {
  if (!impl_ || !impl_->skel.loaded()) {
    return make_error(ErrorCode::kInternal, "memory probe not loaded");
  }
  return read_percpu_stats(impl_->skel.get()->maps.stats);
}

const char* MemoryProbe::stat_name(std::size_t slot) const {
  switch (slot) {
    case VIGIL_STAT_MEM_SUPPRESSED:
      return "rate_limited";
    case VIGIL_STAT_MEM_CRASHES:
      return "fatal_signals";
    default:
      return common_stat_name(slot);
  }
}

void MemoryProbe::detach() {
  if (impl_) {
    impl_->skel.detach();
  }
}

void MemoryProbe::stop() { impl_.reset(); }

}  // namespace vigil::agent
