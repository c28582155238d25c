#include "vigil/features.h"

#include <algorithm>

namespace vigil {
namespace {

constexpr std::array<IndicatorSlot, kIndicatorFeatures> kSlots = {{
    {"exec-writable-location", Population::kProcess},
    {"novel-parent-child", Population::kProcess},
    {"kill-cross-user", Population::kProcess},
    {"crash-storm", Population::kProcess},
    {"offensive-tool", Population::kProcess},
    {"setuid-exec", Population::kPrivilege},
    {"setuid-exec-writable", Population::kPrivilege},
    {"setuid-to-root", Population::kPrivilege},
    {"setuid-bit-set", Population::kPrivilege},
    {"credential-read", Population::kPrivilege},
    {"ptrace-attach", Population::kMemory},
    {"ptrace-write", Population::kMemory},
    {"wx-memory", Population::kMemory},
    {"exec-added-anon", Population::kMemory},
    {"wx-novel-executable", Population::kMemory},
    {"fileless-exec", Population::kMemory},
    {"inject-vm-writev", Population::kMemory},
    {"inject-proc-mem", Population::kMemory},
    {"cron-write", Population::kPersistence},
    {"systemd-unit-write", Population::kPersistence},
    {"authorized-keys-write", Population::kPersistence},
    {"shell-rc-write", Population::kPersistence},
    {"ld-preload-write", Population::kPersistence},
    {"system-binary-changed", Population::kPersistence},
    {"history-tamper", Population::kPersistence},
    {"port-scan", Population::kNetwork},
    {"syn-flood", Population::kNetwork},
    {"packet-flood", Population::kNetwork},
    {"beaconing", Population::kNetwork},
    {"connect-scan", Population::kNetwork},
    {"shell-from-service", Population::kLateral},
    {"reverse-shell", Population::kLateral},
    {"shell-from-listener", Population::kLateral},
    {"dropped-exec", Population::kProcess},
    {"scan-connect-exec", Population::kLateral},
    {"novel-exe-port", Population::kNetwork},
    {"novel-listener", Population::kNetwork},
}};

}  // namespace

std::string_view to_string(Population p) {
  switch (p) {
    case Population::kProcess:
      return "process";
    case Population::kNetwork:
      return "network";
    case Population::kMemory:
      return "memory";
    case Population::kPrivilege:
      return "privilege";
    case Population::kPersistence:
      return "persistence";
    case Population::kLateral:
      return "lateral";
  }
  return "unknown";
}

std::span<const IndicatorSlot> indicator_slots() { return kSlots; }

std::optional<std::size_t> indicator_slot(std::string_view id) {
  for (std::size_t i = 0; i < kSlots.size(); ++i) {
    if (kSlots[i].id == id) {
      return i;
    }
  }
  return std::nullopt;
}

bool writable_location(std::string_view path) {
  static constexpr std::array<std::string_view, 5> kPrefixes = {"/tmp/", "/var/tmp/", "/dev/shm/",
                                                                "/run/user/", "/memfd:"};
  return std::ranges::any_of(kPrefixes, [&](std::string_view p) { return path.starts_with(p); }) ||
         path.ends_with(" (deleted)");
}

bool is_shell_or_interpreter(std::string_view exe) {
  static constexpr std::array<std::string_view, 18> kNames = {
      "sh",   "bash",    "dash", "zsh",  "ksh", "mksh", "ash", "csh",  "tcsh",
      "fish", "busybox", "perl", "ruby", "php", "lua",  "nc",  "ncat", "socat"};
  const auto slash = exe.rfind('/');
  const auto name = slash == std::string_view::npos ? exe : exe.substr(slash + 1);
  return std::ranges::find(kNames, name) != kNames.end() || name.starts_with("python");
}

void compute_features(const FeatureInput& in, FeatureVector& out) {
  out.fill(0.0F);
  for (auto id : in.indicators) {
    if (auto slot = indicator_slot(id)) {
      out[*slot] = 1.0F;
    }
  }
  const auto type = static_cast<std::uint16_t>(in.type);
  if (type < 16) {
    out[kFamilyProcess] = 1.0F;
  } else if (type < 32) {
    out[kFamilyNetwork] = 1.0F;
  } else if (type < 48) {
    out[kFamilyMemory] = 1.0F;
  } else {
    out[kFamilyFile] = 1.0F;
  }
  out[kLineageDepth] = std::min(1.0F, static_cast<float>(in.lineage_depth) / 8.0F);
  out[kEuidRoot] = in.euid == 0 ? 1.0F : 0.0F;
  out[kUidMismatch] = in.uid != in.euid ? 1.0F : 0.0F;
  out[kWritableExe] = writable_location(in.exe) ? 1.0F : 0.0F;
  out[kAwarenessLevel] = static_cast<float>(std::min<std::uint8_t>(in.level, 3)) / 3.0F;
  out[kInFocus] = in.in_focus ? 1.0F : 0.0F;
  out[kIndicatorCount] = std::min(1.0F, static_cast<float>(in.indicators.size()) / 4.0F);
}

}  // namespace vigil
