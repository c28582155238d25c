#include "vigil/x509.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <memory>

namespace vigil::x509 {
namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Req = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using Name = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using Asn1Int = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;

// Requests may be backdated by this much at most, for agents' clocks behind ours.
constexpr std::int64_t kMaxBackdateS = 300;

// `what` and OpenSSL's most recent reason, its error queue emptied.
std::unexpected<Error> ssl_error(ErrorCode code, std::string_view what) {
  std::string detail;
  if (const unsigned long e = ERR_peek_last_error(); e != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    detail = fmt::format(" ({})", buf.data());
  }
  ERR_clear_error();
  return make_error(code, fmt::format("{}{}", what, detail));
}

Bio mem_bio(std::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

Result<Cert> read_cert(std::string_view pem) {
  auto bio = mem_bio(pem);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return ssl_error(ErrorCode::kInvalidArgument, "not a PEM certificate");
  }
  return cert;
}

Result<Pkey> read_key(std::string_view pem) {
  auto bio = mem_bio(pem);
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return ssl_error(ErrorCode::kInvalidArgument, "not a PEM private key");
  }
  return key;
}

Result<Req> read_verified_csr(std::string_view pem) {
  auto bio = mem_bio(pem);
  Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) {
    return ssl_error(ErrorCode::kInvalidArgument, "not a PEM certificate request (CSR)");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) {
    return ssl_error(ErrorCode::kInvalidArgument, "the CSR holds no usable public key");
  }
  if (X509_REQ_verify(req.get(), key) != 1) {
    return ssl_error(ErrorCode::kInvalidArgument,
                     "the CSR's signature does not verify with its own public key");
  }
  // 112 bits: RSA 2048, EC P-224 and up.
  if (EVP_PKEY_get_security_bits(key) < 112) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("the CSR's key is too weak ({} security bits; use EC P-256)",
                                  EVP_PKEY_get_security_bits(key)));
  }
  return req;
}

std::string common_name_of(const X509_NAME* name) {
  const int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) {
    return {};
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) {
    return {};
  }
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::int64_t unix_of(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    return 0;
  }
  return static_cast<std::int64_t>(timegm(&tm));
}

// An extension from OpenSSL's config syntax, with `issuer` and `subject` for
// the key identifiers.
Result<void> add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return ssl_error(ErrorCode::kInternal, fmt::format("certificate extension '{}'", value));
  }
  return {};
}

const EVP_MD* digest_for(EVP_PKEY* key) {
  // EdDSA signs the message itself: no separate digest.
  if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) {
    return nullptr;
  }
  return EVP_sha256();
}

}  // namespace

bool valid_agent_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::ranges::all_of(id, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Result<std::string> generate_key() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    return ssl_error(ErrorCode::kInternal, "EC P-256 key generation failed");
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (!out ||
      PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return ssl_error(ErrorCode::kInternal, "writing the key as PEM");
  }
  return drain(out.get());
}

Result<std::string> make_csr(std::string_view key_pem, std::string_view common_name) {
  auto key = read_key(key_pem);
  if (!key) {
    return std::unexpected(key.error());
  }
  Req req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key->get()) != 1 ||
      X509_REQ_sign(req.get(), key->get(), digest_for(key->get())) <= 0) {
    return ssl_error(ErrorCode::kInternal, "making the CSR");
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) {
    return ssl_error(ErrorCode::kInternal, "writing the CSR as PEM");
  }
  return drain(out.get());
}

Result<CsrInfo> verify_csr(std::string_view csr_pem) {
  auto req = read_verified_csr(csr_pem);
  if (!req) {
    return std::unexpected(req.error());
  }
  return CsrInfo{.common_name = common_name_of(X509_REQ_get_subject_name(req->get()))};
}

Result<CertInfo> cert_info(std::string_view cert_pem) {
  auto cert = read_cert(cert_pem);
  if (!cert) {
    return std::unexpected(cert.error());
  }
  X509* x = cert->get();
  CertInfo info;
  info.common_name = common_name_of(X509_get_subject_name(x));
  Bn serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr));
  if (serial) {
    char* hex = BN_bn2hex(serial.get());
    info.serial_hex = hex;
    OPENSSL_free(hex);
  }
  info.not_before_s = unix_of(X509_get0_notBefore(x));
  info.not_after_s = unix_of(X509_get0_notAfter(x));
  // UINT32_MAX: no extendedKeyUsage extension at all.
  const std::uint32_t xku = X509_get_extended_key_usage(x);
  info.client_auth = xku != UINT32_MAX && (xku & XKU_SSL_CLIENT) != 0;
  info.is_ca = X509_check_ca(x) == 1;
  return info;
}

