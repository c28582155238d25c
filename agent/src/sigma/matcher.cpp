#include "matcher.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace vigil::agent::sigma::detail {
namespace {

// inet_pton wants a NUL-terminated string: copy into a stack buffer.
bool parse_address(std::string_view text, bool& v6, std::array<std::uint8_t, 16>& out) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof(buf)) {
    return false;
  }
  // A zone index (fe80::1%eth0) does not change the address.
  if (const auto pct = text.find('%'); pct != std::string_view::npos) {
    text = text.substr(0, pct);
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  out.fill(0);
  if (::inet_pton(AF_INET, buf, out.data()) == 1) {
    v6 = false;
    return true;
  }
  if (::inet_pton(AF_INET6, buf, out.data()) == 1) {
    v6 = true;
    return true;
  }
  return false;
}

bool prefix_equal(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
  const unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) {
    return false;
  }
  const unsigned rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<Cidr> parse_cidr(std::string_view text) {
  Cidr c;
  std::string_view addr = text;
  int prefix = -1;
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    const auto bits = text.substr(slash + 1);
    const auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (ec != std::errc() || p != bits.data() + bits.size() || bits.empty()) {
      return std::nullopt;
    }
  }
  if (!parse_address(addr, c.v6, c.addr)) {
    return std::nullopt;
  }
  const int max = c.v6 ? 128 : 32;
  if (prefix < 0) {
    prefix = max;
  }
  if (prefix > max) {
    return std::nullopt;
  }
  c.prefix = static_cast<std::uint8_t>(prefix);
  return c;
}

bool cidr_contains(const Cidr& net, std::string_view address) {
  bool v6 = false;
  std::array<std::uint8_t, 16> a;
  if (!parse_address(address, v6, a)) {
    return false;
  }
  if (v6 == net.v6) {
    return prefix_equal(a.data(), net.addr.data(), net.prefix);
  }
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as dual-stack sockets
  // report IPv4 peers) is its IPv4 address.
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (v6 && !net.v6 && std::memcmp(a.data(), kMapped, 12) == 0) {
    return prefix_equal(a.data() + 12, net.addr.data(), net.prefix);
  }
  return false;
}

bool parse_number(std::string_view text, double& out) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  if (text.empty()) {
    return false;
  }
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

bool Matcher::match(const RuleEvent& e, bool present, std::string_view v) const {
  switch (kind) {
    case MatchKind::kNull:
      return !present || v.empty();
    case MatchKind::kExists:
      return present == flag;
    default:
      break;
  }
  if (!present) {
    return false;
  }
  switch (kind) {
    case MatchKind::kExact:
      return v.size() == lit.size() &&
             (cased ? v == lit : equal_folded(v.data(), lit.data(), v.size()));
    case MatchKind::kPrefix:
      return starts_with(v, lit, cased);
    case MatchKind::kSuffix:
      return ends_with(v, lit, cased);
    case MatchKind::kContains:
      return contains(v, lit, cased);
    case MatchKind::kGlob:
      return glob_match(v, glob, cased);
    case MatchKind::kAnyValue:
      return true;
    case MatchKind::kRegex:
      return re2::RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), *re);
    case MatchKind::kCidr:
      return cidr_contains(cidr, v);
    case MatchKind::kCompare: {
      double x = 0;
      if (!parse_number(v, x)) {
        return false;
      }
      switch (op) {
        case CompareOp::kLt:
          return x < number;
        case CompareOp::kLte:
          return x <= number;
        case CompareOp::kGt:
          return x > number;
        case CompareOp::kGte:
          return x >= number;
      }
      return false;
    }
    case MatchKind::kFieldRef: {
      const auto r = static_cast<std::size_t>(ref);
      if (!e.present[r]) {
        return false;
      }
      return relate_both_folded(v, e.value[r], ref_prefix, ref_suffix, cased);
    }
    case MatchKind::kNull:
    case MatchKind::kExists:
      break;
  }
  return false;
}

int Matcher::cost() const {
  switch (kind) {
    case MatchKind::kNull:
    case MatchKind::kExists:
    case MatchKind::kAnyValue:
      return 0;
    case MatchKind::kExact:
    case MatchKind::kPrefix:
    case MatchKind::kSuffix:
      return 1;
    case MatchKind::kCompare:
      return 2;
    case MatchKind::kCidr:
    case MatchKind::kFieldRef:
      return 3;
    case MatchKind::kContains:
      return 4;
    case MatchKind::kGlob:
      return 6;
    case MatchKind::kRegex:
      return 25;
  }
  return 1;
}

