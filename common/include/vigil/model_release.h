// What is signed for a scoring model, in one place for the collector, agents
// and vigilctl (docs/security.md, "Models"). Two keys:
//  - the collector's online key grants a model for one scope: "canary" (a
//    share of the fleet, until an expiry) or "fleet";
//  - the release key, kept offline by an operator (`vigilctl models sign`),
//    releases a model under a monotonic sequence number and signs a rollback
//    marker that lets agents return from that release to the previous one.
// An agent runs a fleet-scope model only with both signatures. Every message
// starts with its own context line, so no signature passes for another kind
// (nor for a rule pack's, "vigil.v1.RulePack\n").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil {

inline constexpr std::string_view kModelScopeCanary = "canary";
inline constexpr std::string_view kModelScopeFleet = "fleet";
// A model scored beside the active one, never acting (docs/api.md, "Shadow
// scoring"): granted by the online key alone, with expires_ns 0; agents take
// it only from CollectorMessage.shadow_model and never run it.
inline constexpr std::string_view kModelScopeShadow = "shadow";
// The longest canary grant an agent accepts: a collector cannot keep a model
// nobody released on a host for longer than this (the collector's default
// grant is shorter, model_canary_ttl_s).
inline constexpr std::uint64_t kModelMaxCanaryTtlS = 30 * 86400ULL;

// The online key's grant: "vigil.v1.ModelGrant\n" SCOPE "\n" EXPIRES_NS "\n" MODEL.
// A fleet grant has expires_ns 0.
[[nodiscard]] std::string model_grant_message(std::string_view scope, std::uint64_t expires_ns,
                                              std::string_view model_bytes);
// The release key's release: "vigil.v1.ModelRelease\n" SEQ "\n" MODEL.
[[nodiscard]] std::string model_release_message(std::uint64_t release_seq,
                                                std::string_view model_bytes);
// The release key's rollback marker: agents whose highest release is
// `from_seq` may go back to any release numbered `to_seq` or above.
// "vigil.v1.ModelRollback\n" FROM "\n" TO "\n".
[[nodiscard]] std::string model_rollback_message(std::uint64_t from_seq, std::uint64_t to_seq);

}  // namespace vigil
