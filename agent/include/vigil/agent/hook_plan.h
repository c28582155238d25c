// Choosing which BPF programs to load and attach, with fallbacks, so that one
// hook that the kernel refuses never takes the others down. Kernel-free: the
// libbpf side hides behind ObjectBackend so the policy is unit-tested.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vigil/result.h"

namespace vigil::agent {

// One way to attach a hook: a mode label ("tp_btf", "tracepoint", ...) and the
// programs that implement it together.
struct HookVariant {
  std::string mode;
  std::vector<std::string> programs;
};

// A hook: a named kernel observation point with variants in preference order.
struct HookSpec {
  std::string name;
  std::vector<HookVariant> variants;
};

enum class HookState : std::uint8_t { kAttached, kFailed };

struct HookStatus {
  std::string family;
  std::string hook;
  std::string mode;  // the variant that attached, or the last one tried
  HookState state = HookState::kFailed;
  std::string error;  // why the preferred variants failed (empty if the first worked)
};

// What the planner needs from libbpf: open a fresh object with exactly these
// programs marked for load, load it, and attach programs of the loaded object.
class ObjectBackend {
 public:
  virtual ~ObjectBackend() = default;
  // Destroys any current object, opens a new one with only `programs`
  // autoloaded and loads it into the kernel. On failure nothing stays loaded.
  virtual Result<void> load(const std::vector<std::string>& programs) = 0;
  // Attaches these programs of the loaded object (all or none stay attached).
  virtual Result<void> attach(const std::vector<std::string>& programs) = 0;
  // Detaches and unloads everything.
  virtual void reset() = 0;
};

// Loads and attaches the best variant of every hook. The backend ends up holding
// one loaded object with every hook that works attached; the result says what
// happened to each hook. The whole object is tried first (one load in the
// common case); only on failure is each hook probed alone. Variants whose mode
// is in `disabled_modes` are never tried (operators and tests use this to force
// a fallback, e.g. {"tp_btf"}).
[[nodiscard]] std::vector<HookStatus> plan_and_attach(
    const std::string& family, std::span<const HookSpec> hooks, ObjectBackend& backend,
    std::span<const std::string> disabled_modes = {});

[[nodiscard]] const char* to_string(HookState state);

}  // namespace vigil::agent
