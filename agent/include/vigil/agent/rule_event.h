// The Sigma view of an enriched event: which logsource category it belongs to
// and the values of the fields rules may name (docs/detections.md, "Field
// map"). Values are views into the event, the process table and buffers this
// builder owns, so a built RuleEvent is valid until the next build().
// Allocation-free once its buffers have grown to the longest command line seen.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "vigil/agent/host_relation.h"
#include "vigil/agent/process_table.h"
#include "vigil/agent/sigma.h"
#include "vigil/event.h"

namespace vigil::agent {

// What the pipeline knows of an exec's pipe neighbours (PipeLinks): the
// program feeding its stdin, the shell reading its stdout. Empty: unknown.
struct ExecLinks {
  std::string_view stdin_image;
  std::string_view stdin_command_line;
  std::string_view stdout_image;
};

class RuleEventBuilder {
 public:
  // Fills `out` for `event`; false when no Sigma category applies (fork, exit
  // without a crash storm, network summaries, refused syscalls, ...).
  // `host`: the event's relation to the host (ContainerWatch), for the
  // ns.host, ns.entered_host, container.host_* and HostFilesystem fields.
  bool build(const Event& event, const ProcessTable& table, sigma::RuleEvent& out,
             const ExecLinks& links = {}, const HostRelation& host = {});

 private:
  std::string_view number(std::size_t slot, std::uint64_t value);
  std::string_view user_name(std::uint32_t uid);

  std::string command_line_;
  std::string parent_command_line_;
  // Decimal renderings of numeric fields, one buffer per field that needs one.
  static constexpr std::size_t kNumberSlots = 16;
  std::array<std::array<char, 24>, kNumberSlots> numbers_{};
  std::array<std::uint8_t, kNumberSlots> number_len_{};
  // uid -> name, read once from /etc/passwd per uid (bounded).
  struct UserCache {
    std::uint32_t uid = 0;
    std::string name;
  };
  std::array<UserCache, 64> users_{};
  std::size_t users_n_ = 0;
  char mode_[8]{};
};

}  // namespace vigil::agent
