// The file probe on the real kernel: each test changes a watched location (and
// cleans up), reads a credential store, or proves unwatched activity is silent.
#include "vigil/agent/file_probe.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

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

// dev and root_dev: the file's filesystem and the writer's root, in the
// encoding stat(2) gives (st_dev).
TEST_F(FileProbeTest, WriteCarriesItsFilesystemAndTheWritersRoot) {
  start();
  const std::string path = "/etc/" + unique_name("vigil-dev-test");
  run_child([&] {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    return fd >= 0 && write(fd, "x", 1) == 1 ? 0 : 1;
  });
  struct stat file {};
  struct stat root {};
  ASSERT_EQ(stat(path.c_str(), &file), 0);
  ASSERT_EQ(stat("/", &root), 0);
  const std::string copy = path + "-copy";
  fs::copy_file(path, copy);
  // Path-based calls: relative to a directory (its filesystem is the file's),
  // and absolute (no dentry in hand: dev not known).
  run_child(
      [&] { return chdir("/etc") == 0 && unlink(fs::path(path).filename().c_str()) == 0 ? 0 : 1; });
  run_child([&] { return unlink(copy.c_str()) == 0 ? 0 : 1; });
  auto c = wait_file(VIGIL_FILE_CREATE, path);
  ASSERT_TRUE(c);
  const auto& d = std::get<FileData>(c->data);
  EXPECT_EQ(d.dev, static_cast<std::uint32_t>(file.st_dev));
  EXPECT_EQ(d.root_dev, static_cast<std::uint32_t>(root.st_dev));
  auto rel = wait_file(VIGIL_FILE_UNLINK, path);
  ASSERT_TRUE(rel);
  EXPECT_EQ(std::get<FileData>(rel->data).dev, static_cast<std::uint32_t>(file.st_dev));
  EXPECT_EQ(std::get<FileData>(rel->data).root_dev, static_cast<std::uint32_t>(root.st_dev));
  auto abs = wait_file(VIGIL_FILE_UNLINK, copy);
  ASSERT_TRUE(abs);
  EXPECT_EQ(std::get<FileData>(abs->data).dev, 0U);
  EXPECT_EQ(std::get<FileData>(abs->data).root_dev, static_cast<std::uint32_t>(root.st_dev));
}

