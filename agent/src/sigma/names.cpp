// Names of categories, fields and levels as Sigma rules spell them.
#include <array>
#include <string_view>

#include "text.h"
#include "vigil/agent/sigma.h"

namespace vigil::agent::sigma {
namespace {

constexpr std::array<std::string_view, kCategories> kCategoryNames = {
    "process_creation", "file_event",  "file_change",         "file_rename",
    "file_delete",      "file_access", "network_connection",  "ptrace",
    "memory",           "privilege",   "process_termination", "namespace_change",
};

// Sysmon's spelling, which SigmaHQ's Linux rules use too (docs/detections.md).
constexpr std::array<std::string_view, kFields> kFieldNames = {
    "Image",
    "OriginalFileName",
    "CommandLine",
    "CurrentDirectory",
    "User",
    "LogonId",
    "ParentImage",
    "ParentCommandLine",
    "ProcessId",
    "ParentProcessId",
    "TargetFilename",
    "SourceFilename",
    "DestinationIp",
    "DestinationPort",
    "DestinationHostname",
    "SourceIp",
    "SourcePort",
    "Initiated",
    "Protocol",
    "Uid",
    "Euid",
    "TargetProcessId",
    "TargetImage",
    "Request",
    "EventType",
    "FileMode",
    "Comm",
    "StdinImage",
    "StdinCommandLine",
    "StdoutImage",
    "container.id",
    "container.name",
    "container.image",
    "container.image.repository",
    "container.image.tag",
    "container.runtime",
    "k8s.pod",
    "k8s.pod.uid",
    "k8s.ns",
    "host_ns",
    "ns.mnt",
    "ns.pid",
    "ns.net",
    "ns.user",
    "ns.uts",
    "ns.ipc",
    "ns.cgroup",
    "ns_pid",
    "ns.host",
    "ns.entered_host",
    "container.host_ns",
    "container.host_caps",
    "HostFilesystem",
};

// Other spellings rules may use: Falco's field names for the same values.
struct Alias {
  std::string_view name;
  Field field;
};
constexpr std::array<Alias, 4> kFieldAliases = {{
    {"k8s.pod.name", Field::kK8sPod},
    {"k8s.ns.name", Field::kK8sNs},
    {"container.type", Field::kContainerRuntime},
    {"proc.vpid", Field::kNsPidInNs},
}};

}  // namespace

std::string_view to_string(Category c) {
  const auto i = static_cast<std::size_t>(c);
  return i < kCategories ? kCategoryNames[i] : std::string_view{};
}

std::optional<Category> category_from_string(std::string_view name) {
  for (std::size_t i = 0; i < kCategories; ++i) {
    if (detail::iequals_ascii(name, kCategoryNames[i])) {
      return static_cast<Category>(i);
    }
  }
  return std::nullopt;
}

std::string_view to_string(Field f) {
  const auto i = static_cast<std::size_t>(f);
  return i < kFields ? kFieldNames[i] : std::string_view{};
}

std::optional<Field> field_from_string(std::string_view name) {
  for (std::size_t i = 0; i < kFields; ++i) {
    if (detail::iequals_ascii(name, kFieldNames[i])) {
      return static_cast<Field>(i);
    }
  }
  for (const auto& a : kFieldAliases) {
    if (detail::iequals_ascii(name, a.name)) {
      return a.field;
    }
  }
  return std::nullopt;
}

std::uint8_t severity(Level level) {
  switch (level) {
    case Level::kInformational:
      return 10;
    case Level::kLow:
      return 30;
    case Level::kMedium:
      return 45;
    case Level::kHigh:
      return 70;
    case Level::kCritical:
      return 90;
  }
  return 45;
}

}  // namespace vigil::agent::sigma
