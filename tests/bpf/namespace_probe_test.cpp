// The process probe's namespace and cgroup records on the real kernel: exec and
// fork carry the task's namespaces, setns/unshare report the namespaces after
// the call, and cgroup v2 directories made and removed are reported with the
// id that bpf_get_current_cgroup_id() gives their tasks (v1 hierarchies are
// filtered out in the kernel). Events go through a real ProcessTable where
// host_ns is asserted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "probe_fixture.h"
#include "vigil/abi.h"
#include "vigil/agent/process_probe.h"
#include "vigil/agent/process_table.h"

namespace vigil::agent {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCgroup2 = "/sys/fs/cgroup/unified";

// The namespaces of /proc/PID as the kernel names them (inode of each link).
Namespaces proc_ns(pid_t pid) {
  auto ino = [&](const char* name) -> std::uint32_t {
    struct stat st {};
    const auto p = "/proc/" + std::to_string(pid) + "/ns/" + name;
    return ::stat(p.c_str(), &st) == 0 ? static_cast<std::uint32_t>(st.st_ino) : 0;
  };
  return Namespaces{.mnt = ino("mnt"),
                    .pid = ino("pid"),
                    .net = ino("net"),
                    .user = ino("user"),
                    .uts = ino("uts"),
                    .ipc = ino("ipc"),
                    .cgroup = ino("cgroup")};
}

std::uint64_t cap_eff_of_self() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("CapEff:")) {
      return std::stoull(line.substr(7), nullptr, 16);
    }
  }
  return 0;
}