std::vector<std::string> Matcher::required_literals() const {
  std::string one;
  switch (kind) {
    case MatchKind::kExact:
    case MatchKind::kPrefix:
    case MatchKind::kSuffix:
    case MatchKind::kContains:
      one = to_lower_ascii(lit);
      break;
    case MatchKind::kGlob:
      one = to_lower_ascii(glob.longest_literal());
      break;
    case MatchKind::kRegex:
      return re ? regex_required_literals(re->pattern()) : std::vector<std::string>{};
    default:
      return {};
  }
  if (one.empty()) {
    return {};
  }
  return {std::move(one)};
}

namespace {

// Shorter literals still filter ("7z" in a list of extensions); one byte does not.
constexpr std::size_t kMinRegexLiteral = 2;

// Index just past the class that starts at p[i] == '['.
std::size_t skip_class(std::string_view p, std::size_t i) {
  std::size_t j = i + 1;
  if (j < p.size() && p[j] == '^') {
    ++j;
  }
  if (j < p.size() && p[j] == ']') {
    ++j;  // a leading ']' is a member
  }
  while (j < p.size() && p[j] != ']') {
    if (p[j] == '\\') {
      ++j;
    } else if (p[j] == '[' && j + 1 < p.size() && p[j + 1] == ':') {
      const auto end = p.find(":]", j + 2);  // [:alpha:]
      if (end != std::string_view::npos) {
        j = end + 1;
      }
    }
    ++j;
  }
  return j + 1;
}

// Index of the ')' closing the group that opens at p[i] == '(', or npos.
std::size_t group_end(std::string_view p, std::size_t i) {
  int depth = 0;
  for (std::size_t j = i; j < p.size(); ++j) {
    if (p[j] == '\\') {
      ++j;
    } else if (p[j] == '[') {
      j = skip_class(p, j) - 1;
    } else if (p[j] == '(') {
      ++depth;
    } else if (p[j] == ')' && --depth == 0) {
      return j;
    }
  }
  return std::string_view::npos;
}

// A repetition at p[i] ('*', '+', '?', '{n}', '{n,}', '{n,m}'): its length
// (a lazy '?' included) and whether it allows zero; 0 when there is none.
std::size_t quantifier(std::string_view p, std::size_t i, bool& zero) {
  if (i >= p.size()) {
    return 0;
  }
  std::size_t len = 0;
  if (p[i] == '*' || p[i] == '?') {
    zero = true;
    len = 1;
  } else if (p[i] == '+') {
    zero = false;
    len = 1;
  } else if (p[i] == '{') {
    std::size_t j = i + 1;
    std::size_t digits = 0;
    unsigned min = 0;
    while (j < p.size() && p[j] >= '0' && p[j] <= '9') {
      min = min * 10 + static_cast<unsigned>(p[j] - '0');
      ++j;
      ++digits;
    }
    if (digits == 0) {
      return 0;  // a literal '{'
    }
    if (j < p.size() && p[j] == ',') {
      ++j;
      while (j < p.size() && p[j] >= '0' && p[j] <= '9') {
        ++j;
      }
    }
    if (j >= p.size() || p[j] != '}') {
      return 0;
    }
    zero = min == 0;
    len = j + 1 - i;
  } else {
    return 0;
  }
  if (i + len < p.size() && (p[i + len] == '?' || p[i + len] == '+')) {
    ++len;  // lazy or possessive
  }
  return len;
}

// Splits at '|' outside groups and classes.
std::vector<std::string_view> top_level_branches(std::string_view p) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t j = 0; j < p.size(); ++j) {
    if (p[j] == '\\') {
      ++j;
    } else if (p[j] == '[') {
      j = skip_class(p, j) - 1;
    } else if (p[j] == '(') {
      ++depth;
    } else if (p[j] == ')') {
      --depth;
    } else if (p[j] == '|' && depth == 0) {
      out.push_back(p.substr(start, j - start));
      start = j + 1;
    }
  }
  out.push_back(p.substr(start));
  return out;
}

std::vector<std::string> branch_literals(std::string_view p, int budget);

