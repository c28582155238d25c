#include "vigil/collector/sigma_correlation.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <fstream>
#include <list>
#include <set>
#include <sstream>
#include <variant>

namespace vigil::collector::sigma {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kMaxTimespanNs = 30ULL * 86'400 * kSec;
constexpr std::size_t kMaxReferencedRules = 64;
constexpr std::uint64_t kMaxNeeded = 1'000'000;
// Longer values (command lines) are grouped and counted on their first KiB,
// so one hostile argv cannot make a group key or a counted value large.
constexpr std::size_t kMaxValueBytes = 1024;
constexpr std::size_t kMaxAlertHosts = 256;
constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr std::size_t kMaxTitleBytes = 256;

constexpr std::array<std::string_view, static_cast<std::size_t>(Field::kCount)> kFieldNames = {
    "host",  "agent",    "indicator",    "EventType",      "Image",           "CommandLine",
    "User",  "SourceIp", "SourcePort",   "DestinationIp",  "DestinationPort", "TargetFilename",
    "peer",  "lineage",  "container.id", "container.name", "container.image", "k8s.pod",
    "k8s.ns"};

std::string field_list() { return fmt::format("{}", fmt::join(kFieldNames, ", ")); }

// --- parsing ---------------------------------------------------------------

struct ParseError {
  std::string message;
};

[[noreturn]] void fail(std::string message) { throw ParseError{std::move(message)}; }

std::string scalar(const YAML::Node& node, std::string_view what) {
  if (!node.IsScalar()) {
    fail(fmt::format("'{}' must be a string", what));
  }
  return node.as<std::string>();
}

// A scalar or a list of scalars.
std::vector<std::string> string_list(const YAML::Node& node, std::string_view what) {
  std::vector<std::string> out;
  if (!node || node.IsNull()) {
    return out;
  }
  if (node.IsScalar()) {
    out.push_back(node.as<std::string>());
    return out;
  }
  if (!node.IsSequence()) {
    fail(fmt::format("'{}' must be a string or a list of strings", what));
  }
  for (const auto& item : node) {
    out.push_back(scalar(item, what));
  }
  return out;
}

std::uint64_t parse_timespan(const std::string& text) {
  std::uint64_t n = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc() || ptr == text.data() || ptr + 1 != end || n == 0) {
    fail(fmt::format("timespan '{}': expected a positive number and one of s, m, h, d (e.g. 5m)",
                     text));
  }
  std::uint64_t unit = 0;
  switch (*ptr) {
    case 's':
      unit = kSec;
      break;
    case 'm':
      unit = 60 * kSec;
      break;
    case 'h':
      unit = 3600 * kSec;
      break;
    case 'd':
      unit = 86'400 * kSec;
      break;
    default:
      fail(fmt::format("timespan '{}': the unit must be s, m, h or d", text));
  }
  if (n > kMaxTimespanNs / unit) {
    fail(fmt::format("timespan '{}' is longer than 30d", text));
  }
  return n * unit;
}

std::uint64_t count_value(const YAML::Node& node, std::string_view op) {
  if (!node.IsScalar()) {
    fail(fmt::format("condition '{}' must be a number", op));
  }
  const auto text = node.as<std::string>();
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    fail(fmt::format("condition '{}: {}' must be a non-negative whole number", op, text));
  }
  return n;
}

// The agents' level -> severity table (docs/detections.md), so one level means
// one score on a host and across the fleet.
std::uint32_t score_of_level(std::string_view level) {
  if (level == "informational") return 10;
  if (level == "low") return 30;
  if (level == "medium") return 45;
  if (level == "high") return 70;
  return 90;  // critical
}

// "attack.t1059.004" -> "T1059.004"; anything else (tactics, cars) -> "".
std::string technique_of(std::string_view tag) {
  if (!tag.starts_with("attack.t") || tag.size() < 12) {
    return "";
  }
  std::string out(tag.substr(7));
  const auto digits = [&](std::size_t from, std::size_t n) {
    return out.size() >= from + n &&
           std::all_of(out.begin() + static_cast<std::ptrdiff_t>(from),
                       out.begin() + static_cast<std::ptrdiff_t>(from + n),
                       [](char c) { return c >= '0' && c <= '9'; });
  };
  const bool plain = out.size() == 5 && digits(1, 4);
  const bool sub = out.size() == 9 && digits(1, 4) && out[5] == '.' && digits(6, 3);
  if (!plain && !sub) {
    return "";
  }
  out[0] = 'T';
  return out;
}

using Aliases = std::vector<std::pair<std::string, std::vector<std::optional<Field>>>>;

FieldRef resolve(const std::string& name, const std::vector<std::string>& rules,
                 const Aliases& aliases) {
  for (const auto& [alias, per_rule] : aliases) {
    if (alias == name) {
      return FieldRef{name, per_rule};
    }
  }
  const auto field = field_from_string(name);
  if (!field) {
    fail(fmt::format("unknown field '{}' (the collector's fields: {}; or an alias)", name,
                     field_list()));
  }
  return FieldRef{name, std::vector<std::optional<Field>>(rules.size(), *field)};
}

