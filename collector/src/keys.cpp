#include "vigil/collector/keys.h"

namespace vigil::collector {

void put_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

std::uint64_t get_be64(std::string_view s, std::size_t off) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    v = (v << 8) | static_cast<std::uint8_t>(s[off + i]);
  }
  return v;
}

std::string event_key(std::uint64_t ts_ns, std::uint64_t seq, std::string_view agent_id) {
  std::string k;
  k.reserve(16 + agent_id.size());
  put_be64(k, ts_ns);
  put_be64(k, seq);
  k.append(agent_id);
  return k;
}

std::optional<EventKey> parse_event_key(std::string_view key) {
  if (key.size() < 17) {
    return std::nullopt;
  }
  return EventKey{get_be64(key, 0), get_be64(key, 8), std::string(key.substr(16))};
}

std::string alert_key(std::uint64_t ts_ns, std::string_view id) {
  std::string k;
  k.reserve(8 + id.size());
  put_be64(k, ts_ns);
  k.append(id);
  return k;
}

std::string rollup_key(std::uint64_t minute_ns, std::string_view host) {
  std::string k;
  k.reserve(8 + host.size());
  put_be64(k, minute_ns);
  k.append(host);
  return k;
}

std::string alert_index_key(std::string_view id) { return "alert/" + std::string(id); }

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<std::uint8_t>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

}  // namespace vigil::collector