// A task whose root is another filesystem (as a container's) writes to the
// host's /etc through a bind mount: dev is the host's, root_dev its own.
TEST_F(FileProbeTest, WriteThroughABindMountFromAnotherRootShowsBothDevices) {
  start();
  test::TempDir tmp;
  const auto newroot = tmp.path() / "root";
  fs::create_directories(newroot);
  const std::string name = unique_name("vigil-bind-test");
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t child = run_child([&] {
    close(report[0]);
    if (unshare(CLONE_NEWNS) != 0) return 1;
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 2;
    if (mount("vigil", newroot.c_str(), "tmpfs", 0, nullptr) != 0) return 3;
    const auto etc = newroot / "etc";
    if (mkdir(etc.c_str(), 0755) != 0) return 4;
    if (mount("/etc", etc.c_str(), nullptr, MS_BIND, nullptr) != 0) return 5;
    if (chroot(newroot.c_str()) != 0 || chdir("/") != 0) return 6;
    struct stat r {};
    if (stat("/", &r) != 0) return 7;
    const auto dev = static_cast<std::uint32_t>(r.st_dev);
    if (write(report[1], &dev, sizeof(dev)) != sizeof(dev)) return 8;
    const int fd = open(("/etc/" + name).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return 9;
    close(fd);
    return 0;
  });
  close(report[1]);
  std::uint32_t child_root = 0;
  ASSERT_EQ(read(report[0], &child_root, sizeof(child_root)),
            static_cast<ssize_t>(sizeof(child_root)));
  close(report[0]);
  struct stat etc {};
  ASSERT_EQ(stat("/etc", &etc), 0);
  fs::remove("/etc/" + name);
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(e) << "the write into the bind-mounted /etc";
  const auto& d = std::get<FileData>(e->data);
  EXPECT_EQ(d.op, static_cast<std::uint32_t>(VIGIL_FILE_CREATE));
  EXPECT_EQ(d.path, "/etc/" + name) << "as the kernel walks it on that filesystem";
  EXPECT_EQ(d.dev, static_cast<std::uint32_t>(etc.st_dev)) << "the host's filesystem";
  EXPECT_EQ(d.root_dev, child_root) << "the writer's own root (a tmpfs)";
  EXPECT_NE(d.root_dev, d.dev);
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

// ---------------------------------------------------------------------------
// Variants: every way to open, create, replace or link a file in a watched
// place is seen, with the path resolved to an absolute one.

class FileVariantTest : public FileProbeTest {
 protected:
  void TearDown() override {
    for (const auto& p : cleanup_) {
      std::error_code ec;
      fs::remove(p, ec);
    }
    FileProbeTest::TearDown();
  }
  std::string etc_path(const std::string& stem) {
    cleanup_.push_back("/etc/" + unique_name(stem));
    return cleanup_.back();
  }
  std::optional<Event> wait_op(std::uint32_t op, pid_t pid) {
    return wait_for([&](const Event& ev) {
      return ev.type == EventType::kFile && ev.pid == static_cast<std::uint32_t>(pid) &&
             std::get<FileData>(ev.data).op == op;
    });
  }
  std::vector<std::string> cleanup_;
};

TEST_F(FileVariantTest, EveryOpenSyscallIsSeenWithAnAbsolutePath) {
  start();
  const std::string a = etc_path("vigil-open");
  const std::string b = etc_path("vigil-openat-dirfd");
  const std::string c = etc_path("vigil-openat2");
  const std::string d = etc_path("vigil-creat");
  const pid_t child = run_child([&] {
    // open(2) itself (glibc's open() is openat).
    const long fa = syscall(SYS_open, a.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    // openat relative to a directory fd, not the cwd.
    const int etc = open("/etc", O_RDONLY | O_DIRECTORY);
    const int fb = openat(etc, fs::path(b).filename().c_str(), O_WRONLY | O_CREAT, 0640);
    // openat2: flags and mode live in struct open_how, not in registers.
    open_how how{};
    how.flags = O_WRONLY | O_CREAT | O_CLOEXEC;
    how.mode = 0604;
    how.resolve = RESOLVE_BENEATH;
    const long fc = syscall(SYS_openat2, etc, fs::path(c).filename().c_str(), &how, sizeof(how));
    const long fd = syscall(SYS_creat, d.c_str(), 0644);
    return fa >= 0 && etc >= 0 && fb >= 0 && fc >= 0 && fd >= 0 ? 0 : 1;
  });
  auto ea = wait_file(VIGIL_FILE_CREATE, a);
  ASSERT_TRUE(ea) << "open(2)";
  EXPECT_EQ(ea->pid, static_cast<std::uint32_t>(child));
  EXPECT_EQ(std::get<FileData>(ea->data).mode, 0600U);
  auto eb = wait_file(VIGIL_FILE_CREATE, b);
  ASSERT_TRUE(eb) << "openat(dirfd, relative)";
  EXPECT_EQ(std::get<FileData>(eb->data).arg_path, fs::path(b).filename().string());
  EXPECT_EQ(std::get<FileData>(eb->data).mode, 0640U);
  auto ec = wait_file(VIGIL_FILE_CREATE, c);
  ASSERT_TRUE(ec) << "openat2";
  EXPECT_EQ(std::get<FileData>(ec->data).flags & (O_CREAT | O_CLOEXEC),
            static_cast<std::uint32_t>(O_CREAT | O_CLOEXEC));
  EXPECT_EQ(std::get<FileData>(ec->data).mode, 0604U);
  auto ed = wait_file(VIGIL_FILE_CREATE, d);
  ASSERT_TRUE(ed) << "creat(2)";
  EXPECT_EQ(std::get<FileData>(ed->data).flags & O_TRUNC, static_cast<std::uint32_t>(O_TRUNC));
}

TEST_F(FileVariantTest, AnonymousTmpfileLinkedIntoEtcIsSeen) {
  start();
  const std::string name = etc_path("vigil-tmpfile");
  const pid_t child = run_child([&] {
    // No name while it is written; linkat gives it one in /etc.
    const int fd = open("/etc", O_TMPFILE | O_WRONLY, 0600);
    if (fd < 0 || write(fd, "x", 1) != 1) return 1;
    return linkat(fd, "", AT_FDCWD, name.c_str(), AT_EMPTY_PATH) == 0 ? 0 : 2;
  });
  auto w = wait_op(VIGIL_FILE_WRITE, child);
  ASSERT_TRUE(w) << "the O_TMPFILE open in /etc";
  EXPECT_TRUE(std::get<FileData>(w->data).path.starts_with("/etc/#"))
      << std::get<FileData>(w->data).path;
  auto l = wait_op(VIGIL_FILE_LINK, child);
  ASSERT_TRUE(l) << "no link event for linkat(fd, \"\", ..., AT_EMPTY_PATH)";
  const auto& d = std::get<FileData>(l->data);
  EXPECT_EQ(d.new_path, name);
  EXPECT_EQ(d.path, std::get<FileData>(w->data).path) << "the linked file is the tmpfile";
  EXPECT_EQ(d.flags, static_cast<std::uint32_t>(AT_EMPTY_PATH));
  EXPECT_EQ(d.ret, 0);
}

TEST_F(FileVariantTest, LinksAndSymlinksIntoAndOutOfWatchedPlaces) {
  start();
  test::TempDir tmp;
  const std::string hard = etc_path("vigil-hardlink");
  const std::string soft = etc_path("vigil-symlink");
  const auto payload = tmp.path() / "payload";
  std::ofstream(payload) << "x";
  const auto stolen = tmp.path() / "hostname-copy";
  const pid_t child = run_child([&] {
    return link(payload.c_str(), hard.c_str()) == 0 &&
                   symlink("../tmp/payload", soft.c_str()) == 0 &&
                   // Out of a watched place: a hard link to a file in /etc.
                   link("/etc/hostname", stolen.c_str()) == 0
               ? 0
               : 1;
  });
  auto h = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && std::get<FileData>(ev.data).op == VIGIL_FILE_LINK &&
           std::get<FileData>(ev.data).new_path == hard;
  });
  ASSERT_TRUE(h) << "link(2) into /etc";
  EXPECT_EQ(h->pid, static_cast<std::uint32_t>(child));
  EXPECT_EQ(std::get<FileData>(h->data).path, payload.string());
  auto s = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && std::get<FileData>(ev.data).op == VIGIL_FILE_SYMLINK &&
           std::get<FileData>(ev.data).new_path == soft;
  });
  ASSERT_TRUE(s) << "symlink(2) in /etc";
  EXPECT_EQ(std::get<FileData>(s->data).path, "../tmp/payload") << "the target, as passed";
  auto o = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && std::get<FileData>(ev.data).op == VIGIL_FILE_LINK &&
           std::get<FileData>(ev.data).path == "/etc/hostname";
  });
  ASSERT_TRUE(o) << "a hard link out of /etc";
  EXPECT_EQ(std::get<FileData>(o->data).new_path, stolen.string());
}

