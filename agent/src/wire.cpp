#include "vigil/agent/wire.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>

#include "vigil/abi.h"
#include "vigil/agent/decoder.h"
#include "vigil/agent/sigma.h"
#include "vigil/event_format.h"
#include "vigil/wire_limits.h"

namespace vigil::agent {
namespace {

// proto3 refuses a string field that is not UTF-8 when the collector parses
// it, which would lose the whole batch. The decoder already escapes what the
// kernel reports; this catches what came from elsewhere (e.g. /proc at start)
// without escaping anything twice: a valid string passes unchanged.
std::string utf8(std::string_view s) { return valid_utf8(s) ? std::string(s) : escape_name(s); }

// A container, image, pod or label name from the runtime's API or cgroup
// paths, as the collector accepts it (collector/src/validate.cpp): a clean
// name as is; any other in escape_name's escaped form with control characters
// written as \xHH too (every backslash is doubled there, so they cannot be
// confused with the name's own), then cut to the row's limit at a character
// boundary. One odd name from a runtime must not make the collector refuse
// the whole event.
std::string workload(std::string_view s, const wire::FieldLimit& limit) {
  const auto control = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; };
  std::string out;
  if (valid_utf8(s) && !std::ranges::any_of(s, control)) {
    out.assign(s);
  } else {
    std::string escaped;
    append_escaped(s, escaped);  // every backslash doubled, bytes outside UTF-8 as \xHH
    for (const char c : escaped) {
      if (control(c)) {
        out += fmt::format("\\x{:02X}", static_cast<unsigned char>(c));
      } else {
        out.push_back(c);
      }
    }
  }
  if (out.size() > limit.max) {
    std::size_t n = limit.max;
    while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xC0U) == 0x80U) {
      --n;  // out[n] continues the character before it: cut before that one
    }
    out.resize(n);
  }
  return out;
}

#define VIGIL_LIMIT(name) wire::limit("vigil.v1." name)

void set_namespaces(const Namespaces& ns, v1::Namespaces& out) {
  out.set_mnt(ns.mnt);
  out.set_pid(ns.pid);
  out.set_net(ns.net);
  out.set_user(ns.user);
  out.set_uts(ns.uts);
  out.set_ipc(ns.ipc);
  out.set_cgroup(ns.cgroup);
  out.set_ns_pid(ns.ns_pid);
  out.set_cap_eff(ns.cap_eff);
}

void set_container(const ContainerInfo& c, bool with_labels, v1::Container& out) {
  out.set_id(workload(c.id, VIGIL_LIMIT("Container.id")));
  out.set_runtime(workload(c.runtime, VIGIL_LIMIT("Container.runtime")));
  out.set_name(workload(c.name, VIGIL_LIMIT("Container.name")));
  out.set_image(workload(c.image, VIGIL_LIMIT("Container.image")));
  out.set_pod(workload(c.pod, VIGIL_LIMIT("Container.pod")));
  out.set_pod_uid(workload(c.pod_uid, VIGIL_LIMIT("Container.pod_uid")));
  out.set_k8s_ns(workload(c.k8s_ns, VIGIL_LIMIT("Container.k8s_ns")));
  if (!with_labels) {
    return;
  }
  for (const auto& [key, value] : c.labels) {
    if (static_cast<std::uint32_t>(out.labels_size()) == VIGIL_LIMIT("Container.labels").max) {
      break;
    }
    auto* l = out.add_labels();
    l->set_key(workload(key, VIGIL_LIMIT("Label.key")));
    l->set_value(workload(value, VIGIL_LIMIT("Label.value")));
  }
}

struct DetailVisitor {
  v1::Event& out;