Aliases parse_aliases(const YAML::Node& node, const std::vector<std::string>& rules) {
  Aliases out;
  if (!node || node.IsNull()) {
    return out;
  }
  if (!node.IsMap()) {
    fail("'aliases' must map alias names to {rule: field} maps");
  }
  for (const auto& kv : node) {
    const auto alias = kv.first.as<std::string>();
    if (!kv.second.IsMap()) {
      fail(fmt::format("alias '{}' must map referenced rules to field names", alias));
    }
    std::vector<std::optional<Field>> per_rule(rules.size());
    for (const auto& m : kv.second) {
      const auto rule = m.first.as<std::string>();
      const auto it = std::ranges::find(rules, rule);
      if (it == rules.end()) {
        fail(fmt::format("alias '{}' names rule '{}', which 'rules' does not reference", alias,
                         rule));
      }
      const auto field_name = scalar(m.second, "aliases");
      const auto field = field_from_string(field_name);
      if (!field) {
        fail(fmt::format("alias '{}': unknown field '{}' (the collector's fields: {})", alias,
                         field_name, field_list()));
      }
      per_rule[static_cast<std::size_t>(it - rules.begin())] = *field;
    }
    out.emplace_back(alias, std::move(per_rule));
  }
  return out;
}

Condition parse_condition(const YAML::Node& node, CorrelationType type,
                          std::optional<std::string>& field) {
  Condition c;
  if (!node.IsMap()) {
    fail("'condition' must be a map such as {gte: 2}");
  }
  for (const auto& kv : node) {
    const auto op = kv.first.as<std::string>();
    if (op == "gt") {
      c.gt = count_value(kv.second, op);
    } else if (op == "gte") {
      c.gte = count_value(kv.second, op);
    } else if (op == "lt") {
      c.lt = count_value(kv.second, op);
    } else if (op == "lte") {
      c.lte = count_value(kv.second, op);
    } else if (op == "eq") {
      c.eq = count_value(kv.second, op);
    } else if (op == "field") {
      if (type != CorrelationType::kValueCount) {
        fail("condition 'field' belongs to value_count rules");
      }
      field = scalar(kv.second, "condition.field");
    } else {
      fail(fmt::format("unknown condition '{}' (gt, gte, lt, lte, eq; value_count: field)", op));
    }
  }
  if (!c.gt && !c.gte && !c.eq) {
    fail(
        "the condition needs a lower bound (gt, gte or eq): counts are judged as events arrive, "
        "and a condition with only lt/lte would hold on the first one");
  }
  if ((c.gte && *c.gte == 0) || (c.eq && *c.eq == 0)) {
    fail("a count of 0 is met before any event: use gte 1 or more");
  }
  if (c.needed() > kMaxNeeded) {
    fail(fmt::format("the condition needs up to {} entries per group (at most {})", c.needed(),
                     kMaxNeeded));
  }
  // The smallest count the lower bounds allow is the best chance for the upper ones.
  std::uint64_t lowest = 1;
  if (c.gt) lowest = std::max(lowest, *c.gt + 1);
  if (c.gte) lowest = std::max(lowest, *c.gte);
  if (c.eq) lowest = std::max(lowest, *c.eq);
  if (!c.holds(lowest)) {
    fail("the condition's bounds exclude each other: it can never hold");
  }
  return c;
}

