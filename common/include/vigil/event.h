// The typed event every part of vigil works with, decoded from the kernel ABI
// (vigil/abi.h) and enriched in user space. Field names match the JSON schema in
// docs/events.md.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
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
};

using EventData = std::variant<ExecData, ForkData, ExitData, SetidData, PtraceData, KillData,
                               MemProtData, MemfdData, FilelessExecData, InjectData, CrashStormData,
                               AllocRateData, FileData, SockData, NetSummaryData>;

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
