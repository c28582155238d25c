// QueryService: the operator API behind vigilctl (gRPC callback API).
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>

#include "vigil/collector/alert_hub.h"
#include "vigil/collector/authz.h"
#include "vigil/collector/ingest.h"
#include "vigil/collector/store.h"
#include "vigil/v1/query.grpc.pb.h"

namespace vigil::collector {

class QueryServiceImpl final : public v1::QueryService::CallbackService {
 public:
  QueryServiceImpl(Store& store, AlertHub& hub, Ingest& ingest, Authorizer auth = {})
      : store_(store), hub_(hub), ingest_(ingest), auth_(auth) {}
  // Called after each accepted label with the labelled alert and the label
  // (the evolution's feedback trigger; image profiles learn benign shells).
  void set_feedback_hook(std::function<void(const v1::Alert&, const std::string&)> hook) {
    feedback_hook_ = std::move(hook);
  }

  grpc::ServerUnaryReactor* FleetReport(grpc::CallbackServerContext* ctx,
                                        const v1::FleetReportRequest* req,
                                        v1::FleetReport* resp) override;
  grpc::ServerUnaryReactor* ListAgents(grpc::CallbackServerContext* ctx,
                                       const v1::ListAgentsRequest* req,
                                       v1::ListAgentsResponse* resp) override;
  grpc::ServerUnaryReactor* QueryEvents(grpc::CallbackServerContext* ctx,
                                        const v1::QueryEventsRequest* req,
                                        v1::QueryEventsResponse* resp) override;
  grpc::ServerUnaryReactor* QueryAlerts(grpc::CallbackServerContext* ctx,
                                        const v1::QueryAlertsRequest* req,
                                        v1::QueryAlertsResponse* resp) override;
  grpc::ServerWriteReactor<v1::Alert>* WatchAlerts(grpc::CallbackServerContext* ctx,
                                                   const v1::WatchAlertsRequest* req) override;
  grpc::ServerUnaryReactor* SubmitFeedback(grpc::CallbackServerContext* ctx,
                                           const v1::SubmitFeedbackRequest* req,
                                           v1::SubmitFeedbackResponse* resp) override;

 private:
  Store& store_;
  AlertHub& hub_;
  Ingest& ingest_;
  Authorizer auth_;
  std::function<void(const v1::Alert&, const std::string&)> feedback_hook_;
};

inline constexpr std::uint32_t kDefaultAgentsPageSize = 500;
inline constexpr std::uint32_t kMaxAgentsPageSize = 2000;
// One ListAgents page, in agent id order: page_size agents at most, and fewer
// when the page would pass kMaxPageBytes.
[[nodiscard]] Result<v1::ListAgentsResponse> list_agents_page(Store& store,
                                                              const v1::ListAgentsRequest& req);

// Maps a vigil error onto a gRPC status with the same message.
[[nodiscard]] grpc::Status to_status(const Error& error);
// Ends a unary callback RPC with `status` (the services' common last step).
grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* ctx, const grpc::Status& status);

}  // namespace vigil::collector