CorrelationRule parse_correlation(const YAML::Node& doc) {
  CorrelationRule r;
  r.title = doc["title"] ? scalar(doc["title"], "title") : "";
  if (r.title.empty()) {
    fail("'title' is required");
  }
  if (r.title.size() > kMaxTitleBytes) {
    fail("'title' is longer than 256 characters");
  }
  if (doc["id"]) r.id = scalar(doc["id"], "id");
  if (doc["name"]) r.name = scalar(doc["name"], "name");
  if (r.id.empty() && r.name.empty()) {
    fail("a correlation rule needs a 'name' or an 'id' (its alerts' kind)");
  }
  if (doc["description"]) r.description = scalar(doc["description"], "description");
  if (doc["author"]) r.author = scalar(doc["author"], "author");
  if (doc["status"]) r.status = scalar(doc["status"], "status");
  r.references = string_list(doc["references"], "references");
  for (auto& ref : string_list(doc["reference"], "reference")) {
    r.references.push_back(std::move(ref));
  }
  r.tags = string_list(doc["tags"], "tags");
  for (const auto& tag : r.tags) {
    if (r.attack.empty()) r.attack = technique_of(tag);
  }
  r.level = doc["level"] ? scalar(doc["level"], "level") : "medium";
  if (r.level != "informational" && r.level != "low" && r.level != "medium" && r.level != "high" &&
      r.level != "critical") {
    fail(fmt::format("level '{}': expected informational, low, medium, high or critical", r.level));
  }
  r.score = score_of_level(r.level);
  if (doc["score"]) {  // vigil's own attribute: the fleet alert's score, 0..100
    const auto s = count_value(doc["score"], "score");
    if (s > 100) {
      fail("'score' must be 0..100");
    }
    r.score = static_cast<std::uint32_t>(s);
  }
  if (doc["generate"]) r.generate = doc["generate"].as<bool>();

  const auto& c = doc["correlation"];
  if (!c.IsMap()) {
    fail("'correlation' must be a map");
  }
  for (const auto& kv : c) {
    const auto key = kv.first.as<std::string>();
    if (key != "type" && key != "rules" && key != "group-by" && key != "timespan" &&
        key != "condition" && key != "aliases" && key != "generate") {
      fail(fmt::format(
          "unknown key 'correlation.{}' (type, rules, group-by, timespan, condition, aliases, "
          "generate)",
          key));
    }
  }
  if (!c["type"]) {
    fail("'correlation.type' is required");
  }
  const auto type = scalar(c["type"], "type");
  if (type == "event_count") {
    r.type = CorrelationType::kEventCount;
  } else if (type == "value_count") {
    r.type = CorrelationType::kValueCount;
  } else if (type == "temporal") {
    r.type = CorrelationType::kTemporal;
  } else if (type == "temporal_ordered") {
    r.type = CorrelationType::kTemporalOrdered;
  } else {
    fail(
        fmt::format("correlation type '{}' is not supported (event_count, value_count, temporal, "
                    "temporal_ordered)",
                    type));
  }
  r.rules = string_list(c["rules"], "rules");
  if (r.rules.empty()) {
    fail("'correlation.rules' must name at least one rule (a name or id agents report)");
  }
  if (r.rules.size() > kMaxReferencedRules) {
    fail(fmt::format("'correlation.rules' names more than {} rules", kMaxReferencedRules));
  }
  for (std::size_t i = 0; i < r.rules.size(); ++i) {
    if (r.rules[i].empty()) {
      fail("'correlation.rules' has an empty name");
    }
    if (std::find(r.rules.begin(), r.rules.begin() + static_cast<std::ptrdiff_t>(i), r.rules[i]) !=
        r.rules.begin() + static_cast<std::ptrdiff_t>(i)) {
      fail(fmt::format("'correlation.rules' names '{}' twice", r.rules[i]));
    }
  }
  if ((r.type == CorrelationType::kTemporal || r.type == CorrelationType::kTemporalOrdered) &&
      r.rules.size() < 2) {
    fail(fmt::format("a {} correlation needs at least two rules", type));
  }
  if (c["generate"]) r.generate = c["generate"].as<bool>();
  const auto aliases = parse_aliases(c["aliases"], r.rules);
  for (const auto& name : string_list(c["group-by"], "group-by")) {
    r.group_by.push_back(resolve(name, r.rules, aliases));
  }
  if (!c["timespan"]) {
    fail("'correlation.timespan' is required (e.g. 5m)");
  }
  r.timespan_ns = parse_timespan(scalar(c["timespan"], "timespan"));

  std::optional<std::string> field;
  const auto n_rules = static_cast<std::uint64_t>(r.rules.size());
  if (c["condition"]) {
    r.condition = parse_condition(c["condition"], r.type, field);
  } else if (r.type == CorrelationType::kEventCount || r.type == CorrelationType::kValueCount) {
    fail(fmt::format("a {} correlation needs a 'condition' (e.g. gte: 2)", type));
  } else {
    r.condition.gte = n_rules;  // temporal: every referenced rule within the timespan
  }
  switch (r.type) {
    case CorrelationType::kValueCount:
      if (!field) {
        fail("a value_count condition needs 'field': the field whose distinct values count");
      }
      r.value_field = resolve(*field, r.rules, aliases);
      break;
    case CorrelationType::kTemporal: {
      // It counts distinct referenced rules: nothing above their number is reachable.
      bool reachable = false;
      for (std::uint64_t k = 1; k <= n_rules; ++k) reachable |= r.condition.holds(k);
      if (!reachable) {
        fail(
            fmt::format("a temporal condition counts referenced rules (at most {} here)", n_rules));
      }
      break;
    }
    case CorrelationType::kTemporalOrdered:
      if (!r.condition.holds(n_rules) || r.condition.holds(n_rules - 1)) {
        fail(
            "a temporal_ordered correlation matches all its rules in order: omit the condition "
            "or give gte equal to the number of rules");
      }
      break;
    case CorrelationType::kEventCount:
      break;
  }
  return r;
}

