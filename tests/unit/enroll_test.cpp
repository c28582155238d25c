// Enrollment: the issuing CA signing CSRs (CN forced, clientAuth, short
// validity, nothing copied from the request, bad signatures refused), enroll
// tokens (uses, expiry, revocation, only hashes stored), revoked agents, and
// the agent's check of what it keeps in STATE_DIR/tls.
#include "vigil/agent/enroll.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>

#include "util/test_util.h"
#include "vigil/collector/enroll.h"
#include "vigil/collector/store.h"
#include "vigil/x509.h"

namespace vigil {
namespace {

constexpr std::uint64_t kNs = 1'000'000'000ULL;
constexpr std::int64_t kNow = 1'750'000'000;  // 2025-06-15

// A self-signed CA (the issuing CA of these tests), made with the OpenSSL API.
collector::IssuingCa make_ca() {
  auto key_pem = x509::generate_key();
  EXPECT_TRUE(key_pem.has_value());
  BIO* kb = BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  X509* ca = X509_new();
  X509_set_version(ca, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(ca), 1);
  X509_NAME* name = X509_get_subject_name(ca);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test issuing CA"), -1, -1, 0);
  X509_set_issuer_name(ca, name);
  ASN1_TIME_set(X509_getm_notBefore(ca), kNow - 86400);
  ASN1_TIME_set(X509_getm_notAfter(ca), kNow + 3650 * 86400LL);
  X509_set_pubkey(ca, key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca, ca, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(ca, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(ca, key, EVP_sha256());
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(out, ca);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  collector::IssuingCa result{.cert_pem = std::string(data, n), .key_pem = *key_pem};
  BIO_free(out);
  X509_free(ca);
  EVP_PKEY_free(key);
  return result;
}

const collector::IssuingCa& test_ca() {
  static const collector::IssuingCa ca = make_ca();
  return ca;
}

std::unique_ptr<X509, decltype(&X509_free)> parse(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  return {x, X509_free};
}

// A CSR for "someone-else" asking to be a CA with a SAN; `tamper` changes the
// subject after signing, so the signature no longer covers it.
std::string hostile_csr(const std::string& key_pem, bool tamper) {
  BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  X509_REQ* req = X509_REQ_new();
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("someone-else"), -1, -1, 0);
  X509_REQ_set_pubkey(req, key);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts,
                         X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "CA:TRUE"));
  sk_X509_EXTENSION_push(
      exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "DNS:collector.evil"));
  sk_X509_EXTENSION_push(exts,
                         X509V3_EXT_conf_nid(nullptr, nullptr, NID_ext_key_usage, "serverAuth"));
  X509_REQ_add_extensions(req, exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_sign(req, key, EVP_sha256());
  if (tamper) {
    X509_NAME* other = X509_NAME_new();
    X509_NAME_add_entry_by_txt(other, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("tampered"), -1, -1, 0);
    X509_REQ_set_subject_name(req, other);
    X509_NAME_free(other);
  }
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(out, req);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string pem(data, n);
  BIO_free(out);
  X509_REQ_free(req);
  EVP_PKEY_free(key);
  return pem;
}

TEST(X509, AgentIdCharset) {
  EXPECT_TRUE(x509::valid_agent_id("web-1.prod_eu"));
  EXPECT_TRUE(x509::valid_agent_id(std::string(64, 'a')));
  EXPECT_FALSE(x509::valid_agent_id(""));
  EXPECT_FALSE(x509::valid_agent_id(std::string(65, 'a')));
  for (const char* bad : {"a b", "a/b", "a:b", "CN=x,O=y", "\xc3\xa9", "a\nb", "*"}) {
    EXPECT_FALSE(x509::valid_agent_id(bad)) << bad;
  }
}

TEST(X509, IssuedCertificateHasTheAgentIdClientAuthAndShortValidity) {
  auto key = x509::generate_key();
  ASSERT_OK(key);
  auto csr = x509::make_csr(*key, "whatever-the-agent-says");
  ASSERT_OK(csr);
  auto cert =
      x509::issue(test_ca().cert_pem, test_ca().key_pem,
                  {.csr_pem = *csr, .common_name = "web-1", .now_s = kNow, .lifetime_s = 3600});
  ASSERT_OK(cert);
  auto info = x509::cert_info(*cert);
  ASSERT_OK(info);
  EXPECT_EQ(info->common_name, "web-1");
  EXPECT_TRUE(info->client_auth);
  EXPECT_FALSE(info->is_ca);
  EXPECT_EQ(info->not_after_s, kNow + 3600);
  EXPECT_LE(info->not_before_s, kNow);
  EXPECT_GE(info->not_before_s, kNow - 360);  // a tenth of the lifetime, for clock skew
  EXPECT_TRUE(x509::key_matches(*cert, *key));
  // Two certificates never share a serial.
  auto again =
      x509::issue(test_ca().cert_pem, test_ca().key_pem,
                  {.csr_pem = *csr, .common_name = "web-1", .now_s = kNow, .lifetime_s = 3600});
  ASSERT_OK(again);
  EXPECT_NE(x509::cert_info(*again)->serial_hex, info->serial_hex);
  // It verifies against the CA.
  auto x = parse(*cert);
  auto ca = parse(test_ca().cert_pem);
  EXPECT_EQ(X509_verify(x.get(), X509_get0_pubkey(ca.get())), 1);
  // Never past the CA's own end.
  auto capped = x509::issue(
      test_ca().cert_pem, test_ca().key_pem,
      {.csr_pem = *csr, .common_name = "web-1", .now_s = kNow, .lifetime_s = 100 * 365 * 86400LL});
  ASSERT_OK(capped);
  EXPECT_EQ(x509::cert_info(*capped)->not_after_s, kNow + 3650 * 86400LL);
}

TEST(X509, NothingIsCopiedFromTheRequest) {
  auto key = x509::generate_key();
  ASSERT_OK(key);
  auto cert = x509::issue(test_ca().cert_pem, test_ca().key_pem,
                          {.csr_pem = hostile_csr(*key, false),
                           .common_name = "web-1",
                           .now_s = kNow,
                           .lifetime_s = 3600});
  ASSERT_OK(cert);
  auto x = parse(*cert);
  EXPECT_EQ(X509_check_ca(x.get()), 0);
  EXPECT_LT(X509_get_ext_by_NID(x.get(), NID_subject_alt_name, -1), 0);
  const std::uint32_t xku = X509_get_extended_key_usage(x.get());
  EXPECT_EQ(xku & XKU_SSL_SERVER, 0U);
  EXPECT_NE(xku & XKU_SSL_CLIENT, 0U);
  EXPECT_EQ(x509::cert_info(*cert)->common_name, "web-1");
}

TEST(X509, ARequestWhoseSignatureDoesNotVerifyIsRefused) {
  auto key = x509::generate_key();
  ASSERT_OK(key);
  const auto tampered = hostile_csr(*key, true);
  auto r =
      x509::issue(test_ca().cert_pem, test_ca().key_pem,
                  {.csr_pem = tampered, .common_name = "web-1", .now_s = kNow, .lifetime_s = 3600});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("signature does not verify"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE(x509::verify_csr(tampered).has_value());
  EXPECT_FALSE(x509::verify_csr("not a csr").has_value());
  // A bad agent id is refused before anything is signed.
  auto csr = x509::make_csr(*key, "x");
  EXPECT_FALSE(
      x509::issue(test_ca().cert_pem, test_ca().key_pem,
                  {.csr_pem = *csr, .common_name = "a b", .now_s = kNow, .lifetime_s = 3600})
          .has_value());
}

TEST(X509, OnlyACaWithItsKeyIssues) {
  EXPECT_OK(x509::check_issuer(test_ca().cert_pem, test_ca().key_pem));
  auto other = x509::generate_key();
  EXPECT_FALSE(x509::check_issuer(test_ca().cert_pem, *other).has_value());
  // A leaf (CA:FALSE) with its own key is no issuer.
  auto key = x509::generate_key();
  auto leaf = x509::issue(
      test_ca().cert_pem, test_ca().key_pem,
      {.csr_pem = *x509::make_csr(*key, "a"), .common_name = "a", .now_s = kNow, .lifetime_s = 60});
  ASSERT_OK(leaf);
  auto r = x509::check_issuer(*leaf, *key);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("not a CA"), std::string::npos) << r.error().message;
}

class EnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = collector::Store::open(dir_.path() / "db", {.sync = false});
    ASSERT_OK(store);
    store_ = std::move(*store);
    reopen();
  }
  void reopen() {
    enrollment_.reset();
    auto e = collector::Enrollment::open(*store_, test_ca(), 600);
    ASSERT_OK(e);
    enrollment_ = std::move(*e);
  }
  v1::CreateEnrollTokenResponse create(std::uint32_t uses, std::uint64_t ttl_s) {
    v1::CreateEnrollTokenRequest req;
    req.set_max_uses(uses);
    req.set_ttl_s(ttl_s);
    req.set_note("test");
    auto r = enrollment_->create_token(req, kNow * kNs);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return *r;
  }
  Result<v1::EnrollResponse> enroll(const std::string& token, const std::string& id,
                                    std::int64_t at_s = kNow) {
    auto key = x509::generate_key();
    v1::EnrollRequest req;
    req.set_token(token);
    req.set_agent_id(id);
    req.set_csr_pem(*x509::make_csr(*key, id));
    return enrollment_->enroll(req, static_cast<std::uint64_t>(at_s) * kNs);
  }
  static std::string error_of(const auto& r) { return r ? std::string() : r.error().message; }

  test::TempDir dir_;
  std::unique_ptr<collector::Store> store_;
  std::unique_ptr<collector::Enrollment> enrollment_;
};

