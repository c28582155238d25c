// The per-record path: decode -> enrich (process table) -> outputs. Kernel-free
// so tests feed it synthetic records.
#pragma once

#include <array>
#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "vigil/agent/alert_format.h"
#include "vigil/agent/awareness.h"
#include "vigil/agent/container_table.h"
#include "vigil/agent/decoder.h"
#include "vigil/agent/detectors.h"
#include "vigil/agent/indicators.h"
#include "vigil/agent/output.h"
#include "vigil/agent/process_table.h"
#include "vigil/agent/rarity.h"
#include "vigil/agent/rules.h"
#include "vigil/agent/shadow.h"
#include "vigil/dataset.h"
#include "vigil/features.h"
#include "vigil/latency.h"
#include "vigil/scoring.h"

namespace vigil::agent {

// The detector-only baseline built from this build's indicator table.
[[nodiscard]] std::shared_ptr<const ScoringModel> baseline_model();
// vigil's own Sigma rule pack (rules/vigil, compiled in), loaded once.
[[nodiscard]] std::shared_ptr<const RulePack> default_rule_pack();
// The agent's default: the evolved model shipped in models/default-model.pb
// (built into the binary), or the baseline if this build ships none that
// matches its feature schema.
[[nodiscard]] std::shared_ptr<const ScoringModel> default_model();

struct PipelineStats {
  std::uint64_t records = 0;
  std::uint64_t events_out = 0;
  std::uint64_t indicator_hits = 0;
  std::uint64_t alerts = 0;
  std::uint64_t alerts_suppressed = 0;  // repeats folded into an open incident
  std::uint64_t level_changes = 0;
  std::uint64_t scored = 0;           // events the model scored
  std::uint64_t model_swaps = 0;      // models installed after the first
  std::uint64_t suppressed_hits = 0;  // indicator hits dropped by analyst feedback
  std::uint64_t recorded = 0;         // samples written by --record-features
  std::uint64_t rule_hits = 0;        // indicators raised by Sigma rules
  std::uint64_t rule_swaps = 0;       // rule packs installed after the first (reloads)
  // Hits of built-in indicators, Sigma rules and stateful detectors dropped
  // because builtin_detections is off (the rarity path alone decides).
  std::uint64_t builtin_dropped = 0;
  // Events processed, by EventType value (every type is below 64).
  std::array<std::uint64_t, 64> by_type{};
};

// How --record-features labels what it writes.
enum class RecordLabel : std::uint8_t {
  kBenign,    // every event is a negative (the benign suite, a clean host)
  kScenario,  // events with an indicator of severity >= 40 are positives; others skipped
};

// Receives every event with its score: the shipper's way in. `hits` and
// `alert_id` (empty unless an alert was raised) are valid during the call only.
class ScoredEventSink {
 public:
  virtual ~ScoredEventSink() = default;
  virtual void on_scored(const Event& event, std::uint32_t score, const FeatureVector& features,
                         std::span<const Indicator* const> hits, std::string_view alert_id) = 0;
};

class Pipeline {
 public:
  // `model` null: default_model().
  Pipeline(std::string host, ProcessTable& table, std::int64_t boot_to_unix_ns,
           std::shared_ptr<const ScoringModel> model = nullptr);

  void set_events(std::unique_ptr<EventWriter> writer) { events_ = std::move(writer); }
  // Alerts: events whose score reaches `threshold` (0..100).
  void set_alerts(std::unique_ptr<LineSink> sink, OutputFormat format, std::uint32_t threshold) {
    alerts_ = std::move(sink);
    alert_format_ = format;
    alert_threshold_ = threshold;
    level_.set_alert_score(threshold);
  }

  // Reopens file outputs by their paths (SIGHUP after logrotate); the first
  // failure is returned, the old file then stays in use.
  Result<void> reopen_outputs() {
    Result<void> r;
    if (events_) r = events_->sink().reopen();
    if (alerts_) {
      if (auto a = alerts_->reopen(); !a && r) r = a;
    }
    return r;
  }
  // Output lines lost to write errors (and failed reopens), events and alerts.
  [[nodiscard]] std::uint64_t output_write_errors() const {
    return (events_ ? events_->sink().write_errors() : 0) + (alerts_ ? alerts_->write_errors() : 0);
  }

  // Alerts as Falco-compatible JSON instead of the alert format (level and
  // incident lines are then not written: Falco consumers expect alerts only).
  void set_falco_alerts(bool on) { falco_alerts_ = on; }

  // Bookkeeping events (kCgroup: the container table's feed) go to the event
  // output too; they are never scored or shipped.
  void set_raw_events(bool on) { raw_events_ = on; }

