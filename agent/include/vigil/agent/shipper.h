// Ships scored events to the collector over one AgentService.Connect stream.
// The agent loop add()s events; flush() (every `batch_interval`, or at
// `batch_max` events) hands them to the spool writer thread through a bounded
// queue (`handoff_max` events). The writer appends everything queued in one
// Spool write, which assigns seqs. A sender thread connects (exponential
// backoff with jitter), says hello, replays every unacked event in seq order,
// then streams new ones; acks from the collector delete from the spool. The
// agent loop waits for RocksDB only when the queue is full (counted as
// handoff_full; the kernel rings absorb the backlog meanwhile), and never for
// gRPC; nothing is dropped between the loop and the spool.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vigil/agent/spool.h"
#include "vigil/v1/agent.grpc.pb.h"

namespace vigil::agent {

struct ShipperOptions {
  std::string collector;  // host:port
  bool insecure = true;
  // PEM text for mTLS when !insecure.
  std::string tls_ca_pem;
  std::string tls_cert_pem;
  std::string tls_key_pem;
  std::size_t batch_max = 1000;
  std::chrono::milliseconds batch_interval{20};
  std::size_t max_in_flight = 20000;  // events sent but not yet acked
  std::chrono::milliseconds backoff_min{200};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::seconds health_interval{5};
  // Events handed off and not yet in the spool (the writer is behind: a slow
  // disk, a RocksDB stall, a starved core), at most: past it flush() waits.
  // ~1 KiB each. 0: no writer thread, flush() appends.
  std::size_t handoff_max = 32768;
};

struct ShipperStats {
  bool connected = false;
  std::uint64_t connects = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t batches_sent = 0;
  std::uint64_t events_sent = 0;  // includes replays
  std::uint64_t acked_seq = 0;
  std::uint64_t refusals = 0;  // streams the collector ended with a Refusal
  // Events the collector refused one by one (listed in its acks), by reason:
  // dropped from the spool with the ack, never replayed.
  std::map<std::string, std::uint64_t> events_refused;
  std::uint64_t events_refused_total = 0;
  std::uint64_t feedback = 0;
  std::uint64_t model_updates = 0;
  std::uint64_t rule_pack_updates = 0;
  std::uint64_t image_observations_sent = 0;     // ImageObservations messages written
  std::uint64_t image_observations_dropped = 0;  // over the queue bound (sent again on reconnect)
  std::uint64_t image_profiles_received = 0;     // ImageProfiles messages from the collector
  std::uint64_t behaviours_sent = 0;             // BehaviourReport messages written
  std::uint64_t behaviours_dropped = 0;          // over the queue bound (reported again later)
  std::uint64_t prevalence_received = 0;         // Prevalence tables from the collector
  std::uint64_t spool_errors = 0;
  // The hand-off from the agent loop to the spool writer thread.
  std::uint64_t handoff_full = 0;    // hand-offs that found the queue full and waited
  std::uint64_t handoff_queued = 0;  // events handed off, not yet in the spool (now)
  std::uint64_t spool_writes = 0;    // spool appends, one RocksDB write each
  std::string last_error;
};

class Shipper {
 public:
  // `hello` is sent on every connect (spool_id is filled in here).
  Shipper(ShipperOptions options, Spool& spool, v1::Hello hello);
  ~Shipper();
  Shipper(const Shipper&) = delete;
  Shipper& operator=(const Shipper&) = delete;

  // Agent loop: queue one event; flushes itself at batch_max.
  void add(v1::Event&& event);
  // Agent loop: hand what is queued to the spool writer (call every
  // batch_interval); waits while the hand-off queue is full. Before start()
  // and after stop(): appends to the spool here.
  void flush();
  // Agent loop: the health snapshot sent every health_interval.
  void set_health(const v1::Health& health);

