// Shadow scoring end to end (docs/api.md, "Shadow scoring"): a real
// vigil-collector and a real vigil-agent (root: its process probe watches the
// host). Two candidates, copies of the active model, are put in shadow with
// `vigilctl models shadow`, one after the other:
//   - "noisy" scores every event 100: the agent reports a would-be alert for
//     every event an indicator fired on (this test runs a program called nmap
//     from /tmp: exec-writable-location, offensive-tool), and raises none;
//   - "blind" scores every event 0 and has no floors of its own: the agent
//     reports the same kind of events scored, and zero would-be alerts.
// The agent's alert threshold is 100, which only the noisy model reaches: an
// alert from this agent could only come from the shadow model acting.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "util/fleet.h"
#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/v1/model.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;
using Json = nlohmann::json;
namespace fs = std::filesystem;

int vigilctl(const fs::path& dir, const std::string& collector,
             const std::vector<std::string>& args, std::string* out = nullptr) {
  return vigil::test::run_vigilctl(VIGILCTL_BIN, dir, collector, args, out);
}

// A number of proto JSON (64-bit counts are strings).
std::uint64_t u64(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return 0;
  const auto& v = j[key];
  return v.is_string() ? std::stoull(v.get<std::string>()) : v.get<std::uint64_t>();
}

// The collector's shadow numbers (`vigilctl --json models shadow`).
Json shadow_status(const fs::path& dir, const std::string& addr) {
  std::string out;
  if (vigilctl(dir, addr, {"--json", "models", "shadow"}, &out) != 0) return Json::object();
  auto j = Json::parse(out, nullptr, false);
  return j.is_discarded() ? Json::object() : j;
}

// Runs `exe` `n` times (each exec: exec-writable-location and offensive-tool).
void run_tool(const fs::path& dir, const fs::path& exe, int n) {
  for (int i = 0; i < n; ++i) {
    Proc p({exe.string()}, dir);
    p.wait();
  }
}

// The agent's alert lines (level changes are not alerts).
std::size_t alerts_raised(const vigil::test::AgentProc& agent) {
  std::size_t n = 0;
  for (const auto& line : agent.alert_lines()) {
    if (line.value("type", "") != "level" && line.value("type", "") != "incident") ++n;
  }
  return n;
}

