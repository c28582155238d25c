#include "vigil/collector/correlator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>

#include "vigil/features.h"

namespace vigil::collector {
namespace {

constexpr std::uint32_t kNovelExeScore = 75;
constexpr std::uint64_t kSec = 1'000'000'000ULL;
// fleet-novel-exe alerts once per executable per run; this bounds that memory
// (the oldest executable is forgotten first, and may alert again).
constexpr std::size_t kMaxKnownExes = 65'536;
// Sweeps rules no event touched at most this often (collector time).
constexpr std::uint64_t kSweepNs = kSec;
// Lineage: a process not heard of for this long leaves its host's table; an
// accept links descendants for this long (longer than any shipped rule's
// timespan: the rule's window decides, this only bounds memory).
constexpr std::uint64_t kProcessTtlNs = 3600 * kSec;
constexpr std::uint64_t kAcceptTtlNs = 600 * kSec;
constexpr std::uint64_t kLineageSweepNs = 60 * kSec;
// Ancestors walked per shell exec (a cycle from pid reuse cannot loop).
constexpr std::size_t kMaxLineageDepth = 32;

}  // namespace

bool in_writable_location(const std::string& path) {
  // The agents' temporary locations plus home directories: a tool copied
  // between hosts often lands in a user's home.
  return writable_location(path) || path.starts_with("/home/") || path.starts_with("/root/");
}

Result<std::vector<sigma::CorrelationRule>> load_correlation_rules(
    const CorrelatorOptions& options, std::vector<std::string>* notes) {
  return sigma::load_rule_set(
      {.shipped = options.shipped_rules,
       .dirs = options.rule_dirs,
       .limits = {.max_groups = options.max_groups, .max_entries = options.max_entries}},
      notes);
}

Correlator::Correlator(CorrelatorOptions options, std::vector<sigma::CorrelationRule> rules)
    : options_(std::move(options)),
      engine_(std::move(rules),
              {.max_groups = options_.max_groups, .max_entries = options_.max_entries}) {}

void Correlator::set_host_addresses(const std::string& host,
                                    const std::vector<std::string>& addresses) {
  auto& mine = host_addrs_[host];
  for (const auto& a : mine) {
    if (auto it = addr_owner_.find(a); it != addr_owner_.end() && it->second == host) {
      addr_owner_.erase(it);
    }
  }
  mine = addresses;
  for (const auto& a : addresses) {
    addr_owner_[a] = host;
  }
}

CorrelatorStats Correlator::stats() const {
  auto s = stats_;
  s.open_episodes = episodes_.size();
  s.sigma = engine_.stats();
  s.alerts_created += s.sigma.alerts_created;
  s.alerts_updated += s.sigma.alerts_updated;
  return s;
}

void Correlator::expire(std::uint64_t now_ns) {
  if (now_ns < last_expire_ns_ + kSweepNs) {
    return;
  }
  last_expire_ns_ = now_ns;
  engine_.expire(now_ns);
  const std::uint64_t window_ns = options_.window_s * kSec;
  std::erase_if(episodes_, [&](const auto& kv) { return kv.second.last_ns + window_ns < now_ns; });
  if (now_ns >= last_lineage_sweep_ns_ + kLineageSweepNs) {
    last_lineage_sweep_ns_ = now_ns;
    for (auto it = lineage_.begin(); it != lineage_.end();) {
      auto& tree = it->second;
      std::erase_if(tree.procs,
                    [&](const auto& kv) { return kv.second.seen_ns + kProcessTtlNs < now_ns; });
      std::erase_if(tree.acceptors,
                    [&](const auto& kv) { return kv.second + kAcceptTtlNs < now_ns; });
      it = tree.procs.empty() && tree.acceptors.empty() ? lineage_.erase(it) : std::next(it);
    }
  }
}

void Correlator::learn(HostLineage& tree, const v1::Event& e, std::uint64_t now) {
  auto note = [&](std::uint32_t pid, std::uint32_t ppid) {
    if (pid == 0 || ppid == 0 || pid == ppid) {
      return;
    }
    if (tree.procs.size() >= options_.max_processes && !tree.procs.contains(pid)) {
      // A host forking faster than the sweep: start its table over (counted)
      // rather than grow without bound. Links through it are lost, not forged.
      tree.procs.clear();
      ++stats_.lineage_resets;
    }
    tree.procs[pid] = {ppid, now};
  };
  note(e.pid(), e.ppid());
  if (e.has_fork()) {
    note(e.fork().child_pid(), e.pid());
  }
}

std::uint32_t Correlator::accepting_ancestor(const HostLineage& tree, const v1::Event& e,
                                             std::uint64_t now) {
  std::uint32_t pid = e.pid();
  std::uint32_t parent = e.ppid();  // the event's own view is the freshest
  for (std::size_t depth = 0; depth < kMaxLineageDepth && pid > 1; ++depth) {
    // pid 1 is everyone's ancestor (and accepts for socket-activated
    // services): it links nothing.
    if (auto a = tree.acceptors.find(pid);
        a != tree.acceptors.end() && a->second + kAcceptTtlNs >= now) {
      return pid;
    }
    pid = parent;
    auto p = tree.procs.find(pid);
    parent = p == tree.procs.end() ? 0 : p->second.ppid;
  }
  return 0;
}

void Correlator::remember_exe(const std::string& exe) {
  if (!known_exes_.insert(exe).second) {
    return;
  }
  known_order_.push_back(exe);
  if (known_order_.size() > kMaxKnownExes) {
    known_exes_.erase(known_order_.front());
    known_order_.pop_front();
    ++stats_.known_exes_evicted;
  }
}

void Correlator::observe(const EventOrigin& from, const v1::Event& e, std::uint64_t now_ns,
                         std::vector<v1::Alert>& out) {
  ++stats_.events;
  now_ns_ = std::max(now_ns_, now_ns);  // a clock stepping back holds at its last value
  expire(now_ns_);

  // What only the collector knows: which fleet host owns the remote address.
  std::string_view remote;
  if (e.has_socket()) {
    remote = e.socket().raddr();
  } else if (e.has_net_summary()) {
    remote = e.net_summary().src();
  }
  std::string_view peer;
  if (!remote.empty()) {
    if (auto it = addr_owner_.find(remote); it != addr_owner_.end() && it->second != from.host) {
      peer = it->second;
    }
  }
  const bool exec = e.type() == "exec";
  const bool accept = e.type() == "accept";
  // Lineage is learnt where a parent link is made or restated: a fork (the
  // child's link, and the forking process's own), an exec and an accept.
  // Every other event only repeats a link one of those gave (a process on a
  // path from an acceptor to a shell forked or exec'd to be on it), and most
  // events are other events: the table no longer pays for them.
  HostLineage* tree = nullptr;
  if (exec || accept || e.has_fork()) {
    auto it = lineage_.find(from.host);
    if (it == lineage_.end()) {
      it = lineage_.emplace(std::string(from.host), HostLineage{}).first;
    }
    tree = &it->second;
    learn(*tree, e, now_ns_);
  }
  std::array<std::string_view, 2> derived{};
  std::size_t n_derived = 0;
  std::uint32_t lineage_pid = 0;
  if (accept && !peer.empty()) {
    derived[n_derived++] = kFleetPeerAccept;
    if (e.pid() > 1) {
      tree->acceptors[e.pid()] = now_ns_;
      lineage_pid = e.pid();
    }
  }
  const std::string& exe = e.exe().empty() && e.has_exec() ? e.exec().filename() : e.exe();
  if (exec && is_shell_or_interpreter(exe)) {
    derived[n_derived++] = kShellExec;
    if (!tree->acceptors.empty()) {
      lineage_pid = accepting_ancestor(*tree, e, now_ns_);
      stats_.lineage_links += lineage_pid != 0 ? 1 : 0;
    }
  }
  const std::string lineage = lineage_pid != 0 ? std::to_string(lineage_pid) : std::string();
  engine_.observe({.agent = from.agent_id,
                   .host = from.host,
                   .peer = peer,
                   .lineage = lineage,
                   .extra_indicators = std::span(derived.data(), n_derived),
                   .event = e},
                  now_ns_, out);
  if (exec) {
    observe_novel_exe(from.host, e, now_ns_, out);
  }
}

void Correlator::observe_novel_exe(std::string_view host, const v1::Event& e, std::uint64_t now,
                                   std::vector<v1::Alert>& out) {
  const std::string& exe = e.exe().empty() && e.has_exec() ? e.exec().filename() : e.exe();
  if (exe.empty() || !(in_writable_location(exe) || e.score() > 0)) {
    return;
  }
  auto it = episodes_.find(exe);
  if (it == episodes_.end()) {
    if (known_exes_.contains(exe)) {
      return;  // one fleet alert per executable; its episode is over
    }
    it = episodes_.emplace(exe, Episode{}).first;
  }
  auto& ep = it->second;
  if (ep.alert.id().empty()) {
    ep.alert.set_id(fmt::format("fleet-{:x}-{}", now, ++next_id_));
    ep.alert.set_ts_ns(now);
    ep.alert.set_fleet(true);
    ep.alert.set_kind("fleet-novel-exe");
    ep.alert.set_score(kNovelExeScore);
    auto* ind = ep.alert.add_indicators();
    ind->set_id("fleet-novel-exe");
    ind->set_attack("T1570");
    ind->set_severity(kNovelExeScore);
    *ep.alert.mutable_event() = e;
  }
  ep.last_ns = now;
  ep.alert.set_count(ep.alert.count() + 1);
  const auto before = ep.hosts.size();
  ep.hosts.emplace(host);
  if (ep.hosts.size() < options_.min_hosts || (ep.raised && ep.hosts.size() == before)) {
    return;  // not yet fleet-wide, or nothing new to say
  }
  ep.alert.set_updated_ns(now);
  ep.alert.clear_hosts();
  for (const auto& h : ep.hosts) {
    ep.alert.add_hosts(h);
  }
  ep.alert.set_summary(fmt::format("new executable {} on {} hosts: {}", exe, ep.hosts.size(),
                                   fmt::join(ep.hosts, ", ")));
  ep.raised ? ++stats_.alerts_updated : ++stats_.alerts_created;
  ep.raised = true;
  remember_exe(exe);
  out.push_back(ep.alert);
}

}  // namespace vigil::collector
