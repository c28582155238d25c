// The process probe on the real kernel: each test triggers real activity from a
// child of this test process and asserts every field of the resulting event.
#include "vigil/agent/process_probe.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>

#include "probe_fixture.h"
#include "util/test_util.h"
#include "vigil/agent/bpf_env.h"
#include "vigil/agent/decoder.h"

namespace vigil::agent {
namespace {

class ProcessProbeTest : public ProbeFixture<&make_process_probe> {};

TEST_F(ProcessProbeTest, EveryHookAttachesWithPreferredMode) {
  start();
  const auto& st = probe_->status();
  ASSERT_EQ(st.size(), process_hooks().size());
  for (const auto& s : st) {
    EXPECT_EQ(s.state, HookState::kAttached) << s.hook << ": " << s.error;
    EXPECT_EQ(s.family, "process");
  }
  // This kernel has tp_btf: the typed variants must win where they exist.
  for (const auto& s : st) {
    if (s.hook == "exec" || s.hook == "fork" || s.hook == "exit" || s.hook == "kill" ||
        s.hook == "cgroup") {
      EXPECT_EQ(s.mode, "tp_btf") << s.hook;
    }
  }
}

TEST_F(ProcessProbeTest, ExecOfKnownBinaryWithKnownArgs) {
  start();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const char* argv[] = {"env", "-u", "VIGIL_UNSET", "/usr/bin/true", "vigil-marker-42", nullptr};
    execv("/usr/bin/env", const_cast<char* const*>(argv));
    _exit(127);
  }
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);

  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child) &&
           ev.exe == "/usr/bin/env";
  });
  ASSERT_TRUE(e) << "no exec event for pid " << child;
  EXPECT_EQ(e->ppid, static_cast<std::uint32_t>(getpid()));
  EXPECT_EQ(e->tid, static_cast<std::uint32_t>(child));
  EXPECT_EQ(e->uid, 0U);
  EXPECT_EQ(e->euid, 0U);
  EXPECT_EQ(e->comm, "env");
  EXPECT_EQ(e->args, (std::vector<std::string>{"env", "-u", "VIGIL_UNSET", "/usr/bin/true",
                                               "vigil-marker-42"}));
  const auto& x = std::get<ExecData>(e->data);
  EXPECT_EQ(x.filename, "/usr/bin/env");
  EXPECT_EQ(x.argc, 5U);
  EXPECT_FALSE(x.args_truncated);
  EXPECT_FALSE(x.setuid);
  EXPECT_TRUE(x.prev_known) << "execve entry hook stashes pre-exec creds";
  EXPECT_FALSE(x.euid_changed);
  EXPECT_GT(e->cgroup_id, 0U);

  // env then execs true in the same process.
  auto t = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child) &&
           ev.exe == "/usr/bin/true";
  });
  ASSERT_TRUE(t);
  EXPECT_EQ(t->args, (std::vector<std::string>{"/usr/bin/true", "vigil-marker-42"}));
  EXPECT_GE(t->boot_ns, e->boot_ns);
}

// The login uid: a child sets its own (root may, once, while it is unset),
// then execs; the exec record carries it. Where the login uid is already set
// and immutable, the record must carry that one.
TEST_F(ProcessProbeTest, ExecCarriesTheLoginUid) {
  start();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    const int fd = open("/proc/self/loginuid", O_WRONLY);
    const bool set = fd >= 0 && write(fd, "4242", 4) == 4;
    if (fd >= 0) close(fd);
    char c = set ? 'y' : 'n';
    (void)!write(fds[1], &c, 1);
    close(fds[1]);
    execl("/usr/bin/true", "true", "vigil-loginuid", nullptr);
    _exit(127);
  }
  close(fds[1]);
  char set = 'n';
  ASSERT_EQ(read(fds[0], &set, 1), 1);
  close(fds[0]);
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(e) << "no exec event for pid " << child;
  std::uint32_t expected = 4242;
  if (set != 'y') {
    std::ifstream in("/proc/self/loginuid");
    in >> expected;  // ours, which the child inherited
  }
  EXPECT_EQ(std::get<ExecData>(e->data).loginuid, expected) << "set by the child: " << set;
}

