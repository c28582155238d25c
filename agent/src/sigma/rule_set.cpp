// RuleSet: loading (read -> compile -> index) and matching.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <bit>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "compiler.h"
#include "index.h"
#include "parser.h"
#include "program.h"
#include "text.h"
#include "vigil/agent/sigma.h"

namespace vigil::agent::sigma {
namespace {

// Candidate rules are bits on the matcher's stack: 1024 words = 65536
// rules, 8 KiB. SigmaHQ holds a few thousand rules for every platform.
constexpr std::size_t kMaxWords = 1024;
constexpr std::size_t kMaxRules = kMaxWords * 64;

// One evaluation in this many is timed: the clock costs about as much as a
// cheap rule.
constexpr std::uint64_t kTimeSampleMask = 63;

enum class Status { kLoaded, kSkipped, kFailed };

struct Outcome {
  Status status = Status::kFailed;
  std::string reason;
  std::unique_ptr<CompiledRule> rule;
};

Outcome fail(std::string reason) { return {Status::kFailed, std::move(reason), nullptr}; }
Outcome skip(std::string reason) { return {Status::kSkipped, std::move(reason), nullptr}; }

// Which category a logsource maps to, or why vigil does not produce it.
Outcome classify(const detail::RuleDoc& doc, Category& out) {
  if (!doc.product.empty() && !detail::iequals_ascii(doc.product, "linux")) {
    return skip("logsource product '" + doc.product + "': vigil sees Linux hosts only");
  }
  if (!doc.category.empty()) {
    const auto c = category_from_string(doc.category);
    if (!c) {
      return skip("logsource category '" + doc.category + "' is not one vigil produces");
    }
    if (!doc.service.empty() && !detail::iequals_ascii(doc.service, doc.category)) {
      return skip("logsource service '" + doc.service + "' is not one vigil produces");
    }
    out = *c;
    return {Status::kLoaded, {}, nullptr};
  }
  if (!doc.service.empty()) {
    // vigil's own categories may be named as a service too.
    const auto c = category_from_string(doc.service);
    if (!c) {
      return skip("logsource service '" + doc.service + "' is not one vigil produces");
    }
    out = *c;
    return {Status::kLoaded, {}, nullptr};
  }
  return skip("logsource names no category or service vigil produces");
}

Outcome load_document(const YAML::Node& doc) {
  if (!doc.IsMap()) {
    return fail("the document is not a map");
  }
  std::string what;
  switch (detail::doc_kind(doc, what)) {
    case detail::DocKind::kAction:
      return fail("action: " + what + " (rule collections) is not supported");
    case detail::DocKind::kCorrelation:
      return skip("correlation rule: correlations are evaluated by the collector");
    case detail::DocKind::kFilter:
      return fail("filter rules (meta filters) are not supported");
    case detail::DocKind::kRule:
      break;
  }
  auto header = detail::read_header(doc);
  if (!header) {
    return fail(header.error().message);
  }
  Category category = Category::kProcessCreation;
  if (auto c = classify(*header, category); c.status != Status::kLoaded) {
    return c;
  }
  if (auto d = detail::read_detection(doc, *header); !d) {
    return fail(d.error().message);
  }
  auto rule = detail::compile_rule(std::move(*header), category);
  if (!rule) {
    return fail(rule.error().message);
  }
  return {Status::kLoaded, {}, std::move(*rule)};
}

// The document's name for the report when it did not compile.
std::string doc_name(const YAML::Node& doc, std::size_t index) {
  if (doc.IsMap()) {
    for (const char* key : {"id", "title", "name"}) {
      if (const auto n = doc[key]; n && n.IsScalar() && !n.Scalar().empty()) {
        return n.Scalar();
      }
    }
  }
  return "document " + std::to_string(index + 1);
}

// A file (or directory) that yielded no rules at all.
void file_problem(LoadReport& report, std::string file, std::string reason) {
  ++report.files;
  ++report.files_failed;
  LoadReport::Entry e;
  e.file = std::move(file);
  e.reason = std::move(reason);
  report.entries.push_back(std::move(e));
}

}  // namespace

struct RuleSet::Impl {
  std::vector<std::unique_ptr<CompiledRule>> rules;
  std::unordered_map<std::string, std::size_t> by_id;
  std::unordered_set<std::string> disabled;
  std::array<detail::CategoryIndex, kCategories> index;
  std::size_t words = 0;
  std::atomic<bool> counters{true};

