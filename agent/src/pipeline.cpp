#include "vigil/agent/pipeline.h"

namespace vigil::agent {

Pipeline::Pipeline(std::string host, ProcessTable& table, std::int64_t boot_to_unix_ns)
    : host_(std::move(host)), table_(table), decoder_(boot_to_unix_ns) {}

void Pipeline::on_record(std::span<const std::byte> record) {
  ++stats_.records;
  if (!decoder_.decode(record, event_)) {
    return;  // counted in decode_stats(); never logged per record
  }
  event_.host = host_;
  table_.apply(event_);
  if (events_) {
    events_->write(event_);
    ++stats_.events_out;
  }
}

void Pipeline::on_batch_end() {
  if (events_) {
    events_->flush();
  }
}

}  // namespace vigil::agent