std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    fail(fmt::format("cannot read: {}", ec.message()));
  }
  if (size > kMaxFileBytes) {
    fail(fmt::format("{} bytes, more than the 1 MiB a rule file may have", size));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fail("cannot open");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// --- the engine's view of an event -----------------------------------------

std::optional<std::string> nonempty(std::string_view s) {
  if (s.empty()) return std::nullopt;
  return std::string(s.substr(0, kMaxValueBytes));
}

std::optional<std::string> extract(Field f, const EventView& v, std::string_view matched) {
  const auto& e = v.event;
  switch (f) {
    case Field::kHost:
      return nonempty(v.host);
    case Field::kAgent:
      return nonempty(v.agent);
    case Field::kIndicator:
      return nonempty(matched);
    case Field::kEventType:
      return nonempty(e.type());
    case Field::kImage:
      if (!e.exe().empty()) return nonempty(e.exe());
      return e.has_exec() ? nonempty(e.exec().filename()) : std::nullopt;
    case Field::kCommandLine: {
      if (!e.has_exec() || e.exec().args_size() == 0) return std::nullopt;
      std::string line;
      for (const auto& a : e.exec().args()) {
        if (!line.empty()) line += ' ';
        line += a;
        if (line.size() >= kMaxValueBytes) break;
      }
      return nonempty(line);
    }
    case Field::kUser:
      if (e.has_net_summary()) return std::nullopt;  // kernel-side summaries have no process
      return std::to_string(e.uid());
    case Field::kSourceIp:
      if (e.has_socket()) return nonempty(e.socket().laddr());
      if (e.has_net_summary()) return nonempty(e.net_summary().src());
      return std::nullopt;
    case Field::kSourcePort:
      if (e.has_socket() && e.socket().lport() != 0) return std::to_string(e.socket().lport());
      return std::nullopt;
    case Field::kDestinationIp:
      return e.has_socket() ? nonempty(e.socket().raddr()) : std::nullopt;
    case Field::kDestinationPort:
      if (e.has_socket() && e.socket().rport() != 0) return std::to_string(e.socket().rport());
      return std::nullopt;
    case Field::kTargetFilename:
      if (!e.has_file()) return std::nullopt;
      return nonempty(e.file().new_path().empty() ? e.file().path() : e.file().new_path());
    case Field::kPeer:
      return nonempty(v.peer);
    case Field::kLineage:
      return nonempty(v.lineage);
    case Field::kContainerId:
      return e.has_container() ? nonempty(e.container().id()) : std::nullopt;
    case Field::kContainerName:
      return e.has_container() ? nonempty(e.container().name()) : std::nullopt;
    case Field::kContainerImage:
      return e.has_container() ? nonempty(e.container().image()) : std::nullopt;
    case Field::kK8sPod:
      return e.has_container() ? nonempty(e.container().pod()) : std::nullopt;
    case Field::kK8sNs:
      return e.has_container() ? nonempty(e.container().k8s_ns()) : std::nullopt;
    case Field::kCount:
      break;
  }
  return std::nullopt;
}

// --- group state -----------------------------------------------------------

struct Hit {
  std::uint64_t ts = 0;
  std::string host;
  std::string peer;
};

struct CountState {
  std::deque<Hit> hits;  // oldest first, at most `need`
};

struct DistinctState {
  using List = std::list<std::pair<std::string, Hit>>;
  List values;  // least recently seen first, at most `need`
  std::unordered_map<std::string_view, List::iterator> index;  // views into `values`
};

struct TemporalState {
  std::vector<std::optional<Hit>> last;  // per referenced rule: its latest hit
};

struct OrderedState {
  struct Chain {
    std::uint64_t start = 0;  // arrival of its first hit
    std::vector<Hit> hits;
  };
  // chains[i]: the chain through rules[0..i], in order, that started latest.
  std::vector<std::optional<Chain>> chains;
};

using State = std::variant<CountState, DistinctState, TemporalState, OrderedState>;

struct Group {
  std::string key;
  std::vector<std::string> values;  // the group-by values, in rule order
  std::uint64_t touched_ns = 0;
  std::size_t entries = 0;
  std::uint64_t events = 0;  // events folded into this group
  State state;
  std::optional<v1::Alert> alert;  // open while the group lives
  std::set<std::string> alert_hosts;
  std::uint64_t next_report = 0;
};

}  // namespace

struct CorrelationEngine::RuleState {
  CorrelationRule rule;
  std::uint64_t need = 0;  // entries a group keeps
  std::list<Group> lru;    // most recently touched first
  std::unordered_map<std::string_view, std::list<Group>::iterator> groups;  // views into Group::key
  std::size_t entries = 0;
  RuleStats stats;
};

// --- public helpers ----------------------------------------------------------

std::string_view to_string(CorrelationType type) {
  switch (type) {
    case CorrelationType::kEventCount:
      return "event_count";
    case CorrelationType::kValueCount:
      return "value_count";
    case CorrelationType::kTemporal:
      return "temporal";
    case CorrelationType::kTemporalOrdered:
      return "temporal_ordered";
  }
  return "?";
}

std::optional<Field> field_from_string(std::string_view name) {
  if (name == "k8s.pod.name") return Field::kK8sPod;  // Falco's long forms
  if (name == "k8s.ns.name") return Field::kK8sNs;
  for (std::size_t i = 0; i < kFieldNames.size(); ++i) {
    if (kFieldNames[i] == name) return static_cast<Field>(i);
  }
  return std::nullopt;
}

std::string_view to_string(Field field) {
  const auto i = static_cast<std::size_t>(field);
  return i < kFieldNames.size() ? kFieldNames[i] : "?";
}

bool Condition::holds(std::uint64_t n) const {
  return (!gt || n > *gt) && (!gte || n >= *gte) && (!lt || n < *lt) && (!lte || n <= *lte) &&
         (!eq || n == *eq);
}

std::uint64_t Condition::needed() const {
  std::uint64_t n = 1;
  if (gt) n = std::max(n, *gt + 1);
  if (gte) n = std::max(n, *gte);
  if (lt) n = std::max(n, *lt);
  if (lte) n = std::max(n, *lte + 1);
  if (eq) n = std::max(n, *eq + 1);
  return n;
}

