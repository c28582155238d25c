#include "vigil/agent/process_table.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "util/test_util.h"
#include "vigil/abi.h"

namespace vigil::agent {
namespace {

namespace fs = std::filesystem;

// Writes a /proc/PID entry the way the kernel lays it out.
void fake_proc(const fs::path& root, std::uint32_t pid, std::uint32_t ppid, const std::string& comm,
               const std::string& exe, const std::string& cmdline, std::uint32_t uid,
               std::uint32_t euid) {
  const auto dir = root / std::to_string(pid);
  fs::create_directories(dir);
  std::ofstream(dir / "stat") << pid << " (" << comm << ") S " << ppid
                              << " 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000 100\n";
  std::ofstream(dir / "status") << "Name:\t" << comm << "\nUid:\t" << uid << '\t' << euid << '\t'
                                << euid << '\t' << euid << "\n";
  std::ofstream(dir / "cmdline", std::ios::binary)
      .write(cmdline.data(), static_cast<std::streamsize>(cmdline.size()));
  if (!exe.empty()) {
    fs::create_symlink(exe, dir / "exe");
  }
}

TEST(ProcessTable, SeedsFromProcTree) {
  test::TempDir proc;
  fake_proc(proc.path(), 1, 0, "systemd", "/usr/lib/systemd/systemd",
            std::string("/sbin/init\0", 11), 0, 0);
  fake_proc(proc.path(), 200, 1, "my (odd) name", "/usr/bin/python3",
            std::string("python3\0-c\0print(1)\0", 20), 1000, 0);
  fs::create_directories(proc.path() / "self");  // non-numeric entries are ignored
  std::ofstream(proc.path() / "uptime") << "1 1\n";
  fs::create_directories(proc.path() / "999");  // vanished process: no stat file

  ProcessTable t(100, proc.path());
  auto n = t.seed();
  ASSERT_OK(n);
  EXPECT_EQ(*n, 2U);
  const auto* p = t.find(200);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->ppid, 1U);
  EXPECT_EQ(p->comm, "my (odd) name");
  EXPECT_EQ(p->exe, "/usr/bin/python3");
  EXPECT_EQ(p->args, (std::vector<std::string>{"python3", "-c", "print(1)"}));
  EXPECT_EQ(p->uid, 1000U);
  EXPECT_EQ(p->euid, 0U);
  EXPECT_GT(p->start_boot_ns, 0U);
  EXPECT_EQ(t.lineage(200), (std::vector<std::uint32_t>{200, 1}));
}

TEST(ProcessTable, MalformedStatIsSkippedNotFatal) {
  test::TempDir proc;
  fs::create_directories(proc.path() / "5");
  std::ofstream(proc.path() / "5" / "stat") << "garbage without parens";
  fake_proc(proc.path(), 6, 1, "ok", "", "", 0, 0);
  ProcessTable t(10, proc.path());
  auto n = t.seed();
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1U);
  EXPECT_FALSE(t.read_proc(5));
}

TEST(ProcessTable, MissingProcRootIsAnError) {
  ProcessTable t(10, "/nonexistent/proc");
  EXPECT_FALSE(t.seed());
}

Event make(EventType type, std::uint32_t pid, std::uint32_t ppid) {
  Event e;
  e.type = type;
  e.pid = pid;
  e.tid = pid;
  e.ppid = ppid;
  e.comm = "c" + std::to_string(pid);
  return e;
}

