#include "vigil/agent/pipeline.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>

#include "vigil/abi.h"
#include "vigil/agent/config.h"
#include "vigil/event_format.h"
#include "vigil/shipped_model.h"

namespace vigil::agent {
namespace {

constexpr std::size_t kLineageDepth = 8;
double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

Pipeline::Pipeline(std::string host, ProcessTable& table, std::int64_t boot_to_unix_ns,
                   std::shared_ptr<const ScoringModel> model)
    : host_(std::move(host)),
      table_(table),
      decoder_(boot_to_unix_ns),
      boot_to_unix_ns_(boot_to_unix_ns),
      run_id_(fmt::format("{:x}", static_cast<std::uint64_t>(std::time(nullptr)))) {
  model_ = model ? std::move(model) : default_model();
  rules_ = default_rule_pack();
  hit_ids_.reserve(16);
  batch_ts_.reserve(kMaxPending);
  alert_ts_.reserve(kMaxPending);
}

std::shared_ptr<const ScoringModel> baseline_model() {
  static const auto model = [] {
    std::vector<IndicatorWeight> weights;
    for (const auto& ind : all_indicators()) {
      weights.push_back({ind.id, ind.severity});
    }
    auto loaded =
        ScoringModel::load(make_baseline_model(weights, fmt::format("baseline-{}", kVersion)));
    // The baseline is built from this build's own tables: failing to load it is a bug.
    if (!loaded) {
      std::fprintf(stderr, "vigil: baseline model invalid: %s\n", loaded.error().message.c_str());
      std::abort();
    }
    return *loaded;
  }();
  return model;
}

std::shared_ptr<const RulePack> default_rule_pack() {
  static const auto pack = [] {
    sigma::LoadReport report;
    auto loaded = RulePack::load(RulePackOptions{}, report);
    // The pack is this build's own: a rule that does not load is a bug the
    // unit tests catch; say so rather than run without it silently.
    if (report.rules_failed != 0 || report.files_failed != 0) {
      std::fprintf(stderr, "vigil: built-in rule pack: %s", format_load_report(report).c_str());
    }
    return loaded;
  }();
  return pack;
}

std::shared_ptr<const ScoringModel> default_model() {
  static const auto model = []() -> std::shared_ptr<const ScoringModel> {
    const auto bytes = shipped_model_bytes();
    if (bytes.empty()) {
      return baseline_model();
    }
    auto loaded = ScoringModel::load_bytes(bytes);
    if (!loaded) {
      // A schema change without a regenerated model: say so, score with the baseline.
      std::fprintf(stderr, "vigil: shipped model not usable (%s); using the baseline\n",
                   loaded.error().message.c_str());
      return baseline_model();
    }
    return *loaded;
  }();
  return model;
}

void Pipeline::on_record(std::span<const std::byte> record) {
  ++stats_.records;
  if (n_pending_ == pending_.size()) {
    pending_.emplace_back();
  }
  if (!decoder_.decode(record, pending_[n_pending_])) {
    return;  // counted in decode_stats(); never logged per record
  }
  if (++n_pending_ >= kMaxPending) {
    process_pending();
  }
}

void Pipeline::process_pending() {
  // One drain holds records of several ring buffers (one per probe family):
  // put them back in kernel time order, so a connect is seen before the exec
  // it led to, whichever buffer was read first.
  order_.resize(n_pending_);
  for (std::uint32_t i = 0; i < n_pending_; ++i) order_[i] = i;
  // Stable by arrival for equal timestamps, without stable_sort's temporary
  // buffer (an allocation per drain).
  std::ranges::sort(order_, [&](std::uint32_t a, std::uint32_t b) {
    return pending_[a].boot_ns != pending_[b].boot_ns ? pending_[a].boot_ns < pending_[b].boot_ns
                                                      : a < b;
  });
  for (const auto i : order_) {
    std::swap(event_, pending_[i]);  // both keep their strings' capacity
    process_event();
  }
  n_pending_ = 0;
  if (batch_ts_.size() >= kMaxPending) {
    record_latencies();  // a long drain: keep the buffers bounded
  }
}

void Pipeline::process_event() {
  ++stats_.by_type[static_cast<std::size_t>(event_.type) % stats_.by_type.size()];
  event_.host = host_;
  table_.apply(event_);
  if (containers_ != nullptr) {
    containers_->apply(event_);  // feeds kCgroup records; sets event_.container
  }
  if (event_.type == EventType::kCgroup) {
    container_watch_.relate(event_);  // a removed container is forgotten
    // Bookkeeping, not activity: not scored, not shipped.
    if (events_ && raw_events_) {
      events_->write(event_);
      ++stats_.events_out;
    }
    return;
  }
  if (events_) {
    events_->write(event_);
    ++stats_.events_out;
  }
  const Scored scored = score_event();
  batch_ts_.push_back(event_.boot_ns);
  if (scored.alerted) {
    alert_ts_.push_back(event_.boot_ns);
  }
  if (scored_ != nullptr) {
    scored_->on_scored(event_, scored.score, features_, hits_,
                       scored.alerted ? std::string_view(alert_id_) : std::string_view{});
  }
}

Pipeline::Scored Pipeline::score_event() {
  const double now = seconds(event_.boot_ns);
  indicators_.evaluate(event_, table_, hits_);
  if (rules_) {
    const ExecLinks links =
        event_.type == EventType::kExec ? detectors_.exec_links(event_, table_, now) : ExecLinks{};
    const auto before = hits_.size();
    const HostRelation host = container_watch_.relate(event_);
    rules_->evaluate(event_, table_, hits_, links, host);
    stats_.rule_hits += hits_.size() - before;
  }
  detectors_.evaluate(event_, table_, now, hits_);
  if (!builtin_detections_) {
    stats_.builtin_dropped += hits_.size();
    hits_.clear();
  }
  // The rarity path learns from every event; a rare-* hit carries its own
  // severity, computed from the contexts it was raised in.
  const RarityHit& rare = rarity_.evaluate(event_, table_);
  rarity_hit_ = rare ? &rare : nullptr;
  if (rarity_hit_ != nullptr) {
    hits_.push_back(rare.indicator);
  }
  if (!suppressed_.empty() && !hits_.empty()) {
    // Indicators an analyst marked benign for this executable on this host.
    const auto before = hits_.size();
    std::erase_if(hits_, [&](const Indicator* h) {
      suppression_key(*h, key_buf_);
      return suppressed_.contains(key_buf_);
    });
    stats_.suppressed_hits += before - hits_.size();
    if (rarity_hit_ != nullptr && std::ranges::find(hits_, rarity_hit_->indicator) == hits_.end()) {
      rarity_hit_ = nullptr;
    }
  }
  const bool in_focus = focus_.in_focus(event_.pid, now) || focus_.in_focus(event_.ppid, now);
  // Every event is scored by the current model on its feature vector.
  hit_ids_.clear();
  for (const auto* h : hits_) {
    hit_ids_.push_back(h->id);
  }
  const FeatureInput input{
      .type = event_.type,
      .uid = event_.uid,
      .euid = event_.euid,
      .exe = event_.exe,
      .indicators = hit_ids_,
      .lineage_depth = static_cast<std::uint32_t>(table_.lineage_depth(event_.pid, kLineageDepth)),
      .level = static_cast<std::uint8_t>(level_.level()),
      .in_focus = in_focus};
  compute_features(input, features_);
  std::uint32_t score = model_->score(features_);
  for (const auto* h : hits_) {
    // What fired is a floor no model lowers: a Sigma rule's level (a high or
    // critical match alerts on its own), a detector's severity. The model
    // adds context on top; it never ranks a detection below what the
    // detector alone says, whoever runs the process and however aroused the
    // host (docs/scoring.md, "Floors in the agent"). A rare-* hit's floor is
    // its computed severity, not the catalogue's.
    const bool rare = rarity_hit_ != nullptr && h == rarity_hit_->indicator;
    score = std::max<std::uint32_t>(score, rare ? rarity_hit_->severity : h->severity);
  }
  if (shadow_.installed()) {
    // The shadow model on the same features and floors: counted, never acting.
    std::uint32_t floor = 0;
    for (const auto* h : hits_) {
      const bool rare = rarity_hit_ != nullptr && h == rarity_hit_->indicator;
      floor = std::max<std::uint32_t>(floor, rare ? rarity_hit_->severity : h->severity);
    }
    shadow_.observe(features_, floor, !hits_.empty(), score, alert_threshold_);
  }
  ++stats_.scored;
  if (recorder_) {
    record_sample();
  }
  if (hits_.empty() && score == 0) {
    return {};
  }
  stats_.indicator_hits += hits_.size();
  // The host level counts each incident's alert-grade evidence once: repeats
  // (one process reading a file ten times) add pressure, not alert pressure.
  const auto observe_level = [&](bool repeat) {
    if (auto change = level_.observe(now, score, repeat)) {
      write_level_change(*change, event_.ts_ns);
    }
  };
  // An alert names what fired: an event without an indicator is never one,
  // whatever the threshold (an evolved model scores such events up to its
  // cap_without_indicators, so a threshold at or below that could reach one).
  if (hits_.empty()) {
    observe_level(false);
    return {score, false};
  }
  // Attention follows alert-grade scores (never below 50, as the level: a
  // recording at threshold 1 puts no more in focus than a default host):
  // the process and its parent.
  if (score >= level_.alert_score()) {
    focus_.add(event_.pid, score, now);
    focus_.add(event_.ppid, score / 2, now);
  }
  if (score < alert_threshold_ || (!alerts_ && scored_ == nullptr)) {
    observe_level(false);
    return {score, false};
  }
  // Network summaries have no process: the source address is the entity.
  const std::uint32_t entity = event_.type == EventType::kNetSummary
                                   ? static_cast<std::uint32_t>(std::hash<std::string>{}(
                                         std::get<NetSummaryData>(event_.data).src))
                                   : event_.pid;
  const auto decision = dedupe_.observe(entity, hits_.front()->id, now);
  observe_level(!decision.emit);
  if (!decision.emit) {
    ++stats_.alerts_suppressed;
    return {score, false};
  }
  ++stats_.alerts;
  alert_id_ = fmt::format("{}-{}", run_id_, decision.id);
  remember_alert_key();
  const AlertContext ctx{.score = score,
                         .alert_id = alert_id_,
                         .count = decision.count,
                         .level = level_.level(),
                         .in_focus = in_focus,
                         .rarity = rarity_hit_,
                         .fleet_size = rarity_.fleet().fleet_hosts()};
  if (!alerts_) {
    return {score, true};
  }
  alert_buf_.clear();
  if (falco_alerts_) {
    append_alert_falco(event_, ctx, hits_, alert_buf_);
  } else if (alert_format_ == OutputFormat::kJson) {
    lineage_.clear();
    for (auto pid : table_.lineage(event_.pid, kLineageDepth)) {
      lineage_.push_back(table_.find(pid));
    }
    append_alert_json(event_, ctx, hits_, lineage_, alert_buf_);
  } else {
    append_alert_text(event_, ctx, hits_, alert_buf_);
  }
  alerts_->write_line(alert_buf_);
  return {score, true};
}

void Pipeline::record_sample() {
  evo::Sample sample;
  sample.x = features_;
  sample.source = evo::LabelSource::kScenario;
  sample.weight = evo::default_weight(sample.source);
  std::string_view group = "benign";
  if (record_label_ == RecordLabel::kScenario) {
    const auto top = std::ranges::max_element(hits_, {}, &Indicator::severity);
    if (top == hits_.end() || (*top)->severity < 40) {
      return;  // harness noise or context: not a label we can vouch for
    }
    sample.label = 1;
    // The group (leave-one-scenario-out evaluation) is the technique the event
    // exercises, its strongest indicator: one agent watches every scenario.
    group = (*top)->id;
  }
  recorder_->append(sample, group);
  ++stats_.recorded;
}

void Pipeline::write_level_change(const LevelChange& change, std::uint64_t ts_ns) {
  ++stats_.level_changes;
  if (!alerts_ || falco_alerts_) {
    return;
  }
  alert_buf_.clear();
  if (alert_format_ == OutputFormat::kJson) {
    fmt::format_to(std::back_inserter(alert_buf_), "{{\"ts\":{},\"host\":", ts_ns);
    append_json_string(host_, alert_buf_);
    fmt::format_to(std::back_inserter(alert_buf_),
                   ",\"type\":\"level\",\"from\":\"{}\",\"to\":\"{}\",\"pressure\":{:.1f}}}",
                   to_string(change.from), to_string(change.to), change.pressure);
  } else {
    fmt::format_to(std::back_inserter(alert_buf_), "Host level: {} -> {} (pressure {:.1f})",
                   to_string(change.from), to_string(change.to), change.pressure);
  }
  alerts_->write_line(alert_buf_);
}

void Pipeline::write_incident_update(std::uint64_t id, std::uint64_t count) {
  if (!alerts_ || falco_alerts_) {
    return;
  }
  alert_buf_.clear();
  if (alert_format_ == OutputFormat::kJson) {
    fmt::format_to(std::back_inserter(alert_buf_), "{{\"host\":");
    append_json_string(host_, alert_buf_);
    fmt::format_to(std::back_inserter(alert_buf_),
                   ",\"type\":\"incident\",\"alert_id\":\"{}-{}\",\"count\":{}}}", run_id_, id,
                   count);
  } else {
    fmt::format_to(std::back_inserter(alert_buf_), "Incident {}-{} repeated: {} occurrences",
                   run_id_, id, count);
  }
  alerts_->write_line(alert_buf_);
}

void Pipeline::on_tick(double boot_now_s) {
  if (auto change = level_.tick(boot_now_s)) {
    write_level_change(*change, static_cast<std::uint64_t>(boot_now_s * 1e9 +
                                                           static_cast<double>(boot_to_unix_ns_)));
  }
  dedupe_.close_expired(
      boot_now_s, [this](const AlertDeduper::Closed& c) { write_incident_update(c.id, c.count); });
  on_batch_end();
}

Result<void> Pipeline::load_baseline(const std::filesystem::path& path, double unix_now_s) {
  return detectors_.baseline().load(path, unix_now_s);
}

void Pipeline::suppression_key(const Indicator& hit, std::string& out) const {
  out.assign(hit.id);
  out.push_back('>');
  out.append(event_.exe.empty() ? event_.comm : event_.exe);
  if (event_.container && !event_.container->image.empty()) {
    // In a container, a label speaks for its image only: sh labelled benign
    // in one image must not silence sh in every other image on this host.
    out.push_back('>');
    out.append(event_.container->image);
  }
}

void Pipeline::remember_alert_key() {
  constexpr std::size_t kRemembered = 10000;
  std::string key;
  suppression_key(*hits_.front(), key);
  if (alert_keys_.emplace(alert_id_, std::move(key)).second) {
    alert_order_.push_back(alert_id_);
    if (alert_order_.size() > kRemembered) {
      alert_keys_.erase(alert_order_.front());
      alert_order_.pop_front();
    }
  }
}

bool Pipeline::apply_feedback(std::string_view alert_id, std::string_view label) {
  auto it = alert_keys_.find(std::string(alert_id));
  if (it == alert_keys_.end()) {
    return false;
  }
  if (label == "benign") {
    suppressed_.insert(it->second);
  } else if (label == "malicious") {
    suppressed_.erase(it->second);
  } else {
    return false;
  }
  return true;
}

Result<void> Pipeline::load_suppressions(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return {};  // none yet
  }
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.front() != '#') {
      if (line.find('>') == std::string::npos) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: '{}' is not indicator>executable", path.string(), line));
      }
      suppressed_.insert(line);
    }
  }
  return {};
}

