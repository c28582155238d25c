#include "vigil/collector/ingest.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <chrono>
#include <deque>

#include "vigil/clock.h"
#include "vigil/collector/validate.h"
#include "vigil/log.h"

namespace vigil::collector {
namespace {

// A failed read is the agent's half-close, or a message that arrived and did
// not parse (proto3 rejects a string that is not UTF-8; garbage bytes). gRPC
// reports both as ok=false. Parsing clears the message first, so a sentinel
// set before each read survives only the first: an unknown field with the
// highest field number, which no vigil message uses.
constexpr int kSentinelField = 536'870'911;

void arm_sentinel(v1::AgentMessage& msg) {
  msg.Clear();
  msg.GetReflection()->MutableUnknownFields(&msg)->AddVarint(kSentinelField, 1);
}

bool sentinel_intact(const v1::AgentMessage& msg) {
  const auto& unknown = msg.GetReflection()->GetUnknownFields(msg);
  return msg.msg_case() == v1::AgentMessage::MSG_NOT_SET && unknown.field_count() == 1 &&
         unknown.field(0).number() == kSentinelField;
}

// An address in one canonical text form (inet_ntop; IPv4-mapped IPv6 as IPv4),
// or "" when `text` is not an IP address.
std::string canonical_ip(std::string_view text) {
  const std::string s(text);
  std::array<unsigned char, 16> bin{};
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (inet_pton(AF_INET, s.c_str(), bin.data()) == 1) {
    return inet_ntop(AF_INET, bin.data(), out.data(), out.size()) ? out.data() : "";
  }
  if (inet_pton(AF_INET6, s.c_str(), bin.data()) != 1) {
    return {};
  }
  constexpr std::array<unsigned char, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped.begin(), kMapped.end(), bin.begin())) {
    return inet_ntop(AF_INET, bin.data() + 12, out.data(), out.size()) ? out.data() : "";
  }
  return inet_ntop(AF_INET6, bin.data(), out.data(), out.size()) ? out.data() : "";
}

// grpc's peer string, "ipv4:10.0.0.1:5000" or "ipv6:[::1]:5000": the address.
std::string peer_ip(std::string_view peer) {
  if (peer.starts_with("ipv4:")) {
    peer.remove_prefix(5);
    return canonical_ip(peer.substr(0, peer.rfind(':')));
  }
  if (peer.starts_with("ipv6:[")) {
    peer.remove_prefix(6);
    return canonical_ip(peer.substr(0, peer.find(']')));
  }
  return {};
}

// Stream refusals: the status each reason ends with.
grpc::StatusCode status_for(Reason reason) {
  switch (reason) {
    case Reason::kStorage:
      return grpc::StatusCode::UNAVAILABLE;
    case Reason::kIdentity:
      return grpc::StatusCode::PERMISSION_DENIED;
    case Reason::kOverMaxAgents:
    case Reason::kRateLimited:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Reason::kReplaced:
      return grpc::StatusCode::ABORTED;
    default:
      return grpc::StatusCode::INVALID_ARGUMENT;
  }
}

Reason reason_for(const Error& error) {
  switch (error.code) {
    case ErrorCode::kIo:
      return Reason::kStorage;
    case ErrorCode::kPermission:
      return Reason::kIdentity;
    case ErrorCode::kExhausted:
      return Reason::kRateLimited;
    default:
      return Reason::kProtocol;
  }
}

}  // namespace

