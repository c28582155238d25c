#include "vigil/collector/enroll.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>

#include "vigil/clock.h"
#include "vigil/collector/keys.h"
#include "vigil/collector/query_service.h"
#include "vigil/log.h"
#include "vigil/pem.h"
#include "vigil/x509.h"

namespace vigil::collector {
namespace {

constexpr std::string_view kStateKey = "enroll/state";
constexpr std::string_view kTokenPrefix = "vigil-enroll.";
constexpr std::size_t kIdBytes = 8;
constexpr std::size_t kSecretBytes = 32;
constexpr std::uint64_t kDefaultTtlS = 24 * 3600;
constexpr std::uint64_t kMaxTtlS = 365ULL * 24 * 3600;
constexpr std::size_t kAgentsKept = 100;  // per token, the latest
constexpr std::size_t kMaxNote = 256;
constexpr std::size_t kMaxReason = 1024;

std::string hash_of(std::string_view token) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr,
                     0);
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  auto hex = to_hex(raw);
  sodium_memzero(raw.data(), raw.size());
  return hex;
}

// The id of "vigil-enroll.<id>.<secret>", if the text has that shape.
std::optional<std::string> token_id(std::string_view token) {
  if (!token.starts_with(kTokenPrefix)) {
    return std::nullopt;
  }
  token.remove_prefix(kTokenPrefix.size());
  const auto dot = token.find('.');
  if (dot != kIdBytes * 2 || token.size() != dot + 1 + kSecretBytes * 2) {
    return std::nullopt;
  }
  return std::string(token.substr(0, dot));
}

// The answer to an operator: never the hash.
v1::EnrollTokenInfo public_info(v1::EnrollTokenInfo info) {
  info.clear_hash();
  return info;
}

std::string peer_common_name(grpc::CallbackServerContext* ctx) {
  const auto auth = ctx->auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) {
    return {};
  }
  const auto cn = auth->FindPropertyValues("x509_common_name");
  return cn.empty() ? std::string() : std::string(cn.front().data(), cn.front().size());
}

template <typename T, typename Out>
grpc::ServerUnaryReactor* finish_with(grpc::CallbackServerContext* ctx, Result<T> r, Out* out) {
  if (!r) {
    return finish(ctx, to_status(r.error()));
  }
  *out = std::move(*r);
  return finish(ctx, grpc::Status::OK);
}

}  // namespace

Result<IssuingCa> load_issuing_ca(const std::filesystem::path& cert,
                                  const std::filesystem::path& key) {
  auto cert_pem = read_pem(cert, "enroll_ca_cert");
  if (!cert_pem) {
    return std::unexpected(cert_pem.error());
  }
  auto key_pem = read_pem(key, "enroll_ca_key");
  if (!key_pem) {
    return std::unexpected(key_pem.error());
  }
  if (auto r = x509::check_issuer(*cert_pem, *key_pem); !r) {
    return make_error(r.error().code,
                      fmt::format("enroll_ca_cert {}: {}", cert.string(), r.error().message));
  }
  return IssuingCa{.cert_pem = std::move(*cert_pem), .key_pem = std::move(*key_pem)};
}

Result<std::unique_ptr<Enrollment>> Enrollment::open(Store& store, std::optional<IssuingCa> ca,
                                                     std::uint64_t cert_lifetime_s) {
  if (sodium_init() < 0) {
    return make_error(ErrorCode::kInternal, "libsodium failed to initialise");
  }
  if (cert_lifetime_s == 0) {
    return make_error(ErrorCode::kInvalidArgument, "enrolled certificates' lifetime must be > 0");
  }
  std::unique_ptr<Enrollment> e(new Enrollment(store, std::move(ca), cert_lifetime_s));
  auto saved = store.get_meta(std::string(kStateKey));
  if (!saved) {
    return std::unexpected(saved.error());
  }
  if (*saved && !e->state_.ParseFromString(**saved)) {
    return make_error(ErrorCode::kCorrupt, "enrollment state in the store does not parse");
  }
  return e;
}

