// The rule index: which rules can match an event at all.
//
// Per category, rules with atoms (literals every match contains, see
// program.h) are found through one Aho-Corasick automaton per field over
// the folded field value: a single pass over each value marks every rule
// with an atom in it. Rules without atoms are always candidates. Marks are
// bits over the global rule order, so candidates come out in load order.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "program.h"

namespace vigil::agent::sigma::detail {

// Aho-Corasick over ASCII-folded bytes as a full DFA (every state has a
// transition per byte class), so the scan is one table load per byte.
class LiteralScanner {
 public:
  // `literal` must be folded and non-empty.
  void add(std::string_view literal, std::uint32_t rule);
  void build();
  // Sets the bit of every rule that has a literal occurring in `text`.
  void scan(std::string_view text, std::uint64_t* bits) const;
  [[nodiscard]] bool empty() const { return pending_.empty() && out_.empty(); }
  [[nodiscard]] std::size_t states() const { return out_.size(); }

 private:
  static constexpr std::uint32_t kHasOutput = 0x80000000u;

  std::vector<std::pair<std::string, std::uint32_t>> pending_;
  std::array<std::uint8_t, 256> cls_{};  // input byte -> class (0: in no literal)
  std::uint32_t classes_ = 1;
  std::vector<std::uint32_t> delta_;  // row (state * classes_) + class -> next row | kHasOutput
  std::vector<std::uint32_t> out_;  // state -> first state with rules on its suffix chain (0: none)
  std::vector<std::uint32_t> next_out_;     // output state -> the next one down its suffix chain
  std::vector<std::uint32_t> rules_begin_;  // output state -> rules_[begin, end)
  std::vector<std::uint32_t> rules_end_;
  std::vector<std::uint32_t> rules_;
};

struct CategoryIndex {
  std::vector<std::uint64_t> always;  // rules evaluated for every event
  std::vector<std::pair<Field, LiteralScanner>> scanners;
  bool empty = true;
};

}  // namespace vigil::agent::sigma::detail
