// Rule packs end to end: a real vigil-collector and two real vigil-agents
// (root: real probes), port 0, temp dirs. vigilctl pushes a pack holding a
// rule for a harmless marker command; a bad pack is refused with the reason;
// the pack goes canary-first to one agent, then the fleet; the marker then
// alerts on both hosts and `vigilctl rules status` shows both on the pack;
// after `vigilctl rules rollback` the same marker no longer matches. A pack
// that only disables a rule (`vigilctl rules push --disable ID`) silences one of
// vigil's built-in rules on both hosts, across an agent restart, until rolled
// back.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/clock.h"
#include "vigil/v1/query.grpc.pb.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;
namespace fs = std::filesystem;

// The collector on a free port, plaintext, data in `dir`/data.
std::unique_ptr<Proc> start_collector(const fs::path& dir, std::string& addr,
                                      std::vector<std::string> extra = {}) {
  fs::create_directories(dir / "collector");
  std::vector<std::string> args{VIGIL_COLLECTOR_BIN,     "--listen",   "127.0.0.1:0", "--data-dir",
                                (dir / "data").string(), "--insecure", "--log-level", "info"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto proc = std::make_unique<Proc>(args, dir / "collector");
  std::smatch m;
  const std::regex re("listening agents=(127\\.0\\.0\\.1:\\d+)");
  if (!wait_until(
          [&] {
            const auto out = proc->out();
            if (!std::regex_search(out, m, re)) return false;
            addr = m[1].str();
            return true;
          },
          10s)) {
    return nullptr;
  }
  return proc;
}

std::unique_ptr<Proc> start_agent(const fs::path& dir, const std::string& host,
                                  const std::string& collector, const std::string& pubkey) {
  fs::create_directories(dir / (host + "-run"));
  return std::make_unique<Proc>(
      std::vector<std::string>{VIGIL_AGENT_BIN, "--host-id", host, "--collector", collector,
                               "--insecure", "--state-dir", (dir / host).string(), "--probes",
                               "process", "--model-pubkey", pubkey, "--stats-interval", "0"},
      dir / (host + "-run"));
}

struct Ctl {
  int rc = 0;
  std::string out;
  std::string err;
};

Ctl vigilctl(const fs::path& dir, const std::string& collector, std::vector<std::string> args) {
  static int n = 0;
  const auto run_dir = dir / ("vigilctl-" + std::to_string(++n));
  fs::create_directories(run_dir);
  std::vector<std::string> argv = {VIGILCTL_BIN, "--collector", collector, "--insecure"};
  argv.insert(argv.end(), args.begin(), args.end());
  Proc p(argv, run_dir);
  Ctl r;
  r.rc = p.wait();
  r.out = p.out();
  r.err = p.err();
  return r;
}

// Runs `argv` directly (no shell whose command line would also hold the marker).
int spawn_wait(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string marker_rule(const std::string& name, const std::string& marker) {
  return "title: Rollout marker " + marker +
         "\nid: 0b8f6c1e-7a43-4f0e-9d61-5e2a9c7b3d10\nname: " + name +
         "\nstatus: test\nauthor: vigil tests\nreferences:\n  - https://example.org/" + marker +
         "\ntags:\n  - attack.t1059.004\nlogsource:\n  product: linux\n  category: "
         "process_creation\ndetection:\n  selection:\n    Image|endswith: '/echo'\n"
         "    CommandLine|contains: '" +
         marker + "'\n  condition: selection\nlevel: high\n";
}

class Query {
 public:
  explicit Query(const std::string& addr)
      : stub_(vigil::v1::QueryService::NewStub(
            grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()))) {}

  // The stored exec by `agent` since `since_ns` with `arg` among its
  // arguments, if it is there yet.
  std::optional<vigil::v1::Event> exec_of(const std::string& agent, const std::string& arg,
                                          std::uint64_t since_ns) {
    vigil::v1::QueryEventsRequest req;
    req.set_agent_id(agent);
    req.set_type("exec");
    req.set_since_ns(since_ns);
    req.set_limit(10000);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    vigil::v1::QueryEventsResponse resp;
    if (!stub_->QueryEvents(&ctx, req, &resp).ok()) return std::nullopt;
    for (const auto& se : resp.events()) {
      const auto& e = se.event();
      if (e.has_exec() && std::ranges::find(e.exec().args(), arg) != e.exec().args().end()) {
        return e;
      }
    }
    return std::nullopt;
  }

  // Alerts of `agent` since `since_ns` carrying indicator `id`.
  int alerts_with(const std::string& agent, const std::string& id, std::uint64_t since_ns) {
    vigil::v1::QueryAlertsRequest req;
    req.set_since_ns(since_ns);
    req.set_limit(1000);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    vigil::v1::QueryAlertsResponse resp;
    if (!stub_->QueryAlerts(&ctx, req, &resp).ok()) return -1;
    int n = 0;
    for (const auto& a : resp.alerts()) {
      if (a.agent_id() != agent) continue;
      for (const auto& i : a.indicators()) {
        if (i.id() == id) {
          ++n;
          break;
        }
      }
    }
    return n;
  }

 private:
  std::unique_ptr<vigil::v1::QueryService::Stub> stub_;
};

bool has_indicator(const vigil::v1::Event& e, const std::string& id) {
  return std::ranges::any_of(e.indicators(), [&](const auto& i) { return i.id() == id; });
}

// The pack each agent reports, from `vigilctl --json rules status`.
std::map<std::string, std::string> pack_versions(const fs::path& dir, const std::string& addr,
                                                 std::string* phase = nullptr) {
  std::map<std::string, std::string> out;
  const auto r = vigilctl(dir, addr, {"--json", "rules", "status"});
  if (r.rc != 0) return out;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return out;
  if (phase != nullptr) *phase = j.value("rollout", nlohmann::json::object()).value("phase", "");
  for (const auto& a : j.value("agents", nlohmann::json::array())) {
    out[a.value("agent_id", "")] = a.value("version", "");
  }
  return out;
}

TEST(RuleRollout, SignedPackGoesCanaryThenFleetAlertsAndRollsBack) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  std::string addr;
  auto collector = start_collector(dir.path(), addr);
  ASSERT_TRUE(collector) << "collector did not start";
  const auto pub_path = dir.path() / "data" / "model-signing.key.pub";
  ASSERT_TRUE(wait_until([&] { return fs::exists(pub_path); }, 5s));
  std::string pub = slurp(pub_path);
  pub.erase(pub.find_last_not_of('\n') + 1);
  ASSERT_EQ(pub.size(), 64U);

  auto a = start_agent(dir.path(), "rr-a", addr, pub);
  auto b = start_agent(dir.path(), "rr-b", addr, pub);
  Query q(addr);
  ASSERT_TRUE(wait_until(
      [&] {
        const auto v = pack_versions(dir.path(), addr);
        return v.contains("rr-a") && v.contains("rr-b");
      },
      30s))
      << a->err() << b->err();

  std::mt19937_64 rng(std::random_device{}());
  const std::string tag = std::to_string(rng() % 1'000'000'000);
  const std::string marker = "vigil-rollout-marker-" + tag;
  const std::string rule = "rollout-marker-" + tag;
  // Each phase runs the marker with its own suffix, so that its exec is told
  // apart from the others'; the rule matches all of them. Times are taken 2 s
  // early: agents' event times come from the boot clock.
  const auto since = [] { return vigil::unix_now_ns() - 2'000'000'000ULL; };

  // Before any pack the marker is an ordinary exec.
  const auto t0 = since();
  const auto before_arg = marker + "-before";
  ASSERT_EQ(spawn_wait({"/bin/echo", before_arg}), 0);
  std::optional<vigil::v1::Event> before;
  ASSERT_TRUE(
      wait_until([&] { return (before = q.exec_of("rr-a", before_arg, t0)).has_value(); }, 20s))
      << "the marker's exec reaches the collector";
  EXPECT_FALSE(has_indicator(*before, rule));

  // A pack that does not load is refused with the reason, and not registered.
  const auto bad = dir.path() / "bad-pack";
  fs::create_directories(bad);
  std::ofstream(bad / "ok.yml") << marker_rule(rule, marker);
  std::ofstream(bad / "broken.yml") << "title: [unclosed\n  detection: {\n";
  auto r = vigilctl(dir.path(), addr, {"rules", "push", bad.string()});
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("rule pack refused"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("broken.yml"), std::string::npos) << r.err;

  const auto good = dir.path() / "pack";
  fs::create_directories(good / "linux");
  std::ofstream(good / "linux" / "marker.yml") << marker_rule(rule, marker);
  std::ofstream(good / "README.md") << "not a rule: not pushed\n";
  r = vigilctl(dir.path(), addr,
               {"--json", "rules", "push", good.string(), "--description", "integration test"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  const std::string version = info["version"];
  EXPECT_EQ(version, "rp-1");
  EXPECT_EQ(info["state"], "candidate");
  EXPECT_EQ(info["files"], 1);
  r = vigilctl(dir.path(), addr, {"rules", "list"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find(version), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(pub), std::string::npos) << "the list names the signing key";

  // Canary: one of two agents, then the fleet after an 8 s soak.
  r = vigilctl(dir.path(), addr,
               {"--json", "rules", "rollout", version, "--canary", "0.5", "--soak", "8"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["phase"], "canary");
  ASSERT_EQ(st["canary_agents"].size(), 1U);
  const std::string canary = st["canary_agents"][0];
  const std::string other = canary == "rr-a" ? "rr-b" : "rr-a";
  ASSERT_TRUE(wait_until([&] { return pack_versions(dir.path(), addr)[canary] == version; }, 10s))
      << "the canary verified, wrote and loaded the pack";
  EXPECT_EQ(pack_versions(dir.path(), addr)[other], "") << "the rest waits for the soak";
  std::string phase;
  ASSERT_TRUE(wait_until(
      [&] {
        auto v = pack_versions(dir.path(), addr, &phase);
        return phase == "fleet" && v["rr-a"] == version && v["rr-b"] == version;
      },
      30s))
      << "phase " << phase << "\n"
      << collector->err();
  r = vigilctl(dir.path(), addr, {"rules", "status"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("phase=fleet"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("rr-a +yes +" + version))) << r.out;
  EXPECT_TRUE(fs::exists(dir.path() / "rr-a" / "rules-pack" / version / "linux" / "marker.yml"));

  // The marker now alerts on both hosts, with the rule as the indicator.
  const auto t1 = since();
  const auto fleet_arg = marker + "-fleet";
  ASSERT_EQ(spawn_wait({"/bin/echo", fleet_arg}), 0);
  for (const auto* host : {"rr-a", "rr-b"}) {
    std::optional<vigil::v1::Event> hit;
    ASSERT_TRUE(wait_until([&] { return (hit = q.exec_of(host, fleet_arg, t1)).has_value(); }, 20s))
        << host;
    EXPECT_TRUE(has_indicator(*hit, rule)) << host << ": " << hit->DebugString();
    EXPECT_GE(hit->score(), 50U) << host << ": a high rule alerts on its own";
    EXPECT_FALSE(hit->alert_id().empty()) << host;
    EXPECT_TRUE(wait_until([&] { return q.alerts_with(host, rule, t1) > 0; }, 10s)) << host;
  }

  // Rollback: the first pack's predecessor is no pack at all.
  r = vigilctl(dir.path(), addr, {"--json", "rules", "rollback", "--reason", "integration test"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["phase"], "rolled_back");
  ASSERT_TRUE(wait_until(
      [&] {
        auto v = pack_versions(dir.path(), addr);
        return v.size() == 2 && v["rr-a"].empty() && v["rr-b"].empty();
      },
      20s));
  r = vigilctl(dir.path(), addr, {"--json", "rules", "list"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["packs"][0]["state"], "rolled_back");
  EXPECT_FALSE(fs::exists(dir.path() / "rr-a" / "rules-pack" / version));

  const auto t2 = since();
  const auto after_arg = marker + "-after";
  ASSERT_EQ(spawn_wait({"/bin/echo", after_arg}), 0);
  for (const auto* host : {"rr-a", "rr-b"}) {
    std::optional<vigil::v1::Event> after;
    ASSERT_TRUE(
        wait_until([&] { return (after = q.exec_of(host, after_arg, t2)).has_value(); }, 20s))
        << host;
    EXPECT_FALSE(has_indicator(*after, rule)) << host << ": " << after->DebugString();
    EXPECT_EQ(q.alerts_with(host, rule, t2), 0) << host;
  }
  EXPECT_EQ(a->err().find("rule pack " + version + ": refused"), std::string::npos) << a->err();

  kill(a->pid(), SIGTERM);
  kill(b->pid(), SIGTERM);
  EXPECT_EQ(a->wait_for(15s), std::optional<int>(0));
  EXPECT_EQ(b->wait_for(15s), std::optional<int>(0));
  kill(collector->pid(), SIGTERM);
  EXPECT_EQ(collector->wait_for(15s), std::optional<int>(0));
}

// Whether `agent` has an open stream, from `vigilctl --json rules status`.
bool connected(const fs::path& dir, const std::string& addr, const std::string& agent) {
  const auto r = vigilctl(dir, addr, {"--json", "rules", "status"});
  if (r.rc != 0) return false;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return false;
  for (const auto& a : j.value("agents", nlohmann::json::array())) {
    if (a.value("agent_id", "") == agent) return a.value("connected", false);
  }
  return false;
}

TEST(RuleRollout, ADisableOnlyPackSilencesABuiltInRuleFleetWideUntilRolledBack) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  std::string addr;
  auto collector = start_collector(dir.path(), addr);
  ASSERT_TRUE(collector) << "collector did not start";
  const auto pub_path = dir.path() / "data" / "model-signing.key.pub";
  ASSERT_TRUE(wait_until([&] { return fs::exists(pub_path); }, 5s));
  std::string pub = slurp(pub_path);
  pub.erase(pub.find_last_not_of('\n') + 1);
  ASSERT_EQ(pub.size(), 64U);

  auto a = start_agent(dir.path(), "rd-a", addr, pub);
  auto b = start_agent(dir.path(), "rd-b", addr, pub);
  Query q(addr);
  ASSERT_TRUE(wait_until(
      [&] {
        const auto v = pack_versions(dir.path(), addr);
        return v.contains("rd-a") && v.contains("rd-b");
      },
      30s))
      << a->err() << b->err();

  // vigil's built-in history-disable rule (high) matches this harmless echo.
  const std::string rule = "history-disable";
  std::mt19937_64 rng(std::random_device{}());
  const std::string marker = "vigil-disable-marker-" + std::to_string(rng() % 1'000'000'000);
  const auto run = [&](const std::string& arg) {
    return spawn_wait({"/bin/echo", "set", "+o", "history", arg});
  };
  const auto since = [] { return vigil::unix_now_ns() - 2'000'000'000ULL; };
  const std::vector<std::string> hosts = {"rd-a", "rd-b"};

  // Before: the rule alerts on both hosts.
  const auto t0 = since();
  const auto before_arg = marker + "-before";
  ASSERT_EQ(run(before_arg), 0);
  for (const auto& host : hosts) {
    std::optional<vigil::v1::Event> e;
    ASSERT_TRUE(wait_until([&] { return (e = q.exec_of(host, before_arg, t0)).has_value(); }, 20s))
        << host;
    EXPECT_TRUE(has_indicator(*e, rule)) << host << ": " << e->DebugString();
    EXPECT_TRUE(wait_until([&] { return q.alerts_with(host, rule, t0) > 0; }, 10s)) << host;
  }

  // A pack of nothing but the rule to switch off.
  auto r = vigilctl(dir.path(), addr, {"rules", "push"});
  EXPECT_EQ(r.rc, 2) << "neither DIR nor --disable";
  EXPECT_NE(r.err.find("--disable ID"), std::string::npos) << r.err;
  r = vigilctl(dir.path(), addr,
               {"--json", "rules", "push", "--disable", rule, "--description", "quiet history"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  const std::string version = info["version"];
  EXPECT_EQ(info.value("files", 0), 0);
  EXPECT_EQ(info["disabled"], nlohmann::json::array({rule}));
  r = vigilctl(dir.path(), addr, {"rules", "list"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(version + " +candidate .* " + rule + " ")))
      << r.out;

  r = vigilctl(dir.path(), addr,
               {"--json", "rules", "rollout", version, "--canary", "0.5", "--soak", "8"});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::string phase;
  ASSERT_TRUE(wait_until(
      [&] {
        auto v = pack_versions(dir.path(), addr, &phase);
        return phase == "fleet" && v["rd-a"] == version && v["rd-b"] == version;
      },
      30s))
      << "phase " << phase << "\n"
      << a->err() << b->err();
  EXPECT_EQ(slurp(dir.path() / "rd-a" / "rules-pack" / version / ".disabled"), rule + "\n");
  for (const auto* p : {&a, &b}) {
    EXPECT_NE((*p)->err().find("rules: rule pack " + version + " disables 1 ids or names: " + rule),
              std::string::npos)
        << (*p)->err();
  }

  // Now the same command line alerts on neither host.
  const auto t1 = since();
  const auto off_arg = marker + "-disabled";
  ASSERT_EQ(run(off_arg), 0);
  for (const auto& host : hosts) {
    std::optional<vigil::v1::Event> e;
    ASSERT_TRUE(wait_until([&] { return (e = q.exec_of(host, off_arg, t1)).has_value(); }, 20s))
        << host;
    EXPECT_FALSE(has_indicator(*e, rule)) << host << ": " << e->DebugString();
    EXPECT_EQ(q.alerts_with(host, rule, t1), 0) << host;
  }

  // A SIGHUP reload keeps them (the pack's arrival was a reload too: count).
  const auto reloads = [&] {
    const auto err = b->err();
    std::size_t n = 0;
    for (auto at = err.find("rules: reloaded"); at != std::string::npos;
         at = err.find("rules: reloaded", at + 1)) {
      ++n;
    }
    return n;
  };
  const auto reloads_before = reloads();
  kill(b->pid(), SIGHUP);
  ASSERT_TRUE(wait_until([&] { return reloads() > reloads_before; }, 10s)) << b->err();
  const auto th = since();
  const auto hup_arg = marker + "-reloaded";
  ASSERT_EQ(run(hup_arg), 0);
  std::optional<vigil::v1::Event> reloaded;
  ASSERT_TRUE(
      wait_until([&] { return (reloaded = q.exec_of("rd-b", hup_arg, th)).has_value(); }, 20s));
  EXPECT_FALSE(has_indicator(*reloaded, rule)) << reloaded->DebugString();

  // A restart keeps the pack and what it disables (nothing is resent: the
  // agent says hello with the version it runs).
  kill(a->pid(), SIGTERM);
  ASSERT_EQ(a->wait_for(15s), std::optional<int>(0));
  a = start_agent(dir.path(), "rd-a", addr, pub);
  ASSERT_TRUE(wait_until(
      [&] { return a->err().find("rule pack " + version + " from") != std::string::npos; }, 20s))
      << a->err();
  EXPECT_NE(a->err().find("disabling 1 rules"), std::string::npos) << a->err();
  std::optional<vigil::v1::Event> restarted;
  for (int i = 0; i < 15 && !restarted; ++i) {  // until the new agent's probes see it
    const auto t = since();
    const auto arg = marker + "-restarted-" + std::to_string(i);
    ASSERT_EQ(run(arg), 0);
    wait_until([&] { return (restarted = q.exec_of("rd-a", arg, t)).has_value(); }, 2s);
  }
  ASSERT_TRUE(restarted) << a->err();
  EXPECT_FALSE(has_indicator(*restarted, rule)) << restarted->DebugString();
  ASSERT_TRUE(wait_until([&] { return connected(dir.path(), addr, "rd-a"); }, 20s));
  EXPECT_EQ(pack_versions(dir.path(), addr)["rd-a"], version) << "hello and first health";

  // Rollback: back to no pack, and the rule alerts again on both hosts.
  r = vigilctl(dir.path(), addr, {"--json", "rules", "rollback", "--reason", "integration test"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["phase"], "rolled_back");
  ASSERT_TRUE(wait_until(
      [&] {
        auto v = pack_versions(dir.path(), addr);
        return v.size() == 2 && v["rd-a"].empty() && v["rd-b"].empty();
      },
      20s));
  EXPECT_FALSE(fs::exists(dir.path() / "rd-a" / "rules-pack" / version));
  const auto t2 = since();
  const auto again_arg = marker + "-again";
  ASSERT_EQ(run(again_arg), 0);
  for (const auto& host : hosts) {
    std::optional<vigil::v1::Event> e;
    ASSERT_TRUE(wait_until([&] { return (e = q.exec_of(host, again_arg, t2)).has_value(); }, 20s))
        << host;
    EXPECT_TRUE(has_indicator(*e, rule)) << host << ": " << e->DebugString();
    EXPECT_TRUE(wait_until([&] { return q.alerts_with(host, rule, t2) > 0; }, 10s)) << host;
  }
  EXPECT_EQ(a->err().find(": refused"), std::string::npos) << a->err();
  EXPECT_EQ(b->err().find(": refused"), std::string::npos) << b->err();

  kill(a->pid(), SIGTERM);
  kill(b->pid(), SIGTERM);
  EXPECT_EQ(a->wait_for(15s), std::optional<int>(0));
  EXPECT_EQ(b->wait_for(15s), std::optional<int>(0));
  kill(collector->pid(), SIGTERM);
  EXPECT_EQ(collector->wait_for(15s), std::optional<int>(0));
}

// Pushing, rolling out and rolling back change what the fleet detects: an
// operator token, as for models. Viewers read. (No agents: runs without root.)
TEST(RuleRollout, ChangingTheFleetsRulesNeedsAnOperatorToken) {
  vigil::test::TempDir dir;
  std::ofstream(dir.path() / "tokens")
      << "viewer   rules-viewer-token-0123456789\noperator rules-operator-token-0123456789\n";
  std::ofstream(dir.path() / "viewer.token") << "viewer rules-viewer-token-0123456789\n";
  std::ofstream(dir.path() / "operator.token") << "rules-operator-token-0123456789\n";
  std::string addr;
  auto collector =
      start_collector(dir.path(), addr, {"--token-file", (dir.path() / "tokens").string()});
  ASSERT_TRUE(collector) << "collector did not start";
  const auto pack = dir.path() / "pack";
  fs::create_directories(pack);
  std::ofstream(pack / "marker.yml") << marker_rule("token-marker", "vigil-token-marker");
  const auto viewer = (dir.path() / "viewer.token").string();
  const auto op = (dir.path() / "operator.token").string();

  auto r = vigilctl(dir.path(), addr, {"rules", "push", pack.string()});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("bearer token"), std::string::npos) << r.err;
  r = vigilctl(dir.path(), addr, {"--token-file", viewer, "rules", "push", pack.string()});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("operator token"), std::string::npos) << r.err;
  r = vigilctl(dir.path(), addr, {"--token-file", viewer, "--json", "rules", "list"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).value("packs", nlohmann::json::array()).size(), 0U)
      << "nothing was registered by the refused pushes";

  r = vigilctl(dir.path(), addr, {"--token-file", op, "rules", "push", pack.string()});
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"rules", "rollout", "rp-1"}, {"rules", "rollback", "--reason", "x"}}) {
    std::vector<std::string> full = {"--token-file", viewer};
    full.insert(full.end(), args.begin(), args.end());
    r = vigilctl(dir.path(), addr, full);
    EXPECT_EQ(r.rc, 1) << args[1];
    EXPECT_NE(r.err.find("operator token"), std::string::npos) << args[1] << ": " << r.err;
  }
  r = vigilctl(dir.path(), addr, {"--token-file", viewer, "--json", "rules", "status"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rollout"]["phase"], "idle");
  // The operator passes authorization; with no agent connected the rollout is refused.
  r = vigilctl(dir.path(), addr, {"--token-file", op, "rules", "rollout", "rp-1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("no agents connected"), std::string::npos) << r.err;
}

}  // namespace
