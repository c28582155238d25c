// The canary gate's behaviour comparison (canary_gate.h): the decision rules
// on synthetic group counts, the store-backed source on a real RocksDB, and
// ArtefactRollout acting on the verdicts (rolled back, held, promoted) with a
// fake source and faked agents.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>

#include "util/test_util.h"
#include "vigil/collector/canary_gate.h"
#include "vigil/collector/collector.h"
#include "vigil/collector/rollout.h"

namespace vigil::collector {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kT0 = 1'790'000'000ULL * kSec;

// `agents` agents' `events` events over the window: `alerts` of them alerts
// scored 80, the rest scored `score`.
GroupStats group(std::uint32_t agents, std::uint64_t events, std::uint64_t alerts,
                 std::uint32_t score = 10) {
  GroupStats g;
  g.agents = agents;
  for (std::uint64_t i = 0; i < events; ++i) {
    const bool alert = i < alerts;
    g.add(alert ? 80 : score, alert);
  }
  return g;
}

BehaviourSample sample(GroupStats canary, GroupStats control, double seconds = 60) {
  return {.canary = std::move(canary), .control = std::move(control), .seconds = seconds};
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ------------------------------------------------------------ the rules

TEST(CanaryGateRules, HealthyCanaryPassesWithItsNumbers) {
  // Both groups: 2 agents, 3000 events in 60 s, 20 alerts per 1,000 events.
  const auto d = judge_canary(sample(group(2, 3000, 60), group(2, 3000, 60)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kPass) << d.reason;
  EXPECT_TRUE(has(d.reason, "behaves like the control")) << d.reason;
  EXPECT_TRUE(has(d.reason,
                  "canary 2 agents: 3000 events, 25.0 events/s per agent, 20.0 "
                  "alerts/1k events, 2.0% scored >= 50"))
      << d.reason;
  EXPECT_EQ(d.numbers.verdict(), "pass");
  EXPECT_DOUBLE_EQ(d.numbers.canary().events_per_s(), 25.0);
  EXPECT_DOUBLE_EQ(d.numbers.control().alerts_per_1k(), 20.0);
  EXPECT_DOUBLE_EQ(d.numbers.canary().high_score_fraction(), 0.02);
  EXPECT_EQ(d.numbers.canary().p50_score(), 10U);
  EXPECT_EQ(d.numbers.canary().p99_score(), 80U);
  EXPECT_NEAR(d.numbers.canary().mean_score(), 0.98 * 10 + 0.02 * 80, 1e-9);
}

TEST(CanaryGateRules, AlertsOnEverythingIsRolledBack) {
  // Every canary event raises an alert; the control's 2 % do.
  const auto d = judge_canary(sample(group(2, 3000, 3000), group(2, 3000, 60)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kRollback) << d.reason;
  EXPECT_TRUE(has(d.reason, "canary alerts on everything: 1000.0 alerts/1k events, above 100.0"))
      << d.reason;
  EXPECT_EQ(d.numbers.verdict(), "rollback");
  EXPECT_DOUBLE_EQ(d.numbers.canary().high_score_fraction(), 1.0);
}

TEST(CanaryGateRules, AlertRateJustUnderItsLimitPasses) {
  // The limit is max(5 x 20, 20) = 100 per 1,000: 99 passes, 101 does not.
  EXPECT_EQ(judge_canary(sample(group(1, 1000, 99), group(1, 1000, 20)), {}).verdict,
            GateVerdict::kPass);
  EXPECT_EQ(judge_canary(sample(group(1, 1000, 101), group(1, 1000, 20)), {}).verdict,
            GateVerdict::kRollback);
  // A silent control: the absolute floor (20 per 1,000) applies.
  EXPECT_EQ(judge_canary(sample(group(1, 1000, 19), group(1, 1000, 0)), {}).verdict,
            GateVerdict::kPass);
  EXPECT_EQ(judge_canary(sample(group(1, 1000, 21), group(1, 1000, 0)), {}).verdict,
            GateVerdict::kRollback);
}

TEST(CanaryGateRules, MostEventsScoringHighIsRolledBackEvenWithoutAlerts) {
  // Agents with a higher alert threshold: few alerts, but 51 % of the
  // canary's events score 50 or more.
  auto canary = group(2, 3000, 60, 10);
  for (int i = 0; i < 3000; ++i) canary.add(55, false);
  const auto d = judge_canary(sample(canary, group(2, 6000, 120)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kRollback) << d.reason;
  EXPECT_TRUE(has(d.reason, "canary alerts on everything: 51.0% of its events score >= 50"))
      << d.reason;
  // Not when the control's events score as high (then it is not the model).
  auto control = canary;
  EXPECT_EQ(judge_canary(sample(canary, control), {}).verdict, GateVerdict::kPass);
}

TEST(CanaryGateRules, AlertsOnNothingWhileTheControlAlertsIsRolledBack) {
  const auto d = judge_canary(sample(group(2, 3000, 0), group(2, 3000, 60)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kRollback) << d.reason;
  EXPECT_TRUE(has(d.reason,
                  "canary alerts on nothing: 0.00 alerts/1k events against the "
                  "control's 20.00 (60 expected at the control's rate, 0 raised)"))
      << d.reason;
  // A few alerts are still "nothing": at most 10 % of the control's rate.
  EXPECT_EQ(judge_canary(sample(group(2, 3000, 6), group(2, 3000, 60)), {}).verdict,
            GateVerdict::kRollback);
  EXPECT_EQ(judge_canary(sample(group(2, 3000, 7), group(2, 3000, 60)), {}).verdict,
            GateVerdict::kPass);
}

TEST(CanaryGateRules, SilenceIsNotJudgedWhenTooFewAlertsWereExpected) {
  // The control alerts 2 per 1,000: 1,000 canary events would expect 2 alerts,
  // and 0 of 2 is chance, not a blind model.
  const auto d = judge_canary(sample(group(1, 1000, 0), group(1, 1000, 2)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kPass) << d.reason;
  // Nor when the control itself hardly alerts (below 1 per 1,000).
  EXPECT_EQ(judge_canary(sample(group(1, 50000, 0), group(1, 50000, 40)), {}).verdict,
            GateVerdict::kPass);
}

TEST(CanaryGateRules, StalledCanaryIsRolledBack) {
  // The canary ships 40 % of the control's events per agent ...
  auto d = judge_canary(sample(group(2, 1200, 24), group(4, 6000, 120)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kRollback) << d.reason;
  EXPECT_TRUE(has(d.reason,
                  "canary stalled: 10.0 events/s per agent, below 50% of the "
                  "control's 25.0"))
      << d.reason;
  // ... or nothing at all: not "too little data", the case this rule is for.
  d = judge_canary(sample(group(2, 0, 0), group(4, 6000, 120)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kRollback) << d.reason;
  // 60 % of the control's rate is within the limit.
  EXPECT_EQ(judge_canary(sample(group(2, 1800, 36), group(4, 6000, 120)), {}).verdict,
            GateVerdict::kPass);
}

TEST(CanaryGateRules, TooLittleDataHoldsAndSaysWhy) {
  auto d = judge_canary(sample(group(2, 3000, 60), group(2, 400, 8)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kHold) << d.reason;
  EXPECT_TRUE(has(d.reason,
                  "too little control data to compare behaviour (control 400 events, "
                  "need 500): the canary keeps soaking"))
      << d.reason;
  EXPECT_EQ(d.numbers.verdict(), "hold");
  // A canary of one agent beside a large control: its own count is short,
  // and at the control's rate it could not have shipped more, so it is not
  // "stalled" either.
  d = judge_canary(sample(group(1, 300, 6), group(20, 6000, 120)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kHold) << d.reason;
  EXPECT_TRUE(has(d.reason, "too little canary data")) << d.reason;
  // A model that alerts on everything is not promoted on little data either.
  d = judge_canary(sample(group(2, 100, 100), group(2, 100, 2)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kHold) << d.reason;
}

TEST(CanaryGateRules, NoControlAgentsPassesAndSaysSo) {
  const auto d = judge_canary(sample(group(3, 3000, 3000), group(0, 0, 0)), {});
  EXPECT_EQ(d.verdict, GateVerdict::kPass) << d.reason;
  EXPECT_TRUE(has(d.reason, "behaviour not compared (no control agents")) << d.reason;
}

TEST(CanaryGateRules, ThresholdsComeFromTheConfig) {
  CanaryGateConfig cfg;
  cfg.min_events = 10;
  cfg.alert_ratio = 2;
  cfg.alert_floor_per_1k = 0;
  // 50 per 1,000 against 20: within the default 5x, beyond 2x.
  const auto s = sample(group(1, 1000, 50), group(1, 1000, 20));
  EXPECT_EQ(judge_canary(s, {}).verdict, GateVerdict::kPass);
  EXPECT_EQ(judge_canary(s, cfg).verdict, GateVerdict::kRollback);
  EXPECT_EQ(judge_canary(sample(group(1, 20, 0), group(1, 20, 0)), cfg).verdict, GateVerdict::kPass)
      << "min_events 10: 20 events each are enough";
}

TEST(CanaryGateRules, GroupStatsQuantilesAndMean) {
  GroupStats g;
  g.agents = 1;
  for (std::uint32_t s = 1; s <= 100; ++s) g.add(s, false);
  g.add(250, true);  // clamped to 100
  EXPECT_EQ(g.events, 101U);
  EXPECT_EQ(g.scores[100], 2U);
  EXPECT_EQ(g.quantile(0.5), 51U);
  EXPECT_EQ(g.quantile(0), 1U);
  EXPECT_EQ(g.quantile(1), 100U);
  EXPECT_NEAR(g.mean_score(), (5050.0 + 100) / 101, 1e-9);
  EXPECT_NEAR(g.fraction_at_least(50), 52.0 / 101, 1e-9);
  EXPECT_DOUBLE_EQ(g.events_per_s(10), 10.1);
  EXPECT_DOUBLE_EQ(GroupStats{}.events_per_s(10), 0) << "no agents, no rate";
}

TEST(CanaryGateConfig, YamlKeysAndValidation) {
  CanaryGateConfig cfg;
  const auto yaml = YAML::Load(
      "canary_gate: false\ncanary_gate_min_events: 42\ncanary_gate_alert_ratio: 3.5\n"
      "canary_gate_silent_ratio: 0.2\ncanary_gate_max_scan: 1000\n");
  for (const auto& kv : yaml) {
    EXPECT_TRUE(apply_canary_gate_key(kv.first.as<std::string>(), kv.second, cfg));
  }
  EXPECT_FALSE(apply_canary_gate_key("evolve_window_s", YAML::Load("1"), cfg));
  EXPECT_FALSE(cfg.enabled);
  EXPECT_EQ(cfg.min_events, 42U);
  EXPECT_DOUBLE_EQ(cfg.alert_ratio, 3.5);
  EXPECT_DOUBLE_EQ(cfg.silent_ratio, 0.2);
  EXPECT_EQ(cfg.max_scan, 1000U);
  EXPECT_OK(validate_canary_gate(cfg));
  EXPECT_THROW(apply_canary_gate_key("canary_gate_min_events", YAML::Load("many"), cfg),
               YAML::Exception);
  auto bad = cfg;
  bad.silent_ratio = 1.5;
  EXPECT_FALSE(validate_canary_gate(bad));
  bad = cfg;
  bad.alert_ratio = -1;
  EXPECT_FALSE(validate_canary_gate(bad));
  bad = cfg;
  bad.high_score = 101;
  EXPECT_FALSE(validate_canary_gate(bad));
  bad = cfg;
  bad.max_scan = 0;
  EXPECT_FALSE(validate_canary_gate(bad));
}

TEST(CanaryGateConfig, TheCollectorsYamlCarriesTheKeys) {
  CollectorConfig cfg;
  ASSERT_OK(apply_yaml("canary_gate_min_events: 42\ncanary_gate_min_rate_ratio: 0.25\n", cfg));
  EXPECT_EQ(cfg.models.canary_gate.min_events, 42U);
  EXPECT_DOUBLE_EQ(cfg.models.canary_gate.min_rate_ratio, 0.25);
  EXPECT_TRUE(cfg.models.canary_gate.enabled);
  EXPECT_FALSE(apply_yaml("canary_gate_min_events: lots\n", cfg));
  EXPECT_FALSE(apply_yaml("canary_gate_typo: 1\n", cfg)) << "unknown keys are still refused";
  CollectorConfig shipped;
  ASSERT_OK(apply_yaml_file(VIGIL_SOURCE_DIR "/deploy/config/collector.yaml", shipped));
  EXPECT_EQ(shipped.models.canary_gate.min_events, 500U);
}

// ------------------------------------------------------- the store's numbers

class StoreSource : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.path() / "db", {.sync = false});
    ASSERT_OK(s);
    store_ = std::move(*s);
    for (const char* id : {"can", "ctl", "other"}) {
      v1::Hello h;
      h.set_agent_id(id);
      h.set_host_id(std::string("host-") + id);
      h.set_spool_id(1);
      ASSERT_OK(store_->register_agent(h, kT0));
    }
  }
  // `n` events of `agent`, one every `step_ns` from `from_ns`, every
  // `alert_every`-th an alert scored 90 (0: none), the rest scored 5.
  void ingest(const std::string& agent, std::uint64_t n, std::uint64_t from_ns,
              std::uint64_t step_ns, std::uint64_t alert_every) {
    v1::EventBatch b;
    b.set_first_seq(seq_[agent] + 1);
    for (std::uint64_t i = 0; i < n; ++i) {
      auto* e = b.add_events();
      e->set_seq(++seq_[agent]);
      e->set_type("exec");
      e->set_ts_ns(from_ns + i * step_ns);
      const bool alert = alert_every != 0 && i % alert_every == 0;
      e->set_score(alert ? 90 : 5);
      if (alert) e->set_alert_id("a" + std::to_string(i));
    }
    b.set_last_seq(seq_[agent]);
    ASSERT_OK(store_->ingest(agent, b, kT0));
  }
  test::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::map<std::string, std::uint64_t> seq_;
};

TEST_F(StoreSource, CountsEachGroupsEventsInTheWindowOnly) {
  ingest("can", 10, kT0 - 20 * kSec, kSec, 1);  // before the window: not counted
  ingest("can", 100, kT0, kSec / 10, 1);        // 10 s, every one an alert
  ingest("ctl", 150, kT0, kSec / 15, 50);       // 10 s, 3 alerts
  ingest("other", 300, kT0, kSec / 30, 0);      // in neither group
  StoreBehaviourSource src(*store_, 1'000'000);
  const auto s = src.sample({"can"}, {"ctl"}, kT0, kT0 + 10 * kSec);
  EXPECT_FALSE(s.sampled);
  EXPECT_DOUBLE_EQ(s.seconds, 10.0);
  EXPECT_EQ(s.canary.agents, 1U);
  EXPECT_EQ(s.canary.events, 100U);
  EXPECT_EQ(s.canary.alert_events, 100U);
  EXPECT_EQ(s.canary.scores[90], 100U);
  EXPECT_EQ(s.control.events, 150U);
  EXPECT_EQ(s.control.alert_events, 3U);
  EXPECT_EQ(s.control.scores[5], 147U);
  // What the gate makes of it.
  const auto d = judge_canary(s, {.min_events = 50});
  EXPECT_EQ(d.verdict, GateVerdict::kRollback) << d.reason;
  EXPECT_TRUE(has(d.reason, "canary alerts on everything")) << d.reason;
}

TEST_F(StoreSource, ABusyWindowIsSampledAcrossItsWholeLengthWithinTheBound) {
  // 16 s, one event per agent every 10 ms: 3,200 events, but only 320 read.
  ingest("can", 1600, kT0, kSec / 100, 0);
  ingest("ctl", 1600, kT0 + kSec / 200, kSec / 100, 0);
  StoreBehaviourSource src(*store_, 320);
  const auto s = src.sample({"can"}, {"ctl"}, kT0, kT0 + 16 * kSec);
  EXPECT_TRUE(s.sampled);
  EXPECT_EQ(s.canary.events + s.control.events, 320U);
  // Each of the 16 one-second slices read its first 20 events (0.1 s of it):
  // the rates are those of the whole window.
  EXPECT_NEAR(s.seconds, 16 * 0.1, 0.02);
  EXPECT_NEAR(s.canary.events_per_s(s.seconds), 100.0, 5.0);
  EXPECT_NEAR(s.control.events_per_s(s.seconds), 100.0, 5.0);
}

// ------------------------------------------------------ the rollout acting

class FakeSource final : public BehaviourSource {
 public:
  BehaviourSample sample(const std::vector<std::string>& canary,
                         const std::vector<std::string>& control, std::uint64_t since_ns,
                         std::uint64_t until_ns) override {
    ++calls;
    last_canary = canary;
    last_control = control;
    last_since = since_ns;
    last_until = until_ns;
    auto s = next;
    s.canary.agents = static_cast<std::uint32_t>(canary.size());
    s.control.agents = static_cast<std::uint32_t>(control.size());
    return s;
  }
  BehaviourSample next;
  int calls = 0;
  std::vector<std::string> last_canary, last_control;
  std::uint64_t last_since = 0, last_until = 0;
};

class GateRollout : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.path() / "db", {.sync = false});
    ASSERT_OK(s);
    store_ = std::move(*s);
    connected_ = {"a", "b", "c", "d", "e"};
    for (const auto& id : connected_) report(id, "v1");
    report("e", "v0");  // e runs something else: not part of the control
  }
  void report(const std::string& id, const std::string& version) {
    v1::Hello h;
    h.set_agent_id(id);
    h.set_host_id("host-" + id);
    h.set_spool_id(1);
    h.set_model_version(version);
    ASSERT_OK(store_->register_agent(h, kT0));
    ASSERT_OK(store_->set_connected(id, true, kT0));
  }
  ArtefactRollout make() {
    ArtefactOps ops{
        .connected = [this] { return connected_; },
        .push =
            [this](const std::string& id, const std::string& version, const PushScope&) {
              pushed_[id].push_back(version);
              return true;
            },
        .running = [](const v1::AgentRecord& a) { return a.model_version(); },
        .exists = [](const std::string&) -> Result<bool> { return true; },
        .active_version = [] { return std::string("v1"); },
        .set_state = [this](const std::string& v, const std::string& st) { states_[v] = st; },
        .fleet_blocker = {}};
    return ArtefactRollout(
        *store_, {.noun = "model", .state_key = "rollout", .behaviour = &source_, .gate = gate_},
        std::move(ops));
  }
  test::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::vector<std::string> connected_;
  std::map<std::string, std::vector<std::string>> pushed_;
  std::map<std::string, std::string> states_;
  FakeSource source_;
  CanaryGateConfig gate_;
};

TEST_F(GateRollout, ACanaryThatAlertsOnEverythingIsRolledBackAutomatically) {
  auto r = make();
  ASSERT_OK(r.start("v2", 0.3, 10, kT0));  // canary a, b
  report("a", "v2");
  report("b", "v2");
  source_.next = sample(group(0, 3000, 3000), group(0, 3000, 60), 10);
  r.tick(kT0 + 5 * kSec);
  EXPECT_EQ(source_.calls, 0) << "not judged during the soak";
  r.tick(kT0 + 11 * kSec);
  const auto st = r.status();
  EXPECT_EQ(st.phase(), "rolled_back");
  EXPECT_TRUE(has(st.reason(), "canary gate failed: canary alerts on everything")) << st.reason();
  EXPECT_EQ(source_.last_canary, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(source_.last_control, (std::vector<std::string>{"c", "d"}))
      << "e runs another version: not a control";
  EXPECT_EQ(source_.last_since, kT0);
  EXPECT_EQ(source_.last_until, kT0 + 11 * kSec);
  EXPECT_EQ(pushed_["a"].back(), "v1") << "the canary gets the previous model back";
  EXPECT_EQ(pushed_["b"].back(), "v1");
  EXPECT_TRUE(pushed_["c"].empty()) << "the control never saw the bad model";
  EXPECT_EQ(states_["v2"], "rolled_back");
  EXPECT_EQ(st.behaviour().verdict(), "rollback");
  EXPECT_EQ(st.behaviour().canary().alert_events(), 3000U);
  EXPECT_EQ(st.behaviour().control().agents(), 2U);
}

TEST_F(GateRollout, ACanaryThatAlertsOnNothingIsRolledBackAutomatically) {
  auto r = make();
  ASSERT_OK(r.start("v2", 0.3, 10, kT0));
  report("a", "v2");
  report("b", "v2");
  source_.next = sample(group(0, 3000, 0), group(0, 3000, 60), 10);
  r.tick(kT0 + 11 * kSec);
  const auto st = r.status();
  EXPECT_EQ(st.phase(), "rolled_back");
  EXPECT_TRUE(has(st.reason(), "canary gate failed: canary alerts on nothing")) << st.reason();
  EXPECT_EQ(pushed_["a"].back(), "v1");
}

TEST_F(GateRollout, TooLittleDataHoldsTheCanaryUntilTheDataIsThereThenPromotes) {
  auto r = make();
  ASSERT_OK(r.start("v2", 0.3, 10, kT0));
  report("a", "v2");
  report("b", "v2");
  source_.next = sample(group(0, 100, 2), group(0, 100, 2), 10);
  r.tick(kT0 + 11 * kSec);
  auto st = r.status();
  EXPECT_EQ(st.phase(), "canary") << "held, not promoted";
  EXPECT_TRUE(has(st.reason(), "canary healthy after 10 s; too little control data"))
      << st.reason();
  EXPECT_EQ(st.behaviour().verdict(), "hold");
  EXPECT_TRUE(pushed_["c"].empty());
  // Judged again at most every min(soak, 300 s): not on the next tick.
  source_.next = sample(group(0, 3000, 60), group(0, 3000, 60), 20);
  r.tick(kT0 + 12 * kSec);
  EXPECT_EQ(source_.calls, 1);
  EXPECT_EQ(r.status().phase(), "canary");
  r.tick(kT0 + 21 * kSec);
  EXPECT_EQ(source_.calls, 2);
  EXPECT_EQ(source_.last_since, kT0) << "over the whole canary window";
  st = r.status();
  EXPECT_EQ(st.phase(), "fleet") << st.reason();
  EXPECT_TRUE(has(st.reason(),
                  "canary healthy after 10 s: rolled out to the fleet; behaves like "
                  "the control: canary 2 agents: 3000 events"))
      << st.reason();
  EXPECT_EQ(pushed_["c"].back(), "v2");
  EXPECT_EQ(pushed_["e"].back(), "v2");
  EXPECT_EQ(states_["v2"], "active");
  EXPECT_EQ(st.behaviour().verdict(), "pass");
  EXPECT_EQ(st.behaviour().checked_ns(), kT0 + 21 * kSec);
}

TEST_F(GateRollout, TheHealthGateStillComesFirstAndTheGateCanBeSwitchedOff) {
  {
    auto r = make();
    ASSERT_OK(r.start("v2", 0.3, 10, kT0));  // a and b never take v2
    r.tick(kT0 + 11 * kSec);
    EXPECT_EQ(r.status().phase(), "rolled_back");
    EXPECT_TRUE(has(r.status().reason(), "canary agent a runs v1")) << r.status().reason();
    EXPECT_EQ(source_.calls, 0);
  }
  gate_.enabled = false;
  auto r = make();
  ASSERT_OK(r.start("v3", 0.3, 10, kT0));
  report("a", "v3");
  report("b", "v3");
  source_.next = sample(group(0, 3000, 3000), group(0, 3000, 60), 10);
  r.tick(kT0 + 11 * kSec);
  EXPECT_EQ(r.status().phase(), "fleet") << r.status().reason();
  EXPECT_EQ(source_.calls, 0) << "canary_gate: false";
}

}  // namespace
}  // namespace vigil::collector