TEST(ShadowScoring, CandidatesAreCountedOnLiveEventsAndNeverAct) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  vigil::test::CollectorProc collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start()) << collector.err();
  const auto addr = collector.addr();
  const auto pub_path = dir.path() / "collector" / "data" / "model-signing.key.pub";
  ASSERT_TRUE(wait_until([&] { return fs::exists(pub_path); }, 5s));
  std::string pub = slurp(pub_path);
  pub.erase(pub.find_last_not_of('\n') + 1);

  // The candidates: the active model with its combiner's bias at +100 (every
  // event 100) and at -100 without floors (every event 0; the agent's own
  // floors, the indicators' severities, stay: at most 90).
  auto models = vigil::v1::ModelService::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  vigil::v1::GetModelResponse active;
  {
    grpc::ClientContext ctx;
    vigil::v1::ListModelsResponse list;
    ASSERT_TRUE(models->ListModels(&ctx, {}, &list).ok());
    std::string version;
    for (const auto& m : list.models()) {
      if (m.state() == "active") version = m.version();
    }
    ASSERT_FALSE(version.empty());
    grpc::ClientContext get_ctx;
    vigil::v1::GetModelRequest req;
    req.set_version(version);
    ASSERT_TRUE(models->GetModel(&get_ctx, req, &active).ok());
  }
  for (const auto& [version, bias] :
       {std::pair{"noisy-1", 100.0F}, std::pair{"blind-1", -100.0F}}) {
    vigil::v1::Model m;
    ASSERT_TRUE(m.ParseFromString(active.model()));
    m.set_version(version);
    m.mutable_combiner()->set_bias(bias);
    m.clear_cap_without_indicators_set();
    if (bias < 0) {
      m.clear_floors();
      m.set_focus_bonus(0);
    }
    const auto file = dir.path() / (std::string(version) + ".pb");
    std::ofstream(file, std::ios::binary) << m.SerializeAsString();
    std::string out;
    ASSERT_EQ(vigilctl(dir.path(), addr, {"models", "import", file.string()}, &out), 0) << out;
  }

  // Errors say what to do next.
  std::string out;
  EXPECT_EQ(vigilctl(dir.path(), addr, {"models", "shadow", "no-such-model"}, &out), 1);
  EXPECT_NE(out.find("vigilctl models list"), std::string::npos) << out;
  EXPECT_EQ(vigilctl(dir.path(), addr, {"models", "shadow", "noisy-1"}, &out), 1)
      << "no agent connected yet";
  EXPECT_NE(out.find("no agents connected"), std::string::npos) << out;
  EXPECT_EQ(vigilctl(dir.path(), addr, {"models", "shadow", "--stop"}, &out), 1);
  EXPECT_NE(out.find("vigilctl models shadow VERSION"), std::string::npos) << out;

  vigil::test::AgentProc agent(
      dir.path(), "shadow-a", addr,
      {"--probes", "process", "--alert-threshold", "100", "--model-pubkey", pub});
  ASSERT_TRUE(agent.connected()) << agent.err();

  // A program named nmap in /tmp (this test's directory).
  const auto tool = dir.path() / "nmap";
  fs::copy_file("/bin/true", tool);
  fs::permissions(tool, fs::perms::owner_all);

  // --------------------------------------------------------- noisy: many would-be alerts
  // Global options after the subcommand, as everywhere in vigilctl.
  ASSERT_EQ(vigilctl(dir.path(), addr, {"models", "shadow", "noisy-1", "--json"}, &out), 0) << out;
  auto st = Json::parse(out, nullptr, false);
  ASSERT_FALSE(st.is_discarded()) << out;
  EXPECT_EQ(st.value("phase", ""), "running");
  EXPECT_EQ(st.value("agents", Json::array()), Json({"shadow-a"})) << out;
  ASSERT_TRUE(wait_until(
      [&] { return agent.err().find("shadow model noisy-1 beside") != std::string::npos; }, 15s))
      << agent.err();
  run_tool(dir.path(), tool, 30);
  ASSERT_TRUE(wait_until(
      [&] {
        st = shadow_status(dir.path(), addr);
        return u64(st.value("counts", Json::object()), "would_alert") >= 30;
      },
      30s))
      << st.dump() << "\n"
      << agent.err();
  EXPECT_EQ(st.value("version", ""), "noisy-1");
  EXPECT_EQ(st.value("agents_reporting", 0), 1);
  const auto noisy = st["counts"];
  EXPECT_GE(u64(noisy, "events"), u64(noisy, "would_alert"));
  EXPECT_EQ(u64(noisy, "active_alerts"), 0U) << "nothing reaches 100 with the active model";
  EXPECT_GT(st.value("would_alert_per_1k", 0.0), 0.0);
  ASSERT_EQ(noisy.value("scores", Json::array()).size(), 10U) << st.dump();
  EXPECT_EQ(std::stoull(noisy["scores"][9].get<std::string>()), u64(noisy, "events"))
      << "the noisy model scored every event 90..100";
  // The agent counts the same, raised nothing and shipped no alert.
  ASSERT_TRUE(wait_until(
      [&] { return agent.stats().value("shadow", Json::object()).value("would_alert", 0) >= 30; },
      10s))
      << agent.stats().dump();
  EXPECT_EQ(agent.stats()["shadow"].value("version", ""), "noisy-1");
  EXPECT_EQ(agent.stats()["pipeline"].value("alerts", -1), 0) << agent.stats().dump();
  EXPECT_EQ(alerts_raised(agent), 0U) << slurp(agent.alerts());
  EXPECT_TRUE(vigil::test::alerts_with(addr, "offensive-tool").empty())
      << "no alert reached the collector";
  // The rollout status and the table show the numbers too.
  ASSERT_EQ(vigilctl(dir.path(), addr, {"--json", "models", "status"}, &out), 0) << out;
  EXPECT_EQ(Json::parse(out, nullptr, false)["shadow"].value("version", ""), "noisy-1") << out;
  ASSERT_EQ(vigilctl(dir.path(), addr, {"models", "status"}, &out), 0) << out;
  EXPECT_NE(out.find("shadow noisy-1 phase=running"), std::string::npos) << out;
  EXPECT_NE(out.find("would alert"), std::string::npos) << out;

  // --------------------------------------------------------- blind: none
  ASSERT_EQ(vigilctl(dir.path(), addr, {"--json", "models", "shadow", "blind-1"}, &out), 0) << out;
  EXPECT_NE(out.find("replaces noisy-1"), std::string::npos) << out;
  ASSERT_TRUE(wait_until(
      [&] {
        return agent.stats().value("shadow", Json::object()).value("version", "") == "blind-1";
      },
      15s))
      << agent.err();
  run_tool(dir.path(), tool, 30);
  ASSERT_TRUE(wait_until(
      [&] {
        st = shadow_status(dir.path(), addr);
        const auto c = st.value("counts", Json::object());
        // 30 runs of the tool, each an event with indicators (floored at
        // 30..45 by the agent): in the active model's buckets 30 and up.
        const auto a = c.value("active_scores", Json::array());
        std::uint64_t floored = 0;
        for (std::size_t b = 3; b < a.size(); ++b) floored += std::stoull(a[b].get<std::string>());
        return st.value("version", "") == "blind-1" && floored >= 30;
      },
      30s))
      << st.dump() << "\n"
      << agent.err();
  const auto blind = st["counts"];
  EXPECT_GE(u64(blind, "events"), 30U);
  EXPECT_EQ(u64(blind, "would_alert"), 0U) << st.dump();
  EXPECT_EQ(st.value("would_alert_per_1k", 0.0), 0.0);  // proto JSON leaves zeros out
  EXPECT_EQ(agent.stats()["shadow"].value("would_alert", -1), 0);

  // Stopped: the agent drops it, the numbers stay.
  ASSERT_EQ(vigilctl(dir.path(), addr, {"models", "shadow", "--stop"}, &out), 0) << out;
  EXPECT_NE(out.find("shadow blind-1 phase=stopped"), std::string::npos) << out;
  ASSERT_TRUE(wait_until(
      [&] { return agent.stats().value("shadow", Json::object()).value("version", "x").empty(); },
      15s))
      << agent.err();
  EXPECT_NE(agent.err().find("shadow model blind-1 withdrawn"), std::string::npos);
  st = shadow_status(dir.path(), addr);
  EXPECT_EQ(st.value("phase", ""), "stopped");
  EXPECT_GE(u64(st.value("counts", Json::object()), "events"), 30U);
  EXPECT_EQ(alerts_raised(agent), 0U) << slurp(agent.alerts());
}

}  // namespace
