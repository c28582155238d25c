// The memory probe on the real kernel: W+X, RW->RX staging, memfd and fileless
// exec, injection into other processes, crash storms, allocation rates and the
// in-kernel rate limit. Activity comes from real child processes.
#include "vigil/agent/memory_probe.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <csignal>
#include <cstring>
#include <filesystem>

#include "probe_fixture.h"
#include "vigil/abi.h"

namespace vigil::agent {
namespace {

class MemoryProbeTest : public ProbeFixture<&make_memory_probe> {
 protected:
  // Runs `body` in a child that reports one 64-bit value back (e.g. an address)
  // and exits with body's return code. Returns {pid, value}.
  template <typename Fn>
  std::pair<pid_t, std::uint64_t> in_child(Fn&& body) {
    int p[2];
    if (pipe(p) != 0) {
      return {-1, 0};
    }
    const pid_t child = fork();
    if (child == 0) {
      close(p[0]);
      std::uint64_t value = 0;
      const int rc = body(value);
      (void)!write(p[1], &value, sizeof(value));
      _exit(rc);
    }
    close(p[1]);
    std::uint64_t value = 0;
    (void)!read(p[0], &value, sizeof(value));
    close(p[0]);
    return {child, value};
  }

  // A child that toggles one anonymous page RW -> RWX -> RW `toggles` times
  // (what a JIT does); returns its pid once it has exited with 0.
  pid_t wx_toggling_child(int toggles) {
    auto [child, unused] = in_child([toggles](std::uint64_t&) {
      void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      for (int i = 0; i < toggles; ++i) {
        if (mprotect(m, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) return 1;
        if (mprotect(m, 4096, PROT_READ | PROT_WRITE) != 0) return 2;
      }
      return 0;
    });
    EXPECT_EQ(WEXITSTATUS(wait_child(child)), 0);
    return child;
  }

  // A child that maps a buffer, reports its address and waits to be written to.
  static pid_t paused_child_with_buffer(std::uint64_t& addr) {
    int p[2];
    if (pipe(p) != 0) {
      return -1;
    }
    const pid_t child = fork();
    if (child == 0) {
      static char buffer[4096] = "original";
      auto a = reinterpret_cast<std::uint64_t>(buffer);
      (void)!write(p[1], &a, sizeof(a));
      pause();
      _exit(0);
    }
    (void)!read(p[0], &addr, sizeof(addr));
    close(p[0]);
    close(p[1]);
    return child;
  }

  std::optional<Event> wait_type(EventType type, pid_t pid) {
    return wait_for([&](const Event& ev) {
      return ev.type == type && ev.pid == static_cast<std::uint32_t>(pid);
    });
  }
};

TEST_F(MemoryProbeTest, EveryHookAttaches) {
  start();
  ASSERT_EQ(probe_->status().size(), memory_hooks().size());
  for (const auto& s : probe_->status()) {
    EXPECT_EQ(s.state, HookState::kAttached) << s.hook << ": " << s.error;
  }
}

TEST_F(MemoryProbeTest, AnonymousWriteExecuteMapping) {
  start();
  auto [child, addr] = in_child([](std::uint64_t& out) {
    void* m =
        mmap(nullptr, 8192, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    out = reinterpret_cast<std::uint64_t>(m);
    return m == MAP_FAILED ? 1 : 0;
  });
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
  auto e = wait_type(EventType::kWxMemory, child);
  ASSERT_TRUE(e);
  const auto& d = std::get<MemProtData>(e->data);
  EXPECT_EQ(d.syscall, static_cast<std::uint32_t>(VIGIL_MEM_MMAP));
  EXPECT_EQ(d.addr, addr);
  EXPECT_EQ(d.len, 8192U);
  EXPECT_EQ(d.prot, static_cast<std::uint32_t>(PROT_READ | PROT_WRITE | PROT_EXEC));
  EXPECT_EQ(d.flags & MAP_ANONYMOUS, static_cast<std::uint32_t>(MAP_ANONYMOUS));
  EXPECT_EQ(d.anon, static_cast<std::uint32_t>(VIGIL_MAP_ANON));
  EXPECT_EQ(d.ret, 0);
  EXPECT_EQ(e->ppid, self_pid());
}

TEST_F(MemoryProbeTest, ReadWriteThenExecuteStagingOnAnonymousMemory) {
  start();
  auto [child, addr] = in_child([](std::uint64_t& out) {
    auto* m = static_cast<unsigned char*>(
        mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (m == MAP_FAILED) return 1;
    m[0] = 0xC3;  // ret
    out = reinterpret_cast<std::uint64_t>(m);
    return mprotect(m, 4096, PROT_READ | PROT_EXEC) == 0 ? 0 : 2;
  });
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
  auto e = wait_type(EventType::kExecAdded, child);
  ASSERT_TRUE(e);
  const auto& d = std::get<MemProtData>(e->data);
  EXPECT_EQ(d.syscall, static_cast<std::uint32_t>(VIGIL_MEM_MPROTECT));
  EXPECT_EQ(d.addr, addr);
  EXPECT_EQ(d.len, 4096U);
  EXPECT_EQ(d.prot, static_cast<std::uint32_t>(PROT_READ | PROT_EXEC));
  EXPECT_EQ(d.anon, static_cast<std::uint32_t>(VIGIL_MAP_ANON));
  EXPECT_TRUE(d.vm_flags & 0x2) << "the mapping was writable before (VM_WRITE)";
  EXPECT_FALSE(d.vm_flags & 0x4) << "and not executable (VM_EXEC)";
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return ev.type == EventType::kWxMemory && ev.pid == static_cast<std::uint32_t>(child);
  })) << "never writable and executable at once";
}

TEST_F(MemoryProbeTest, StagingOnAWritableFileMappingNamesTheFile) {
  start();
  test::TempDir dir;
  const auto path = dir.path() / "stage.bin";
  auto [child, addr] = in_child([&](std::uint64_t& out) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, 4096) != 0) return 1;
    void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    out = reinterpret_cast<std::uint64_t>(m);
    return mprotect(m, 4096, PROT_READ | PROT_EXEC) == 0 ? 0 : 2;
  });
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
  auto e = wait_type(EventType::kExecAdded, child);
  ASSERT_TRUE(e);
  const auto& d = std::get<MemProtData>(e->data);
  EXPECT_EQ(d.addr, addr);
  EXPECT_EQ(d.anon, static_cast<std::uint32_t>(VIGIL_MAP_FILE));
  EXPECT_EQ(d.file, "stage.bin");
}