TEST_F(ProcessProbeTest, LongArgvIsTruncatedAndFlagged) {
  start();
  const std::string big(2000, 'x');
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const char* argv[] = {"true", big.c_str(), nullptr};
    execv("/usr/bin/true", const_cast<char* const*>(argv));
    _exit(127);
  }
  wait_child(child);
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(e);
  const auto& x = std::get<ExecData>(e->data);
  EXPECT_TRUE(x.args_truncated);
  EXPECT_EQ(x.argc, 2U);
  // The head (argv[0] and the start of the big argument), then argv's tail.
  ASSERT_EQ(e->args.size(), 3U);
  EXPECT_EQ(e->args[0], "true");
  EXPECT_EQ(e->args[1], std::string(VIGIL_ARGS_HEAD - 5, 'x'));
  EXPECT_EQ(e->args[2], std::string(VIGIL_ARGS_LEN - VIGIL_ARGS_HEAD - 1, 'x'));
}

// Padding argv must not hide its end: `cmd <pad x200> --telltale` and
// `cmd <10 KiB> --telltale` both keep the telltale argument.
TEST_F(ProcessProbeTest, PaddedArgvKeepsItsLastArguments) {
  start();
  const std::string telltale = "--vigil-telltale=" + std::to_string(getpid());
  const std::string huge(10 * 1024, 'A');
  std::vector<std::vector<std::string>> argvs(2);
  argvs[0].emplace_back("true");
  for (int i = 0; i < 200; ++i) argvs[0].emplace_back("pad");
  argvs[0].push_back(telltale);
  argvs[1] = {"true", huge, "-c", telltale};
  for (const auto& args : argvs) {
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      execv("/usr/bin/true", const_cast<char* const*>(argv.data()));
      _exit(127);
    }
    wait_child(child);
    auto e = wait_for([&](const Event& ev) {
      return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child);
    });
    ASSERT_TRUE(e);
    const auto& x = std::get<ExecData>(e->data);
    EXPECT_TRUE(x.args_truncated);
    EXPECT_EQ(x.argc, args.size());
    ASSERT_GE(e->args.size(), 2U);
    EXPECT_EQ(e->args[0], "true");
    EXPECT_EQ(e->args[e->args.size() - 1], telltale) << "argc " << args.size();
    if (args.size() == 4) {
      EXPECT_EQ(e->args[e->args.size() - 2], "-c");
    }
  }
}

TEST_F(ProcessProbeTest, ForkAndExitWithCode) {
  start();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    usleep(20000);
    _exit(42);
  }
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 42);

  auto f = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFork &&
           std::get<ForkData>(ev.data).child_pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(f);
  EXPECT_EQ(f->pid, static_cast<std::uint32_t>(getpid()));
  EXPECT_EQ(std::get<ForkData>(f->data).child_tid, static_cast<std::uint32_t>(child));

  auto x = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExit && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(x);
  const auto& d = std::get<ExitData>(x->data);
  EXPECT_EQ(d.exit_code, 42);
  EXPECT_EQ(d.signal, 0U);
  EXPECT_FALSE(d.core_dumped);
  EXPECT_GE(d.lifetime_ns, 20'000'000U) << "child slept 20 ms";
  EXPECT_LT(d.lifetime_ns, 10'000'000'000U);
  EXPECT_EQ(x->ppid, static_cast<std::uint32_t>(getpid()));
}

TEST_F(ProcessProbeTest, ExitBySignalAndThreadsAreNotProcesses) {
  start();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    raise(SIGKILL);
    _exit(0);
  }
  EXPECT_TRUE(WIFSIGNALED(wait_child(child)));
  auto x = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExit && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(x);
  EXPECT_EQ(std::get<ExitData>(x->data).signal, static_cast<std::uint32_t>(SIGKILL));

  // A new thread is not a new process: no fork event names it.
  pid_t tid = 0;
  std::thread th([&tid] { tid = static_cast<pid_t>(syscall(SYS_gettid)); });
  th.join();
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return ev.type == EventType::kFork &&
           std::get<ForkData>(ev.data).child_tid == static_cast<std::uint32_t>(tid);
  }));
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return ev.type == EventType::kExit && ev.tid == static_cast<std::uint32_t>(tid);
  })) << "a thread's exit is not a process exit";
}

