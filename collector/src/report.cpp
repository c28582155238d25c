#include "vigil/collector/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>

#include "vigil/collector/keys.h"

namespace vigil::collector {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;

// A fleet-wide top list: sums per key, at most `max_keys` distinct keys (what
// arrives after that is counted as dropped, never silently lost).
struct Tally {
  std::unordered_map<std::string, std::uint64_t> counts;
  std::uint64_t dropped = 0;         // counts this tally could not keep
  std::uint64_t minute_dropped = 0;  // counts the rollups had already dropped

  void add(const google::protobuf::RepeatedPtrField<v1::Count>& from, std::size_t max_keys) {
    for (const auto& c : from) {
      auto it = counts.find(c.key());
      if (it != counts.end()) {
        it->second += c.count();
      } else if (counts.size() < max_keys) {
        counts.emplace(c.key(), c.count());
      } else {
        dropped += c.count();
      }
    }
  }

  void top(std::uint32_t n, google::protobuf::RepeatedPtrField<v1::Count>* out) const {
    std::vector<std::pair<std::string_view, std::uint64_t>> v(counts.begin(), counts.end());
    const auto by_count = [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    };
    const auto keep = std::min<std::size_t>(n, v.size());
    std::ranges::partial_sort(v, v.begin() + static_cast<std::ptrdiff_t>(keep), by_count);
    for (std::size_t i = 0; i < keep; ++i) {
      auto* c = out->Add();
      c->set_key(std::string(v[i].first));
      c->set_count(v[i].second);
    }
  }

  // Why the list may be inexact, or "" when it is exact.
  [[nodiscard]] std::string why(std::string_view list) const {
    if (minute_dropped == 0 && dropped == 0) {
      return {};
    }
    return fmt::format(
        "{}: approximate (per-minute rollups kept their most counted entries, {} counted in "
        "entries left out; the report's list stopped at {} keys, {} left out)",
        list, minute_dropped, kReportMaxEntities, dropped);
  }
};

// A fleet-wide workload list (pods, Kubernetes namespaces, images): sums per
// key, bounded like Tally; the top are those that alert most, then by risk,
// then by events.
struct GroupTally {
  struct Sums {
    std::uint64_t events = 0;
    std::uint64_t alerts = 0;
    std::uint32_t risk = 0;
  };
  std::unordered_map<std::string, Sums> groups;
  std::uint64_t dropped = 0;         // events of groups this tally could not keep
  std::uint64_t minute_dropped = 0;  // events of groups the rollups had already dropped

  void add(const google::protobuf::RepeatedPtrField<v1::GroupReport>& from,
           std::uint64_t dropped_in, std::size_t max_keys) {
    minute_dropped += dropped_in;
    for (const auto& g : from) {
      auto it = groups.find(g.key());
      if (it == groups.end()) {
        if (groups.size() == max_keys) {
          dropped += g.events();
          continue;
        }
        it = groups.emplace(g.key(), Sums{}).first;
      }
      it->second.events += g.events();
      it->second.alerts += g.alerts();
      it->second.risk = std::max(it->second.risk, g.risk());
    }
  }

  void top(std::uint32_t n, google::protobuf::RepeatedPtrField<v1::GroupReport>* out) const {
    std::vector<std::pair<std::string_view, Sums>> v(groups.begin(), groups.end());
    const auto keep = std::min<std::size_t>(n, v.size());
    std::ranges::partial_sort(v, v.begin() + static_cast<std::ptrdiff_t>(keep),
                              [](const auto& a, const auto& b) {
                                const auto& x = a.second;
                                const auto& y = b.second;
                                if (x.alerts != y.alerts) return x.alerts > y.alerts;
                                if (x.risk != y.risk) return x.risk > y.risk;
                                if (x.events != y.events) return x.events > y.events;
                                return a.first < b.first;
                              });
    for (std::size_t i = 0; i < keep; ++i) {
      auto* g = out->Add();
      g->set_key(std::string(v[i].first));
      g->set_events(v[i].second.events);
      g->set_alerts(v[i].second.alerts);
      g->set_risk(v[i].second.risk);
    }
  }