TEST_F(EnrollmentTest, ATokenEnrollsUpToItsUsesThenIsUsedUp) {
  const auto t = create(2, 3600);
  EXPECT_EQ(t.info().max_uses(), 2U);
  EXPECT_TRUE(t.info().hash().empty());  // never handed out
  auto first = enroll(t.token(), "web-1");
  ASSERT_OK(first);
  EXPECT_EQ(x509::cert_info(first->cert_pem())->common_name, "web-1");
  EXPECT_EQ(first->ca_chain_pem(), test_ca().cert_pem);
  EXPECT_EQ(first->not_after_s(), static_cast<std::uint64_t>(kNow + 600));
  ASSERT_OK(enroll(t.token(), "web-2"));
  auto third = enroll(t.token(), "web-3");
  EXPECT_NE(error_of(third).find("is used up (2 of 2 uses"), std::string::npos) << error_of(third);
  const auto list = enrollment_->list();
  ASSERT_EQ(list.tokens_size(), 1);
  EXPECT_EQ(list.tokens(0).uses(), 2U);
  EXPECT_EQ(list.tokens(0).agents_size(), 2);
}

TEST_F(EnrollmentTest, ExpiredRevokedUnknownAndMalformedTokensAreRefused) {
  const auto t = create(10, 60);
  EXPECT_NE(error_of(enroll(t.token(), "a", kNow + 61)).find("expired"), std::string::npos);
  ASSERT_OK(enroll(t.token(), "a", kNow + 59));
  // The right id with the wrong secret, another shape, nothing.
  auto wrong = t.token();
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  for (const auto& bad : {wrong, std::string("vigil-enroll.x.y"), std::string()}) {
    EXPECT_NE(error_of(enroll(bad, "a")).find("unknown enroll token"), std::string::npos) << bad;
  }
  ASSERT_OK(enrollment_->revoke_token(t.info().id()));
  EXPECT_NE(error_of(enroll(t.token(), "a")).find("is revoked"), std::string::npos);
  EXPECT_FALSE(enrollment_->revoke_token("nope").has_value());
}

