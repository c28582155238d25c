#include "vigil/cli/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>

namespace vigil::cli {

std::optional<std::uint64_t> parse_duration(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  std::uint64_t mult = 1;
  switch (text.back()) {
    case 's':
      text.remove_suffix(1);
      break;
    case 'm':
      mult = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      mult = 3600;
      text.remove_suffix(1);
      break;
    case 'd':
      mult = 86400;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc{} || ptr != end || text.empty() || v > (1ULL << 40)) {
    return std::nullopt;
  }
  return v * mult;
}

std::string format_time(std::uint64_t unix_ns) {
  if (unix_ns == 0) {
    return "-";
  }
  const std::time_t t = static_cast<std::time_t>(unix_ns / 1'000'000'000ULL);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M:%S", &tm);
  return buf.data();
}

std::string format_age(std::uint64_t unix_ns, std::uint64_t now_ns) {
  if (unix_ns == 0) {
    return "never";
  }
  const std::uint64_t s = now_ns > unix_ns ? (now_ns - unix_ns) / 1'000'000'000ULL : 0;
  if (s < 120) return fmt::format("{}s ago", s);
  if (s < 7200) return fmt::format("{}m ago", s / 60);
  if (s < 172800) return fmt::format("{}h ago", s / 3600);
  return fmt::format("{}d ago", s / 86400);
}

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (bytes < (1ULL << 20)) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024);
  if (bytes < (1ULL << 30))
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1ULL << 30));
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto escape = [&](unsigned char c) { out += fmt::format("\\x{:02x}", c); };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      escape(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (no overlongs, no surrogates), else one escaped byte.
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
      cp = c & 0x1fU;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      cp = c & 0x0fU;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      cp = c & 0x07U;
    }
    bool ok = n != 0 && i + n <= text.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      ok = (cc & 0xc0U) == 0x80U;
      cp = (cp << 6) | (cc & 0x3fU);
    }
    ok = ok && !(n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) &&
         !(n == 4 && (cp < 0x10000 || cp > 0x10ffff));
    if (!ok) {
      escape(c);
      ++i;
      continue;
    }
    if (cp <= 0x9f) {  // C1 controls: 0x9b (CSI) starts an escape sequence too
      out += fmt::format("\\u{:04x}", cp);
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

namespace {

// Display width in code points (good enough for the ASCII and box glyphs we print).
std::size_t width(std::string_view s) {
  return static_cast<std::size_t>(std::ranges::count_if(
      s, [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string cut(const std::string& s, std::size_t max) {
  if (width(s) <= max) {
    return s;
  }
  std::string out;
  std::size_t w = 0;
  for (char c : s) {
    const bool lead = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (lead && ++w > max - 1) {
      break;
    }
    out.push_back(c);
  }
  return out + "…";
}

}  // namespace

std::string Table::render(std::size_t max_cell) const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], std::min(width(printable(row[i])), max_cell));
    }
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      const auto cell = cut(printable(row[i]), max_cell);
      line += cell;
      if (i + 1 < row.size()) {
        line.append(widths[i] - width(cell) + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line;
    out += '\n';
  }
  return out;
}

std::string sparkline(const std::vector<std::uint64_t>& values) {
  static constexpr std::array<const char*, 8> kBars = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const auto max = values.empty() ? 0 : *std::ranges::max_element(values);
  std::string out;
  for (auto v : values) {
    out += max == 0 ? kBars[0] : kBars[std::min<std::uint64_t>(7, v * 7 / max)];
  }
  return out;
}

}  // namespace vigil::cli
