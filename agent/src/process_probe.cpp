#include "vigil/agent/process_probe.h"

#include "process.skel.h"
#include "vigil/agent/skeleton_probe.h"

namespace vigil::agent {
namespace {

struct ProcessTraits {
  using Skel = process_bpf;
  static Skel* open(const bpf_object_open_opts* opts) { return process_bpf__open_opts(opts); }
  static int load(Skel* s) { return process_bpf__load(s); }
  static void destroy(Skel* s) { process_bpf__destroy(s); }
  static bpf_object* object(Skel* s) { return s->obj; }
  static void configure(Skel* s, const ProbeOptions& o) {
    s->rodata->agent_tgid = o.agent_tgid;
    s->rodata->raw_events = o.raw_events ? 1 : 0;
    s->rodata->wakeup_min_ns = std::uint64_t{o.wakeup_min_us} * 1000;
    s->rodata->wakeup_watermark = o.polled_wakeups ? o.ringbuf_bytes / 8 : 0;
    bpf_map__set_max_entries(s->maps.process_events, o.ringbuf_bytes);
  }
  static const std::vector<HookSpec>& hooks() { return process_hooks(); }
  static bpf_map* ring(Skel* s) { return s->maps.process_events; }
  static const char* stat_name(std::size_t /*slot*/) { return nullptr; }
};

HookSpec syscall_pairs(std::string name, std::initializer_list<const char*> calls) {
  HookVariant v{"tracepoint", {}};
  for (const char* c : calls) {
    v.programs.push_back(std::string(c) + "_enter");
    v.programs.push_back(std::string(c) + "_exit");
  }
  return HookSpec{std::move(name), {std::move(v)}};
}

}  // namespace

const std::vector<HookSpec>& process_hooks() {
  static const std::vector<HookSpec> kHooks = {
      {"exec", {{"tp_btf", {"exec_btf"}}, {"tracepoint", {"exec_tp"}}}},
      {"exec_creds", {{"tracepoint", {"execve_enter", "execveat_enter"}}}},
      {"fork", {{"tp_btf", {"fork_btf"}}, {"tracepoint", {"fork_tp"}}}},
      {"exit", {{"tp_btf", {"exit_btf"}}, {"tracepoint", {"exit_tp"}}}},
      syscall_pairs("setuid", {"setuid", "setreuid", "setresuid", "setfsuid"}),
      syscall_pairs("setgid", {"setgid", "setregid", "setresgid", "setfsgid"}),
      syscall_pairs("capset", {"capset"}),
      {"ptrace", {{"tracepoint", {"ptrace_enter", "ptrace_exit"}}}},
      {"kill", {{"tp_btf", {"kill_btf"}}, {"tracepoint", {"kill_tp"}}}},
      syscall_pairs("ns_change", {"setns", "unshare"}),
      {"cgroup",
       {{"tp_btf", {"cgroup_mkdir_btf", "cgroup_rmdir_btf"}},
        {"tracepoint", {"cgroup_mkdir_tp", "cgroup_rmdir_tp"}}}},
  };
  return kHooks;
}

std::unique_ptr<Probe> make_process_probe() {
  return std::make_unique<SkeletonProbe<ProcessTraits>>("process");
}

}  // namespace vigil::agent