TEST(ProcessTable, ForkExecExitLifecycle) {
  ProcessTable t(100, "");
  Event exec = make(EventType::kExec, 10, 1);
  exec.exe = "/usr/bin/bash";
  exec.args = {"bash"};
  exec.data = ExecData{.filename = "/usr/bin/bash"};
  t.apply(exec);
  ASSERT_NE(t.find(10), nullptr);

  Event fork = make(EventType::kFork, 10, 1);
  fork.data = ForkData{.child_pid = 11, .child_tid = 11};
  t.apply(fork);
  EXPECT_EQ(fork.exe, "/usr/bin/bash");
  ASSERT_NE(t.find(11), nullptr);
  EXPECT_EQ(t.find(11)->exe, "/usr/bin/bash") << "a child inherits the parent's image";
  EXPECT_EQ(t.find(11)->ppid, 10U);

  Event exec2 = make(EventType::kExec, 11, 10);
  exec2.exe = "/usr/bin/id";
  exec2.args = {"id", "-u"};
  exec2.data = ExecData{.filename = "/usr/bin/id"};
  t.apply(exec2);
  EXPECT_EQ(t.find(11)->exe, "/usr/bin/id");
  EXPECT_EQ(t.lineage(11), (std::vector<std::uint32_t>{11, 10}));

  Event setuid = make(EventType::kSetuid, 11, 10);
  setuid.data = SetidData{};
  t.apply(setuid);
  EXPECT_EQ(setuid.exe, "/usr/bin/id") << "non-exec events are enriched from the table";
  EXPECT_EQ(setuid.args, (std::vector<std::string>{"id", "-u"}));

  Event exit = make(EventType::kExit, 11, 10);
  exit.data = ExitData{};
  t.apply(exit);
  EXPECT_EQ(exit.exe, "/usr/bin/id");
  EXPECT_EQ(t.find(11), nullptr) << "exit frees the entry";
}

TEST(ProcessTable, ListeningIsKeptPerProgramAndInheritedByWorkers) {
  test::TempDir dir;
  fake_proc(dir.path(), 20, 1, "srv", "/usr/bin/srv", std::string("srv\0", 4), 0, 0);
  fs::create_directory_symlink("/var/www", dir.path() / "20" / "cwd");
  ProcessTable t(100, dir.path());
  ASSERT_OK(t.seed());
  ASSERT_NE(t.find(20), nullptr);
  EXPECT_EQ(t.find(20)->cwd, "/var/www") << "cwd is read while seeding";
  EXPECT_FALSE(t.find(20)->listens);

  Event refused = make(EventType::kListen, 20, 1);
  refused.data = SockData{.ret = -98};  // EADDRINUSE: not listening
  t.apply(refused);
  EXPECT_FALSE(t.find(20)->listens);
  Event listen = make(EventType::kListen, 20, 1);
  listen.data = SockData{.ret = 0, .lport = 8080};
  t.apply(listen);
  EXPECT_TRUE(t.find(20)->listens);

  Event fork = make(EventType::kFork, 20, 1);
  fork.data = ForkData{.child_pid = 21, .child_tid = 21};
  t.apply(fork);
  ASSERT_NE(t.find(21), nullptr);
  EXPECT_TRUE(t.find(21)->listens) << "a forked worker shares the listening socket";
  EXPECT_EQ(t.find(21)->cwd, "/var/www");

  Event exec = make(EventType::kExec, 21, 20);
  exec.exe = "/usr/bin/dash";
  exec.data = ExecData{.filename = "/usr/bin/dash"};
  t.apply(exec);
  EXPECT_FALSE(t.find(21)->listens) << "a new program starts without the verdict";
}

TEST(ProcessTable, BoundedWithLruEviction) {
  ProcessTable t(3, "");
  for (std::uint32_t pid = 1; pid <= 3; ++pid) {
    Event e = make(EventType::kExec, pid, 0);
    e.data = ExecData{};
    t.apply(e);
  }
  Event touch = make(EventType::kKill, 1, 0);  // pid 1 becomes most recent
  touch.data = KillData{};
  t.apply(touch);
  Event e = make(EventType::kExec, 4, 0);
  e.data = ExecData{};
  t.apply(e);
  EXPECT_EQ(t.size(), 3U);
  EXPECT_EQ(t.find(2), nullptr) << "least recently seen is evicted";
  EXPECT_NE(t.find(1), nullptr);
  EXPECT_EQ(t.stats().evictions, 1U);
}

