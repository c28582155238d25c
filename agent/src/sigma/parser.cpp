#include "parser.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>

#include "text.h"

namespace vigil::agent::sigma::detail {
namespace {

std::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

bool is_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// A plain YAML 1.2 number -> its decimal text; nullopt when `s` is not one.
// Integers with a leading zero keep their text: YAML 1.1 (PyYAML, which
// pySigma uses) reads 0755 as octal, YAML 1.2 as decimal, and a rule
// author writing `FileMode: 0755` means the text they see.
std::optional<std::string> plain_number(std::string_view s) {
  std::string_view body = s;
  const bool negative = !body.empty() && body.front() == '-';
  if (!body.empty() && (body.front() == '-' || body.front() == '+')) {
    body.remove_prefix(1);
  }
  int base = 0;
  if (body.starts_with("0x") || body.starts_with("0X")) {
    base = 16;
  } else if (body.starts_with("0o")) {
    base = 8;
  }
  if (base != 0) {
    const auto digits = body.substr(2);
    std::uint64_t n = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, base);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) {
      return std::nullopt;
    }
    return (negative ? "-" : "") + std::to_string(n);
  }
  if (is_digits(body)) {
    if (body.size() > 1 && body.front() == '0') {
      return std::string(s);
    }
    return (negative ? "-" : "") + std::string(body);
  }
  double d = 0;
  const auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), d);
  if (!body.empty() && ec == std::errc() && p == body.data() + body.size() &&
      body.find_first_of("0123456789") != std::string_view::npos) {
    return std::string(s);
  }
  return std::nullopt;
}

std::string scalar_text(const YAML::Node& n) { return n.Scalar(); }

// A string, or a list of strings joined (some rules list several authors).
std::string text_or_list(const YAML::Node& n, std::string_view sep) {
  if (!n || n.IsNull()) {
    return {};
  }
  if (n.IsScalar()) {
    return n.Scalar();
  }
  std::string out;
  if (n.IsSequence()) {
    for (const auto& e : n) {
      if (e.IsScalar()) {
        if (!out.empty()) {
          out += sep;
        }
        out += e.Scalar();
      }
    }
  }
  return out;
}

std::vector<std::string> string_list(const YAML::Node& n) {
  std::vector<std::string> out;
  if (!n || n.IsNull()) {
    return out;
  }
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    for (const auto& e : n) {
      if (e.IsScalar()) {
        out.push_back(e.Scalar());
      }
    }
  }
  return out;
}

// attack.t1059.004 -> T1059.004; tactics (attack.execution), groups and
// software are not techniques and are left out.
std::optional<std::string> technique(std::string_view tag) {
  if (tag.size() < 8 || !iequals_ascii(tag.substr(0, 8), "attack.t")) {
    return std::nullopt;
  }
  const auto id = tag.substr(8);
  const auto dot = id.find('.');
  const auto main = id.substr(0, dot);
  if (main.size() != 4 || !is_digits(main)) {
    return std::nullopt;
  }
  if (dot != std::string_view::npos) {
    const auto sub = id.substr(dot + 1);
    if (sub.size() != 3 || !is_digits(sub)) {
      return std::nullopt;
    }
  }
  return "T" + std::string(id);
}

Result<Level> parse_level(const YAML::Node& n) {
  if (!n || n.IsNull()) {
    return Level::kMedium;
  }
  if (!n.IsScalar()) {
    return invalid("level is not a string");
  }
  static constexpr std::pair<std::string_view, Level> kLevels[] = {
      {"informational", Level::kInformational},
      {"low", Level::kLow},
      {"medium", Level::kMedium},
      {"high", Level::kHigh},
      {"critical", Level::kCritical},
  };
  for (const auto& [name, level] : kLevels) {
    if (iequals_ascii(n.Scalar(), name)) {
      return level;
    }
  }
  return invalid("unknown level '" + n.Scalar() + "'");
}

Result<std::vector<RawValue>> read_values(const YAML::Node& n, std::string_view where) {
  std::vector<RawValue> out;
  if (!n || n.IsNull() || n.IsScalar()) {
    out.push_back(raw_value(n));
    return out;
  }
  if (n.IsMap()) {
    return invalid(std::string(where) + ": a value cannot be a map");
  }
  for (const auto& e : n) {
    if (!e.IsNull() && !e.IsScalar()) {
      return invalid(std::string(where) + ": a value in a list cannot be a list or a map");
    }
    out.push_back(raw_value(e));
  }
  if (out.empty()) {
    return invalid(std::string(where) + ": empty list of values");
  }
  return out;
}

Result<std::vector<FieldSpec>> read_map(const YAML::Node& map, std::string_view selection) {
  std::vector<FieldSpec> out;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) {
      return invalid("selection '" + std::string(selection) + "': a key is not a string");
    }
    const std::string& key = kv.first.Scalar();
    FieldSpec spec;
    std::size_t start = 0;
    bool first = true;
    while (true) {
      const auto bar = key.find('|', start);
      const auto part =
          key.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
      if (first) {
        spec.field = part;
        first = false;
      } else {
        spec.modifiers.push_back(part);
      }
      if (bar == std::string::npos) {
        break;
      }
      start = bar + 1;
    }
    auto values =
        read_values(kv.second, "selection '" + std::string(selection) + "', '" + key + "'");
    if (!values) {
      return std::unexpected(values.error());
    }
    spec.values = std::move(*values);
    out.push_back(std::move(spec));
  }
  if (out.empty()) {
    return invalid("selection '" + std::string(selection) + "' is an empty map");
  }
  return out;
}

