// Alert output formats (JSON lines, text, Falco-compatible JSON), moved out
// of pipeline.cpp, which only orchestrates.
#include "vigil/agent/alert_format.h"

#include <fmt/format.h>

#include <iterator>

#include "vigil/agent/sigma.h"
#include "vigil/event_format.h"

namespace vigil::agent {
namespace {

std::string_view severity_word(std::uint32_t score) {
  if (score >= 80) {
    return "Critical";
  }
  if (score >= 50) {
    return "High";
  }
  if (score >= 20) {
    return "Medium";
  }
  return "Low";
}

// A Sigma rule's provenance, as the Detection Rule License asks: id, title,
// author and reference travel with every match.
void append_rule_json(const sigma::RuleInfo& rule, std::string& out) {
  out.append(",\"rule\":{\"id\":");
  append_json_string(rule.id, out);
  out.append(",\"title\":");
  append_json_string(rule.title, out);
  out.append(",\"author\":");
  append_json_string(rule.author, out);
  out.append(",\"reference\":");
  append_json_string(rule.reference, out);
  out.append(",\"level\":");
  append_json_string(sigma::to_string(rule.level), out);
  out.append(",\"file\":");
  append_json_string(rule.file, out);
  out.append(",\"attack\":[");
  for (std::size_t i = 0; i < rule.attack.size(); ++i) {
    if (i != 0) out.push_back(',');
    append_json_string(rule.attack[i], out);
  }
  out.append("]}");
}

// Why the rarity path fired: the behaviour key (this host's own string; the
// fleet saw its hash), the risky contexts, how many hosts of the fleet
// reported it (of fleet_size; 0 and 0 for a standalone agent).
void append_rarity_json(const RarityHit& hit, std::uint32_t fleet_size, std::string& out) {
  out.append(",\"rarity\":{\"key\":");
  append_json_string(hit.key, out);
  out.append(",\"kind\":");
  append_json_string(to_string(hit.kind), out);
  out.append(",\"contexts\":[");
  bool first = true;
  for (const auto& c : rarity_contexts()) {
    if ((hit.contexts & c.bit) != 0) {
      out.append(first ? "\"" : ",\"");
      out.append(c.name);
      out.push_back('"');
      first = false;
    }
  }
  fmt::format_to(std::back_inserter(out),
                 "],\"severity\":{},\"fleet_hosts\":{},\"fleet_size\":{}}}", hit.severity,
                 hit.fleet_hosts, fleet_size);
}

// Falco's short container id: the first 12 characters.
std::string_view short_id(std::string_view id) { return id.substr(0, 12); }

// Falco -pc / -pk style: " container_id=... container_name=... container_image=...
// k8s_ns=... k8s_pod_name=..." for an event from a container.
void append_container_text(const Event& event, std::string& out) {
  if (event.container == nullptr) {
    return;
  }
  const ContainerInfo& c = *event.container;
  auto it = std::back_inserter(out);
  fmt::format_to(it, " container_id={}", short_id(c.id));
  if (!c.name.empty()) {
    fmt::format_to(it, " container_name={}", c.name);
  }
  if (!c.image.empty()) {
    fmt::format_to(it, " container_image={}", c.image);
  }
  if (!c.k8s_ns.empty()) {
    fmt::format_to(it, " k8s_ns={}", c.k8s_ns);
  }
  if (!c.pod.empty()) {
    fmt::format_to(it, " k8s_pod_name={}", c.pod);
  }
}

// A string output field, or null when unknown (as Falco writes missing values).
void append_field_or_null(std::string_view key, std::string_view value, std::string& out) {
  out.append(",\"");
  out.append(key);
  out.append("\":");
  if (value.empty()) {
    out.append("null");
  } else {
    append_json_string(value, out);
  }
}

// Falco's container and k8s output fields. Outside a container Falco names
// the container "host"; vigil does the same.
void append_container_falco(const Event& event, std::string& out) {
  if (event.container == nullptr) {
    out.append(",\"container.id\":\"host\",\"container.name\":\"host\"");
    return;
  }
  const ContainerInfo& c = *event.container;
  append_field_or_null("container.id", short_id(c.id), out);
  append_field_or_null("container.full_id", c.id, out);
  append_field_or_null("container.name", c.name, out);
  append_field_or_null("container.image", c.image, out);
  // "registry:5000/team/app:1.2@sha256:..." -> repository, tag, digest.
  const std::string_view image = c.image;
  const auto at = image.find('@');
  const std::string_view named = image.substr(0, at);
  const auto slash = named.rfind('/');
  const auto colon = named.rfind(':');
  const bool tagged =
      colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash);
  append_field_or_null("container.image.repository", tagged ? named.substr(0, colon) : named, out);
  append_field_or_null("container.image.tag", tagged ? named.substr(colon + 1) : "", out);
  append_field_or_null("container.image.digest",
                       at == std::string_view::npos ? "" : image.substr(at + 1), out);
  append_field_or_null("container.type", c.runtime, out);
  append_field_or_null("k8s.ns.name", c.k8s_ns, out);
  append_field_or_null("k8s.pod.name", c.pod, out);
  append_field_or_null("k8s.pod.uid", c.pod_uid, out);
}

}  // namespace