bool key_matches(std::string_view cert_pem, std::string_view key_pem) {
  auto cert = read_cert(cert_pem);
  auto key = read_key(key_pem);
  const bool ok = cert && key && X509_check_private_key(cert->get(), key->get()) == 1;
  ERR_clear_error();
  return ok;
}

Result<void> check_issuer(std::string_view ca_cert_pem, std::string_view ca_key_pem) {
  auto ca = read_cert(ca_cert_pem);
  if (!ca) {
    return std::unexpected(ca.error());
  }
  auto key = read_key(ca_key_pem);
  if (!key) {
    return std::unexpected(key.error());
  }
  if (X509_check_private_key(ca->get(), key->get()) != 1) {
    return ssl_error(ErrorCode::kInvalidArgument,
                     "the issuing CA's key does not belong to its certificate");
  }
  if (X509_check_ca(ca->get()) != 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the issuing CA's certificate is not a CA (basicConstraints CA:TRUE)");
  }
  const std::uint32_t ku = X509_get_key_usage(ca->get());
  if (ku != UINT32_MAX && (ku & KU_KEY_CERT_SIGN) == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the issuing CA's certificate may not sign certificates (keyUsage lacks "
                      "keyCertSign)");
  }
  return {};
}

Result<std::string> issue(std::string_view ca_cert_pem, std::string_view ca_key_pem,
                          const IssueRequest& req) {
  if (!valid_agent_id(req.common_name)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' is not a valid agent id ([A-Za-z0-9._-], 1..64 characters)",
                                  req.common_name));
  }
  if (req.lifetime_s <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "certificate lifetime must be positive");
  }
  auto csr = read_verified_csr(req.csr_pem);
  if (!csr) {
    return std::unexpected(csr.error());
  }
  auto ca = read_cert(ca_cert_pem);
  if (!ca) {
    return std::unexpected(ca.error());
  }
  auto ca_key = read_key(ca_key_pem);
  if (!ca_key) {
    return std::unexpected(ca_key.error());
  }

  Cert cert(X509_new());
  X509* x = cert.get();
  // 159 random bits: positive, unique, unpredictable (CA/B forum asks >= 64).
  std::array<unsigned char, 20> serial_bytes{};
  if (RAND_bytes(serial_bytes.data(), serial_bytes.size()) != 1) {
    return ssl_error(ErrorCode::kInternal, "random serial");
  }
  serial_bytes[0] &= 0x7f;
  serial_bytes[0] |= 0x01;
  Bn serial(BN_bin2bn(serial_bytes.data(), serial_bytes.size(), nullptr));
  Asn1Int serial_asn1(serial ? BN_to_ASN1_INTEGER(serial.get(), nullptr) : nullptr);

  const std::int64_t backdate = std::min(kMaxBackdateS, req.lifetime_s / 10);
  const std::int64_t not_after =
      std::min(req.now_s + req.lifetime_s, unix_of(X509_get0_notAfter(ca->get())));
  Name subject(X509_NAME_new());
  if (!serial_asn1 || !subject || X509_set_version(x, X509_VERSION_3) != 1 ||
      X509_set_serialNumber(x, serial_asn1.get()) != 1 ||
      X509_NAME_add_entry_by_NID(subject.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(req.common_name.data()),
                                 static_cast<int>(req.common_name.size()), -1, 0) != 1 ||
      X509_set_subject_name(x, subject.get()) != 1 ||
      X509_set_issuer_name(x, X509_get_subject_name(ca->get())) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(req.now_s - backdate)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(not_after)) == nullptr ||
      X509_set_pubkey(x, X509_REQ_get0_pubkey(csr->get())) != 1) {
    return ssl_error(ErrorCode::kInternal, "building the certificate");
  }
  if (not_after <= req.now_s) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the issuing CA's certificate has expired: renew it (make-certs.sh "
                      "--issuing-ca)");
  }
  for (const auto& [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
        std::pair{NID_key_usage, "critical,digitalSignature"},
        std::pair{NID_ext_key_usage, "clientAuth"}, std::pair{NID_subject_key_identifier, "hash"},
        std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    if (auto r = add_ext(x, ca->get(), nid, value); !r) {
      return std::unexpected(r.error());
    }
  }
  if (X509_sign(x, ca_key->get(), digest_for(ca_key->get())) <= 0) {
    return ssl_error(ErrorCode::kInternal, "signing the certificate");
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509(out.get(), x) != 1) {
    return ssl_error(ErrorCode::kInternal, "writing the certificate as PEM");
  }
  return drain(out.get());
}

}  // namespace vigil::x509
