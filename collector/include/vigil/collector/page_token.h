// Page tokens: opaque to clients, bound to the filters they were issued for.
// A token is base64url(PageToken proto) plus a MAC under a per-collector
// secret (kept in the store's meta column family), so a client can neither
// forge a resume position nor carry a token over to a query with other
// filters: both are refused with kInvalidArgument.
#pragma once

#include <google/protobuf/message.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "vigil/result.h"
#include "vigil/v1/query.pb.h"

namespace vigil::collector {

// Which query a token belongs to: a QueryEvents token is no QueryAlerts token.
enum class PageKind : std::uint32_t { kEvents = 1, kAlerts = 2, kFleetReport = 3, kAgents = 4 };

inline constexpr std::size_t kPageSecretBytes = 32;

class PageTokens {
 public:
  explicit PageTokens(const std::array<unsigned char, kPageSecretBytes>& secret);

  // `filters` is the request with its paging fields (token, limit, page size)
  // cleared: everything that must stay the same from page to page.
  [[nodiscard]] std::string issue(PageKind kind, const google::protobuf::Message& filters,
                                  std::string_view resume_key, std::uint64_t pinned_ns,
                                  std::uint64_t since_ns = 0) const;
  [[nodiscard]] Result<v1::PageToken> open(PageKind kind, const google::protobuf::Message& filters,
                                           std::string_view token) const;

  // A fresh random secret (libsodium).
  [[nodiscard]] static std::array<unsigned char, kPageSecretBytes> random_secret();

 private:
  std::array<unsigned char, kPageSecretBytes> secret_;
};

// The request as a token binds it: a copy without the fields that may change
// from page to page: the token, the page size, and the time range (which the
// token pins to the first page's: a CLI recomputing "the last hour" on each
// call still follows one range).
template <typename Request>
[[nodiscard]] Request without_paging(const Request& req) {
  Request copy = req;
  copy.clear_page_token();
  if constexpr (requires { copy.clear_since_ns(); }) {
    copy.clear_since_ns();
  }
  if constexpr (requires { copy.clear_until_ns(); }) {
    copy.clear_until_ns();
  }
  if constexpr (requires { copy.clear_limit(); }) {
    copy.clear_limit();
  }
  if constexpr (requires { copy.clear_page_size(); }) {
    copy.clear_page_size();
  }
  return copy;
}

}  // namespace vigil::collector
