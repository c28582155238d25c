#include "vigil/collector/query_service.h"

#include <chrono>
#include <deque>
#include <mutex>

#include "vigil/clock.h"
#include "vigil/collector/report.h"
#include "vigil/collector/validate.h"
#include "vigil/collector/workload.h"

namespace vigil::collector {
namespace {

constexpr std::size_t kWatchQueueLimit =
    1024;  // a slow watcher loses the oldest, never blocks ingest

class WatchReactor final : public grpc::ServerWriteReactor<v1::Alert> {
 public:
  WatchReactor(AlertHub& hub, v1::WatchAlertsRequest req)
      : hub_(hub), req_(std::move(req)), workload_(WorkloadFilter::of(req_)) {
    StartSendInitialMetadata();  // the client knows the watch is live before any alert
    id_ = hub_.subscribe([this](const v1::Alert& a) { offer(a); });
  }

  void OnSendInitialMetadataDone(bool /*ok*/) override {}

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    queue_.pop_front();
    if (!ok) {
      writing_ = false;
      finish_locked(grpc::Status::CANCELLED);
      return;
    }
    if (!queue_.empty()) {
      StartWrite(&queue_.front());
    } else {
      writing_ = false;
    }
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    finish_locked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    hub_.unsubscribe(id_);
    delete this;
  }

 private:
  void offer(const v1::Alert& a) {
    const bool host_match =
        req_.host().empty() || std::ranges::find(a.hosts(), req_.host()) != a.hosts().end();
    if (!host_match || a.score() < req_.min_score() || !workload_.matches(a.event())) {
      return;
    }
    std::lock_guard lock(mu_);
    if (finished_) {
      return;
    }
    if (queue_.size() >= kWatchQueueLimit && writing_) {
      queue_.erase(queue_.begin() + 1);  // the front is being written
    }
    queue_.push_back(a);
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  void finish_locked(const grpc::Status& status) {
    if (!finished_) {
      finished_ = true;
      Finish(status);
    }
  }

  AlertHub& hub_;
  v1::WatchAlertsRequest req_;
  WorkloadFilter workload_;
  std::uint64_t id_ = 0;
  std::mutex mu_;
  std::deque<v1::Alert> queue_;
  bool writing_ = false;
  bool finished_ = false;
};

// A watch refused before it starts (no or wrong token).
class RefusedWatch final : public grpc::ServerWriteReactor<v1::Alert> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

Result<v1::ListAgentsResponse> list_agents_page(Store& store, const v1::ListAgentsRequest& req) {
  std::string after;
  bool resumed = false;
  if (!req.page_token().empty()) {
    auto token = store.page_tokens().open(PageKind::kAgents, without_paging(req), req.page_token());
    if (!token) {
      return std::unexpected(token.error());
    }
    after = token->resume_key();
    resumed = true;
  }
  const std::uint32_t page_size =
      req.page_size() == 0 ? kDefaultAgentsPageSize : std::min(req.page_size(), kMaxAgentsPageSize);
  v1::ListAgentsResponse resp;
  std::size_t bytes = 0;
  std::string last;
  bool more = false;
  for (auto& a : store.agents()) {  // in agent id order
    if (resumed && a.agent_id() <= after) {
      continue;
    }
    const std::size_t size = a.ByteSizeLong();
    if (static_cast<std::uint32_t>(resp.agents_size()) == page_size ||
        (resp.agents_size() > 0 && bytes + size > kMaxPageBytes)) {
      more = true;
      break;
    }
    bytes += size;
    last = a.agent_id();
    *resp.add_agents() = std::move(a);
  }
  if (more) {
    resp.set_next_page_token(
        store.page_tokens().issue(PageKind::kAgents, without_paging(req), last, 0));
  }
  return resp;
}

grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* ctx, const grpc::Status& status) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status to_status(const Error& error) {
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      return {grpc::StatusCode::INVALID_ARGUMENT, error.message};
    case ErrorCode::kNotFound:
      return {grpc::StatusCode::NOT_FOUND, error.message};
    case ErrorCode::kPermission:
      return {grpc::StatusCode::PERMISSION_DENIED, error.message};
    case ErrorCode::kUnsupported:
      return {grpc::StatusCode::UNIMPLEMENTED, error.message};
    case ErrorCode::kExhausted:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, error.message};
    default:
      return {grpc::StatusCode::INTERNAL, error.message};
  }
}

grpc::ServerUnaryReactor* QueryServiceImpl::FleetReport(grpc::CallbackServerContext* ctx,
                                                        const v1::FleetReportRequest* req,
                                                        v1::FleetReport* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  auto report = fleet_report_page(store_, *req, unix_now_ns());
  if (!report) {
    return finish(ctx, to_status(report.error()));
  }
  *resp = std::move(*report);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListAgents(grpc::CallbackServerContext* ctx,
                                                       const v1::ListAgentsRequest* req,
                                                       v1::ListAgentsResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  auto page = list_agents_page(store_, *req);
  if (!page) {
    return finish(ctx, to_status(page.error()));
  }
  *resp = std::move(*page);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* QueryServiceImpl::QueryEvents(grpc::CallbackServerContext* ctx,
                                                        const v1::QueryEventsRequest* req,
                                                        v1::QueryEventsResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  auto r = store_.query_events(*req, unix_now_ns());
  if (!r) {
    return finish(ctx, to_status(r.error()));
  }
  *resp = std::move(*r);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* QueryServiceImpl::QueryAlerts(grpc::CallbackServerContext* ctx,
                                                        const v1::QueryAlertsRequest* req,
                                                        v1::QueryAlertsResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  auto r = store_.query_alerts(*req, unix_now_ns());
  if (!r) {
    return finish(ctx, to_status(r.error()));
  }
  *resp = std::move(*r);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerWriteReactor<v1::Alert>* QueryServiceImpl::WatchAlerts(
    grpc::CallbackServerContext* ctx, const v1::WatchAlertsRequest* req) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return new RefusedWatch(allowed);
  }
  return new WatchReactor(hub_, *req);
}

grpc::ServerUnaryReactor* QueryServiceImpl::SubmitFeedback(grpc::CallbackServerContext* ctx,
                                                           const v1::SubmitFeedbackRequest* req,
                                                           v1::SubmitFeedbackResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  if (!valid_label(req->label())) {
    return finish(ctx, {grpc::StatusCode::INVALID_ARGUMENT,
                        "label must be 'malicious' or 'benign', got '" + req->label() + "'"});
  }
  if (!valid_alert_ref(req->alert_id()) || req->comment().size() > kMaxStringBytes) {
    return finish(ctx, {grpc::StatusCode::INVALID_ARGUMENT, "alert_id or comment malformed"});
  }
  auto alert = store_.set_label(req->alert_id(), req->label(), req->comment(), unix_now_ns());
  if (!alert) {
    return finish(ctx, to_status(alert.error()));
  }
  // The agent that raised it hears the label (its thresholds and models learn from it).
  if (!alert->agent_id().empty()) {
    v1::CollectorMessage msg;
    msg.mutable_feedback()->set_alert_id(alert->id().substr(alert->agent_id().size() + 1));
    msg.mutable_feedback()->set_label(req->label());
    ingest_.send_to_agent(alert->agent_id(), msg);
  }
  if (feedback_hook_) {
    feedback_hook_(*alert, req->label());
  }
  hub_.publish(*alert);
  *resp->mutable_alert() = std::move(*alert);
  return finish(ctx, grpc::Status::OK);
}

}  // namespace vigil::collector
