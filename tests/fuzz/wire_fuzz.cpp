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
#include <vector>

#include "vigil/agent/config.h"
#include "vigil/agent/model_update.h"
#include "vigil/collector/collector.h"
#include "vigil/collector/tokens.h"
#include "vigil/collector/validate.h"
#include "vigil/scoring.h"
#include "vigil/shipped_model.h"
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
        (void)vigil::agent::verify_model_update(update, std::string(64, 'a'));
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

namespace {

std::vector<std::uint8_t> tagged(std::uint8_t tag, std::string_view body) {
  std::vector<std::uint8_t> v{tag};
  v.insert(v.end(), body.begin(), body.end());
  return v;
}

}  // namespace

std::vector<std::vector<std::uint8_t>> fuzz_seeds() {
  std::vector<std::vector<std::uint8_t>> s;
  vigil::v1::AgentMessage hello;
  auto* h = hello.mutable_hello();
  h->set_agent_id("web-1");
  h->set_host_id("web-1");
  h->set_version("0.1.0");
  h->add_addresses("10.0.0.5");
  s.push_back(tagged(0, hello.SerializeAsString()));
  vigil::v1::AgentMessage batch;
  for (int i = 0; i < 3; ++i) {
    auto* e = batch.mutable_batch()->add_events();
    e->set_seq(static_cast<std::uint64_t>(i + 1));
    e->set_type(i == 0 ? "exec" : "connect");
    e->set_ts_ns(1'700'000'000'000'000'000ULL);
    e->set_pid(100);
    e->set_score(75);
    e->add_feature_slots(3);
    e->add_feature_values(1.0F);
    e->mutable_exec()->set_filename("/bin/sh");
    auto* ind = e->add_indicators();
    ind->set_id("reverse-shell");
    ind->set_attack("T1059.004");
    ind->set_severity(90);
  }
  s.push_back(tagged(0, batch.SerializeAsString()));
  vigil::v1::AgentMessage health;
  health.mutable_health()->set_level("calm");
  health.mutable_health()->add_drops()->set_family("process");
  s.push_back(tagged(0, health.SerializeAsString()));
  const auto model = vigil::shipped_model_bytes();
  s.push_back(tagged(1, model));
  vigil::v1::ModelUpdate update;
  update.set_version("v2");
  update.set_model(std::string(model));
  update.set_signature(std::string(64, '\x01'));
  s.push_back(tagged(2, update.SerializeAsString()));
  s.push_back(tagged(3,
                     "host_id: web-1\nprobes: [process, network]\nringbuf_kib: 4096\n"
                     "collector: 127.0.0.1:7700\ntls_ca: /x\ntls_cert: /y\ntls_key: /z\n"
                     "xdp_blocklist: [10.0.0.1/60]\nalert_threshold: 50\n"));
  s.push_back(tagged(4,
                     "listen: 0.0.0.0:7700\ndata_dir: /var/lib/x\ninsecure: true\n"
                     "retention_age_s: 604800\ncorrelation_min_hosts: 2\nweb_listen: 1:2\n"));
  s.push_back(tagged(5, "viewer 0123456789abcdef0123\noperator abcdefabcdefabcdef # x\n"));
  return s;
}
