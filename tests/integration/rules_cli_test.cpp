// Sigma rules as an operator runs them: --check-rules, rules that fire on real
// activity through the real agent, and SIGHUP reload without losing events.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "util/proc.h"
#include "util/test_util.h"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;

std::string marker_rule(const std::string& id, const std::string& marker,
                        const std::string& title) {
  return "title: " + title + "\nid: " + id +
         "\nstatus: test\nauthor: vigil tests\nreferences:\n  - https://example.org/" + marker +
         "\ntags:\n  - attack.t1059.004\nlogsource:\n  product: linux\n  category: "
         "process_creation\ndetection:\n  selection:\n    CommandLine|contains: '" +
         marker + "'\n  condition: selection\nlevel: high\n";
}

TEST(RulesCli, CheckRulesListsWhatLoadedAndWhyTheRestDidNot) {
  vigil::test::TempDir dir;
  const auto rules = dir.path() / "rules";
  fs::create_directories(rules / "sub");
  std::ofstream(rules / "good.yml")
      << marker_rule("8d1b0a57-0000-4000-8000-000000000001", "good-marker", "A good rule");
  // A rule for a log source vigil does not read: skipped, not failed.
  std::ofstream(rules / "sub" / "auditd.yml")
      << "title: auditd rule\nid: 8d1b0a57-0000-4000-8000-000000000002\nlogsource:\n  product: "
         "linux\n  service: auditd\ndetection:\n  sel:\n    type: EXECVE\n  condition: sel\n"
         "level: low\n";
  Proc ok({VIGIL_AGENT_BIN, "--rules", rules.string(), "--check-rules", "--no-builtin-rules"},
          dir.path());
  EXPECT_EQ(ok.wait(), 0) << ok.out() << ok.err();
  EXPECT_NE(ok.out().find("loaded "), std::string::npos) << ok.out();
  EXPECT_NE(ok.out().find("8d1b0a57-0000-4000-8000-000000000001"), std::string::npos) << ok.out();
  EXPECT_NE(ok.out().find("skipped"), std::string::npos) << ok.out();
  EXPECT_NE(ok.out().find("1 rules loaded, 0 failed, 1 skipped"), std::string::npos) << ok.out();

  // A rule naming a field vigil does not have, and a file that is not YAML.
  std::ofstream(rules / "field.yml")
      << "title: Bad field\nid: 8d1b0a57-0000-4000-8000-000000000003\nlogsource:\n  product: "
         "linux\n  category: process_creation\ndetection:\n  sel:\n    NoSuchField: x\n"
         "  condition: sel\nlevel: low\n";
  std::ofstream(rules / "broken.yml") << "title: [unclosed\n  detection: {\n";
  Proc bad({VIGIL_AGENT_BIN, "--rules", rules.string(), "--check-rules", "--no-builtin-rules"},
           dir.path());
  EXPECT_EQ(bad.wait(), 1) << bad.out();
  const auto out = bad.out();
  EXPECT_NE(out.find("NoSuchField"), std::string::npos) << "the reason names the field:\n" << out;
  EXPECT_NE(out.find("broken.yml"), std::string::npos) << out;
  EXPECT_NE(out.find("FAILED"), std::string::npos) << out;
  EXPECT_NE(out.find("result: FAILED"), std::string::npos) << out;

  // The built-in pack alone checks clean.
  Proc builtin({VIGIL_AGENT_BIN, "--check-rules"}, dir.path());
  EXPECT_EQ(builtin.wait(), 0) << builtin.out();
}

std::optional<nlohmann::json> wait_for_json(const fs::path& path,
                                            const std::function<bool(const nlohmann::json&)>& pred,
                                            std::chrono::milliseconds timeout = 5s) {
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
      timeout);
  return found;
}

bool has_rule(const nlohmann::json& alert, const std::string& id) {
  if (!alert.contains("indicators")) {
    return false;
  }
  for (const auto& i : alert["indicators"]) {
    if (i.contains("rule") && (i["rule"].value("id", "") == id || i.value("id", "") == id)) {
      return true;
    }
  }
  return false;
}

