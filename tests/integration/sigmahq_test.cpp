// SigmaHQ's own Linux rules, unmodified, firing on real activity through the
// real agent. Built only where the snapshot exists (VIGIL_SIGMAHQ_DIR, set by
// CMake when ../shared/sigma is present): a fresh clone has no copy.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "util/proc.h"
#include "util/test_util.h"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;

int run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());  // NOLINT(cert-env33-c): test commands
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Rule ids seen in alerts, with the highest score each reached.
std::map<std::string, int> rules_fired(const fs::path& alerts) {
  std::map<std::string, int> fired;
  std::ifstream in(alerts);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("indicators")) {
      continue;
    }
    for (const auto& i : j["indicators"]) {
      if (i.contains("rule")) {
        auto& best = fired[i["rule"].value("id", "")];
        best = std::max(best, j.value("score", 0));
      }
    }
  }
  return fired;
}

TEST(SigmaHQ, UnmodifiedRulesFireOnRealActivity) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  const auto work = dir.path() / "w";
  fs::create_directories(work);
  const auto alerts = dir.path() / "alerts.jsonl";
  // Threshold 1: low and informational rules never alert at the default 50,
  // but every match must be visible here.
  Proc agent({VIGIL_AGENT_BIN, "--rules", std::string(VIGIL_SIGMAHQ_DIR) + "/rules/linux",
              "--probes", "process,file,network", "--alerts-out", alerts.string(),
              "--alert-threshold", "1", "--state-dir", (dir.path() / "s").string()},
             dir.path());
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("running on host") != std::string::npos; }, 30s))
      << agent.err();

  // A listener on 127.0.0.2 (loopback, but not the address the back-connect
  // rule filters out) for bash's /dev/tcp connect.
  const int lfd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = inet_addr("127.0.0.2");
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(lfd, 4), 0);
  socklen_t len = sizeof(sa);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
  const int port = ntohs(sa.sin_port);

  const std::string w = work.string();
  const std::string cron_file = "/etc/cron.d/vigil-sigmahq-test-" + std::to_string(getpid());
  struct Case {
    std::string rule;  // SigmaHQ rule id
    std::string what;
    std::string cmd;
  };
  const std::vector<Case> cases = {
      {"e2072cab-8c9a-459b-b63c-40ae79e27031", "base64 decode", "echo aGVsbG8= | base64 -d"},
      {"d7821ff1-4527-4e33-9f84-d0d57fa2fb66", "history recon", "cat " + w + "/.bash_history"},
      {"9d779ce8-5256-4b13-8b6f-b91c602b43f4", "mkfifo", "mkfifo " + w + "/fifo"},
      {"c4042d54-110d-45dd-a0e1-05c47822c937", "python pty spawn",
       "python3 -c 'import pty; pty.spawn(\"/bin/true\")' </dev/null"},
      {"d3feb4ee-ff1d-4d3d-bd10-5b28a238cc72", "find discovery", "find " + w + " -maxdepth 0"},
      {"4c519226-f0cd-4471-bd2f-6fbb2bb68a79", "who", "who"},
      {"fa4aaed5-4fe0-498d-bbc0-08e3346387ba", "cp passwd to /tmp",
       "cp /etc/passwd /tmp/vigil-sigmahq-passwd-copy && rm -f /tmp/vigil-sigmahq-passwd-copy"},
      {"6c4e2f43-d94d-4ead-b64d-97e53fa2bd05", "cron file created",
       "echo '# vigil test' > " + cron_file + " && rm -f " + cron_file},
      {"5cd16c8f-44a6-4654-81e7-a84d6db507d4", "exec from /dev/shm",
       "cp /bin/true /dev/shm/vigil-sigmahq-true && /dev/shm/vigil-sigmahq-true; rm -f "
       "/dev/shm/vigil-sigmahq-true"},
      {"31545105-3444-4584-bebf-c466353230d2", "touch -t of a unit",
       "touch -t 202001010000 " + w + "/x.service"},
      {"83dcd9f6-9ca8-4af7-a16e-a1c7a6b51871", "bash back-connect",
       "/bin/bash -c 'echo hi > /dev/tcp/127.0.0.2/" + std::to_string(port) + "'"},
  };
  for (const auto& c : cases) {
    run(c.cmd + " >/dev/null 2>&1");
  }
  const int cfd = accept(lfd, nullptr, nullptr);
  if (cfd >= 0) {
    close(cfd);
  }
  close(lfd);

  std::map<std::string, int> fired;
  wait_until(
      [&] {
        fired = rules_fired(alerts);
        return std::ranges::all_of(cases, [&](const Case& c) { return fired.contains(c.rule); });
      },
      10s);
  int n = 0;
  for (const auto& c : cases) {
    if (fired.contains(c.rule)) {
      ++n;
    } else {
      ADD_FAILURE() << "SigmaHQ rule " << c.rule << " (" << c.what << ") did not fire";
    }
  }
  EXPECT_GE(n, 10);
  // High and critical rules alert at the default threshold too.
  EXPECT_GE(fired["fa4aaed5-4fe0-498d-bbc0-08e3346387ba"], 50);
  EXPECT_GE(fired["83dcd9f6-9ca8-4af7-a16e-a1c7a6b51871"], 50);
  EXPECT_FALSE(fs::exists(cron_file));
  kill(agent.pid(), SIGTERM);
  EXPECT_EQ(agent.wait_for(10s), std::optional<int>(0));
}

}  // namespace
