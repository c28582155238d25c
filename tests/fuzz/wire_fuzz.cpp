// libFuzzer-compatible target for everything vigil parses from outside the
// kernel: the first byte picks what the rest is fed to —
//   0 AgentMessage (every message an agent sends) → the collector's validation
//   1 Model bytes → the model loader; 2 ModelUpdate → signature check + loader
//   3 agent YAML config; 4 collector YAML config; 5 API token file.
// Any crash or sanitizer report is a bug; errors are the expected outcome.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "vigil/agent/config.h"
#include "vigil/agent/model_update.h"
#include "vigil/collector/collector.h"
#include "vigil/collector/tokens.h"
#include "vigil/collector/validate.h"
#include "vigil/scoring.h"
#include "vigil/v1/agent.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 etc. are expected here
    return true;
  }();
  (void)quiet;
  if (size == 0) {
    return 0;
  }
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {
      vigil::v1::AgentMessage msg;
      if (msg.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) {
        (void)vigil::collector::validate_hello(msg.hello());
        (void)vigil::collector::validate_batch(msg.batch());
      }
      break;
    }
    case 1:
      (void)vigil::ScoringModel::load_bytes(rest);
      break;
    case 2: {
      vigil::v1::ModelUpdate update;
      if (update.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) {
        (void)vigil::agent::verify_model_update(
            update, {.online = std::string(64, 'a'), .release = std::string(64, 'b')},
            {.current = 1, .highest = 2}, 1);
      }
      break;
    }
    case 3: {
      vigil::agent::AgentConfig cfg;
      if (vigil::agent::apply_yaml(rest, cfg)) {
        (void)vigil::agent::validate(cfg);
      }
      break;
    }
    case 4: {
      vigil::collector::CollectorConfig cfg;
      (void)vigil::collector::apply_yaml(rest, cfg);
      break;
    }
    default:
      (void)vigil::collector::TokenStore::parse(rest);
  }
  return 0;
}