  [[nodiscard]] std::string why(std::string_view list) const {
    if (minute_dropped == 0 && dropped == 0) {
      return {};
    }
    return fmt::format(
        "{}: approximate (per-minute rollups kept their most alerting entries, {} events in "
        "entries left out; the report's list stopped at {} keys, {} events left out)",
        list, minute_dropped, kReportMaxEntities, dropped);
  }
};

bool higher(const v1::Alert& a, const v1::Alert& b) {
  return a.score() != b.score() ? a.score() > b.score() : a.ts_ns() > b.ts_ns();
}

Result<v1::FleetReport> report(Store& store, const v1::FleetReportRequest& req,
                               std::uint64_t now_ns, const ReportLimits& limits, bool paged) {
  std::string resume_host;
  bool resumed = false;
  if (paged && !req.page_token().empty()) {
    auto token =
        store.page_tokens().open(PageKind::kFleetReport, without_paging(req), req.page_token());
    if (!token) {
      return std::unexpected(token.error());
    }
    now_ns = token->pinned_ns();  // every page reports the first page's window
    resume_host = token->resume_key();
    resumed = true;
  }
  const std::uint64_t window_s = req.window_s() == 0 ? kDefaultReportWindowS : req.window_s();
  const std::uint32_t top = req.top() == 0 ? 5 : std::min<std::uint32_t>(req.top(), 100);
  // Whole minutes: the current one and those before it, window_s rounded up.
  const std::uint64_t minutes = std::max<std::uint64_t>(1, (window_s + 59) / 60);
  const std::uint64_t bucket_minutes = (minutes + kReportBuckets - 1) / kReportBuckets;
  const std::uint64_t bucket_ns = bucket_minutes * kMinuteNs;
  const std::uint64_t buckets = (minutes + bucket_minutes - 1) / bucket_minutes;
  const std::uint64_t last_minute = minute_of(now_ns);
  const std::uint64_t span_ns = (minutes - 1) * kMinuteNs;
  const std::uint64_t first_minute = last_minute > span_ns ? last_minute - span_ns : 0;
  auto bucket = [&](std::uint64_t ts) {
    return std::min<std::size_t>(buckets - 1,
                                 ts > first_minute ? (ts - first_minute) / bucket_ns : 0);
  };

  v1::FleetReport out;
  out.set_window_s(window_s);
  out.set_generated_ns(now_ns);
  out.set_bucket_s(bucket_ns / kSec);
  std::vector<std::uint64_t> events_trend(buckets, 0);
  std::vector<std::uint64_t> alerts_trend(buckets, 0);

  std::map<std::string, v1::HostReport, std::less<>> hosts;
  for (auto& agent : store.agents()) {
    auto& h = hosts[agent.host_id()];
    h.set_host(agent.host_id());
    h.set_level(agent.level().empty() ? "calm" : agent.level());
    *h.mutable_agent() = std::move(agent);
  }

  Tally processes;  // summed scores of scored events
  Tally remotes;    // events naming the address
  Tally kinds;      // agent alerts first seen, by kind
  GroupTally pods;  // workloads: events from containers
  GroupTally k8s_namespaces;
  GroupTally images;
  // Newest minute first: a report that hits its bound covers the recent part.
  std::uint64_t rollups = 0;
  std::optional<std::uint64_t> rollups_cut;  // the minute the bound hit in
  std::uint64_t current = 0;                 // the minute being read
  store.scan_rollups(
      first_minute, last_minute + kMinuteNs,
      [&](std::uint64_t minute, std::string_view host, const v1::HostMinute& m) {
        if (rollups == limits.max_rollups) {
          rollups_cut = current;
          return false;
        }
        ++rollups;
        current = minute;
        auto it = hosts.find(host);
        if (it == hosts.end()) {
          it = hosts.emplace(std::string(host), v1::HostReport{}).first;
          it->second.set_host(std::string(host));
        }
        auto& h = it->second;
        h.set_events(h.events() + m.events());
        h.set_alerts(h.alerts() + m.alerts());
        h.set_risk(std::max(h.risk(), m.max_alert_score()));
        events_trend[bucket(minute)] += m.events();
        alerts_trend[bucket(minute)] += m.alerts();
        out.set_events(out.events() + m.events());
        out.set_alerts(out.alerts() + m.alerts());
        processes.add(m.processes(), limits.max_entities);
        processes.minute_dropped += m.processes_dropped();
        remotes.add(m.remotes(), limits.max_entities);
        remotes.minute_dropped += m.remotes_dropped();
        kinds.add(m.alerts_by_kind(), limits.max_entities);
        kinds.minute_dropped += m.kinds_dropped();
        pods.add(m.pods(), m.pods_dropped(), limits.max_entities);
        k8s_namespaces.add(m.k8s_namespaces(), m.k8s_namespaces_dropped(), limits.max_entities);
        images.add(m.images(), m.images_dropped(), limits.max_entities);
        return true;
      },
      true);

  // Alerts are deduplicated (one record per agent alert id or fleet episode),
  // so this scan is short; it is still bounded, and says so when it stops.
  std::vector<v1::Alert> best;
  std::uint64_t scanned = 0;
  bool alerts_cut = false;
  store.scan_alerts(first_minute, [&](const v1::Alert& a) {
    if (scanned == limits.max_alert_scan) {
      alerts_cut = true;
      return false;
    }
    ++scanned;
    if (a.ts_ns() > now_ns) {
      return true;
    }
    if (a.fleet()) {  // agent alerts are in the rollups already
      out.set_fleet_alerts(out.fleet_alerts() + 1);
      out.set_alerts(out.alerts() + 1);
      ++alerts_trend[bucket(a.ts_ns())];
      for (const auto& host : a.hosts()) {
        auto it = hosts.find(host);
        if (it == hosts.end()) {
          it = hosts.emplace(host, v1::HostReport{}).first;
          it->second.set_host(host);
        }
        it->second.set_alerts(it->second.alerts() + 1);
        it->second.set_risk(std::max(it->second.risk(), a.score()));
      }
    }
    best.push_back(a);
    if (best.size() >= 2 * static_cast<std::size_t>(top) + 16) {
      std::ranges::nth_element(best, best.begin() + top, higher);
      best.resize(top);
    }
    return true;
  });
  std::ranges::sort(best, higher);
  for (std::size_t i = 0; i < best.size() && i < top; ++i) {
    *out.add_top_alerts() = std::move(best[i]);
  }
  processes.top(top, out.mutable_top_processes());
  remotes.top(top, out.mutable_top_remote_addresses());
  kinds.top(std::max<std::uint32_t>(top, 20), out.mutable_alerts_by_kind());
  pods.top(top, out.mutable_top_pods());
  k8s_namespaces.top(top, out.mutable_top_k8s_namespaces());
  images.top(top, out.mutable_top_images());
  for (auto v : events_trend) {
    out.add_events_trend(v);
  }
  for (auto v : alerts_trend) {
    out.add_alerts_trend(v);
  }
  for (const auto& why : {processes.why("top_processes"), remotes.why("top_remote_addresses"),
                          kinds.why("alerts_by_kind"), pods.why("top_pods"),
                          k8s_namespaces.why("top_k8s_namespaces"), images.why("top_images")}) {
    if (!why.empty()) {
      out.add_approximations(why);
    }
  }
  if (rollups_cut) {
    out.add_approximations(fmt::format(
        "events, alerts, trends, per-host counts and top lists: the rollup scan stopped at {} "
        "host-minutes, newest first, in the minute starting at {} (unix ns): that minute is "
        "partial and older ones are left out",
        limits.max_rollups, *rollups_cut));
  }
  if (alerts_cut) {
    out.add_approximations(
        fmt::format("top_alerts, fleet_alerts and fleet alerts in the per-host counts: the alert "
                    "scan stopped at {} alerts",
                    limits.max_alert_scan));
  }
  out.set_complete(out.approximations().empty());

  // The hosts: this page's slice, in host order, within the page's byte budget.
  out.set_total_hosts(hosts.size());
  const std::uint32_t page_size = !paged ? std::numeric_limits<std::uint32_t>::max()
                                  : req.page_size() == 0
                                      ? kDefaultReportPageSize
                                      : std::min(req.page_size(), kMaxReportPageSize);
  std::size_t bytes = out.ByteSizeLong();
  auto it = resumed ? hosts.upper_bound(resume_host) : hosts.begin();
  std::string last;
  for (; it != hosts.end(); ++it) {
    const std::size_t size = it->second.ByteSizeLong();
    if (paged && (static_cast<std::uint32_t>(out.hosts_size()) == page_size ||
                  (out.hosts_size() > 0 && bytes + size > kMaxPageBytes))) {
      break;
    }
    bytes += size;
    last = it->first;
    *out.add_hosts() = std::move(it->second);
  }
  if (it != hosts.end()) {
    out.set_next_page_token(
        store.page_tokens().issue(PageKind::kFleetReport, without_paging(req), last, now_ns));
  }
  return out;
}

}  // namespace

Result<v1::FleetReport> fleet_report_page(Store& store, const v1::FleetReportRequest& req,
                                          std::uint64_t now_ns, const ReportLimits& limits) {
  return report(store, req, now_ns, limits, true);
}

v1::FleetReport build_fleet_report(Store& store, const v1::FleetReportRequest& req,
                                   std::uint64_t now_ns) {
  v1::FleetReportRequest whole = req;
  whole.clear_page_token();
  return *report(store, whole, now_ns, {}, false);
}

}  // namespace vigil::collector
