#include "vigil/collector/model_service.h"

#include <fmt/format.h>

#include "vigil/clock.h"
#include "vigil/collector/query_service.h"

namespace vigil::collector {
namespace {

constexpr std::size_t kMaxModelBytes = 16 << 20;

template <typename T, typename Out>
grpc::ServerUnaryReactor* finish_with(grpc::CallbackServerContext* ctx, Result<T> r, Out* out) {
  if (!r) {
    return finish(ctx, to_status(r.error()));
  }
  *out = std::move(*r);
  return finish(ctx, grpc::Status::OK);
}

}  // namespace

grpc::ServerUnaryReactor* ModelServiceImpl::ListModels(grpc::CallbackServerContext* ctx,
                                                       const v1::ListModelsRequest* /*req*/,
                                                       v1::ListModelsResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  *resp = models_.list();
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ModelServiceImpl::GetModel(grpc::CallbackServerContext* ctx,
                                                     const v1::GetModelRequest* req,
                                                     v1::GetModelResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  return finish_with(ctx, models_.get(req->version()), resp);
}

grpc::ServerUnaryReactor* ModelServiceImpl::ImportModel(grpc::CallbackServerContext* ctx,
                                                        const v1::ImportModelRequest* req,
                                                        v1::ModelInfo* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  if (req->model().empty() || req->model().size() > kMaxModelBytes) {
    return finish(ctx, {grpc::StatusCode::INVALID_ARGUMENT, "model must be 1 byte..16 MiB"});
  }
  return finish_with(ctx, models_.import(req->model(), unix_now_ns()), resp);
}

grpc::ServerUnaryReactor* ModelServiceImpl::ReleaseModel(grpc::CallbackServerContext* ctx,
                                                         const v1::ReleaseModelRequest* req,
                                                         v1::ModelInfo* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  return finish_with(ctx, models_.release(*req), resp);
}

grpc::ServerUnaryReactor* ModelServiceImpl::Evolve(grpc::CallbackServerContext* ctx,
                                                   const v1::EvolveRequest* /*req*/,
                                                   v1::EvolutionStatus* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  *resp = models_.evolve_async(unix_now_ns());
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ModelServiceImpl::Rollout(grpc::CallbackServerContext* ctx,
                                                    const v1::RolloutRequest* req,
                                                    v1::RolloutStatus* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  const double fraction = req->canary_fraction() == 0 ? 0.1 : req->canary_fraction();
  const std::uint64_t soak = req->soak_s() == 0 ? 300 : req->soak_s();
  return finish_with(ctx, models_.rollout(req->version(), fraction, soak, unix_now_ns()), resp);
}

grpc::ServerUnaryReactor* ModelServiceImpl::Rollback(grpc::CallbackServerContext* ctx,
                                                     const v1::RollbackRequest* req,
                                                     v1::RolloutStatus* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  if (req->reason().size() > 1024) {
    return finish(ctx, {grpc::StatusCode::INVALID_ARGUMENT, "reason longer than 1024 bytes"});
  }
  return finish_with(ctx, models_.rollback(req->reason(), unix_now_ns()), resp);
}

grpc::ServerUnaryReactor* ModelServiceImpl::RolloutStatus(grpc::CallbackServerContext* ctx,
                                                          const v1::RolloutStatusRequest* /*req*/,
                                                          v1::RolloutStatus* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  *resp = models_.status();
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ModelServiceImpl::Shadow(grpc::CallbackServerContext* ctx,
                                                   const v1::ShadowRequest* req,
                                                   v1::ShadowStatus* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  if (req->stop()) {
    if (!req->version().empty()) {
      auto now = models_.shadow_status();
      if (now.version() != req->version()) {
        return finish(ctx,
                      {grpc::StatusCode::INVALID_ARGUMENT,
                       fmt::format("{} is not in shadow (the shadow model is {})", req->version(),
                                   now.version().empty() ? "none" : now.version())});
      }
    }
    return finish_with(ctx, models_.stop_shadow("stopped by an operator", unix_now_ns()), resp);
  }
  if (req->version().empty()) {
    return finish(ctx, {grpc::StatusCode::INVALID_ARGUMENT,
                        "version is required (or stop): vigilctl models shadow VERSION"});
  }
  const double fraction = req->fraction() == 0 ? 1.0 : req->fraction();
  return finish_with(ctx, models_.shadow(req->version(), fraction, unix_now_ns()), resp);
}

grpc::ServerUnaryReactor* ModelServiceImpl::ShadowStatus(grpc::CallbackServerContext* ctx,
                                                         const v1::ShadowStatusRequest* /*req*/,
                                                         v1::ShadowStatus* resp) {
  if (auto allowed = auth_.check(ctx, Role::kViewer); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  *resp = models_.shadow_status();
  return finish(ctx, grpc::Status::OK);
}

}  // namespace vigil::collector
