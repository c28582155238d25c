// Enrollment (docs/security.md, "Enrollment"): enroll tokens, the issuing CA
// that signs agents' certificate requests, and revoked agent ids.
//
// A token is "vigil-enroll.<id>.<secret>"; only its BLAKE2b-256 hash is kept,
// with its scope (uses left, expiry) and whether it is revoked. Enroll trades a
// valid token and a CSR for a certificate whose CN is the agent id (whatever
// the CSR's subject and extensions say); Renew trades the current certificate
// for a new one with the same CN. A revoked agent id gets neither, and its
// streams are refused (Ingest's admission check) and ended. All of it is one
// record in the store's meta column family ("enroll/state").
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "vigil/collector/authz.h"
#include "vigil/collector/store.h"
#include "vigil/result.h"
#include "vigil/v1/enroll.grpc.pb.h"

namespace vigil::collector {

// The CA that signs agents' certificates: its certificate first, then the
// chain towards the root (the file's text), and its key.
struct IssuingCa {
  std::string cert_pem;
  std::string key_pem;
};
[[nodiscard]] Result<IssuingCa> load_issuing_ca(const std::filesystem::path& cert,
                                                const std::filesystem::path& key);

class Enrollment {
 public:
  // `ca` empty: tokens cannot be created nor used (revocations still work).
  [[nodiscard]] static Result<std::unique_ptr<Enrollment>> open(Store& store,
                                                                std::optional<IssuingCa> ca,
                                                                std::uint64_t cert_lifetime_s);

  [[nodiscard]] bool can_issue() const { return ca_.has_value(); }

  // Operators.
  [[nodiscard]] Result<v1::CreateEnrollTokenResponse> create_token(
      const v1::CreateEnrollTokenRequest& req, std::uint64_t now_ns);
  [[nodiscard]] v1::ListEnrollTokensResponse list() const;
  [[nodiscard]] Result<v1::EnrollTokenInfo> revoke_token(const std::string& id);
  [[nodiscard]] Result<v1::RevokedAgent> revoke_agent(const std::string& agent_id,
                                                      const std::string& reason,
                                                      std::uint64_t now_ns);

  // OK, or kPermission "agent X is revoked".
  [[nodiscard]] Result<void> admit(const std::string& agent_id) const;

  // Agents. `peer_cn`: the CN of the caller's verified client certificate.
  [[nodiscard]] Result<v1::EnrollResponse> enroll(const v1::EnrollRequest& req,
                                                  std::uint64_t now_ns);
  [[nodiscard]] Result<v1::EnrollResponse> renew(const std::string& peer_cn,
                                                 const v1::RenewRequest& req, std::uint64_t now_ns);

 private:
  Enrollment(Store& store, std::optional<IssuingCa> ca, std::uint64_t lifetime_s)
      : store_(store), ca_(std::move(ca)), lifetime_s_(lifetime_s) {}
  Result<v1::EnrollResponse> issue(const std::string& csr_pem, const std::string& agent_id,
                                   std::uint64_t now_ns) const;
  // Writes `next` and makes it the state; the state is unchanged on failure.
  Result<void> commit(v1::EnrollState next);
  [[nodiscard]] bool revoked_locked(const std::string& agent_id) const;

  Store& store_;
  const std::optional<IssuingCa> ca_;
  const std::uint64_t lifetime_s_;
  mutable std::mutex mu_;
  v1::EnrollState state_;
};

// EnrollService, on the agents' port: Enroll needs no client certificate (the
// token authenticates it), Renew needs the current one.
class EnrollServiceImpl final : public v1::EnrollService::CallbackService {
 public:
  explicit EnrollServiceImpl(Enrollment& enrollment) : enrollment_(enrollment) {}
  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* ctx, const v1::EnrollRequest* req,
                                   v1::EnrollResponse* resp) override;
  grpc::ServerUnaryReactor* Renew(grpc::CallbackServerContext* ctx, const v1::RenewRequest* req,
                                  v1::EnrollResponse* resp) override;

 private:
  Enrollment& enrollment_;
};

// EnrollAdminService, on the API port: operator tokens only. `disconnect`
// ends a revoked agent's stream (Ingest::disconnect); true if it had one.
class EnrollAdminServiceImpl final : public v1::EnrollAdminService::CallbackService {
 public:
  EnrollAdminServiceImpl(Enrollment& enrollment, Authorizer auth,
                         std::function<bool(const std::string&, const std::string&)> disconnect)
      : enrollment_(enrollment), auth_(auth), disconnect_(std::move(disconnect)) {}
  grpc::ServerUnaryReactor* CreateEnrollToken(grpc::CallbackServerContext* ctx,
                                              const v1::CreateEnrollTokenRequest* req,
                                              v1::CreateEnrollTokenResponse* resp) override;
  grpc::ServerUnaryReactor* ListEnrollTokens(grpc::CallbackServerContext* ctx,
                                             const v1::ListEnrollTokensRequest* req,
                                             v1::ListEnrollTokensResponse* resp) override;
  grpc::ServerUnaryReactor* RevokeEnrollToken(grpc::CallbackServerContext* ctx,
                                              const v1::RevokeEnrollTokenRequest* req,
                                              v1::EnrollTokenInfo* resp) override;
  grpc::ServerUnaryReactor* RevokeAgent(grpc::CallbackServerContext* ctx,
                                        const v1::RevokeAgentRequest* req,
                                        v1::RevokeAgentResponse* resp) override;

 private:
  Enrollment& enrollment_;
  Authorizer auth_;
  std::function<bool(const std::string&, const std::string&)> disconnect_;
};

}  // namespace vigil::collector
