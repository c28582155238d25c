#include "vigil/agent/file_probe.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "file.skel.h"
#include "vigil/agent/skeleton_probe.h"
#include "vigil/log.h"

namespace vigil::agent {
namespace {

HookSpec pair(std::string name, std::initializer_list<const char*> calls) {
  HookVariant v{"tracepoint", {}};
  for (const char* c : calls) {
    v.programs.push_back(std::string(c) + "_enter");
    v.programs.push_back(std::string(c) + "_exit");
  }
  return HookSpec{std::move(name), {std::move(v)}};
}

const std::vector<std::string>& exec_bit_prefixes() {
  static const std::vector<std::string> kPrefixes = {"/tmp", "/var/tmp", "/dev/shm"};
  return kPrefixes;
}

// stat()s every configured location into the watched-inode map (and each
// location's ancestors, flagged VIGIL_WATCH_ANCESTOR: a relative path from
// there may descend into it), every watched file into the directory + name
// map, and puts the absolute prefixes into the LPM trie used for path-based
// calls.
Result<void> fill_watch_maps(file_bpf* s, const ProbeOptions& o) {
  std::map<std::pair<std::uint64_t, std::uint32_t>, std::uint32_t> inodes;
  auto watch_inode = [&](const std::string& path, std::uint32_t flag) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return;  // not on this host (yet): a later create is seen via its directory
    }
    inodes[{st.st_ino, kernel_dev(st.st_dev)}] |= flag;
  };
  // A file is also watched where it is: `mv new /etc/shadow` replaces the
  // inode but not the directory entry.
  auto watch_child = [&](const std::string& path, std::uint32_t flag) -> Result<void> {
    const std::filesystem::path p(path);
    struct stat st {};
    struct stat dir {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return {};  // directories are watched by their inode and the walk
    }
    const std::string name = p.filename().string();
    if (name.empty() || name.size() >= VIGIL_FILE_COMP_LEN ||
        ::stat(p.parent_path().c_str(), &dir) != 0) {
      return {};
    }
    vigil_child_key key{};
    key.parent_ino = dir.st_ino;
    key.dev = kernel_dev(dir.st_dev);
    std::memcpy(key.name, name.data(), name.size());
    std::uint32_t value = flag;
    std::uint32_t held = 0;
    if (bpf_map__lookup_elem(s->maps.watch_child, &key, sizeof(key), &held, sizeof(held), 0) == 0) {
      value |= held;
    }
    if (bpf_map__update_elem(s->maps.watch_child, &key, sizeof(key), &value, sizeof(value),
                             BPF_ANY) != 0) {
      return make_error(ErrorCode::kKernel,
                        fmt::format("watched file '{}': {}", path, std::strerror(errno)));
    }
    return {};
  };
  auto add_prefix = [&](const std::string& p, std::uint32_t flag) -> Result<void> {
    watch_inode(p, flag);
    if (auto r = watch_child(p, flag); !r) {
      return r;
    }
    for (auto up = std::filesystem::path(p).parent_path(); !up.empty(); up = up.parent_path()) {
      watch_inode(up.string(), VIGIL_WATCH_ANCESTOR);
      if (up == up.root_path()) {
        break;
      }
    }
    vigil_path_key key{};
    std::string prefix = p;
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && !prefix.ends_with('/')) {
      prefix.push_back('/');  // "/etc/" must not match "/etcetera"
    }
    const std::size_t len = std::min(prefix.size(), sizeof(key.path));
    key.prefixlen = static_cast<std::uint32_t>(len * 8);
    std::memcpy(key.path, prefix.data(), len);
    if (bpf_map__update_elem(s->maps.watch_prefix, &key, sizeof(key), &flag, sizeof(flag),
                             BPF_ANY) != 0) {
      return make_error(ErrorCode::kKernel,
                        fmt::format("watch prefix '{}': {}", p, std::strerror(errno)));
    }
    return {};
  };
  auto& prefixes =
      o.file_watch_prefixes.empty() ? default_file_watch_prefixes() : o.file_watch_prefixes;
  for (const auto& p : prefixes) {
    if (auto r = add_prefix(p, VIGIL_WATCH_WRITE); !r) {
      return r;
    }
  }
  // Drop zones: only chmod +x is reported there (write -> chmod -> exec).
  for (const auto& p : exec_bit_prefixes()) {
    if (auto r = add_prefix(p, VIGIL_WATCH_EXEC_BIT); !r) {
      return r;
    }
  }
  for (const auto& p : o.file_read_paths.empty() ? default_file_read_paths() : o.file_read_paths) {
    watch_inode(p, VIGIL_WATCH_READ);
    if (auto r = watch_child(p, VIGIL_WATCH_READ); !r) {
      return r;
    }
  }
  for (const auto& [key, flags] : inodes) {
    vigil_inode_key k{};
    k.ino = key.first;
    k.dev = key.second;
    if (bpf_map__update_elem(s->maps.watched, &k, sizeof(k), &flags, sizeof(flags), BPF_ANY) != 0) {
      return make_error(ErrorCode::kKernel, fmt::format("watched inode: {}", std::strerror(errno)));
    }
  }
  for (const auto& n :
       o.file_watch_names.empty() ? default_file_watch_names() : o.file_watch_names) {
    char key[32] = {};
    std::memcpy(key, n.data(), std::min(n.size(), sizeof(key) - 1));
    // Private keys are credential stores (reads matter); the rest are
    // persistence targets (writes matter).
    const std::uint32_t flag =
        n.starts_with("id_") ? (VIGIL_WATCH_READ | VIGIL_WATCH_WRITE) : VIGIL_WATCH_WRITE;
    if (bpf_map__update_elem(s->maps.watch_name, key, sizeof(key), &flag, sizeof(flag), BPF_ANY) !=
        0) {
      return make_error(ErrorCode::kKernel,
                        fmt::format("watch name '{}': {}", n, std::strerror(errno)));
    }
  }
  return {};
}