TEST_F(ProcessProbeTest, SetuidSuccessAndFailure) {
  start();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setuid(kNobody) != 0) _exit(1);
    if (setuid(0) == 0) _exit(2);  // must fail now
    _exit(0);
  }
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);

  auto ok = wait_for([&](const Event& ev) {
    return ev.type == EventType::kSetuid && ev.pid == static_cast<std::uint32_t>(child) &&
           std::get<SetidData>(ev.data).ret == 0;
  });
  ASSERT_TRUE(ok);
  const auto& s = std::get<SetidData>(ok->data);
  EXPECT_EQ(setid_syscall_name(s.syscall), "setuid");
  EXPECT_EQ(s.req[0], kNobody);
  EXPECT_EQ(s.old_ids, (std::array<std::uint32_t, 3>{0, 0, 0}));
  EXPECT_EQ(s.new_ids, (std::array<std::uint32_t, 3>{kNobody, kNobody, kNobody}));
  EXPECT_EQ(ok->uid, kNobody) << "header carries the credentials after the call";
  EXPECT_NE(s.old_cap_eff, 0U);
  EXPECT_EQ(s.new_cap_eff, 0U) << "root -> nobody drops every capability";

  auto denied = wait_for([&](const Event& ev) {
    return ev.type == EventType::kSetuid && ev.pid == static_cast<std::uint32_t>(child) &&
           std::get<SetidData>(ev.data).ret != 0;
  });
  ASSERT_TRUE(denied);
  const auto& d = std::get<SetidData>(denied->data);
  EXPECT_EQ(d.ret, -EPERM);
  EXPECT_EQ(d.req[0], 0U);
  EXPECT_EQ(d.new_ids, d.old_ids);
}

TEST_F(ProcessProbeTest, SetresgidAndCapset) {
  start();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setresgid(100, 200, 300) != 0) _exit(1);
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capset, &hdr, data) != 0) _exit(2);
    _exit(0);
  }
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);

  auto g = wait_for([&](const Event& ev) {
    return ev.type == EventType::kSetgid && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(g);
  const auto& gs = std::get<SetidData>(g->data);
  EXPECT_EQ(setid_syscall_name(gs.syscall), "setresgid");
  EXPECT_EQ(gs.ret, 0);
  EXPECT_EQ(gs.req, (std::array<std::uint32_t, 3>{100, 200, 300}));
  EXPECT_EQ(gs.new_ids, (std::array<std::uint32_t, 3>{100, 200, 300}));
  EXPECT_EQ(gs.old_ids, (std::array<std::uint32_t, 3>{0, 0, 0}));

  auto c = wait_for([&](const Event& ev) {
    return ev.type == EventType::kCapset && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(c);
  const auto& cs = std::get<SetidData>(c->data);
  EXPECT_EQ(cs.ret, 0);
  EXPECT_NE(cs.old_cap_eff, 0U);
  EXPECT_EQ(cs.new_cap_eff, 0U);
  EXPECT_EQ(cs.new_cap_prm, 0U);
}

TEST_F(ProcessProbeTest, PtraceAttachToChild) {
  start();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  ASSERT_EQ(ptrace(PTRACE_ATTACH, child, nullptr, nullptr), 0);
  int status = 0;
  waitpid(child, &status, 0);  // the attach stop
  ptrace(PTRACE_DETACH, child, nullptr, nullptr);
  kill(child, SIGKILL);
  wait_child(child);

  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kPtrace &&
           std::get<PtraceData>(ev.data).target_pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(e);
  const auto& p = std::get<PtraceData>(e->data);
  EXPECT_EQ(p.request, PTRACE_ATTACH);
  EXPECT_EQ(p.ret, 0);
  EXPECT_EQ(e->pid, static_cast<std::uint32_t>(getpid()));
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return ev.type == EventType::kPtrace && std::get<PtraceData>(ev.data).request == PTRACE_DETACH;
  })) << "routine debugger requests are filtered in the kernel";
}

