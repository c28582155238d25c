#include "vigil/agent/process_probe.h"

#include "process.skel.h"
#include "vigil/agent/skeleton.h"

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
    bpf_map__set_max_entries(s->maps.process_events, o.ringbuf_bytes);
  }
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
  };
  return kHooks;
}

struct ProcessProbe::Impl {
  explicit Impl(ProbeOptions o) : skel(std::move(o)) {}
  Skeleton<ProcessTraits> skel;
};

ProcessProbe::ProcessProbe() = default;
ProcessProbe::~ProcessProbe() { stop(); }

Result<void> ProcessProbe::start(const ProbeOptions& options) {
  stop();
  impl_ = std::make_unique<Impl>(options);
  status_ = plan_and_attach(family_, process_hooks(), impl_->skel, options.disabled_modes);
  if (!impl_->skel.loaded()) {
    std::string why;
    for (const auto& s : status_) {
      why += fmt::format("\n  {}: {}", s.hook, s.error);
    }
    return make_error(ErrorCode::kKernel, "no process hook could be attached:" + why);
  }
  return {};
}

int ProcessProbe::ring_fd() const {
  if (!impl_ || !impl_->skel.loaded()) {
    return -1;
  }
  return bpf_map__fd(impl_->skel.get()->maps.process_events);
}

Result<KernelStats> ProcessProbe::read_stats() const {
  if (!impl_ || !impl_->skel.loaded()) {
    return make_error(ErrorCode::kInternal, "process probe not loaded");
  }
  return read_percpu_stats(impl_->skel.get()->maps.stats);
}

void ProcessProbe::detach() {
  if (impl_) {
    impl_->skel.detach();
  }
}

void ProcessProbe::stop() { impl_.reset(); }

}  // namespace vigil::agent