TEST_F(FileVariantTest, RenameTargetsResolveAgainstTheirOwnDirectory) {
  start();
  test::TempDir tmp;
  const std::string t1 = etc_path("vigil-mv-cwd");
  const std::string t2 = etc_path("vigil-mv-dirfd");
  const auto s1 = tmp.path() / "s1";
  const auto s2 = tmp.path() / "s2";
  std::ofstream(s1) << "x";
  std::ofstream(s2) << "x";
  const pid_t child = run_child([&] {
    // `cd /etc; mv /tmp/.../s1 name`: an absolute source, a target relative to the cwd.
    if (chdir("/etc") != 0) return 1;
    if (rename(s1.c_str(), fs::path(t1).filename().c_str()) != 0) return 2;
    // renameat2 from a temp dir fd to an /etc dir fd, both relative.
    const int from = open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY);
    const int to = open("/etc", O_RDONLY | O_DIRECTORY);
    return syscall(SYS_renameat2, from, "s2", to, fs::path(t2).filename().c_str(), 0) == 0 ? 0 : 3;
  });
  auto r1 = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && std::get<FileData>(ev.data).op == VIGIL_FILE_RENAME &&
           std::get<FileData>(ev.data).path == s1.string();
  });
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->pid, static_cast<std::uint32_t>(child));
  EXPECT_EQ(std::get<FileData>(r1->data).new_path, t1);
  auto r2 = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && std::get<FileData>(ev.data).op == VIGIL_FILE_RENAME &&
           std::get<FileData>(ev.data).path == s2.string();
  });
  ASSERT_TRUE(r2) << "renameat2 between two dirfds";
  EXPECT_EQ(std::get<FileData>(r2->data).new_path, t2);
}