  void add(std::string_view yaml, std::string_view file, LoadReport& report);
  void rebuild();
  void evaluate(const CompiledRule& r, const RuleEvent& e, std::vector<const RuleInfo*>& out) const;
};

void RuleSet::Impl::add(std::string_view yaml, std::string_view file, LoadReport& report) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    file_problem(report, std::string(file),
                 "YAML error at line " + std::to_string(e.mark.line + 1) + ", column " +
                     std::to_string(e.mark.column + 1) + ": " + e.msg);
    return;
  }
  ++report.files;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    const YAML::Node& doc = docs[i];
    if (!doc || doc.IsNull()) {
      continue;  // an empty document (a trailing `---`)
    }
    LoadReport::Entry entry;
    entry.file = std::string(file);
    Outcome o;
    try {
      entry.rule = doc_name(doc, i);
      o = load_document(doc);
    } catch (const std::exception& e) {  // yaml-cpp conversions; nothing may escape add_yaml
      o = fail(std::string("unexpected YAML structure: ") + e.what());
    }
    if (o.status == Status::kLoaded) {
      auto& info = o.rule->info;
      info.file = std::string(file);
      const std::string& key = info.id.empty() ? info.title : info.id;
      if (const auto dup = by_id.find(key); dup != by_id.end()) {
        o = fail("duplicate rule id " + key + " (first loaded from " +
                 rules[dup->second]->info.file + ")");
      } else if (rules.size() >= kMaxRules) {
        o = fail("rule limit reached (" + std::to_string(kMaxRules) + ")");
      } else {
        entry.rule = key;
        by_id.emplace(key, rules.size());
        if (disabled.contains(info.id) || (!info.name.empty() && disabled.contains(info.name))) {
          o.rule->disabled.store(true, std::memory_order_relaxed);
        }
        rules.push_back(std::move(o.rule));
      }
    }
    entry.loaded = o.status == Status::kLoaded;
    entry.skipped = o.status == Status::kSkipped;
    entry.reason = std::move(o.reason);
    switch (o.status) {
      case Status::kLoaded:
        ++report.rules_loaded;
        break;
      case Status::kSkipped:
        ++report.rules_skipped;
        break;
      case Status::kFailed:
        ++report.rules_failed;
        break;
    }
    report.entries.push_back(std::move(entry));
  }
}

void RuleSet::Impl::rebuild() {
  words = (rules.size() + 63) / 64;
  for (auto& ci : index) {
    ci = detail::CategoryIndex{};
    ci.always.assign(words, 0);
  }
  for (std::uint32_t r = 0; r < rules.size(); ++r) {
    const CompiledRule& rule = *rules[r];
    auto& ci = index[static_cast<std::size_t>(rule.info.category)];
    ci.empty = false;
    if (rule.atoms.empty()) {
      ci.always[r >> 6] |= std::uint64_t{1} << (r & 63);
      continue;
    }
    for (const auto& atom : rule.atoms) {
      auto it = std::find_if(ci.scanners.begin(), ci.scanners.end(),
                             [&](const auto& s) { return s.first == atom.field; });
      if (it == ci.scanners.end()) {
        ci.scanners.emplace_back(atom.field, detail::LiteralScanner{});
        it = ci.scanners.end() - 1;
      }
      it->second.add(atom.literal, r);
    }
  }
  for (auto& ci : index) {
    for (auto& [field, scanner] : ci.scanners) {
      scanner.build();
    }
  }
}

