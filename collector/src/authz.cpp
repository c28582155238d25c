#include "vigil/collector/authz.h"

#include <string_view>

namespace vigil::collector {

grpc::Status Authorizer::check(grpc::CallbackServerContext* ctx, Role need) const {
  if (tokens_ == nullptr) {
    return grpc::Status::OK;
  }
  const auto& md = ctx->client_metadata();
  const auto it = md.find("authorization");
  if (it == md.end()) {
    return {grpc::StatusCode::UNAUTHENTICATED,
            "this API needs a bearer token (vigilctl --token-file FILE)"};
  }
  const auto role = tokens_->check_bearer(std::string_view(it->second.data(), it->second.size()));
  if (!role) {
    return {grpc::StatusCode::UNAUTHENTICATED, "unknown bearer token"};
  }
  if (need == Role::kOperator && *role != Role::kOperator) {
    return {grpc::StatusCode::PERMISSION_DENIED, "this call needs an operator token"};
  }
  return grpc::Status::OK;
}

}  // namespace vigil::collector
