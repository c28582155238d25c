// vigil-agent as a user runs it: a real process, real probes, real output files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "util/proc.h"
#include "util/test_util.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;

// The --check table line for a process hook: family then hook, column-aligned.
std::string fmt_line(const std::string& hook) {
  std::string line = "process   " + hook;
  line.resize(std::max<std::size_t>(line.size(), 20), ' ');
  return line;
}

TEST(AgentCli, VersionAndUsageErrors) {
  vigil::test::TempDir dir;
  Proc v({VIGIL_AGENT_BIN, "--version"}, dir.path());
  EXPECT_EQ(v.wait(), 0);
  EXPECT_NE(v.out().find("vigil-agent 0.1.0"), std::string::npos);

  Proc bad({VIGIL_AGENT_BIN, "--probes", "process,gpu"}, dir.path());
  EXPECT_EQ(bad.wait(), 2);
  EXPECT_NE(bad.err().find("unknown probe family 'gpu'"), std::string::npos) << bad.err();

  std::ofstream(dir.path() / "bad.yaml") << "probes: [process\n";
  Proc cfg({VIGIL_AGENT_BIN, "--config", (dir.path() / "bad.yaml").string()}, dir.path());
  EXPECT_EQ(cfg.wait(), 2);
  EXPECT_NE(cfg.err().find("bad.yaml"), std::string::npos) << cfg.err();
}

TEST(AgentCli, NotRootIsAClearErrorNotACrash) {
  REQUIRE_ROOT_OR_SKIP();  // needs root to become somebody else
  vigil::test::TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  Proc p({VIGIL_AGENT_BIN, "--check"}, dir.path(), 65534);
  EXPECT_EQ(p.wait(), 3);
  EXPECT_NE(p.err().find("needs root"), std::string::npos) << p.err();
}

// A private mount namespace: what the child unmounts or hides is invisible to
// every other process on the machine.
bool private_mounts() {
  return unshare(CLONE_NEWNS) == 0 &&
         mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
}

TEST(AgentCli, NoKernelBtfIsAClearError) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  Proc p({VIGIL_AGENT_BIN, "--check"}, dir.path(), {}, [] {
    // Hide /sys/kernel/btf behind an empty tmpfs: a kernel without BTF.
    return private_mounts() && mount("tmpfs", "/sys/kernel/btf", "tmpfs", 0, nullptr) == 0;
  });
  EXPECT_EQ(p.wait(), 3) << p.err();
  EXPECT_NE(p.err().find("exposes no BTF"), std::string::npos) << p.err();
  EXPECT_NE(p.err().find("--btf"), std::string::npos) << "the message says what to do";
}

TEST(AgentCli, MountsTracefsAndBpffsWhenMissing) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  Proc p({VIGIL_AGENT_BIN, "--check"}, dir.path(), {}, [] {
    if (!private_mounts()) {
      return false;
    }
    // Unmount whatever is there (possibly stacked); failure means "not mounted".
    while (umount2("/sys/kernel/tracing", MNT_DETACH) == 0) {
    }
    while (umount2("/sys/fs/bpf", MNT_DETACH) == 0) {
    }
    while (umount2("/sys/kernel/debug", MNT_DETACH) == 0) {  // debugfs carries tracing too
    }
    return !fs::exists("/sys/kernel/tracing/events") &&
           !fs::exists("/sys/kernel/debug/tracing/events");
  });
  EXPECT_EQ(p.wait(), 0) << p.out() << p.err();
  EXPECT_NE(p.err().find("mounted tracefs"), std::string::npos) << p.err();
  EXPECT_NE(p.out().find("result: every requested probe attached"), std::string::npos);
}

TEST(AgentCli, CheckReportsEveryProcessHook) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  Proc p({VIGIL_AGENT_BIN, "--check"}, dir.path());
  ASSERT_EQ(p.wait(), 0) << p.out() << p.err();
  const auto out = p.out();
  for (const char* hook :
       {"exec", "exec_creds", "fork", "exit", "setuid", "setgid", "capset", "ptrace", "kill",
        "ns_change", "cgroup"}) {
    EXPECT_NE(out.find(fmt_line(hook)), std::string::npos) << hook << " missing:\n" << out;
  }
  EXPECT_NE(out.find("result: every requested probe attached"), std::string::npos);
  EXPECT_EQ(out.find("failed"), std::string::npos) << out;
}

TEST(AgentCli, CheckFailsWhenAHookCannotAttach) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  Proc p(
      {VIGIL_AGENT_BIN, "--check", "--probes", "process,network", "--xdp-iface", "vgl-no-such-if"},
      dir.path());
  EXPECT_EQ(p.wait(), 1);
  EXPECT_NE(p.out().find("network/xdp:vgl-no-such-if did not attach: no interface"),
            std::string::npos)
      << p.out();
  EXPECT_NE(p.out().find("network   connect"), std::string::npos) << "the rest still attached";
}

