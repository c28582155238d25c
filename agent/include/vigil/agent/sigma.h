// Sigma rules (specification v2) on the agent: detection content as data.
//
// Read -> compile -> index, as Falco's engine does: each YAML file is parsed
// once into a flat program over pre-resolved field ids; rules are indexed by
// logsource category and, where a rule must contain a literal, by that literal,
// so most rules never run for most events. Matching allocates nothing.
// Regexes are RE2 (linear time): rule files may come from anywhere.
//
// The pipeline fills a RuleEvent (field values as views into its own event and
// process table) and asks the RuleSet which rules match. docs/detections.md
// has the category taxonomy and the field map.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/result.h"

namespace vigil::agent::sigma {

// Logsource categories vigil produces (product: linux). The first group are
// Sigma's own names; the rest are vigil's for what Sigma has no name for.
enum class Category : std::uint8_t {
  kProcessCreation,     // exec
  kFileEvent,           // any file change (create, write, chmod, rename, unlink, ...)
  kFileChange,          // content or metadata change of an existing file
  kFileRename,          // rename: TargetFilename is the new name, SourceFilename the old
  kFileDelete,          // unlink
  kFileAccess,          // vigil: a sensitive file read (credential stores)
  kNetworkConnection,   // connect, accept, listen
  kPtrace,              // vigil: ptrace requests
  kMemory,              // vigil: W+X, RW->RX, memfd, fileless exec, injection
  kPrivilege,           // vigil: set*id, capset
  kProcessTermination,  // vigil: exit (crash storms)
  kNamespaceChange,     // vigil: setns, unshare that succeeded
  kCount,
};
inline constexpr std::size_t kCategories = static_cast<std::size_t>(Category::kCount);
[[nodiscard]] std::string_view to_string(Category c);
// Sigma logsource `category` (and `service` for vigil's own) -> Category.
[[nodiscard]] std::optional<Category> category_from_string(std::string_view name);

// Fields a rule may name. Values are strings as Sigma sees them (numbers in
// decimal). A field that does not apply to an event is absent, which is not
// the same as empty (`exists` tells them apart).
enum class Field : std::uint8_t {
  kImage,                // executable path
  kOriginalFileName,     // never present on Linux (kept so rules naming it load)
  kCommandLine,          // argv joined with spaces
  kCurrentDirectory,     // cwd (absent when unknown)
  kUser,                 // user name of the real uid (numeric if unknown)
  kLogonId,              // login uid (loginuid), decimal
  kParentImage,          // parent's executable
  kParentCommandLine,    // parent's argv joined
  kProcessId,            // pid
  kParentProcessId,      // ppid
  kTargetFilename,       // file events: the path written (rename: the new name)
  kSourceFilename,       // file_rename: the old name
  kDestinationIp,        // network: remote address
  kDestinationPort,      // network: remote port
  kDestinationHostname,  // never present: no DNS on the hot path (docs say so)
  kSourceIp,             // network: local address
  kSourcePort,           // network: local port
  kInitiated,            // network: "true" for connect, "false" for accept/listen
  kProtocol,             // network: tcp/udp
  kUid,                  // real uid, decimal
  kEuid,                 // effective uid, decimal
  kTargetProcessId,      // ptrace/kill/inject: the target pid
  kTargetImage,          // ptrace/inject: the target's executable, when known
  kRequest,              // ptrace request name (PTRACE_ATTACH, ...), memory op name
  kEventType,            // vigil's event type name (exec, connect, wx_memory, ...)
  kFileMode,             // chmod: octal mode (e.g. 4755)
  kComm,                 // task comm
  kStdinImage,           // exec: the program writing into this process's stdin pipe (vigil)
  kStdinCommandLine,     // exec: ... and its command line (vigil)
  kStdoutImage,          // exec: the shell reading this process's stdout pipe (vigil)
  // Container and Kubernetes context (Falco's names), present when the event
  // comes from a container and the value is known (docs/detections.md).
  kContainerId,         // container.id: the full id
  kContainerName,       // container.name
  kContainerImage,      // container.image: as the runtime names it (repo:tag)
  kContainerImageRepo,  // container.image.repository
  kContainerImageTag,   // container.image.tag
  kContainerRuntime,    // container.runtime (alias container.type)
  kK8sPod,              // k8s.pod (alias k8s.pod.name)
  kK8sPodUid,           // k8s.pod.uid
  kK8sNs,               // k8s.ns (alias k8s.ns.name)
  // Namespaces, present when the task's are known.
  kHostNs,  // host_ns: 'true' when mnt, pid, net and user are the host's
  kNsMnt,   // ns.mnt ... ns.cgroup: inode numbers, decimal
  kNsPid,
  kNsNet,
  kNsUser,
  kNsUts,
  kNsIpc,
  kNsCgroup,
  kNsPidInNs,          // ns_pid (alias proc.vpid): the pid inside its pid namespace
  kNsHost,             // ns.host: the kinds shared with the host ("mnt,pid,net,...")
  kNsEnteredHost,      // ns.entered_host: namespace_change: host kinds entered
  kContainerHostNs,    // container.host_ns: a container's judgement (HostRelation)
  kContainerHostCaps,  // container.host_caps: ... its escape-grade capabilities
  kHostFilesystem,     // HostFilesystem: file on the host's root fs from another root
  kCount,
};
inline constexpr std::size_t kFields = static_cast<std::size_t>(Field::kCount);
[[nodiscard]] std::string_view to_string(Field f);
// Sigma field name (case-insensitive) -> Field.
[[nodiscard]] std::optional<Field> field_from_string(std::string_view name);

// One event as rules see it: views into memory the caller keeps alive for the
// call. Reset between events with clear().
struct RuleEvent {
  Category category = Category::kProcessCreation;
  // Extra categories this event also belongs to (file_rename is also a
  // file_event); kCount = none.
  Category also = Category::kCount;
  std::array<std::string_view, kFields> value{};
  std::array<bool, kFields> present{};