TEST_F(MemoryProbeTest, ExecuteOnReadOnlyFileMappingIsNotStaging) {
  start();
  auto [child, addr] = in_child([](std::uint64_t& out) {
    const int fd = open("/usr/bin/true", O_RDONLY);
    void* m = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    out = reinterpret_cast<std::uint64_t>(m);
    return mprotect(m, 4096, PROT_READ | PROT_EXEC) == 0 ? 0 : 2;
  });
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return (ev.type == EventType::kExecAdded || ev.type == EventType::kWxMemory) &&
           ev.pid == static_cast<std::uint32_t>(child);
  })) << "a loader mapping code from a read-only file is routine";
}

TEST_F(MemoryProbeTest, MemfdCreateAndFilelessExec) {
  start();
  auto [child, unused] = in_child([](std::uint64_t&) {
    const int fd = static_cast<int>(syscall(SYS_memfd_create, "vigil-payload", 0));
    const int src = open("/usr/bin/true", O_RDONLY);
    struct stat st {};
    fstat(src, &st);
    if (fd < 0 || sendfile(fd, src, nullptr, static_cast<std::size_t>(st.st_size)) != st.st_size) {
      return 1;
    }
    const char* argv[] = {"payload", nullptr};
    const char* envp[] = {nullptr};
    fexecve(fd, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    return 2;
  });
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0) << "the memfd copy of true ran";
  auto m = wait_type(EventType::kMemfd, child);
  ASSERT_TRUE(m);
  const auto& md = std::get<MemfdData>(m->data);
  EXPECT_EQ(md.name, "vigil-payload");
  EXPECT_EQ(md.flags, 0U);
  EXPECT_GE(md.ret, 0) << "the fd";
  auto f = wait_type(EventType::kFilelessExec, child);
  ASSERT_TRUE(f);
  const auto& fd = std::get<FilelessExecData>(f->data);
  EXPECT_TRUE(fd.memfd);
  EXPECT_EQ(fd.nlink, 0U);
  EXPECT_EQ(fd.dname, "memfd:vigil-payload");
  EXPECT_TRUE(fd.filename.starts_with("/dev/fd/") || fd.filename.starts_with("/proc/self/fd/"))
      << fd.filename;
}

