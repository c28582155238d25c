#include "vigil/collector/ingest.h"

#include <fmt/format.h>

#include <chrono>
#include <deque>

#include "vigil/clock.h"
#include "vigil/collector/validate.h"
#include "vigil/log.h"

namespace vigil::collector {
namespace {}  // namespace

class ConnectReactor final
    : public grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage> {
 public:
  ConnectReactor(Ingest& ingest, std::string identity, bool require_identity)
      : ingest_(ingest), identity_(std::move(identity)), require_identity_(require_identity) {
    ++ingest_.stats_.streams;
    StartRead(&in_);
  }

  // Thread-safe: used by the reactor itself and by Ingest::send_to_agent.
  void send(const v1::CollectorMessage& msg, bool then_finish = false) {
    std::lock_guard lock(mu_);
    if (finishing_) {
      return;
    }
    out_.push_back(msg);
    finishing_ = then_finish;
    if (!writing_) {
      writing_ = true;
      StartWrite(&out_.front());
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // A failed read is the agent's half-close, or a message that arrived
      // but did not parse (proto3 rejects a string that is not UTF-8). The
      // second leaves the oneof it started set (in_ is cleared before each
      // read); ending that stream with OK would hide the loss, so it is
      // counted and refused.
      if (in_.msg_case() != v1::AgentMessage::MSG_NOT_SET) {
        ++ingest_.stats_.undecodable;
        refuse(make_error(ErrorCode::kInvalidArgument,
                          "a message did not parse (a string field that is not UTF-8?)")
                   .error());
        return;
      }
      finish(grpc::Status::OK);
      return;
    }
    if (auto r = handle(in_); !r) {
      refuse(r.error());
      return;
    }
    in_.Clear();
    StartRead(&in_);
  }

  // Ends the stream: a Refusal message saying why, then a non-OK status.
  void refuse(const Error& error) {
    ++ingest_.stats_.refused;
    VLOG_WARN("agent '{}' refused: {}", agent_id_.empty() ? "?" : agent_id_, error.message);
    switch (error.code) {
      case ErrorCode::kIo:
        refusal_code_ = grpc::StatusCode::UNAVAILABLE;
        break;
      case ErrorCode::kPermission:
        refusal_code_ = grpc::StatusCode::PERMISSION_DENIED;
        break;
      case ErrorCode::kExhausted:
        refusal_code_ = grpc::StatusCode::RESOURCE_EXHAUSTED;
        break;
      default:
        refusal_code_ = grpc::StatusCode::INVALID_ARGUMENT;
    }
    v1::CollectorMessage msg;
    msg.mutable_refusal()->set_reason(error.message);
    send(msg, /*then_finish=*/true);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    out_.pop_front();
    if (!ok) {
      writing_ = false;
      finish_locked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    if (!out_.empty()) {
      StartWrite(&out_.front());
      return;
    }
    writing_ = false;
    if (finishing_) {
      finish_locked(refusal_status());
    }
  }

  void OnCancel() override { finish(grpc::Status::CANCELLED); }

  void OnDone() override {
    if (!agent_id_.empty()) {
      ingest_.detach(agent_id_, this);
      if (auto r = ingest_.store_.set_connected(agent_id_, false, unix_now_ns()); !r) {
        VLOG_WARN("agent '{}' record: {}", agent_id_, r.error().message);
      }
    }
    delete this;
  }

 private:
  grpc::Status refusal_status() const {
    return grpc::Status(refusal_code_, "refused; see the Refusal message");
  }

  void finish(const grpc::Status& status) {
    std::lock_guard lock(mu_);
    if (writing_) {
      finishing_ = true;  // OnWriteDone finishes after the last write
      return;
    }
    finish_locked(status);
  }

  void finish_locked(const grpc::Status& status) {
    if (finished_) {
      return;
    }
    finished_ = true;
    finishing_ = true;
    Finish(status);
  }

  Result<void> handle(const v1::AgentMessage& msg) {
    switch (msg.msg_case()) {
      case v1::AgentMessage::kHello: {
        if (!agent_id_.empty()) {
          return make_error(ErrorCode::kInvalidArgument, "second hello on one stream");
        }
        if (auto r = validate_hello(msg.hello()); !r) {
          return r;
        }
        if (require_identity_) {
          if (auto r = Ingest::check_identity(identity_, msg.hello()); !r) {
            return r;
          }
        }
        // Take the agent's slot first: the max_agents check and the slot are one step.
        if (!ingest_.try_attach(msg.hello().agent_id(), this)) {
          ++ingest_.stats_.over_max_agents;
          return make_error(ErrorCode::kExhausted,
                            fmt::format("{} agents connected, the collector's max_agents; retry "
                                        "later",
                                        ingest_.max_agents_));
        }
        agent_id_ = msg.hello().agent_id();  // from here OnDone releases the slot
        host_ = msg.hello().host_id();
        auto acked = ingest_.store_.register_agent(msg.hello(), unix_now_ns());
        if (!acked) {
          ++ingest_.stats_.store_errors;
          return make_error(ErrorCode::kIo,
                            "collector storage unavailable: " + acked.error().message);
        }
        {
          std::lock_guard lock(ingest_.correlator_mu_);
          ingest_.correlator_.set_host_addresses(
              host_, {msg.hello().addresses().begin(), msg.hello().addresses().end()});
        }
        VLOG_INFO("agent '{}' (host '{}', {}) connected, durable up to seq {}", agent_id_, host_,
                  msg.hello().version(), *acked);
        v1::CollectorMessage ack;
        ack.mutable_ack()->set_seq(*acked);
        send(ack);
        if (ingest_.hello_hook_) {
          ingest_.hello_hook_(agent_id_, msg.hello());  // e.g. bring its model up to date
        }
        return {};
      }
      case v1::AgentMessage::kBatch: {
        if (agent_id_.empty()) {
          return make_error(ErrorCode::kInvalidArgument, "batch before hello");
        }
        if (auto r = validate_batch(msg.batch()); !r) {
          return r;
        }
        if (auto r = ingest_.take_tokens(agent_id_, msg.batch().events_size()); !r) {
          ++ingest_.stats_.rate_limited;
          return r;
        }
        auto acked = ingest_.on_batch(agent_id_, host_, msg.batch());
        if (!acked) {
          return std::unexpected(acked.error());
        }
        v1::CollectorMessage ack;
        ack.mutable_ack()->set_seq(*acked);
        send(ack);
        return {};
      }
      case v1::AgentMessage::kHealth:
        if (agent_id_.empty()) {
          return make_error(ErrorCode::kInvalidArgument, "health before hello");
        }
        if (auto r = ingest_.store_.update_health(agent_id_, msg.health(), unix_now_ns()); !r) {
          ++ingest_.stats_.store_errors;
          VLOG_WARN("agent '{}' health: {}", agent_id_, r.error().message);
        }
        return {};
      case v1::AgentMessage::MSG_NOT_SET:
        break;
    }
    return make_error(ErrorCode::kInvalidArgument, "empty message");
  }

  Ingest& ingest_;
  const std::string identity_;  // the client certificate's CN; empty without mTLS
  const bool require_identity_;
  v1::AgentMessage in_;
  std::string agent_id_;
  std::string host_;
  std::mutex mu_;
  std::deque<v1::CollectorMessage> out_;
  bool writing_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  grpc::StatusCode refusal_code_ = grpc::StatusCode::INVALID_ARGUMENT;
};

Ingest::Ingest(Store& store, Correlator& correlator, AlertHub& hub)
    : store_(store), correlator_(correlator), hub_(hub) {}

grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* Ingest::Connect(
    grpc::CallbackServerContext* ctx) {
  std::string identity;
  if (const auto auth = ctx->auth_context(); auth && auth->IsPeerAuthenticated()) {
    const auto cn = auth->FindPropertyValues("x509_common_name");
    if (!cn.empty()) {
      identity.assign(cn.front().data(), cn.front().size());
    }
  }
  return new ConnectReactor(*this, std::move(identity), require_identity_);
}

Result<void> Ingest::check_identity(std::string_view identity, const v1::Hello& hello) {
  if (identity.empty()) {
    return make_error(ErrorCode::kPermission,
                      "no verified client certificate: agents must use mTLS (tls_cert, tls_key, "
                      "tls_ca) or both sides --insecure");
  }
  if (hello.agent_id() != identity || hello.host_id() != identity) {
    return make_error(ErrorCode::kPermission,
                      fmt::format("certificate identity '{}' may not speak for agent '{}' on "
                                  "host '{}'",
                                  identity, hello.agent_id(), hello.host_id()));
  }
  return {};
}

Result<void> Ingest::take_tokens(const std::string& agent_id, int events) {
  const auto rate = static_cast<double>(max_events_per_s_);
  if (rate <= 0) {
    return {};
  }
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(buckets_mu_);
  auto [it, fresh] = buckets_.try_emplace(agent_id, Bucket{2 * rate, now});
  auto& b = it->second;
  if (!fresh) {
    b.tokens = std::min(2 * rate,
                        b.tokens + rate * std::chrono::duration<double>(now - b.refilled).count());
    b.refilled = now;
  }
  // A batch larger than the whole burst passes only on a full bucket (and
  // leaves a debt), so an agent configured with big batches still progresses.
  if (static_cast<double>(events) > b.tokens && b.tokens < 2 * rate) {
    return make_error(ErrorCode::kExhausted,
                      fmt::format("rate limit: more than {} events/s from this agent (the "
                                  "collector's max_events_per_s); retry later",
                                  max_events_per_s_));
  }
  b.tokens -= events;
  return {};
}

bool Ingest::try_attach(const std::string& agent_id, ConnectReactor* reactor) {
  std::lock_guard lock(agents_mu_);
  if (max_agents_ > 0 && connected_.size() >= max_agents_ && !connected_.contains(agent_id)) {
    return false;
  }
  connected_[agent_id] = reactor;  // a reconnect replaces a half-dead stream
  return true;
}

void Ingest::detach(const std::string& agent_id, ConnectReactor* reactor) {
  std::lock_guard lock(agents_mu_);
  auto it = connected_.find(agent_id);
  if (it != connected_.end() && it->second == reactor) {
    connected_.erase(it);
  }
}

CorrelatorStats Ingest::correlation_stats() {
  std::lock_guard lock(correlator_mu_);
  return correlator_.stats();
}

std::vector<std::string> Ingest::connected_agents() {
  std::lock_guard lock(agents_mu_);
  std::vector<std::string> ids;
  ids.reserve(connected_.size());
  for (const auto& [id, reactor] : connected_) {
    ids.push_back(id);
  }
  return ids;
}

bool Ingest::send_to_agent(const std::string& agent_id, const v1::CollectorMessage& msg) {
  std::lock_guard lock(agents_mu_);
  auto it = connected_.find(agent_id);
  if (it == connected_.end()) {
    return false;
  }
  it->second->send(msg);
  return true;
}

Result<std::uint64_t> Ingest::on_batch(const std::string& agent_id, const std::string& host,
                                       const v1::EventBatch& batch) {
  const auto t0 = std::chrono::steady_clock::now();
  auto result = store_.ingest(agent_id, batch, unix_now_ns());
  if (!result) {
    ++stats_.store_errors;
    return make_error(ErrorCode::kIo, "collector storage unavailable: " + result.error().message);
  }
  stats_.observe_ack(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  stats_.observe_durable(batch, result->previous_acked_seq, unix_now_ns());
  ++stats_.batches;
  stats_.events += result->stored;
  stats_.duplicates += result->duplicates;
  for (const auto& alert : result->alerts) {
    hub_.publish(alert);
  }
  std::vector<v1::Alert> fleet;
  {
    // Correlation windows run on the collector's clock: the batch's arrival.
    const auto arrived = unix_now_ns();
    std::lock_guard lock(correlator_mu_);
    for (const auto& e : batch.events()) {
      if (e.seq() > result->previous_acked_seq) {
        correlator_.observe({.agent_id = agent_id, .host = host}, e, arrived, fleet);
      }
    }
  }
  for (const auto& alert : fleet) {
    if (auto r = store_.put_alert(alert); !r) {
      ++stats_.store_errors;
      VLOG_WARN("fleet alert {}: {}", alert.id(), r.error().message);
      continue;
    }
    ++stats_.fleet_alerts;
    hub_.publish(alert);
  }
  return result->acked_seq;
}

}  // namespace vigil::collector
