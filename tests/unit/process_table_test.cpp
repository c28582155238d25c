#include "vigil/agent/process_table.h"

#include <gtest/gtest.h>

#include <fstream>

#include "util/test_util.h"

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
