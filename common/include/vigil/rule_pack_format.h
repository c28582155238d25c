// What a rule pack may hold, checked by the collector before it signs one and
// by every agent before it writes one to disk (docs/operations.md, "Rule packs").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "vigil/result.h"

namespace vigil {

// Limits: a signed update travels as one gRPC message to agents, whose
// channel accepts 4 MiB by default.
inline constexpr std::size_t kRulePackMaxFiles = 4096;
inline constexpr std::size_t kRulePackMaxFileBytes = 1 << 20;
inline constexpr std::size_t kRulePackMaxBytes = 3 << 20;  // all YAML of a pack
// RulePack.disabled: rule ids or names the pack switches off.
inline constexpr std::size_t kRulePackMaxDisabled = 1000;
inline constexpr std::size_t kRulePackMaxDisabledBytes = 200;  // per id

// Signed bytes = this prefix + the serialized RulePack, so that no other
// artefact's signature (a model's is over the bare model) verifies as a pack's.
inline constexpr std::string_view kRulePackSignatureContext = "vigil.v1.RulePack\n";
[[nodiscard]] std::string rule_pack_signed_message(std::string_view pack_bytes);

// A version names a directory on every agent: 1..128 characters of
// [A-Za-z0-9._:-], not starting with '.'.
[[nodiscard]] Result<void> check_rule_pack_version(std::string_view version);
// A file name is a relative path: '/'-separated components of [A-Za-z0-9._-],
// none empty or starting with '.', at most 255 characters, ending in .yml or
// .yaml. Nothing else can be written below the pack's directory.
[[nodiscard]] Result<void> check_rule_pack_file_name(std::string_view name);
// A disabled id or name is 1..200 bytes of printable ASCII (' ' to '~'): no
// line breaks, so agents keep them one per line next to the pack's files.
[[nodiscard]] Result<void> check_rule_pack_disabled_id(std::string_view id);

}  // namespace vigil
