// Sigma rules as indicators: a loaded rule set plus one Indicator per rule, so
// a rule match travels through scoring, alerts and the wire exactly as a
// built-in indicator does, with the rule's provenance (title, author,
// reference) attached. Immutable once built: reload builds a new RulePack and
// the pipeline swaps it between events.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vigil/agent/indicators.h"
#include "vigil/agent/rule_event.h"
#include "vigil/agent/sigma.h"

namespace vigil::agent {

// vigil's own rule pack (rules/vigil/*.yml), compiled into the binary.
struct EmbeddedRuleFile {
  std::string_view name;  // e.g. "vigil/cron-write.yml"
  std::string_view yaml;
};
[[nodiscard]] std::span<const EmbeddedRuleFile> embedded_rule_pack();

struct RulePackOptions {
  bool builtin = true;                      // load the embedded vigil pack
  std::vector<std::filesystem::path> dirs;  // operator rule directories
  std::vector<std::string> disabled;        // rule ids or names switched off
  // Switched off by the collector's rule pack in force (RulePack.disabled),
  // whatever the rule's source; an id no rule has is reported under
  // "(rule pack VERSION disabled)" as `disabled` ones are under "(disabled_rules)".
  std::vector<std::string> pack_disabled;
  std::string pack_version;
};

class RulePack {
 public:
  // Loads what the options name; every problem is in `report`.
  [[nodiscard]] static std::shared_ptr<const RulePack> load(const RulePackOptions& options,
                                                            sigma::LoadReport& report);
  // A pack from YAML text (tests).
  [[nodiscard]] static std::shared_ptr<const RulePack> from_yaml(std::string_view yaml,
                                                                 sigma::LoadReport& report);

  // Appends the indicators of the rules `event` matches to `hits`.
  void evaluate(const Event& event, const ProcessTable& table, std::vector<const Indicator*>& hits,
                const ExecLinks& links = {}, const HostRelation& host = {}) const;

  [[nodiscard]] const sigma::RuleSet& rules() const { return *set_; }
  [[nodiscard]] std::size_t size() const { return set_->size(); }

 private:
  RulePack() = default;
  void index();

  std::unique_ptr<sigma::RuleSet> set_;
  std::unordered_map<const sigma::RuleInfo*, Indicator> indicators_;
  // Scratch for evaluate(): the pipeline runs on one thread.
  mutable RuleEventBuilder builder_;
  mutable sigma::RuleEvent rule_event_;
  mutable std::vector<const sigma::RuleInfo*> matches_;
};

// One line per file and per rule: "loaded", "skipped" or "FAILED" with the reason.
[[nodiscard]] std::string format_load_report(const sigma::LoadReport& report);

}  // namespace vigil::agent