TEST_F(EnrollmentTest, OnlyHashesAreStoredAndStateSurvivesARestart) {
  const auto t = create(3, 3600);
  ASSERT_OK(enroll(t.token(), "a"));
  ASSERT_OK(enrollment_->revoke_agent("b", "lost laptop", kNow * kNs));
  auto raw = store_->get_meta("enroll/state");
  ASSERT_OK(raw);
  ASSERT_TRUE(raw->has_value());
  const auto secret = t.token().substr(t.token().rfind('.') + 1);
  EXPECT_EQ((*raw)->find(secret), std::string::npos);
  EXPECT_EQ((*raw)->find(t.token()), std::string::npos);

  reopen();
  const auto list = enrollment_->list();
  ASSERT_EQ(list.tokens_size(), 1);
  EXPECT_EQ(list.tokens(0).uses(), 1U);
  ASSERT_EQ(list.revoked_agents_size(), 1);
  EXPECT_EQ(list.revoked_agents(0).reason(), "lost laptop");
  ASSERT_OK(enroll(t.token(), "c"));  // the token still works after the restart
  EXPECT_FALSE(enrollment_->admit("b").has_value());
}

TEST_F(EnrollmentTest, ARevokedAgentIsRefusedEverywhere) {
  const auto t = create(5, 3600);
  auto first = enroll(t.token(), "web-1");
  ASSERT_OK(first);
  EXPECT_OK(enrollment_->admit("web-1"));
  ASSERT_OK(enrollment_->revoke_agent("web-1", "", kNow * kNs));
  auto admitted = enrollment_->admit("web-1");
  ASSERT_FALSE(admitted.has_value());
  EXPECT_EQ(admitted.error().message, "agent web-1 is revoked");
  EXPECT_EQ(admitted.error().code, ErrorCode::kPermission);
  EXPECT_EQ(error_of(enroll(t.token(), "web-1")), "agent web-1 is revoked");
  v1::RenewRequest renew;
  renew.set_csr_pem(*x509::make_csr(*x509::generate_key(), "web-1"));
  EXPECT_EQ(error_of(enrollment_->renew("web-1", renew, kNow * kNs)), "agent web-1 is revoked");
  // The refused enrollment spent no use.
  EXPECT_EQ(enrollment_->list().tokens(0).uses(), 1U);
}

