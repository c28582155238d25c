// Byte-level text helpers for the Sigma engine: ASCII case folding without
// copies, and the pattern form of a Sigma string value (literal bytes and
// the `*` / `?` wildcards).
//
// Sigma compares case-insensitively. Folding is ASCII only: rules and the
// fields vigil fills are paths and command lines, and Unicode case mapping
// would need tables and allocation on the hot path. Non-ASCII bytes compare
// as they are.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::agent::sigma::detail {

inline constexpr std::array<unsigned char, 256> kFold = [] {
  std::array<unsigned char, 256> t{};
  for (int i = 0; i < 256; ++i) {
    t[i] = static_cast<unsigned char>((i >= 'A' && i <= 'Z') ? i + ('a' - 'A') : i);
  }
  return t;
}();

[[nodiscard]] inline unsigned char fold(char c) { return kFold[static_cast<unsigned char>(c)]; }

[[nodiscard]] inline std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(fold(c));
  }
  return out;
}

// `lower` must already be folded; only `text` is folded here.
[[nodiscard]] inline bool equal_folded(const char* text, const char* lower, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (fold(text[i]) != static_cast<unsigned char>(lower[i])) {
      return false;
    }
  }
  return true;
}

// Both sides folded (fieldref compares two event values).
[[nodiscard]] inline bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (fold(a[i]) != fold(b[i])) {
      return false;
    }
  }
  return true;
}

[[nodiscard]] inline bool starts_with(std::string_view text, std::string_view needle, bool cased) {
  if (needle.size() > text.size()) {
    return false;
  }
  return cased ? text.starts_with(needle) : equal_folded(text.data(), needle.data(), needle.size());
}

[[nodiscard]] inline bool ends_with(std::string_view text, std::string_view needle, bool cased) {
  if (needle.size() > text.size()) {
    return false;
  }
  const char* tail = text.data() + (text.size() - needle.size());
  return cased ? text.ends_with(needle) : equal_folded(tail, needle.data(), needle.size());
}

[[nodiscard]] inline bool contains(std::string_view text, std::string_view needle, bool cased) {
  if (needle.empty()) {
    return true;
  }
  if (needle.size() > text.size()) {
    return false;
  }
  if (cased) {
    return text.find(needle) != std::string_view::npos;
  }
  const auto first = static_cast<unsigned char>(needle[0]);
  const std::size_t last = text.size() - needle.size();
  for (std::size_t i = 0; i <= last; ++i) {
    if (fold(text[i]) == first &&
        equal_folded(text.data() + i + 1, needle.data() + 1, needle.size() - 1)) {
      return true;
    }
  }
  return false;
}

// Both sides folded at match time (fieldref with contains/startswith/endswith).
[[nodiscard]] inline bool relate_both_folded(std::string_view text, std::string_view other,
                                             bool prefix, bool suffix, bool cased) {
  auto eq = [cased](std::string_view a, std::string_view b) {
    return cased ? a == b : iequals_ascii(a, b);
  };
  if (other.size() > text.size()) {
    return false;
  }
  if (prefix && suffix) {
    for (std::size_t i = 0; i + other.size() <= text.size(); ++i) {
      if (eq(text.substr(i, other.size()), other)) {
        return true;
      }
    }
    return false;
  }
  if (prefix) {
    return eq(text.substr(0, other.size()), other);
  }
  if (suffix) {
    return eq(text.substr(text.size() - other.size()), other);
  }
  return eq(text, other);
}

// The byte after the UTF-8 sequence starting at `i` (a `?` wildcard matches
// one character, not one byte). Invalid sequences advance one byte at a time.
[[nodiscard]] inline std::size_t next_char(std::string_view s, std::size_t i) {
  ++i;
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) {
    ++i;
  }
  return i;
}

// A Sigma string value: literal bytes and wildcards, kept apart so that an
// escaped `\*` stays a literal star.
struct Pattern {
  enum Kind : char { kLiteral = 'l', kAnyRun = '*', kAnyChar = '?' };
  std::string chars;  // the byte (for wildcards: '*' or '?')
  std::string kinds;  // Kind per byte

  static Pattern literal(std::string_view s) {
    Pattern p;
    p.chars.assign(s);
    p.kinds.assign(s.size(), kLiteral);
    return p;
  }
  // Sigma v2 escaping: `\` escapes `*`, `?` and `\`; before any other
  // character it is a literal backslash.
  static Pattern parse(std::string_view raw) {
    Pattern p;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const char c = raw[i];
      if (c == '\\' && i + 1 < raw.size() &&
          (raw[i + 1] == '*' || raw[i + 1] == '?' || raw[i + 1] == '\\')) {
        p.push(raw[++i], kLiteral);
      } else if (c == '*') {
        p.push('*', kAnyRun);
      } else if (c == '?') {
        p.push('?', kAnyChar);
      } else {
        p.push(c, kLiteral);
      }
    }
    return p;
  }

  void push(char c, Kind k) {
    chars.push_back(c);
    kinds.push_back(static_cast<char>(k));
  }
  void append(const Pattern& o) {
    chars += o.chars;
    kinds += o.kinds;
  }
  [[nodiscard]] std::size_t size() const { return chars.size(); }
  [[nodiscard]] bool is_wild(std::size_t i) const { return kinds[i] != kLiteral; }
  [[nodiscard]] bool has_wildcards() const {
    return kinds.find_first_not_of(static_cast<char>(kLiteral)) != std::string::npos;
  }
  [[nodiscard]] bool starts_with_run() const { return !kinds.empty() && kinds.front() == kAnyRun; }
  [[nodiscard]] bool ends_with_run() const { return !kinds.empty() && kinds.back() == kAnyRun; }
  // The literal text (only meaningful without wildcards).
  [[nodiscard]] const std::string& text() const { return chars; }
  // The longest run of literal bytes: a match must contain it.
  [[nodiscard]] std::string_view longest_literal() const {
    std::size_t best = 0, best_len = 0, start = 0;
    for (std::size_t i = 0; i <= size(); ++i) {
      if (i == size() || is_wild(i)) {
        if (i - start > best_len) {
          best = start;
          best_len = i - start;
        }
        start = i + 1;
      }
    }
    return std::string_view(chars).substr(best, best_len);
  }
};

// Wildcard match over the whole text, without allocating. `p.chars` is
// folded unless `cased`. Classic single-backtrack-point glob (the last `*`
// absorbs one more character on a mismatch): O(text * pattern) worst case.
[[nodiscard]] inline bool glob_match(std::string_view text, const Pattern& p, bool cased) {
  const std::size_t np = p.size();
  std::size_t t = 0, i = 0;
  std::size_t star_i = std::string::npos, star_t = 0;
  while (t < text.size()) {
    if (i < np) {
      const char k = p.kinds[i];
      if (k == Pattern::kAnyRun) {
        star_i = i++;
        star_t = t;
        continue;
      }
      if (k == Pattern::kAnyChar) {
        t = next_char(text, t);
        ++i;
        continue;
      }
      const bool same =
          cased ? text[t] == p.chars[i] : fold(text[t]) == static_cast<unsigned char>(p.chars[i]);
      if (same) {
        ++t;
        ++i;
        continue;
      }
    }
    if (star_i == std::string::npos) {
      return false;
    }
    i = star_i + 1;
    star_t = next_char(text, star_t);
    t = star_t;
  }
  while (i < np && p.kinds[i] == Pattern::kAnyRun) {
    ++i;
  }
  return i == np;
}

}  // namespace vigil::agent::sigma::detail