TEST(ProcessTable, ExecThroughProcSelfExeOrAnFdNamesTheRealProgram) {
  // busybox's `sh -c` re-executes /proc/self/exe with argv[0] "sh"; fexecve
  // runs /proc/self/fd/N: neither path says which program runs, the kernel's link does.
  test::TempDir proc;
  fake_proc(proc.path(), 40, 1, "exe", "/bin/busybox", std::string("sh\0", 3), 0, 0);
  fake_proc(proc.path(), 41, 1, "6", "/usr/bin/payload", std::string("x\0", 2), 0, 0);
  fake_proc(proc.path(), 42, 1, "true", "/usr/bin/true", std::string("true\0", 5), 0, 0);
  ProcessTable t(10, proc.path());
  const auto exec = [&](std::uint32_t pid, const std::string& filename) {
    Event e = make(EventType::kExec, pid, 1);
    e.exe = filename;
    e.data = ExecData{.filename = filename};
    t.apply(e);
    return e.exe;
  };
  EXPECT_EQ(exec(40, "/proc/self/exe"), "/bin/busybox");
  EXPECT_EQ(exec(41, "/proc/self/fd/6"), "/usr/bin/payload");
  // An ordinary absolute path is taken as the kernel gave it (no readlink).
  EXPECT_EQ(exec(42, "/bin/true"), "/bin/true");
}

TEST(ProcessTable, UnknownPidIsReadFromProcLate) {
  test::TempDir proc;
  fake_proc(proc.path(), 77, 1, "late", "/usr/bin/late", std::string("late\0", 5), 5, 5);
  ProcessTable t(10, proc.path());
  Event e = make(EventType::kPtrace, 77, 1);
  e.data = PtraceData{};
  t.apply(e);
  EXPECT_EQ(e.exe, "/usr/bin/late");
  EXPECT_EQ(t.stats().proc_lookups, 1U);
}

// /proc/PID/ns/* links and the NSpid and CapEff lines of status, as the kernel shows them.
void fake_ns(const fs::path& root, std::uint32_t pid, const Namespaces& ns,
             const std::string& nspid) {
  const auto dir = root / std::to_string(pid) / "ns";
  fs::create_directories(dir);
  const std::pair<const char*, std::uint32_t> links[] = {
      {"mnt", ns.mnt}, {"pid", ns.pid}, {"net", ns.net},      {"user", ns.user},
      {"uts", ns.uts}, {"ipc", ns.ipc}, {"cgroup", ns.cgroup}};
  for (const auto& [name, ino] : links) {
    fs::create_symlink(std::string(name) + ":[" + std::to_string(ino) + "]", dir / name);
  }
  char cap[32];
  std::snprintf(cap, sizeof(cap), "%016llx", static_cast<unsigned long long>(ns.cap_eff));
  std::ofstream(root / std::to_string(pid) / "status", std::ios::app)
      << "NSpid:\t" << nspid << "\nCapInh:\t0000000000000000\nCapEff:\t" << cap << "\n";
}

constexpr Namespaces kHost{.mnt = 4026531841,
                           .pid = 4026531836,
                           .net = 4026531840,
                           .user = 4026531837,
                           .uts = 4026531838,
                           .ipc = 4026531839,
                           .cgroup = 4026531835,
                           .ns_pid = 1,
                           .cap_eff = 0x1ffffffffffULL};
constexpr Namespaces kContainer{.mnt = 4026532201,
                                .pid = 4026532204,
                                .net = 4026532206,
                                .user = 4026531837,  // no user namespace: the host's
                                .uts = 4026532202,
                                .ipc = 4026532203,
                                .cgroup = 4026532205,
                                .ns_pid = 1,
                                .cap_eff = 0xa80425fbULL};

TEST(ProcessTableNamespaces, SeededFromProcWithHostFromInit) {
  test::TempDir proc;
  fake_proc(proc.path(), 1, 0, "systemd", "/usr/lib/systemd/systemd", "", 0, 0);
  fake_ns(proc.path(), 1, kHost, "1");
  fake_proc(proc.path(), 300, 1, "sh", "/bin/sh", std::string("sh\0", 3), 0, 0);
  fake_ns(proc.path(), 300, kContainer, "300\t1");
  fake_proc(proc.path(), 400, 1, "zombie", "", "", 0, 0);  // ns links gone: unknown

  ProcessTable t(10, proc.path());
  EXPECT_EQ(t.host_namespaces().mnt, kHost.mnt);
  EXPECT_EQ(t.host_namespaces().net, kHost.net);
  ASSERT_OK(t.seed());
  ASSERT_NE(t.find(300), nullptr);
  EXPECT_EQ(t.find(300)->ns, kContainer) << "inodes, the last NSpid and CapEff";
  EXPECT_EQ(t.find(1)->ns, kHost);
  EXPECT_FALSE(t.find(400)->ns.known());

  Event in_container = make(EventType::kKill, 300, 1);
  in_container.data = KillData{};
  t.apply(in_container);
  EXPECT_EQ(in_container.ns, kContainer);
  EXPECT_FALSE(in_container.host_ns);

  Event on_host = make(EventType::kKill, 1, 0);
  on_host.data = KillData{};
  t.apply(on_host);
  EXPECT_EQ(on_host.ns, kHost);
  EXPECT_TRUE(on_host.host_ns);

  Event unknown = make(EventType::kKill, 400, 1);
  unknown.data = KillData{};
  t.apply(unknown);
  EXPECT_FALSE(unknown.ns.known());
  EXPECT_FALSE(unknown.host_ns) << "unknown namespaces are not the host's";
}

