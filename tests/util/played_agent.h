// An agent played over real gRPC (no root, no probes): a hello reporting the
// model it runs, batches of whatever events the test makes, and on a model
// update from the collector the switch a real agent makes, reported in a
// Health message as a real agent does (the rollout health gate reads it).
// Writes come from the test's thread and the reader's (the Health reply), so
// they are serialised.
#pragma once

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vigil/v1/agent.grpc.pb.h"

namespace vigil::test {

class PlayedAgent {
 public:
  PlayedAgent(const std::string& collector, const std::string& id, std::string model_version)
      : stub_(v1::AgentService::NewStub(
            grpc::CreateChannel(collector, grpc::InsecureChannelCredentials()))),
        model_(std::move(model_version)) {
    stream_ = stub_->Connect(&ctx_);
    v1::AgentMessage hello;
    hello.mutable_hello()->set_agent_id(id);
    hello.mutable_hello()->set_host_id(id);
    hello.mutable_hello()->set_version("played-agent");
    hello.mutable_hello()->set_spool_id(7);
    hello.mutable_hello()->set_model_version(model_);
    write(hello);
    reader_ = std::thread([this] {
      v1::CollectorMessage in;
      while (stream_->Read(&in)) {
        if (in.has_model()) {
          v1::AgentMessage health;
          {
            std::lock_guard lock(mu_);
            model_ = in.model().version();
            ++model_updates_;
            health.mutable_health()->set_model_version(model_);
          }
          write(health);
        }
        std::lock_guard lock(mu_);
        if (in.has_ack()) {
          acked_ = std::max(acked_, in.ack().seq());
          for (const auto& r : in.ack().refused()) refusals_.push_back(r.reason());
        }
        if (in.has_refusal()) {
          refusals_.push_back(in.refusal().reason());
          refusal_codes_.push_back(in.refusal().code());
        }
        if (in.has_prevalence()) {
          prevalence_ = in.prevalence();
          ++prevalence_tables_;
        }
      }
      std::lock_guard lock(mu_);
      ended_ = true;
    });
  }
  ~PlayedAgent() {
    {
      std::lock_guard lock(write_mu_);
      stream_->WritesDone();
    }
    reader_.join();
    (void)stream_->Finish();
  }
  PlayedAgent(const PlayedAgent&) = delete;
  PlayedAgent& operator=(const PlayedAgent&) = delete;

  // Sends `events` as one batch (seqs assigned here); false if the stream broke.
  bool send(std::vector<v1::Event> events) {
    v1::AgentMessage msg;
    auto* batch = msg.mutable_batch();
    batch->set_first_seq(seq_ + 1);
    for (auto& e : events) {
      e.set_seq(++seq_);
      *batch->add_events() = std::move(e);
    }
    batch->set_last_seq(seq_);
    return write(msg);
  }
  // A behaviour report (FNV-1a 64 hashes of behaviour keys).
  bool report(const std::vector<std::uint64_t>& keys) {
    v1::AgentMessage msg;
    for (const auto k : keys) msg.mutable_behaviours()->add_keys(k);
    return write(msg);
  }
  // Hosts the latest prevalence table gives `key` (0: absent), once one arrived.
  [[nodiscard]] std::optional<std::uint32_t> hosts(std::uint64_t key) {
    std::lock_guard lock(mu_);
    if (prevalence_tables_ == 0) return std::nullopt;
    for (int i = 0; i < prevalence_.keys_size(); ++i) {
      if (prevalence_.keys(i) == key) return prevalence_.hosts(i);
    }
    return 0;
  }
  [[nodiscard]] std::uint32_t fleet_hosts() {
    std::lock_guard lock(mu_);
    return prevalence_.fleet_hosts();
  }
  // The stream ended (the collector refused it or went away).
  [[nodiscard]] bool ended() {
    std::lock_guard lock(mu_);
    return ended_;
  }
  [[nodiscard]] std::vector<std::string> refusal_codes() {
    std::lock_guard lock(mu_);
    return refusal_codes_;
  }
  // The model it runs: its hello's, then the last update's.
  [[nodiscard]] std::string model() {
    std::lock_guard lock(mu_);
    return model_;
  }
  [[nodiscard]] int model_updates() {
    std::lock_guard lock(mu_);
    return model_updates_;
  }
  [[nodiscard]] std::uint64_t acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  [[nodiscard]] std::uint64_t sent() const { return seq_; }
  [[nodiscard]] std::vector<std::string> refusals() {
    std::lock_guard lock(mu_);
    return refusals_;
  }

 private:
  bool write(const v1::AgentMessage& msg) {
    std::lock_guard lock(write_mu_);
    return stream_->Write(msg);
  }

  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::CollectorMessage>> stream_;
  std::thread reader_;
  std::mutex write_mu_;
  std::mutex mu_;  // what the reader updates
  std::string model_;
  int model_updates_ = 0;
  std::uint64_t acked_ = 0;
  std::vector<std::string> refusals_;
  std::vector<std::string> refusal_codes_;  // stream refusals' stable codes
  v1::Prevalence prevalence_;
  int prevalence_tables_ = 0;
  bool ended_ = false;
  std::uint64_t seq_ = 0;  // the test's thread only
};

}  // namespace vigil::test