// Runs argv in a child (execv) and returns its pid after it exited with 0.
pid_t run(const std::vector<const char*>& argv) {
  const pid_t child = fork();
  if (child == 0) {
    std::vector<const char*> a = argv;
    a.push_back(nullptr);
    execv(a[0], const_cast<char* const*>(a.data()));
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << argv[0] << " exited with status " << status;
  return child;
}

class NamespaceProbeTest : public ProbeFixture<&make_process_probe> {
 protected:
  void SetUp() override {
    ProbeFixture::SetUp();
    if (IsSkipped()) return;
    host_ = table_.host_namespaces();
    ASSERT_TRUE(host_.known()) << "the host's namespaces (/proc/1 or kthreadd) are readable";
    // This test runs on the host: its own namespaces are the host's.
    const auto self = proc_ns(getpid());
    ASSERT_EQ(self.mnt, host_.mnt);
    ASSERT_EQ(self.net, host_.net);
  }

  // Every collected event of `pid`, in ring buffer order, through the table.
  std::vector<Event> through_table(std::uint32_t pid) {
    std::vector<Event> out;
    for (auto e : events_) {
      if (e.pid == pid) {
        table_.apply(e);
        out.push_back(std::move(e));
      }
    }
    return out;
  }

  ProcessTable table_{65536, "/proc"};
  Namespaces host_;
};

TEST_F(NamespaceProbeTest, NewHooksAttachWithPreferredMode) {
  start();
  bool ns = false;
  bool cg = false;
  for (const auto& s : probe_->status()) {
    if (s.hook == "ns_change") {
      ns = true;
      EXPECT_EQ(s.state, HookState::kAttached) << s.error;
      EXPECT_EQ(s.mode, "tracepoint");
    } else if (s.hook == "cgroup") {
      cg = true;
      EXPECT_EQ(s.state, HookState::kAttached) << s.error;
      EXPECT_EQ(s.mode, "tp_btf");
    }
  }
  EXPECT_TRUE(ns && cg) << "ns_change and cgroup are in the per-probe status";
}

TEST_F(NamespaceProbeTest, HostExecAndForkCarryTheHostsNamespaces) {
  start();
  const pid_t child = run({"/usr/bin/true", "vigil-ns-host"});
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(e) << "no exec event for " << child;
  const auto mine = proc_ns(getpid());
  EXPECT_EQ(e->ns.mnt, mine.mnt);
  EXPECT_EQ(e->ns.pid, mine.pid);
  EXPECT_EQ(e->ns.net, mine.net);
  EXPECT_EQ(e->ns.user, mine.user);
  EXPECT_EQ(e->ns.uts, mine.uts);
  EXPECT_EQ(e->ns.ipc, mine.ipc);
  EXPECT_EQ(e->ns.cgroup, mine.cgroup);
  EXPECT_EQ(e->ns.ns_pid, static_cast<std::uint32_t>(child)) << "the host's pid namespace";
  EXPECT_EQ(e->ns.cap_eff, cap_eff_of_self()) << "root's capabilities survive the exec";

  auto f = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFork &&
           std::get<ForkData>(ev.data).child_pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(f);
  EXPECT_EQ(f->ns.mnt, mine.mnt) << "the child's, read from the child task";
  EXPECT_EQ(f->ns.ns_pid, static_cast<std::uint32_t>(child));

  Event x = *e;
  table_.apply(x);
  EXPECT_TRUE(x.host_ns);
}

// unshare -n -m: the unshare(2) call is reported with its flags and the new
// namespaces; the program it runs carries them, and is not in the host's.
TEST_F(NamespaceProbeTest, UnsharedChildIsNotInTheHostsNamespaces) {
  start();
  const pid_t child = run({"/usr/bin/unshare", "-n", "-m", "/usr/bin/true", "vigil-ns-unshare"});
  ASSERT_TRUE(wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child) &&
           ev.exe == "/usr/bin/true";
  })) << "no exec of true for "
      << child;
  const auto evs = through_table(static_cast<std::uint32_t>(child));

  const Event* change = nullptr;
  const Event* exec = nullptr;
  for (const auto& e : evs) {
    if (e.type == EventType::kNsChange) change = &e;
    if (e.type == EventType::kExec && e.exe == "/usr/bin/true") exec = &e;
  }
  ASSERT_NE(change, nullptr) << "no ns_change for unshare";
  const auto& c = std::get<NsChangeData>(change->data);
  EXPECT_EQ(c.syscall, static_cast<std::uint32_t>(VIGIL_SYS_UNSHARE));
  EXPECT_EQ(c.ret, 0);
  EXPECT_EQ(c.flags & (CLONE_NEWNET | CLONE_NEWNS),
            static_cast<std::uint32_t>(CLONE_NEWNET | CLONE_NEWNS));
  EXPECT_NE(c.after.net, host_.net);
  EXPECT_NE(c.after.mnt, host_.mnt);
  EXPECT_EQ(c.after.user, host_.user);
  EXPECT_EQ(c.after.pid, host_.pid);
  EXPECT_EQ(c.before.net, host_.net) << "before: the table's, from unshare's exec";
  EXPECT_EQ(c.before.mnt, host_.mnt);
  EXPECT_FALSE(change->host_ns);

  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->ns.net, c.after.net);
  EXPECT_EQ(exec->ns.mnt, c.after.mnt);
  EXPECT_NE(exec->ns.net, host_.net);
  EXPECT_NE(exec->ns.mnt, host_.mnt);
  EXPECT_FALSE(exec->host_ns);
}