TEST(AgentCli, EveryFamilyLoadsTogether) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  Proc p({VIGIL_AGENT_BIN, "--check", "--probes", "process,network,memory,file"}, dir.path());
  EXPECT_EQ(p.wait(), 0) << p.out() << p.err();
  for (const char* family : {"process ", "network ", "memory ", "file "}) {
    EXPECT_NE(p.out().find(family), std::string::npos) << family;
  }
}

TEST(AgentCli, ExecEventWithinOneSecondThenCleanShutdown) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  const auto events = dir.path() / "events.jsonl";
  const auto state = dir.path() / "state";
  Proc agent({VIGIL_AGENT_BIN, "--events-out", events.string(), "--state-dir", state.string(),
              "--host-id", "itest-host", "--stats-interval", "1"},
             dir.path());
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("running on host") != std::string::npos; }, 20s))
      << agent.err();

  const auto t0 = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child == 0) {
    execl("/usr/bin/env", "/usr/bin/env", "true", nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);

  std::optional<nlohmann::json> found;
  wait_until(
      [&] {
        std::ifstream in(events);
        std::string line;
        while (std::getline(in, line)) {
          auto j = nlohmann::json::parse(line, nullptr, false);
          EXPECT_FALSE(j.is_discarded()) << "every line is valid JSON: " << line;
          if (!j.is_discarded() && j["type"] == "exec" && j["pid"] == child &&
              j["exe"] == "/usr/bin/env") {
            found = j;
            return true;
          }
        }
        return false;
      },
      1000ms);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(found) << "no exec event for /usr/bin/env within 1 s\n" << slurp(events);
  EXPECT_LE(elapsed, 1500ms);
  const auto& j = *found;
  EXPECT_EQ(j["args"], nlohmann::json::array({"/usr/bin/env", "true"}));
  EXPECT_EQ(j["ppid"], getpid());
  EXPECT_EQ(j["uid"], 0);
  EXPECT_EQ(j["euid"], 0);
  EXPECT_EQ(j["host"], "itest-host");
  EXPECT_EQ(j["comm"], "env");
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_NEAR(static_cast<double>(j["ts"].get<std::int64_t>()), static_cast<double>(now_ns), 5e9)
      << "ts is unix time in ns";

  ASSERT_TRUE(wait_until([&] { return fs::exists(state / "agent-stats.json"); }, 5s));
  kill(agent.pid(), SIGTERM);
  auto rc = agent.wait_for(10s);
  ASSERT_TRUE(rc) << "agent did not stop on SIGTERM";
  EXPECT_EQ(*rc, 0) << agent.err();
  EXPECT_NE(agent.err().find("final counters"), std::string::npos);
  auto stats = nlohmann::json::parse(slurp(state / "agent-stats.json"), nullptr, false);
  ASSERT_FALSE(stats.is_discarded());
  EXPECT_GT(stats["kernel"]["process"]["events"].get<std::uint64_t>(), 0U);
  EXPECT_EQ(stats["kernel"]["process"]["ringbuf_drops"], 0);
  EXPECT_GT(stats["decoder"]["decoded"].get<std::uint64_t>(), 0U);
  EXPECT_EQ(stats["decoder"]["decoded"], stats["kernel"]["process"]["events"])
      << "detach, then drain: every record the kernel submitted was read";
  EXPECT_EQ(stats["decoder"]["short"], 0);
}

TEST(AgentCli, TextFormatIsHumanReadable) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  const auto events = dir.path() / "events.txt";
  Proc agent({VIGIL_AGENT_BIN, "--events-out", events.string(), "--format", "text", "--state-dir",
              (dir.path() / "s").string()},
             dir.path());
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("running on host") != std::string::npos; }, 20s));
  const pid_t child = fork();
  if (child == 0) {
    execl("/usr/bin/true", "true", "vigil-text-marker", nullptr);
    _exit(127);
  }
  waitpid(child, nullptr, 0);
  const std::string want =
      "exec pid=" + std::to_string(child) + " ppid=" + std::to_string(getpid()) +
      " uid=0 comm=true exe=/usr/bin/true " + "args=\"true vigil-text-marker\"";
  EXPECT_TRUE(wait_until([&] { return slurp(events).find(want) != std::string::npos; }, 2s))
      << slurp(events);
  kill(agent.pid(), SIGINT);
  EXPECT_EQ(agent.wait_for(10s), std::optional<int>(0));
}

// The first JSON line of `path` matching `pred`, waited for up to 3 s.
std::optional<nlohmann::json> wait_for_line(
    const fs::path& path, const std::function<bool(const nlohmann::json&)>& pred) {
  std::optional<nlohmann::json> found;
  wait_until(
      [&] {
        std::ifstream in(path);
        std::string line;
        while (std::getline(in, line)) {
          auto j = nlohmann::json::parse(line, nullptr, false);
          if (!j.is_discarded() && pred(j)) {
            found = j;
            return true;
          }
        }
        return false;
      },
      3s);
  return found;
}

