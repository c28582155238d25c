// AgentService: one bidirectional stream per agent (gRPC callback API). Hello
// registers the agent and answers with its high-water mark; every batch is
// validated, its valid events written durably, correlated, then acked (the ack
// lists the events refused, with reasons); health updates the agent record. A
// bad message ends the stream with a Refusal naming the reason and a non-OK
// status, and changes nothing that was stored before it. One live stream per
// agent id: a newer one replaces the older, which ends with ABORTED.
#pragma once

#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vigil/collector/alert_hub.h"
#include "vigil/collector/correlator.h"
#include "vigil/collector/store.h"
#include "vigil/collector/validate.h"
#include "vigil/collector/work_pool.h"
#include "vigil/latency.h"
#include "vigil/v1/agent.grpc.pb.h"

namespace vigil::collector {

struct IngestStats {
  std::atomic<std::uint64_t> streams{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> rate_limited{0};     // streams ended over max_events_per_s
  std::atomic<std::uint64_t> over_max_agents{0};  // hellos refused over max_agents
  std::atomic<std::uint64_t> undecodable{0};      // messages that failed to parse (e.g. non-UTF-8)
  std::atomic<std::uint64_t> store_errors{0};
  std::atomic<std::uint64_t> fleet_alerts{0};
  std::atomic<std::uint64_t> events_refused{0};  // events refused one by one (listed in acks)
  std::atomic<std::uint64_t> replaced{0};        // streams ended by a newer one for the same id
  // Every refusal, of a stream or of one event, by reason (docs/api.md).
  std::array<std::atomic<std::uint64_t>, kReasonCount> refusals{};
  void count(Reason reason, std::uint64_t n = 1) {
    refusals[static_cast<std::size_t>(reason)] += n;
  }
  // Time from a batch's arrival to its durable write (the ack follows): a
  // cumulative histogram over kAckBucketsMs, plus sum and count.
  static constexpr std::array<double, 9> kAckBucketsMs = {1, 2.5, 5, 10, 25, 50, 100, 250, 1000};
  std::array<std::atomic<std::uint64_t>, kAckBucketsMs.size()> ack_buckets{};
  std::atomic<std::uint64_t> ack_count{0};
  std::atomic<std::uint64_t> ack_sum_us{0};
  void observe_ack(double ms) {
    for (std::size_t i = 0; i < kAckBucketsMs.size(); ++i) {
      if (ms <= kAckBucketsMs[i]) ++ack_buckets[i];
    }
    ++ack_count;
    ack_sum_us += static_cast<std::uint64_t>(ms * 1000);
  }
  // Event timestamp (the kernel's, as unix time) -> durable here, for each
  // newly stored event. Meaningful where agent and collector clocks agree.
  void observe_durable(const v1::EventBatch& batch, std::uint64_t above_seq,
                       std::uint64_t now_unix_ns) {
    std::lock_guard lock(latency_mu);
    for (const auto& e : batch.events()) {
      if (e.seq() > above_seq) {
        durable_latency.record_between(e.ts_ns(), now_unix_ns);
      }
    }
  }
  [[nodiscard]] LatencyHistogram durable_latency_snapshot() const {
    std::lock_guard lock(latency_mu);
    return durable_latency;
  }

 private:
  mutable std::mutex latency_mu;
  LatencyHistogram durable_latency;
};

class ConnectReactor;

class Ingest final : public v1::AgentService::CallbackService {
 public:
  Ingest(Store& store, Correlator& correlator, AlertHub& hub);

  grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* Connect(
      grpc::CallbackServerContext* ctx) override;