struct FileTraits {
  using Skel = file_bpf;
  static Skel* open(const bpf_object_open_opts* opts) { return file_bpf__open_opts(opts); }
  static int load(Skel* s) { return file_bpf__load(s); }
  static void destroy(Skel* s) { file_bpf__destroy(s); }
  static bpf_object* object(Skel* s) { return s->obj; }
  static void configure(Skel* s, const ProbeOptions& o) {
    s->rodata->agent_tgid = o.agent_tgid;
    s->rodata->raw_events = o.raw_events ? 1 : 0;
    s->rodata->wakeup_min_ns = std::uint64_t{o.wakeup_min_us} * 1000;
    s->rodata->wakeup_watermark = o.polled_wakeups ? o.ringbuf_bytes / 8 : 0;
    bpf_map__set_max_entries(s->maps.file_events, o.ringbuf_bytes);
  }
  static Result<void> after_load(Skel* s, const ProbeOptions& o) { return fill_watch_maps(s, o); }
  static const std::vector<HookSpec>& hooks() { return file_hooks(); }
  static bpf_map* ring(Skel* s) { return s->maps.file_events; }
  static const char* stat_name(std::size_t slot) {
    switch (slot) {
      case VIGIL_STAT_FILE_WALKS:
        return "dentry_walks";
      case VIGIL_STAT_FILE_DEPTH_CAP:
        return "walks_at_depth_bound";
      default:
        return nullptr;
    }
  }
};

}  // namespace

std::uint32_t kernel_dev(std::uint64_t st_dev) {
  return static_cast<std::uint32_t>((major(st_dev) << 20) | minor(st_dev));
}

const std::vector<std::string>& default_file_watch_prefixes() {
  static const std::vector<std::string> kPrefixes = {
      "/etc", "/root", "/var/spool/cron", "/usr/bin", "/usr/sbin", "/bin", "/sbin", "/lib",
      "/usr/lib", "/boot", "/usr/local/bin", "/usr/local/sbin",
      // ATT&CK locations outside the above (rules/vigil): at spools (Red Hat),
      // units, generators, PAM modules and .pth files under /usr/local/lib,
      // trusted CA stores, runtime units.
      "/var/spool/at", "/usr/local/lib", "/usr/local/share/ca-certificates",
      "/usr/share/ca-certificates", "/run/systemd/system"};
  return kPrefixes;
}

const std::vector<std::string>& default_file_read_paths() {
  static const std::vector<std::string> kPaths = {"/etc/shadow",
                                                  "/etc/gshadow",
                                                  "/etc/sudoers",
                                                  "/etc/security/opasswd",
                                                  "/etc/ssh/ssh_host_rsa_key",
                                                  "/etc/ssh/ssh_host_ecdsa_key",
                                                  "/etc/ssh/ssh_host_ed25519_key",
                                                  "/root/.ssh/id_rsa",
                                                  "/root/.ssh/id_ed25519"};
  return kPaths;
}

const std::vector<std::string>& default_file_watch_names() {
  static const std::vector<std::string> kNames = {
      "authorized_keys", "authorized_keys2", ".bashrc", ".bash_profile", ".profile", ".bash_logout",
      ".zshrc", ".bash_history", ".zsh_history", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519",
      // Files whose writes matter in any home directory (rules/vigil): other
      // shells' start-up files, login environments, Python start-up hooks,
      // git hooks, more key types. Directory-named locations (~/.ssh/rc,
      // ~/.config/autostart/, ~/.config/systemd/user/) cannot be matched by
      // basename: docs/detections.md lists them.
      ".bash_login", ".zprofile", ".zlogin", ".zlogout", ".zshenv", ".kshrc", ".cshrc", ".tcshrc",
      ".login", ".logout", ".shrc", "config.fish", ".pam_environment", "environment", ".sh_history",
      "usercustomize.py", "sitecustomize.py", "id_ecdsa_sk", "id_ed25519_sk", "pre-commit",
      "post-checkout", "post-merge", "pre-push", "post-commit", "pre-receive", "post-receive",
      "post-update"};
  return kNames;
}

const std::vector<HookSpec>& file_hooks() {
  static const std::vector<HookSpec> kHooks = {
      pair("open", {"openat", "openat2", "open", "creat"}),
      pair("fd_ops", {"fchmod", "ftruncate"}),
      pair("rename", {"renameat2", "renameat", "rename"}),
      pair("unlink", {"unlinkat", "unlink"}),
      pair("chmod", {"fchmodat", "chmod"}),
      pair("truncate", {"truncate"}),
      pair("link", {"linkat", "link", "symlinkat", "symlink"}),
  };
  return kHooks;
}

std::unique_ptr<Probe> make_file_probe() {
  return std::make_unique<SkeletonProbe<FileTraits>>("file");
}

}  // namespace vigil::agent
