#include "vigil/agent/rules.h"

#include <fmt/format.h>

#include <algorithm>

namespace vigil::agent {

std::shared_ptr<const RulePack> RulePack::load(const RulePackOptions& options,
                                               sigma::LoadReport& report) {
  std::shared_ptr<RulePack> pack(new RulePack());
  pack->set_ = std::make_unique<sigma::RuleSet>();
  if (options.builtin) {
    for (const auto& file : embedded_rule_pack()) {
      pack->set_->add_yaml(file.yaml, fmt::format("(built-in) {}", file.name), report);
    }
  }
  for (const auto& dir : options.dirs) {
    pack->set_->add_directory(dir, report);
  }
  auto switch_off = [&](const std::vector<std::string>& ids, const std::string& source) {
    for (const auto& off : ids) {
      bool found = false;
      for (const auto& [info, counters] : pack->set_->rules()) {
        if (info->id == off || info->name == off) {
          pack->set_->disable(info->id);
          found = true;
        }
      }
      if (!found) {
        report.entries.push_back({.file = source,
                                  .rule = off,
                                  .loaded = false,
                                  .reason = "no loaded rule has this id or name"});
      }
    }
  };
  switch_off(options.disabled, "(disabled_rules)");
  switch_off(options.pack_disabled, fmt::format("(rule pack {} disabled)", options.pack_version));
  pack->index();
  return pack;
}

std::shared_ptr<const RulePack> RulePack::from_yaml(std::string_view yaml,
                                                    sigma::LoadReport& report) {
  std::shared_ptr<RulePack> pack(new RulePack());
  pack->set_ = std::make_unique<sigma::RuleSet>();
  pack->set_->add_yaml(yaml, "(inline)", report);
  pack->index();
  return pack;
}

void RulePack::index() {
  for (const auto& [info, counters] : set_->rules()) {
    const std::string& id = info->indicator_id();
    indicators_.emplace(
        info, Indicator{.id = id,
                        .attack = info->attack.empty() ? std::string_view("")
                                                       : std::string_view(info->attack.front()),
                        .severity = info->severity,
                        .summary = info->title,
                        .rule = info});
  }
  matches_.reserve(16);
}

void RulePack::evaluate(const Event& event, const ProcessTable& table,
                        std::vector<const Indicator*>& hits, const ExecLinks& links,
                        const HostRelation& host) const {
  if (indicators_.empty() || !builder_.build(event, table, rule_event_, links, host)) {
    return;
  }
  set_->match(rule_event_, matches_);
  for (const auto* info : matches_) {
    auto it = indicators_.find(info);
    if (it == indicators_.end()) {
      continue;
    }
    // A rule that re-states a C++ detector's id must not count twice.
    const Indicator* ind = &it->second;
    if (std::ranges::none_of(hits, [&](const Indicator* h) { return h->id == ind->id; })) {
      hits.push_back(ind);
    }
  }
}

std::string format_load_report(const sigma::LoadReport& report) {
  std::string out;
  auto it = std::back_inserter(out);
  for (const auto& e : report.entries) {
    const std::string_view state = e.loaded ? "loaded " : e.skipped ? "skipped" : "FAILED ";
    fmt::format_to(it, "{} {}{}{}{}{}\n", state, e.file, e.rule.empty() ? "" : " ", e.rule,
                   e.reason.empty() ? "" : ": ", e.reason);
  }
  fmt::format_to(it,
                 "{} files ({} unreadable), {} rules loaded, {} failed, {} skipped "
                 "(logsource vigil does not produce)\n",
                 report.files, report.files_failed, report.rules_loaded, report.rules_failed,
                 report.rules_skipped);
  return out;
}

}  // namespace vigil::agent