TEST_F(ProcessProbeTest, PtracePokeDataIntoChild) {
  start();
  static long word = 0;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  ASSERT_EQ(ptrace(PTRACE_ATTACH, child, nullptr, nullptr), 0);
  waitpid(child, nullptr, 0);
  ASSERT_EQ(ptrace(PTRACE_POKEDATA, child, &word, reinterpret_cast<void*>(0x41414141L)), 0);
  ptrace(PTRACE_DETACH, child, nullptr, nullptr);
  kill(child, SIGKILL);
  wait_child(child);
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kPtrace &&
           std::get<PtraceData>(ev.data).request == PTRACE_POKEDATA;
  });
  ASSERT_TRUE(e);
  const auto& p = std::get<PtraceData>(e->data);
  EXPECT_EQ(p.target_pid, static_cast<std::uint32_t>(child));
  EXPECT_EQ(p.addr, reinterpret_cast<std::uint64_t>(&word));
  EXPECT_EQ(p.data, 0x41414141U);
  EXPECT_EQ(p.ret, 0);
}

TEST_F(ProcessProbeTest, KillAcrossUsersOnly) {
  start();
  const pid_t same = fork();
  ASSERT_GE(same, 0);
  if (same == 0) {
    pause();
    _exit(0);
  }
  const pid_t other = spawn_paused_nobody();
  ASSERT_GT(other, 0);
  kill(same, SIGTERM);
  kill(other, SIGTERM);
  wait_child(same);
  wait_child(other);

  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kKill &&
           std::get<KillData>(ev.data).target_pid == static_cast<std::uint32_t>(other);
  });
  ASSERT_TRUE(e);
  const auto& k = std::get<KillData>(e->data);
  EXPECT_EQ(k.signal, static_cast<std::uint32_t>(SIGTERM));
  EXPECT_EQ(k.target_uid, kNobody);
  EXPECT_EQ(k.si_code, 0) << "SI_USER";
  EXPECT_EQ(e->pid, static_cast<std::uint32_t>(getpid()));
  EXPECT_EQ(e->uid, 0U);
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return ev.type == EventType::kKill &&
           std::get<KillData>(ev.data).target_pid == static_cast<std::uint32_t>(same);
  })) << "signals between processes of one user are routine";
}

TEST_F(ProcessProbeTest, SetuidBinaryExecIsFlagged) {
  start();
  test::TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  const auto bin = dir.path() / "suid-id";
  std::filesystem::copy_file("/usr/bin/id", bin);
  ASSERT_EQ(chown(bin.c_str(), 0, 0), 0);
  ASSERT_EQ(chmod(bin.c_str(), 04755), 0);

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setresuid(kNobody, kNobody, kNobody) != 0) _exit(1);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    execl(bin.c_str(), "suid-id", "-u", nullptr);
    _exit(127);
  }
  ASSERT_EQ(WEXITSTATUS(wait_child(child)), 0);
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(e);
  const auto& x = std::get<ExecData>(e->data);
  EXPECT_EQ(e->uid, kNobody);
  EXPECT_EQ(e->euid, 0U);
  EXPECT_TRUE(x.setuid);
  EXPECT_TRUE(x.euid_changed);
  EXPECT_EQ(x.prev_euid, kNobody);
  EXPECT_EQ(x.filename, bin.string());
}

