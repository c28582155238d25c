// The limits of everything an agent sends: every string and repeated field of
// Hello, Health and Event (with what an Event nests), and of the fleet
// prevalence messages (BehaviourReport up, Prevalence down), in one table. The
// collector enforces each row at ingest (collector/src/validate.cpp looks rows
// up by name at compile time, so a misspelt or missing row does not build);
// tests/unit/wire_limits_test.cpp walks the proto descriptors and fails when a
// field has no row or a row is not enforced; docs/api.md, "Limits", lists the
// same rows. Agent alerts are built by the collector from a checked event, so
// their fields inherit these bounds.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace vigil::wire {

struct FieldLimit {
  std::string_view field;  // the proto field's full name
  // Strings: bytes. Repeated fields: elements.
  std::uint32_t max;
  // Repeated strings: bytes of each element (0 otherwise).
  std::uint32_t item_bytes = 0;
};

// A whole event, serialized: 64 KiB (what any probe produces is a few hundred
// bytes; 64 Sigma hits with their provenance fit). Keeps a page of 100 events
// or alerts a few MiB.
inline constexpr std::uint32_t kMaxEventBytes = 64 << 10;
// Events per batch.
inline constexpr std::uint32_t kMaxBatchEvents = 10000;
// Agent, host and alert ids: 1..128 of [A-Za-z0-9._-] (no ':', the separator
// of composite ids; docs/api.md, "Identity").
inline constexpr std::uint32_t kMaxIdBytes = 128;
// Behaviour hashes per BehaviourReport (the agent sends the rest next time).
inline constexpr std::uint32_t kMaxBehaviourKeys = 4096;
// Keys of one Prevalence table: 2 MiB of fixed64 plus the host counts stays
// under gRPC's default 4 MiB receive limit of any agent; the collector's
// prevalence_max_keys is capped here.
inline constexpr std::uint32_t kMaxPrevalenceKeys = 262'144;
// Health.cpu_percent: finite, 0..this (100 per core of a large host).
inline constexpr double kMaxCpuPercent = 100.0 * 4096;

inline constexpr auto kFieldLimits = std::to_array<FieldLimit>({
    // Hello
    {"vigil.v1.Hello.agent_id", kMaxIdBytes},
    {"vigil.v1.Hello.host_id", kMaxIdBytes},
    {"vigil.v1.Hello.version", 128},
    {"vigil.v1.Hello.kernel", 256},
    {"vigil.v1.Hello.probes", 64},
    {"vigil.v1.ProbeStatus.family", 64},
    {"vigil.v1.ProbeStatus.error", 1024},
    {"vigil.v1.Hello.model_version", 128},
    {"vigil.v1.Hello.addresses", 64, 64},
    {"vigil.v1.Hello.rule_pack_version", 128},
    // Health
    {"vigil.v1.Health.drops", 64},
    {"vigil.v1.ProbeDrops.family", 64},
    {"vigil.v1.Health.level", 32},
    {"vigil.v1.Health.model_version", 128},
    {"vigil.v1.Health.model_refusal", 1024},
    {"vigil.v1.Health.rule_pack_version", 128},
    {"vigil.v1.Health.rule_pack_refusal", 1024},
    {"vigil.v1.Health.events_refused", 64},
    {"vigil.v1.ReasonCount.reason", 64},
    {"vigil.v1.ShadowReport.version", 128},
    {"vigil.v1.ShadowReport.active_version", 128},
    {"vigil.v1.ShadowCounts.scores", 10},  // 0 or 10 buckets (the collector checks)
    {"vigil.v1.ShadowCounts.active_scores", 10},
    // Event
    {"vigil.v1.Event.type", 32},
    {"vigil.v1.Event.comm", 256},
    {"vigil.v1.Event.exe", 4096},
    {"vigil.v1.Event.indicators", 64},
    {"vigil.v1.Event.alert_id", kMaxIdBytes},
    {"vigil.v1.Event.summary", 8192},
    {"vigil.v1.Event.feature_slots", 256},
    {"vigil.v1.Event.feature_values", 256},
    {"vigil.v1.IndicatorHit.id", 128},
    {"vigil.v1.IndicatorHit.attack", 64},
    {"vigil.v1.RuleRef.id", 128},
    {"vigil.v1.RuleRef.name", 256},
    {"vigil.v1.RuleRef.title", 512},
    {"vigil.v1.RuleRef.author", 512},
    {"vigil.v1.RuleRef.references", 32, 1024},
    {"vigil.v1.RuleRef.level", 32},
    {"vigil.v1.RuleRef.tags", 64, 128},
    {"vigil.v1.RuleRef.source", 1024},
    {"vigil.v1.RuleRef.type", 32},
    {"vigil.v1.ExecDetail.filename", 4096},
    {"vigil.v1.ExecDetail.args", 256, 4096},
    {"vigil.v1.SetidDetail.syscall", 32},
    {"vigil.v1.SetidDetail.old_ids", 16},
    {"vigil.v1.SetidDetail.new_ids", 16},
    {"vigil.v1.PtraceDetail.request", 64},
    {"vigil.v1.KillDetail.signal", 32},
    {"vigil.v1.KillDetail.target_comm", 256},
    {"vigil.v1.MemoryDetail.prot", 32},
    {"vigil.v1.MemoryDetail.file", 4096},
    {"vigil.v1.MemoryDetail.method", 64},
    {"vigil.v1.SocketDetail.family", 16},
    {"vigil.v1.SocketDetail.proto", 16},
    {"vigil.v1.SocketDetail.laddr", 64},
    {"vigil.v1.SocketDetail.raddr", 64},
    {"vigil.v1.NetSummaryDetail.src", 64},
    {"vigil.v1.NetSummaryDetail.reasons", 16, 32},
    {"vigil.v1.FileDetail.op", 32},
    {"vigil.v1.FileDetail.path", 4096},
    {"vigil.v1.FileDetail.new_path", 4096},
    {"vigil.v1.NsChangeDetail.syscall", 32},
    {"vigil.v1.CgroupDetail.path", 4096},
    // Container and pod (docs/api.md, "Workload filters"); no control characters.
    {"vigil.v1.Container.id", 256},
    {"vigil.v1.Container.runtime", 32},
    {"vigil.v1.Container.name", 256},
    {"vigil.v1.Container.image", 1024},
    {"vigil.v1.Container.pod", 256},  // a DNS subdomain: 253
    {"vigil.v1.Container.pod_uid", 128},
    {"vigil.v1.Container.k8s_ns", 128},  // a DNS label: 63
    {"vigil.v1.Container.labels", 64},
    {"vigil.v1.Label.key", 256},
    {"vigil.v1.Label.value", 1024},
    // Fleet prevalence (docs/api.md, "Behaviour prevalence")
    {"vigil.v1.BehaviourReport.keys", kMaxBehaviourKeys},
    {"vigil.v1.Prevalence.keys", kMaxPrevalenceKeys},
    {"vigil.v1.Prevalence.hosts", kMaxPrevalenceKeys},
});

// The row for `field`; at compile time an unknown name is an error.
consteval FieldLimit limit(std::string_view field) {
  for (const auto& l : kFieldLimits) {
    if (l.field == field) {
      return l;
    }
  }
  throw "no row for this field in vigil::wire::kFieldLimits";
}

// Run-time lookup (tests, docs): nullptr when `field` has no row.
constexpr const FieldLimit* find_limit(std::string_view field) {
  for (const auto& l : kFieldLimits) {
    if (l.field == field) {
      return &l;
    }
  }
  return nullptr;
}

}  // namespace vigil::wire
