// Deterministic indicators: named, ATT&CK-mapped facts about one enriched event.
// The catalogue below names every indicator with a feature slot; those that
// are plain predicates over one event are evaluated as Sigma rules (rules.h,
// rules/vigil), the rest here and in the pipeline's stateful detectors.
// They are inputs to scoring (issue #4 combines them with a model); until the
// model lands, an event's score is its strongest indicator's severity.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/agent/process_table.h"
#include "vigil/event.h"
#include "vigil/features.h"

namespace vigil::agent {

namespace sigma {
struct RuleInfo;
}

struct Indicator {
  std::string_view id;       // stable, kebab-case (a Sigma rule: its name, else its id)
  std::string_view attack;   // MITRE ATT&CK technique id
  std::uint8_t severity;     // 0..100
  std::string_view summary;  // one line, for humans
  // The Sigma rule behind this indicator (title, author, reference, all its
  // ATT&CK ids); nullptr for vigil's C++ detectors.
  const sigma::RuleInfo* rule = nullptr;
};

// Every indicator this build knows, for docs and tests.
[[nodiscard]] std::span<const Indicator> all_indicators();
// C++ indicators with no feature slot yet (scored by their severity floor
// only, like a Sigma rule without a slot); find_indicator knows them too.
[[nodiscard]] std::span<const Indicator> unslotted_indicators();
// The indicator with this id (nullptr if none).
[[nodiscard]] const Indicator* find_indicator(std::string_view id);

// Shells and script interpreters, by executable basename.
using vigil::is_shell_or_interpreter;  // vigil/features.h
// Known offensive tools by name, or their telltale arguments (ncat -e, socat
// exec:, stratum+tcp:// miners).
[[nodiscard]] bool looks_offensive(std::string_view exe, std::span<const std::string> args);
// Network-facing service daemons, by executable basename (sshd excluded: it
// spawns shells by design).
[[nodiscard]] bool is_service_binary(std::string_view exe);
// Programs whose job is to start shells for people (sshd, login, tmux, ...).
[[nodiscard]] bool is_login_service(std::string_view exe);
// Compilers, linkers and package managers: they make fresh files executable.
[[nodiscard]] bool is_toolchain(std::string_view exe);

// True for paths where an attacker drops binaries: writable, temporary, or not
// on disk at all (memfd, deleted).
[[nodiscard]] bool is_writable_location(std::string_view path);

// The file at `path` was written (`or_chmod`: or had its mode or owner
// changed) within the 10 minutes before the event; stat(2) of the file now,
// false when it cannot be read.
[[nodiscard]] bool freshly_written(const std::string& path, std::uint64_t event_unix_ns,
                                   bool or_chmod = false);

class IndicatorEngine {
 public:
  // Appends the indicators `event` raises to `hits` (cleared first). `table`
  // gives the process context (lineage) the event itself lacks.
  void evaluate(const Event& event, const ProcessTable& table,
                std::vector<const Indicator*>& hits) const;
};

}  // namespace vigil::agent
