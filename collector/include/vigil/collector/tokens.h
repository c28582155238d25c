// API tokens with roles, loaded from a file (never from the command line, so
// they do not show in `ps`). Compared in constant time: each presented token is
// hashed (BLAKE2b) and compared with every stored hash by sodium_memcmp, with no
// early exit, so timing tells neither which token nor how much of it matched.
//
// File format, one token per line; '#' starts a comment:
//   viewer   <token>      # reports, alerts, events, the web view
//   operator <token>      # also feedback, model rollout and rollback
// A line with only a token is a viewer token. Tokens are at least 16 characters.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "vigil/result.h"

namespace vigil::collector {

enum class Role { kViewer, kOperator };

class TokenStore {
 public:
  [[nodiscard]] static Result<TokenStore> load(const std::filesystem::path& path);
  [[nodiscard]] static Result<TokenStore> parse(std::string_view text);
  // The role of `token`, if it is one of ours.
  [[nodiscard]] std::optional<Role> check(std::string_view token) const;
  // The role of an "Authorization: Bearer <token>" header value.
  [[nodiscard]] std::optional<Role> check_bearer(std::string_view header) const;
  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> hash;
    Role role;
  };
  std::vector<Entry> entries_;
};

}  // namespace vigil::collector