Result<std::vector<CorrelationRule>> parse_rules(std::string_view yaml, std::string_view source,
                                                 std::vector<std::string>* notes) {
  std::vector<CorrelationRule> out;
  std::size_t doc_no = 0;
  std::string title;
  try {
    const auto docs = YAML::LoadAll(std::string(yaml));
    for (const auto& doc : docs) {
      ++doc_no;
      title.clear();
      if (!doc || doc.IsNull()) {
        continue;
      }
      if (!doc.IsMap()) {
        fail("a rule document must be a map");
      }
      if (doc["title"] && doc["title"].IsScalar()) {
        title = doc["title"].as<std::string>();
      }
      if (doc["correlation"]) {
        auto rule = parse_correlation(doc);
        rule.source = std::string(source);
        out.push_back(std::move(rule));
      } else if (doc["detection"]) {
        if (notes != nullptr) {
          notes->push_back(fmt::format(
              "{}: document {} ('{}') is a detection rule: the agents evaluate those (vigil-agent "
              "--rules); the collector correlates the hits they report",
              source, doc_no, title));
        }
      } else {
        fail("neither a correlation rule ('correlation:') nor a detection rule ('detection:')");
      }
    }
  } catch (const ParseError& e) {
    return make_error(ErrorCode::kInvalidArgument,
                      title.empty() ? fmt::format("{}: document {}: {}", source, doc_no, e.message)
                                    : fmt::format("{}: document {} ('{}'): {}", source, doc_no,
                                                  title, e.message));
  } catch (const YAML::Exception& e) {
    // A syntax error fails the whole stream before any document is read (its
    // message carries the line and column); a bad conversion names the document.
    return make_error(ErrorCode::kInvalidArgument,
                      doc_no == 0
                          ? fmt::format("{}: YAML: {}", source, e.what())
                          : fmt::format("{}: document {}: YAML: {}", source, doc_no, e.what()));
  }
  return out;
}

Result<std::vector<CorrelationRule>> load_directory(const std::filesystem::path& dir,
                                                    std::vector<std::string>* notes) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("{}: not a directory of correlation rules", dir.string()));
  }
  std::vector<std::filesystem::path> files;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const auto ext = it->path().extension();
    if (it->is_regular_file() && (ext == ".yml" || ext == ".yaml")) {
      files.push_back(it->path());
    }
  }
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("{}: {}", dir.string(), ec.message()));
  }
  std::ranges::sort(files);
  std::vector<CorrelationRule> out;
  for (const auto& f : files) {
    std::string text;
    try {
      text = read_file(f);
    } catch (const ParseError& e) {
      return make_error(ErrorCode::kIo, fmt::format("{}: {}", f.string(), e.message));
    }
    auto rules = parse_rules(text, f.string(), notes);
    if (!rules) {
      return std::unexpected(rules.error());
    }
    std::ranges::move(*rules, std::back_inserter(out));
  }
  return out;
}

Result<std::vector<CorrelationRule>> load_shipped_rules() {
  std::vector<CorrelationRule> out;
  for (const auto& file : shipped_rule_files()) {
    auto rules = parse_rules(file.yaml, fmt::format("(shipped) {}", file.name), nullptr);
    if (!rules) {
      return std::unexpected(rules.error());
    }
    std::ranges::move(*rules, std::back_inserter(out));
  }
  return out;
}

Result<void> validate_rule_set(const std::vector<CorrelationRule>& rules, const Limits& limits) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
    for (std::size_t j = 0; j < i; ++j) {
      const auto& o = rules[j];
      if ((!r.name.empty() && r.name == o.name) || (!r.id.empty() && r.id == o.id)) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: rule '{}' has the name or id of rule '{}' in {}",
                                      r.source, r.title, o.title, o.source));
      }
    }
    for (const auto& ref : r.rules) {
      for (const auto& o : rules) {
        if (ref == o.name || ref == o.id) {
          return make_error(
              ErrorCode::kInvalidArgument,
              fmt::format("{}: rule '{}' references correlation rule '{}': chaining correlation "
                          "rules is not supported; reference the ids agents report",
                          r.source, r.title, ref));
        }
      }
    }
    const std::uint64_t need =
        r.type == CorrelationType::kTemporal || r.type == CorrelationType::kTemporalOrdered
            ? r.rules.size()
            : r.condition.needed();
    if (need > limits.max_entries) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: rule '{}' keeps up to {} entries per group, more than "
                                    "correlation_max_entries ({})",
                                    r.source, r.title, need, limits.max_entries));
    }
  }
  return {};
}