TEST_F(FileVariantTest, PathsThatDodgeAPrefixMatchAreStillSeen) {
  start();
  test::TempDir tmp;
  const std::string t1 = etc_path("vigil-dslash");
  const std::string t2 = etc_path("vigil-dotdot");
  const std::string t3 = etc_path("vigil-from-root");
  for (const char* n : {"a", "b", "c"}) std::ofstream(tmp.path() / n) << "x";
  const auto name = [](const std::string& p) { return fs::path(p).filename().string(); };
  const pid_t child = run_child([&] {
    // "//etc/..." and "/tmp/../etc/..." are /etc to the kernel, not to a prefix match.
    if (rename((tmp.path() / "a").c_str(), ("//etc/" + name(t1)).c_str()) != 0) return 1;
    if (rename((tmp.path() / "b").c_str(), ("/tmp/../etc/./" + name(t2)).c_str()) != 0) return 2;
    // From "/", "etc/x" is relative and its base ("/") is not watched itself.
    if (chdir("/") != 0) return 3;
    return rename((tmp.path() / "c").c_str(), ("etc/" + name(t3)).c_str()) == 0 ? 0 : 4;
  });
  for (const auto& target : {t1, t2, t3}) {
    auto e = wait_for([&](const Event& ev) {
      return ev.type == EventType::kFile && ev.pid == static_cast<std::uint32_t>(child) &&
             std::get<FileData>(ev.data).new_path == target;
    });
    EXPECT_TRUE(e) << "no rename event with new_path " << target;
  }
}

TEST_F(FileVariantTest, TruncateAndFtruncateBelowEtc) {
  const std::string path = etc_path("vigil-trunc");
  std::ofstream(path) << "contents";
  start();
  const pid_t child = run_child([&] {
    if (truncate(path.c_str(), 1) != 0) return 1;
    const int fd = open(path.c_str(), O_WRONLY);
    return fd >= 0 && ftruncate(fd, 0) == 0 ? 0 : 2;
  });
  auto t = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && ev.pid == static_cast<std::uint32_t>(child) &&
           std::get<FileData>(ev.data).op == VIGIL_FILE_TRUNCATE &&
           std::get<FileData>(ev.data).arg_path == path;
  });
  ASSERT_TRUE(t) << "truncate(2)";
  EXPECT_EQ(std::get<FileData>(t->data).path, path);
  auto f = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && ev.pid == static_cast<std::uint32_t>(child) &&
           std::get<FileData>(ev.data).op == VIGIL_FILE_TRUNCATE &&
           std::get<FileData>(ev.data).arg_path.empty();
  });
  ASSERT_TRUE(f) << "ftruncate(2)";
  EXPECT_EQ(std::get<FileData>(f->data).path, path);
  EXPECT_EQ(std::get<FileData>(f->data).ret, 0);
}

// A credential store replaced by rename (`cp /etc/shadow /tmp/x; ...; mv
// /tmp/x /etc/shadow`) is a new inode under the old name: reads of it, and of
// hard links to it, are still credential reads.
TEST_F(FileVariantTest, ACredentialFileReplacedByRenameIsStillWatched) {
  const std::string secret = etc_path("vigil-cred");
  const std::string staged = "/tmp/" + unique_name("vigil-cred-new");
  const std::string alias = "/tmp/" + unique_name("vigil-cred-alias");
  cleanup_.push_back(staged);
  cleanup_.push_back(alias);
  std::ofstream(secret) << "root:$6$old:19000::::::\n";
  ProbeOptions options;
  options.file_read_paths = {secret};
  start(options);

  std::ofstream(staged) << "root:$6$attacker:19000::::::\n";
  const pid_t replacer = run_child([&] { return rename(staged.c_str(), secret.c_str()); });
  auto mv = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFile && ev.pid == static_cast<std::uint32_t>(replacer) &&
           std::get<FileData>(ev.data).op == VIGIL_FILE_RENAME;
  });
  ASSERT_TRUE(mv) << "the replacement itself";
  EXPECT_EQ(std::get<FileData>(mv->data).new_path, secret);

  const pid_t reader = run_child([&] {
    const int fd = open(secret.c_str(), O_RDONLY);
    char buf[8];
    return fd >= 0 && read(fd, buf, sizeof(buf)) > 0 ? 0 : 1;
  });
  auto r = wait_file(VIGIL_FILE_READ_SENSITIVE, secret);
  ASSERT_TRUE(r) << "read of the replaced file not seen";
  EXPECT_EQ(r->pid, static_cast<std::uint32_t>(reader));
  EXPECT_EQ(std::get<FileData>(r->data).ret, 0);

  // Re-armed by inode: a hard link made after the replacement is covered too.
  ASSERT_EQ(link(secret.c_str(), alias.c_str()), 0);
  const pid_t via_alias = run_child([&] {
    const int fd = open(alias.c_str(), O_RDONLY);
    return fd >= 0 ? 0 : 1;
  });
  auto a = wait_file(VIGIL_FILE_READ_SENSITIVE, alias);
  ASSERT_TRUE(a) << "read through a hard link to the replaced file";
  EXPECT_EQ(a->pid, static_cast<std::uint32_t>(via_alias));
}

