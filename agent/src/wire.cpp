#include "vigil/agent/wire.h"

#include <sys/socket.h>

#include "vigil/abi.h"
#include "vigil/agent/decoder.h"
#include "vigil/agent/sigma.h"
#include "vigil/event_format.h"

namespace vigil::agent {
namespace {

// proto3 refuses a string field that is not UTF-8 when the collector parses
// it, which would lose the whole batch. The decoder already escapes what the
// kernel reports; this catches what came from elsewhere (e.g. /proc at start)
// without escaping anything twice: a valid string passes unchanged.
std::string utf8(std::string_view s) { return valid_utf8(s) ? std::string(s) : escape_name(s); }

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
  if (event.type == EventType::kExec) {
    for (const auto& a : event.args) {
      out.mutable_exec()->add_args(utf8(a));
    }
  }
}

}  // namespace vigil::agent
