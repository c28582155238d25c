#include "vigil/agent/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "vigil/event_format.h"

namespace vigil::agent {
namespace {

constexpr std::size_t kLineageDepth = 8;

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

}  // namespace

void append_alert_json(const Event& event, std::uint32_t score,
                       std::span<const Indicator* const> hits,
                       std::span<const ProcessInfo* const> lineage, std::string& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"ts\":{},\"host\":", event.ts_ns);
  append_json_string(event.host, out);
  fmt::format_to(it, ",\"score\":{},\"severity\":", score);
  append_json_string(severity_word(score), out);
  out.append(",\"indicators\":[");
  for (std::size_t i = 0; i < hits.size(); ++i) {
    out.append(i == 0 ? "{\"id\":" : ",{\"id\":");
    append_json_string(hits[i]->id, out);
    out.append(",\"attack\":");
    append_json_string(hits[i]->attack, out);
    fmt::format_to(it, ",\"severity\":{},\"summary\":", hits[i]->severity);
    append_json_string(hits[i]->summary, out);
    out.push_back('}');
  }
  out.append("],\"lineage\":[");
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

void append_alert_text(const Event& event, std::uint32_t score,
                       std::span<const Indicator* const> hits, std::string& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{} threat {} event: pid={} comm={} exe={} threat={} [", severity_word(score),
                 to_string(event.type), event.pid, event.comm, event.exe.empty() ? "?" : event.exe,
                 score);
  for (std::size_t i = 0; i < hits.size(); ++i) {
    fmt::format_to(it, "{}{} {}", i == 0 ? "" : ", ", hits[i]->attack, hits[i]->id);
  }
  out.push_back(']');
}

Pipeline::Pipeline(std::string host, ProcessTable& table, std::int64_t boot_to_unix_ns)
    : host_(std::move(host)), table_(table), decoder_(boot_to_unix_ns) {}

void Pipeline::on_record(std::span<const std::byte> record) {
  ++stats_.records;
  if (!decoder_.decode(record, event_)) {
    return;  // counted in decode_stats(); never logged per record
  }
  event_.host = host_;
  table_.apply(event_);
  if (events_) {
    events_->write(event_);
    ++stats_.events_out;
  }

  indicators_.evaluate(event_, table_, hits_);
  if (hits_.empty()) {
    return;
  }
  stats_.indicator_hits += hits_.size();
  std::uint32_t score = 0;
  for (const auto* h : hits_) {
    score = std::max<std::uint32_t>(score, h->severity);
  }
  if (!alerts_ || score < alert_threshold_) {
    return;
  }
  ++stats_.alerts;
  alert_buf_.clear();
  if (alert_format_ == OutputFormat::kJson) {
    lineage_.clear();
    for (auto pid : table_.lineage(event_.pid, kLineageDepth)) {
      lineage_.push_back(table_.find(pid));
    }
    append_alert_json(event_, score, hits_, lineage_, alert_buf_);
  } else {
    append_alert_text(event_, score, hits_, alert_buf_);
  }
  alerts_->write_line(alert_buf_);
}

void Pipeline::on_batch_end() {
  if (events_) {
    events_->flush();
  }
  if (alerts_) {
    alerts_->flush();
  }
}

}  // namespace vigil::agent
