// Namespace kinds as sets of bits: which of two Namespaces agree, which kinds
// a setns/unshare flag word names, and their names ("mnt,pid,net") as the
// JSON output and the Sigma fields spell them (docs/events.md,
// docs/detections.md). Header-only, allocation-free.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "vigil/event.h"

namespace vigil {

// One bit per namespace kind, in the order the JSON `ns` object lists them.
enum NsKind : std::uint32_t {
  kNsMnt = 1U << 0,
  kNsPid = 1U << 1,
  kNsNet = 1U << 2,
  kNsUser = 1U << 3,
  kNsUts = 1U << 4,
  kNsIpc = 1U << 5,
  kNsCgroup = 1U << 6,
};
inline constexpr std::array<std::string_view, 7> kNsKindNames = {"mnt", "pid", "net",   "user",
                                                                 "uts", "ipc", "cgroup"};

// The inode of each kind, in kNsKindNames order.
[[nodiscard]] inline std::array<std::uint32_t, 7> ns_inodes(const Namespaces& n) {
  return {n.mnt, n.pid, n.net, n.user, n.uts, n.ipc, n.cgroup};
}

// Kinds whose inodes are known (non-zero) in both and equal.
[[nodiscard]] inline std::uint32_t ns_kinds_equal(const Namespaces& a, const Namespaces& b) {
  const auto x = ns_inodes(a);
  const auto y = ns_inodes(b);
  std::uint32_t kinds = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] != 0 && x[i] == y[i]) {
      kinds |= 1U << i;
    }
  }
  return kinds;
}

// Kinds whose inodes are known in both and differ.
[[nodiscard]] inline std::uint32_t ns_kinds_differing(const Namespaces& a, const Namespaces& b) {
  const auto x = ns_inodes(a);
  const auto y = ns_inodes(b);
  std::uint32_t kinds = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] != 0 && y[i] != 0 && x[i] != y[i]) {
      kinds |= 1U << i;
    }
  }
  return kinds;
}

// The namespace kinds named by CLONE_NEW* bits (unshare flags, setns nstype;
// setns with nstype 0 names none: the fd decides).
[[nodiscard]] inline std::uint32_t ns_kinds_of_clone_flags(std::uint32_t flags) {
  constexpr std::array<std::uint32_t, 7> kCloneBits = {
      0x00020000U,  // CLONE_NEWNS
      0x20000000U,  // CLONE_NEWPID
      0x40000000U,  // CLONE_NEWNET
      0x10000000U,  // CLONE_NEWUSER
      0x04000000U,  // CLONE_NEWUTS
      0x08000000U,  // CLONE_NEWIPC
      0x02000000U,  // CLONE_NEWCGROUP
  };
  std::uint32_t kinds = 0;
  for (std::size_t i = 0; i < kCloneBits.size(); ++i) {
    if ((flags & kCloneBits[i]) != 0) {
      kinds |= 1U << i;
    }
  }
  return kinds;
}

// Appends "mnt,pid,..." for the kinds set, in kNsKindNames order.
inline void append_ns_kinds(std::uint32_t kinds, std::string& out) {
  bool first = true;
  for (std::size_t i = 0; i < kNsKindNames.size(); ++i) {
    if ((kinds & (1U << i)) != 0) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      out.append(kNsKindNames[i]);
    }
  }
}

}  // namespace vigil
