// Stateful detectors: the indicators that need more than one event — host
// memory (novel parent/child pairs, listeners, ports, W+X programs), ordered
// patterns (write -> chmod +x -> exec, scan -> connect -> exec, relayed
// shells), scans and crash storms added up per process tree, user and
// executable, beacon rhythm, and pipelines linked by their pipe. One interface
// beside the one-event checks (IndicatorEngine, indicators.cpp) and the Sigma
// rules (RulePack); the pipeline only orchestrates (docs/detections.md).
#pragma once

#include <string>
#include <vector>

#include "vigil/agent/awareness.h"
#include "vigil/agent/image_profiles.h"
#include "vigil/agent/indicators.h"
#include "vigil/agent/process_table.h"
#include "vigil/agent/rule_event.h"
#include "vigil/event.h"

namespace vigil::agent {

class StatefulDetectors {
 public:
  // Before the rules, for an exec: the program feeding its stdin pipe, or the
  // shell reading its stdout pipe, when the other end exec'd within the
  // window (PipeLinks); what rules read as StdinImage/StdoutImage.
  ExecLinks exec_links(const Event& e, const ProcessTable& table, double now);
  // After the one-event indicators and the rules: appends the stateful
  // indicators `e` completes. `now`: the event's boot time in seconds.
  void evaluate(const Event& e, const ProcessTable& table, double now,
                std::vector<const Indicator*>& hits);

  // Host memory, loaded and saved by the agent (STATE_DIR/baseline.tsv).
  void set_baseline_config(BaselineConfig config) { baseline_ = Baseline(config); }
  [[nodiscard]] Baseline& baseline() { return baseline_; }
  [[nodiscard]] const Baseline& baseline() const { return baseline_; }
  // Per-image shell profiles (container-shell-novel), fed with the fleet's by the agent.
  [[nodiscard]] ImageProfiles& image_profiles() { return images_; }
  [[nodiscard]] const ImageProfiles& image_profiles() const { return images_; }

 private:
  [[nodiscard]] bool relayed_shell(const Event& e, const ProcessTable& table, double now) const;

  Baseline baseline_;
  ImageProfiles images_;
  RhythmTracker rhythm_;
  ConnectScanTracker connect_scans_;
  CrashSpreadTracker crash_spread_;
  SequenceTracker sequences_;
  PipeLinks pipes_;
  std::string key_buf_;
  std::string feeder_command_line_;
};

}  // namespace vigil::agent
