#include "vigil/agent/shipper.h"

#include <fmt/format.h>

#include <random>

#include "vigil/clock.h"
#include "vigil/log.h"

namespace vigil::agent {

Shipper::Shipper(ShipperOptions options, Spool& spool, v1::Hello hello)
    : options_(std::move(options)), spool_(spool), hello_(std::move(hello)) {
  hello_.set_spool_id(spool_.spool_id());
  make_stub();
}

void Shipper::make_stub() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetMaxSendMessageSize(64 << 20);
  // The shipper does its own backoff; keep grpc's reconnect quick under it.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options_.insecure) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = options_.tls_ca_pem;
    tls.pem_cert_chain = options_.tls_cert_pem;
    tls.pem_private_key = options_.tls_key_pem;
    credentials = grpc::SslCredentials(tls);
  }
  channel_ = grpc::CreateCustomChannel(options_.collector, credentials, args);
  stub_ = v1::AgentService::NewStub(channel_);
}

Shipper::~Shipper() { stop(std::chrono::milliseconds(0)); }

void Shipper::set_client_certificate(std::string cert_pem, std::string key_pem) {
  std::lock_guard lock(mu_);
  options_.tls_cert_pem = std::move(cert_pem);
  options_.tls_key_pem = std::move(key_pem);
  credentials_changed_ = true;
  if (live_ctx_ != nullptr) {
    live_ctx_->TryCancel();  // reconnect now, with the new certificate
  }
  cv_.notify_all();
}

void Shipper::add(v1::Event&& event) {
  pending_.push_back(std::move(event));
  if (pending_.size() >= options_.batch_max) {
    flush();
  }
}

void Shipper::flush() {
  if (pending_.empty()) {
    return;
  }
  {
    std::unique_lock lock(handoff_mu_);
    if (writer_running_) {
      const auto fits = [&] {
        const std::size_t queued = handoff_.size() + writing_;
        return queued == 0 || queued + pending_.size() <= options_.handoff_max;
      };
      if (!fits()) {
        // The writer is behind (a slow disk, a starved core): wait for it
        // rather than drop. Meanwhile the kernel rings absorb the backlog, and
        // what they cannot hold is counted there (ringbuf_drops).
        ++handoff_full_;
        handoff_cv_.wait(lock, fits);
      }
      if (handoff_.empty()) {
        // The usual case: no copy, and pending_ takes back the writer's last
        // (cleared) vector with its capacity.
        handoff_.swap(pending_);
      } else {
        for (auto& e : pending_) {
          handoff_.push_back(std::move(e));
        }
      }
      pending_.clear();
      handoff_cv_.notify_all();
      return;
    }
  }
  append(pending_);  // no writer (before start(), after stop()): here
  pending_.clear();
  std::lock_guard lock(handoff_mu_);
  ++spool_writes_;
}

void Shipper::append(std::vector<v1::Event>& events) {
  if (auto r = spool_.append(events); !r) {
    std::lock_guard lock(mu_);
    ++stats_.spool_errors;
    stats_.last_error = r.error().message;
  }
  cv_.notify_all();
}

void Shipper::write_loop() {
  std::vector<v1::Event> batch;
  std::unique_lock lock(handoff_mu_);
  for (;;) {
    handoff_cv_.wait(lock, [&] { return !handoff_.empty() || writer_stop_; });
    if (handoff_.empty()) {
      return;  // stopping, and everything handed off is in the spool
    }
    batch.swap(handoff_);
    writing_ = batch.size();
    lock.unlock();
    append(batch);  // one RocksDB write for everything queued
    batch.clear();
    lock.lock();
    writing_ = 0;
    ++spool_writes_;
    handoff_cv_.notify_all();  // room for a waiting flush()
  }
}

void Shipper::stop_writer() {
  {
    std::lock_guard lock(handoff_mu_);
    if (!writer_running_) {
      return;
    }
    writer_stop_ = true;
  }
  handoff_cv_.notify_all();
  writer_.join();
  std::lock_guard lock(handoff_mu_);
  writer_running_ = false;
}

void Shipper::count_refused(const v1::Ack& ack) {
  // Reasons come from the collector: bounded in number and length, and kept to
  // [a-z0-9_] (they are codes), so a broken collector can neither grow the
  // agent's memory nor put odd text into its stats and metrics.
  constexpr std::size_t kMaxReasons = 32;
  constexpr std::size_t kMaxReasonBytes = 64;
  std::lock_guard lock(mu_);
  for (const auto& r : ack.refused()) {
    auto reason = r.reason().substr(0, kMaxReasonBytes);
    for (char& c : reason) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
        c = '_';
      }
    }
    if (!stats_.events_refused.contains(reason) && stats_.events_refused.size() >= kMaxReasons) {
      reason = "other";
    }
    ++stats_.events_refused[reason];
  }
  stats_.events_refused_total += static_cast<std::uint64_t>(ack.refused_size());
  const auto& first = ack.refused(0);
  stats_.last_error =
      fmt::format("collector refused {} event(s), e.g. seq {} ({}): {}", ack.refused_size(),
                  first.seq(), first.reason(), first.detail().substr(0, 256));
  VLOG_WARN("{}", stats_.last_error);
}

