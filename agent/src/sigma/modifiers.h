// Sigma value modifiers (the modifiers appendix of the v2 specification; one
// case per modifier as pySigma's sigma/modifiers.py has one class each).
// A detection item `Field|m1|m2: values` becomes one Item: its values, each
// run through the modifiers in the order written, compiled into Matchers.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "matcher.h"
#include "vigil/result.h"

namespace vigil::agent::sigma::detail {

// A YAML scalar as the rule wrote it. Plain (unquoted) numbers and booleans
// keep their own type: Sigma compares them as the strings of their decimal
// form, and only numbers take lt/lte/gt/gte.
struct RawValue {
  enum class Type { kString, kNumber, kBool, kNull };
  Type type = Type::kString;
  std::string text;  // numbers in decimal, booleans "true"/"false", null ""
};

struct ItemSpec {
  bool all = false;     // `all`: every value must match (default: any)
  bool negate = false;  // `neq`: the item matches when no value does
  std::vector<Matcher> matchers;
};

// `modifiers` are the names after the field ("contains", "all", ...);
// `has_field` is false for keyword items (`'|all': [...]`).
[[nodiscard]] Result<ItemSpec> compile_item(std::span<const std::string> modifiers,
                                            std::span<const RawValue> values, bool has_field);

// Exposed for tests.
[[nodiscard]] std::string base64_encode(std::string_view bytes);
[[nodiscard]] std::vector<std::string> base64_offsets(std::string_view bytes);

}  // namespace vigil::agent::sigma::detail
