// The feature vector every event is scored on (schema version
// kFeatureSchemaVersion). Computed the same way by the agent, the collector and
// offline tools; docs/scoring.md lists every slot. Allocation-free.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "vigil/event.h"

namespace vigil {

// 2: + beaconing, 3: + reverse-shell, 4: + connect-scan, offensive-tool,
// 5: + shell-from-listener, dropped-exec, scan-connect-exec,
//    novel-exe-port, novel-listener
inline constexpr std::uint32_t kFeatureSchemaVersion = 5;

// The six specialised populations of the scoring model.
enum class Population : std::uint8_t {
  kProcess = 0,
  kNetwork = 1,
  kMemory = 2,
  kPrivilege = 3,
  kPersistence = 4,
  kLateral = 5,
};
inline constexpr std::size_t kPopulations = 6;
[[nodiscard]] std::string_view to_string(Population p);

struct IndicatorSlot {
  std::string_view id;
  Population population;
};
// One feature per indicator, in this order (slots 0..N-1).
[[nodiscard]] std::span<const IndicatorSlot> indicator_slots();
[[nodiscard]] std::optional<std::size_t> indicator_slot(std::string_view id);

inline constexpr std::size_t kIndicatorFeatures = 37;
// After the indicator slots:
enum ContextFeature : std::size_t {
  kFamilyProcess = kIndicatorFeatures,
  kFamilyNetwork,
  kFamilyMemory,
  kFamilyFile,
  kLineageDepth,    // ancestors known / 8, capped at 1
  kEuidRoot,        // euid == 0
  kUidMismatch,     // uid != euid
  kWritableExe,     // writable_location(exe)
  kAwarenessLevel,  // calm 0, attentive 1/3, alert 2/3, critical 1
  kInFocus,         // the process or its parent is in the attention focus
  kIndicatorCount,  // indicators that fired / 4, capped at 1
  kFeatureCount
};

struct FeatureInput {
  EventType type = EventType::kExec;
  std::uint32_t uid = 0;
  std::uint32_t euid = 0;
  std::string_view exe;
  std::span<const std::string_view> indicators;  // ids that fired
  std::uint32_t lineage_depth = 0;
  std::uint8_t level = 0;  // 0..3
  bool in_focus = false;
};

using FeatureVector = std::array<float, kFeatureCount>;

void compute_features(const FeatureInput& in, FeatureVector& out);

// Temporary or anonymous places programs are dropped into: /tmp, /var/tmp,
// /dev/shm, /run/user, memfd, deleted files.
[[nodiscard]] bool writable_location(std::string_view path);
// Shells, script interpreters and shell-capable network tools, by basename.
[[nodiscard]] bool is_shell_or_interpreter(std::string_view exe);

}  // namespace vigil