void Shipper::send_image_observations(v1::ImageObservations&& observations) {
  std::lock_guard lock(mu_);
  if (observations_.size() >= kMaxQueuedObservations) {
    observations_.pop_front();
    ++stats_.image_observations_dropped;
  }
  *observations_.emplace_back().mutable_image_observations() = std::move(observations);
  cv_.notify_all();
}

void Shipper::send_behaviours(v1::BehaviourReport&& report) {
  std::lock_guard lock(mu_);
  if (behaviours_.size() >= kMaxQueuedBehaviours) {
    behaviours_.pop_front();
    ++stats_.behaviours_dropped;
  }
  *behaviours_.emplace_back().mutable_behaviours() = std::move(report);
  cv_.notify_all();
}

void Shipper::set_health(const v1::Health& health) {
  std::lock_guard lock(mu_);
  health_ = health;
}

void Shipper::start() {
  {
    std::lock_guard lock(handoff_mu_);
    if (!writer_running_ && !writer_stop_ && options_.handoff_max > 0) {
      writer_running_ = true;
      writer_ = std::thread([this] { write_loop(); });
    }
  }
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { run(); });
  }
}

void Shipper::stop(std::chrono::milliseconds drain) {
  flush();
  stop_writer();  // every event handed off is in the spool from here on
  if (!thread_.joinable()) {
    return;
  }
  {
    std::unique_lock lock(mu_);
    const auto target = spool_.stats().next_seq - 1;
    cv_.wait_for(lock, drain, [&] { return stats_.acked_seq >= target || !stats_.connected; });
    stopping_ = true;
    if (live_ctx_ != nullptr) {
      live_ctx_->TryCancel();
    }
  }
  cv_.notify_all();
  thread_.join();
}

ShipperStats Shipper::stats() const {
  ShipperStats s;
  {
    std::lock_guard lock(mu_);
    s = stats_;
  }
  std::lock_guard lock(handoff_mu_);
  s.handoff_full = handoff_full_;
  s.handoff_queued = handoff_.size() + writing_;
  s.spool_writes = spool_writes_;
  return s;
}

bool Shipper::wait_backoff(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [&] { return stopping_; });
}

void Shipper::run() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = options_.backoff_min;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        return;
      }
    }
    const auto started = std::chrono::steady_clock::now();
    session();
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(10)) {
      backoff = options_.backoff_min;  // the link was healthy for a while
    }
    // Full jitter in [backoff/2, backoff]: a fleet does not reconnect in lockstep.
    std::uniform_int_distribution<std::int64_t> jitter(backoff.count() / 2, backoff.count());
    if (!wait_backoff(std::chrono::milliseconds(jitter(rng)))) {
      return;
    }
    backoff = std::min(options_.backoff_max, backoff * 2);
  }
}