Result<void> Pipeline::save_suppressions(const std::filesystem::path& path) const {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "# indicator>executable pairs suppressed by analyst feedback (benign)\n";
    for (const auto& k : suppressed_) {
      out << k << '\n';
    }
    if (!out.flush()) {
      return make_error(ErrorCode::kIo, fmt::format("cannot write {}", tmp));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("rename {}: {}", tmp, ec.message()));
  }
  return {};
}

Result<void> Pipeline::save_baseline(const std::filesystem::path& path) const {
  return detectors_.baseline().save(path);
}

void Pipeline::on_batch_end() {
  process_pending();
  if (events_) {
    events_->flush();
  }
  if (recorder_) {
    (void)recorder_->flush();  // failures show as a short dataset; counted in recorded
  }
  if (alerts_) {
    alerts_->flush();
  }
  record_latencies();
}

void Pipeline::record_latencies() {
  // Kernel timestamp -> scored and written out (lines flushed): one clock read
  // per drain, not per event.
  if (batch_ts_.empty()) {
    return;
  }
  const auto now = static_cast<std::uint64_t>(boot_now_ns());
  for (const auto ts : batch_ts_) event_latency_.record_between(ts, now);
  for (const auto ts : alert_ts_) alert_latency_.record_between(ts, now);
  batch_ts_.clear();
  alert_ts_.clear();
}

}  // namespace vigil::agent
