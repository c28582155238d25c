#include "vigil/collector/validate.h"

#include <fmt/format.h>

#include <cmath>

#include "vigil/clock.h"
#include "vigil/event.h"

namespace vigil::collector {

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) {
    return false;
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == ':';
    if (!ok) {
      return false;
    }
  }
  return true;
}

Result<void> validate_hello(const v1::Hello& hello) {
  if (!valid_id(hello.agent_id())) {
    return make_error(ErrorCode::kInvalidArgument,
                      "hello: agent_id must be 1..128 characters of [A-Za-z0-9._:-]");
  }
  if (!valid_id(hello.host_id())) {
    return make_error(ErrorCode::kInvalidArgument,
                      "hello: host_id must be 1..128 characters of [A-Za-z0-9._:-]");
  }
  if (hello.version().size() > kMaxIdLength || hello.kernel().size() > kMaxStringBytes ||
      hello.addresses_size() > 256 || hello.probes_size() > 64) {
    return make_error(ErrorCode::kInvalidArgument, "hello: a field exceeds its size limit");
  }
  return {};
}

namespace {

bool too_long(const std::string& s) { return s.size() > kMaxStringBytes; }

// Any schema's slots fit in a byte; this build trains only on its own schema.
constexpr std::uint32_t kMaxFeatureSlots = 256;
constexpr std::uint64_t kMaxClockSkewNs = 86'400ULL * 1'000'000'000ULL;

Result<void> validate_event(const v1::Event& e) {
  if (!event_type_from_string(e.type())) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("event seq {}: unknown type '{}'",
                                                               e.seq(), e.type().substr(0, 64)));
  }
  if (e.score() > 100) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("event seq {}: score {} outside 0..100", e.seq(), e.score()));
  }
  if (e.ts_ns() == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("event seq {}: no timestamp", e.seq()));
  }
  // A day of clock skew is tolerated; later than that is a broken or hostile
  // clock, and would sort the event after everything real (and outlive retention).
  if (e.ts_ns() > unix_now_ns() + kMaxClockSkewNs) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("event seq {}: timestamp {} is more than a day in the future",
                                  e.seq(), e.ts_ns()));
  }
  if (too_long(e.comm()) || too_long(e.exe()) || too_long(e.summary()) || too_long(e.alert_id()) ||
      e.indicators_size() > 64 || (e.has_exec() && e.exec().args_size() > 256)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("event seq {}: a field exceeds its size limit", e.seq()));
  }
  if (e.feature_slots_size() != e.feature_values_size() ||
      e.feature_slots_size() > static_cast<int>(kMaxFeatureSlots)) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("event seq {}: {} feature slots but {} values (limit {})", e.seq(),
                    e.feature_slots_size(), e.feature_values_size(), kMaxFeatureSlots));
  }
  for (int i = 0; i < e.feature_slots_size(); ++i) {
    if (e.feature_slots(i) >= kMaxFeatureSlots || !std::isfinite(e.feature_values(i))) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("event seq {}: feature slot {} out of range or not finite",
                                    e.seq(), e.feature_slots(i)));
    }
  }
  if (!e.alert_id().empty() && !valid_id(e.alert_id())) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("event seq {}: malformed alert_id", e.seq()));
  }
  return {};
}

}  // namespace

Result<void> validate_batch(const v1::EventBatch& batch) {
  if (batch.events_size() == 0) {
    return make_error(ErrorCode::kInvalidArgument, "batch: no events");
  }
  if (static_cast<std::size_t>(batch.events_size()) > kMaxBatchEvents) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("batch: {} events, limit {}", batch.events_size(), kMaxBatchEvents));
  }
  if (batch.first_seq() == 0 || batch.first_seq() > batch.last_seq()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("batch: bad seq range {}..{}", batch.first_seq(), batch.last_seq()));
  }
  std::uint64_t prev = 0;
  for (const auto& e : batch.events()) {
    if (e.seq() <= prev || e.seq() < batch.first_seq() || e.seq() > batch.last_seq()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("batch: seq {} out of order or outside {}..{}", e.seq(),
                                    batch.first_seq(), batch.last_seq()));
    }
    prev = e.seq();
    if (auto r = validate_event(e); !r) {
      return r;
    }
  }
  return {};
}

bool valid_label(std::string_view label) { return label == "malicious" || label == "benign"; }

}  // namespace vigil::collector