void RuleSet::Impl::evaluate(const CompiledRule& r, const RuleEvent& e,
                             std::vector<const RuleInfo*>& out) const {
  if (r.disabled.load(std::memory_order_relaxed)) {
    return;
  }
  bool hit = false;
  if (counters.load(std::memory_order_relaxed)) {
    const auto n = r.counters.evaluations.fetch_add(1, std::memory_order_relaxed);
    if ((n & kTimeSampleMask) == 0) {
      const auto t0 = std::chrono::steady_clock::now();
      hit = r.program.eval(e);
      const auto dt = std::chrono::steady_clock::now() - t0;
      // Scaled up by the sampling rate: an estimate of the total.
      r.counters.nanoseconds.fetch_add(
          static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(dt).count()) *
              (kTimeSampleMask + 1),
          std::memory_order_relaxed);
    } else {
      hit = r.program.eval(e);
    }
    if (hit) {
      r.counters.matches.fetch_add(1, std::memory_order_relaxed);
    }
  } else {
    hit = r.program.eval(e);
  }
  if (hit) {
    out.push_back(&r.info);
  }
}

RuleSet::RuleSet() : impl_(std::make_unique<Impl>()) { impl_->rebuild(); }
RuleSet::~RuleSet() = default;

void RuleSet::add_yaml(std::string_view yaml, std::string_view file_name, LoadReport& report) {
  impl_->add(yaml, file_name, report);
  impl_->rebuild();
}

void RuleSet::add_directory(const std::filesystem::path& dir, LoadReport& report) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    file_problem(report, dir.string(),
                 fs::exists(dir, ec) ? "not a directory" : "no such directory");
    return;
  }
  std::vector<fs::path> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const auto ext = it->path().extension();
    if ((ext == ".yml" || ext == ".yaml") && it->is_regular_file(ec)) {
      files.push_back(it->path());
    }
  }
  if (ec) {
    file_problem(report, dir.string(), "cannot list: " + ec.message());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream text;
    if (in) {
      text << in.rdbuf();
    }
    if (!in) {
      file_problem(report, f.string(), "cannot read the file");
      continue;
    }
    impl_->add(text.str(), f.string(), report);
  }
  impl_->rebuild();
}

void RuleSet::disable(std::string_view rule_id) {
  const std::string id(rule_id);
  impl_->disabled.insert(id);
  for (auto& r : impl_->rules) {
    if (r->info.id == id || (!r->info.name.empty() && r->info.name == id)) {
      r->disabled.store(true, std::memory_order_relaxed);
    }
  }
}

void RuleSet::set_counters_enabled(bool enabled) {
  impl_->counters.store(enabled, std::memory_order_relaxed);
}

void RuleSet::match(const RuleEvent& event, std::vector<const RuleInfo*>& out) const {
  out.clear();
  const Impl& m = *impl_;
  const std::size_t words = m.words;
  std::array<std::uint64_t, kMaxWords> bits;  // NOLINT: only [0, words) is used, set below
  std::fill_n(bits.begin(), words, 0);
  bool any = false;
  auto mark = [&](Category c) {
    const auto ci = static_cast<std::size_t>(c);
    if (ci >= kCategories || m.index[ci].empty) {
      return;
    }
    any = true;
    const auto& index = m.index[ci];
    for (std::size_t w = 0; w < words; ++w) {
      bits[w] |= index.always[w];
    }
    for (const auto& [field, scanner] : index.scanners) {
      const auto f = static_cast<std::size_t>(field);
      if (event.present[f]) {
        scanner.scan(event.value[f], bits.data());
      }
    }
  };
  mark(event.category);
  if (event.also != event.category) {
    mark(event.also);
  }
  if (!any) {
    return;
  }
  for (std::size_t w = 0; w < words; ++w) {
    for (std::uint64_t word = bits[w]; word != 0; word &= word - 1) {
      const std::size_t r = w * 64 + static_cast<std::size_t>(std::countr_zero(word));
      m.evaluate(*m.rules[r], event, out);
    }
  }
}

std::size_t RuleSet::size() const { return impl_->rules.size(); }

std::vector<std::pair<const RuleInfo*, const RuleCounters*>> RuleSet::rules() const {
  std::vector<std::pair<const RuleInfo*, const RuleCounters*>> out;
  out.reserve(impl_->rules.size());
  for (const auto& r : impl_->rules) {
    out.emplace_back(&r->info, &r->counters);
  }
  return out;
}

std::shared_ptr<RuleSet> load_rules(std::span<const std::filesystem::path> dirs,
                                    LoadReport& report) {
  auto set = std::make_shared<RuleSet>();
  for (const auto& d : dirs) {
    set->add_directory(d, report);
  }
  return set;
}

}  // namespace vigil::agent::sigma
