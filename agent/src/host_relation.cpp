#include "vigil/agent/host_relation.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <fstream>

#include "vigil/namespaces.h"

namespace vigil::agent {
namespace {

std::string_view basename(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The namespace kinds container.host_ns reports: user and cgroup are left
// out (most runtimes share the host's user namespace, and the cgroup one on
// cgroup v1 hosts, by default: they say nothing about a container).
constexpr std::uint32_t kJudgedKinds = kNsMnt | kNsPid | kNsNet | kNsUts | kNsIpc;

struct CapName {
  unsigned bit;
  std::string_view name;
};
constexpr std::array<CapName, 7> kCapNames = {{
    {2, "cap_dac_read_search"},
    {12, "cap_net_admin"},
    {16, "cap_sys_module"},
    {17, "cap_sys_rawio"},
    {19, "cap_sys_ptrace"},
    {21, "cap_sys_admin"},
    {39, "cap_bpf"},
}};

void append_caps(std::uint64_t caps, std::string& out) {
  bool first = true;
  for (const auto& c : kCapNames) {
    if ((caps & (1ULL << c.bit)) != 0) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      out.append(c.name);
    }
  }
}

std::uint32_t stat_ino(const std::filesystem::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<std::uint32_t>(st.st_ino) : 0;
}

Namespaces read_ns(const std::filesystem::path& pid_dir) {
  const auto ns = pid_dir / "ns";
  Namespaces n;
  n.mnt = stat_ino(ns / "mnt");
  n.pid = stat_ino(ns / "pid");
  n.net = stat_ino(ns / "net");
  n.user = stat_ino(ns / "user");
  n.uts = stat_ino(ns / "uts");
  n.ipc = stat_ino(ns / "ipc");
  n.cgroup = stat_ino(ns / "cgroup");
  return n;
}

bool is_kthreadd(const std::filesystem::path& pid_dir) {
  std::ifstream in(pid_dir / "stat");
  std::string line;
  std::getline(in, line);
  return line.find("(kthreadd)") != std::string::npos;
}

}  // namespace

HostIdentity HostIdentity::read(const std::filesystem::path& proc_root) {
  HostIdentity h;
  // An init that is not dumpable and holds capabilities the agent lacks
  // hides its links (ptrace access check); kthreadd's are the kernel's
  // initial namespaces and root, as a host's init's are (as ProcessTable does).
  const auto init = proc_root / "1";
  const auto kthreadd = proc_root / "2";
  h.ns = read_ns(init);
  if (!h.ns.known() && is_kthreadd(kthreadd)) {
    h.ns = read_ns(kthreadd);
  }
  h.ns.ns_pid = 1;
  struct stat st {};
  if (::stat((init / "root").c_str(), &st) == 0 ||
      (is_kthreadd(kthreadd) && ::stat((kthreadd / "root").c_str(), &st) == 0) ||
      ::stat("/", &st) == 0) {
    h.root_dev = static_cast<std::uint32_t>(st.st_dev);
  }
  return h;
}

bool is_container_runtime(std::string_view exe, std::string_view comm) {
  static constexpr std::array<std::string_view, 6> kNames = {"runc",  "crun",   "youki",
                                                             "runsc", "conmon", "catatonit"};
  const auto name = basename(exe);
  // runc re-executes itself from a memfd copy: "/memfd:runc_cloned:/proc/self/exe
  // (deleted)", or /dev/fd/N with comm "runc" (runc 1.1, already in the
  // container's cgroup); its init later names itself "runc:[2:INIT]".
  auto runtime = [](std::string_view n) {
    return std::ranges::find(kNames, n) != kNames.end() || n.starts_with("containerd-shim");
  };
  return runtime(name) || runtime(comm) || exe.starts_with("/memfd:runc") ||
         comm.starts_with("runc:[");
}

ContainerWatch::ContainerWatch(HostIdentity host, std::size_t capacity)
    : host_(host), capacity_(std::max<std::size_t>(capacity, 1)) {}

ContainerWatch::Entry* ContainerWatch::find(std::uint64_t cgroup_id) {
  auto it = containers_.find(cgroup_id);
  return it == containers_.end() ? nullptr : &it->second;
}

ContainerWatch::Entry& ContainerWatch::insert(std::uint64_t cgroup_id) {
  while (containers_.size() >= capacity_ && !order_.empty()) {
    stats_.evicted += containers_.erase(order_.front());
    order_.pop_front();
  }
  if (order_.size() >= 2 * capacity_) {
    // Ids of removed cgroups linger in the order until evicted: drop them.
    std::erase_if(order_, [&](std::uint64_t id) { return !containers_.contains(id); });
  }
  order_.push_back(cgroup_id);
  return containers_[cgroup_id];
}

void ContainerWatch::forget(std::uint64_t cgroup_id) { containers_.erase(cgroup_id); }

HostRelation ContainerWatch::relate(const Event& e) {
  HostRelation r;
  if (e.type == EventType::kCgroup) {
    const auto& c = std::get<CgroupData>(e.data);
    if (c.removed) {
      forget(c.id);
    }
    return r;
  }
  const bool host_known = host_.ns.known();
  if (host_known && e.ns.known()) {
    ns_host_.clear();
    append_ns_kinds(ns_kinds_equal(e.ns, host_.ns), ns_host_);
    r.ns_host = ns_host_;
  }
  switch (e.type) {
    case EventType::kExec: {
      // A container is judged on its first exec: the namespaces and
      // capabilities its processes have. An exec already in the host's mount
      // namespace is no start but an escape (namespace-escape rules), and the
      // runtime's own processes are in the host's namespaces for a moment.
      if (e.container == nullptr || !host_known || !e.ns.known() || (e.ns.mnt == host_.ns.mnt) ||
          is_container_runtime(e.exe, e.comm)) {
        break;
      }
      Entry* c = find(e.cgroup_id);
      const bool first = c == nullptr;
      if (first) {
        c = &insert(e.cgroup_id);
        c->home = e.ns;
        ++stats_.judged;
      }
      // Namespaces are judged once: a container's cannot change after its
      // start except by setns, which the escape rules see. Capabilities are
      // reported again when a later exec has more (a root `exec` into a
      // privileged container whose entrypoint runs as a user).
      const std::uint32_t ns = first ? ns_kinds_equal(e.ns, host_.ns) & kJudgedKinds : 0;
      const std::uint64_t caps =
          e.ns.user != 0 && e.ns.user == host_.ns.user ? e.ns.cap_eff & kEscapeCaps : 0;
      const std::uint64_t new_caps = caps & ~c->reported_caps;
      if (!first && new_caps == 0) {
        break;
      }
      if (!first) {
        ++stats_.rejudged;
      }
      c->reported_ns |= ns;
      c->reported_caps |= caps;
      host_ns_.clear();
      append_ns_kinds(ns, host_ns_);
      host_caps_.clear();
      append_caps(new_caps, host_caps_);
      r.container_host_ns = host_ns_;
      r.container_host_caps = host_caps_;
      break;
    }
    case EventType::kNsChange: {
      const auto& d = std::get<NsChangeData>(e.data);
      if (!host_known || d.ret != 0) {
        break;
      }
      const Namespaces& after = d.after.known() ? d.after : e.ns;
      const Entry* c = e.container != nullptr ? find(e.cgroup_id) : nullptr;
      const auto host = ns_inodes(host_.ns);
      const auto now = ns_inodes(after);
      const auto before = ns_inodes(d.before);
      std::uint32_t entered = 0;
      for (std::size_t i = 0; i < host.size(); ++i) {
        if (now[i] == 0 || now[i] != host[i]) {
          continue;
        }
        // The call moved the task into the host's namespace of this kind...
        const bool moved = before[i] != 0 ? before[i] != host[i] : e.container != nullptr;
        // ... and its container does not live there (a hostNetwork pod's
        // CNI work returning to the host's network namespace is at home).
        const bool home = c != nullptr && ns_inodes(c->home)[i] == host[i];
        if (moved && !home) {
          entered |= 1U << i;
        }
      }
      entered_.clear();
      append_ns_kinds(entered, entered_);
      r.ns_entered_host = entered_;
      break;
    }
    case EventType::kFile: {
      const auto& f = std::get<FileData>(e.data);
      if (host_.root_dev != 0 && f.dev != 0 && f.root_dev != 0) {
        r.host_filesystem = f.dev == host_.root_dev && f.root_dev != f.dev ? "true" : "false";
      }
      break;
    }
    default:
      break;
  }
  return r;
}

}  // namespace vigil::agent