Result<void> Enrollment::commit(v1::EnrollState next) {
  if (auto r = store_.put_meta(std::string(kStateKey), next.SerializeAsString()); !r) {
    return make_error(ErrorCode::kIo, "storing enrollment state: " + r.error().message);
  }
  state_ = std::move(next);
  return {};
}

bool Enrollment::revoked_locked(const std::string& agent_id) const {
  return std::ranges::any_of(state_.revoked_agents(),
                             [&](const auto& r) { return r.agent_id() == agent_id; });
}

Result<void> Enrollment::admit(const std::string& agent_id) const {
  std::lock_guard lock(mu_);
  if (revoked_locked(agent_id)) {
    return make_error(ErrorCode::kPermission, fmt::format("agent {} is revoked", agent_id));
  }
  return {};
}

Result<v1::CreateEnrollTokenResponse> Enrollment::create_token(
    const v1::CreateEnrollTokenRequest& req, std::uint64_t now_ns) {
  if (!ca_) {
    return make_error(ErrorCode::kInvalidArgument,
                      "this collector has no issuing CA, so enroll tokens would be useless: "
                      "start it with enroll_ca_cert and enroll_ca_key (make-certs.sh "
                      "--issuing-ca makes them)");
  }
  const std::uint64_t ttl_s = req.ttl_s() == 0 ? kDefaultTtlS : req.ttl_s();
  if (ttl_s > kMaxTtlS) {
    return make_error(ErrorCode::kInvalidArgument, "an enroll token lives at most 365 days");
  }
  if (req.note().size() > kMaxNote) {
    return make_error(ErrorCode::kInvalidArgument, "note longer than 256 bytes");
  }
  v1::CreateEnrollTokenResponse out;
  const auto id = random_hex(kIdBytes);
  const auto secret = random_hex(kSecretBytes);
  out.set_token(fmt::format("{}{}.{}", kTokenPrefix, id, secret));
  auto* info = out.mutable_info();
  info->set_id(id);
  info->set_max_uses(req.max_uses() == 0 ? 1 : req.max_uses());
  info->set_created_ns(now_ns);
  info->set_expires_ns(now_ns + ttl_s * 1'000'000'000ULL);
  info->set_note(req.note());
  info->set_hash(hash_of(out.token()));
  std::lock_guard lock(mu_);
  auto next = state_;
  *next.add_tokens() = *info;
  if (auto r = commit(std::move(next)); !r) {
    return std::unexpected(r.error());
  }
  info->clear_hash();
  return out;
}

v1::ListEnrollTokensResponse Enrollment::list() const {
  std::lock_guard lock(mu_);
  v1::ListEnrollTokensResponse out;
  for (const auto& t : state_.tokens()) {
    *out.add_tokens() = public_info(t);
  }
  *out.mutable_revoked_agents() = state_.revoked_agents();
  return out;
}

Result<v1::EnrollTokenInfo> Enrollment::revoke_token(const std::string& id) {
  std::lock_guard lock(mu_);
  auto next = state_;
  for (auto& t : *next.mutable_tokens()) {
    if (t.id() == id) {
      t.set_revoked(true);
      auto info = public_info(t);
      if (auto r = commit(std::move(next)); !r) {
        return std::unexpected(r.error());
      }
      return info;
    }
  }
  return make_error(ErrorCode::kNotFound,
                    fmt::format("no enroll token {} (vigilctl enroll list shows them)", id));
}

Result<v1::RevokedAgent> Enrollment::revoke_agent(const std::string& agent_id,
                                                  const std::string& reason, std::uint64_t now_ns) {
  if (agent_id.empty() || agent_id.size() > 128) {
    return make_error(ErrorCode::kInvalidArgument, "agent id must be 1..128 bytes");
  }
  if (reason.size() > kMaxReason) {
    return make_error(ErrorCode::kInvalidArgument, "reason longer than 1024 bytes");
  }
  std::lock_guard lock(mu_);
  for (const auto& r : state_.revoked_agents()) {
    if (r.agent_id() == agent_id) {
      return r;  // already revoked: the first record stands
    }
  }
  v1::RevokedAgent rec;
  rec.set_agent_id(agent_id);
  rec.set_revoked_ns(now_ns);
  rec.set_reason(reason);
  auto next = state_;
  *next.add_revoked_agents() = rec;
  if (auto r = commit(std::move(next)); !r) {
    return std::unexpected(r.error());
  }
  return rec;
}

Result<v1::EnrollResponse> Enrollment::issue(const std::string& csr_pem,
                                             const std::string& agent_id,
                                             std::uint64_t now_ns) const {
  auto cert = x509::issue(ca_->cert_pem, ca_->key_pem,
                          {.csr_pem = csr_pem,
                           .common_name = agent_id,
                           .now_s = static_cast<std::int64_t>(now_ns / 1'000'000'000ULL),
                           .lifetime_s = static_cast<std::int64_t>(lifetime_s_)});
  if (!cert) {
    return std::unexpected(cert.error());
  }
  auto info = x509::cert_info(*cert);
  if (!info) {
    return std::unexpected(info.error());
  }
  v1::EnrollResponse out;
  out.set_cert_pem(std::move(*cert));
  out.set_ca_chain_pem(ca_->cert_pem);
  out.set_not_after_s(static_cast<std::uint64_t>(info->not_after_s));
  return out;
}

Result<v1::EnrollResponse> Enrollment::enroll(const v1::EnrollRequest& req, std::uint64_t now_ns) {
  if (!ca_) {
    return make_error(ErrorCode::kUnsupported,
                      "this collector does not enroll agents (no enroll_ca_cert/enroll_ca_key)");
  }
  const auto id = token_id(req.token());
  const auto presented = hash_of(req.token());
  std::lock_guard lock(mu_);
  auto next = state_;
  v1::EnrollTokenInfo* token = nullptr;
  for (auto& t : *next.mutable_tokens()) {
    if (id && t.id() == *id && t.hash().size() == presented.size() &&
        sodium_memcmp(t.hash().data(), presented.data(), presented.size()) == 0) {
      token = &t;
    }
  }
  if (token == nullptr) {
    return make_error(ErrorCode::kPermission,
                      "unknown enroll token (check the token file; vigilctl enroll create makes "
                      "a new one)");
  }
  if (token->revoked()) {
    return make_error(ErrorCode::kPermission,
                      fmt::format("enroll token {} is revoked (vigilctl enroll create makes a new "
                                  "one)",
                                  token->id()));
  }
  if (now_ns >= token->expires_ns()) {
    return make_error(ErrorCode::kPermission,
                      fmt::format("enroll token {} expired (vigilctl enroll create --ttl makes a "
                                  "new one)",
                                  token->id()));
  }
  if (token->uses() >= token->max_uses()) {
    return make_error(ErrorCode::kPermission,
                      fmt::format("enroll token {} is used up ({} of {} uses; vigilctl enroll "
                                  "create --uses N makes a new one)",
                                  token->id(), token->uses(), token->max_uses()));
  }
  if (!x509::valid_agent_id(req.agent_id())) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("agent id '{}' cannot be enrolled: 1..64 characters of "
                                  "[A-Za-z0-9._-] (set --agent-id)",
                                  req.agent_id()));
  }
  if (revoked_locked(req.agent_id())) {
    return make_error(ErrorCode::kPermission, fmt::format("agent {} is revoked", req.agent_id()));
  }
  auto issued = issue(req.csr_pem(), req.agent_id(), now_ns);
  if (!issued) {
    return std::unexpected(issued.error());
  }
  token->set_uses(token->uses() + 1);
  token->add_agents(req.agent_id());
  if (static_cast<std::size_t>(token->agents_size()) > kAgentsKept) {
    token->mutable_agents()->DeleteSubrange(0, 1);
  }
  const auto token_name = token->id();
  if (auto r = commit(std::move(next)); !r) {
    return std::unexpected(r.error());  // the use is not spent, nothing is handed out
  }
  VLOG_INFO("agent '{}' enrolled with token {}; certificate valid until {}", req.agent_id(),
            token_name, issued->not_after_s());
  return issued;
}

