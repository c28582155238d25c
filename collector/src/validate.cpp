#include "vigil/collector/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "vigil/clock.h"
#include "vigil/event.h"

namespace vigil::collector {
namespace {

// Any schema's slots fit in a byte; this build trains only on its own schema.
constexpr std::uint32_t kMaxFeatureSlots = wire::limit("vigil.v1.Event.feature_slots").max;
constexpr std::uint64_t kMaxClockSkewNs = 86'400ULL * 1'000'000'000ULL;

// Checks fields against their rows; keeps the first failure.
class Fields {
 public:
  explicit Fields(std::string prefix) : prefix_(std::move(prefix)) {}

  void str(const std::string& s, const wire::FieldLimit& l) {
    if (!bad_ && s.size() > l.max) {
      fail(Reason::kTooLarge, fmt::format("{} is {} bytes, limit {}", l.field, s.size(), l.max));
    }
  }
  template <class Repeated>
  void rep(const Repeated& r, const wire::FieldLimit& l) {
    if (bad_) {
      return;
    }
    if (static_cast<std::size_t>(r.size()) > l.max) {
      fail(Reason::kTooLarge,
           fmt::format("{} has {} elements, limit {}", l.field, r.size(), l.max));
      return;
    }
    if constexpr (std::is_same_v<std::decay_t<decltype(*r.begin())>, std::string>) {
      for (const auto& s : r) {
        if (s.size() > l.item_bytes) {
          fail(Reason::kTooLarge, fmt::format("an element of {} is {} bytes, limit {}", l.field,
                                              s.size(), l.item_bytes));
          return;
        }
      }
    }
  }
  // A workload name (container, image, pod, namespace, label): within its
  // row and free of control characters, which the report keys, vigilctl's
  // columns and the web view show as given.
  void text(const std::string& s, const wire::FieldLimit& l) {
    str(s, l);
    if (!bad_ && std::ranges::any_of(
                     s, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      fail(Reason::kBadText, fmt::format("{} holds a control character", l.field));
    }
  }
  void fail(Reason reason, std::string detail) {
    if (!bad_) {
      bad_ = Refused{reason, prefix_ + std::move(detail)};
    }
  }
  [[nodiscard]] bool ok() const { return !bad_.has_value(); }
  std::optional<Refused> result() { return std::move(bad_); }

 private:
  std::string prefix_;
  std::optional<Refused> bad_;
};

#define VIGIL_LIMIT(name) wire::limit("vigil.v1." name)

void check_rule(Fields& f, const v1::RuleRef& r) {
  f.str(r.id(), VIGIL_LIMIT("RuleRef.id"));
  f.str(r.name(), VIGIL_LIMIT("RuleRef.name"));
  f.str(r.title(), VIGIL_LIMIT("RuleRef.title"));
  f.str(r.author(), VIGIL_LIMIT("RuleRef.author"));
  f.rep(r.references(), VIGIL_LIMIT("RuleRef.references"));
  f.str(r.level(), VIGIL_LIMIT("RuleRef.level"));
  f.rep(r.tags(), VIGIL_LIMIT("RuleRef.tags"));
  f.str(r.source(), VIGIL_LIMIT("RuleRef.source"));
  f.str(r.type(), VIGIL_LIMIT("RuleRef.type"));
}

void check_detail(Fields& f, const v1::Event& e) {
  switch (e.detail_case()) {
    case v1::Event::kExec:
      f.str(e.exec().filename(), VIGIL_LIMIT("ExecDetail.filename"));
      f.rep(e.exec().args(), VIGIL_LIMIT("ExecDetail.args"));
      break;
    case v1::Event::kSetid:
      f.str(e.setid().syscall(), VIGIL_LIMIT("SetidDetail.syscall"));
      f.rep(e.setid().old_ids(), VIGIL_LIMIT("SetidDetail.old_ids"));
      f.rep(e.setid().new_ids(), VIGIL_LIMIT("SetidDetail.new_ids"));
      break;
    case v1::Event::kPtrace:
      f.str(e.ptrace().request(), VIGIL_LIMIT("PtraceDetail.request"));
      break;
    case v1::Event::kKill:
      f.str(e.kill().signal(), VIGIL_LIMIT("KillDetail.signal"));
      f.str(e.kill().target_comm(), VIGIL_LIMIT("KillDetail.target_comm"));
      break;
    case v1::Event::kMemory:
      f.str(e.memory().prot(), VIGIL_LIMIT("MemoryDetail.prot"));
      f.str(e.memory().file(), VIGIL_LIMIT("MemoryDetail.file"));
      f.str(e.memory().method(), VIGIL_LIMIT("MemoryDetail.method"));
      break;
    case v1::Event::kSocket:
      f.str(e.socket().family(), VIGIL_LIMIT("SocketDetail.family"));
      f.str(e.socket().proto(), VIGIL_LIMIT("SocketDetail.proto"));
      f.str(e.socket().laddr(), VIGIL_LIMIT("SocketDetail.laddr"));
      f.str(e.socket().raddr(), VIGIL_LIMIT("SocketDetail.raddr"));
      break;
    case v1::Event::kNetSummary:
      f.str(e.net_summary().src(), VIGIL_LIMIT("NetSummaryDetail.src"));
      f.rep(e.net_summary().reasons(), VIGIL_LIMIT("NetSummaryDetail.reasons"));
      break;
    case v1::Event::kFile:
      f.str(e.file().op(), VIGIL_LIMIT("FileDetail.op"));
      f.str(e.file().path(), VIGIL_LIMIT("FileDetail.path"));
      f.str(e.file().new_path(), VIGIL_LIMIT("FileDetail.new_path"));
      break;
    case v1::Event::kNsChange:
      f.str(e.ns_change().syscall(), VIGIL_LIMIT("NsChangeDetail.syscall"));
      break;
    case v1::Event::kCgroup:
      f.str(e.cgroup().path(), VIGIL_LIMIT("CgroupDetail.path"));
      break;
    case v1::Event::kFork:
    case v1::Event::kExit:
    case v1::Event::DETAIL_NOT_SET:
      break;
  }
}

void check_container(Fields& f, const v1::Container& c) {
  f.text(c.id(), VIGIL_LIMIT("Container.id"));
  f.text(c.runtime(), VIGIL_LIMIT("Container.runtime"));
  f.text(c.name(), VIGIL_LIMIT("Container.name"));
  f.text(c.image(), VIGIL_LIMIT("Container.image"));
  f.text(c.pod(), VIGIL_LIMIT("Container.pod"));
  f.text(c.pod_uid(), VIGIL_LIMIT("Container.pod_uid"));
  f.text(c.k8s_ns(), VIGIL_LIMIT("Container.k8s_ns"));
  f.rep(c.labels(), VIGIL_LIMIT("Container.labels"));
  for (const auto& l : c.labels()) {
    f.text(l.key(), VIGIL_LIMIT("Label.key"));
    f.text(l.value(), VIGIL_LIMIT("Label.value"));
  }
}

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

Result<void> as_result(std::optional<Refused> refused) {
  if (refused) {
    return make_error(ErrorCode::kInvalidArgument, std::move(refused->detail));
  }
  return {};
}

}  // namespace

std::string_view reason_code(Reason reason) {
  switch (reason) {
    case Reason::kBadHello:
      return "bad_hello";
    case Reason::kBadHealth:
      return "bad_health";
    case Reason::kBadBatch:
      return "bad_batch";
    case Reason::kHeaderMismatch:
      return "header_mismatch";
    case Reason::kProtocol:
      return "protocol";
    case Reason::kUndecodable:
      return "undecodable";
    case Reason::kIdentity:
      return "identity";
    case Reason::kOverMaxAgents:
      return "over_max_agents";
    case Reason::kRateLimited:
      return "rate_limited";
    case Reason::kStorage:
      return "storage";
    case Reason::kReplaced:
      return "replaced";
    case Reason::kBadBehaviours:
      return "bad_behaviours";
    case Reason::kUnknownType:
      return "unknown_type";
    case Reason::kBadScore:
      return "bad_score";
    case Reason::kBadTimestamp:
      return "bad_timestamp";
    case Reason::kTooLarge:
      return "too_large";
    case Reason::kBadFeatures:
      return "bad_features";
    case Reason::kBadId:
      return "bad_id";
    case Reason::kBadText:
      return "bad_text";
    case Reason::kCount_:
      break;
  }
  return "?";
}

bool valid_id(std::string_view id) {
  return !id.empty() && id.size() <= wire::kMaxIdBytes && std::ranges::all_of(id, id_char);
}

bool valid_alert_ref(std::string_view id) {
  const auto colon = id.find(':');
  if (colon == std::string_view::npos) {
    return valid_id(id);  // a fleet alert
  }
  return valid_id(id.substr(0, colon)) && valid_id(id.substr(colon + 1));
}

std::optional<Refused> check_hello(const v1::Hello& hello) {
  Fields f("hello: ");
  if (!valid_id(hello.agent_id())) {
    f.fail(Reason::kBadHello, "agent_id must be 1..128 characters of [A-Za-z0-9._-]");
  }
  if (!valid_id(hello.host_id())) {
    f.fail(Reason::kBadHello, "host_id must be 1..128 characters of [A-Za-z0-9._-]");
  }
  f.str(hello.version(), VIGIL_LIMIT("Hello.version"));
  f.str(hello.kernel(), VIGIL_LIMIT("Hello.kernel"));
  f.rep(hello.probes(), VIGIL_LIMIT("Hello.probes"));
  for (const auto& p : hello.probes()) {
    f.str(p.family(), VIGIL_LIMIT("ProbeStatus.family"));
    f.str(p.error(), VIGIL_LIMIT("ProbeStatus.error"));
  }
  f.str(hello.model_version(), VIGIL_LIMIT("Hello.model_version"));
  f.rep(hello.addresses(), VIGIL_LIMIT("Hello.addresses"));
  f.str(hello.rule_pack_version(), VIGIL_LIMIT("Hello.rule_pack_version"));
  auto bad = f.result();
  if (bad && bad->reason == Reason::kTooLarge) {
    bad->reason = Reason::kBadHello;  // one reason per message kind for the stream
  }
  return bad;
}

std::optional<Refused> check_health(const v1::Health& h) {
  Fields f("health: ");
  f.rep(h.drops(), VIGIL_LIMIT("Health.drops"));
  for (const auto& d : h.drops()) {
    f.str(d.family(), VIGIL_LIMIT("ProbeDrops.family"));
  }
  f.str(h.level(), VIGIL_LIMIT("Health.level"));
  // One level vocabulary (docs/api.md, "Levels"); empty: not reported yet.
  if (const auto& l = h.level();
      !l.empty() && l != "calm" && l != "attentive" && l != "alert" && l != "critical") {
    f.fail(
        Reason::kBadHealth,
        fmt::format("level is not one of calm, attentive, alert, critical ({} bytes)", l.size()));
  }
  f.str(h.model_version(), VIGIL_LIMIT("Health.model_version"));
  f.str(h.model_refusal(), VIGIL_LIMIT("Health.model_refusal"));
  f.str(h.rule_pack_version(), VIGIL_LIMIT("Health.rule_pack_version"));
  f.str(h.rule_pack_refusal(), VIGIL_LIMIT("Health.rule_pack_refusal"));
  f.rep(h.events_refused(), VIGIL_LIMIT("Health.events_refused"));
  for (const auto& r : h.events_refused()) {
    f.str(r.reason(), VIGIL_LIMIT("ReasonCount.reason"));
  }
  if (h.has_shadow()) {
    const auto& s = h.shadow();
    f.str(s.version(), VIGIL_LIMIT("ShadowReport.version"));
    f.str(s.active_version(), VIGIL_LIMIT("ShadowReport.active_version"));
    f.rep(s.counts().scores(), VIGIL_LIMIT("ShadowCounts.scores"));
    f.rep(s.counts().active_scores(), VIGIL_LIMIT("ShadowCounts.active_scores"));
  }
  if (!std::isfinite(h.cpu_percent()) || h.cpu_percent() < 0 ||
      h.cpu_percent() > wire::kMaxCpuPercent) {
    f.fail(Reason::kBadHealth, fmt::format("cpu_percent {} is not a number in 0..{}",
                                           h.cpu_percent(), wire::kMaxCpuPercent));
  }
  auto bad = f.result();
  if (bad) {
    bad->reason = Reason::kBadHealth;
  }
  return bad;
}

std::optional<Refused> check_behaviours(const v1::BehaviourReport& report) {
  Fields f("behaviours: ");
  f.rep(report.keys(), VIGIL_LIMIT("BehaviourReport.keys"));
  auto bad = f.result();
  if (bad) {
    bad->reason = Reason::kBadBehaviours;
  }
  return bad;
}

std::optional<Refused> check_batch(const v1::EventBatch& batch) {
  if (batch.events_size() == 0) {
    return Refused{Reason::kBadBatch, "batch: no events"};
  }
  if (static_cast<std::size_t>(batch.events_size()) > kMaxBatchEvents) {
    return Refused{Reason::kBadBatch,
                   fmt::format("batch: {} events, limit {}", batch.events_size(), kMaxBatchEvents)};
  }
  std::uint64_t prev = 0;
  for (const auto& e : batch.events()) {
    if (e.seq() <= prev) {
      return Refused{Reason::kBadBatch,
                     fmt::format("batch: seq {} out of order (after {})", e.seq(), prev)};
    }
    prev = e.seq();
  }
  // The ack is computed from the events; a header that claims more (or less)
  // than they hold is a broken or hostile sender, and acking by it would let
  // the collector skip seqs it never saw (docs/api.md, "Acks").
  const auto first = batch.events(0).seq();
  const auto last = batch.events(batch.events_size() - 1).seq();
  if (batch.first_seq() != first || batch.last_seq() != last) {
    return Refused{Reason::kHeaderMismatch,
                   fmt::format("batch: header says seqs {}..{} but its events are {}..{}",
                               batch.first_seq(), batch.last_seq(), first, last)};
  }
  return std::nullopt;
}

std::optional<Refused> check_event(const v1::Event& e) {
  Fields f(fmt::format("event seq {}: ", e.seq()));
  if (const auto size = e.ByteSizeLong(); size > wire::kMaxEventBytes) {
    f.fail(Reason::kTooLarge,
           fmt::format("{} bytes serialized, limit {}", size, wire::kMaxEventBytes));
    return f.result();
  }
  f.str(e.type(), VIGIL_LIMIT("Event.type"));
  if (f.ok() && !event_type_from_string(e.type())) {
    f.fail(Reason::kUnknownType, fmt::format("unknown type '{}'", e.type()));
  }
  if (e.score() > 100) {
    f.fail(Reason::kBadScore, fmt::format("score {} outside 0..100", e.score()));
  }
  if (e.ts_ns() == 0) {
    f.fail(Reason::kBadTimestamp, "no timestamp");
  }
  // A day of clock skew is tolerated; later than that is a broken or hostile
  // clock, and would sort the event after everything real (and outlive retention).
  if (e.ts_ns() > unix_now_ns() + kMaxClockSkewNs) {
    f.fail(Reason::kBadTimestamp,
           fmt::format("timestamp {} is more than a day in the future", e.ts_ns()));
  }
  f.str(e.comm(), VIGIL_LIMIT("Event.comm"));
  f.str(e.exe(), VIGIL_LIMIT("Event.exe"));
  f.str(e.summary(), VIGIL_LIMIT("Event.summary"));
  f.str(e.alert_id(), VIGIL_LIMIT("Event.alert_id"));
  f.rep(e.indicators(), VIGIL_LIMIT("Event.indicators"));
  for (const auto& hit : e.indicators()) {
    f.str(hit.id(), VIGIL_LIMIT("IndicatorHit.id"));
    f.str(hit.attack(), VIGIL_LIMIT("IndicatorHit.attack"));
    check_rule(f, hit.rule());
  }
  check_detail(f, e);
  check_container(f, e.container());
  f.rep(e.feature_slots(), VIGIL_LIMIT("Event.feature_slots"));
  f.rep(e.feature_values(), VIGIL_LIMIT("Event.feature_values"));
  if (f.ok() && e.feature_slots_size() != e.feature_values_size()) {
    f.fail(Reason::kBadFeatures, fmt::format("{} feature slots but {} values",
                                             e.feature_slots_size(), e.feature_values_size()));
  }
  for (int i = 0; f.ok() && i < e.feature_slots_size(); ++i) {
    if (e.feature_slots(i) >= kMaxFeatureSlots || !std::isfinite(e.feature_values(i))) {
      f.fail(Reason::kBadFeatures,
             fmt::format("feature slot {} out of range or not finite", e.feature_slots(i)));
    }
  }
  if (f.ok() && !e.alert_id().empty() && !valid_id(e.alert_id())) {
    f.fail(Reason::kBadId, "alert_id must be 1..128 characters of [A-Za-z0-9._-]");
  }
  return f.result();
}

#undef VIGIL_LIMIT

Result<void> validate_hello(const v1::Hello& hello) { return as_result(check_hello(hello)); }

Result<void> validate_batch(const v1::EventBatch& batch) {
  if (auto bad = check_batch(batch)) {
    return as_result(std::move(bad));
  }
  for (const auto& e : batch.events()) {
    if (auto bad = check_event(e)) {
      return as_result(std::move(bad));
    }
  }
  return {};
}

bool valid_label(std::string_view label) { return label == "malicious" || label == "benign"; }

}  // namespace vigil::collector