void Shipper::session() {
  grpc::ClientContext ctx;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    if (credentials_changed_) {
      credentials_changed_ = false;
      make_stub();
    }
    live_ctx_ = &ctx;
  }
  auto stream = stub_->Connect(&ctx);
  std::atomic<bool> hello_acked{false};
  std::atomic<bool> reader_done{false};
  std::uint64_t sent_upto = 0;
  bool ok = true;
  {
    v1::AgentMessage hello;
    {
      std::lock_guard lock(mu_);
      *hello.mutable_hello() = hello_;
    }
    ok = stream->Write(hello);
  }
  // Acks and downstream messages arrive on their own thread.
  std::thread reader([&] {
    v1::CollectorMessage msg;
    while (stream->Read(&msg)) {
      if (msg.has_ack()) {
        // The ack settles refused events too: they leave the spool with it.
        if (msg.ack().refused_size() > 0) {
          count_refused(msg.ack());
        }
        if (auto r = spool_.ack(msg.ack().seq()); !r) {
          std::lock_guard lock(mu_);
          ++stats_.spool_errors;
          stats_.last_error = r.error().message;
        }
        std::lock_guard lock(mu_);
        stats_.acked_seq = std::max(stats_.acked_seq, msg.ack().seq());
        if (!hello_acked.exchange(true)) {
          stats_.connected = true;
          ++stats_.connects;
          connections_.fetch_add(1, std::memory_order_relaxed);
        }
        cv_.notify_all();
      } else if (msg.has_refusal()) {
        std::lock_guard lock(mu_);
        ++stats_.refusals;
        stats_.last_error = "collector refused: " + msg.refusal().reason();
        VLOG_WARN("{}", stats_.last_error);
      } else if (msg.has_model() || msg.has_shadow_model()) {
        std::function<void(const v1::ModelUpdate&)> handler;
        {
          std::lock_guard lock(mu_);
          ++stats_.model_updates;
          handler = on_model_;
        }
        if (handler) {
          handler(msg.has_model() ? msg.model() : msg.shadow_model());
        }
      } else if (msg.has_rule_pack()) {
        std::function<void(const v1::RulePackUpdate&)> handler;
        {
          std::lock_guard lock(mu_);
          ++stats_.rule_pack_updates;
          handler = on_rule_pack_;
        }
        if (handler) {
          handler(msg.rule_pack());
        }
      } else if (msg.has_image_profiles()) {
        std::function<void(const v1::ImageProfiles&)> handler;
        {
          std::lock_guard lock(mu_);
          ++stats_.image_profiles_received;
          handler = on_image_profiles_;
        }
        if (handler) {
          handler(msg.image_profiles());
        }
      } else if (msg.has_prevalence()) {
        std::function<void(const v1::Prevalence&)> handler;
        {
          std::lock_guard lock(mu_);
          ++stats_.prevalence_received;
          handler = on_prevalence_;
        }
        if (handler) {
          handler(msg.prevalence());
        }
      } else if (msg.has_feedback()) {
        std::function<void(const v1::Feedback&)> handler;
        {
          std::lock_guard lock(mu_);
          ++stats_.feedback;
          handler = on_feedback_;
        }
        if (handler) {
          handler(msg.feedback());
        }
      }
    }
    std::lock_guard lock(mu_);
    stats_.connected = false;
    reader_done = true;
    cv_.notify_all();
  });

  // Wait for the hello's ack: it carries what the collector already holds.
  if (ok) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10),
                 [&] { return stopping_ || hello_acked.load() || reader_done.load(); });
    ok = hello_acked.load() && !stopping_;
    if (ok) {
      sent_upto = std::max(stats_.acked_seq, spool_.stats().acked_seq);
      VLOG_INFO("connected to collector {}; replaying from seq {}", options_.collector,
                sent_upto + 1);
    }
  }
  auto next_health = std::chrono::steady_clock::now();
  v1::AgentMessage out;
  while (ok) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || !stats_.connected) {
        break;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_health) {
      {
        std::lock_guard lock(mu_);
        *out.mutable_health() = health_;
      }
      const auto ss = spool_.stats();
      out.mutable_health()->set_spool_events(ss.events);
      out.mutable_health()->set_spool_bytes(ss.bytes);
      out.mutable_health()->set_spool_dropped(ss.dropped);
      {
        std::lock_guard lock(mu_);
        for (const auto& [reason, n] : stats_.events_refused) {
          auto* c = out.mutable_health()->add_events_refused();
          c->set_reason(reason);
          c->set_count(n);
        }
      }
      if (ss.oldest_ts_ns != 0) {
        const auto lag =
            static_cast<std::int64_t>(unix_now_ns()) - static_cast<std::int64_t>(ss.oldest_ts_ns);
        out.mutable_health()->set_lag_ms(lag > 0 ? static_cast<std::uint64_t>(lag) / 1'000'000 : 0);
      }
      if (!stream->Write(out)) {
        break;
      }
      next_health = now + options_.health_interval;
    }
    // Image observations first: few and small, and what other hosts' alerts
    // depend on.
    std::deque<v1::AgentMessage> observations;
    {
      std::lock_guard lock(mu_);
      observations.swap(observations_);
    }
    bool written = true;
    for (auto& m : observations) {
      if (!stream->Write(m)) {
        written = false;
        break;
      }
      std::lock_guard lock(mu_);
      ++stats_.image_observations_sent;
    }
    if (!written) {
      break;  // the rest is sent again after the reconnect (Agent: resend_all)
    }
    // Behaviour reports: a lost one is reported again within a day.
    std::deque<v1::AgentMessage> behaviours;
    {
      std::lock_guard lock(mu_);
      behaviours.swap(behaviours_);
    }
    for (auto& m : behaviours) {
      if (!stream->Write(m)) {
        written = false;
        break;
      }
      std::lock_guard lock(mu_);
      ++stats_.behaviours_sent;
    }
    if (!written) {
      break;
    }
    std::uint64_t acked = 0;
    {
      std::lock_guard lock(mu_);
      acked = stats_.acked_seq;
    }
    const bool window_open = sent_upto < acked + options_.max_in_flight;
    if (window_open) {
      if (auto r = spool_.read(sent_upto, options_.batch_max, *out.mutable_batch()); !r) {
        std::lock_guard lock(mu_);
        ++stats_.spool_errors;
        stats_.last_error = r.error().message;
      } else if (out.batch().events_size() > 0) {
        const auto n = static_cast<std::uint64_t>(out.batch().events_size());
        const auto last = out.batch().last_seq();
        if (!stream->Write(out)) {
          break;
        }
        sent_upto = last;
        std::lock_guard lock(mu_);
        ++stats_.batches_sent;
        stats_.events_sent += n;
        continue;
      }
    }
    // Nothing to send (or the window is full): wait for new events, an ack or stop.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  ctx.TryCancel();
  reader.join();
  const auto status = stream->Finish();
  std::lock_guard lock(mu_);
  live_ctx_ = nullptr;
  stats_.connected = false;
  if (!hello_acked.load()) {
    ++stats_.connect_failures;
  }
  if (!status.ok() && !stopping_ && status.error_code() != grpc::StatusCode::CANCELLED) {
    stats_.last_error = status.error_message();
  }
}

}  // namespace vigil::agent
