// One compiled value test (a Sigma value after its modifiers) and the
// per-event evaluation of a rule's program. Nothing here allocates at match
// time: literals are folded at compile time, regexes are RE2 searches over
// string views, addresses parse into stack buffers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text.h"
#include "vigil/agent/sigma.h"

namespace re2 {
class RE2;
}

namespace vigil::agent::sigma::detail {

struct Cidr {
  bool v6 = false;
  std::array<std::uint8_t, 16> addr{};  // network address (v4 in the first 4 bytes)
  std::uint8_t prefix = 0;
};
// "10.0.0.0/8", "fe80::/10", or a bare address (a /32 or /128).
[[nodiscard]] std::optional<Cidr> parse_cidr(std::string_view text);
[[nodiscard]] bool cidr_contains(const Cidr& net, std::string_view address);

// Decimal (or floating point) text -> number; false when it is not one.
[[nodiscard]] bool parse_number(std::string_view text, double& out);

enum class MatchKind : std::uint8_t {
  kExact,     // whole value equals lit
  kPrefix,    // value starts with lit
  kSuffix,    // value ends with lit
  kContains,  // value contains lit
  kGlob,      // wildcard pattern (wildcards inside the value)
  kAnyValue,  // `*`: any present value
  kRegex,     // RE2 search
  kCidr,      // address in network
  kCompare,   // numeric lt/lte/gt/gte
  kFieldRef,  // equals (or contains/starts/ends with) another field's value
  kNull,      // absent or empty
  kExists,    // present (flag) or absent (!flag)
};

enum class CompareOp : std::uint8_t { kLt, kLte, kGt, kGte };

struct Matcher {
  MatchKind kind = MatchKind::kExact;
  bool cased = false;                           // lit compared as is; otherwise lit is folded
  bool flag = false;                            // kExists: the presence wanted
  bool ref_prefix = false, ref_suffix = false;  // kFieldRef
  CompareOp op = CompareOp::kLt;
  Field ref = Field::kCount;
  double number = 0;
  std::string lit;  // kExact..kContains
  Pattern glob;     // kGlob
  std::shared_ptr<const re2::RE2> re;
  Cidr cidr;

  [[nodiscard]] bool match(const RuleEvent& e, bool present, std::string_view value) const;
  // A rough relative cost, to try cheap tests first.
  [[nodiscard]] int cost() const;
  // Folded literals of which every matching value contains at least one;
  // empty if there is no such set.
  [[nodiscard]] std::vector<std::string> required_literals() const;
};

// For a regex: folded literals (each at least 2 bytes) of which every match
// contains at least one, or empty when that cannot be shown. Conservative: it
// reads literal bytes outside classes and not made optional by a quantifier,
// alternatives (top level or in a required group) give one literal each.
[[nodiscard]] std::vector<std::string> regex_required_literals(std::string_view pattern);

}  // namespace vigil::agent::sigma::detail
