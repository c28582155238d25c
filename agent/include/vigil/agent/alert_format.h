// How an alert is written: the score, the indicators (with a Sigma rule's
// provenance), the process lineage and the triggering event, as JSON lines,
// one human line, or Falco-compatible JSON (docs/detections.md, "Alert format").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "vigil/agent/awareness.h"
#include "vigil/agent/indicators.h"
#include "vigil/agent/process_table.h"
#include "vigil/agent/rarity.h"
#include "vigil/event.h"

namespace vigil::agent {

// What an alert says beyond the event: its score, incident id and count, the
// host's level, the indicators and the process lineage.
struct AlertContext {
  std::uint32_t score = 0;
  std::string_view alert_id;
  std::uint64_t count = 1;
  Level level = Level::kCalm;
  bool in_focus = false;
  // The event's rare-* hit (null: none): its key, contexts and computed
  // severity, and the fleet's size from the prevalence table (0: none).
  const RarityHit* rarity = nullptr;
  std::uint32_t fleet_size = 0;
};

// Renders an alert: the score, the indicators, the process lineage and the
// triggering event. JSON is one object per line; text is one human line like
// `High threat process event: pid=6864 comm=nc threat=75 [T1055.008 ptrace-write]`.
void append_alert_json(const Event& event, const AlertContext& ctx,
                       std::span<const Indicator* const> hits,
                       std::span<const ProcessInfo* const> lineage, std::string& out);
void append_alert_text(const Event& event, const AlertContext& ctx,
                       std::span<const Indicator* const> hits, std::string& out);
// Falco-compatible JSON (`output`, `priority`, `rule`, `time`, `output_fields`,
// plus `source`, `hostname`, `tags`) so Falco consumers (falcosidekick) take
// vigil's alerts; the mapping is in docs/detections.md.
void append_alert_falco(const Event& event, const AlertContext& ctx,
                        std::span<const Indicator* const> hits, std::string& out);

}  // namespace vigil::agent
