// Signed artefacts: the collector's ed25519 key (libsodium) and the check
// agents make before they accept anything the collector rolls out (scoring
// models, rule packs). docs/security.md, "Models and rule packs".
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "vigil/result.h"

namespace vigil {

class SigningKey {
 public:
  // Reads the hex ed25519 secret key at `path`, or creates one there (mode
  // 0600, O_EXCL) with its public key in `path.pub`.
  [[nodiscard]] static Result<SigningKey> load_or_create(const std::filesystem::path& path);
  // Reads an existing key (kNotFound if there is none): an offline release
  // key is never made by accident where one was expected.
  [[nodiscard]] static Result<SigningKey> load(const std::filesystem::path& path);
  // Makes a new key at `path` (mode 0600, O_EXCL: kIo if the file exists), its
  // public key in `path.pub`.
  [[nodiscard]] static Result<SigningKey> create(const std::filesystem::path& path);

  // A detached ed25519 signature (64 bytes) of `message`.
  [[nodiscard]] std::string sign(std::string_view message) const;
  [[nodiscard]] const std::string& public_key() const { return public_key_; }  // raw 32 bytes
  [[nodiscard]] std::string public_key_hex() const;
  [[nodiscard]] bool empty() const { return secret_key_.empty(); }
  // True when the last load_or_create made the key (the caller logs it).
  [[nodiscard]] bool created() const { return created_; }

 private:
  std::string secret_key_;  // raw 64 bytes
  std::string public_key_;
  bool created_ = false;
};

// OK when `signature` is an ed25519 signature of `message` by `pubkey_hex`
// (64 hex characters). kPermission for a missing key or a bad signature,
// kInvalidArgument for a malformed key.
[[nodiscard]] Result<void> verify_signature(std::string_view pubkey_hex, std::string_view message,
                                            std::string_view signature);

[[nodiscard]] std::string hex_of(std::string_view raw);
// Hex BLAKE2b-256 of `bytes` (artefact digests shown to operators).
[[nodiscard]] std::string digest_hex(std::string_view bytes);

}  // namespace vigil