  // Called on the shipper's reader thread for every ModelUpdate received.
  void set_model_handler(std::function<void(const v1::ModelUpdate&)> handler) {
    std::lock_guard lock(mu_);
    on_model_ = std::move(handler);
  }
  // Called on the reader thread for every analyst label the collector forwards.
  void set_feedback_handler(std::function<void(const v1::Feedback&)> handler) {
    std::lock_guard lock(mu_);
    on_feedback_ = std::move(handler);
  }
  // Reported in the next hello.
  void set_model_version(const std::string& version) {
    std::lock_guard lock(mu_);
    hello_.set_model_version(version);
  }
  // Called on the reader thread for every signed rule pack received.
  void set_rule_pack_handler(std::function<void(const v1::RulePackUpdate&)> handler) {
    std::lock_guard lock(mu_);
    on_rule_pack_ = std::move(handler);
  }
  // Called on the reader thread for the fleet's image profiles.
  void set_image_profiles_handler(std::function<void(const v1::ImageProfiles&)> handler) {
    std::lock_guard lock(mu_);
    on_image_profiles_ = std::move(handler);
  }
  // Agent loop: what the agent learned about container images. Written on the
  // stream before the next batch; queued while disconnected (at most
  // kMaxQueuedObservations messages, the oldest dropped): the agent sends
  // everything again after each connect (connections()).
  void send_image_observations(v1::ImageObservations&& observations);
  // Called on the reader thread for each fleet prevalence table (it replaces
  // the previous one).
  void set_prevalence_handler(std::function<void(const v1::Prevalence&)> handler) {
    std::lock_guard lock(mu_);
    on_prevalence_ = std::move(handler);
  }
  // Agent loop: behaviour hashes for the fleet prevalence table (at most
  // wire::kMaxBehaviourKeys per report, else the collector ends the stream).
  // Written after the image observations; queued while disconnected (at most
  // kMaxQueuedBehaviours reports, the oldest dropped and counted): the agent
  // reports a key again once its last report is a day old.
  void send_behaviours(v1::BehaviourReport&& report);
  // Streams established so far (hello acked); a change means a new stream.
  [[nodiscard]] std::uint64_t connections() const {
    return connections_.load(std::memory_order_relaxed);
  }
  // Reported in the next hello.
  void set_rule_pack_version(const std::string& version) {
    std::lock_guard lock(mu_);
    hello_.set_rule_pack_version(version);
  }

  // A renewed client certificate (enrollment): the live stream ends and the
  // next connection presents this one. Any thread.
  void set_client_certificate(std::string cert_pem, std::string key_pem);

  void start();
  // Flushes, writes everything handed off to the spool, waits up to `drain`
  // for the collector to ack everything, then stops.
  void stop(std::chrono::milliseconds drain);

  [[nodiscard]] ShipperStats stats() const;

 private:
  void run();
  // One connection; returns when it breaks or on stop.
  void session();
  bool wait_backoff(std::chrono::milliseconds delay);
  // Counts the events an ack lists as refused (reader thread).
  void count_refused(const v1::Ack& ack);
  // (Re)builds channel_ and stub_ from options_ (the sender thread, or the constructor).
  void make_stub();
  // The spool writer thread: appends what is handed off, one write per wakeup.
  void write_loop();
  // One spool append (the writer thread, or flush() when it is not running).
  void append(std::vector<v1::Event>& events);
  // Lets the writer finish what is queued and joins it.
  void stop_writer();

  ShipperOptions options_;
  Spool& spool_;
  v1::Hello hello_;
  std::vector<v1::Event> pending_;  // agent loop only

  // The hand-off queue (events, in order) and the spool writer thread.
  mutable std::mutex handoff_mu_;
  std::condition_variable handoff_cv_;
  std::vector<v1::Event> handoff_;  // under handoff_mu_
  std::size_t writing_ = 0;         // events the writer is appending, under handoff_mu_
  bool writer_running_ = false;     // under handoff_mu_
  bool writer_stop_ = false;        // under handoff_mu_
  std::uint64_t handoff_full_ = 0;  // under handoff_mu_
  std::uint64_t spool_writes_ = 0;  // under handoff_mu_
  std::thread writer_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  v1::Health health_;
  std::function<void(const v1::ModelUpdate&)> on_model_;
  std::function<void(const v1::RulePackUpdate&)> on_rule_pack_;
  std::function<void(const v1::Feedback&)> on_feedback_;
  std::function<void(const v1::ImageProfiles&)> on_image_profiles_;
  std::function<void(const v1::Prevalence&)> on_prevalence_;
  static constexpr std::size_t kMaxQueuedObservations = 64;
  std::deque<v1::AgentMessage> observations_;              // under mu_
  static constexpr std::size_t kMaxQueuedBehaviours = 16;  // 16 x 4096 keys = 512 KiB
  std::deque<v1::AgentMessage> behaviours_;                // under mu_
  std::atomic<std::uint64_t> connections_{0};
  grpc::ClientContext* live_ctx_ = nullptr;  // to cancel a session on stop
  bool credentials_changed_ = false;         // set_client_certificate, under mu_
  ShipperStats stats_;
  std::thread thread_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
};

}  // namespace vigil::agent
