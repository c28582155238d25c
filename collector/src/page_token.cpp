#include "vigil/collector/page_token.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <sodium.h>

namespace vigil::collector {
namespace {

constexpr std::size_t kFilterHashBytes = 16;
constexpr std::size_t kMaxTokenChars = 4096;  // a resume key is a storage key: small

// Deterministic bytes (map order fixed), so equal filters hash equal.
std::string filter_hash(const google::protobuf::Message& filters) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    filters.SerializeToCodedStream(&cos);
  }
  std::string hash(kFilterHashBytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(hash.data()), hash.size(),
                     reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), nullptr,
                     0);
  return hash;
}

Error refused(std::string_view why) {
  return Error{ErrorCode::kInvalidArgument, "page_token refused: " + std::string(why)};
}

}  // namespace

PageTokens::PageTokens(const std::array<unsigned char, kPageSecretBytes>& secret)
    : secret_(secret) {
  static_assert(kPageSecretBytes == crypto_auth_KEYBYTES);
  if (sodium_init() < 0) {
    throw std::runtime_error("libsodium failed to initialise");  // start-up only
  }
}

std::array<unsigned char, kPageSecretBytes> PageTokens::random_secret() {
  if (sodium_init() < 0) {
    throw std::runtime_error("libsodium failed to initialise");
  }
  std::array<unsigned char, kPageSecretBytes> s{};
  randombytes_buf(s.data(), s.size());
  return s;
}

std::string PageTokens::issue(PageKind kind, const google::protobuf::Message& filters,
                              std::string_view resume_key, std::uint64_t pinned_ns,
                              std::uint64_t since_ns) const {
  v1::PageToken t;
  t.set_kind(static_cast<std::uint32_t>(kind));
  t.set_resume_key(std::string(resume_key));
  t.set_filter_hash(filter_hash(filters));
  t.set_pinned_ns(pinned_ns);
  t.set_since_ns(since_ns);
  std::string raw = t.SerializeAsString();
  std::array<unsigned char, crypto_auth_BYTES> mac{};
  crypto_auth(mac.data(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
              secret_.data());
  raw.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  std::string out(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                    raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

Result<v1::PageToken> PageTokens::open(PageKind kind, const google::protobuf::Message& filters,
                                       std::string_view token) const {
  if (token.size() > kMaxTokenChars) {
    return std::unexpected(refused("too long"));
  }
  std::string raw(token.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), token.data(),
                        token.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      len < crypto_auth_BYTES) {
    return std::unexpected(refused("malformed"));
  }
  raw.resize(len);
  const std::size_t body = len - crypto_auth_BYTES;
  if (crypto_auth_verify(reinterpret_cast<const unsigned char*>(raw.data() + body),
                         reinterpret_cast<const unsigned char*>(raw.data()), body,
                         secret_.data()) != 0) {
    return std::unexpected(refused("not issued by this collector"));
  }
  v1::PageToken t;
  if (!t.ParseFromArray(raw.data(), static_cast<int>(body))) {
    return std::unexpected(refused("malformed"));
  }
  if (t.kind() != static_cast<std::uint32_t>(kind)) {
    return std::unexpected(refused("issued for another query"));
  }
  if (t.filter_hash() != filter_hash(filters)) {
    return std::unexpected(refused("issued for other filters; start again without a token"));
  }
  return t;
}

}  // namespace vigil::collector
