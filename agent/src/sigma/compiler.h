// RuleDoc -> CompiledRule: modifiers applied, field names resolved, the
// condition turned into a node tree with the cheap tests first, and the
// literals a match must contain extracted for the index.
#pragma once

#include <memory>
#include <optional>

#include "parser.h"
#include "program.h"

namespace vigil::agent::sigma::detail {

// Keyword selections (plain strings, no field) search one field per category.
[[nodiscard]] std::optional<Field> keyword_field(Category c);

[[nodiscard]] Result<std::unique_ptr<CompiledRule>> compile_rule(RuleDoc doc, Category category);

}  // namespace vigil::agent::sigma::detail
