// ModelService: the registry, evolution and rollout behind `vigilctl models`
// (gRPC callback API, served on the operator API port). docs/api.md.
#pragma once

#include <grpcpp/grpcpp.h>

#include "vigil/collector/authz.h"
#include "vigil/collector/models.h"
#include "vigil/v1/model.grpc.pb.h"

namespace vigil::collector {

class ModelServiceImpl final : public v1::ModelService::CallbackService {
 public:
  ModelServiceImpl(ModelManager& models, Authorizer auth = {}) : models_(models), auth_(auth) {}

  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* ctx,
                                       const v1::ListModelsRequest* req,
                                       v1::ListModelsResponse* resp) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* ctx,
                                     const v1::GetModelRequest* req,
                                     v1::GetModelResponse* resp) override;
  grpc::ServerUnaryReactor* ImportModel(grpc::CallbackServerContext* ctx,
                                        const v1::ImportModelRequest* req,
                                        v1::ModelInfo* resp) override;
  // Operator: stores a release made with the offline release key.
  grpc::ServerUnaryReactor* ReleaseModel(grpc::CallbackServerContext* ctx,
                                         const v1::ReleaseModelRequest* req,
                                         v1::ModelInfo* resp) override;
  grpc::ServerUnaryReactor* Evolve(grpc::CallbackServerContext* ctx, const v1::EvolveRequest* req,
                                   v1::EvolutionStatus* resp) override;
  grpc::ServerUnaryReactor* Rollout(grpc::CallbackServerContext* ctx, const v1::RolloutRequest* req,
                                    v1::RolloutStatus* resp) override;
  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* ctx,
                                     const v1::RollbackRequest* req,
                                     v1::RolloutStatus* resp) override;
  grpc::ServerUnaryReactor* RolloutStatus(grpc::CallbackServerContext* ctx,
                                          const v1::RolloutStatusRequest* req,
                                          v1::RolloutStatus* resp) override;
  // Operator: shadow scoring of a candidate, or its stop.
  grpc::ServerUnaryReactor* Shadow(grpc::CallbackServerContext* ctx, const v1::ShadowRequest* req,
                                   v1::ShadowStatus* resp) override;
  grpc::ServerUnaryReactor* ShadowStatus(grpc::CallbackServerContext* ctx,
                                         const v1::ShadowStatusRequest* req,
                                         v1::ShadowStatus* resp) override;

 private:
  ModelManager& models_;
  Authorizer auth_;
};

}  // namespace vigil::collector
