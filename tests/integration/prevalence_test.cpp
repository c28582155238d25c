// Fleet prevalence and the rarity path (docs/learning.md, "Rarity"): a real
// vigil-collector and
//   - agents played over real gRPC (no root): behaviour reports from several
//     hosts merge; a behaviour on 3 hosts reaches every agent in the pushed
//     table with its host count, one seen on a single host does not; the
//     table survives a collector restart; an oversize report is refused;
//   - a real vigil-agent (root) with built-in detections off and no learning
//     window: a sensitive write that is new on its host and rare in the fleet
//     alerts through the rarity path; the same kind of write by a program the
//     fleet (3 other hosts) already does is new on this host too, but common
//     in the fleet, and does not alert.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "util/fleet.h"
#include "util/played_agent.h"
#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/v1/agent.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::wait_until;
using Json = nlohmann::json;
namespace fs = std::filesystem;

// The documented hash of a behaviour key (docs/api.md): FNV-1a 64.
std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

using vigil::test::PlayedAgent;

// Collector settings for tests: changes pushed within 200 ms.
std::vector<std::string> fast_push(const fs::path& dir) {
  const auto config = dir / "collector.yaml";
  fs::create_directories(dir);
  std::ofstream(config) << "prevalence_debounce_ms: 200\n";
  return {"--config", config.string()};
}

TEST(FleetPrevalence, ReportsMergeByHostReachEveryAgentAndSurviveARestart) {
  vigil::test::TempDir dir;
  vigil::test::CollectorProc collector(dir.path() / "collector", fast_push(dir.path()));
  ASSERT_TRUE(collector.start()) << collector.err();
  const std::uint64_t common = fnv1a64("pc|/usr/sbin/cron|/usr/bin/dash");
  const std::uint64_t lone = fnv1a64("pc|/usr/sbin/nginx|/usr/bin/dash");
  {
    PlayedAgent a(collector.addr(), "prev-a", "");
    PlayedAgent b(collector.addr(), "prev-b", "");
    PlayedAgent c(collector.addr(), "prev-c", "");
    ASSERT_TRUE(a.report({common, lone}));
    ASSERT_TRUE(a.report({common}));  // the same host twice counts once
    ASSERT_TRUE(b.report({common}));
    ASSERT_TRUE(c.report({common}));
    // A fourth agent, which reported nothing, is told too.
    PlayedAgent d(collector.addr(), "prev-d", "");
    ASSERT_TRUE(wait_until([&] { return d.hosts(common) == 3U; }, 10s))
        << "hosts(common) = " << d.hosts(common).value_or(9999) << "\n"
        << collector.err();
    // Agents connected before the change get it pushed (debounced).
    EXPECT_TRUE(wait_until([&] { return a.hosts(common) == 3U; }, 10s));
    EXPECT_EQ(d.hosts(lone), 0U) << "a behaviour of one host is not in the table";
    EXPECT_GE(d.fleet_hosts(), 3U);
    EXPECT_TRUE(d.refusal_codes().empty());

    // An oversize report is refused, with its reason; what was accepted stays.
    PlayedAgent bad(collector.addr(), "prev-bad", "");
    std::vector<std::uint64_t> many(5000);
    for (std::size_t i = 0; i < many.size(); ++i) many[i] = i + 1;
    bad.report(many);
    ASSERT_TRUE(wait_until([&] { return bad.ended(); }, 10s));
    ASSERT_FALSE(bad.refusal_codes().empty());
    EXPECT_EQ(bad.refusal_codes().front(), "bad_behaviours");
    EXPECT_EQ(d.hosts(common), 3U);
  }
  ASSERT_EQ(collector.stop(), 0);
  ASSERT_TRUE(collector.start()) << collector.err();
  PlayedAgent e(collector.addr(), "prev-e", "");
  ASSERT_TRUE(wait_until([&] { return e.hosts(common).has_value(); }, 10s));
  EXPECT_EQ(e.hosts(common), 3U) << "the table did not survive the restart";
  EXPECT_EQ(e.hosts(lone), 0U);
}

std::string rare_indicator(const Json& j) {
  for (const auto& i : j.value("indicators", Json::array())) {
    const auto id = i.value("id", std::string());
    if (id.starts_with("rare-")) return id;
  }
  return {};
}