int run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());  // NOLINT(cert-env33-c): test commands
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(RulesCli, SighupReloadsRulesAndDropsNoEvent) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  const auto rules = dir.path() / "rules";
  fs::create_directories(rules);
  const std::string id_a = "8d1b0a57-0000-4000-8000-00000000000a";
  const std::string id_b = "8d1b0a57-0000-4000-8000-00000000000b";
  const std::string tag = std::to_string(getpid());
  std::ofstream(rules / "a.yml") << marker_rule(id_a, "reload-marker-a-" + tag, "Marker A");
  const auto alerts = dir.path() / "alerts.jsonl";
  const auto events = dir.path() / "events.jsonl";
  Proc agent({VIGIL_AGENT_BIN, "--rules", rules.string(), "--alerts-out", alerts.string(),
              "--events-out", events.string(), "--state-dir", (dir.path() / "s").string()},
             dir.path());
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("running on host") != std::string::npos; }, 20s))
      << agent.err();

  ASSERT_EQ(run("/bin/echo reload-marker-a-" + tag + " >/dev/null"), 0);
  const auto a = wait_for_json(alerts, [&](const nlohmann::json& j) { return has_rule(j, id_a); });
  ASSERT_TRUE(a) << slurp(alerts);
  EXPECT_GE((*a)["score"].get<int>(), 50) << "a high rule alerts on its own";

  // Replace A by B and reload while execs keep coming: every exec is seen.
  fs::remove(rules / "a.yml");
  std::ofstream(rules / "b.yml") << marker_rule(id_b, "reload-marker-b-" + tag, "Marker B");
  constexpr int kExecs = 60;
  for (int i = 0; i < kExecs; ++i) {
    if (i == kExecs / 2) {
      kill(agent.pid(), SIGHUP);
    }
    ASSERT_EQ(run("/bin/true reload-flow-" + tag + "-" + std::to_string(i)), 0);
  }
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("rules: reloaded") != std::string::npos; }, 10s))
      << agent.err();
  ASSERT_TRUE(agent.wait_for(0ms) == std::nullopt) << "SIGHUP must not stop the agent";
  ASSERT_EQ(run("/bin/echo reload-marker-b-" + tag + " >/dev/null"), 0);
  ASSERT_TRUE(wait_for_json(alerts, [&](const nlohmann::json& j) { return has_rule(j, id_b); }))
      << slurp(alerts);
  ASSERT_EQ(run("/bin/echo reload-marker-a-" + tag + "-again >/dev/null"), 0);
  ASSERT_EQ(run("/bin/true reload-flow-" + tag + "-end"), 0);
  ASSERT_TRUE(wait_for_json(events, [&](const nlohmann::json& j) {
    return j.value("type", "") == "exec" &&
           j.dump().find("reload-flow-" + tag + "-end") != std::string::npos;
  }));
  int seen = 0;
  int a_after = 0;
  {
    std::ifstream in(events);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("\"type\":\"exec\"") == std::string::npos) {
        continue;  // exits carry the args too
      }
      for (int i = 0; i < kExecs; ++i) {
        const auto needle = "\"reload-flow-" + tag + "-" + std::to_string(i) + "\"";
        if (line.find(needle) != std::string::npos) {
          ++seen;
        }
      }
    }
    std::ifstream al(alerts);
    while (std::getline(al, line)) {
      if (line.find("reload-marker-a-" + tag + "-again") != std::string::npos) {
        ++a_after;
      }
    }
  }
  EXPECT_EQ(seen, kExecs) << "every exec around the reload is an event";
  EXPECT_EQ(a_after, 0) << "the removed rule no longer fires";

  // A reload where a file no longer parses keeps the rules in force.
  std::ofstream(rules / "broken.yml") << "title: [unclosed\n";
  kill(agent.pid(), SIGHUP);
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("reload refused") != std::string::npos; }, 10s))
      << agent.err();
  ASSERT_EQ(run("/bin/echo reload-marker-b-" + tag + "-still >/dev/null"), 0);
  EXPECT_TRUE(wait_for_json(alerts, [&](const nlohmann::json& j) {
    return has_rule(j, id_b) && j.dump().find("-still") != std::string::npos;
  })) << slurp(alerts);
  kill(agent.pid(), SIGTERM);
  EXPECT_EQ(agent.wait_for(10s), std::optional<int>(0));
}

}  // namespace
