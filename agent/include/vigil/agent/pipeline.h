// The per-record path: decode -> enrich (process table) -> outputs. Kernel-free
// so tests feed it synthetic records.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "vigil/agent/decoder.h"
#include "vigil/agent/output.h"
#include "vigil/agent/process_table.h"

namespace vigil::agent {

struct PipelineStats {
  std::uint64_t records = 0;
  std::uint64_t events_out = 0;
};

class Pipeline {
 public:
  Pipeline(std::string host, ProcessTable& table, std::int64_t boot_to_unix_ns);

  void set_events(std::unique_ptr<EventWriter> writer) { events_ = std::move(writer); }

  // Handles one raw record. Malformed records are counted (decoder stats).
  void on_record(std::span<const std::byte> record);
  // End of a drain: flush outputs.
  void on_batch_end();

  [[nodiscard]] const DecodeStats& decode_stats() const { return decoder_.stats(); }
  [[nodiscard]] const PipelineStats& stats() const { return stats_; }
  [[nodiscard]] const Event& last_event() const { return event_; }

 private:
  std::string host_;
  ProcessTable& table_;
  Decoder decoder_;
  Event event_;  // reused: its strings keep their capacity between records
  std::unique_ptr<EventWriter> events_;
  PipelineStats stats_;
};

}  // namespace vigil::agent
