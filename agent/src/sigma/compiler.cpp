#include "compiler.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "condition.h"

namespace vigil::agent::sigma::detail {
namespace {

// Longer literals cost more index states and select no better.
constexpr std::size_t kMaxAtomLength = 16;

std::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

// Keyword values are a full-text search in Sigma: here, a substring of the
// category's keyword field. `contains` is implied unless the rule anchors or
// types the value itself.
std::vector<std::string> keyword_modifiers(std::vector<std::string> mods) {
  static constexpr std::string_view kOwnSemantics[] = {
      "startswith", "endswith", "re", "cidr", "exists", "lt", "lte", "gt", "gte", "fieldref",
  };
  for (const auto& m : mods) {
    for (const auto k : kOwnSemantics) {
      if (m == k) {
        return mods;
      }
    }
  }
  mods.emplace_back("contains");
  return mods;
}

class Compiler {
 public:
  Compiler(Program& p, Category category) : p_(p), category_(category) {}

  Result<void> compile(const RuleDoc& doc) {
    for (const auto& sel : doc.selections) {
      auto node = selection(sel);
      if (!node) {
        return std::unexpected(node.error());
      }
      names_.emplace_back(sel.name, *node);
    }
    std::vector<std::uint32_t> roots;
    for (const auto& text : doc.conditions) {
      auto cond = parse_condition(text);
      if (!cond) {
        return std::unexpected(cond.error());
      }
      auto node = condition(*cond);
      if (!node) {
        return std::unexpected(node.error());
      }
      roots.push_back(*node);
    }
    p_.root = group(Node::Op::kOr, roots);
    order_by_cost();
    return {};
  }

  std::vector<Atom> atoms() {
    auto r = requirement(p_.root);
    if (!r) {
      return {};
    }
    std::sort(r->begin(), r->end(), [](const Atom& a, const Atom& b) {
      return std::tie(a.field, a.literal) < std::tie(b.field, b.literal);
    });
    r->erase(std::unique(r->begin(), r->end(),
                         [](const Atom& a, const Atom& b) {
                           return a.field == b.field && a.literal == b.literal;
                         }),
             r->end());
    return std::move(*r);
  }

 private:
  std::uint32_t add_node(Node n) {
    p_.nodes.push_back(n);
    return static_cast<std::uint32_t>(p_.nodes.size() - 1);
  }

  // One node for several: AND/OR of `kids`, or the kid itself if alone.
  std::uint32_t group(Node::Op op, const std::vector<std::uint32_t>& kids) {
    if (kids.size() == 1) {
      return kids.front();
    }
    Node n;
    n.op = op;
    n.a = static_cast<std::uint32_t>(p_.kids.size());
    n.n = static_cast<std::uint32_t>(kids.size());
    p_.kids.insert(p_.kids.end(), kids.begin(), kids.end());
    return add_node(n);
  }

  Result<std::uint32_t> item(Field field, ItemSpec spec) {
    Item it;
    it.field = field;
    it.all = spec.all;
    it.negate = spec.negate;
    it.first = static_cast<std::uint32_t>(p_.matchers.size());
    it.count = static_cast<std::uint32_t>(spec.matchers.size());
    for (auto& m : spec.matchers) {
      p_.matchers.push_back(std::move(m));
    }
    p_.items.push_back(it);
    Node n;
    n.op = Node::Op::kItem;
    n.a = static_cast<std::uint32_t>(p_.items.size() - 1);
    return add_node(n);
  }

  Result<Field> keyword_target(const std::string& sel) const {
    const auto f = keyword_field(category_);
    if (!f) {
      return invalid("selection '" + sel +
                     "': keywords (values without a field) have no field to "
                     "search in " +
                     std::string(to_string(category_)) + " events");
    }
    return *f;
  }

  Result<std::uint32_t> field_spec(const std::string& sel, const FieldSpec& fs) {
    Field field = Field::kCount;
    std::vector<std::string> mods = fs.modifiers;
    if (fs.field.empty()) {
      auto f = keyword_target(sel);
      if (!f) {
        return std::unexpected(f.error());
      }
      field = *f;
      mods = keyword_modifiers(std::move(mods));
    } else {
      const auto f = field_from_string(fs.field);
      if (!f) {
        return invalid("selection '" + sel + "': unknown field '" + fs.field + "'");
      }
      field = *f;
    }
    auto spec = compile_item(mods, fs.values, !fs.field.empty());
    if (!spec) {
      return make_error(spec.error().code, "selection '" + sel + "', field '" +
                                               (fs.field.empty() ? "(keywords)" : fs.field) +
                                               "': " + spec.error().message);
    }
    return item(field, std::move(*spec));
  }