class ConnectReactor final
    : public grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage> {
 public:
  ConnectReactor(Ingest& ingest, std::string identity, bool require_identity, std::string peer_ip,
                 std::vector<std::string> certificate_ips)
      : ingest_(ingest),
        identity_(std::move(identity)),
        require_identity_(require_identity),
        peer_ip_(std::move(peer_ip)),
        certificate_ips_(std::move(certificate_ips)) {
    ++ingest_.stats_.streams;
    arm_sentinel(in_);
    StartRead(&in_);
  }

  // Thread-safe: used by the reactor itself and by Ingest::send_to_agent.
  // `then_finish`: the last message; the stream then ends with `final_status`.
  // False when the stream is ending already.
  bool send(const v1::CollectorMessage& msg, bool then_finish = false,
            grpc::Status final_status = grpc::Status::OK) {
    std::lock_guard lock(mu_);
    if (finishing_) {
      return false;
    }
    out_.push_back(msg);
    finishing_ = then_finish;
    final_status_ = std::move(final_status);
    if (!writing_) {
      writing_ = true;
      StartWrite(&out_.front());
    }
    return true;
  }

  void OnReadDone(bool ok) override {
    {
      // Ended from outside (Ingest::disconnect): no more reads, no more batches.
      std::lock_guard lock(mu_);
      if (finishing_) {
        return;
      }
    }
    if (!ok) {
      // Ending a stream whose message did not parse with OK would hide the
      // loss: it is counted and refused (see arm_sentinel).
      if (!sentinel_intact(in_)) {
        ++ingest_.stats_.undecodable;
        refuse(Reason::kUndecodable,
               "a message did not parse (garbage, or a string field that is not UTF-8)");
        return;
      }
      finish(grpc::Status::OK);
      return;
    }
    // Storage writes leave the callback thread: the message is handled on the
    // writer pool, and the next one is read only after it (one job per stream,
    // in order). finish() waits for the job; see `pending_`.
    {
      std::lock_guard lock(mu_);
      pending_ = true;
    }
    ingest_.writers_->post([this] { process(); });
  }

  // On a writer thread: the message read last, then the next read. Until
  // pending_ is cleared nothing can finish the stream (and so delete this),
  // and the next read starts under the same lock that clears it: a stream
  // cancelled in between finishes here instead, never while this still uses
  // the reactor.
  void process() {
    if (auto refused = handle(in_)) {
      refuse(refused->reason, refused->detail);  // queues the refusal and finishing_
    }
    std::lock_guard lock(mu_);
    pending_ = false;
    if (finishing_) {
      // Ended meanwhile (refused, replaced, disconnected, cancelled): finish
      // now if no write is left to do it.
      if (!writing_) {
        finish_locked(final_status_);
      }
      return;
    }
    arm_sentinel(in_);
    StartRead(&in_);
  }

  // Ends the stream: a Refusal message saying why, then a non-OK status.
  void refuse(Reason reason, const std::string& message) {
    v1::CollectorMessage msg;
    msg.mutable_refusal()->set_reason(message);
    msg.mutable_refusal()->set_code(std::string(reason_code(reason)));
    if (!send(msg, /*then_finish=*/true,
              grpc::Status(status_for(reason),
                           fmt::format("refused ({}): {}", reason_code(reason), message)))) {
      return;  // ending already, for another reason
    }
    ++ingest_.stats_.refused;
    ingest_.stats_.count(reason);
    VLOG_WARN("agent '{}' refused ({}): {}", agent_id_.empty() ? "?" : agent_id_,
              reason_code(reason), message);
  }
  void refuse(const Error& error) { refuse(reason_for(error), error.message); }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    out_.pop_front();
    if (!ok) {
      writing_ = false;
      const grpc::Status failed(grpc::StatusCode::UNAVAILABLE, "write failed");
      if (pending_) {
        finishing_ = true;  // process() finishes once its message is handled
        final_status_ = failed;
        return;
      }
      finish_locked(failed);
      return;
    }
    if (!out_.empty()) {
      StartWrite(&out_.front());
      return;
    }
    writing_ = false;
    if (finishing_ && !pending_) {
      finish_locked(final_status_);
    }
  }

  void OnCancel() override { finish(grpc::Status::CANCELLED); }

  void OnDone() override {
    // A replaced stream leaves the record to its successor. The record's
    // write runs on the writer pool, not on this callback thread, and only
    // if no newer stream took the agent meanwhile (it holds the agent's
    // writer lock from its hello, so a hello is written after this or wins).
    if (!agent_id_.empty() && ingest_.detach(agent_id_, this)) {
      ingest_.writers_->post([&ingest = ingest_, id = agent_id_, now = unix_now_ns()] {
        auto writer = ingest.writer_lock(id);
        if (ingest.owns(id, nullptr)) {
          if (auto r = ingest.store_.set_connected(id, false, now); !r) {
            VLOG_WARN("agent '{}' record: {}", id, r.error().message);
          }
        }
      });
    }
    delete this;
  }

 private:
  void finish(const grpc::Status& status) {
    std::lock_guard lock(mu_);
    if (writing_ || pending_) {
      if (!finishing_) {
        final_status_ = status;  // a refusal already queued keeps its own
      }
      // OnWriteDone or process() finishes after the last write and the
      // message being handled: OnDone (which deletes this) cannot run while a
      // writer thread still uses the reactor.
      finishing_ = true;
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

  // Nothing, or why the stream must end.
  std::optional<Refused> handle(const v1::AgentMessage& msg) {
    switch (msg.msg_case()) {
      case v1::AgentMessage::kHello:
        return on_hello(msg.hello());
      case v1::AgentMessage::kBatch:
        return on_batch(msg.batch());
      case v1::AgentMessage::kHealth:
        if (agent_id_.empty()) {
          return Refused{Reason::kProtocol, "health before hello"};
        }
        if (auto bad = check_health(msg.health())) {
          return bad;
        }
        if (auto r = ingest_.store_.update_health(agent_id_, msg.health(), unix_now_ns()); !r) {
          ++ingest_.stats_.store_errors;
          VLOG_WARN("agent '{}' health: {}", agent_id_, r.error().message);
        }
        if (ingest_.health_hook_) {
          ingest_.health_hook_(agent_id_, msg.health());
        }
        return std::nullopt;
      case v1::AgentMessage::kImageObservations:
        if (agent_id_.empty()) {
          return Refused{Reason::kProtocol, "image observations before hello"};
        }
        if (ingest_.image_observations_hook_) {
          if (auto r = ingest_.image_observations_hook_(agent_id_, msg.image_observations()); !r) {
            if (r.error().code == ErrorCode::kIo) {
              ++ingest_.stats_.store_errors;
            }
            return Refused{reason_for(r.error()), r.error().message};
          }
        }
        return std::nullopt;
      case v1::AgentMessage::kBehaviours:
        if (agent_id_.empty()) {
          return Refused{Reason::kProtocol, "behaviours before hello"};
        }
        if (auto bad = check_behaviours(msg.behaviours())) {
          return bad;
        }
        if (ingest_.behaviours_hook_) {
          if (auto r = ingest_.behaviours_hook_(agent_id_, msg.behaviours()); !r) {
            if (r.error().code == ErrorCode::kIo) {
              ++ingest_.stats_.store_errors;
            }
            return Refused{reason_for(r.error()), r.error().message};
          }
        }
        return std::nullopt;
      case v1::AgentMessage::MSG_NOT_SET:
        break;
    }
    return Refused{Reason::kProtocol, "empty message"};
  }

  std::optional<Refused> on_hello(const v1::Hello& hello) {
    if (!agent_id_.empty()) {
      return Refused{Reason::kProtocol, "second hello on one stream"};
    }
    if (auto bad = check_hello(hello)) {
      return bad;
    }
    if (require_identity_) {
      if (auto r = Ingest::check_identity(identity_, hello); !r) {
        return Refused{Reason::kIdentity, r.error().message};
      }
    }
    if (ingest_.admit_) {
      if (auto r = ingest_.admit_(hello.agent_id()); !r) {
        return Refused{Reason::kIdentity, r.error().message};
      }
    }
    // Take the agent's slot first: the max_agents check and the slot are one
    // step. An older stream with this id is ended here.
    if (!ingest_.try_attach(hello.agent_id(), this)) {
      ++ingest_.stats_.over_max_agents;
      return Refused{Reason::kOverMaxAgents,
                     fmt::format("{} agents connected, the collector's max_agents; retry later",
                                 ingest_.max_agents_)};
    }
    agent_id_ = hello.agent_id();  // from here OnDone releases the slot
    host_ = hello.host_id();
    const auto origin = origin_of(hello);
    Result<std::uint64_t> acked;
    {
      // The replaced stream's batch in flight, if any, is written first.
      auto writer = ingest_.writer_lock(agent_id_);
      if (!ingest_.owns(agent_id_, this)) {
        return Refused{Reason::kReplaced, "replaced by a newer stream for agent " + agent_id_};
      }
      acked = ingest_.store_.register_agent(hello, unix_now_ns(), origin);
    }
    if (!acked) {
      ++ingest_.stats_.store_errors;
      return Refused{Reason::kStorage, "collector storage unavailable: " + acked.error().message};
    }
    {
      // Only addresses the collector could confirm are the host's to the
      // correlator: a claimed one could be another host's.
      std::lock_guard lock(ingest_.correlator_mu_);
      ingest_.correlator_.set_host_addresses(host_, origin.verified_addresses);
    }
    VLOG_INFO("agent '{}' (host '{}', {}, from {}) connected, durable up to seq {}", agent_id_,
              host_, hello.version(), origin.peer_address, *acked);
    v1::CollectorMessage ack;
    ack.mutable_ack()->set_seq(*acked);
    send(ack);
    if (ingest_.hello_hook_) {
      ingest_.hello_hook_(agent_id_, hello);  // e.g. bring its model up to date
    }
    return std::nullopt;
  }

  // The valid events are stored; the others are listed in the ack, which
  // settles the whole batch (docs/api.md, "Acks").
  std::optional<Refused> on_batch(const v1::EventBatch& batch) {
    if (agent_id_.empty()) {
      return Refused{Reason::kProtocol, "batch before hello"};
    }
    if (auto bad = check_batch(batch)) {
      return bad;
    }
    if (auto r = ingest_.take_tokens(agent_id_, batch.events_size()); !r) {
      ++ingest_.stats_.rate_limited;
      return Refused{Reason::kRateLimited, r.error().message};
    }
    v1::CollectorMessage ack;
    auto& refused = *ack.mutable_ack()->mutable_refused();
    for (const auto& e : batch.events()) {
      if (auto bad = check_event(e)) {
        auto* r = refused.Add();
        r->set_seq(e.seq());
        r->set_reason(std::string(reason_code(bad->reason)));
        r->set_detail(std::move(bad->detail));
        ingest_.stats_.count(bad->reason);
      }
    }
    const v1::EventBatch* keep = &batch;
    v1::EventBatch valid;
    if (!refused.empty()) {
      ingest_.stats_.events_refused += static_cast<std::uint64_t>(refused.size());
      // check_batch made the header the events' own seqs: the mark covers the
      // refused events too, so the agent drops them and moves on.
      valid.set_first_seq(batch.first_seq());
      valid.set_last_seq(batch.last_seq());
      auto next = refused.begin();
      for (const auto& e : batch.events()) {
        if (next != refused.end() && next->seq() == e.seq()) {
          ++next;
          continue;
        }
        *valid.add_events() = e;
      }
      keep = &valid;
    }
    Result<std::uint64_t> acked;
    {
      auto writer = ingest_.writer_lock(agent_id_);
      if (!ingest_.owns(agent_id_, this)) {
        return Refused{Reason::kReplaced, "replaced by a newer stream for agent " + agent_id_};
      }
      acked = ingest_.on_batch(agent_id_, host_, *keep, static_cast<std::uint64_t>(refused.size()));
    }
    if (!acked) {
      return Refused{reason_for(acked.error()), acked.error().message};
    }
    ack.mutable_ack()->set_seq(*acked);
    send(ack);
    return std::nullopt;
  }

  // The claimed addresses the stream's peer address or the client
  // certificate's IP SANs confirm.
  HelloOrigin origin_of(const v1::Hello& hello) const {
    HelloOrigin origin{.peer_address = peer_ip_, .verified_addresses = {}};
    for (const auto& claimed : hello.addresses()) {
      const auto ip = canonical_ip(claimed);
      if (!ip.empty() &&
          (ip == peer_ip_ || std::ranges::find(certificate_ips_, ip) != certificate_ips_.end())) {
        origin.verified_addresses.push_back(claimed);
      }
    }
    return origin;
  }

  Ingest& ingest_;
  const std::string identity_;  // the client certificate's CN; empty without mTLS
  const bool require_identity_;
  const std::string peer_ip_;  // canonical; "" when not an IP (e.g. a unix socket)
  const std::vector<std::string> certificate_ips_;  // the client certificate's SANs, canonical
  v1::AgentMessage in_;
  std::string agent_id_;
  std::string host_;
  std::mutex mu_;
  std::deque<v1::CollectorMessage> out_;
  bool writing_ = false;
  bool pending_ = false;  // a message is being handled on the writer pool
  bool finishing_ = false;
  bool finished_ = false;
  grpc::Status final_status_;  // after the last queued write, when finishing_
};

Ingest::Ingest(Store& store, Correlator& correlator, AlertHub& hub)
    : store_(store), correlator_(correlator), hub_(hub) {}

grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* Ingest::Connect(
    grpc::CallbackServerContext* ctx) {
  std::string identity;
  std::vector<std::string> certificate_ips;
  if (const auto auth = ctx->auth_context(); auth && auth->IsPeerAuthenticated()) {
    const auto cn = auth->FindPropertyValues("x509_common_name");
    if (!cn.empty()) {
      identity.assign(cn.front().data(), cn.front().size());
    }
    for (const auto& san : auth->FindPropertyValues("x509_subject_alternative_name")) {
      if (auto ip = canonical_ip({san.data(), san.size()}); !ip.empty()) {
        certificate_ips.push_back(std::move(ip));
      }
    }
  }
  return new ConnectReactor(*this, std::move(identity), require_identity_, peer_ip(ctx->peer()),
                            std::move(certificate_ips));
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
  auto& slot = connected_[agent_id];
  if (slot != nullptr && slot != reactor) {
    // A reconnect (the old stream half-dead) or a second agent claiming the
    // id: either way the newest is the one writer; the old one is told why.
    ++stats_.replaced;
    slot->refuse(Reason::kReplaced, "replaced by a newer stream for agent " + agent_id);
  }
  slot = reactor;
  if (auto& mu = writer_mu_[agent_id]; !mu) {
    mu = std::make_unique<std::mutex>();
  }
  return true;
}

bool Ingest::detach(const std::string& agent_id, ConnectReactor* reactor) {
  std::lock_guard lock(agents_mu_);
  auto it = connected_.find(agent_id);
  if (it != connected_.end() && it->second == reactor) {
    connected_.erase(it);
    return true;
  }
  return false;
}

std::unique_lock<std::mutex> Ingest::writer_lock(const std::string& agent_id) {
  std::mutex* mu = nullptr;
  {
    std::lock_guard lock(agents_mu_);
    mu = writer_mu_.at(agent_id).get();  // made by try_attach, never erased
  }
  return std::unique_lock(*mu);
}

bool Ingest::owns(const std::string& agent_id, const ConnectReactor* reactor) {
  std::lock_guard lock(agents_mu_);
  auto it = connected_.find(agent_id);
  if (reactor == nullptr) {
    return it == connected_.end();
  }
  return it != connected_.end() && it->second == reactor;
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

bool Ingest::disconnect(const std::string& agent_id, const std::string& reason) {
  std::lock_guard lock(agents_mu_);
  auto it = connected_.find(agent_id);
  if (it == connected_.end()) {
    return false;
  }
  it->second->refuse(Error{ErrorCode::kPermission, reason});
  return true;
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
                                       const v1::EventBatch& batch, std::uint64_t refused) {
  const auto t0 = std::chrono::steady_clock::now();
  auto result = store_.ingest(agent_id, batch, unix_now_ns(), refused);
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