// From a private mount namespace back into the host's with nsenter: the setns
// is reported with the host's mount namespace after it.
TEST_F(NamespaceProbeTest, NsenterBackToTheHostsMountNamespace) {
  start();
  // nsenter -t 1 where init's links are readable; else (a non-dumpable init
  // with more capabilities than root here) this test process, which is on the
  // host's mount namespace too.
  char buf[64];
  const bool init_readable = readlink("/proc/1/ns/mnt", buf, sizeof(buf)) > 0;
  const std::string target = init_readable ? "1" : std::to_string(getpid());
  const pid_t child = run({"/usr/bin/unshare", "-m", "--", "/usr/bin/nsenter", "-t", target.c_str(),
                           "-m", "/usr/bin/true", "vigil-ns-enter"});
  ASSERT_TRUE(wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child) &&
           ev.exe == "/usr/bin/true";
  }));
  const auto evs = through_table(static_cast<std::uint32_t>(child));
  const Event* setns = nullptr;
  const Event* nsenter = nullptr;
  const Event* last = nullptr;
  for (const auto& e : evs) {
    if (e.type == EventType::kNsChange &&
        std::get<NsChangeData>(e.data).syscall == VIGIL_SYS_SETNS) {
      setns = &e;
    }
    if (e.type == EventType::kExec && e.exe == "/usr/bin/nsenter") nsenter = &e;
    if (e.type == EventType::kExec && e.exe == "/usr/bin/true") last = &e;
  }
  ASSERT_NE(nsenter, nullptr);
  EXPECT_NE(nsenter->ns.mnt, host_.mnt) << "nsenter starts in unshare's mount namespace";
  EXPECT_FALSE(nsenter->host_ns);
  ASSERT_NE(setns, nullptr) << "no ns_change for setns";
  const auto& c = std::get<NsChangeData>(setns->data);
  EXPECT_EQ(c.ret, 0);
  EXPECT_TRUE(c.flags == 0 || c.flags == CLONE_NEWNS) << c.flags;
  EXPECT_EQ(c.after.mnt, host_.mnt) << "back in the host's mount namespace";
  EXPECT_EQ(c.before.mnt, nsenter->ns.mnt) << "before: the private one";
  EXPECT_TRUE(setns->host_ns);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->ns.mnt, host_.mnt);
}

// A refused setns is reported too (an attempt is worth seeing).
TEST_F(NamespaceProbeTest, FailedSetnsIsReportedWithItsError) {
  start();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = open("/proc/self/ns/net", O_RDONLY);
    // nstype says mount, the fd is a net namespace: EINVAL.
    const int r = setns(fd, CLONE_NEWNS);
    _exit(r == -1 && errno == EINVAL ? 0 : 1);
  }
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kNsChange && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(e);
  const auto& c = std::get<NsChangeData>(e->data);
  EXPECT_EQ(c.syscall, static_cast<std::uint32_t>(VIGIL_SYS_SETNS));
  EXPECT_EQ(c.ret, -EINVAL);
  EXPECT_EQ(c.flags, static_cast<std::uint32_t>(CLONE_NEWNS));
  EXPECT_EQ(c.after.mnt, host_.mnt) << "unchanged";
}

