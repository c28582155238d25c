#include "program.h"

namespace vigil::agent::sigma::detail {

bool Program::eval_item(const Item& item, const RuleEvent& e) const {
  const auto f = static_cast<std::size_t>(item.field);
  const bool present = e.present[f];
  const std::string_view v = present ? e.value[f] : std::string_view{};
  bool result = item.all;
  for (std::uint32_t i = item.first; i < item.first + item.count; ++i) {
    const bool hit = matchers[i].match(e, present, v);
    if (item.all && !hit) {
      result = false;
      break;
    }
    if (!item.all && hit) {
      result = true;
      break;
    }
  }
  return item.negate ? !result : result;
}

bool Program::eval(std::uint32_t index, const RuleEvent& e) const {
  const Node& node = nodes[index];
  switch (node.op) {
    case Node::Op::kConst:
      return node.value;
    case Node::Op::kItem:
      return eval_item(items[node.a], e);
    case Node::Op::kNot:
      return !eval(node.a, e);
    case Node::Op::kAnd:
      for (std::uint32_t k = node.a; k < node.a + node.n; ++k) {
        if (!eval(kids[k], e)) {
          return false;
        }
      }
      return true;
    case Node::Op::kOr:
      for (std::uint32_t k = node.a; k < node.a + node.n; ++k) {
        if (eval(kids[k], e)) {
          return true;
        }
      }
      return false;
  }
  return false;
}

}  // namespace vigil::agent::sigma::detail
