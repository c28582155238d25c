// libFuzzer-compatible target: untrusted ring buffer bytes through the decoder
// and the whole user-space pipeline (process table, JSON, indicators, alerts).
// Any crash, sanitizer report or invalid JSON byte is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "vigil/agent/pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vigil::agent;
  static ProcessTable table(64, "");  // bounded: eviction paths get exercised too
  static Pipeline pipeline = [] {
    Pipeline p("fuzz", table, 0);
    auto events = LineSink::open("/dev/null");
    auto alerts = LineSink::open("/dev/null");
    if (events && alerts) {
      p.set_events(std::make_unique<EventWriter>(std::move(*events), OutputFormat::kJson));
      p.set_alerts(std::move(*alerts), OutputFormat::kText, 0);
    }
    return p;
  }();
  pipeline.on_record(std::span(reinterpret_cast<const std::byte*>(data), size));
  pipeline.on_batch_end();
  return 0;
}
