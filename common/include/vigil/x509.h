// X.509 for enrollment (docs/security.md, "Enrollment"), over OpenSSL 3: the
// agent makes its key and a certificate request on its own host; the
// collector's issuing CA checks the request and signs a short-lived client
// certificate for it. Everything travels as PEM text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vigil/result.h"

namespace vigil::x509 {

// An agent id that may become a certificate's CN: [A-Za-z0-9._-]{1,64}.
[[nodiscard]] bool valid_agent_id(std::string_view id);

// A new EC P-256 private key (PKCS#8 PEM).
[[nodiscard]] Result<std::string> generate_key();

// A PKCS#10 request for `common_name`, signed by `key_pem`.
[[nodiscard]] Result<std::string> make_csr(std::string_view key_pem, std::string_view common_name);

// What a request claims, once its self-signature verified.
struct CsrInfo {
  std::string common_name;  // empty when the subject has none
};
[[nodiscard]] Result<CsrInfo> verify_csr(std::string_view csr_pem);

struct CertInfo {
  std::string common_name;
  std::string serial_hex;
  std::int64_t not_before_s = 0;  // unix seconds
  std::int64_t not_after_s = 0;
  bool client_auth = false;  // extendedKeyUsage names clientAuth
  bool is_ca = false;
};
// The first certificate of `cert_pem`.
[[nodiscard]] Result<CertInfo> cert_info(std::string_view cert_pem);

// True when `key_pem` is the private half of the first certificate in `cert_pem`.
[[nodiscard]] bool key_matches(std::string_view cert_pem, std::string_view key_pem);

// An issuing CA: its certificate (the first of `cert_pem`, which may go on
// with the chain up to the root) and its private key.
struct IssueRequest {
  std::string_view csr_pem;
  std::string_view common_name;  // forced: whatever the request's subject says
  std::int64_t now_s = 0;
  std::int64_t lifetime_s = 0;
};
// A client certificate for the request's public key: subject CN=common_name,
// basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
// clientAuth, a random serial, valid from a little before now_s (clock skew)
// for lifetime_s but never past the CA's own notAfter. No extension of the
// request is copied. Fails if the request's signature does not verify.
[[nodiscard]] Result<std::string> issue(std::string_view ca_cert_pem, std::string_view ca_key_pem,
                                        const IssueRequest& req);

// Checks that `ca_key_pem` belongs to `ca_cert_pem` and that it may sign
// certificates (basicConstraints CA:TRUE, keyCertSign if keyUsage is present).
[[nodiscard]] Result<void> check_issuer(std::string_view ca_cert_pem, std::string_view ca_key_pem);

}  // namespace vigil::x509
