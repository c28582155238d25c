// Every field from the wire is checked before anything is stored, against the
// one limits table (vigil/wire_limits.h). A failed check names a stable reason
// code (docs/api.md, "Refusal reasons") and says which field and limit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vigil/result.h"
#include "vigil/v1/agent.pb.h"
#include "vigil/wire_limits.h"

namespace vigil::collector {

inline constexpr std::size_t kMaxBatchEvents = wire::kMaxBatchEvents;
inline constexpr std::size_t kMaxIdLength = wire::kMaxIdBytes;
inline constexpr std::size_t kMaxStringBytes = 8192;  // operator-supplied text (comments)

// Why the collector refused something. Stream reasons end the stream (a
// Refusal, then a non-OK status); event reasons refuse one event of a batch
// (listed in the ack) and the stream goes on. Each is counted by reason.
enum class Reason : std::uint8_t {
  // Stream
  kBadHello,
  kBadHealth,
  kBadBatch,        // empty, too many events, seqs out of order
  kHeaderMismatch,  // first_seq/last_seq disagree with the events carried
  kProtocol,        // batch or health before hello, second hello, empty message
  kUndecodable,     // did not parse (e.g. a string that is not UTF-8)
  kIdentity,        // certificate identity, or admission (revoked)
  kOverMaxAgents,
  kRateLimited,
  kStorage,
  kReplaced,       // a newer stream for the same agent id took over
  kBadBehaviours,  // a BehaviourReport over its limit
  // Event
  kUnknownType,
  kBadScore,
  kBadTimestamp,
  kTooLarge,
  kBadFeatures,
  kBadId,
  kBadText,  // a container, image, pod, namespace or label with a control character
  kCount_,
};
inline constexpr std::size_t kReasonCount = static_cast<std::size_t>(Reason::kCount_);
[[nodiscard]] std::string_view reason_code(Reason reason);

struct Refused {
  Reason reason;
  std::string detail;
};

// Agent, host and alert ids: 1..128 of [A-Za-z0-9._-]. No ':': composite ids
// (an agent alert is "agent_id:alert_id") split at their only ':'.
[[nodiscard]] bool valid_id(std::string_view id);
// "agent_id:alert_id" (an agent alert) or a fleet alert's id ("fleet-...").
[[nodiscard]] bool valid_alert_ref(std::string_view id);

[[nodiscard]] std::optional<Refused> check_hello(const v1::Hello& hello);
[[nodiscard]] std::optional<Refused> check_health(const v1::Health& health);
// The batch as a whole: 1..kMaxBatchEvents events, seqs strictly increasing,
// and a header that agrees with them (first_seq = the first event's seq,
// last_seq = the last's). Refused whole: the stream ends, nothing is stored.
[[nodiscard]] std::optional<Refused> check_batch(const v1::EventBatch& batch);
// One event: known type, score 0..100, a timestamp at most a day ahead,
// every field within its limit, the whole within kMaxEventBytes.
[[nodiscard]] std::optional<Refused> check_event(const v1::Event& event);
// A behaviour report: at most wire::kMaxBehaviourKeys hashes (kBadBehaviours).
[[nodiscard]] std::optional<Refused> check_behaviours(const v1::BehaviourReport& report);

// The same checks as Results (the whole batch, every event), for callers that
// want all-or-nothing (tests, fuzzing).
[[nodiscard]] Result<void> validate_hello(const v1::Hello& hello);
[[nodiscard]] Result<void> validate_batch(const v1::EventBatch& batch);
[[nodiscard]] bool valid_label(std::string_view label);

}  // namespace vigil::collector