Result<std::vector<CorrelationRule>> load_rule_set(const RuleSetOptions& options,
                                                   std::vector<std::string>* notes) {
  std::vector<CorrelationRule> rules;
  if (options.shipped) {
    auto shipped = load_shipped_rules();
    if (!shipped) {
      return std::unexpected(shipped.error());
    }
    rules = std::move(*shipped);
  }
  const auto shipped_count = rules.size();
  std::vector<bool> replaced(shipped_count, false);
  for (const auto& dir : options.dirs) {
    auto loaded = load_directory(dir, notes);
    if (!loaded) {
      return std::unexpected(loaded.error());
    }
    for (auto& r : *loaded) {
      bool replaces = false;
      for (std::size_t i = 0; i < shipped_count; ++i) {
        auto& s = rules[i];
        if (!replaced[i] &&
            ((!r.name.empty() && r.name == s.name) || (!r.id.empty() && r.id == s.id))) {
          if (notes != nullptr) {
            notes->push_back(fmt::format("{}: rule '{}' replaces the shipped rule '{}' ({})",
                                         r.source, r.title, s.kind(), s.source));
          }
          s = std::move(r);
          replaced[i] = true;
          replaces = true;
          break;
        }
      }
      if (!replaces) {
        rules.push_back(std::move(r));
      }
    }
  }
  if (auto ok = validate_rule_set(rules, options.limits); !ok) {
    return std::unexpected(ok.error());
  }
  return rules;
}

// --- the engine ------------------------------------------------------------

namespace {

State initial_state(const CorrelationRule& r) {
  switch (r.type) {
    case CorrelationType::kEventCount:
      return CountState{};
    case CorrelationType::kValueCount:
      return DistinctState{};
    case CorrelationType::kTemporal:
      return TemporalState{std::vector<std::optional<Hit>>(r.rules.size())};
    case CorrelationType::kTemporalOrdered:
      return OrderedState{std::vector<std::optional<OrderedState::Chain>>(r.rules.size())};
  }
  return CountState{};
}

// Drops what fell out of the window; returns the entries left.
std::size_t prune(State& state, std::uint64_t cutoff) {
  return std::visit(
      [cutoff](auto& s) -> std::size_t {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, CountState>) {
          while (!s.hits.empty() && s.hits.front().ts < cutoff) s.hits.pop_front();
          return s.hits.size();
        } else if constexpr (std::is_same_v<T, DistinctState>) {
          while (!s.values.empty() && s.values.front().second.ts < cutoff) {
            s.index.erase(s.values.front().first);
            s.values.pop_front();
          }
          return s.values.size();
        } else if constexpr (std::is_same_v<T, TemporalState>) {
          std::size_t n = 0;
          for (auto& h : s.last) {
            if (h && h->ts < cutoff) h.reset();
            n += h ? 1 : 0;
          }
          return n;
        } else {
          std::size_t n = 0;
          for (auto& c : s.chains) {
            if (c && c->start < cutoff) c.reset();
            n += c ? 1 : 0;
          }
          return n;
        }
      },
      state);
}

// The hosts taking part in what the group holds now (and the fleet peers they name).
std::set<std::string> participants(const State& state) {
  std::set<std::string> out;
  const auto add = [&out](const Hit& h) {
    out.insert(h.host);
    if (!h.peer.empty()) out.insert(h.peer);
  };
  std::visit(
      [&](const auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, CountState>) {
          for (const auto& h : s.hits) add(h);
        } else if constexpr (std::is_same_v<T, DistinctState>) {
          for (const auto& [v, h] : s.values) add(h);
        } else if constexpr (std::is_same_v<T, TemporalState>) {
          for (const auto& h : s.last) {
            if (h) add(*h);
          }
        } else {
          if (!s.chains.empty() && s.chains.back()) {
            for (const auto& h : s.chains.back()->hits) add(h);
          }
        }
      },
      state);
  out.erase("");
  return out;
}

std::string describe(const CorrelationRule& r, std::uint64_t count) {
  switch (r.type) {
    case CorrelationType::kEventCount:
      return fmt::format("{} events", count);
    case CorrelationType::kValueCount:
      return fmt::format("{} distinct {}", count, r.value_field ? r.value_field->name : "values");
    case CorrelationType::kTemporal:
      return fmt::format("{} of {} rules ({})", count, r.rules.size(), fmt::join(r.rules, ", "));
    case CorrelationType::kTemporalOrdered:
      return fmt::format("{} in order", fmt::join(r.rules, " -> "));
  }
  return "";
}

}  // namespace

CorrelationEngine::CorrelationEngine(std::vector<CorrelationRule> rules, Limits limits)
    : limits_(limits) {
  limits_.max_groups = std::max<std::size_t>(limits_.max_groups, 1);
  limits_.max_entries = std::max<std::size_t>(limits_.max_entries, 1);
  for (auto& r : rules) {
    auto rs = std::make_unique<RuleState>();
    const bool temporal =
        r.type == CorrelationType::kTemporal || r.type == CorrelationType::kTemporalOrdered;
    rs->need = std::min<std::uint64_t>(temporal ? r.rules.size() : r.condition.needed(),
                                       limits_.max_entries);
    rs->stats.kind = r.kind();
    rs->rule = std::move(r);
    const auto idx = static_cast<std::uint32_t>(rules_.size());
    for (std::uint32_t i = 0; i < rs->rule.rules.size(); ++i) {
      auto it = index_.find(rs->rule.rules[i]);
      if (it == index_.end()) {
        it = index_.emplace(rs->rule.rules[i], std::vector<Match>{}).first;
      }
      it->second.push_back({idx, i});
    }
    rules_.push_back(std::move(rs));
  }
}

CorrelationEngine::~CorrelationEngine() = default;

void CorrelationEngine::lookup(std::string_view id) {
  if (auto it = index_.find(id); it != index_.end()) {
    scratch_.insert(scratch_.end(), it->second.begin(), it->second.end());
  }
}