  // Installs a scoring model; takes effect from the next event (hot swap).
  void set_model(std::shared_ptr<const ScoringModel> model) {
    if (model_) {
      ++stats_.model_swaps;
    }
    model_ = std::move(model);
  }
  [[nodiscard]] const ScoringModel& model() const { return *model_; }
  // Shadow scoring (shadow.h): a candidate scored beside the model on every
  // event, counted, never acting.
  [[nodiscard]] ShadowScorer& shadow() { return shadow_; }
  [[nodiscard]] const ShadowScorer& shadow() const { return shadow_; }
  [[nodiscard]] std::uint32_t alert_threshold() const { return alert_threshold_; }

  // Installs a Sigma rule pack (null: none); takes effect from the next event,
  // so a reload drops nothing.
  void set_rules(std::shared_ptr<const RulePack> rules) {
    if (rules_) {
      ++stats_.rule_swaps;
    }
    rules_ = std::move(rules);
  }
  [[nodiscard]] const std::shared_ptr<const RulePack>& rules() const { return rules_; }

  // Feature recording for the evolution dataset.
  void set_recorder(std::unique_ptr<evo::DatasetWriter> writer, RecordLabel label) {
    recorder_ = std::move(writer);
    record_label_ = label;
  }

  // Every event, scored, after the local outputs (not owned; may be null).
  void set_scored_sink(ScoredEventSink* sink) { scored_ = sink; }

  // What the host is (pid 1's namespaces, its root filesystem's device), for
  // the container rules' fields; unknown until set, and those rules then
  // never match (host_relation.h).
  void set_host_identity(const HostIdentity& host) { container_watch_ = ContainerWatch(host); }
  [[nodiscard]] const ContainerWatch& container_watch() const { return container_watch_; }

  // The container table (not owned; may be null: events carry no container).
  void set_containers(ContainerTable* containers) { containers_ = containers; }

  // Takes one raw record. Malformed records are counted (decoder stats). The
  // records of one drain are processed at on_batch_end, in kernel time order
  // across the probe families' ring buffers (or when kMaxPending are waiting).
  void on_record(std::span<const std::byte> record);
  // End of a drain: process the drain's records in time order, flush outputs.
  void on_batch_end();
  // Periodic: lets the level decay and closes expired alert incidents.
  // `boot_now_s` is CLOCK_BOOTTIME in seconds (the events' own clock).
  void on_tick(double boot_now_s);

  // Before load_baseline: how long novelties are learned silently, etc.
  void set_baseline_config(BaselineConfig config) { detectors_.set_baseline_config(config); }

  // Rarity (rarity.h): configured before load_behaviours; the fleet's
  // prevalence table is applied by the agent.
  void set_rarity_config(RarityConfig config) { rarity_.set_config(config); }
  [[nodiscard]] RarityDetector& rarity() { return rarity_; }
  [[nodiscard]] const RarityDetector& rarity() const { return rarity_; }
  // Off: every built-in indicator, Sigma rule and stateful-detector hit is
  // dropped before the rarity path (the detectors still run, keeping their
  // state): what the rarity path catches on its own (docs/learning.md).
  void set_builtin_detections(bool on) { builtin_detections_ = on; }
  [[nodiscard]] bool builtin_detections() const { return builtin_detections_; }
  // The behaviour memory (STATE_DIR/behaviours.tsv); a missing file is empty.
  [[nodiscard]] Result<void> load_behaviours(const std::filesystem::path& path, double unix_now_s) {
    return rarity_.memory().load(path, unix_now_s);
  }
  [[nodiscard]] Result<void> save_behaviours(const std::filesystem::path& path) const {
    return rarity_.memory().save(path);
  }

  // Analyst feedback on an alert this agent raised. `benign` suppresses the
  // alert's first indicator for its executable on this host from now on (in
  // a container with a known image: for that image only);
  // `malicious` lifts such a suppression. Returns false for unknown alert ids
  // (too old, or raised by an earlier run).
  bool apply_feedback(std::string_view alert_id, std::string_view label);
  // Suppressions: one "indicator>executable" per line; a missing file is none.
  [[nodiscard]] Result<void> load_suppressions(const std::filesystem::path& path);
  [[nodiscard]] Result<void> save_suppressions(const std::filesystem::path& path) const;
  [[nodiscard]] std::size_t suppressions() const { return suppressed_.size(); }

  // Baseline persistence (state dir); loading a missing file starts empty.
  [[nodiscard]] Result<void> load_baseline(const std::filesystem::path& path, double unix_now_s);
  [[nodiscard]] Result<void> save_baseline(const std::filesystem::path& path) const;

