// vigilctl's rendering: durations, times, and aligned text tables. Pure
// functions, unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::cli {

// "90s", "15m", "2h", "7d" or plain seconds -> seconds.
[[nodiscard]] std::optional<std::uint64_t> parse_duration(std::string_view text);
// "2026-11-24 05:51:37" (UTC) for unix ns; "-" for 0.
[[nodiscard]] std::string format_time(std::uint64_t unix_ns);
// "3s ago", "5m ago", "2h ago", "4d ago".
[[nodiscard]] std::string format_age(std::uint64_t unix_ns, std::uint64_t now_ns);
[[nodiscard]] std::string format_bytes(std::uint64_t bytes);

// Agent-supplied text made safe for a terminal: C0 and C1 control characters
// (ANSI escapes, carriage returns, newlines), DEL and bytes that are not UTF-8
// become visible escapes ("\x1b"); other UTF-8 is kept.
[[nodiscard]] std::string printable(std::string_view text);

// Every cell goes through printable(): tables show what agents reported.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Columns padded to their widest cell; the last column is not padded and
  // cells longer than `max_cell` are cut with "…".
  [[nodiscard]] std::string render(std::size_t max_cell = 80) const;
  [[nodiscard]] std::size_t rows() const { return rows_.size() - 1; }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// A one-line sparkline of counts ("▁▂▅█").
[[nodiscard]] std::string sparkline(const std::vector<std::uint64_t>& values);

}  // namespace vigil::cli