namespace {

std::uint64_t cutoff_of(std::uint64_t now, std::uint64_t span) {
  return now > span ? now - span : 0;
}

}  // namespace

void CorrelationEngine::expire_rule(RuleState& rs, std::uint64_t now) {
  const auto cutoff = cutoff_of(now, rs.rule.timespan_ns);
  while (!rs.lru.empty() && rs.lru.back().touched_ns < cutoff) {
    auto& g = rs.lru.back();
    rs.entries -= g.entries;
    rs.groups.erase(g.key);
    rs.lru.pop_back();
    ++rs.stats.expired;
  }
}

void CorrelationEngine::expire(std::uint64_t now_ns) {
  now_ns_ = std::max(now_ns_, now_ns);
  for (auto& rs : rules_) {
    expire_rule(*rs, now_ns_);
  }
}

void CorrelationEngine::observe(const EventView& view, std::uint64_t now_ns,
                                std::vector<v1::Alert>& out) {
  now_ns_ = std::max(now_ns_, now_ns);
  scratch_.clear();
  for (const auto& ind : view.event.indicators()) {
    lookup(ind.id());
  }
  for (const auto id : view.extra_indicators) {
    lookup(id);
  }
  if (scratch_.empty()) {
    return;
  }
  ++events_;
  std::ranges::sort(scratch_, [](const Match& a, const Match& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.ref < b.ref;
  });
  const auto dup = std::ranges::unique(
      scratch_, [](const Match& a, const Match& b) { return a.rule == b.rule && a.ref == b.ref; });
  scratch_.erase(dup.begin(), dup.end());
  for (std::size_t i = 0; i < scratch_.size();) {
    std::size_t j = i;
    std::vector<std::uint32_t> refs;
    while (j < scratch_.size() && scratch_[j].rule == scratch_[i].rule) {
      refs.push_back(scratch_[j].ref);
      ++j;
    }
    process(*rules_[scratch_[i].rule], refs, view, out);
    i = j;
  }
}