Result<Selection> read_selection(const std::string& name, const YAML::Node& n) {
  Selection sel;
  sel.name = name;
  if (!n || n.IsNull()) {
    return invalid("selection '" + name + "' is empty");
  }
  if (n.IsScalar()) {
    Alternative alt;
    alt.keyword = true;
    alt.value = raw_value(n);
    sel.alternatives.push_back(std::move(alt));
    return sel;
  }
  if (n.IsMap()) {
    auto fields = read_map(n, name);
    if (!fields) {
      return std::unexpected(fields.error());
    }
    sel.alternatives.push_back(Alternative{false, {}, std::move(*fields)});
    return sel;
  }
  for (const auto& e : n) {
    Alternative alt;
    if (e.IsMap()) {
      auto fields = read_map(e, name);
      if (!fields) {
        return std::unexpected(fields.error());
      }
      alt.fields = std::move(*fields);
    } else if (e.IsScalar()) {
      alt.keyword = true;
      alt.value = raw_value(e);
    } else {
      return invalid("selection '" + name + "': a list item is neither a map nor a string");
    }
    sel.alternatives.push_back(std::move(alt));
  }
  if (sel.alternatives.empty()) {
    return invalid("selection '" + name + "' is an empty list");
  }
  return sel;
}

}  // namespace

RawValue raw_value(const YAML::Node& n) {
  RawValue v;
  if (!n || n.IsNull()) {
    v.type = RawValue::Type::kNull;
    return v;
  }
  v.text = scalar_text(n);
  // yaml-cpp tags plain scalars "?" and quoted or block ones "!": only a
  // plain scalar can be a number or a boolean.
  if (n.Tag() != "?") {
    return v;
  }
  if (iequals_ascii(v.text, "true") || iequals_ascii(v.text, "false")) {
    v.type = RawValue::Type::kBool;
    v.text = to_lower_ascii(v.text);
  } else if (auto num = plain_number(v.text)) {
    v.type = RawValue::Type::kNumber;
    v.text = std::move(*num);
  }
  return v;
}

DocKind doc_kind(const YAML::Node& doc, std::string& detail) {
  if (const auto a = doc["action"]; a && a.IsScalar()) {
    detail = a.Scalar();
    return DocKind::kAction;
  }
  if (doc["correlation"]) {
    return DocKind::kCorrelation;
  }
  if (doc["filter"] && !doc["detection"]) {
    return DocKind::kFilter;
  }
  return DocKind::kRule;
}

Result<RuleDoc> read_header(const YAML::Node& doc) {
  RuleDoc r;
  RuleInfo& info = r.info;
  const auto title = doc["title"];
  if (!title || !title.IsScalar() || title.Scalar().empty()) {
    return invalid("missing title");
  }
  info.title = title.Scalar();
  info.id = text_or_list(doc["id"], ",");
  info.name = text_or_list(doc["name"], ",");
  info.status = text_or_list(doc["status"], ",");
  info.description = text_or_list(doc["description"], " ");
  info.author = text_or_list(doc["author"], ", ");
  if (const auto refs = string_list(doc["references"]); !refs.empty()) {
    info.reference = refs.front();
  }
  for (const auto& tag : string_list(doc["tags"])) {
    if (auto t = technique(tag)) {
      info.attack.push_back(std::move(*t));
    }
  }
  info.falsepositives = string_list(doc["falsepositives"]);
  auto level = parse_level(doc["level"]);
  if (!level) {
    return std::unexpected(level.error());
  }
  info.level = *level;
  info.severity = severity(*level);
  const auto ls = doc["logsource"];
  if (!ls || !ls.IsMap()) {
    return invalid("missing logsource");
  }
  r.product = text_or_list(ls["product"], ",");
  r.category = text_or_list(ls["category"], ",");
  r.service = text_or_list(ls["service"], ",");
  return r;
}

Result<void> read_detection(const YAML::Node& doc, RuleDoc& r) {
  const auto det = doc["detection"];
  if (!det || !det.IsMap()) {
    return invalid("missing detection");
  }
  for (const auto& kv : det) {
    if (!kv.first.IsScalar()) {
      return invalid("detection: a key is not a string");
    }
    const std::string& key = kv.first.Scalar();
    if (key == "condition") {
      if (kv.second.IsScalar()) {
        r.conditions.push_back(kv.second.Scalar());
      } else if (kv.second.IsSequence()) {
        for (const auto& c : kv.second) {
          if (!c.IsScalar()) {
            return invalid("condition: a list item is not a string");
          }
          r.conditions.push_back(c.Scalar());
        }
      } else {
        return invalid("condition is empty");
      }
      continue;
    }
    if (key == "timeframe") {  // a v1 aggregation window: correlation rules have their own
      continue;
    }
    auto sel = read_selection(key, kv.second);
    if (!sel) {
      return std::unexpected(sel.error());
    }
    r.selections.push_back(std::move(*sel));
  }
  if (r.conditions.empty()) {
    return invalid("missing condition");
  }
  return {};
}

}  // namespace vigil::agent::sigma::detail
