#include "vigil/agent/memory_probe.h"

#include "memory.skel.h"
#include "vigil/agent/skeleton_probe.h"

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
    s->rodata->raw_events = o.raw_events ? 1 : 0;
    s->rodata->wakeup_min_ns = std::uint64_t{o.wakeup_min_us} * 1000;
    s->rodata->wakeup_watermark = o.polled_wakeups ? o.ringbuf_bytes / 8 : 0;
    bpf_map__set_max_entries(s->maps.memory_events, o.ringbuf_bytes);
  }
  static const std::vector<HookSpec>& hooks() { return memory_hooks(); }
  static bpf_map* ring(Skel* s) { return s->maps.memory_events; }
  static const char* stat_name(std::size_t slot) {
    switch (slot) {
      case VIGIL_STAT_MEM_SUPPRESSED:
        return "rate_limited";
      case VIGIL_STAT_MEM_CRASHES:
        return "fatal_signals";
      default:
        return nullptr;
    }
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

std::unique_ptr<Probe> make_memory_probe() {
  return std::make_unique<SkeletonProbe<MemoryTraits>>("memory");
}

}  // namespace vigil::agent
