// Seeds of the wire target: one valid input per selector byte (see wire_fuzz.cpp):
// hello, batch and health messages, the shipped model, a model update, both
// YAML configs, a token file.
#include <string>
#include <string_view>

#include "seeds.h"
#include "vigil/shipped_model.h"
#include "vigil/v1/agent.pb.h"

namespace {

FuzzInput tagged(std::uint8_t tag, std::string_view body) {
  FuzzInput v{tag};
  v.insert(v.end(), body.begin(), body.end());
  return v;
}

}  // namespace

std::vector<FuzzInput> fuzz_seeds() {
  std::vector<FuzzInput> s;
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
