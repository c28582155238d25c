// RocksDB key layouts. Integers are big-endian so bytewise order is numeric order
// and range scans read in time order (docs/operations.md, "Data directory").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::collector {

void put_be64(std::string& out, std::uint64_t v);
[[nodiscard]] std::uint64_t get_be64(std::string_view s, std::size_t off);

// events CF: ts_ns(8) | seq(8) | agent_id
struct EventKey {
  std::uint64_t ts_ns = 0;
  std::uint64_t seq = 0;
  std::string agent_id;
};
[[nodiscard]] std::string event_key(std::uint64_t ts_ns, std::uint64_t seq,
                                    std::string_view agent_id);
[[nodiscard]] std::optional<EventKey> parse_event_key(std::string_view key);

// alerts CF: ts_ns(8) | alert id. The id -> key index lives in meta ("alert/" + id).
[[nodiscard]] std::string alert_key(std::uint64_t ts_ns, std::string_view id);
[[nodiscard]] std::string alert_index_key(std::string_view id);

// rollups CF: minute start ns(8) | host. One record (v1::HostMinute) per host
// per minute of event time, merged at ingest.
inline constexpr std::uint64_t kMinuteNs = 60'000'000'000ULL;
[[nodiscard]] inline std::uint64_t minute_of(std::uint64_t ts_ns) {
  return ts_ns - ts_ns % kMinuteNs;
}
[[nodiscard]] std::string rollup_key(std::uint64_t minute_ns, std::string_view host);

// Hex of raw bytes (the feedback log, tests); page tokens are page_token.h's.
[[nodiscard]] std::string to_hex(std::string_view bytes);
[[nodiscard]] std::optional<std::string> from_hex(std::string_view hex);

}  // namespace vigil::collector
