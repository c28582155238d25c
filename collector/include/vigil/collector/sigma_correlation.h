// Sigma correlation rules (specification v2) over the fleet, on the collector.
//
// Agents evaluate single-event detections (built-in indicators, Sigma rules) and
// put each hit on the event as an indicator id: a built-in's kebab-case id, or a
// Sigma rule's `name` (its `id` when it has no name). A correlation rule names
// such ids in `rules:` and says how their hits relate across events and hosts
// (event_count, value_count, temporal, temporal_ordered), grouped by fields of
// the collector's view of an event, within a sliding `timespan`.
//
// Time is the collector's clock: the arrival time the caller passes in. Agents'
// timestamps never open, extend or close a window, so one agent with a wrong
// clock cannot freeze or stretch correlation for the fleet.
//
// Read -> compile -> index: a file is parsed once into CorrelationRules with
// their fields resolved per referenced rule; the engine indexes rules by the
// ids they reference, so an event that carries no referenced id costs one hash
// lookup per indicator it has. State is bounded per rule (groups, and entries
// kept across groups); the least recently touched group is evicted first and
// every eviction is counted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vigil/result.h"
#include "vigil/v1/event.pb.h"

namespace vigil::collector::sigma {

enum class CorrelationType : std::uint8_t { kEventCount, kValueCount, kTemporal, kTemporalOrdered };
[[nodiscard]] std::string_view to_string(CorrelationType type);

// The collector's view of an event: what a group-by (or value_count's `field`)
// may name. A field that does not apply to an event is absent, and an event
// with an absent group-by field takes no part in that rule.
enum class Field : std::uint8_t {
  kHost,             // `host`: the host id from the agent's hello
  kAgent,            // `agent`: the agent id
  kIndicator,        // `indicator`: the referenced id this event matched
  kEventType,        // `EventType`: exec, connect, net_summary, ...
  kImage,            // executable path
  kCommandLine,      // exec: argv joined with spaces
  kUser,             // real uid, decimal (the collector has no user names)
  kSourceIp,         // socket: local address; net_summary: the sender summarised
  kSourcePort,       // socket: local port
  kDestinationIp,    // socket: remote address
  kDestinationPort,  // socket: remote port
  kTargetFilename,   // file: the path written (rename: the new name)
  kPeer,             // `peer`: the fleet host that owns the event's remote address
  // `lineage`: the process a session descends from, as the collector traced
  // it: on an accept from a fleet peer, the accepting pid; on a shell exec,
  // the nearest ancestor (or the shell itself) that accepted one. Absent
  // otherwise, so grouping by it links an accept only to its own descendants.
  kLineage,
  // The event's container (absent for the host's events): `container.id`,
  // `container.name`, `container.image`, `k8s.pod` (also `k8s.pod.name`),
  // `k8s.ns` (also `k8s.ns.name`), Falco's names.
  kContainerId,
  kContainerName,
  kContainerImage,
  kK8sPod,
  kK8sNs,
  kCount,
};
[[nodiscard]] std::optional<Field> field_from_string(std::string_view name);
[[nodiscard]] std::string_view to_string(Field field);

// A count condition: every bound given must hold. Judged as each event
// arrives, so a lower bound (gt, gte or eq) is required.
struct Condition {
  std::optional<std::uint64_t> gt;
  std::optional<std::uint64_t> gte;
  std::optional<std::uint64_t> lt;
  std::optional<std::uint64_t> lte;
  std::optional<std::uint64_t> eq;
  [[nodiscard]] bool holds(std::uint64_t n) const;
  // The largest count the engine must tell apart: entries kept per group.
  [[nodiscard]] std::uint64_t needed() const;
};

// A group-by name (a field or an alias) resolved for each referenced rule:
// per_rule[i] is the field for events matching rules[i] (nullopt: absent).
struct FieldRef {
  std::string name;
  std::vector<std::optional<Field>> per_rule;
};

struct CorrelationRule {
  // Provenance: travels with every alert the rule raises.
  std::string id;
  std::string name;
  std::string title;
  std::string description;
  std::string author;
  std::string level;  // informational | low | medium | high | critical
  std::string status;
  std::vector<std::string> references;
  std::vector<std::string> tags;
  std::string source;  // "(shipped) fleet/x.yml" or the operator's file path
  std::string attack;  // the first ATT&CK technique among the tags ("T1046"), or empty

  CorrelationType type = CorrelationType::kEventCount;
  std::vector<std::string> rules;  // referenced ids, in order (temporal_ordered: the order)
  std::vector<FieldRef> group_by;
  std::optional<FieldRef> value_field;  // value_count: condition.field
  std::uint64_t timespan_ns = 0;
  Condition condition;
  std::uint32_t score = 0;  // 0..100: `score:` when given, else from level
  bool generate = false;    // accepted; agents report their own hits regardless

