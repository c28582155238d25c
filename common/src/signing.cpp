#include "vigil/signing.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace vigil {
namespace {

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Result<void> init_sodium() {
  if (sodium_init() < 0) {
    return make_error(ErrorCode::kInternal, "libsodium failed to initialise");
  }
  return {};
}

}  // namespace

std::string hex_of(std::string_view raw) {
  std::string hex(raw.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes(raw), raw.size());
  hex.pop_back();
  return hex;
}

std::string digest_hex(std::string_view data) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(), bytes(data),
                     data.size(), nullptr, 0);
  return hex_of(out);
}

Result<SigningKey> SigningKey::load(const std::filesystem::path& path) {
  if (auto r = init_sodium(); !r) {
    return std::unexpected(r.error());
  }
  std::ifstream in(path);
  if (!in) {
    return make_error(ErrorCode::kNotFound, fmt::format("cannot read key {}", path.string()));
  }
  SigningKey key;
  std::string hex;
  in >> hex;
  std::string sk(crypto_sign_SECRETKEYBYTES, '\0');
  std::size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(sk.data()), sk.size(), hex.data(), hex.size(),
                     nullptr, &len, nullptr) != 0 ||
      len != crypto_sign_SECRETKEYBYTES) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: not a hex ed25519 secret key ({} hex characters)",
                                  path.string(), 2 * crypto_sign_SECRETKEYBYTES));
  }
  key.secret_key_ = std::move(sk);
  key.public_key_.assign(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_ed25519_sk_to_pk(reinterpret_cast<unsigned char*>(key.public_key_.data()),
                               bytes(key.secret_key_));
  return key;
}

Result<SigningKey> SigningKey::create(const std::filesystem::path& path) {
  if (auto r = init_sodium(); !r) {
    return std::unexpected(r.error());
  }
  SigningKey key;
  key.secret_key_.assign(crypto_sign_SECRETKEYBYTES, '\0');
  key.public_key_.assign(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(key.public_key_.data()),
                      reinterpret_cast<unsigned char*>(key.secret_key_.data()));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  const std::string hex = hex_of(key.secret_key_) + "\n";
  if (fd < 0 || ::write(fd, hex.data(), hex.size()) != static_cast<ssize_t>(hex.size())) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    return make_error(ErrorCode::kIo, fmt::format("cannot create signing key {}: {}", path.string(),
                                                  std::strerror(err)));
  }
  ::close(fd);
  std::ofstream(path.string() + ".pub") << key.public_key_hex() << '\n';
  key.created_ = true;
  return key;
}

Result<SigningKey> SigningKey::load_or_create(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return load(path);
  }
  return create(path);
}

std::string SigningKey::sign(std::string_view message) const {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr, bytes(message),
                       message.size(), bytes(secret_key_));
  return sig;
}

std::string SigningKey::public_key_hex() const { return hex_of(public_key_); }

Result<void> verify_signature(std::string_view pubkey_hex, std::string_view message,
                              std::string_view signature) {
  if (pubkey_hex.empty()) {
    return make_error(ErrorCode::kPermission, "no model_pubkey configured to verify it with");
  }
  if (auto r = init_sodium(); !r) {
    return r;
  }
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  std::size_t pk_len = 0;
  if (sodium_hex2bin(pk, sizeof(pk), pubkey_hex.data(), pubkey_hex.size(), nullptr, &pk_len,
                     nullptr) != 0 ||
      pk_len != crypto_sign_PUBLICKEYBYTES) {
    return make_error(ErrorCode::kInvalidArgument, "model_pubkey is not a hex ed25519 key");
  }
  if (signature.size() != crypto_sign_BYTES ||
      crypto_sign_verify_detached(bytes(signature), bytes(message), message.size(), pk) != 0) {
    return make_error(ErrorCode::kPermission, "bad signature");
  }
  return {};
}

}  // namespace vigil