TEST_F(ProcessProbeTest, KernelFiltersIgnoredCommsAndPaths) {
  ProbeOptions options;
  options.ignore_comms = {"vigil-ignored"};
  options.ignore_exec_prefixes = {"/usr/bin/tru"};
  start(options);

  const pid_t quiet = fork();
  ASSERT_GE(quiet, 0);
  if (quiet == 0) {
    prctl(PR_SET_NAME, "vigil-ignored");
    _exit(3);
  }
  wait_child(quiet);
  const pid_t hidden_exec = fork();
  ASSERT_GE(hidden_exec, 0);
  if (hidden_exec == 0) {
    execl("/usr/bin/true", "true", nullptr);
    _exit(127);
  }
  wait_child(hidden_exec);
  const pid_t loud = fork();
  ASSERT_GE(loud, 0);
  if (loud == 0) {
    execl("/usr/bin/env", "env", "--version", nullptr);
    _exit(127);
  }
  wait_child(loud);

  ASSERT_TRUE(wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(loud);
  })) << "unfiltered activity still flows";
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return ev.type == EventType::kExit && ev.pid == static_cast<std::uint32_t>(quiet);
  }));
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(hidden_exec);
  }));
  auto st = probe_->read_stats();
  ASSERT_OK(st);
  EXPECT_GE((*st)[VIGIL_STAT_FILTERED], 2U);
  EXPECT_GT((*st)[VIGIL_STAT_EVENTS], 0U);
  EXPECT_EQ((*st)[VIGIL_STAT_RB_DROPS], 0U);
}

TEST_F(ProcessProbeTest, AgentOwnActivityIsNotReported) {
  ProbeOptions options;
  options.agent_tgid = static_cast<std::uint32_t>(getpid());
  start(options);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    _exit(5);
  }
  wait_child(child);
  // The child is its own process and is reported; the fork itself, made by
  // the "agent", is not.
  ASSERT_TRUE(wait_for([&](const Event& ev) {
    return ev.type == EventType::kExit && ev.pid == static_cast<std::uint32_t>(child);
  }));
  EXPECT_FALSE(seen_any([&](const Event& ev) {
    return ev.type == EventType::kFork && ev.pid == static_cast<std::uint32_t>(getpid());
  }));
}

// The classic-tracepoint variants are what older kernels get: exercise them
// here by disabling tp_btf, so the fallback code is tested on a real kernel too.
TEST_F(ProcessProbeTest, TracepointFallbackVariantsProduceTheSameEvents) {
  ProbeOptions options;
  options.disabled_modes = {"tp_btf"};
  start(options);
  for (const auto& s : probe_->status()) {
    EXPECT_EQ(s.state, HookState::kAttached) << s.hook << ": " << s.error;
    EXPECT_EQ(s.mode, "tracepoint") << s.hook;
  }
  const pid_t child = spawn_paused_nobody();
  ASSERT_GT(child, 0);
  kill(child, SIGTERM);
  wait_child(child);
  const pid_t execer = fork();
  ASSERT_GE(execer, 0);
  if (execer == 0) {
    execl("/usr/bin/true", "true", "fallback-marker", nullptr);
    _exit(127);
  }
  ASSERT_EQ(WEXITSTATUS(wait_child(execer)), 0);

  auto f = wait_for([&](const Event& ev) {
    return ev.type == EventType::kFork &&
           std::get<ForkData>(ev.data).child_pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(f);
  EXPECT_EQ(f->pid, static_cast<std::uint32_t>(getpid()));
  auto e = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExec && ev.pid == static_cast<std::uint32_t>(execer);
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exe, "/usr/bin/true");
  EXPECT_EQ(e->args, (std::vector<std::string>{"true", "fallback-marker"}));
  EXPECT_EQ(e->ppid, static_cast<std::uint32_t>(getpid()));
  auto x = wait_for([&](const Event& ev) {
    return ev.type == EventType::kExit && ev.pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(x);
  EXPECT_EQ(std::get<ExitData>(x->data).signal, static_cast<std::uint32_t>(SIGTERM));
  auto k = wait_for([&](const Event& ev) {
    return ev.type == EventType::kKill &&
           std::get<KillData>(ev.data).target_pid == static_cast<std::uint32_t>(child);
  });
  ASSERT_TRUE(k);
  EXPECT_EQ(std::get<KillData>(k->data).signal, static_cast<std::uint32_t>(SIGTERM));
  EXPECT_EQ(std::get<KillData>(k->data).target_uid, UINT32_MAX) << "unknown without tp_btf";
}

}  // namespace
}  // namespace vigil::agent