  void operator()(const ExecData& d) const {
    auto* x = out.mutable_exec();
    x->set_filename(utf8(d.filename));
    x->set_setuid(d.setuid);
    x->set_setgid(d.setgid);
    x->set_euid_changed(d.euid_changed);
    x->set_prev_euid(d.prev_euid);
    x->set_args_truncated(d.args_truncated);
  }
  void operator()(const ForkData& d) const { out.mutable_fork()->set_child_pid(d.child_pid); }
  void operator()(const ExitData& d) const {
    auto* x = out.mutable_exit();
    x->set_exit_code(d.exit_code);
    x->set_signal(d.signal);
    x->set_core_dumped(d.core_dumped);
    x->set_lifetime_ns(d.lifetime_ns);
  }
  void operator()(const SetidData& d) const {
    auto* x = out.mutable_setid();
    x->set_syscall(std::string(setid_syscall_name(d.syscall)));
    x->set_ret(d.ret);
    for (auto v : d.old_ids) x->add_old_ids(v);
    for (auto v : d.new_ids) x->add_new_ids(v);
    x->set_old_cap_eff(d.old_cap_eff);
    x->set_new_cap_eff(d.new_cap_eff);
  }
  void operator()(const PtraceData& d) const {
    auto* x = out.mutable_ptrace();
    x->set_request(std::string(ptrace_request_name(d.request)));
    x->set_target_pid(d.target_pid);
    x->set_ret(d.ret);
    x->set_addr(d.addr);
  }
  void operator()(const KillData& d) const {
    auto* x = out.mutable_kill();
    x->set_target_pid(d.target_pid);
    x->set_target_uid(d.target_uid);
    x->set_signal(std::string(signal_name(d.signal)));
    x->set_result(d.result);
    x->set_target_comm(utf8(d.target_comm));
  }
  void operator()(const MemProtData& d) const {
    auto* x = out.mutable_memory();
    x->set_addr(d.addr);
    x->set_len(d.len);
    x->set_prot(prot_string(d.prot));
    x->set_flags(d.flags);
    x->set_anonymous(d.anon == VIGIL_MAP_ANON);
    x->set_file(utf8(d.file));
    x->set_ret(d.ret);
  }
  void operator()(const MemfdData& d) const {
    auto* x = out.mutable_memory();
    x->set_file(utf8(d.name));
    x->set_flags(d.flags);
    x->set_ret(d.ret);
  }
  void operator()(const FilelessExecData& d) const {
    auto* x = out.mutable_memory();
    x->set_file(utf8(d.filename));
    x->set_anonymous(d.memfd);
  }
  void operator()(const InjectData& d) const {
    auto* x = out.mutable_memory();
    x->set_target_pid(d.target_pid);
    x->set_bytes(d.bytes);
    x->set_method(d.method == VIGIL_INJECT_VM_WRITEV ? "process_vm_writev" : "proc_mem");
    x->set_file(utf8(d.path));
    x->set_ret(d.ret);
  }
  void operator()(const CrashStormData& d) const {
    auto* x = out.mutable_memory();
    x->set_file(utf8(d.exe));
    x->set_count(d.count);
    x->set_window_ms(d.window_ms);
  }
  void operator()(const AllocRateData& d) const {
    auto* x = out.mutable_memory();
    x->set_bytes(d.bytes);
    x->set_count(d.calls);
    x->set_window_ms(d.window_ms);
  }
  void operator()(const FileData& d) const {
    auto* x = out.mutable_file();
    x->set_op(std::string(file_op_name(d.op)));
    x->set_path(utf8(d.path));
    x->set_new_path(utf8(d.new_path));
    x->set_ret(d.ret);
    x->set_flags(d.flags);
    x->set_mode(d.mode);
    x->set_dev(d.dev);
    x->set_root_dev(d.root_dev);
  }
  void operator()(const NsChangeData& d) const {
    auto* x = out.mutable_ns_change();
    x->set_syscall(d.syscall == VIGIL_SYS_SETNS ? "setns" : "unshare");
    x->set_ret(d.ret);
    x->set_flags(d.flags);
    if (d.before.known()) {
      set_namespaces(d.before, *x->mutable_before());
    }
    set_namespaces(d.after, *x->mutable_after());
  }
  void operator()(const CgroupData& d) const {
    auto* x = out.mutable_cgroup();
    x->set_removed(d.removed);
    x->set_id(d.id);
    x->set_level(d.level);
    x->set_path(utf8(d.path));
  }
  void operator()(const SockData& d) const {
    auto* x = out.mutable_socket();
    x->set_family(d.family == AF_INET6 ? "ipv6" : "ipv4");
    x->set_proto(d.proto == 17 ? "udp" : "tcp");
    x->set_laddr(d.laddr);
    x->set_lport(d.lport);
    x->set_raddr(d.raddr);
    x->set_rport(d.rport);
    x->set_bytes_sent(d.bytes_sent);
    x->set_bytes_received(d.bytes_received);
    x->set_ret(d.ret);
  }
  void operator()(const NetSummaryData& d) const {
    auto* x = out.mutable_net_summary();
    x->set_src(d.src);
    const std::string reasons = net_reasons(d.reasons);
    std::string_view rest = reasons;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      x->add_reasons(std::string(rest.substr(0, comma)));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    x->set_pkts(d.pkts);
    x->set_bytes(d.bytes);
    x->set_syns(d.syns);
    x->set_dports(d.dports);
    x->set_daddrs(d.daddrs);
    x->set_window_ms(d.window_ms);
    x->set_ifindex(d.ifindex);
  }
};

