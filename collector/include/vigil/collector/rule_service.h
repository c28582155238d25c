// RuleService: Sigma rule packs behind `vigilctl rules` (gRPC callback API,
// served on the operator API port with ModelService). docs/api.md.
#pragma once

#include <grpcpp/grpcpp.h>

#include "vigil/collector/authz.h"
#include "vigil/collector/rule_packs.h"
#include "vigil/v1/rules.grpc.pb.h"

namespace vigil::collector {

class RuleServiceImpl final : public v1::RuleService::CallbackService {
 public:
  RuleServiceImpl(RulePackManager& packs, Authorizer auth = {}) : packs_(packs), auth_(auth) {}

  grpc::ServerUnaryReactor* ListRulePacks(grpc::CallbackServerContext* ctx,
                                          const v1::ListRulePacksRequest* req,
                                          v1::ListRulePacksResponse* resp) override;
  grpc::ServerUnaryReactor* GetRulePack(grpc::CallbackServerContext* ctx,
                                        const v1::GetRulePackRequest* req,
                                        v1::GetRulePackResponse* resp) override;
  grpc::ServerUnaryReactor* PushRulePack(grpc::CallbackServerContext* ctx,
                                         const v1::PushRulePackRequest* req,
                                         v1::RulePackInfo* resp) override;
  grpc::ServerUnaryReactor* RuleRollout(grpc::CallbackServerContext* ctx,
                                        const v1::RolloutRequest* req,
                                        v1::RolloutStatus* resp) override;
  grpc::ServerUnaryReactor* RuleRollback(grpc::CallbackServerContext* ctx,
                                         const v1::RollbackRequest* req,
                                         v1::RolloutStatus* resp) override;
  grpc::ServerUnaryReactor* RuleStatus(grpc::CallbackServerContext* ctx,
                                       const v1::RolloutStatusRequest* req,
                                       v1::RuleStatusResponse* resp) override;

 private:
  RulePackManager& packs_;
  Authorizer auth_;
};

}  // namespace vigil::collector
