// Image profiles: which shells and script interpreters the containers of one
// image run (docs/detections.md, "container-shell-novel"). What the agent and
// the collector share: how a container maps to a profile key, how an exec
// maps to a canonical shell name, and how two profiles merge. Allocation-free
// where the agent calls it per exec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

// Bounds every profile obeys, on the wire and in memory.
inline constexpr std::size_t kMaxProfileKeyBytes = 512;
inline constexpr std::size_t kMaxProfileShells = 32;
inline constexpr std::size_t kMaxShellNameBytes = 32;
// Profiles per ImageObservations / ImageProfiles message.
inline constexpr std::size_t kMaxProfilesPerMessage = 1000;

struct ImageProfileRecord {
  std::string image;  // the profile key (image_profile_key)
  std::uint64_t first_seen_ns = 0;
  std::vector<std::string> shells;  // sorted, unique
  friend bool operator==(const ImageProfileRecord&, const ImageProfileRecord&) = default;
};

// The image repository as one name whatever the runtime reported: registry
// and Docker Hub's "library/" made explicit, tag and digest dropped
// ("nginx:1.25" and "docker.io/library/nginx@sha256:..." are both
// "docker.io/library/nginx"; "localhost/app:v2" is "localhost/app"). Profiles
// are per repository, not per tag: a new release keeps what its predecessors
// taught (a shell it newly runs alerts once, then an analyst's label teaches
// it), rather than opening a fresh window an attacker could hide in.
[[nodiscard]] std::string normalize_image(std::string_view image);

// A container's profile key: its normalised image; without an image, "name:"
// + its name less a replica suffix ("web-1", "proj_web_2" -> "web",
// "proj_web"); "" when neither is known (not profiled).
[[nodiscard]] std::string image_profile_key(std::string_view image, std::string_view name);

// The canonical name of a shell or script interpreter this exec starts, or ""
// for anything else. Shells by executable basename (sh, bash, dash, ash, zsh,
// ksh, mksh, csh, tcsh, fish, pwsh, ...); interpreters by family, versions
// folded (python3.11, pypy3 -> "python"; perl5.36 -> "perl"; ruby, irb ->
// "ruby"; node, nodejs -> "node"; php8.2 -> "php", not php-fpm; lua5.4,
// luajit -> "lua"; tclsh, wish -> "tcl"); busybox by its applet (argv[0], or
// argv[1] for `busybox sh`). nc, socat and other shell-capable tools are not
// shells here (reverse-shell and offensive-tool cover them). The view points
// at static storage.
[[nodiscard]] std::string_view profile_shell_name(std::string_view exe,
                                                  std::span<const std::string> args);

// A key or shell name as profiles accept them: a key 1..kMaxProfileKeyBytes
// of printable ASCII without spaces; a shell 1..kMaxShellNameBytes of
// [a-z0-9._+-].
[[nodiscard]] bool valid_profile_key(std::string_view key);
[[nodiscard]] bool valid_shell_name(std::string_view shell);

// Merges `from` into `into` (same key): the earlier non-zero first_seen_ns,
// the union of shells (sorted; at most kMaxProfileShells, the rest dropped and
// counted in `dropped` when given). True when `into` changed.
bool merge_profile(ImageProfileRecord& into, const ImageProfileRecord& from,
                   std::size_t* dropped = nullptr);

}  // namespace vigil
