#include "vigil/collector/report.h"

#include <algorithm>
#include <map>

namespace vigil::collector {
namespace {

void top_counts(const std::map<std::string, std::uint64_t>& counts, std::uint32_t top,
                google::protobuf::RepeatedPtrField<v1::Count>* out) {
  std::vector<std::pair<std::string, std::uint64_t>> v(counts.begin(), counts.end());
  std::ranges::sort(v, [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (std::size_t i = 0; i < v.size() && i < top; ++i) {
    auto* c = out->Add();
    c->set_key(v[i].first);
    c->set_count(v[i].second);
  }
}

}  // namespace

v1::FleetReport build_fleet_report(Store& store, const v1::FleetReportRequest& req,
                                   std::uint64_t now_ns) {
  const std::uint64_t window_s = req.window_s() == 0 ? kDefaultReportWindowS : req.window_s();
  const std::uint32_t top = req.top() == 0 ? 5 : std::min<std::uint32_t>(req.top(), 100);
  const std::uint64_t window_ns = window_s * 1'000'000'000ULL;
  const std::uint64_t since = now_ns > window_ns ? now_ns - window_ns : 0;
  const std::uint64_t bucket_ns = std::max<std::uint64_t>(1, window_ns / kReportBuckets);

  v1::FleetReport report;
  report.set_window_s(window_s);
  report.set_generated_ns(now_ns);
  report.set_bucket_s(window_s / kReportBuckets);
  std::vector<std::uint64_t> events_trend(kReportBuckets, 0);
  std::vector<std::uint64_t> alerts_trend(kReportBuckets, 0);
  auto bucket = [&](std::uint64_t ts) {
    return std::min<std::size_t>(kReportBuckets - 1, ts > since ? (ts - since) / bucket_ns : 0);
  };

  std::map<std::string, v1::HostReport> hosts;
  for (auto& agent : store.agents()) {
    auto& h = hosts[agent.host_id()];
    h.set_host(agent.host_id());
    h.set_level(agent.level().empty() ? "calm" : agent.level());
    *h.mutable_agent() = std::move(agent);
  }

  std::map<std::string, std::uint64_t> processes;  // summed scores of scored events
  std::map<std::string, std::uint64_t> remotes;    // events naming the address
  std::uint64_t scanned = 0;
  store.scan_events(since, now_ns + 1, [&](const v1::StoredEvent& se) {
    const auto& e = se.event();
    auto& h = hosts[se.host()];
    h.set_host(se.host());
    h.set_events(h.events() + 1);
    ++events_trend[bucket(e.ts_ns())];
    if (e.score() > 0) {
      const std::string& proc = e.exe().empty() ? e.comm() : e.exe();
      if (!proc.empty()) {
        processes[proc] += e.score();
      }
    }
    if (e.has_socket() && !e.socket().raddr().empty()) {
      ++remotes[e.socket().raddr()];
    } else if (e.has_net_summary()) {
      ++remotes[e.net_summary().src()];
    }
    return ++scanned < kReportMaxScan;
  });

  std::vector<v1::Alert> alerts;
  store.scan_alerts(since, [&](const v1::Alert& a) {
    ++alerts_trend[bucket(a.ts_ns())];
    if (a.fleet()) {
      report.set_fleet_alerts(report.fleet_alerts() + 1);
    }
    for (const auto& host : a.hosts()) {
      auto& h = hosts[host];
      h.set_host(host);
      h.set_alerts(h.alerts() + 1);
      h.set_risk(std::max(h.risk(), a.score()));
    }
    alerts.push_back(a);
    return true;
  });
  std::ranges::sort(alerts, [](const v1::Alert& a, const v1::Alert& b) {
    return a.score() != b.score() ? a.score() > b.score() : a.ts_ns() > b.ts_ns();
  });
  for (std::size_t i = 0; i < alerts.size() && i < top; ++i) {
    *report.add_top_alerts() = alerts[i];
  }
  for (auto& [name, h] : hosts) {
    *report.add_hosts() = std::move(h);
  }
  top_counts(processes, top, report.mutable_top_processes());
  top_counts(remotes, top, report.mutable_top_remote_addresses());
  for (auto v : events_trend) {
    report.add_events_trend(v);
  }
  for (auto v : alerts_trend) {
    report.add_alerts_trend(v);
  }
  return report;
}

}  // namespace vigil::collector
