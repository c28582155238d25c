#include "vigil/collector/tokens.h"

#include <fmt/format.h>
#include <sodium.h>

#include <fstream>
#include <sstream>

namespace vigil::collector {
namespace {

constexpr std::size_t kMinTokenLength = 16;

std::array<unsigned char, 32> hash_of(std::string_view token) {
  std::array<unsigned char, 32> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return out;
}

}  // namespace

Result<TokenStore> TokenStore::parse(std::string_view text) {
  if (sodium_init() < 0) {
    return make_error(ErrorCode::kInternal, "libsodium failed to initialise");
  }
  TokenStore store;
  std::istringstream in{std::string(text)};
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (const auto hash = line.find('#'); hash != std::string::npos) {
      line.resize(hash);
    }
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string s; words >> s;) {
      w.push_back(std::move(s));
    }
    if (w.empty()) {
      continue;
    }
    Role role = Role::kViewer;
    std::string token;
    if (w.size() == 1) {
      token = w[0];
    } else if (w.size() == 2 && (w[0] == "viewer" || w[0] == "operator")) {
      role = w[0] == "operator" ? Role::kOperator : Role::kViewer;
      token = w[1];
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("token file line {}: expected 'viewer TOKEN' or "
                                    "'operator TOKEN'",
                                    line_no));
    }
    if (token.size() < kMinTokenLength) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("token file line {}: token shorter than {} characters", line_no,
                                    kMinTokenLength));
    }
    store.entries_.push_back({hash_of(token), role});
    sodium_memzero(token.data(), token.size());
  }
  if (store.entries_.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "token file holds no token");
  }
  return store;
}

Result<TokenStore> TokenStore::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("cannot read token file {}", path.string()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  auto store = parse(text);
  sodium_memzero(text.data(), text.size());
  if (!store) {
    return make_error(store.error().code,
                      fmt::format("{}: {}", path.string(), store.error().message));
  }
  return store;
}

std::optional<Role> TokenStore::check(std::string_view token) const {
  const auto presented = hash_of(token);
  std::optional<Role> found;
  for (const auto& e : entries_) {  // no early exit: the same work for every token
    if (sodium_memcmp(presented.data(), e.hash.data(), e.hash.size()) == 0) {
      found = e.role;
    }
  }
  return found;
}

std::optional<Role> TokenStore::check_bearer(std::string_view header) const {
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() <= kScheme.size() || header.substr(0, kScheme.size()) != kScheme) {
    return std::nullopt;
  }
  return check(header.substr(kScheme.size()));
}

}  // namespace vigil::collector
