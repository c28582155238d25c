#include "vigil/agent/hook_plan.h"

#include <fmt/format.h>

#include <algorithm>

namespace vigil::agent {

const char* to_string(HookState state) {
  return state == HookState::kAttached ? "attached" : "failed";
}

std::vector<HookStatus> plan_and_attach(const std::string& family, std::span<const HookSpec> hooks,
                                        ObjectBackend& backend,
                                        std::span<const std::string> disabled_modes) {
  const std::size_t n = hooks.size();
  std::vector<std::size_t> choice(n, 0);  // variant index; == variants.size() means none left
  std::vector<std::string> errors(n);

  auto note = [&](std::size_t h, const std::string& what, const Error& e) {
    if (!errors[h].empty()) {
      errors[h] += "; ";
    }
    errors[h] += fmt::format("{}{}{}: {}", hooks[h].variants[choice[h]].mode,
                             what.empty() ? "" : " ", what, e.message);
  };
  auto chosen = [&](std::size_t h) { return choice[h] < hooks[h].variants.size(); };

  for (std::size_t h = 0; h < n; ++h) {
    while (chosen(h) && std::find(disabled_modes.begin(), disabled_modes.end(),
                                  hooks[h].variants[choice[h]].mode) != disabled_modes.end()) {
      note(h, "", Error{ErrorCode::kUnsupported, "disabled by configuration"});
      ++choice[h];
    }
  }

  // Each pass either succeeds or moves at least one hook to its next variant, so
  // the loop ends after at most (total variants + 1) passes.
  for (;;) {
    std::vector<std::string> programs;
    for (std::size_t h = 0; h < n; ++h) {
      if (chosen(h)) {
        const auto& p = hooks[h].variants[choice[h]].programs;
        programs.insert(programs.end(), p.begin(), p.end());
      }
    }
    if (programs.empty()) {
      backend.reset();
      break;
    }
    if (auto loaded = backend.load(programs); !loaded) {
      // Find the culprits: probe each chosen variant on its own and advance
      // those that fail until one loads or none are left.
      bool progressed = false;
      for (std::size_t h = 0; h < n; ++h) {
        while (chosen(h)) {
          auto alone = backend.load(hooks[h].variants[choice[h]].programs);
          if (alone) {
            break;
          }
          note(h, "load", alone.error());
          ++choice[h];
          progressed = true;
        }
      }
      backend.reset();
      if (!progressed) {
        // Every hook loads alone but not together (e.g. a shared map the
        // kernel refuses): nothing can be attached.
        for (std::size_t h = 0; h < n; ++h) {
          if (chosen(h)) {
            note(h, "load", loaded.error());
            choice[h] = hooks[h].variants.size();
          }
        }
      }
      continue;
    }
    bool all_attached = true;
    for (std::size_t h = 0; h < n; ++h) {
      if (!chosen(h)) {
        continue;
      }
      if (auto a = backend.attach(hooks[h].variants[choice[h]].programs); !a) {
        note(h, "attach", a.error());
        ++choice[h];
        all_attached = false;
      }
    }
    if (all_attached) {
      break;
    }
    // Reload without the variants that could not attach (their programs would
    // otherwise sit loaded but idle).
    backend.reset();
  }

  std::vector<HookStatus> out;
  out.reserve(n);
  for (std::size_t h = 0; h < n; ++h) {
    HookStatus s;
    s.family = family;
    s.hook = hooks[h].name;
    if (chosen(h)) {
      s.mode = hooks[h].variants[choice[h]].mode;
      s.state = HookState::kAttached;
    } else {
      s.mode = hooks[h].variants.empty() ? "" : hooks[h].variants.back().mode;
      s.state = HookState::kFailed;
    }
    s.error = errors[h];
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace vigil::agent