  [[nodiscard]] Level level() const { return level_.level(); }
  [[nodiscard]] const LevelTracker& level_tracker() const { return level_; }
  [[nodiscard]] const Baseline& baseline() const { return detectors_.baseline(); }
  // Per-image shell profiles (container-shell-novel): configured, fed with the
  // fleet's and persisted by the agent.
  [[nodiscard]] ImageProfiles& image_profiles() { return detectors_.image_profiles(); }
  [[nodiscard]] const ImageProfiles& image_profiles() const { return detectors_.image_profiles(); }

  [[nodiscard]] const DecodeStats& decode_stats() const { return decoder_.stats(); }
  // Resynced periodically by the agent (boot_to_unix_offset_ns), so a wall
  // clock NTP fixes after start stamps events right from then on.
  void set_boot_to_unix_ns(std::int64_t boot_to_unix_ns) {
    boot_to_unix_ns_ = boot_to_unix_ns;
    decoder_.set_boot_to_unix_ns(boot_to_unix_ns);
  }
  [[nodiscard]] std::int64_t boot_to_unix_ns() const { return boot_to_unix_ns_; }
  [[nodiscard]] const PipelineStats& stats() const { return stats_; }
  [[nodiscard]] const Event& last_event() const { return event_; }
  // Kernel timestamp -> event scored and its lines flushed (every event), and
  // -> alert written (alerts raised). Recorded once per drain.
  [[nodiscard]] const LatencyHistogram& event_latency() const { return event_latency_; }
  [[nodiscard]] const LatencyHistogram& alert_latency() const { return alert_latency_; }

 private:
  static constexpr std::size_t kMaxPending = 4096;
  void process_pending();
  void process_event();
  void record_latencies();

  std::string host_;
  ProcessTable& table_;
  Decoder decoder_;
  Event event_;                 // reused: its strings keep their capacity between records
  std::vector<Event> pending_;  // decoded records of this drain (reused)
  std::size_t n_pending_ = 0;
  std::vector<std::uint32_t> order_;
  std::vector<std::uint64_t> batch_ts_;  // kernel timestamps of this drain's events
  std::vector<std::uint64_t> alert_ts_;  // ... of its alerts
  LatencyHistogram event_latency_;
  LatencyHistogram alert_latency_;
  std::unique_ptr<EventWriter> events_;
  IndicatorEngine indicators_;
  std::shared_ptr<const RulePack> rules_;
  std::vector<const Indicator*> hits_;
  std::vector<std::string_view> hit_ids_;
  FeatureVector features_{};
  std::shared_ptr<const ScoringModel> model_;
  ShadowScorer shadow_;
  std::vector<const ProcessInfo*> lineage_;
  std::unique_ptr<LineSink> alerts_;
  OutputFormat alert_format_ = OutputFormat::kJson;
  std::uint32_t alert_threshold_ = 50;
  bool falco_alerts_ = false;
  bool raw_events_ = false;
  std::string alert_buf_;
  LevelTracker level_;
  AttentionFocus focus_;
  StatefulDetectors detectors_;
  RarityDetector rarity_;
  const RarityHit* rarity_hit_ = nullptr;  // this event's rare-* hit, if any
  bool builtin_detections_ = true;
  AlertDeduper dedupe_;
  std::int64_t boot_to_unix_ns_;
  std::string run_id_;  // distinguishes alert ids across agent restarts
  std::string key_buf_;
  std::string alert_id_;
  // alert id -> "indicator>executable", for feedback; bounded FIFO.
  std::unordered_map<std::string, std::string> alert_keys_;
  std::deque<std::string> alert_order_;
  std::unordered_set<std::string> suppressed_;
  ScoredEventSink* scored_ = nullptr;
  ContainerWatch container_watch_;
  ContainerTable* containers_ = nullptr;
  std::unique_ptr<evo::DatasetWriter> recorder_;
  RecordLabel record_label_ = RecordLabel::kBenign;
  PipelineStats stats_;

  struct Scored {
    std::uint32_t score = 0;
    bool alerted = false;
  };
  // Indicators, awareness and the local alert for event_.
  Scored score_event();
  void record_sample();
  void remember_alert_key();
  // What a benign label suppresses: "indicator>executable", plus ">image" for
  // an event in a container whose image is known.
  void suppression_key(const Indicator& hit, std::string& out) const;
  void write_level_change(const LevelChange& change, std::uint64_t ts_ns);
  void write_incident_update(std::uint64_t id, std::uint64_t count);
};

}  // namespace vigil::agent
