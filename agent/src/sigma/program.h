// A compiled rule: its condition as a small tree of nodes over items
// (field + value matchers), evaluated with short circuits and no allocation.
// Selections shared by several parts of a condition are one subtree.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "matcher.h"
#include "vigil/agent/sigma.h"

namespace vigil::agent::sigma::detail {

struct Node {
  enum class Op : std::uint8_t { kAnd, kOr, kNot, kItem, kConst };
  Op op = Op::kConst;
  bool value = false;   // kConst
  std::uint32_t a = 0;  // kAnd/kOr: first kid index; kNot: child node; kItem: item
  std::uint32_t n = 0;  // kAnd/kOr: kid count
};

struct Item {
  Field field = Field::kCount;
  bool all = false;
  bool negate = false;
  std::uint32_t first = 0;  // matchers[first, first + count)
  std::uint32_t count = 0;
};

// A (field, folded literal) pair: "the folded value of `field` contains
// `literal`". A rule's prefilter is a set of atoms of which every match
// satisfies at least one.
struct Atom {
  Field field = Field::kCount;
  std::string literal;
};

class Program {
 public:
  std::vector<Node> nodes;
  std::vector<std::uint32_t> kids;
  std::vector<Item> items;
  std::vector<Matcher> matchers;
  std::uint32_t root = 0;

  [[nodiscard]] bool eval(const RuleEvent& e) const { return eval(root, e); }
  [[nodiscard]] bool eval(std::uint32_t node, const RuleEvent& e) const;
  [[nodiscard]] bool eval_item(const Item& item, const RuleEvent& e) const;
};

}  // namespace vigil::agent::sigma::detail

namespace vigil::agent::sigma {

class CompiledRule {
 public:
  RuleInfo info;
  detail::Program program;
  // Empty when the rule has no literal every match must contain (a negation
  // at the top, a regex, a cidr...): it is then evaluated for every event of
  // its category.
  std::vector<detail::Atom> atoms;
  mutable RuleCounters counters;
  std::atomic<bool> disabled{false};
};

}  // namespace vigil::agent::sigma
