#include "vigil/rule_pack_format.h"

#include <fmt/format.h>

#include <algorithm>

namespace vigil {
namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

std::string rule_pack_signed_message(std::string_view pack_bytes) {
  std::string m;
  m.reserve(kRulePackSignatureContext.size() + pack_bytes.size());
  m.append(kRulePackSignatureContext);
  m.append(pack_bytes);
  return m;
}

Result<void> check_rule_pack_version(std::string_view version) {
  if (version.empty() || version.size() > 128 || version.front() == '.' ||
      !std::ranges::all_of(version, [](char c) { return name_char(c) || c == ':'; })) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("rule pack version '{}' is not 1..128 characters of "
                                  "[A-Za-z0-9._:-] not starting with '.'",
                                  version.substr(0, 160)));
  }
  return {};
}

Result<void> check_rule_pack_file_name(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("file name '{}': {}", name.substr(0, 300), why));
  };
  if (name.empty() || name.size() > 255) {
    return bad("must be 1..255 characters");
  }
  if (!name.ends_with(".yml") && !name.ends_with(".yaml")) {
    return bad("must end in .yml or .yaml");
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto end = std::min(name.find('/', start), name.size());
    const auto part = name.substr(start, end - start);
    if (part.empty() || part.front() == '.') {
      return bad("a path component is empty or starts with '.'");
    }
    if (!std::ranges::all_of(part, name_char)) {
      return bad("only [A-Za-z0-9._-] and '/' between components");
    }
    start = end + 1;
  }
  return {};
}

Result<void> check_rule_pack_disabled_id(std::string_view id) {
  const bool printable = std::ranges::all_of(id, [](char c) { return c >= ' ' && c <= '~'; });
  if (!id.empty() && id.size() <= kRulePackMaxDisabledBytes && printable) {
    return {};
  }
  std::string shown(id.substr(0, 64));
  std::ranges::replace_if(
      shown, [](char c) { return c < ' ' || c > '~'; }, '?');
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("disabled rule '{}{}': {}", shown, id.size() > 64 ? "..." : "",
                                id.empty()   ? "empty"
                                : !printable ? "not printable ASCII"
                                             : fmt::format("{} bytes, at most {}", id.size(),
                                                           kRulePackMaxDisabledBytes)));
}

}  // namespace vigil