// One branch (no top-level '|'): its longest required literal run, else the
// alternatives of a required group.
std::vector<std::string> concat_literals(std::string_view p, int budget) {
  std::string best;
  std::string run;
  std::vector<std::string> from_group;
  auto flush = [&] {
    if (run.size() > best.size()) {
      best = run;
    }
    run.clear();
  };
  auto drop_last = [&] {  // the last character (all its UTF-8 bytes) is optional
    while (!run.empty() && (static_cast<unsigned char>(run.back()) & 0xC0) == 0x80) {
      run.pop_back();
    }
    if (!run.empty()) {
      run.pop_back();
    }
  };
  for (std::size_t i = 0; i < p.size();) {
    const char c = p[i];
    bool zero = false;
    if (c == '[') {
      flush();
      i = skip_class(p, i);
      i += quantifier(p, i, zero);
      continue;
    }
    if (c == '(') {
      flush();
      const std::size_t end = group_end(p, i);
      if (end == std::string_view::npos) {
        return {};
      }
      std::string_view inner = p.substr(i + 1, end - i - 1);
      const std::size_t q = quantifier(p, end + 1, zero);
      if (inner.starts_with('?')) {
        // (?flags) alone, (?flags:...), (?:...), (?P<name>...)
        std::size_t k = 1;
        while (k < inner.size() &&
               (std::isalpha(static_cast<unsigned char>(inner[k])) != 0 || inner[k] == '-')) {
          ++k;
        }
        if (inner.substr(1, k - 1).find('x') != std::string_view::npos) {
          return {};  // extended syntax: whitespace is not literal
        }
        if (inner.starts_with("?P<")) {
          const auto gt = inner.find('>');
          inner = gt == std::string_view::npos ? std::string_view{} : inner.substr(gt + 1);
        } else if (k < inner.size() && inner[k] == ':') {
          inner = inner.substr(k + 1);
        } else {
          inner = {};  // flags for what follows, or an unknown form: no literal
        }
      }
      if (!zero && !inner.empty() && from_group.empty() && budget > 0) {
        from_group = branch_literals(inner, budget - 1);
      }
      i = end + 1 + q;
      continue;
    }
    if (c == '.' || c == '^' || c == '$') {
      flush();
      ++i;
      i += quantifier(p, i, zero);
      continue;
    }
    std::size_t len = 1;
    char lit = c;
    bool literal = true;
    if (c == '\\') {
      if (i + 1 >= p.size()) {
        return {};
      }
      const char n = p[i + 1];
      len = 2;
      if (std::isalnum(static_cast<unsigned char>(n)) != 0) {
        literal = false;  // \d \w \s \b, \x41, \pL, octal ...: not taken as a literal
        if (n == 'Q') {
          return {};
        }
        if ((n == 'x' || n == 'p' || n == 'P') && i + 2 < p.size()) {
          if (p[i + 2] == '{') {
            const auto close = p.find('}', i + 2);
            len = close == std::string_view::npos ? p.size() - i : close + 1 - i;
          } else {
            len = n == 'x' ? 4 : 3;
          }
        } else if (n >= '0' && n <= '7') {
          while (len < 4 && i + len < p.size() && p[i + len] >= '0' && p[i + len] <= '7') {
            ++len;
          }
        }
      } else {
        lit = n;
      }
    }
    i = std::min(p.size(), i + len);
    if (!literal) {
      flush();
      i += quantifier(p, i, zero);
      continue;
    }
    run.push_back(lit);
    if (const std::size_t q = quantifier(p, i, zero); q != 0) {
      if (zero) {
        drop_last();
      }
      flush();
      i += q;
    }
  }
  flush();
  if (best.size() >= kMinRegexLiteral) {
    return {to_lower_ascii(best)};
  }
  return from_group;
}

std::vector<std::string> branch_literals(std::string_view p, int budget) {
  const auto branches = top_level_branches(p);
  std::vector<std::string> out;
  for (const auto b : branches) {
    auto lits = concat_literals(b, budget);
    if (lits.empty()) {
      return {};  // a branch without one: no set covers every match
    }
    out.insert(out.end(), std::make_move_iterator(lits.begin()),
               std::make_move_iterator(lits.end()));
  }
  return out;
}

}  // namespace

std::vector<std::string> regex_required_literals(std::string_view pattern) {
  return branch_literals(pattern, 4);
}

}  // namespace vigil::agent::sigma::detail
