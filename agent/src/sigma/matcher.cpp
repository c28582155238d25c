#include "matcher.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>
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

std::string Matcher::required_literal() const {
  switch (kind) {
    case MatchKind::kExact:
    case MatchKind::kPrefix:
    case MatchKind::kSuffix:
    case MatchKind::kContains:
      return to_lower_ascii(lit);
    case MatchKind::kGlob:
      return to_lower_ascii(glob.longest_literal());
    default:
      return {};
  }
}

}  // namespace vigil::agent::sigma::detail