  Result<std::uint32_t> selection(const Selection& sel) {
    std::vector<std::uint32_t> alternatives;
    std::vector<RawValue> keywords;
    for (const auto& alt : sel.alternatives) {
      if (alt.keyword) {
        keywords.push_back(alt.value);
        continue;
      }
      std::vector<std::uint32_t> fields;
      for (const auto& fs : alt.fields) {
        auto node = field_spec(sel.name, fs);
        if (!node) {
          return node;
        }
        fields.push_back(*node);
      }
      alternatives.push_back(group(Node::Op::kAnd, fields));
    }
    if (!keywords.empty()) {
      auto f = keyword_target(sel.name);
      if (!f) {
        return std::unexpected(f.error());
      }
      const std::vector<std::string> mods = keyword_modifiers({});
      auto spec = compile_item(mods, keywords, false);
      if (!spec) {
        return make_error(spec.error().code,
                          "selection '" + sel.name + "' (keywords): " + spec.error().message);
      }
      auto node = item(*f, std::move(*spec));
      if (!node) {
        return node;
      }
      alternatives.push_back(*node);
    }
    return group(Node::Op::kOr, alternatives);
  }

  Result<std::uint32_t> condition(const Condition& c) {
    switch (c.kind) {
      case Condition::Kind::kRef:
        for (const auto& [name, node] : names_) {
          if (name == c.name) {
            return node;
          }
        }
        return invalid("condition names an unknown selection '" + c.name + "'");
      case Condition::Kind::kOneOf:
      case Condition::Kind::kAllOf: {
        std::vector<std::uint32_t> kids;
        for (const auto& [name, node] : names_) {
          // `them` leaves out identifiers starting with `_` (the specification's rule).
          const bool hit = c.name.empty() ? !name.starts_with('_') : name_matches(c.name, name);
          if (hit) {
            kids.push_back(node);
          }
        }
        if (kids.empty()) {
          return invalid("condition: '" + (c.name.empty() ? std::string("them") : c.name) +
                         "' matches no selection");
        }
        return group(c.kind == Condition::Kind::kAllOf ? Node::Op::kAnd : Node::Op::kOr, kids);
      }
      case Condition::Kind::kNot: {
        auto inner = condition(c.kids.front());
        if (!inner) {
          return inner;
        }
        Node n;
        n.op = Node::Op::kNot;
        n.a = *inner;
        return add_node(n);
      }
      case Condition::Kind::kAnd:
      case Condition::Kind::kOr: {
        std::vector<std::uint32_t> kids;
        for (const auto& k : c.kids) {
          auto node = condition(k);
          if (!node) {
            return node;
          }
          kids.push_back(*node);
        }
        return group(c.kind == Condition::Kind::kAnd ? Node::Op::kAnd : Node::Op::kOr, kids);
      }
    }
    return invalid("condition: unknown node");
  }

  // Sigma's boolean operators have no order of evaluation, so each AND/OR
  // tries its cheapest operands first: a rule whose Image test fails never
  // searches its command line.
  int cost(std::uint32_t index) {
    if (auto it = cost_.find(index); it != cost_.end()) {
      return it->second;
    }
    const Node& n = p_.nodes[index];
    int c = 0;
    switch (n.op) {
      case Node::Op::kConst:
        break;
      case Node::Op::kItem: {
        const Item& it = p_.items[n.a];
        for (std::uint32_t i = it.first; i < it.first + it.count; ++i) {
          c += p_.matchers[i].cost();
        }
        if (it.field == Field::kCommandLine || it.field == Field::kParentCommandLine) {
          c *= 2;  // the long values
        }
        c += 1;
        break;
      }
      case Node::Op::kNot:
        c = cost(n.a);
        break;
      case Node::Op::kAnd:
      case Node::Op::kOr:
        for (std::uint32_t k = n.a; k < n.a + n.n; ++k) {
          c += cost(p_.kids[k]);
        }
        break;
    }
    cost_.emplace(index, c);
    return c;
  }