void CorrelationEngine::process(RuleState& rs, const std::vector<std::uint32_t>& refs,
                                const EventView& view, std::vector<v1::Alert>& out) {
  const auto now = now_ns_;
  const auto& rule = rs.rule;
  expire_rule(rs, now);

  // The groups this event falls into: one per distinct group key over the
  // referenced rules it matched (aliases may send two matches to two groups).
  struct Keyed {
    std::string key;
    std::vector<std::string> values;
    std::vector<std::uint32_t> refs;
    std::vector<std::string> distinct;  // value_count: the counted values
  };
  std::vector<Keyed> keyed;
  for (const auto ref : refs) {
    std::vector<std::string> values;
    bool grouped = true;
    for (const auto& fr : rule.group_by) {
      const auto field = fr.per_rule[ref];
      auto v = field ? extract(*field, view, rule.rules[ref]) : std::nullopt;
      if (!v) {
        grouped = false;
        break;
      }
      values.push_back(std::move(*v));
    }
    std::optional<std::string> counted;
    if (grouped && rule.value_field) {
      const auto field = rule.value_field->per_rule[ref];
      counted = field ? extract(*field, view, rule.rules[ref]) : std::nullopt;
      grouped = counted.has_value();
    }
    if (!grouped) {
      ++rs.stats.ungrouped;
      continue;
    }
    std::string key = fmt::format("{}", fmt::join(values, "\x1f"));
    auto it = std::ranges::find(keyed, key, &Keyed::key);
    if (it == keyed.end()) {
      keyed.push_back({std::move(key), std::move(values), {}, {}});
      it = keyed.end() - 1;
    }
    it->refs.push_back(ref);
    if (counted && std::ranges::find(it->distinct, *counted) == it->distinct.end()) {
      it->distinct.push_back(std::move(*counted));
    }
  }

  const auto cutoff = cutoff_of(now, rule.timespan_ns);
  const Hit hit{now, std::string(view.host), std::string(view.peer)};
  for (auto& k : keyed) {
    auto found = rs.groups.find(k.key);
    if (found == rs.groups.end()) {
      // An ordered chain can only start with the first rule: later steps
      // alone leave no state behind.
      if (rule.type == CorrelationType::kTemporalOrdered && k.refs.front() != 0) {
        continue;
      }
      rs.lru.emplace_front();
      auto& g = rs.lru.front();
      g.key = std::move(k.key);
      g.values = std::move(k.values);
      g.state = initial_state(rule);
      found = rs.groups.emplace(g.key, rs.lru.begin()).first;
    } else if (found->second != rs.lru.begin()) {
      rs.lru.splice(rs.lru.begin(), rs.lru, found->second);
    }
    Group& g = *found->second;
    g.touched_ns = now;
    ++g.events;
    rs.entries -= g.entries;
    std::size_t kept = prune(g.state, cutoff);
    std::uint64_t count = 0;
    std::visit(
        [&](auto& s) {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, CountState>) {
            s.hits.push_back(hit);
            while (s.hits.size() > rs.need) s.hits.pop_front();
            kept = s.hits.size();
            count = kept;
          } else if constexpr (std::is_same_v<T, DistinctState>) {
            for (auto& v : k.distinct) {
              if (auto it = s.index.find(v); it != s.index.end()) {
                s.values.splice(s.values.end(), s.values, it->second);
                s.values.back().second = hit;
              } else {
                s.values.emplace_back(std::move(v), hit);
                s.index.emplace(s.values.back().first, std::prev(s.values.end()));
              }
            }
            while (s.values.size() > rs.need) {
              s.index.erase(s.values.front().first);
              s.values.pop_front();
            }
            kept = s.values.size();
            count = kept;
          } else if constexpr (std::is_same_v<T, TemporalState>) {
            for (const auto ref : k.refs) s.last[ref] = hit;
            kept = static_cast<std::size_t>(
                std::ranges::count_if(s.last, [](const auto& h) { return h.has_value(); }));
            count = kept;
          } else {
            // Later steps first, so one event never completes two steps.
            for (auto r = k.refs.rbegin(); r != k.refs.rend(); ++r) {
              const auto step = *r;
              if (step == 0) {
                s.chains[0] = OrderedState::Chain{now, {hit}};
              } else if (s.chains[step - 1] &&
                         (!s.chains[step] || s.chains[step - 1]->start >= s.chains[step]->start)) {
                auto chain = *s.chains[step - 1];
                chain.hits.push_back(hit);
                s.chains[step] = std::move(chain);
              }
            }
            kept = static_cast<std::size_t>(
                std::ranges::count_if(s.chains, [](const auto& c) { return c.has_value(); }));
            count = s.chains.back() ? s.chains.size() : 0;
          }
        },
        g.state);
    g.entries = kept;
    rs.entries += kept;

    if (g.alert) {
      g.alert->set_count(g.events);
    }
    if (!rule.condition.holds(count)) {
      continue;
    }
    const auto hosts = participants(g.state);
    bool grew = false;
    for (const auto& h : hosts) {
      if (g.alert_hosts.size() >= kMaxAlertHosts) break;
      grew |= g.alert_hosts.insert(h).second;
    }
    const bool opened = !g.alert;
    if (opened) {
      auto& a = g.alert.emplace();
      a.set_id(fmt::format("fleet-{:x}-s{}", now, ++next_id_));
      a.set_ts_ns(now);
      a.set_fleet(true);
      a.set_kind(rule.kind());
      a.set_score(rule.score);
      auto* ind = a.add_indicators();
      ind->set_id(rule.kind());
      ind->set_attack(rule.attack);
      ind->set_severity(rule.score);
      auto* ref = a.mutable_rule();
      ref->set_id(rule.id);
      ref->set_name(rule.name);
      ref->set_title(rule.title);
      ref->set_author(rule.author);
      for (const auto& r : rule.references) ref->add_references(r);
      ref->set_level(rule.level);
      for (const auto& t : rule.tags) ref->add_tags(t);
      ref->set_source(rule.source);
      ref->set_type(std::string(to_string(rule.type)));
      for (std::size_t i = 0; i < rule.group_by.size(); ++i) {
        auto* gv = a.add_group();
        gv->set_field(rule.group_by[i].name);
        gv->set_value(g.values[i]);
      }
      *a.mutable_event() = view.event;
      a.set_count(g.events);
    } else if (!grew && g.events < g.next_report) {
      continue;  // nothing new to say: no new host, and not twice the events of the last report
    }
    g.next_report = 2 * g.events;
    auto& a = *g.alert;
    a.set_updated_ns(now);
    a.clear_hosts();
    for (const auto& h : g.alert_hosts) a.add_hosts(h);
    std::string where;
    for (std::size_t i = 0; i < rule.group_by.size(); ++i) {
      where += fmt::format("{}{}={}", i == 0 ? " [" : ", ", rule.group_by[i].name, g.values[i]);
    }
    if (!where.empty()) where += "]";
    a.set_summary(fmt::format("{}{}: {} on {} host{}: {}", rule.title, where, describe(rule, count),
                              g.alert_hosts.size(), g.alert_hosts.size() == 1 ? "" : "s",
                              fmt::join(g.alert_hosts, ", ")));
    opened ? ++rs.stats.alerts_created : ++rs.stats.alerts_updated;
    out.push_back(a);
  }

  // Bounded state: the least recently touched groups go first (the one just
  // touched is at the front and the last to go).
  while (rs.lru.size() > 1 &&
         (rs.lru.size() > limits_.max_groups || rs.entries > limits_.max_entries)) {
    auto& g = rs.lru.back();
    rs.entries -= g.entries;
    rs.groups.erase(g.key);
    rs.lru.pop_back();
    ++rs.stats.evictions;
  }
}

EngineStats CorrelationEngine::stats() const {
  EngineStats s;
  s.events = events_;
  for (const auto& rs : rules_) {
    auto r = rs->stats;
    r.groups = rs->lru.size();
    r.entries = rs->entries;
    s.alerts_created += r.alerts_created;
    s.alerts_updated += r.alerts_updated;
    s.evictions += r.evictions;
    s.groups += r.groups;
    s.rules.push_back(std::move(r));
  }
  return s;
}

}  // namespace vigil::collector::sigma
