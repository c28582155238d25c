// The file probe on the real kernel: each test changes a watched location (and
// cleans up), reads a credential store, or proves unwatched activity is silent.
#include "vigil/agent/file_probe.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "probe_fixture.h"
#include "vigil/abi.h"

namespace vigil::agent {
namespace {

namespace fs = std::filesystem;

std::string unique_name(const std::string& stem) {
  return stem + "-" + std::to_string(getpid()) + "-" + std::to_string(::time(nullptr));
}

class FileProbeTest : public ProbeFixture<&make_file_probe> {
 protected:
  std::optional<Event> wait_file(std::uint32_t op, const std::string& path) {
    return wait_for([&](const Event& ev) {
      if (ev.type != EventType::kFile) return false;
      const auto& d = std::get<FileData>(ev.data);
      return d.op == op && d.path == path;
    });
  }
  // Runs `fn` in a child and returns its pid once it has exited with 0.
  template <typename Fn>
  pid_t run_child(Fn&& fn) {
    const pid_t child = fork();
    if (child == 0) {
      _exit(fn());
    }
    EXPECT_EQ(WEXITSTATUS(wait_child(child)), 0);
    return child;
  }
};

TEST_F(FileProbeTest, EveryHookAttaches) {
  start();
  ASSERT_EQ(probe_->status().size(), file_hooks().size());
  for (const auto& s : probe_->status()) {
    EXPECT_EQ(s.state, HookState::kAttached) << s.hook << ": " << s.error;
  }
}

TEST_F(FileProbeTest, CreateAndRemoveBelowEtc) {
  start();
  const std::string path = "/etc/" + unique_name("vigil-test");
  const pid_t writer = run_child([&] {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    return fd >= 0 && write(fd, "x", 1) == 1 ? 0 : 1;
  });
  const pid_t remover = run_child([&] { return unlink(path.c_str()) == 0 ? 0 : 1; });

  auto c = wait_file(VIGIL_FILE_CREATE, path);
  ASSERT_TRUE(c) << "no create event for " << path;
  EXPECT_EQ(c->pid, static_cast<std::uint32_t>(writer));
  const auto& cd = std::get<FileData>(c->data);
  EXPECT_EQ(cd.flags & (O_CREAT | O_EXCL), static_cast<std::uint32_t>(O_CREAT | O_EXCL));
  EXPECT_EQ(cd.mode, 0600U);
  EXPECT_EQ(cd.ret, 0);
  auto u = wait_file(VIGIL_FILE_UNLINK, path);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->pid, static_cast<std::uint32_t>(remover));
  EXPECT_EQ(std::get<FileData>(u->data).ret, 0);
}

TEST_F(FileProbeTest, RelativePathIsReportedAbsolute) {
  start();
  const std::string name = unique_name("vigil-rel-test");
  const pid_t child = run_child([&] {
    if (chdir("/etc") != 0) return 1;
    const int fd = open(name.c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd < 0) return 2;
    close(fd);
    return unlink(name.c_str()) == 0 ? 0 : 3;  // relative path-based call too
  });
  auto c = wait_file(VIGIL_FILE_CREATE, "/etc/" + name);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pid, static_cast<std::uint32_t>(child));
  EXPECT_EQ(std::get<FileData>(c->data).arg_path, name);
  auto u = wait_file(VIGIL_FILE_UNLINK, "/etc/" + name);
  ASSERT_TRUE(u) << "unlink relative to the cwd resolves through the cwd's dentry";
}

TEST_F(FileProbeTest, AuthorizedKeysAnywhereIsWatchedByName) {
  start();
  test::TempDir home;
  fs::create_directories(home.path() / ".ssh");
  const auto keys = home.path() / ".ssh" / "authorized_keys";
  std::ofstream(keys) << "ssh-ed25519 AAAA existing\n";
  const pid_t child = run_child([&] {
    const int fd = open(keys.c_str(), O_WRONLY | O_APPEND);
    return fd >= 0 && write(fd, "ssh-ed25519 AAAA attacker\n", 26) == 26 ? 0 : 1;
  });
  auto e = wait_file(VIGIL_FILE_WRITE, keys.string());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->pid, static_cast<std::uint32_t>(child));
  EXPECT_TRUE(std::get<FileData>(e->data).flags & O_APPEND);
}

TEST_F(FileProbeTest, SetuidBitIsReported) {
  start();
  const std::string path = "/usr/local/bin/" + unique_name("vigil-suid");
  fs::copy_file("/usr/bin/true", path);
  const pid_t child = run_child([&] { return chmod(path.c_str(), 04755) == 0 ? 0 : 1; });
  fs::remove(path);
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(e);
  const auto& d = std::get<FileData>(e->data);
  EXPECT_EQ(d.op, static_cast<std::uint32_t>(VIGIL_FILE_CHMOD));
  EXPECT_EQ(d.path, path);
  EXPECT_EQ(d.mode, 04755U);
  EXPECT_EQ(d.ret, 0);
}

TEST_F(FileProbeTest, RenameABinaryInUsrBinAndBack) {
  start();
  const std::string a = "/usr/bin/" + unique_name("vigil-test-true");
  const std::string b = a + "-moved";
  fs::copy_file("/usr/bin/true", a);
  const pid_t child = run_child([&] {
    return rename(a.c_str(), b.c_str()) == 0 && rename(b.c_str(), a.c_str()) == 0 ? 0 : 1;
  });
  fs::remove(a);
  auto there = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && std::get<FileData>(ev.data).op == VIGIL_FILE_RENAME &&
           std::get<FileData>(ev.data).path == a;
  });
  ASSERT_TRUE(there);
  EXPECT_EQ(std::get<FileData>(there->data).new_path, b);
  EXPECT_EQ(there->pid, static_cast<std::uint32_t>(child));
  auto back = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && std::get<FileData>(ev.data).op == VIGIL_FILE_RENAME &&
           std::get<FileData>(ev.data).path == b;
  });
  ASSERT_TRUE(back);
  EXPECT_EQ(std::get<FileData>(back->data).new_path, a);
}

TEST_F(FileProbeTest, ReadingShadowIsACredentialAccess) {
  start();
  const pid_t child = run_child([] {
    const int fd = open("/etc/shadow", O_RDONLY);
    char buf[16];
    return fd >= 0 && read(fd, buf, sizeof(buf)) > 0 ? 0 : 1;
  });
  auto e = wait_file(VIGIL_FILE_READ_SENSITIVE, "/etc/shadow");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->pid, static_cast<std::uint32_t>(child));
  EXPECT_EQ(e->uid, 0U);
}

TEST_F(FileProbeTest, ThousandsOfUnwatchedOpensAreSilent) {
  start();
  test::TempDir dir;
  const auto path = dir.path() / "plain.txt";
  std::ofstream(path) << "data";
  const pid_t child = run_child([&] {
    for (int i = 0; i < 10000; ++i) {
      const int fd = open(path.c_str(), (i % 2) ? O_RDONLY : O_WRONLY);
      if (fd < 0) return 1;
      close(fd);
    }
    // Reading a file under /etc that is not a credential store is silent too.
    const int fd = open("/etc/hostname", O_RDONLY);
    close(fd);
    return 0;
  });
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return ev.type == EventType::kFile && ev.pid == static_cast<std::uint32_t>(child);
  }));
  auto st = probe_->read_stats();
  ASSERT_OK(st);
  EXPECT_EQ((*st)[VIGIL_STAT_RB_DROPS], 0U);
}

}  // namespace
}  // namespace vigil::agent