Result<v1::EnrollResponse> Enrollment::renew(const std::string& peer_cn,
                                             const v1::RenewRequest& req, std::uint64_t now_ns) {
  if (!ca_) {
    return make_error(ErrorCode::kUnsupported,
                      "this collector does not issue certificates (no enroll_ca_cert/"
                      "enroll_ca_key)");
  }
  if (peer_cn.empty()) {
    return make_error(ErrorCode::kPermission,
                      "Renew needs the agent's current client certificate (mTLS)");
  }
  if (!x509::valid_agent_id(peer_cn)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("certificate CN '{}' is not an id this CA issues for", peer_cn));
  }
  auto csr = x509::verify_csr(req.csr_pem());
  if (!csr) {
    return std::unexpected(csr.error());
  }
  if (!csr->common_name.empty() && csr->common_name != peer_cn) {
    return make_error(ErrorCode::kPermission, fmt::format("certificate '{}' may not renew for '{}'",
                                                          peer_cn, csr->common_name));
  }
  if (auto r = admit(peer_cn); !r) {
    return std::unexpected(r.error());
  }
  auto issued = issue(req.csr_pem(), peer_cn, now_ns);
  if (issued) {
    VLOG_INFO("agent '{}' renewed its certificate; valid until {}", peer_cn, issued->not_after_s());
  }
  return issued;
}

