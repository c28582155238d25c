#include "vigil/collector/correlator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "vigil/features.h"

namespace vigil::collector {
namespace {

constexpr std::uint32_t kScanScore = 70;
constexpr std::uint32_t kFloodScore = 80;
constexpr std::uint32_t kNovelExeScore = 75;
constexpr std::uint32_t kLateralScore = 90;

}  // namespace

bool in_writable_location(const std::string& path) {
  // The agents' temporary locations plus home directories: a tool copied
  // between hosts often lands in a user's home.
  return writable_location(path) || path.starts_with("/home/") || path.starts_with("/root/");
}

void Correlator::set_host_addresses(const std::string& host,
                                    const std::vector<std::string>& addresses) {
  for (const auto& a : addresses) {
    addr_owner_[a] = host;
  }
}

CorrelatorStats Correlator::stats() const {
  auto s = stats_;
  s.open_episodes = episodes_.size();
  return s;
}

void Correlator::expire(std::uint64_t now_ns) {
  const std::uint64_t window_ns = options_.window_s * 1'000'000'000ULL;
  if (now_ns < last_expire_ns_ + window_ns / 4) {
    return;
  }
  last_expire_ns_ = now_ns;
  std::erase_if(episodes_, [&](const auto& kv) { return kv.second.last_ns + window_ns < now_ns; });
  for (auto& [host, peers] : inbound_) {
    std::erase_if(peers, [&](const auto& kv) { return kv.second + window_ns < now_ns; });
  }
}

void Correlator::join(const std::string& key, const std::string& kind, std::uint32_t score,
                      const std::vector<std::string>& hosts, std::uint64_t ts_ns,
                      const std::string& what, const v1::Event& event,
                      std::vector<v1::Alert>& out) {
  auto& ep = episodes_[key];
  if (ep.alert.id().empty()) {
    ep.alert.set_id(fmt::format("fleet-{:x}-{}", ts_ns, ++next_id_));
    ep.alert.set_ts_ns(ts_ns);
    ep.alert.set_fleet(true);
    ep.alert.set_kind(kind);
    ep.alert.set_score(score);
    *ep.alert.mutable_event() = event;
  }
  ep.last_ns = std::max(ep.last_ns, ts_ns);
  ep.alert.set_count(ep.alert.count() + 1);
  const auto before = ep.hosts.size();
  ep.hosts.insert(hosts.begin(), hosts.end());
  if (ep.hosts.size() < options_.min_hosts || (ep.raised && ep.hosts.size() == before)) {
    return;  // not yet fleet-wide, or nothing new to say
  }
  ep.alert.set_updated_ns(ts_ns);
  ep.alert.clear_hosts();
  for (const auto& h : ep.hosts) {
    ep.alert.add_hosts(h);
  }
  ep.alert.set_summary(
      fmt::format("{} on {} hosts: {}", what, ep.hosts.size(), fmt::join(ep.hosts, ", ")));
  ep.raised ? ++stats_.alerts_updated : ++stats_.alerts_created;
  ep.raised = true;
  out.push_back(ep.alert);
}

void Correlator::observe(const std::string& host, const v1::Event& e, std::vector<v1::Alert>& out) {
  ++stats_.events;
  expire(e.ts_ns());
  const std::uint64_t window_ns = options_.window_s * 1'000'000'000ULL;

  if (e.has_net_summary()) {
    const auto& ns = e.net_summary();
    const bool scan = std::ranges::find(ns.reasons(), "scan") != ns.reasons().end();
    const bool flood = std::ranges::any_of(
        ns.reasons(), [](const std::string& r) { return r.ends_with("_flood"); });
    if (scan || flood) {
      const std::string kind = scan ? "fleet-scan" : "fleet-flood";
      join(kind + "|" + ns.src(), kind, scan ? kScanScore : kFloodScore, {host}, e.ts_ns(),
           fmt::format("{} {}", ns.src(), scan ? "scanning" : "flooding"), e, out);
    }
    return;
  }

  if (e.type() == "accept" && e.has_socket()) {
    auto owner = addr_owner_.find(e.socket().raddr());
    if (owner != addr_owner_.end() && owner->second != host) {
      inbound_[host][owner->second] = e.ts_ns();
    }
    return;
  }

  if (e.type() != "exec") {
    return;
  }
  const std::string& exe = e.exe().empty() && e.has_exec() ? e.exec().filename() : e.exe();
  if (is_shell_or_interpreter(exe)) {
    auto in = inbound_.find(host);
    if (in != inbound_.end()) {
      for (const auto& [peer, ts] : in->second) {
        if (e.ts_ns() >= ts && e.ts_ns() - ts <= window_ns) {
          join("lateral|" + peer + ">" + host, "fleet-lateral-movement", kLateralScore,
               {peer, host}, e.ts_ns(),
               fmt::format("connection from {} then shell {} on {}", peer, exe, host), e, out);
        }
      }
    }
  }
  const auto key = "exe|" + exe;
  if (!exe.empty() && (in_writable_location(exe) || e.score() > 0) &&
      (!known_exes_.contains(exe) || episodes_.contains(key))) {
    join(key, "fleet-novel-exe", kNovelExeScore, {host}, e.ts_ns(),
         fmt::format("new executable {}", exe), e, out);
    auto it = episodes_.find(key);
    if (it != episodes_.end() && it->second.raised) {
      known_exes_.insert(exe);  // one fleet alert per executable; later hosts update it
    }
  }
}

}  // namespace vigil::collector
