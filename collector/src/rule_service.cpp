#include "vigil/collector/rule_service.h"

#include "vigil/clock.h"
#include "vigil/collector/query_service.h"

namespace vigil::collector {
namespace {

template <typename T, typename Out>
grpc::ServerUnaryReactor* finish_with(grpc::CallbackServerContext* ctx, Result<T> r, Out* out) {
  if (!r) {
    return finish(ctx, to_status(r.error()));
  }
  *out = std::move(*r);
  return finish(ctx, grpc::Status::OK);
}

}  // namespace

grpc::ServerUnaryReactor* RuleServiceImpl::ListRulePacks(grpc::CallbackServerContext* ctx,
                                                         const v1::ListRulePacksRequest* /*req*/,
                                                         v1::ListRulePacksResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  *resp = packs_.list();
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* RuleServiceImpl::GetRulePack(grpc::CallbackServerContext* ctx,
                                                       const v1::GetRulePackRequest* req,
                                                       v1::GetRulePackResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  return finish_with(ctx, packs_.get(req->version()), resp);
}

// Changes what the fleet detects: the operator role, as model import and rollout.
grpc::ServerUnaryReactor* RuleServiceImpl::PushRulePack(grpc::CallbackServerContext* ctx,
                                                        const v1::PushRulePackRequest* req,
                                                        v1::RulePackInfo* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  return finish_with(ctx, packs_.push_pack(*req, unix_now_ns()), resp);
}

grpc::ServerUnaryReactor* RuleServiceImpl::RuleRollout(grpc::CallbackServerContext* ctx,
                                                       const v1::RolloutRequest* req,
                                                       v1::RolloutStatus* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  const double fraction = req->canary_fraction() == 0 ? 0.1 : req->canary_fraction();
  const std::uint64_t soak = req->soak_s() == 0 ? 300 : req->soak_s();
  return finish_with(ctx, packs_.rollout(req->version(), fraction, soak, unix_now_ns()), resp);
}

grpc::ServerUnaryReactor* RuleServiceImpl::RuleRollback(grpc::CallbackServerContext* ctx,
                                                        const v1::RollbackRequest* req,
                                                        v1::RolloutStatus* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  if (req->reason().size() > 1024) {
    return finish(ctx, {grpc::StatusCode::INVALID_ARGUMENT, "reason longer than 1024 bytes"});
  }
  return finish_with(ctx, packs_.rollback(req->reason(), unix_now_ns()), resp);
}

grpc::ServerUnaryReactor* RuleServiceImpl::RuleStatus(grpc::CallbackServerContext* ctx,
                                                      const v1::RolloutStatusRequest* /*req*/,
                                                      v1::RuleStatusResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  *resp = packs_.agents_status();
  return finish(ctx, grpc::Status::OK);
}

}  // namespace vigil::collector