// Rare-path alerts of `agent` whose rarity key is `key`.
std::vector<Json> rare_alerts(const vigil::test::AgentProc& agent, const std::string& key) {
  std::vector<Json> out;
  for (auto& j : agent.alert_lines()) {
    if (!rare_indicator(j).empty() && j.contains("rarity") &&
        j["rarity"].value("key", std::string()) == key) {
      out.push_back(std::move(j));
    }
  }
  return out;
}

TEST(FleetPrevalence, ABehaviourCommonInTheFleetDoesNotAlertWhereItIsNewOnAHost) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  vigil::test::CollectorProc collector(dir.path() / "collector", fast_push(dir.path()));
  ASSERT_TRUE(collector.start()) << collector.err();

  // Sensitive writes by two programs (a cron entry): cp's is rare in the
  // fleet, tee's is what 3 other hosts already do.
  const auto cp = fs::canonical("/usr/bin/cp").string();
  const auto tee = fs::canonical("/usr/bin/tee").string();
  const std::string tee_key = "fw|" + tee + "|/etc/cron.d";
  const std::string cp_key = "fw|" + cp + "|/etc/cron.d";
  std::vector<std::unique_ptr<PlayedAgent>> fleet;
  for (const char* id : {"prev-f1", "prev-f2", "prev-f3"}) {
    fleet.push_back(std::make_unique<PlayedAgent>(collector.addr(), id, ""));
    ASSERT_TRUE(fleet.back()->report({fnv1a64(tee_key)}));
  }
  ASSERT_TRUE(wait_until([&] { return fleet[0]->hosts(fnv1a64(tee_key)) == 3U; }, 10s));

  vigil::test::AgentProc agent(dir.path(), "prev-real", collector.addr(),
                               {"--probes", "process,file", "--no-builtin-detections",
                                "--rarity-learn", "0", "--alert-threshold", "50"});
  ASSERT_TRUE(agent.connected()) << agent.err();
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = agent.stats();
        return s.contains("rarity") && s["rarity"].value("prevalence_keys", 0) >= 1;
      },
      20s))
      << "no prevalence table reached the agent: " << agent.stats().dump();

  const auto src = dir.path() / "entry";
  std::ofstream(src) << "# vigil prevalence test\n";
  const std::string tee_target = "/etc/cron.d/vigil-prev-tee";
  const std::string cp_target = "/etc/cron.d/vigil-prev-cp";
  ASSERT_TRUE(vigil::test::sh(tee + " " + tee_target + " < " + src.string()));
  ASSERT_TRUE(vigil::test::sh(cp + " " + src.string() + " " + cp_target));
  fs::remove(tee_target);
  fs::remove(cp_target);

  ASSERT_TRUE(wait_until([&] { return !rare_alerts(agent, cp_key).empty(); }, 10s))
      << "no rarity alert for " << cp_key << ":\n"
      << vigil::test::slurp(agent.alerts()) << agent.err();
  const auto cp_alert = rare_alerts(agent, cp_key).front();
  EXPECT_EQ(rare_indicator(cp_alert), "rare-file-write");
  EXPECT_GE(cp_alert["score"].get<int>(), 50);
  EXPECT_NE(cp_alert["rarity"].dump().find("sensitive-target"), std::string::npos)
      << cp_alert.dump();
  EXPECT_TRUE(rare_alerts(agent, tee_key).empty()) << "tee's write is common in the fleet:\n"
                                                   << vigil::test::slurp(agent.alerts());
  ASSERT_TRUE(wait_until([&] { return agent.stats()["rarity"].value("fleet_common", 0) >= 1; }, 5s))
      << agent.stats().dump();
  // The agent reported its own behaviours upstream.
  ASSERT_TRUE(
      wait_until([&] { return agent.stats()["rarity"].value("behaviours_reported", 0) >= 1; }, 40s))
      << agent.stats().dump();
  // tee's write was seen and learned (the host memory has its key): the fleet
  // table, not a missed event, kept it quiet.
  agent.stop();
  const auto memory = vigil::test::slurp(agent.state() / "behaviours.tsv");
  EXPECT_NE(memory.find(tee_key), std::string::npos) << memory.substr(0, 2000);
  EXPECT_NE(memory.find(cp_key), std::string::npos);
}

}  // namespace
