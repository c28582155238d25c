#include "condition.h"

#include <cctype>

#include "text.h"

namespace vigil::agent::sigma::detail {
namespace {

// Deep enough for any real rule, shallow enough that neither this parser nor
// the evaluator can be driven off the stack by a hostile file.
constexpr int kMaxDepth = 64;

struct Token {
  enum class Type { kWord, kOpen, kClose, kEnd };
  Type type = Type::kEnd;
  std::string_view text;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { advance(); }

  Result<Condition> parse() {
    if (tok_.type == Token::Type::kEnd) {
      return make_error(ErrorCode::kInvalidArgument, "empty condition");
    }
    if (text_.find('|') != std::string_view::npos) {
      return fail("aggregations ('|') are not supported (Sigma v2 has correlation rules)");
    }
    auto e = expr(0);
    if (!e) {
      return e;
    }
    if (tok_.type != Token::Type::kEnd) {
      return fail("unexpected '" + std::string(tok_.text) + "'");
    }
    return e;
  }

 private:
  static bool is_op(std::string_view w, std::string_view op) { return iequals_ascii(w, op); }
  bool at_word(std::string_view op) const {
    return tok_.type == Token::Type::kWord && is_op(tok_.text, op);
  }
  bool at_reserved() const {
    return at_word("and") || at_word("or") || at_word("not") || at_word("of");
  }

  std::unexpected<Error> fail(std::string what) const {
    return make_error(ErrorCode::kInvalidArgument,
                      "condition '" + std::string(text_) + "': " + std::move(what));
  }

  void advance() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])) != 0) {
      ++pos_;
    }
    if (pos_ >= text_.size()) {
      tok_ = {Token::Type::kEnd, {}};
      return;
    }
    const char c = text_[pos_];
    if (c == '(' || c == ')') {
      tok_ = {c == '(' ? Token::Type::kOpen : Token::Type::kClose, text_.substr(pos_, 1)};
      ++pos_;
      return;
    }
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != '(' && text_[pos_] != ')' &&
           std::isspace(static_cast<unsigned char>(text_[pos_])) == 0) {
      ++pos_;
    }
    tok_ = {Token::Type::kWord, text_.substr(start, pos_ - start)};
  }

  Result<Condition> expr(int depth) {
    if (depth > kMaxDepth) {
      return fail("nested too deeply");
    }
    auto left = conj(depth);
    if (!left) {
      return left;
    }
    if (!at_word("or")) {
      return left;
    }
    Condition node{Condition::Kind::kOr, {}, {}};
    node.kids.push_back(std::move(*left));
    while (at_word("or")) {
      advance();
      auto right = conj(depth);
      if (!right) {
        return right;
      }
      node.kids.push_back(std::move(*right));
    }
    return node;
  }

  Result<Condition> conj(int depth) {
    auto left = negation(depth);
    if (!left) {
      return left;
    }
    if (!at_word("and")) {
      return left;
    }
    Condition node{Condition::Kind::kAnd, {}, {}};
    node.kids.push_back(std::move(*left));
    while (at_word("and")) {
      advance();
      auto right = negation(depth);
      if (!right) {
        return right;
      }
      node.kids.push_back(std::move(*right));
    }
    return node;
  }

  Result<Condition> negation(int depth) {
    if (!at_word("not")) {
      return primary(depth);
    }
    if (depth > kMaxDepth) {
      return fail("nested too deeply");
    }
    advance();
    auto inner = negation(depth + 1);
    if (!inner) {
      return inner;
    }
    Condition node{Condition::Kind::kNot, {}, {}};
    node.kids.push_back(std::move(*inner));
    return node;
  }

  Result<Condition> primary(int depth) {
    switch (tok_.type) {
      case Token::Type::kEnd:
        return fail("ends where a selection was expected");
      case Token::Type::kClose:
        return fail("unexpected ')'");
      case Token::Type::kOpen: {
        advance();
        auto inner = expr(depth + 1);
        if (!inner) {
          return inner;
        }
        if (tok_.type != Token::Type::kClose) {
          return fail("missing ')'");
        }
        advance();
        return inner;
      }
      case Token::Type::kWord:
        break;
    }
    const std::string_view word = tok_.text;
    if (word == "1" || is_op(word, "any") || is_op(word, "all")) {
      const bool all = is_op(word, "all");
      advance();
      if (!at_word("of")) {
        return fail("'" + std::string(word) + "' must be followed by 'of'");
      }
      advance();
      if (tok_.type != Token::Type::kWord || at_reserved()) {
        return fail("'of' must be followed by a selection pattern or 'them'");
      }
      Condition node{all ? Condition::Kind::kAllOf : Condition::Kind::kOneOf, {}, {}};
      if (!is_op(tok_.text, "them")) {
        node.name = std::string(tok_.text);
      }
      advance();
      return node;
    }
    if (at_reserved()) {
      return fail("unexpected '" + std::string(word) + "'");
    }
    Condition node{Condition::Kind::kRef, std::string(word), {}};
    advance();
    return node;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  Token tok_;
};

}  // namespace

Result<Condition> parse_condition(std::string_view text) { return Parser(text).parse(); }

bool name_matches(std::string_view pattern, std::string_view name) {
  return glob_match(name, Pattern::parse(pattern), /*cased=*/true);
}

}  // namespace vigil::agent::sigma::detail
