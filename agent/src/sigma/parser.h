// Reading one Sigma rule document (a yaml-cpp node) into plain structures:
// the rule's metadata and logsource first, its detection only for rules
// vigil will compile (a Windows rule's detection is never looked at).
#pragma once

#include <string>
#include <vector>

#include "modifiers.h"
#include "vigil/agent/sigma.h"
#include "vigil/result.h"

namespace YAML {
class Node;
}

namespace vigil::agent::sigma::detail {

// `Field|mod|mod: value(s)`; an empty field is a keyword item (`'|all': [..]`).
struct FieldSpec {
  std::string field;
  std::vector<std::string> modifiers;
  std::vector<RawValue> values;
};

// One map of a selection (AND of its fields), or one keyword string.
struct Alternative {
  bool keyword = false;
  RawValue value;                 // keyword
  std::vector<FieldSpec> fields;  // map
};

// A named search identifier: its alternatives are ORed.
struct Selection {
  std::string name;
  std::vector<Alternative> alternatives;
};

struct RuleDoc {
  RuleInfo info;  // everything but category
  std::string product, category, service;
  std::vector<Selection> selections;
  std::vector<std::string> conditions;
};

// What kind of document this is, before anything else is read.
enum class DocKind { kRule, kCorrelation, kFilter, kAction };
[[nodiscard]] DocKind doc_kind(const YAML::Node& doc, std::string& detail);

[[nodiscard]] Result<RuleDoc> read_header(const YAML::Node& doc);
[[nodiscard]] Result<void> read_detection(const YAML::Node& doc, RuleDoc& rule);

// Exposed for tests: a YAML scalar as a Sigma value.
[[nodiscard]] RawValue raw_value(const YAML::Node& scalar);

}  // namespace vigil::agent::sigma::detail
