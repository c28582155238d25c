// The typed event every part of vigil works with, decoded from the kernel ABI
// (vigil/abi.h) and enriched in user space. Field names match the JSON schema in
// docs/events.md.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vigil {

// Command-line arguments. Like a vector of strings, except that shrinking it
// keeps the elements (and their buffers) for the next refill: every exec
// rewrites the arguments of a reused event or process entry, and this way it
// does not allocate once the buffers have grown to size.
class ArgList {
 public:
  using value_type = std::string;
  using const_iterator = std::vector<std::string>::const_iterator;
  using iterator = const_iterator;

  ArgList() = default;
  ArgList(std::initializer_list<std::string_view> args) { assign(args); }
  ArgList(const ArgList& other) { *this = other; }
  ArgList(ArgList&&) noexcept = default;
  ArgList& operator=(ArgList&&) noexcept = default;
  ArgList& operator=(const ArgList& other) {
    if (this != &other) {
      assign(other);
    }
    return *this;
  }
  ArgList& operator=(std::initializer_list<std::string_view> args) {
    assign(args);
    return *this;
  }
  ~ArgList() = default;

  template <typename Range>
  void assign(const Range& args) {
    n_ = 0;
    for (const auto& a : args) push_back(a);
  }
  void push_back(std::string_view arg) {
    if (n_ < store_.size()) {
      store_[n_].assign(arg);
    } else {
      store_.emplace_back(arg);
    }
    ++n_;
  }
  void clear() { n_ = 0; }

  [[nodiscard]] std::size_t size() const { return n_; }
  [[nodiscard]] bool empty() const { return n_ == 0; }
  [[nodiscard]] const std::string& operator[](std::size_t i) const { return store_[i]; }
  [[nodiscard]] const_iterator begin() const { return store_.begin(); }
  [[nodiscard]] const_iterator end() const {
    return store_.begin() + static_cast<std::ptrdiff_t>(n_);
  }
  // NOLINTNEXTLINE(google-explicit-constructor): used where a span of strings is taken
  operator std::span<const std::string>() const { return {store_.data(), n_}; }

  friend bool operator==(const ArgList& a, const ArgList& b) { return std::ranges::equal(a, b); }
  friend bool operator==(const ArgList& a, const std::vector<std::string>& b) {
    return std::ranges::equal(a, b);
  }

 private:
  std::vector<std::string> store_;
  std::size_t n_ = 0;
};

enum class EventType : std::uint16_t {
  kExec = 1,
  kFork = 2,
  kExit = 3,
  kSetuid = 4,
  kSetgid = 5,
  kCapset = 6,
  kPtrace = 7,
  kKill = 8,
  // network family: one ABI record (VIGIL_EV_SOCK) becomes one type per op
  kConnect = 16,
  kNetSummary = 17,
  kAccept = 20,
  kListen = 21,
  kClose = 22,
  kConnectFailed = 23,
  kUdpSend = 24,
  // memory family
  kWxMemory = 32,
  kExecAdded = 33,
  kMemfd = 34,
  kFilelessExec = 35,
  kInject = 36,
  kCrashStorm = 37,
  kAllocRate = 38,
  kNsChange = 9,  // setns(2) or unshare(2) changed the task's namespaces
  kCgroup = 10,   // a cgroup (v2) directory made or removed: the container table's feed
  // file family
  kFile = 48,
};

// Stable names used in JSON ("type") and on the command line.
[[nodiscard]] std::string_view to_string(EventType type);
[[nodiscard]] std::optional<EventType> event_type_from_string(std::string_view name);

struct ExecData {
  std::string filename;  // path as passed to execve
  std::uint32_t argc = 0;
  bool args_truncated = false;
  bool setuid = false;        // euid != uid after the exec
  bool setgid = false;        // egid != gid after the exec
  bool euid_changed = false;  // euid differs from before the exec
  bool prev_known = false;
  std::uint32_t prev_uid = 0;
  std::uint32_t prev_euid = 0;
  std::uint32_t loginuid = 0xFFFFFFFFU;  // the login uid; 0xFFFFFFFF: unset (daemons)
};

struct ForkData {
  std::uint32_t child_pid = 0;
  std::uint32_t child_tid = 0;
};

struct ExitData {
  std::int32_t exit_code = 0;
  std::uint32_t signal = 0;
  bool core_dumped = false;
  std::uint64_t lifetime_ns = 0;
};