grpc::ServerUnaryReactor* EnrollServiceImpl::Enroll(grpc::CallbackServerContext* ctx,
                                                    const v1::EnrollRequest* req,
                                                    v1::EnrollResponse* resp) {
  auto r = enrollment_.enroll(*req, unix_now_ns());
  if (!r) {
    VLOG_WARN("enrollment of '{}' refused: {}", req->agent_id(), r.error().message);
  }
  return finish_with(ctx, std::move(r), resp);
}

grpc::ServerUnaryReactor* EnrollServiceImpl::Renew(grpc::CallbackServerContext* ctx,
                                                   const v1::RenewRequest* req,
                                                   v1::EnrollResponse* resp) {
  const auto cn = peer_common_name(ctx);
  auto r = enrollment_.renew(cn, *req, unix_now_ns());
  if (!r) {
    VLOG_WARN("renewal for '{}' refused: {}", cn.empty() ? "?" : cn, r.error().message);
  }
  return finish_with(ctx, std::move(r), resp);
}

grpc::ServerUnaryReactor* EnrollAdminServiceImpl::CreateEnrollToken(
    grpc::CallbackServerContext* ctx, const v1::CreateEnrollTokenRequest* req,
    v1::CreateEnrollTokenResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  return finish_with(ctx, enrollment_.create_token(*req, unix_now_ns()), resp);
}

grpc::ServerUnaryReactor* EnrollAdminServiceImpl::ListEnrollTokens(
    grpc::CallbackServerContext* ctx, const v1::ListEnrollTokensRequest* /*req*/,
    v1::ListEnrollTokensResponse* resp) {
  // Operators only: the list names every agent each token enrolled.
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  *resp = enrollment_.list();
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* EnrollAdminServiceImpl::RevokeEnrollToken(
    grpc::CallbackServerContext* ctx, const v1::RevokeEnrollTokenRequest* req,
    v1::EnrollTokenInfo* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  return finish_with(ctx, enrollment_.revoke_token(req->id()), resp);
}

grpc::ServerUnaryReactor* EnrollAdminServiceImpl::RevokeAgent(grpc::CallbackServerContext* ctx,
                                                              const v1::RevokeAgentRequest* req,
                                                              v1::RevokeAgentResponse* resp) {
  if (auto allowed = auth_.check(ctx, Role::kOperator); !allowed.ok()) {
    return finish(ctx, allowed);
  }
  auto r = enrollment_.revoke_agent(req->agent_id(), req->reason(), unix_now_ns());
  if (!r) {
    return finish(ctx, to_status(r.error()));
  }
  VLOG_WARN("agent '{}' revoked{}", req->agent_id(),
            req->reason().empty() ? "" : ": " + req->reason());
  *resp->mutable_agent() = std::move(*r);
  if (disconnect_) {
    resp->set_disconnected(
        disconnect_(req->agent_id(), fmt::format("agent {} is revoked", req->agent_id())));
  }
  return finish(ctx, grpc::Status::OK);
}

}  // namespace vigil::collector
