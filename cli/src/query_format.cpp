#include "vigil/cli/query_format.h"

#include <fmt/format.h>

#include <algorithm>

namespace vigil::cli {
namespace {

constexpr std::size_t kShortIdChars = 12;

std::string or_dash(std::string s) { return s.empty() ? "-" : s; }

}  // namespace

std::string alert_hosts(const v1::Alert& a) {
  std::string out;
  for (const auto& h : a.hosts()) {
    out += out.empty() ? h : "," + h;
  }
  return out;
}

std::string alert_attack(const v1::Alert& a) {
  std::string out;
  for (const auto& i : a.indicators()) {
    out += (out.empty() ? "" : ",") + i.attack();
  }
  return out.empty() ? "-" : out;
}

std::string container_cell(const v1::Event& e) {
  if (!e.has_container()) {
    return "-";
  }
  const auto& c = e.container();
  return or_dash(c.name().empty() ? c.id().substr(0, kShortIdChars) : c.name());
}

std::string pod_cell(const v1::Event& e) {
  if (!e.has_container()) {
    return "-";
  }
  const auto& c = e.container();
  if (c.pod().empty()) {
    return or_dash(c.pod_uid());
  }
  return c.k8s_ns().empty() ? c.pod() : c.k8s_ns() + "/" + c.pod();
}

std::string image_cell(const v1::Event& e) {
  return e.has_container() ? or_dash(e.container().image()) : "-";
}

Table alerts_table(const google::protobuf::RepeatedPtrField<v1::Alert>& alerts) {
  const bool workloads =
      std::ranges::any_of(alerts, [](const v1::Alert& a) { return a.event().has_container(); });
  std::vector<std::string> header = {"TIME (UTC)", "SCORE", "SCOPE", "HOSTS", "KIND", "ATT&CK"};
  if (workloads) {
    header.insert(header.end(), {"CONTAINER", "POD", "IMAGE"});
  }
  header.insert(header.end(), {"LABEL", "COUNT", "ID", "SUMMARY"});
  Table t(std::move(header));
  for (const auto& a : alerts) {
    std::vector<std::string> row = {format_time(a.ts_ns()),
                                    std::to_string(a.score()),
                                    a.fleet() ? "fleet" : "host",
                                    alert_hosts(a),
                                    a.kind(),
                                    alert_attack(a)};
    if (workloads) {
      row.insert(row.end(),
                 {container_cell(a.event()), pod_cell(a.event()), image_cell(a.event())});
    }
    row.insert(row.end(), {a.label().empty() ? "-" : a.label(), std::to_string(a.count()), a.id(),
                           a.summary()});
    t.add(std::move(row));
  }
  return t;
}

Table events_table(const google::protobuf::RepeatedPtrField<v1::StoredEvent>& events) {
  const bool workloads = std::ranges::any_of(
      events, [](const v1::StoredEvent& e) { return e.event().has_container(); });
  std::vector<std::string> header = {"TIME (UTC)", "HOST", "SEQ", "TYPE", "SCORE", "PID"};
  if (workloads) {
    header.insert(header.end(), {"CONTAINER", "POD"});
  }
  header.insert(header.end(), {"COMM", "SUMMARY"});
  Table t(std::move(header));
  for (const auto& se : events) {
    const auto& e = se.event();
    std::vector<std::string> row = {format_time(e.ts_ns()),    se.host(),
                                    std::to_string(e.seq()),   e.type(),
                                    std::to_string(e.score()), std::to_string(e.pid())};
    if (workloads) {
      row.insert(row.end(), {container_cell(e), pod_cell(e)});
    }
    row.insert(row.end(), {e.comm(), e.summary()});
    t.add(std::move(row));
  }
  return t;
}

Table groups_table(std::string_view key_header,
                   const google::protobuf::RepeatedPtrField<v1::GroupReport>& groups) {
  Table t({std::string(key_header), "ALERTS", "RISK", "EVENTS"});
  for (const auto& g : groups) {
    t.add({g.key(), std::to_string(g.alerts()), std::to_string(g.risk()),
           std::to_string(g.events())});
  }
  return t;
}

std::string workload_words(const v1::Event& e) {
  if (!e.has_container()) {
    return {};
  }
  std::string out = " container=" + container_cell(e);
  if (const auto pod = pod_cell(e); pod != "-") {
    out += " pod=" + pod;
  }
  if (!e.container().image().empty()) {
    out += " image=" + e.container().image();
  }
  return out;
}

}  // namespace vigil::cli