class CgroupProbeTest : public NamespaceProbeTest {
 protected:
  void SetUp() override {
    NamespaceProbeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(fs::exists(fs::path(kCgroup2) / "cgroup.procs")) << "cgroup2 at " << kCgroup2;
    name_ = "vigil-test-" + std::to_string(getpid());
    dir_ = fs::path(kCgroup2) / name_;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      rmdir(dir_.c_str());
    }
    NamespaceProbeTest::TearDown();
  }

  // mkdir, a task moved in that then execs, rmdir; asserts every field.
  void mkdir_move_rmdir() {
    ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0) << std::strerror(errno);
    struct stat st {};
    ASSERT_EQ(stat(dir_.c_str(), &st), 0);
    const auto id = static_cast<std::uint64_t>(st.st_ino);
    const std::string path = "/" + name_;

    auto made = wait_for([&](const Event& ev) {
      return ev.type == EventType::kCgroup && std::get<CgroupData>(ev.data).path == path &&
             !std::get<CgroupData>(ev.data).removed;
    });
    ASSERT_TRUE(made) << "no cgroup event for " << path;
    const auto& m = std::get<CgroupData>(made->data);
    EXPECT_EQ(m.id, id) << "the id is the directory's inode";
    EXPECT_EQ(m.level, 1U);
    EXPECT_EQ(made->pid, static_cast<std::uint32_t>(getpid()));

    // A task moved into it: its events carry that id as cgroup_id.
    int go[2];
    ASSERT_EQ(pipe(go), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(go[1]);
      char c = 0;
      if (read(go[0], &c, 1) != 1) _exit(2);
      execl("/usr/bin/true", "true", "vigil-in-cgroup", nullptr);
      _exit(127);
    }
    close(go[0]);
    {
      std::ofstream procs(dir_ / "cgroup.procs");
      procs << child << std::flush;
      EXPECT_TRUE(procs.good()) << "moving " << child << " into " << dir_;
    }
    ASSERT_EQ(write(go[1], "x", 1), 1);
    close(go[1]);
    ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
    auto e = wait_for([&](const Event& ev) {
      return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child);
    });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->cgroup_id, id);

    ASSERT_EQ(rmdir(dir_.c_str()), 0) << std::strerror(errno);
    auto removed = wait_for([&](const Event& ev) {
      return ev.type == EventType::kCgroup && std::get<CgroupData>(ev.data).path == path &&
             std::get<CgroupData>(ev.data).removed;
    });
    ASSERT_TRUE(removed) << "no cgroup rmdir event for " << path;
    EXPECT_EQ(std::get<CgroupData>(removed->data).id, id);
    EXPECT_EQ(std::get<CgroupData>(removed->data).level, 1U);
  }

  // A v1 hierarchy's mkdir and rmdir fire the same tracepoints: never reported.
  // The test mounts its own named v1 hierarchy (no controllers), so it runs on
  // a cgroup2-only host as well as on this hybrid one.
  void v1_is_filtered() {
    const std::string v1_name = name_ + "-v1";
    char root_tmpl[] = "/tmp/vigil-v1-XXXXXX";
    ASSERT_NE(mkdtemp(root_tmpl), nullptr) << std::strerror(errno);
    const fs::path root = root_tmpl;
    const std::string opts = "none,name=" + name_;
    ASSERT_EQ(mount("cgroup", root.c_str(), "cgroup", 0, opts.c_str()), 0)
        << "mounting a named cgroup v1 hierarchy: " << std::strerror(errno);
    const fs::path v1 = root / v1_name;
    const int made = mkdir(v1.c_str(), 0755);
    const int made_errno = errno;
    const int removed = made == 0 ? rmdir(v1.c_str()) : 0;
    umount2(root.c_str(), MNT_DETACH);
    rmdir(root.c_str());
    ASSERT_EQ(made, 0) << std::strerror(made_errno);
    ASSERT_EQ(removed, 0);
    EXPECT_FALSE(seen_any([&](const Event& ev) {
      return ev.type == EventType::kCgroup &&
             std::get<CgroupData>(ev.data).path.find(v1_name) != std::string::npos;
    })) << "a v1 hierarchy's cgroup was reported";
  }

  std::string name_;
  fs::path dir_;
};

TEST_F(CgroupProbeTest, Cgroup2MkdirAndRmdirCarryTheTasksCgroupId) {
  start();
  mkdir_move_rmdir();
}

TEST_F(CgroupProbeTest, V1HierarchiesAreFilteredInTheKernel) {
  start();
  v1_is_filtered();
}

TEST_F(CgroupProbeTest, TracepointFallbackReportsTheSame) {
  ProbeOptions options;
  options.disabled_modes = {"tp_btf"};
  start(options);
  for (const auto& s : probe_->status()) {
    if (s.hook == "cgroup") {
      EXPECT_EQ(s.mode, "tracepoint");
      EXPECT_EQ(s.state, HookState::kAttached) << s.error;
    }
  }
  mkdir_move_rmdir();
  if (HasFatalFailure()) return;
  v1_is_filtered();
}

// The classic fork tracepoint cannot reach the child: its namespaces are
// unknown in the record and the table gives the child its parent's.
TEST_F(NamespaceProbeTest, ForkFallbackLeavesTheChildsNamespacesToTheTable) {
  ProbeOptions options;
  options.disabled_modes = {"tp_btf"};
  start(options);
  const pid_t child = run({"/usr/bin/true", "vigil-ns-fallback"});
  auto f = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFork &&
           std::get<ForkData>(ev.data).child_pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->ns.known());
  Event x = *f;
  table_.apply(x);
  EXPECT_EQ(x.ns.mnt, host_.mnt) << "the parent's, from the table";
  EXPECT_TRUE(x.host_ns);
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ns.mnt, host_.mnt) << "exec reads the current task in either variant";
}

}  // namespace
}  // namespace vigil::agent