TEST(AgentCli, PtraceAttachRaisesAnAlertWithLineage) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  const auto alerts = dir.path() / "alerts.jsonl";
  Proc agent({VIGIL_AGENT_BIN, "--alerts-out", alerts.string(), "--state-dir",
              (dir.path() / "s").string()},
             dir.path());
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("running on host") != std::string::npos; }, 20s));
  // Once running, the agent holds only CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE
  // (19), in every set, bounding included: the detection below works with just those.
  const auto status = slurp("/proc/" + std::to_string(agent.pid()) + "/status");
  for (const char* set : {"CapEff:\t", "CapPrm:\t", "CapBnd:\t"}) {
    EXPECT_NE(status.find(std::string(set) + "0000000000080004"), std::string::npos)
        << set << " in\n"
        << status;
  }
  EXPECT_NE(status.find("CapInh:\t0000000000000000"), std::string::npos) << status;
  EXPECT_NE(status.find("CapAmb:\t0000000000000000"), std::string::npos) << status;
  const pid_t target = vigil::test::ptrace_attach_a_child();
  ASSERT_GT(target, 0) << "PTRACE_ATTACH failed";

  const auto found = wait_for_line(alerts, [&](const nlohmann::json& j) {
    return j.contains("event") && j["event"]["type"] == "ptrace" &&
           j["event"].value("target_pid", 0) == target;
  });
  ASSERT_TRUE(found) << slurp(alerts);
  const auto& a = *found;
  EXPECT_GE(a["score"].get<int>(), 50);
  EXPECT_EQ(a["indicators"][0]["id"], "ptrace-attach");
  EXPECT_EQ(a["indicators"][0]["attack"], "T1055.008");
  EXPECT_EQ(a["event"]["pid"], getpid());
  ASSERT_FALSE(a["lineage"].empty());
  EXPECT_EQ(a["lineage"][0]["pid"], getpid()) << "lineage starts at the acting process";
  kill(agent.pid(), SIGTERM);
  EXPECT_EQ(agent.wait_for(10s), std::optional<int>(0));
}

TEST(AgentCli, FalcoCompatibleAlertsCarryFalcosFields) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  const auto alerts = dir.path() / "falco.jsonl";
  Proc agent({VIGIL_AGENT_BIN, "--alerts-out", alerts.string(), "--alert-format", "falco",
              "--state-dir", (dir.path() / "s").string()},
             dir.path());
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("running on host") != std::string::npos; }, 20s));
  const pid_t target = vigil::test::ptrace_attach_a_child();
  ASSERT_GT(target, 0);
  const auto found = wait_for_line(alerts, [](const nlohmann::json& j) {
    return j.contains("rule") && j["rule"] == "vigil ptrace-attach";
  });
  {
    std::ifstream in(alerts);
    std::string line;
    while (std::getline(in, line)) {
      EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
    }
  }
  ASSERT_TRUE(found) << slurp(alerts);
  const auto& a = *found;
  for (const char* key : {"output", "priority", "rule", "time", "output_fields", "tags"}) {
    EXPECT_TRUE(a.contains(key)) << key << " missing: " << a.dump();
  }
  EXPECT_EQ(a["output_fields"]["proc.pid"], getpid());
  EXPECT_EQ(a["output_fields"]["evt.type"], "ptrace");
  EXPECT_GE(a["output_fields"]["vigil.score"].get<int>(), 50);
  EXPECT_NE(std::find(a["tags"].begin(), a["tags"].end(), "T1055.008"), a["tags"].end());
  EXPECT_EQ(slurp(alerts).find("\"type\":\"level\""), std::string::npos)
      << "Falco consumers get alerts only";
  kill(agent.pid(), SIGTERM);
  EXPECT_EQ(agent.wait_for(10s), std::optional<int>(0));
}

TEST(AgentCli, FilelessExecRaisesACriticalAlert) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  const auto alerts = dir.path() / "alerts.txt";
  Proc agent({VIGIL_AGENT_BIN, "--probes", "process,memory", "--alerts-out", alerts.string(),
              "--format", "text", "--state-dir", (dir.path() / "s").string()},
             dir.path());
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("running on host") != std::string::npos; }, 20s));
  const pid_t child = fork();
  if (child == 0) {
    const int fd = static_cast<int>(syscall(SYS_memfd_create, "stage2", 0));
    const int src = open("/usr/bin/true", O_RDONLY);
    char buf[65536];
    ssize_t n;
    while ((n = read(src, buf, sizeof(buf))) > 0) {
      if (write(fd, buf, static_cast<std::size_t>(n)) != n) _exit(1);
    }
    const char* argv[] = {"stage2", nullptr};
    const char* envp[] = {nullptr};
    fexecve(fd, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    _exit(2);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  const std::string want = "Critical threat fileless_exec event: pid=" + std::to_string(child);
  EXPECT_TRUE(wait_until([&] { return slurp(alerts).find(want) != std::string::npos; }, 3s))
      << slurp(alerts);
  EXPECT_NE(slurp(alerts).find("T1620 fileless-exec"), std::string::npos);
  kill(agent.pid(), SIGTERM);
  EXPECT_EQ(agent.wait_for(10s), std::optional<int>(0));
}

}  // namespace