// A watched file replaced by rename frees its old inode, and the next file
// created on the filesystem may get its number (useradd and userdel do this
// to /etc/gshadow and /etc/group all the time). A file that took over the
// number under another name is not the credential file: reading it is no
// credential access. A hard link to the live file still is.
TEST_F(FileVariantTest, AnInodeNumberReusedAfterAReplacementIsNotTheWatchedFile) {
  const std::string secret = etc_path("vcr");
  const std::string staged = etc_path("vcr-new");
  const std::string alias = etc_path("vcr-alias");
  std::ofstream(secret) << "root:$6$old:19000::::::\n";
  struct stat before {};
  ASSERT_EQ(::stat(secret.c_str(), &before), 0);
  ProbeOptions options;
  options.file_read_paths = {secret};
  start(options);

  std::ofstream(staged) << "root:$6$new:19000::::::\n";
  ASSERT_EQ(rename(staged.c_str(), secret.c_str()), 0);  // the old inode is freed
  // New files in the same directory until one gets the old number (ext4
  // hands a freed inode out again at once; bounded).
  std::string reused;
  for (int i = 0; i < 200 && reused.empty(); ++i) {
    const std::string f = etc_path("vcr-" + std::to_string(i));
    std::ofstream(f) << "group:x:1:\n";
    struct stat st {};
    if (::stat(f.c_str(), &st) == 0 && st.st_ino == before.st_ino) reused = f;
  }
  ASSERT_FALSE(reused.empty()) << "no new file got inode " << before.st_ino
                               << " back: this test needs a filesystem that reuses inodes (ext4)";
  // The credential file under its name: seen (and its new inode re-armed).
  const pid_t by_name = run_child([&] {
    const int fd = open(secret.c_str(), O_RDONLY);
    return fd >= 0 ? 0 : 1;
  });
  auto n = wait_file(VIGIL_FILE_READ_SENSITIVE, secret);
  ASSERT_TRUE(n) << "read of the replaced credential file by its name";
  EXPECT_EQ(n->pid, static_cast<std::uint32_t>(by_name));
  const pid_t reader = run_child([&] {
    const int fd = open(reused.c_str(), O_RDONLY);
    return fd >= 0 ? 0 : 1;
  });
  // A marker after it: once the marker's read is seen, the first one would
  // have been too.
  ASSERT_EQ(link(secret.c_str(), alias.c_str()), 0);
  const pid_t via_alias = run_child([&] {
    const int fd = open(alias.c_str(), O_RDONLY);
    return fd >= 0 ? 0 : 1;
  });
  auto a = wait_file(VIGIL_FILE_READ_SENSITIVE, alias);
  ASSERT_TRUE(a) << "read through a hard link to the live credential file";
  EXPECT_EQ(a->pid, static_cast<std::uint32_t>(via_alias));
  EXPECT_FALSE(wait_for(
      [&](const Event& ev) {
        return ev.type == EventType::kFile && ev.pid == static_cast<std::uint32_t>(reader) &&
               std::get<FileData>(ev.data).op == VIGIL_FILE_READ_SENSITIVE;
      },
      std::chrono::milliseconds(200)))
      << "a file that took over a replaced credential file's inode number was read as it";
}

}  // namespace
}  // namespace vigil::agent