TEST_F(MemoryProbeTest, ExecOfDeletedFileIsFileless) {
  start();
  test::TempDir dir;
  const auto bin = dir.path() / "vanishing";
  std::filesystem::copy_file("/usr/bin/true", bin);
  chmod(bin.c_str(), 0755);
  auto [child, unused] = in_child([&](std::uint64_t&) {
    const int fd = open(bin.c_str(), O_RDONLY);
    if (fd < 0 || unlink(bin.c_str()) != 0) return 1;
    const char* argv[] = {"vanishing", nullptr};
    const char* envp[] = {nullptr};
    fexecve(fd, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    return 2;
  });
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
  auto f = wait_type(EventType::kFilelessExec, child);
  ASSERT_TRUE(f);
  const auto& fd = std::get<FilelessExecData>(f->data);
  EXPECT_FALSE(fd.memfd);
  EXPECT_EQ(fd.nlink, 0U);
  EXPECT_EQ(fd.dname, "vanishing");
}

TEST_F(MemoryProbeTest, ProcessVmWritevIntoAChild) {
  start();
  std::uint64_t addr = 0;
  const pid_t target = paused_child_with_buffer(addr);
  ASSERT_GT(target, 0);
  char payload[] = "injected!";
  iovec local{payload, sizeof(payload)};
  iovec remote{reinterpret_cast<void*>(addr), sizeof(payload)};
  ASSERT_EQ(process_vm_writev(target, &local, 1, &remote, 1, 0),
            static_cast<ssize_t>(sizeof(payload)));
  kill(target, SIGKILL);
  wait_child(target);
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kInject &&
           std::get<InjectData>(ev.data).target_pid == static_cast<std::uint32_t>(target);
  });
  ASSERT_TRUE(e);
  const auto& d = std::get<InjectData>(e->data);
  EXPECT_EQ(d.method, static_cast<std::uint32_t>(VIGIL_INJECT_VM_WRITEV));
  EXPECT_EQ(d.bytes, sizeof(payload));
  EXPECT_EQ(d.ret, 0);
  EXPECT_EQ(e->pid, self_pid());
}

TEST_F(MemoryProbeTest, WriteToAnotherProcessMem) {
  start();
  std::uint64_t addr = 0;
  const pid_t target = paused_child_with_buffer(addr);
  ASSERT_GT(target, 0);
  const std::string path = "/proc/" + std::to_string(target) + "/mem";
  const int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(pwrite(fd, "x", 1, static_cast<off_t>(addr)), 1);
  close(fd);
  const int self_fd = open("/proc/self/mem", O_RDWR);  // oneself: not injection
  close(self_fd);
  kill(target, SIGKILL);
  wait_child(target);
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kInject &&
           std::get<InjectData>(ev.data).method == VIGIL_INJECT_PROC_MEM;
  });
  ASSERT_TRUE(e);
  const auto& d = std::get<InjectData>(e->data);
  EXPECT_EQ(d.target_pid, static_cast<std::uint32_t>(target));
  EXPECT_EQ(d.path, path);
  EXPECT_EQ(d.flags & O_ACCMODE, static_cast<std::uint32_t>(O_RDWR));
  EXPECT_EQ(d.ret, 0);
  EXPECT_EQ(e->pid, self_pid());
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return ev.type == EventType::kInject && std::get<InjectData>(ev.data).path == "/proc/self/mem";
  }));
}