// An init that hides its namespace links (not dumpable, more capabilities
// than the agent): kthreadd's are the kernel's initial ones.
TEST(ProcessTableNamespaces, HostFallsBackToKthreaddWhenInitHidesItsLinks) {
  test::TempDir proc;
  fake_proc(proc.path(), 1, 0, "process_api", "", "", 0, 0);  // no ns links readable
  fake_proc(proc.path(), 2, 0, "kthreadd", "", "", 0, 0);
  fake_ns(proc.path(), 2, kHost, "2");
  EXPECT_EQ(ProcessTable(10, proc.path()).host_namespaces().mnt, kHost.mnt);
  EXPECT_EQ(ProcessTable(10, proc.path()).host_namespaces().user, kHost.user);

  test::TempDir other;  // pid 2 is not kthreadd (a container's pid namespace): no fallback
  fake_proc(other.path(), 1, 0, "init", "", "", 0, 0);
  fake_proc(other.path(), 2, 1, "sh", "", "", 0, 0);
  fake_ns(other.path(), 2, kContainer, "2");
  EXPECT_FALSE(ProcessTable(10, other.path()).host_namespaces().known());
}

TEST(ProcessTableNamespaces, OnlyMntPidNetAndUserDecideHostNs) {
  ProcessTable t(10, "");
  EXPECT_FALSE(t.in_host_namespaces(kHost)) << "no host known: nothing is in it";
  t.set_host_namespaces(kHost);
  EXPECT_TRUE(t.in_host_namespaces(kHost));
  Namespaces uts = kHost;
  uts.uts = 1;
  uts.ipc = 2;
  uts.cgroup = 3;
  EXPECT_TRUE(t.in_host_namespaces(uts));
  for (auto field : {&Namespaces::mnt, &Namespaces::pid, &Namespaces::net, &Namespaces::user}) {
    Namespaces other = kHost;
    other.*field += 1;
    EXPECT_FALSE(t.in_host_namespaces(other));
  }
  EXPECT_FALSE(t.in_host_namespaces(Namespaces{}));
}