// setuid, setgid and capset families.
struct SetidData {
  std::uint32_t syscall = 0;  // VIGIL_SYS_*
  std::int32_t ret = 0;
  std::array<std::uint32_t, 3> req{};
  std::array<std::uint32_t, 3> old_ids{};  // real, effective, saved (fs, e, s for set*fs*id)
  std::array<std::uint32_t, 3> new_ids{};
  std::uint64_t old_cap_eff = 0;
  std::uint64_t new_cap_eff = 0;
  std::uint64_t old_cap_prm = 0;
  std::uint64_t new_cap_prm = 0;
};

struct PtraceData {
  std::int64_t request = 0;
  std::uint32_t target_pid = 0;
  std::int32_t ret = 0;
  std::uint64_t addr = 0;
  std::uint64_t data = 0;
};

struct KillData {
  std::uint32_t target_pid = 0;
  std::uint32_t target_uid = 0;  // UINT32_MAX when unknown
  std::uint32_t signal = 0;
  std::int32_t si_code = 0;
  std::int32_t result = 0;
  std::string target_comm;
};

// wx_memory and exec_added.
struct MemProtData {
  std::uint64_t addr = 0;
  std::uint64_t len = 0;
  std::uint32_t prot = 0;
  std::uint32_t flags = 0;
  std::uint32_t syscall = 0;  // VIGIL_MEM_MMAP / VIGIL_MEM_MPROTECT
  std::int32_t ret = 0;
  std::uint64_t vm_flags = 0;
  std::uint32_t anon = 0;  // VIGIL_MAP_*
  std::uint32_t suppressed = 0;
  std::string file;
};

struct MemfdData {
  std::uint32_t flags = 0;
  std::int32_t ret = 0;
  std::string name;
};

struct FilelessExecData {
  std::uint32_t nlink = 0;
  bool memfd = false;
  std::string filename;
  std::string dname;
};

struct InjectData {
  std::uint32_t target_pid = 0;
  std::int32_t ret = 0;
  std::uint64_t bytes = 0;
  std::uint32_t method = 0;  // VIGIL_INJECT_*
  std::uint32_t flags = 0;
  std::string path;
};

struct CrashStormData {
  std::uint64_t ino = 0;
  std::uint32_t dev = 0;
  std::uint32_t count = 0;
  std::uint32_t signal = 0;
  std::uint32_t window_ms = 0;
  std::string exe;
};

struct AllocRateData {
  std::uint64_t bytes = 0;
  std::uint32_t window_ms = 0;
  std::uint32_t calls = 0;
};

// connect, accept, listen, close, connect_failed, udp_send.
struct SockData {
  std::int32_t ret = 0;
  std::uint16_t family = 0;  // AF_INET / AF_INET6
  std::uint16_t proto = 0;   // IPPROTO_TCP / IPPROTO_UDP
  std::string laddr;
  std::uint16_t lport = 0;
  std::string raddr;
  std::uint16_t rport = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
};

struct NetSummaryData {
  std::uint32_t reasons = 0;  // VIGIL_NET_* bits
  std::uint32_t ifindex = 0;
  std::uint16_t family = 0;
  std::string src;
  std::uint32_t window_ms = 0;
  std::uint64_t pkts = 0;
  std::uint64_t bytes = 0;
  std::uint32_t syns = 0;
  std::uint32_t udp = 0;
  std::uint32_t icmp = 0;
  std::uint32_t dports = 0;  // estimated distinct destination ports
  std::uint32_t daddrs = 0;  // estimated distinct destination addresses
};

struct FileData {
  std::uint32_t op = 0;  // VIGIL_FILE_*
  std::int32_t ret = 0;
  std::uint32_t flags = 0;
  std::uint32_t mode = 0;
  std::string path;      // absolute where it could be resolved
  std::string new_path;  // rename target
  std::string arg_path;  // as passed to the syscall
  // The file's filesystem and the writer's root filesystem (s_dev, in user
  // space's encoding, as stat(2)'s st_dev; 0 = not known). dev == the host
  // root's and root_dev != dev: a task with another root (a container) wrote
  // to the host's filesystem through a mount; `path` is then as the kernel
  // walks it on that filesystem.
  std::uint32_t dev = 0;
  std::uint32_t root_dev = 0;
};