TEST_F(MemoryProbeTest, SegfaultStormIsSummarisedPerExecutable) {
  start();
  constexpr int kCrashes = 50;
  for (int i = 0; i < kCrashes; ++i) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      prctl(PR_SET_NAME, "vigil-crasher");
      signal(SIGSEGV, SIG_DFL);
      *static_cast<volatile int*>(nullptr) = 1;
      _exit(0);
    }
    EXPECT_TRUE(WIFSIGNALED(wait_child(child)));
  }
  std::uint32_t max_count = 0;
  std::size_t summaries = 0;
  ASSERT_TRUE(wait_for([&](const Event& ev) {
    return ev.type == EventType::kCrashStorm && std::get<CrashStormData>(ev.data).count >= 40;
  }));
  for (const auto& ev : events_) {
    if (ev.type != EventType::kCrashStorm ||
        std::get<CrashStormData>(ev.data).exe != "vigil-crasher") {
      continue;
    }
    const auto& d = std::get<CrashStormData>(ev.data);
    ++summaries;
    max_count = std::max(max_count, d.count);
    EXPECT_EQ(d.signal, static_cast<std::uint32_t>(SIGSEGV));
    EXPECT_GT(d.ino, 0U);
    EXPECT_LE(d.window_ms, 10000U);
  }
  EXPECT_EQ(summaries, 2U) << "summaries at 20 and 40, not one event per crash";
  EXPECT_EQ(max_count, 40U);
  auto st = probe_->read_stats();
  ASSERT_OK(st);
  EXPECT_GE((*st)[VIGIL_STAT_MEM_CRASHES], static_cast<std::uint64_t>(kCrashes));
}

TEST_F(MemoryProbeTest, JitLikeBurstIsRateLimitedNotIgnored) {
  start();
  constexpr int kToggles = 10000;
  const pid_t child = wx_toggling_child(kToggles);
  ASSERT_TRUE(wait_type(EventType::kWxMemory, child)) << "rate-limited, not ignored";
  std::size_t delivered = 0;
  seen_any([](const Event&) { return false; });  // drain
  for (const auto& ev : events_) {
    delivered += ev.pid == static_cast<std::uint32_t>(child) && ev.type == EventType::kWxMemory;
  }
  EXPECT_LE(delivered, 80U) << "at most 8 per second reach user space";
  auto st = probe_->read_stats();
  ASSERT_OK(st);
  EXPECT_GE((*st)[VIGIL_STAT_MEM_SUPPRESSED], static_cast<std::uint64_t>(kToggles) - delivered);
}

TEST_F(MemoryProbeTest, RawEventsDeliverEveryToggle) {
  ProbeOptions options;
  options.raw_events = true;  // --raw-events: no in-kernel rate limit
  start(options);
  constexpr int kToggles = 3000;  // ~0.5 MiB of records: fits the 4 MiB ring buffer unread
  const pid_t child = wx_toggling_child(kToggles);
  std::size_t delivered = 0;
  const auto count = [&] {
    delivered = 0;
    for (const auto& ev : events_) {
      delivered += ev.pid == static_cast<std::uint32_t>(child) && ev.type == EventType::kWxMemory;
    }
    return delivered;
  };
  for (int i = 0; i < 50 && count() < kToggles; ++i) {
    ring_buffer__poll(rb_, 20);
  }
  EXPECT_EQ(delivered, static_cast<std::size_t>(kToggles)) << "every W+X toggle reaches user space";
  EXPECT_EQ(kernel_stat(VIGIL_STAT_MEM_SUPPRESSED), 0U);
  EXPECT_EQ(kernel_stat(VIGIL_STAT_RB_DROPS), 0U);
}

TEST_F(MemoryProbeTest, LargeAnonymousAllocationsAreSummarised) {
  start();
  auto [child, unused] = in_child([](std::uint64_t&) {
    for (int i = 0; i < 5; ++i) {  // 5 x 64 MiB, never touched: costs no memory
      if (mmap(nullptr, 64U << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
          MAP_FAILED) {
        return 1;
      }
    }
    return 0;
  });
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
  auto e = wait_type(EventType::kAllocRate, child);
  ASSERT_TRUE(e);
  const auto& d = std::get<AllocRateData>(e->data);
  EXPECT_GE(d.bytes, 256ULL << 20);
  EXPECT_GE(d.calls, 4U);
  EXPECT_LE(d.window_ms, 1000U);
}

}  // namespace
}  // namespace vigil::agent
