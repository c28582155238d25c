#include "vigil/agent/network_probe.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "network.skel.h"
#include "vigil/agent/skeleton_probe.h"

namespace vigil::agent {
namespace {

struct NetworkTraits {
  using Skel = network_bpf;
  static Skel* open(const bpf_object_open_opts* opts) { return network_bpf__open_opts(opts); }
  static int load(Skel* s) { return network_bpf__load(s); }
  static void destroy(Skel* s) { network_bpf__destroy(s); }
  static bpf_object* object(Skel* s) { return s->obj; }
  static void configure(Skel* s, const ProbeOptions& o) {
    s->rodata->agent_tgid = o.agent_tgid;
    s->rodata->raw_events = o.raw_events ? 1 : 0;
    s->rodata->wakeup_min_ns = std::uint64_t{o.wakeup_min_us} * 1000;
    s->rodata->wakeup_watermark = o.polled_wakeups ? o.ringbuf_bytes / 8 : 0;
    s->rodata->enforce = o.xdp_enforce ? 1 : 0;
    bpf_map__set_max_entries(s->maps.network_events, o.ringbuf_bytes);
  }
  static const std::vector<std::string>& manual_programs() {
    static const std::vector<std::string> kManual = {"xdp_ingress"};
    return kManual;
  }
  static const std::vector<HookSpec>& hooks() { return network_hooks(); }
  static bpf_map* ring(Skel* s) { return s->maps.network_events; }
  static const char* stat_name(std::size_t slot) {
    switch (slot) {
      case VIGIL_STAT_NET_XDP_PKTS:
        return "xdp_packets";
      case VIGIL_STAT_NET_XDP_DROPS:
        return "xdp_drops";
      case VIGIL_STAT_NET_UDP_DEDUP:
        return "udp_sends_deduplicated";
      default:
        return nullptr;
    }
  }
};

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

const std::vector<HookSpec>& network_hooks() {
  static const std::vector<HookSpec> kHooks = {
      {"connect", {{"tracepoint", {"connect_enter", "connect_exit"}}}},
      {"accept", {{"tracepoint", {"accept4_exit", "accept_exit"}}}},
      {"listen", {{"tracepoint", {"listen_enter", "listen_exit"}}}},
      {"udp_send", {{"tracepoint", {"sendto_enter"}}}},
      {"tcp_state", {{"tp_btf", {"state_btf"}}, {"tracepoint", {"state_tp"}}}},
  };
  return kHooks;
}

std::vector<std::string> resolve_xdp_ifaces(const std::vector<std::string>& wanted) {
  if (std::find(wanted.begin(), wanted.end(), "all") == wanted.end()) {
    return wanted;
  }
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return out;
  }
  for (auto* i = list; i != nullptr; i = i->ifa_next) {
    if ((i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK) &&
        std::find(out.begin(), out.end(), i->ifa_name) == out.end()) {
      out.emplace_back(i->ifa_name);
    }
  }
  freeifaddrs(list);
  return out;
}

Result<BlockEntry> parse_block_entry(std::string_view text) {
  BlockEntry e;
  std::string addr(text);
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr = std::string(text.substr(0, slash));
    const auto ttl = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(ttl.data(), ttl.data() + ttl.size(), e.ttl_s);
    if (ec != std::errc() || p != ttl.data() + ttl.size() || e.ttl_s == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("blocklist '{}': expiry must be seconds > 0", text));
    }
  }
  if (inet_pton(AF_INET, addr.c_str(), e.addr) == 1) {
    e.family = AF_INET;
  } else if (inet_pton(AF_INET6, addr.c_str(), e.addr) == 1) {
    e.family = AF_INET6;
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("blocklist '{}': not an IPv4 or IPv6 address", text));
  }
  return e;
}

namespace {

// The socket hooks come from the plan; XDP is attached here, per interface.
class NetworkProbe final : public SkeletonProbe<NetworkTraits> {
 public:
  NetworkProbe() : SkeletonProbe("network") {}
  ~NetworkProbe() override { detach_xdp(); }
  NetworkProbe(const NetworkProbe&) = delete;
  NetworkProbe& operator=(const NetworkProbe&) = delete;

 private:
  Result<void> after_start(const ProbeOptions& options) override {
    for (const auto& entry : options.xdp_blocklist) {
      auto parsed = parse_block_entry(entry);
      if (!parsed) {
        return std::unexpected(parsed.error());
      }
      if (auto r = block(*parsed); !r) {
        return r;
      }
    }
    for (const auto& iface : resolve_xdp_ifaces(options.xdp_ifaces)) {
      mutable_status().push_back(attach_xdp(iface));
    }
    return {};
  }

  void before_detach() override { detach_xdp(); }

  HookStatus attach_xdp(const std::string& iface) {
    HookStatus s{family(), "xdp:" + iface, "xdp", HookState::kFailed, ""};
    const unsigned int ifindex = if_nametoindex(iface.c_str());
    if (ifindex == 0) {
      s.error = fmt::format("no interface {}", iface);
      return s;
    }
    // The kernel picks native mode when the driver supports XDP; if that
    // attach fails (driver limits), fall back to generic (SKB) mode.
    bpf_link* link = bpf_program__attach_xdp(skel()->progs.xdp_ingress, static_cast<int>(ifindex));
    if (link != nullptr) {
      xdp_links_.push_back(link);
    } else {
      const int native_err = errno;
      LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = XDP_FLAGS_SKB_MODE);
      const int fd = bpf_link_create(bpf_program__fd(skel()->progs.xdp_ingress),
                                     static_cast<int>(ifindex), BPF_XDP, &lopts);
      if (fd < 0) {
        s.error = fmt::format("attach: native {}, generic {}", std::strerror(native_err),
                              std::strerror(errno));
        return s;
      }
      xdp_link_fds_.push_back(fd);
      s.error = fmt::format("native attach failed ({}), using generic", std::strerror(native_err));
    }
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (bpf_xdp_query(static_cast<int>(ifindex), 0, &q) == 0) {
      s.mode = q.attach_mode == XDP_ATTACHED_DRV   ? "xdp-native"
               : q.attach_mode == XDP_ATTACHED_SKB ? "xdp-generic"
               : q.attach_mode == XDP_ATTACHED_HW  ? "xdp-offload"
                                                   : "xdp";
    }
    s.state = HookState::kAttached;
    return s;
  }

  Result<void> block(const BlockEntry& entry) {
    vigil_addr_key key{};
    key.family = entry.family;
    std::memcpy(key.addr, entry.addr, sizeof(key.addr));
    const std::uint64_t expiry =
        entry.ttl_s == 0 ? 0
                         : monotonic_ns() + static_cast<std::uint64_t>(entry.ttl_s) * 1000000000ULL;
    if (bpf_map__update_elem(skel()->maps.blocklist, &key, sizeof(key), &expiry, sizeof(expiry),
                             BPF_ANY) != 0) {
      return make_error(ErrorCode::kKernel, fmt::format("blocklist: {}", std::strerror(errno)));
    }
    return {};
  }

  void detach_xdp() {
    for (auto* l : xdp_links_) {
      bpf_link__destroy(l);
    }
    xdp_links_.clear();
    for (int fd : xdp_link_fds_) {
      close(fd);  // closing a link fd detaches it
    }
    xdp_link_fds_.clear();
  }

  std::vector<bpf_link*> xdp_links_;
  std::vector<int> xdp_link_fds_;  // generic-mode fallback links
};

}  // namespace

std::unique_ptr<Probe> make_network_probe() { return std::make_unique<NetworkProbe>(); }

}  // namespace vigil::agent