// The namespaces of a task, by inode number (what /proc/PID/ns/* name), and
// its pid as seen inside its own pid namespace. 0 = not known (an event of a
// process the agent never saw start and could not read from /proc).
struct Namespaces {
  std::uint32_t mnt = 0;
  std::uint32_t pid = 0;
  std::uint32_t net = 0;
  std::uint32_t user = 0;
  std::uint32_t uts = 0;
  std::uint32_t ipc = 0;
  std::uint32_t cgroup = 0;
  std::uint32_t ns_pid = 0;   // the pid inside its pid namespace
  std::uint64_t cap_eff = 0;  // effective capabilities (exec, fork, ns_change)
  [[nodiscard]] bool known() const { return mnt != 0; }
  friend bool operator==(const Namespaces&, const Namespaces&) = default;
};

// setns / unshare: the namespaces after the call (Event::ns holds them too,
// once the process table applied it); `before` from the process table.
struct NsChangeData {
  std::uint32_t syscall = 0;  // VIGIL_SYS_SETNS / VIGIL_SYS_UNSHARE
  std::int32_t ret = 0;
  std::uint32_t flags = 0;  // setns nstype / unshare flags (CLONE_NEW*)
  Namespaces before;        // as the agent knew them before the call (may be unknown)
  Namespaces after;
};

// A cgroup v2 directory made or removed (tracepoints cgroup:cgroup_mkdir/rmdir).
struct CgroupData {
  bool removed = false;
  std::uint64_t id = 0;  // what bpf_get_current_cgroup_id() returns for its tasks
  std::uint32_t level = 0;
  std::string path;  // relative to the cgroup2 mount, starting with '/'
};

// Which container (and pod) an event came from: filled by the agent's
// container table from the cgroup id; shared by every event of the container.
// Field names in JSON follow Falco's: container.id, container.name,
// container.image, k8s.pod, k8s.ns (docs/events.md).
struct ContainerInfo {
  std::string id;       // full id as the runtime names it (64 hex for most)
  std::string runtime;  // docker, podman, containerd, cri-o, lxc, ... ("" = unknown)
  std::string name;     // from the runtime's API when reachable, else ""
  std::string image;
  std::string pod;      // Kubernetes pod name
  std::string pod_uid;  // from kubelet's cgroup layout even with no runtime socket
  std::string k8s_ns;   // Kubernetes namespace
  std::string cgroup;   // the container's cgroup path
  std::vector<std::pair<std::string, std::string>> labels;  // runtime labels (bounded)
};

using EventData =
    std::variant<ExecData, ForkData, ExitData, SetidData, PtraceData, KillData, MemProtData,
                 MemfdData, FilelessExecData, InjectData, CrashStormData, AllocRateData, FileData,
                 SockData, NetSummaryData, NsChangeData, CgroupData>;

struct Event {
  EventType type = EventType::kExec;
  std::uint64_t ts_ns = 0;    // unix time, ns
  std::uint64_t boot_ns = 0;  // CLOCK_BOOTTIME as recorded by the kernel
  std::uint32_t pid = 0;
  std::uint32_t tid = 0;
  std::uint32_t ppid = 0;
  std::uint32_t uid = 0;
  std::uint32_t euid = 0;
  std::uint32_t gid = 0;
  std::uint32_t egid = 0;
  std::uint64_t cgroup_id = 0;
  std::string comm;
  // Enrichment: from the event itself for exec, from the process table otherwise.
  std::string exe;
  ArgList args;
  std::string host;
  // Enrichment from the process table: the task's namespaces (exec, fork and
  // ns_change records carry them from the kernel; other events inherit them).
  Namespaces ns;
  // True when ns is known and mnt, pid, net and user are the host's (pid 1's).
  bool host_ns = true;
  // The container of cgroup_id, or null for the host (or an unknown cgroup).
  std::shared_ptr<const ContainerInfo> container;
  EventData data;
};

[[nodiscard]] std::string_view setid_syscall_name(std::uint32_t syscall);
[[nodiscard]] std::string_view ptrace_request_name(std::int64_t request);
[[nodiscard]] std::string_view signal_name(std::uint32_t sig);
[[nodiscard]] std::string_view file_op_name(std::uint32_t op);
// "scan,syn_flood" for VIGIL_NET_* bits.
[[nodiscard]] std::string net_reasons(std::uint32_t reasons);
// Linear-counting estimate of distinct items from the set bits of an m-bit sketch.
[[nodiscard]] std::uint32_t linear_count(std::uint32_t set_bits, std::uint32_t m);
// Text form of a 16-byte address (first 4 bytes for AF_INET).
[[nodiscard]] std::string addr_string(std::uint16_t family, const std::uint8_t* addr16);
// "rwx"-style rendering of PROT_* bits.
[[nodiscard]] std::string prot_string(std::uint32_t prot);

}  // namespace vigil
