// Enrollment, the agent's side (docs/security.md, "Enrollment"): with an
// enroll token and no valid client certificate in STATE_DIR/tls, the agent
// makes an EC P-256 key on this host (never sent anywhere), sends a CSR for
// its agent id to the collector's EnrollService over server-authenticated
// TLS, and keeps the certificate it gets back. A CertRenewer then renews it
// with a fresh key once 2/3 of its validity has passed, and hands the new one
// to the shipper, which reconnects with it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "vigil/result.h"
#include "vigil/x509.h"

namespace vigil::agent {

struct EnrollSettings {
  std::string collector;  // HOST:PORT (the agents' port)
  std::string ca_pem;     // verifies the collector's certificate
  std::filesystem::path token_file;
  std::filesystem::path tls_dir;  // STATE_DIR/tls: agent.key, agent.crt, ca-chain.pem
  std::string agent_id;
  std::chrono::seconds rpc_timeout{30};
};

struct ClientCertificate {
  std::string cert_chain_pem;  // the agent's certificate, then the issuing chain
  std::string key_pem;
  x509::CertInfo info;
};

// The certificate in tls_dir when it is for `agent_id`, unexpired and matches
// its key; otherwise a new one from the collector with the token file's token.
// Errors say what to do (a used-up or expired token, a revoked agent id).
[[nodiscard]] Result<ClientCertificate> ensure_enrolled(const EnrollSettings& settings);

// The certificate in tls_dir if it is usable for `agent_id` at `now_s`; the
// error says why not.
[[nodiscard]] Result<ClientCertificate> load_enrolled(const std::filesystem::path& tls_dir,
                                                      const std::string& agent_id,
                                                      std::int64_t now_s);

// When to renew: 2/3 of the way from notBefore to notAfter.
[[nodiscard]] std::int64_t renew_at(const x509::CertInfo& info);

class CertRenewer {
 public:
  using Handler = std::function<void(const ClientCertificate&)>;
  CertRenewer(EnrollSettings settings, ClientCertificate current, Handler on_renewed);
  ~CertRenewer();
  CertRenewer(const CertRenewer&) = delete;
  CertRenewer& operator=(const CertRenewer&) = delete;

  void start();
  void stop();
  [[nodiscard]] std::uint64_t renewals() const;

 private:
  void run();
  Result<ClientCertificate> renew_once(const ClientCertificate& current);

  EnrollSettings settings_;
  ClientCertificate current_;
  Handler on_renewed_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::uint64_t renewals_ = 0;
  std::thread thread_;
};

}  // namespace vigil::agent