  void order_by_cost() {
    for (std::uint32_t i = 0; i < p_.nodes.size(); ++i) {
      const Node& n = p_.nodes[i];
      if (n.op != Node::Op::kAnd && n.op != Node::Op::kOr) {
        continue;
      }
      auto first = p_.kids.begin() + n.a;
      std::stable_sort(first, first + n.n,
                       [this](std::uint32_t a, std::uint32_t b) { return cost(a) < cost(b); });
    }
  }

  using Requirement = std::optional<std::vector<Atom>>;

  // How often a requirement would let the rule through: the sum over its
  // atoms of a rough chance that the literal occurs in the field (a short
  // literal in a command line nearly always does; each further character
  // divides that by about three), plus a little per atom for the index
  // memory it takes. Lower is better: of an AND, the lowest one is kept.
  static double expected_hits(const std::vector<Atom>& atoms) {
    double sum = 0;
    for (const auto& a : atoms) {
      const bool long_field =
          a.field == Field::kCommandLine || a.field == Field::kParentCommandLine;
      const double p =
          (long_field ? 0.9 : 0.3) *
          std::pow(0.3, static_cast<double>(std::min<std::size_t>(a.literal.size(), 9)) - 1.0);
      sum += std::min(1.0, p) + 0.0002;
    }
    return sum;
  }

  // Atoms of which every match of `index` satisfies at least one; nullopt
  // when there is no such set (a negation, a regex, a null test...).
  Requirement requirement(std::uint32_t index) {
    const Node& n = p_.nodes[index];
    switch (n.op) {
      case Node::Op::kConst:
      case Node::Op::kNot:
        return std::nullopt;
      case Node::Op::kItem: {
        const Item& it = p_.items[n.a];
        if (it.negate) {
          return std::nullopt;
        }
        Requirement best;
        std::vector<Atom> any;
        for (std::uint32_t i = it.first; i < it.first + it.count; ++i) {
          auto lits = p_.matchers[i].required_literals();
          if (lits.empty()) {
            if (!it.all) {
              return std::nullopt;
            }
            continue;
          }
          std::vector<Atom> one;  // any of them
          for (auto& lit : lits) {
            if (lit.size() > kMaxAtomLength) {
              lit.resize(kMaxAtomLength);
            }
            one.push_back(Atom{it.field, std::move(lit)});
          }
          if (it.all) {
            if (!best || expected_hits(one) < expected_hits(*best)) {
              best = std::move(one);
            }
          } else {
            any.insert(any.end(), std::make_move_iterator(one.begin()),
                       std::make_move_iterator(one.end()));
          }
        }
        return it.all ? best : Requirement(std::move(any));
      }
      case Node::Op::kAnd: {
        Requirement best;
        for (std::uint32_t k = n.a; k < n.a + n.n; ++k) {
          auto r = requirement(p_.kids[k]);
          if (r && (!best || expected_hits(*r) < expected_hits(*best))) {
            best = std::move(r);
          }
        }
        return best;
      }
      case Node::Op::kOr: {
        std::vector<Atom> all;
        for (std::uint32_t k = n.a; k < n.a + n.n; ++k) {
          auto r = requirement(p_.kids[k]);
          if (!r) {
            return std::nullopt;
          }
          all.insert(all.end(), std::make_move_iterator(r->begin()),
                     std::make_move_iterator(r->end()));
        }
        return all;
      }
    }
    return std::nullopt;
  }

  Program& p_;
  Category category_;
  std::vector<std::pair<std::string, std::uint32_t>> names_;
  std::map<std::uint32_t, int> cost_;
};

}  // namespace

std::optional<Field> keyword_field(Category c) {
  switch (c) {
    case Category::kProcessCreation:
    case Category::kPtrace:
    case Category::kMemory:
    case Category::kPrivilege:
    case Category::kProcessTermination:
    case Category::kNamespaceChange:
      return Field::kCommandLine;
    case Category::kFileEvent:
    case Category::kFileChange:
    case Category::kFileRename:
    case Category::kFileDelete:
    case Category::kFileAccess:
      return Field::kTargetFilename;
    case Category::kNetworkConnection:
    case Category::kCount:
      break;
  }
  return std::nullopt;
}

Result<std::unique_ptr<CompiledRule>> compile_rule(RuleDoc doc, Category category) {
  auto rule = std::make_unique<CompiledRule>();
  Compiler c(rule->program, category);
  if (auto r = c.compile(doc); !r) {
    return std::unexpected(r.error());
  }
  rule->atoms = c.atoms();
  rule->info = std::move(doc.info);
  rule->info.category = category;
  return rule;
}

}  // namespace vigil::agent::sigma::detail
