// Every field from the wire is checked before anything is stored: a message that
// fails gets a clear reason and changes nothing.
#pragma once

#include <string_view>

#include "vigil/result.h"
#include "vigil/v1/agent.pb.h"

namespace vigil::collector {

inline constexpr std::size_t kMaxBatchEvents = 10000;
inline constexpr std::size_t kMaxIdLength = 128;
inline constexpr std::size_t kMaxStringBytes = 8192;

// Agent and host ids: 1..128 of [A-Za-z0-9._:-].
[[nodiscard]] bool valid_id(std::string_view id);
[[nodiscard]] Result<void> validate_hello(const v1::Hello& hello);
// Seqs strictly increasing and within [first_seq, last_seq], known event types,
// scores 0..100, bounded strings.
[[nodiscard]] Result<void> validate_batch(const v1::EventBatch& batch);
[[nodiscard]] bool valid_label(std::string_view label);

}  // namespace vigil::collector
