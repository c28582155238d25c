// The network probe on the real kernel. XDP tests build their own two hosts: a
// network namespace joined to this one by a veth pair (10.200.1.2 -> 10.200.1.1),
// with XDP on the root-side end; nothing touches any other interface. Socket
// tests use loopback and port 0.
#include "vigil/agent/network_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include <cstdlib>
#include <thread>

#include "probe_fixture.h"
#include "vigil/abi.h"

namespace vigil::agent {
namespace {

constexpr const char* kNetns = "vgl-net-ns";
constexpr const char* kRootIf = "vgl-n0";
constexpr const char* kNsIf = "vgl-n1";
constexpr const char* kRootAddr = "10.200.1.1";
constexpr const char* kNsAddr = "10.200.1.2";

bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

void teardown_hosts() {
  sh(std::string("ip link del ") + kRootIf);
  sh(std::string("ip netns del ") + kNetns);
}

bool setup_hosts() {
  teardown_hosts();  // leftovers of a crashed run
  return sh(std::string("ip netns add ") + kNetns) &&
         sh(std::string("ip link add ") + kRootIf + " type veth peer name " + kNsIf) &&
         sh(std::string("ip link set ") + kNsIf + " netns " + kNetns) &&
         sh(std::string("ip addr add ") + kRootAddr + "/24 dev " + kRootIf) &&
         sh(std::string("ip link set ") + kRootIf + " up") &&
         sh(std::string("ip -n ") + kNetns + " addr add " + kNsAddr + "/24 dev " + kNsIf) &&
         sh(std::string("ip -n ") + kNetns + " link set " + kNsIf + " up") &&
         sh(std::string("ip -n ") + kNetns + " link set lo up");
}

// Runs `fn` in a child inside the namespace; returns its exit status code.
template <typename Fn>
int in_netns(Fn&& fn) {
  const pid_t child = fork();
  if (child == 0) {
    const int fd = open((std::string("/var/run/netns/") + kNetns).c_str(), O_RDONLY);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      _exit(100);
    }
    _exit(fn());
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

sockaddr_in addr4(const char* ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// Non-blocking connects: one SYN each, answered by RST from the closed port.
int syn_to_ports(int first, int count, int repeat = 1) {
  for (int r = 0; r < repeat; ++r) {
    for (int p = first; p < first + count; ++p) {
      const int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      auto a = addr4(kRootAddr, static_cast<std::uint16_t>(p));
      connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
      close(s);
    }
  }
  return 0;
}

class NetworkProbeTest : public ProbeFixture<&make_network_probe> {
 protected:
  void SetUp() override {
    ProbeFixture<&make_network_probe>::SetUp();
    if (IsSkipped()) return;
    ASSERT_TRUE(setup_hosts()) << "cannot create the test namespace and veth pair";
  }
  void TearDown() override {
    ProbeFixture<&make_network_probe>::TearDown();
    teardown_hosts();
  }
  void start_xdp(bool enforce = false, std::vector<std::string> block = {}) {
    ProbeOptions o;
    o.xdp_ifaces = {kRootIf};
    o.xdp_enforce = enforce;
    o.xdp_blocklist = std::move(block);
    start(o);
  }
  std::vector<NetSummaryData> summaries_from(const std::string& src) {
    std::vector<NetSummaryData> out;
    for (const auto& e : events_) {
      if (e.type == EventType::kNetSummary && std::get<NetSummaryData>(e.data).src == src) {
        out.push_back(std::get<NetSummaryData>(e.data));
      }
    }
    return out;
  }
};

TEST_F(NetworkProbeTest, XdpAttachesToTheNamedVethOnly) {
  start_xdp();
  bool xdp = false;
  for (const auto& s : probe_->status()) {
    EXPECT_EQ(s.state, HookState::kAttached) << s.hook << ": " << s.error;
    if (s.hook == std::string("xdp:") + kRootIf) {
      xdp = true;
      EXPECT_TRUE(s.mode == "xdp-native" || s.mode == "xdp-generic") << s.mode;
    }
    EXPECT_EQ(s.hook.find("eth"), std::string::npos) << "never anything but the test veth";
  }
  EXPECT_TRUE(xdp);
}

TEST_F(NetworkProbeTest, SynScanIsSummarisedWithTheRightSourceAndPortCount) {
  start_xdp();
  constexpr int kPorts = 600;
  ASSERT_EQ(in_netns([] { return syn_to_ports(20000, kPorts); }), 0);
  ASSERT_TRUE(wait_for([](const Event& e) {
    return e.type == EventType::kNetSummary &&
           (std::get<NetSummaryData>(e.data).reasons & VIGIL_NET_SCAN);
  }));
  seen_any([](const Event&) { return false; });  // drain the rest
  std::uint32_t best = 0;
  std::size_t count = 0;
  for (const auto& s : summaries_from(kNsAddr)) {
    if (s.reasons & VIGIL_NET_SCAN) {
      ++count;
      best = std::max(best, s.dports);
      EXPECT_EQ(s.family, AF_INET);
      EXPECT_GE(s.syns, 100U);
    }
  }
  EXPECT_NEAR(best, kPorts, kPorts * 0.10) << "distinct ports estimated within 10%";
  EXPECT_LT(count, 100U) << "summaries, not one record per packet";
  EXPECT_TRUE(summaries_from(kRootAddr).empty()) << "the victim is not the source";
}

TEST_F(NetworkProbeTest, SynFloodIsSummarised) {
  start_xdp();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(in_netns([] { return syn_to_ports(80, 1, 3000); }), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3)) << "bounded flood";
  ASSERT_TRUE(wait_for([](const Event& e) {
    return e.type == EventType::kNetSummary &&
           (std::get<NetSummaryData>(e.data).reasons & VIGIL_NET_SYN_FLOOD);
  }));
  std::uint32_t max_syns = 0;
  for (const auto& s : summaries_from(kNsAddr)) {
    max_syns = std::max(max_syns, s.syns);
    EXPECT_FALSE(s.reasons & VIGIL_NET_SCAN) << "one port is no scan";
  }
  EXPECT_GE(max_syns, 2000U);
}

TEST_F(NetworkProbeTest, NormalTrafficPassesAndNothingIsDropped) {
  start_xdp();
  const int ls = socket(AF_INET, SOCK_STREAM, 0);
  auto a = addr4(kRootAddr, 0);
  ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(ls, 1), 0);
  socklen_t len = sizeof(a);
  getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  const std::uint16_t port = ntohs(a.sin_port);
  constexpr std::size_t kBytes = 1 << 20;
  std::size_t received = 0;
  std::thread server([&] {
    const int c = accept(ls, nullptr, nullptr);
    char buf[65536];
    ssize_t n;
    while ((n = read(c, buf, sizeof(buf))) > 0) received += static_cast<std::size_t>(n);
    close(c);
  });
  EXPECT_EQ(in_netns([port] {
              const int s = socket(AF_INET, SOCK_STREAM, 0);
              auto to = addr4(kRootAddr, port);
              if (connect(s, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) return 1;
              std::vector<char> data(kBytes, 'v');
              std::size_t sent = 0;
              while (sent < data.size()) {
                const ssize_t n = write(s, data.data() + sent, data.size() - sent);
                if (n <= 0) return 2;
                sent += static_cast<std::size_t>(n);
              }
              close(s);
              return 0;
            }),
            0);
  server.join();
  close(ls);
  EXPECT_EQ(received, kBytes);
  EXPECT_GT(kernel_stat(VIGIL_STAT_NET_XDP_PKTS), 0U) << "XDP saw the transfer";
  EXPECT_EQ(kernel_stat(VIGIL_STAT_NET_XDP_DROPS), 0U);
}

// Sends `n` UDP datagrams from the namespace to the root side; returns how many arrived.
int udp_delivered(int n) {
  const int rs = socket(AF_INET, SOCK_DGRAM, 0);
  auto a = addr4(kRootAddr, 0);
  bind(rs, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(rs, reinterpret_cast<sockaddr*>(&a), &len);
  const std::uint16_t port = ntohs(a.sin_port);
  in_netns([port, n] {
    const int s = socket(AF_INET, SOCK_DGRAM, 0);
    auto to = addr4(kRootAddr, port);
    for (int i = 0; i < n; ++i) {
      sendto(s, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    }
    return 0;
  });
  timeval tv{0, 300000};
  setsockopt(rs, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int got = 0;
  char c;
  while (recv(rs, &c, 1, 0) == 1) ++got;
  close(rs);
  return got;
}

TEST_F(NetworkProbeTest, BlocklistDropsAndCountsWhenEnforcing) {
  start_xdp(/*enforce=*/true, {kNsAddr});
  EXPECT_EQ(udp_delivered(20), 0);
  EXPECT_GE(kernel_stat(VIGIL_STAT_NET_XDP_DROPS), 20U);
}

TEST_F(NetworkProbeTest, BlocklistDoesNothingWhenNotEnforcing) {
  start_xdp(/*enforce=*/false, {kNsAddr});
  EXPECT_EQ(udp_delivered(20), 20);
  EXPECT_EQ(kernel_stat(VIGIL_STAT_NET_XDP_DROPS), 0U);
}

TEST_F(NetworkProbeTest, ExpiredBlocklistEntriesStopDropping) {
  start_xdp(/*enforce=*/true, {std::string(kNsAddr) + "/1"});
  EXPECT_EQ(udp_delivered(5), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(udp_delivered(5), 5) << "the entry expired after one second";
}

class SocketEventsTest : public ProbeFixture<&make_network_probe> {};

TEST_F(SocketEventsTest, ListenConnectAcceptCloseCarryProcessAndAddresses) {
  start();
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t server = fork();
  if (server == 0) {
    const int ls = socket(AF_INET, SOCK_STREAM, 0);
    auto a = addr4("127.0.0.1", 0);
    bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(ls, 1);
    socklen_t len = sizeof(a);
    getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
    std::uint16_t port = ntohs(a.sin_port);
    (void)!write(ready[1], &port, sizeof(port));
    const int c = accept(ls, nullptr, nullptr);
    char buf[64];
    while (read(c, buf, sizeof(buf)) > 0) {
    }
    close(c);
    _exit(0);
  }
  std::uint16_t port = 0;
  ASSERT_EQ(read(ready[0], &port, sizeof(port)), static_cast<ssize_t>(sizeof(port)));
  const pid_t client = fork();
  if (client == 0) {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    auto to = addr4("127.0.0.1", port);
    if (connect(s, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) _exit(1);
    (void)!write(s, "hello vigil", 11);
    close(s);
    _exit(0);
  }
  ASSERT_EQ(WEXITSTATUS(wait_child(client)), 0);
  wait_child(server);
  close(ready[0]);
  close(ready[1]);

  auto l = wait_for([&](const Event& e) {
    return e.type == EventType::kListen && e.pid == static_cast<std::uint32_t>(server);
  });
  ASSERT_TRUE(l);
  EXPECT_EQ(std::get<SockData>(l->data).lport, port);
  EXPECT_EQ(std::get<SockData>(l->data).laddr, "127.0.0.1");
  auto c = wait_for([&](const Event& e) {
    return e.type == EventType::kConnect && e.pid == static_cast<std::uint32_t>(client);
  });
  ASSERT_TRUE(c);
  const auto& cd = std::get<SockData>(c->data);
  EXPECT_EQ(cd.rport, port);
  EXPECT_EQ(cd.raddr, "127.0.0.1");
  EXPECT_EQ(cd.ret, 0);
  EXPECT_EQ(cd.proto, IPPROTO_TCP);
  EXPECT_GT(cd.lport, 0U);
  EXPECT_EQ(c->ppid, self_pid());
  auto a = wait_for([&](const Event& e) {
    return e.type == EventType::kAccept && e.pid == static_cast<std::uint32_t>(server);
  });
  ASSERT_TRUE(a);
  EXPECT_EQ(std::get<SockData>(a->data).lport, port);
  EXPECT_EQ(std::get<SockData>(a->data).rport, cd.lport) << "the accepted peer is the client";
  auto closed = wait_for([&](const Event& e) {
    return e.type == EventType::kClose && e.pid == static_cast<std::uint32_t>(client);
  });
  ASSERT_TRUE(closed) << "close attributed to the connecting process";
  EXPECT_GE(std::get<SockData>(closed->data).bytes_sent, 11U);
}

TEST_F(SocketEventsTest, RefusedConnectAndUdpDestinationsDeduplicated) {
  start();
  const pid_t child = fork();
  if (child == 0) {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    auto to = addr4("127.0.0.1", 1);  // nothing listens on port 1
    const int rc = connect(s, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    const int u = socket(AF_INET, SOCK_DGRAM, 0);
    auto dst = addr4("127.0.0.1", 9);
    for (int i = 0; i < 5; ++i) {
      sendto(u, "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));
    }
    _exit(rc == -1 && errno == ECONNREFUSED ? 0 : 1);
  }
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
  auto c = wait_for([&](const Event& e) {
    return e.type == EventType::kConnect && e.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(c);
  EXPECT_EQ(std::get<SockData>(c->data).ret, -ECONNREFUSED);
  EXPECT_EQ(std::get<SockData>(c->data).rport, 1U);
  ASSERT_TRUE(wait_for([&](const Event& e) {
    return e.type == EventType::kUdpSend && e.pid == static_cast<std::uint32_t>(child) &&
           std::get<SockData>(e.data).rport == 9;
  }));
  std::size_t sends = 0;
  seen_any([](const Event&) { return false; });
  for (const auto& e : events_) {
    sends += e.type == EventType::kUdpSend && e.pid == static_cast<std::uint32_t>(child);
  }
  EXPECT_EQ(sends, 1U) << "five datagrams to one destination: one event";
  EXPECT_GE(kernel_stat(VIGIL_STAT_NET_UDP_DEDUP), 4U);
}

}  // namespace
}  // namespace vigil::agent
