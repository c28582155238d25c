// Who may call what on the operator API (QueryService, ModelService,
// RuleService). With a token file every call needs "authorization: Bearer
// TOKEN" metadata: viewer tokens may read (reports, agents, events, alerts,
// models, rule packs, rollout status), operator tokens may also act (feedback,
// model import, evolve, rollout, rollback; rule pack push, rollout, rollback).
// Without a token file the API is open (the collector warns at start).
// Agents never use tokens: they authenticate with client certificates (mTLS).
#pragma once

#include <grpcpp/grpcpp.h>

#include "vigil/collector/tokens.h"

namespace vigil::collector {

class Authorizer {
 public:
  Authorizer() = default;  // open
  explicit Authorizer(const TokenStore* tokens) : tokens_(tokens) {}
  [[nodiscard]] bool enforced() const { return tokens_ != nullptr; }
  // OK, UNAUTHENTICATED (no or unknown token) or PERMISSION_DENIED (a viewer
  // token where an operator's is needed).
  [[nodiscard]] grpc::Status check(grpc::CallbackServerContext* ctx, Role need) const;

 private:
  const TokenStore* tokens_ = nullptr;
};

}  // namespace vigil::collector
