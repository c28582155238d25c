#include "index.h"

#include <algorithm>
#include <map>

#include "text.h"

namespace vigil::agent::sigma::detail {

void LiteralScanner::add(std::string_view literal, std::uint32_t rule) {
  pending_.emplace_back(std::string(literal), rule);
}

void LiteralScanner::build() {
  // Byte classes: one per distinct byte in any literal, so the table is
  // states x (distinct bytes + 1) instead of states x 256.
  std::array<std::uint8_t, 256> byte_class{};
  classes_ = 1;
  for (const auto& [lit, rule] : pending_) {
    for (const char c : lit) {
      auto& k = byte_class[static_cast<unsigned char>(c)];
      if (k == 0) {
        k = static_cast<std::uint8_t>(classes_++);
      }
    }
  }
  for (int b = 0; b < 256; ++b) {
    cls_[b] = byte_class[kFold[b]];
  }
  const std::uint32_t k = classes_;

  // The trie.
  std::vector<std::map<std::uint8_t, std::uint32_t>> child(1);
  std::vector<std::vector<std::uint32_t>> rules_at(1);
  for (const auto& [lit, rule] : pending_) {
    std::uint32_t s = 0;
    for (const char c : lit) {
      const std::uint8_t cl = byte_class[static_cast<unsigned char>(c)];
      auto it = child[s].find(cl);
      if (it == child[s].end()) {
        child.emplace_back();
        rules_at.emplace_back();
        const auto next = static_cast<std::uint32_t>(child.size() - 1);
        child[s].emplace(cl, next);
        s = next;
      } else {
        s = it->second;
      }
    }
    rules_at[s].push_back(rule);
  }
  const std::size_t n = child.size();

  // Failure links breadth-first, filling in the DFA as we go.
  delta_.assign(n * k, 0);
  std::vector<std::uint32_t> fail(n, 0);
  out_.assign(n, 0);
  std::vector<std::uint32_t> queue;
  queue.reserve(n);
  for (const auto& [cl, s] : child[0]) {
    delta_[cl] = s;
    queue.push_back(s);
  }
  for (std::size_t qi = 0; qi < queue.size(); ++qi) {
    const std::uint32_t u = queue[qi];
    out_[u] = rules_at[u].empty() ? out_[fail[u]] : u;
    for (std::uint32_t c = 0; c < k; ++c) {
      const auto it = child[u].find(static_cast<std::uint8_t>(c));
      if (it != child[u].end()) {
        fail[it->second] = delta_[fail[u] * k + c];
        delta_[u * k + c] = it->second;
        queue.push_back(it->second);
      } else {
        delta_[u * k + c] = delta_[fail[u] * k + c];
      }
    }
  }
  // Premultiplied rows, and the top bit set where the state has output, so
  // the scan loop is one load and one test per byte.
  for (auto& next : delta_) {
    next = next * k | (out_[next] != 0 ? kHasOutput : 0);
  }
  next_out_.assign(n, 0);
  rules_begin_.assign(n, 0);
  rules_end_.assign(n, 0);
  rules_.clear();
  for (std::uint32_t s = 0; s < n; ++s) {
    next_out_[s] = out_[fail[s]];
    auto& r = rules_at[s];
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    rules_begin_[s] = static_cast<std::uint32_t>(rules_.size());
    rules_.insert(rules_.end(), r.begin(), r.end());
    rules_end_[s] = static_cast<std::uint32_t>(rules_.size());
  }
  pending_.clear();
  pending_.shrink_to_fit();
}

void LiteralScanner::scan(std::string_view text, std::uint64_t* bits) const {
  if (out_.empty()) {
    return;
  }
  const std::uint32_t* delta = delta_.data();
  const std::uint8_t* cls = cls_.data();
  std::uint32_t row = 0;
  for (const char c : text) {
    const std::uint32_t next = delta[row + cls[static_cast<unsigned char>(c)]];
    row = next & ~kHasOutput;
    if ((next & kHasOutput) == 0) [[likely]] {
      continue;
    }
    for (std::uint32_t o = out_[row / classes_]; o != 0; o = next_out_[o]) {
      for (std::uint32_t i = rules_begin_[o]; i < rules_end_[o]; ++i) {
        const std::uint32_t r = rules_[i];
        bits[r >> 6] |= std::uint64_t{1} << (r & 63);
      }
    }
  }
}

}  // namespace vigil::agent::sigma::detail