void append_alert_json(const Event& event, const AlertContext& ctx,
                       std::span<const Indicator* const> hits,
                       std::span<const ProcessInfo* const> lineage, std::string& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"ts\":{},\"host\":", event.ts_ns);
  append_json_string(event.host, out);
  out.append(",\"alert_id\":");
  append_json_string(ctx.alert_id, out);
  fmt::format_to(it, ",\"count\":{},\"score\":{},\"severity\":", ctx.count, ctx.score);
  append_json_string(severity_word(ctx.score), out);
  out.append(",\"level\":");
  append_json_string(to_string(ctx.level), out);
  fmt::format_to(it, ",\"in_focus\":{}", ctx.in_focus);
  out.append(",\"indicators\":[");
  for (std::size_t i = 0; i < hits.size(); ++i) {
    out.append(i == 0 ? "{\"id\":" : ",{\"id\":");
    append_json_string(hits[i]->id, out);
    out.append(",\"attack\":");
    append_json_string(hits[i]->attack, out);
    const bool rare = ctx.rarity != nullptr && hits[i] == ctx.rarity->indicator;
    fmt::format_to(
        it, ",\"severity\":{},\"summary\":", rare ? ctx.rarity->severity : hits[i]->severity);
    append_json_string(hits[i]->summary, out);
    if (hits[i]->rule != nullptr) {
      append_rule_json(*hits[i]->rule, out);
    }
    out.push_back('}');
  }
  out.push_back(']');
  if (ctx.rarity != nullptr) {
    append_rarity_json(*ctx.rarity, ctx.fleet_size, out);
  }
  out.append(",\"lineage\":[");
  for (std::size_t i = 0; i < lineage.size(); ++i) {
    fmt::format_to(it, "{}{{\"pid\":{},\"exe\":", i == 0 ? "" : ",", lineage[i]->pid);
    append_json_string(lineage[i]->exe, out);
    out.append(",\"comm\":");
    append_json_string(lineage[i]->comm, out);
    out.push_back('}');
  }
  out.append("],\"event\":");
  append_json(event, out);
  out.push_back('}');
}

void append_alert_text(const Event& event, const AlertContext& ctx,
                       std::span<const Indicator* const> hits, std::string& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{} threat {} event: pid={} comm={} exe={} threat={} [",
                 severity_word(ctx.score), to_string(event.type), event.pid, event.comm,
                 event.exe.empty() ? "?" : event.exe, ctx.score);
  for (std::size_t i = 0; i < hits.size(); ++i) {
    fmt::format_to(it, "{}{} {}", i == 0 ? "" : ", ", hits[i]->attack, hits[i]->id);
    if (hits[i]->rule != nullptr && hits[i]->rule->title != hits[i]->id) {
      // Attribution (Detection Rule License): the title and author of the rule.
      fmt::format_to(it, " \"{}\" by {}", hits[i]->rule->title,
                     hits[i]->rule->author.empty() ? "unknown" : hits[i]->rule->author);
    }
  }
  out.push_back(']');
  append_container_text(event, out);
  fmt::format_to(it, " level={} id={}", to_string(ctx.level), ctx.alert_id);
}

void append_alert_falco(const Event& event, const AlertContext& ctx,
                        std::span<const Indicator* const> hits, std::string& out) {
  auto it = std::back_inserter(out);
  // Falco's priorities, by score: the same bands as the severity words.
  const std::string_view priority = ctx.score >= 80   ? "Critical"
                                    : ctx.score >= 50 ? "Warning"
                                    : ctx.score >= 20 ? "Notice"
                                                      : "Informational";
  std::string text;
  append_alert_text(event, ctx, hits, text);
  out.append("{\"output\":");
  append_json_string(text, out);
  fmt::format_to(it, ",\"priority\":\"{}\",\"rule\":", priority);
  append_json_string(
      fmt::format("vigil {}", hits.empty() ? std::string_view("score") : hits.front()->id), out);
  const std::time_t secs = static_cast<std::time_t>(event.ts_ns / 1000000000ULL);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  fmt::format_to(it, ",\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z\"", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 event.ts_ns % 1000000000ULL);
  out.append(",\"source\":\"syscall\",\"hostname\":");
  append_json_string(event.host, out);
  out.append(",\"tags\":[\"vigil\"");
  for (const auto* h : hits) {
    out.push_back(',');
    append_json_string(h->attack, out);
  }
  fmt::format_to(it,
                 "],\"output_fields\":{{\"evt.type\":\"{}\",\"evt.time\":{},\"proc.pid\":{},"
                 "\"proc.ppid\":{},\"user.uid\":{},\"proc.name\":",
                 to_string(event.type), event.ts_ns, event.pid, event.ppid, event.uid);
  append_json_string(event.comm, out);
  out.append(",\"proc.exepath\":");
  append_json_string(event.exe, out);
  fmt::format_to(it, ",\"vigil.score\":{},\"vigil.alert_id\":", ctx.score);
  append_json_string(ctx.alert_id, out);
  out.append(",\"vigil.level\":");
  append_json_string(to_string(ctx.level), out);
  std::string ids;
  for (const auto* h : hits) {
    if (!ids.empty()) ids.push_back(',');
    ids.append(h->id);
  }
  out.append(",\"vigil.indicators\":");
  append_json_string(ids, out);
  append_container_falco(event, out);
  if (event.ns.known()) {
    // proc.vpid: the pid as seen in its own pid namespace (Falco's name).
    fmt::format_to(it, ",\"proc.vpid\":{},\"vigil.host_ns\":{}", event.ns.ns_pid, event.host_ns);
  }
  out.append("}}");
}

}  // namespace vigil::agent