TEST(ProcessTableNamespaces, ExecForkAndNsChangeKeepThemCurrent) {
  ProcessTable t(10, "");
  t.set_host_namespaces(kHost);

  Event exec = make(EventType::kExec, 50, 1);
  exec.exe = "/usr/bin/unshare";
  exec.data = ExecData{.filename = "/usr/bin/unshare"};
  exec.ns = kHost;
  t.apply(exec);
  EXPECT_TRUE(exec.host_ns);
  EXPECT_EQ(t.find(50)->ns, kHost);

  // unshare -n: the caller's net namespace changes.
  Namespaces netns = kHost;
  netns.net = 4026532300;
  Event unshare = make(EventType::kNsChange, 50, 1);
  unshare.data = NsChangeData{.syscall = VIGIL_SYS_UNSHARE, .flags = 0x40000000, .after = netns};
  unshare.ns = netns;
  t.apply(unshare);
  const auto& u = std::get<NsChangeData>(unshare.data);
  EXPECT_EQ(u.before, kHost) << "before is what the table knew";
  EXPECT_EQ(unshare.ns, netns);
  EXPECT_FALSE(unshare.host_ns);
  EXPECT_EQ(t.find(50)->ns, netns);
  EXPECT_EQ(unshare.exe, "/usr/bin/unshare");

  // A fork the kernel could not show the child of (classic tracepoint): the
  // child has its parent's namespaces.
  Event fork = make(EventType::kFork, 50, 1);
  fork.data = ForkData{.child_pid = 51, .child_tid = 51};
  t.apply(fork);
  EXPECT_EQ(t.find(51)->ns, netns);
  EXPECT_EQ(fork.ns, netns);
  EXPECT_FALSE(fork.host_ns);

  // clone(CLONE_NEWPID | CLONE_NEWNS): the kernel's view of the child wins.
  Event clone = make(EventType::kFork, 50, 1);
  clone.data = ForkData{.child_pid = 52, .child_tid = 52};
  clone.ns = kContainer;
  t.apply(clone);
  EXPECT_EQ(t.find(52)->ns, kContainer);
  EXPECT_EQ(clone.ns, kContainer) << "a fork's ns are the child's";

  // Other events inherit the process's; capset moves cap_eff.
  Event capset = make(EventType::kCapset, 52, 50);
  capset.data = SetidData{.syscall = VIGIL_SYS_CAPSET, .new_cap_eff = 0x400};
  t.apply(capset);
  EXPECT_EQ(capset.ns.mnt, kContainer.mnt);
  EXPECT_EQ(capset.ns.cap_eff, 0x400U);
  EXPECT_EQ(t.find(52)->ns.cap_eff, 0x400U);

  // nsenter -t 1 -m from the container: back in the host's mount namespace.
  Namespaces escaped = kContainer;
  escaped.mnt = kHost.mnt;
  Event setns = make(EventType::kNsChange, 52, 50);
  setns.data = NsChangeData{.syscall = VIGIL_SYS_SETNS, .flags = 0x00020000, .after = escaped};
  setns.ns = escaped;
  t.apply(setns);
  EXPECT_EQ(std::get<NsChangeData>(setns.data).before.mnt, kContainer.mnt);
  EXPECT_EQ(std::get<NsChangeData>(setns.data).before.cap_eff, 0x400U);
  EXPECT_EQ(t.find(52)->ns.mnt, kHost.mnt);

  Event exit = make(EventType::kExit, 52, 50);
  exit.data = ExitData{};
  t.apply(exit);
  EXPECT_EQ(exit.ns, escaped) << "an exit carries what the process had";
}

TEST(ProcessTableNamespaces, NsChangeOfAnUnseenProcessHasNoBefore) {
  test::TempDir proc;
  fake_proc(proc.path(), 60, 1, "nsenter", "/usr/bin/nsenter", "", 0, 0);
  fake_ns(proc.path(), 60, kHost, "60");  // /proc, read late, shows the state after the call
  ProcessTable t(10, proc.path());
  Event setns = make(EventType::kNsChange, 60, 1);
  setns.data = NsChangeData{.syscall = VIGIL_SYS_SETNS, .after = kHost};
  setns.ns = kHost;
  t.apply(setns);
  EXPECT_FALSE(std::get<NsChangeData>(setns.data).before.known());
  EXPECT_EQ(setns.exe, "/usr/bin/nsenter");
  EXPECT_EQ(t.find(60)->ns, kHost);
}

}  // namespace
}  // namespace vigil::agent

namespace vigil::agent {
namespace {

TEST(ProcessTableStdio, SocketOnStdinOrStdoutIsSeen) {
  test::TempDir proc;
  std::filesystem::create_directories(proc.path() / "10" / "fd");
  std::filesystem::create_directories(proc.path() / "11" / "fd");
  std::filesystem::create_symlink("socket:[4242]", proc.path() / "10" / "fd" / "0");
  std::filesystem::create_symlink("/dev/pts/3", proc.path() / "11" / "fd" / "0");
  std::filesystem::create_symlink("pipe:[77]", proc.path() / "11" / "fd" / "1");
  ProcessTable table(10, proc.path());
  EXPECT_TRUE(table.stdio_is_socket(10));
  EXPECT_FALSE(table.stdio_is_socket(11));
  EXPECT_FALSE(table.stdio_is_socket(12));  // gone
  ProcessTable no_proc(10, "");
  EXPECT_FALSE(no_proc.stdio_is_socket(10));
}

}  // namespace
}  // namespace vigil::agent
