// The Sigma condition grammar (pySigma's sigma/conditions.py, without the
// deprecated aggregations):
//
//   expr    := and ('or' and)*
//   and     := not ('and' not)*
//   not     := 'not' not | primary
//   primary := '(' expr ')' | ('1' | 'any' | 'all') 'of' (pattern | 'them') | identifier
//
// so `not` binds tighter than `and`, and `and` tighter than `or`. Operators
// are case-insensitive; identifiers are not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vigil/result.h"

namespace vigil::agent::sigma::detail {

struct Condition {
  enum class Kind { kAnd, kOr, kNot, kRef, kOneOf, kAllOf };
  Kind kind = Kind::kRef;
  std::string name;  // kRef: the selection; kOneOf/kAllOf: the pattern ("" = them)
  std::vector<Condition> kids;
};

[[nodiscard]] Result<Condition> parse_condition(std::string_view text);

// `1 of sel*`: `*` any run, `?` one character; selection names are case-sensitive.
[[nodiscard]] bool name_matches(std::string_view pattern, std::string_view name);

}  // namespace vigil::agent::sigma::detail