  // Queues a message to a connected agent; false when it is not connected.
  bool send_to_agent(const std::string& agent_id, const v1::CollectorMessage& msg);
  [[nodiscard]] std::vector<std::string> connected_agents();
  // Called after each hello is registered and acked (set before serving).
  void set_hello_hook(std::function<void(const std::string&, const v1::Hello&)> hook) {
    hello_hook_ = std::move(hook);
  }
  // Called for each ImageObservations after the hello, on a writer thread (set
  // before serving); an error refuses the stream (kStorage for kIo, else
  // kProtocol). Without a hook they are read and ignored.
  void set_image_observations_hook(
      std::function<Result<void>(const std::string&, const v1::ImageObservations&)> hook) {
    image_observations_hook_ = std::move(hook);
  }
  // Called for each BehaviourReport after the hello that passed
  // check_behaviours (one over its limit refuses the stream, bad_behaviours),
  // on a writer thread (set before serving); an error refuses the stream as
  // above. Without a hook they are read and ignored.
  void set_behaviours_hook(
      std::function<Result<void>(const std::string&, const v1::BehaviourReport&)> hook) {
    behaviours_hook_ = std::move(hook);
  }
  // Called for each Health after it is recorded, on a writer thread (set
  // before serving): the shadow scoring's reports (Health.shadow).
  void set_health_hook(std::function<void(const std::string&, const v1::Health&)> hook) {
    health_hook_ = std::move(hook);
  }
  [[nodiscard]] const IngestStats& stats() const { return stats_; }
  [[nodiscard]] CorrelatorStats correlation_stats();
  // mTLS: every stream must present a verified client certificate, and its
  // common name is the agent's identity: the hello's agent_id and host_id must
  // both equal it, so no agent can send events as another (set before serving).
  void require_client_identity(bool on) { require_identity_ = on; }
  // Limits (0 = none), set before serving: concurrent agent streams, and events
  // per second per agent (a token bucket with a 2 s burst). A hello over the
  // first or a batch over the second is refused with RESOURCE_EXHAUSTED and the
  // stream ends: the agent keeps the events in its spool and retries after its
  // backoff, so a noisy agent slows down and loses nothing, and others are unaffected.
  void set_limits(std::uint32_t max_agents, std::uint32_t max_events_per_s) {
    max_agents_ = max_agents;
    max_events_per_s_ = max_events_per_s;
  }
  // Asked at each hello, after the identity check: OK, or why this agent id may
  // not connect (e.g. revoked; Enrollment::admit). Set before serving.
  void set_admission(std::function<Result<void>(const std::string&)> admit) {
    admit_ = std::move(admit);
  }
  // Storage writes (hellos, batches, health) run on this many threads, never on
  // gRPC's callback threads (default 4; set before serving).
  void set_writer_threads(std::size_t n) { writers_ = std::make_unique<WorkPool>(n); }
  [[nodiscard]] const WorkPool& writers() const { return *writers_; }
  // Ends `agent_id`'s stream with a PERMISSION_DENIED refusal saying `reason`;
  // false when it has none.
  bool disconnect(const std::string& agent_id, const std::string& reason);
  // The rule itself: OK, or why `hello` may not speak under `identity`.
  [[nodiscard]] static Result<void> check_identity(std::string_view identity,
                                                   const v1::Hello& hello);

 private:
  friend class ConnectReactor;
  // Registers the stream, ending an older one for the same id (one writer per
  // agent); false when max_agents streams are connected already.
  bool try_attach(const std::string& agent_id, ConnectReactor* reactor);
  // True when `reactor` was the agent's stream (and now nothing is).
  bool detach(const std::string& agent_id, ConnectReactor* reactor);
  // Held around "is this stream still the agent's?" and the write that
  // follows, and by a new stream before it registers: a replaced stream's
  // batch in flight finishes before the new hello resets anything, and none
  // after it is stored.
  [[nodiscard]] std::unique_lock<std::mutex> writer_lock(const std::string& agent_id);
  // True when `reactor` is the agent's stream (nullptr: when none is).
  [[nodiscard]] bool owns(const std::string& agent_id, const ConnectReactor* reactor);
  // Store + correlate + publish; returns the ack or an error for a refusal.
  Result<std::uint64_t> on_batch(const std::string& agent_id, const std::string& host,
                                 const v1::EventBatch& batch, std::uint64_t refused = 0);

  Store& store_;
  Correlator& correlator_;
  std::mutex correlator_mu_;
  AlertHub& hub_;
  std::mutex agents_mu_;
  std::map<std::string, ConnectReactor*> connected_;
  std::map<std::string, std::unique_ptr<std::mutex>> writer_mu_;  // under agents_mu_; never erased
  IngestStats stats_;
  std::function<void(const std::string&, const v1::Hello&)> hello_hook_;
  std::function<Result<void>(const std::string&, const v1::ImageObservations&)>
      image_observations_hook_;
  std::function<Result<void>(const std::string&, const v1::BehaviourReport&)> behaviours_hook_;
  std::function<void(const std::string&, const v1::Health&)> health_hook_;
  std::function<Result<void>(const std::string&)> admit_;
  bool require_identity_ = false;
  std::uint32_t max_agents_ = 0;
  std::uint32_t max_events_per_s_ = 0;
  // max_events_per_s: a token bucket per agent (kept across reconnects, so
  // reconnecting buys no fresh burst), 2 s of budget as burst.
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point refilled;
  };
  Result<void> take_tokens(const std::string& agent_id, int events);
  std::mutex buckets_mu_;
  std::map<std::string, Bucket> buckets_;
  // Last: destroyed first, so no job outlives what it uses.
  std::unique_ptr<WorkPool> writers_ = std::make_unique<WorkPool>(4);
};

}  // namespace vigil::collector