TEST_F(EnrollmentTest, RenewKeepsTheCallersIdentity) {
  v1::RenewRequest req;
  req.set_csr_pem(*x509::make_csr(*x509::generate_key(), "web-1"));
  auto renewed = enrollment_->renew("web-1", req, kNow * kNs);
  ASSERT_OK(renewed);
  EXPECT_EQ(x509::cert_info(renewed->cert_pem())->common_name, "web-1");
  EXPECT_NE(error_of(enrollment_->renew("", req, kNow * kNs)).find("client certificate"),
            std::string::npos);
  EXPECT_NE(error_of(enrollment_->renew("web-2", req, kNow * kNs)).find("may not renew"),
            std::string::npos);
}

TEST_F(EnrollmentTest, BadAgentIdsAndCsrsAreRefusedWithoutSpendingAUse) {
  const auto t = create(1, 3600);
  EXPECT_NE(error_of(enroll(t.token(), "a b")).find("cannot be enrolled"), std::string::npos);
  v1::EnrollRequest req;
  req.set_token(t.token());
  req.set_agent_id("ok");
  req.set_csr_pem(hostile_csr(*x509::generate_key(), true));
  EXPECT_NE(error_of(enrollment_->enroll(req, kNow * kNs)).find("signature"), std::string::npos);
  ASSERT_OK(enroll(t.token(), "ok"));
}

TEST_F(EnrollmentTest, WithoutAnIssuingCaNoTokensAreMade) {
  auto e = collector::Enrollment::open(*store_, std::nullopt, 600);
  ASSERT_OK(e);
  EXPECT_FALSE((*e)->create_token({}, kNow * kNs).has_value());
  EXPECT_OK((*e)->revoke_agent("x", "", kNow * kNs));  // revocation needs no CA
}

TEST(AgentEnroll, KeepsOnlyAValidCertificateForItsIdAndKey) {
  test::TempDir dir;
  const auto tls = dir.path() / "tls";
  std::filesystem::create_directories(tls);
  EXPECT_FALSE(agent::load_enrolled(tls, "web-1", kNow).has_value());  // nothing yet
  auto key = x509::generate_key();
  auto cert = x509::issue(test_ca().cert_pem, test_ca().key_pem,
                          {.csr_pem = *x509::make_csr(*key, "web-1"),
                           .common_name = "web-1",
                           .now_s = kNow,
                           .lifetime_s = 900});
  ASSERT_OK(cert);
  std::ofstream(tls / "agent.key") << *key;
  std::ofstream(tls / "agent.crt") << *cert;
  std::ofstream(tls / "ca-chain.pem") << test_ca().cert_pem;
  auto ok = agent::load_enrolled(tls, "web-1", kNow);
  ASSERT_OK(ok);
  EXPECT_EQ(ok->cert_chain_pem, *cert + test_ca().cert_pem);
  // Renewal at 2/3 of the validity (notBefore is backdated by a tenth).
  EXPECT_EQ(agent::renew_at(ok->info), kNow - 90 + (990 * 2 / 3));
  EXPECT_FALSE(agent::load_enrolled(tls, "web-2", kNow).has_value());
  EXPECT_FALSE(agent::load_enrolled(tls, "web-1", kNow + 900).has_value());
  std::ofstream(tls / "agent.key") << *x509::generate_key();
  auto mismatch = agent::load_enrolled(tls, "web-1", kNow);
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_NE(mismatch.error().message.find("does not match its key"), std::string::npos);
}

}  // namespace
}  // namespace vigil