  void clear() {
    present.fill(false);
    also = Category::kCount;
  }
  void set(Field f, std::string_view v) {
    value[static_cast<std::size_t>(f)] = v;
    present[static_cast<std::size_t>(f)] = true;
  }
};

// Sigma `level` -> indicator severity (docs/detections.md has the map):
// informational 10, low 30, medium 45, high 70, critical 90.
enum class Level : std::uint8_t { kInformational, kLow, kMedium, kHigh, kCritical };
[[nodiscard]] std::uint8_t severity(Level level);
// The Sigma `level` word.
[[nodiscard]] inline std::string_view to_string(Level level) {
  switch (level) {
    case Level::kInformational:
      return "informational";
    case Level::kLow:
      return "low";
    case Level::kMedium:
      return "medium";
    case Level::kHigh:
      return "high";
    case Level::kCritical:
      return "critical";
  }
  return "medium";
}

// A compiled rule's provenance and what a match means.
struct RuleInfo {
  std::string id;    // Sigma `id` (a UUID for SigmaHQ's rules)
  std::string name;  // Sigma `name`, if any (vigil's pack: the indicator id)
  std::string title;
  std::string author;
  std::string reference;  // first `references` entry
  std::string description;
  std::string status;
  std::string file;                 // the file it came from
  std::vector<std::string> attack;  // ATT&CK ids from tags (attack.t1059.004 -> T1059.004)
  Level level = Level::kMedium;
  std::uint8_t severity = 45;
  Category category = Category::kProcessCreation;
  std::vector<std::string> falsepositives;
  // indicator id: `name` when set, else `id`
  [[nodiscard]] const std::string& indicator_id() const { return name.empty() ? id : name; }
};

// Per-rule counters: evaluations, matches and time spent (sampled), for /metrics.
struct RuleCounters {
  std::atomic<std::uint64_t> evaluations{0};
  std::atomic<std::uint64_t> matches{0};
  std::atomic<std::uint64_t> nanoseconds{0};
};

// What --check-rules prints: one entry per file and per rule in it.
struct LoadReport {
  struct Entry {
    std::string file;
    std::string rule;  // id or title; empty for a file-level problem
    bool loaded = false;
    bool skipped = false;  // well-formed, but for a logsource vigil does not produce
    std::string reason;    // why not (exact: the YAML error, the unknown field or modifier)
  };
  std::vector<Entry> entries;
  std::size_t files = 0;
  std::size_t files_failed = 0;  // files that did not parse as YAML at all
  std::size_t rules_loaded = 0;
  std::size_t rules_failed = 0;
  std::size_t rules_skipped = 0;  // well-formed but for a logsource vigil does not produce
};

class CompiledRule;

class RuleSet {
 public:
  RuleSet();
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  // Adds every rule of one YAML document stream (a file may hold several
  // documents; `action: global` documents are not supported and are reported).
  // Rules for other products or for logsources vigil does not produce are
  // skipped and reported as such. Never throws.
  void add_yaml(std::string_view yaml, std::string_view file_name, LoadReport& report);
  // Adds every *.yml / *.yaml below `dir` (recursively, in sorted order).
  void add_directory(const std::filesystem::path& dir, LoadReport& report);
  // Rules by id are switched off (the operator's noisy-rule switch).
  void disable(std::string_view rule_id);
  // Per-rule counters (on by default) cost two atomic adds per evaluation.
  void set_counters_enabled(bool enabled);

  // The rules that match `event`, in load order, appended to `out` (cleared first).
  void match(const RuleEvent& event, std::vector<const RuleInfo*>& out) const;

  [[nodiscard]] std::size_t size() const;
  // Every loaded rule, in load order, with its counters.
  [[nodiscard]] std::vector<std::pair<const RuleInfo*, const RuleCounters*>> rules() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Loads every directory; errors are in the report, never thrown.
[[nodiscard]] std::shared_ptr<RuleSet> load_rules(std::span<const std::filesystem::path> dirs,
                                                  LoadReport& report);

}  // namespace vigil::agent::sigma