  // The alert kind: the rule's name, else its id.
  [[nodiscard]] const std::string& kind() const { return name.empty() ? id : name; }
};

// Parses every document of one YAML text. Correlation documents become rules;
// detection documents (a Sigma file may bundle the rules a correlation
// references) are agent content and are skipped with a note. Errors name
// `source`, the document and the reason.
[[nodiscard]] Result<std::vector<CorrelationRule>> parse_rules(std::string_view yaml,
                                                               std::string_view source,
                                                               std::vector<std::string>* notes);
// Every *.yml and *.yaml file under `dir` (recursively, in path order).
[[nodiscard]] Result<std::vector<CorrelationRule>> load_directory(const std::filesystem::path& dir,
                                                                  std::vector<std::string>* notes);

// vigil's own pack (rules/fleet/*.yml), compiled into the collector.
struct EmbeddedRuleFile {
  std::string_view name;  // e.g. "fleet/fleet_scan.yml"
  std::string_view yaml;
};
[[nodiscard]] std::span<const EmbeddedRuleFile> shipped_rule_files();
[[nodiscard]] Result<std::vector<CorrelationRule>> load_shipped_rules();

// Per-rule state limits. Every group holds at least one entry.
struct Limits {
  std::size_t max_groups = 10'000;    // groups per rule
  std::size_t max_entries = 100'000;  // kept hits and values per rule, across its groups
};

struct RuleSetOptions {
  bool shipped = true;                      // load rules/fleet
  std::vector<std::filesystem::path> dirs;  // the operator's directories
  Limits limits;
};
// The shipped pack, then the operator's directories. An operator rule with
// the name or id of a shipped rule replaces it (noted); two operator rules
// with one name or id, a rule referencing another correlation rule (chaining
// is not supported) or a condition needing more entries than
// limits.max_entries are errors.
[[nodiscard]] Result<std::vector<CorrelationRule>> load_rule_set(const RuleSetOptions& options,
                                                                 std::vector<std::string>* notes);
// The set-level checks of load_rule_set, for rules parsed elsewhere.
[[nodiscard]] Result<void> validate_rule_set(const std::vector<CorrelationRule>& rules,
                                             const Limits& limits);

// What the collector knows about one arriving event.
struct EventView {
  std::string_view agent;
  std::string_view host;
  std::string_view peer;     // the fleet host owning the remote address; empty if none
  std::string_view lineage;  // see Field::kLineage; empty if none
  std::span<const std::string_view> extra_indicators;  // ids the collector derived
  const v1::Event& event;
};

struct RuleStats {
  std::string kind;
  std::uint64_t alerts_created = 0;
  std::uint64_t alerts_updated = 0;
  std::uint64_t evictions = 0;  // groups dropped for a limit before their window closed
  std::uint64_t expired = 0;    // groups whose window closed
  std::uint64_t ungrouped = 0;  // hits without a value for a group-by field
  std::uint64_t groups = 0;     // open now
  std::uint64_t entries = 0;    // kept now
};

struct EngineStats {
  std::uint64_t events = 0;  // events that carried an id some rule references
  std::uint64_t alerts_created = 0;
  std::uint64_t alerts_updated = 0;
  std::uint64_t evictions = 0;
  std::uint64_t groups = 0;
  std::vector<RuleStats> rules;
};

class CorrelationEngine {
 public:
  explicit CorrelationEngine(std::vector<CorrelationRule> rules, Limits limits = {});
  ~CorrelationEngine();
  CorrelationEngine(const CorrelationEngine&) = delete;
  CorrelationEngine& operator=(const CorrelationEngine&) = delete;

  // Feeds one event that arrived at `now_ns` (collector clock, unix ns; a
  // clock that steps back is held at its last value). Appends the fleet
  // alerts it opened or grew.
  void observe(const EventView& view, std::uint64_t now_ns, std::vector<v1::Alert>& out);
  // Drops groups whose window has closed (observe does this for the rules an
  // event touches; this sweeps the others).
  void expire(std::uint64_t now_ns);

  [[nodiscard]] EngineStats stats() const;
  [[nodiscard]] std::size_t size() const { return rules_.size(); }

 private:
  struct RuleState;
  struct Match {
    std::uint32_t rule;
    std::uint32_t ref;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  void lookup(std::string_view id);
  void expire_rule(RuleState& rs, std::uint64_t now);
  void process(RuleState& rs, const std::vector<std::uint32_t>& refs, const EventView& view,
               std::vector<v1::Alert>& out);

  std::vector<std::unique_ptr<RuleState>> rules_;
  std::unordered_map<std::string, std::vector<Match>, StringHash, std::equal_to<>> index_;
  Limits limits_;
  std::uint64_t now_ns_ = 0;
  std::uint64_t next_id_ = 0;
  std::uint64_t events_ = 0;
  std::vector<Match> scratch_;  // observe(): the (rule, ref) pairs one event matched
};

}  // namespace vigil::collector::sigma