#undef VIGIL_LIMIT

}  // namespace

void set_features(const FeatureVector& features, v1::Event& out) {
  out.set_feature_schema(kFeatureSchemaVersion);
  for (std::size_t i = 0; i < features.size(); ++i) {
    if (features[i] != 0.0F) {
      out.add_feature_slots(static_cast<std::uint32_t>(i));
      out.add_feature_values(features[i]);
    }
  }
}

void to_proto(const Event& event, std::uint32_t score, std::span<const Indicator* const> hits,
              std::string_view alert_id, v1::Event& out) {
  out.Clear();
  out.set_type(std::string(to_string(event.type)));
  out.set_ts_ns(event.ts_ns);
  out.set_pid(event.pid);
  out.set_ppid(event.ppid);
  out.set_uid(event.uid);
  out.set_euid(event.euid);
  out.set_cgroup_id(event.cgroup_id);
  out.set_comm(utf8(event.comm));
  out.set_exe(utf8(event.exe));
  out.set_score(score);
  for (const auto* h : hits) {
    auto* hit = out.add_indicators();
    hit->set_id(std::string(h->id));
    hit->set_attack(std::string(h->attack));
    hit->set_severity(h->severity);
    if (h->rule != nullptr && !alert_id.empty()) {
      // Provenance rides with alerts only: events stay small.
      const auto& r = *h->rule;
      auto* ref = hit->mutable_rule();
      ref->set_id(r.id);
      ref->set_name(r.name);
      ref->set_title(r.title);
      ref->set_author(r.author);
      if (!r.reference.empty()) {
        ref->add_references(r.reference);
      }
      ref->set_level(std::string(sigma::to_string(r.level)));
      for (const auto& a : r.attack) {
        ref->add_tags(a);
      }
      ref->set_source(r.file);
    }
  }
  out.set_alert_id(std::string(alert_id));
  std::string summary;
  append_text(event, summary);
  out.set_summary(utf8(summary));
  std::visit(DetailVisitor{out}, event.data);
  if (event.container) {
    // Labels ride with alerts only, like rule provenance: events stay small.
    set_container(*event.container, !alert_id.empty(), *out.mutable_container());
  }
  if (event.ns.known()) {
    set_namespaces(event.ns, *out.mutable_ns());
    out.set_host_ns(event.host_ns);
  }
  if (event.type == EventType::kExec) {
    for (const auto& a : event.args) {
      out.mutable_exec()->add_args(utf8(a));
    }
  }
}

}  // namespace vigil::agent
