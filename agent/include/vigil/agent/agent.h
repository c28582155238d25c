// vigil-agent's wiring: environment -> probes -> ring reader -> pipeline ->
// outputs, on one Boost.Asio loop with signal handling and periodic counters.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vigil/agent/bpf_env.h"
#include "vigil/agent/config.h"
#include "vigil/agent/container_table.h"
#include "vigil/agent/enroll.h"
#include "vigil/agent/model_update.h"
#include "vigil/agent/pipeline.h"
#include "vigil/agent/probe.h"
#include "vigil/agent/process_table.h"
#include "vigil/agent/ring_reader.h"
#include "vigil/agent/rule_update.h"
#include "vigil/agent/shipper.h"
#include "vigil/agent/spool.h"
#include "vigil/metrics_server.h"

namespace vigil::agent {

class Agent {
 public:
  explicit Agent(AgentConfig config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Checks the machine and loads every requested probe family. Fails only when
  // the environment rules out BPF entirely; per-hook failures are in status().
  [[nodiscard]] Result<void> load_probes();
  [[nodiscard]] std::vector<HookStatus> status() const;
  // True when every hook of every requested family attached; else `why` says
  // what did not.
  [[nodiscard]] bool all_requested_ok(std::string& why) const;

  // Seeds the process table, opens outputs and starts reading.
  [[nodiscard]] Result<void> start();
  // Runs until SIGINT/SIGTERM or stop(); then detaches and flushes. Returns the exit code.
  int run();
  void stop();

  // Counters as one JSON object (kernel per family, decoder, pipeline, table).
  [[nodiscard]] std::string stats_json() const;
  // The Prometheus exposition of the same counters (docs/operations.md).
  [[nodiscard]] std::string metrics_text() const;
  [[nodiscard]] const std::string& host() const { return host_; }

 private:
  void schedule_stats();
  void schedule_tick();
  void report_stats(bool final);
  void save_baseline();
  // Every tick: the boot-to-wall offset again (the decoder's and the pipeline's).
  void resync_wall_clock();
  [[nodiscard]] Result<void> start_shipping();
  [[nodiscard]] Result<void> load_model();
  // Sigma rules from the configuration; on SIGHUP again (a failed reload keeps
  // the rules in force).
  void load_rules(bool reload);
  void wait_for_hup();
  void apply_model_update(const v1::ModelUpdate& update);
  // Scope "shadow": installs (or, without a model, drops) the shadow model.
  void apply_shadow_update(const v1::ModelUpdate& update);
  // A canary grant that ran out: back to the last release (or the built-in default).
  void expire_canary_model();
  void set_running_model(std::shared_ptr<const ScoringModel> model);
  void apply_feedback(const std::string& alert_id, const std::string& label);
  void schedule_flush();
  // The container table, if configured and a cgroup2 mount is there.
  void start_containers();
  // What the image profiles learned, to the collector (everything again after
  // a reconnect); the fleet's profiles come back through the shipper.
  void ship_image_observations();
  void apply_image_profiles(const v1::ImageProfiles& fleet);
  // Rarity: the behaviour memory (STATE_DIR/behaviours.tsv) and builtin
  // detections switch; behaviour hashes to the collector every 30 s; the
  // fleet's prevalence table back.
  void load_behaviours();
  void ship_behaviours();
  void apply_prevalence(const v1::Prevalence& table);
  [[nodiscard]] v1::Health health();

  AgentConfig config_;
  std::string host_;
  BpfEnvironment env_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::signal_set hup_;
  std::uint64_t rule_reloads_failed_ = 0;
  boost::asio::steady_timer stats_timer_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer flush_timer_;
  std::vector<std::unique_ptr<Probe>> probes_;
  std::vector<HookStatus> missing_;  // requested families this build lacks
  ProcessTable table_;
  std::unique_ptr<ContainerTable> containers_;  // null: containers off or no cgroup2
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<RingReader> reader_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<Shipper> shipper_;
  std::unique_ptr<CertRenewer> renewer_;  // enrolled agents: destroyed before shipper_
  std::unique_ptr<ScoredEventSink> ship_sink_;
  std::uint64_t last_drops_ = 0;
  std::uint64_t model_updates_refused_ = 0;
  std::string last_model_refusal_;     // "VERSION: reason", reported in health
  std::uint64_t shadow_installs_ = 0;  // shadow models installed since start
  std::uint64_t shadow_refusals_ = 0;  // shadow model updates refused since start
  std::string last_shadow_refusal_;
  std::unique_ptr<ModelTrust> model_trust_;  // verified, persisted collector models
  RulePackUpdates rule_packs_;               // the collector's signed rule packs
  // --metrics-listen: the exposition is rendered on the agent loop every tick
  // and served from this snapshot by the metrics thread.
  std::unique_ptr<HttpServer> metrics_;
  mutable std::mutex metrics_mu_;
  std::string metrics_snapshot_;
  std::uint64_t image_connections_ = 0;  // shipper connections() at the last resend
  std::chrono::steady_clock::time_point last_behaviours_at_{};
  std::vector<std::uint64_t> behaviour_hashes_;  // reused for each BehaviourReport
  double last_health_cpu_s_ = 0;                 // CPU seconds at the previous health snapshot
  std::chrono::steady_clock::time_point last_health_at_{};
};

// Human-readable status table for --check.
[[nodiscard]] std::string format_status_table(const std::vector<HookStatus>& status);

[[nodiscard]] std::string default_host_id();
// Non-loopback addresses of the host's interfaces.
[[nodiscard]] std::vector<std::string> interface_addresses();

}  // namespace vigil::agent
