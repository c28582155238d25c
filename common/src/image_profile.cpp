#include "vigil/image_profile.h"

#include <algorithm>
#include <array>

namespace vigil {
namespace {

std::string_view basename(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Shells, by their own name.
constexpr std::array<std::string_view, 18> kShells = {
    "sh",   "bash",  "rbash", "dash", "ash", "hush", "zsh",  "ksh",  "ksh93",
    "mksh", "pdksh", "oksh",  "yash", "csh", "tcsh", "fish", "pwsh", "elvish"};

// Interpreter families: a basename that is the prefix followed by nothing but
// a version ([0-9.]) belongs to the family.
struct Family {
  std::string_view prefix;
  std::string_view name;
};
constexpr std::array<Family, 9> kFamilies = {{{"python", "python"},
                                              {"pypy", "python"},
                                              {"perl", "perl"},
                                              {"ruby", "ruby"},
                                              {"php", "php"},
                                              {"lua", "lua"},
                                              {"node", "node"},
                                              {"tclsh", "tcl"},
                                              {"wish", "tcl"}}};
// Exact names folded into a family.
constexpr std::array<Family, 4> kAliases = {
    {{"nodejs", "node"}, {"irb", "ruby"}, {"luajit", "lua"}, {"expect", "tcl"}}};

bool version_suffix(std::string_view rest) {
  return std::ranges::all_of(rest, [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

std::string_view canonical(std::string_view name) {
  for (const auto s : kShells) {
    if (s == name) {
      return s;
    }
  }
  for (const auto& a : kAliases) {
    if (a.prefix == name) {
      return a.name;
    }
  }
  for (const auto& f : kFamilies) {
    if (name.starts_with(f.prefix) && version_suffix(name.substr(f.prefix.size()))) {
      return f.name;
    }
  }
  return {};
}

bool digits(std::string_view s) {
  return !s.empty() && std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string normalize_image(std::string_view image) {
  if (image.starts_with("sha256:")) {
    return std::string(image);  // an image id, not a name
  }
  if (const auto at = image.find('@'); at != std::string_view::npos) {
    image = image.substr(0, at);  // digest
  }
  const auto slash = image.rfind('/');
  const auto colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    image = image.substr(0, colon);  // tag (a ':' before the last '/' is a registry port)
  }
  if (image.empty()) {
    return {};
  }
  // An image id rather than a name: keep it whole.
  if (image.size() == 64 && image.find_first_not_of("0123456789abcdef") == std::string::npos) {
    return std::string(image);
  }
  const auto first = image.find('/');
  const auto head = image.substr(0, first);
  const bool registry = first != std::string_view::npos &&
                        (head.find('.') != std::string_view::npos ||
                         head.find(':') != std::string_view::npos || head == "localhost");
  std::string out;
  if (!registry) {
    out = first == std::string_view::npos ? "docker.io/library/" : "docker.io/";
  } else if (head == "docker.io" || head == "index.docker.io" || head == "registry-1.docker.io") {
    out = "docker.io";
    image.remove_prefix(head.size());
    if (image.find('/', 1) == std::string_view::npos) {
      out += "/library";
    }
  }
  out.append(image);
  return out;
}

std::string image_profile_key(std::string_view image, std::string_view name) {
  if (!image.empty()) {
    auto key = normalize_image(image);
    if (valid_profile_key(key)) {
      return key;
    }
  }
  // Replica suffixes: compose's "proj_web_1"/"proj-web-1", a StatefulSet's "db-0".
  const auto cut = name.find_last_of("-_.");
  if (cut != std::string_view::npos && cut > 0 && digits(name.substr(cut + 1))) {
    name = name.substr(0, cut);
  }
  if (!name.empty()) {
    std::string key = "name:";
    key.append(name);
    if (valid_profile_key(key)) {
      return key;
    }
  }
  return {};
}

std::string_view profile_shell_name(std::string_view exe, std::span<const std::string> args) {
  auto name = basename(exe);
  if (name == "busybox") {
    // `sh` linked to busybox runs as /bin/sh (caught above by its own name);
    // `busybox sh` names the applet in argv[1].
    name = args.empty() ? std::string_view{} : basename(args[0]);
    if (name == "busybox") {
      name = args.size() > 1 ? basename(args[1]) : std::string_view{};
    }
  }
  return name.empty() ? std::string_view{} : canonical(name);
}

bool valid_profile_key(std::string_view key) {
  return !key.empty() && key.size() <= kMaxProfileKeyBytes &&
         std::ranges::all_of(key, [](char c) { return c > ' ' && c < 0x7f; });
}

bool valid_shell_name(std::string_view shell) {
  return !shell.empty() && shell.size() <= kMaxShellNameBytes &&
         std::ranges::all_of(shell, [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '+' || c == '-';
         });
}

bool merge_profile(ImageProfileRecord& into, const ImageProfileRecord& from, std::size_t* dropped) {
  bool changed = false;
  if (from.first_seen_ns != 0 &&
      (into.first_seen_ns == 0 || from.first_seen_ns < into.first_seen_ns)) {
    into.first_seen_ns = from.first_seen_ns;
    changed = true;
  }
  for (const auto& s : from.shells) {
    const auto at = std::ranges::lower_bound(into.shells, s);
    if (at != into.shells.end() && *at == s) {
      continue;
    }
    if (into.shells.size() >= kMaxProfileShells) {
      if (dropped != nullptr) {
        ++*dropped;
      }
      continue;
    }
    into.shells.insert(at, s);
    changed = true;
  }
  return changed;
}

}  // namespace vigil
