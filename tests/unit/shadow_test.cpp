// Shadow scoring (docs/api.md, "Shadow scoring"): the agent's side (a shadow
// model counted beside the active one, its trust rule) and the collector's
// (the reports added up per candidate across agents and agent restarts, the
// gate rule on them, ShadowScoring sending, withdrawing and persisting on a
// real RocksDB with faked agents).
#include "vigil/agent/shadow.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "util/records.h"
#include "util/test_util.h"
#include "vigil/agent/model_update.h"
#include "vigil/agent/pipeline.h"
#include "vigil/collector/models.h"
#include "vigil/collector/shadow.h"
#include "vigil/model_release.h"
#include "vigil/signing.h"

namespace vigil {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kT0 = 1'790'000'000ULL * kSec;

// ------------------------------------------------------------ the agent

// The baseline with its combiner's bias moved: +100 scores every event 100,
// -100 leaves only the indicator floors.
std::shared_ptr<const ScoringModel> biased(const std::string& version, float bias) {
  auto m = agent::baseline_model()->proto();
  m.set_version(version);
  m.mutable_combiner()->set_bias(bias);
  m.clear_cap_without_indicators_set();
  auto loaded = ScoringModel::load(m);
  EXPECT_TRUE(loaded.has_value()) << loaded.error().message;
  return *loaded;
}

TEST(ShadowScorer, CountsWouldBeAlertsOnlyWhereAnIndicatorFired) {
  agent::ShadowScorer s;
  EXPECT_FALSE(s.installed());
  s.set(biased("noisy", 100), kT0);
  ASSERT_TRUE(s.installed());
  EXPECT_EQ(s.since_ns(), kT0);
  FeatureVector x{};
  // Three events with an indicator the active model scored 35 (below 50),
  // two without one it scored 5: the shadow scores all five 100, and would
  // alert on the three.
  for (int i = 0; i < 3; ++i) s.observe(x, 35, true, 35, 50);
  for (int i = 0; i < 2; ++i) s.observe(x, 0, false, 5, 50);
  // One the active model alerted on too.
  s.observe(x, 70, true, 70, 50);
  const auto& c = s.counts();
  EXPECT_EQ(c.events, 6U);
  EXPECT_EQ(c.would_alert, 4U);
  EXPECT_EQ(c.active_alerts, 1U);
  EXPECT_EQ(c.both_alert, 1U);
  EXPECT_EQ(c.scores[9], 6U) << "the shadow scored every event 100";
  EXPECT_EQ(c.active_scores[3], 3U);
  EXPECT_EQ(c.active_scores[0], 2U);
  EXPECT_EQ(c.active_scores[7], 1U);

  v1::ShadowReport r;
  s.report(r, "active-1", 50);
  EXPECT_EQ(r.version(), "noisy");
  EXPECT_EQ(r.active_version(), "active-1");
  EXPECT_EQ(r.since_ns(), kT0);
  EXPECT_EQ(r.alert_threshold(), 50U);
  EXPECT_EQ(r.counts().events(), 6U);
  EXPECT_EQ(r.counts().would_alert(), 4U);
  ASSERT_EQ(r.counts().scores_size(), 10);
  EXPECT_EQ(r.counts().scores(9), 6U);

  // A new shadow model starts a new count; none at all reports nothing.
  s.set(biased("blind", -100), kT0 + kSec);
  EXPECT_EQ(s.counts().events, 0U);
  s.observe(x, 35, true, 35, 50);
  EXPECT_EQ(s.counts().would_alert, 0U) << "the floor (35) is below the threshold";
  EXPECT_EQ(s.counts().scores[3], 1U) << "the floor holds for the shadow model too";
  s.set(nullptr, kT0);
  v1::ShadowReport none;
  s.report(none, "active-1", 50);
  EXPECT_TRUE(none.version().empty());
}

// The pipeline's hook: a shadow model that scores everything 100 beside a
// blind active model is counted on every event and raises nothing; an event
// from /tmp (exec-writable-location) is a would-be alert, one from /usr/bin
// (no indicator) is not.
TEST(ShadowScorer, ThePipelineCountsTheShadowModelAndNeverAlertsOnIt) {
  test::TempDir dir;
  const auto out = dir.path() / "alerts.jsonl";
  agent::ProcessTable table(100, "");
  agent::Pipeline p("h", table, 0, biased("blind", -100));
  auto sink = agent::LineSink::open(out.string());
  ASSERT_OK(sink);
  p.set_alerts(std::move(*sink), agent::OutputFormat::kJson, 95);
  p.shadow().set(biased("noisy", 100), kT0);
  p.on_record(test::bytes_of(test::make_exec(80, "/usr/bin/true", {"true"})));
  p.on_record(test::bytes_of(test::make_exec(81, "/tmp/dropped", {"dropped"})));
  p.on_batch_end();
  const auto& c = p.shadow().counts();
  EXPECT_EQ(c.events, p.stats().scored);
  EXPECT_EQ(c.events, 2U);
  EXPECT_EQ(c.would_alert, 1U) << "only the event an indicator fired on";
  EXPECT_EQ(c.active_alerts, 0U);
  EXPECT_EQ(c.scores[9], 2U);
  EXPECT_EQ(p.stats().alerts, 0U);
  std::ifstream in(out);
  for (std::string line; std::getline(in, line);) {
    EXPECT_NE(line.find("\"type\":\"level\""), std::string::npos)
        << "only the active model's level changes: " << line;
  }
  // Without a shadow model nothing is counted.
  p.shadow().set(nullptr, 0);
  p.on_record(test::bytes_of(test::make_exec(82, "/tmp/dropped", {"dropped"})));
  p.on_batch_end();
  EXPECT_EQ(p.shadow().counts().events, 0U);
}

TEST(ShadowScorer, TheBucketsCoverZeroToHundred) {
  EXPECT_EQ(agent::ShadowScorer::bucket(0), 0U);
  EXPECT_EQ(agent::ShadowScorer::bucket(9), 0U);
  EXPECT_EQ(agent::ShadowScorer::bucket(10), 1U);
  EXPECT_EQ(agent::ShadowScorer::bucket(99), 9U);
  EXPECT_EQ(agent::ShadowScorer::bucket(100), 9U);
  EXPECT_EQ(agent::ShadowScorer::bucket(250), 9U);
}

class ShadowTrust : public ::testing::Test {
 protected:
  void SetUp() override {
    auto online = SigningKey::create(dir_.path() / "online.key");
    auto other = SigningKey::create(dir_.path() / "other.key");
    ASSERT_OK(online);
    ASSERT_OK(other);
    online_ = *online;
    other_ = *other;
    keys_ = {.online = online_.public_key_hex(), .release = ""};
  }
  v1::ModelUpdate update(const std::string& scope, std::uint64_t expires_ns,
                         const SigningKey& by) const {
    auto m = agent::baseline_model()->proto();
    m.set_version("cand-1");
    v1::ModelUpdate u;
    u.set_version("cand-1");
    u.set_model(m.SerializeAsString());
    u.set_scope(scope);
    u.set_expires_ns(expires_ns);
    u.set_signature(by.sign(model_grant_message(scope, expires_ns, u.model())));
    return u;
  }
  test::TempDir dir_;
  SigningKey online_;
  SigningKey other_;
  agent::ModelKeys keys_;
};

TEST_F(ShadowTrust, AcceptsTheOnlineKeysShadowGrantOnly) {
  auto ok = agent::verify_shadow_update(update("shadow", 0, online_), keys_);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ((*ok)->version(), "cand-1");

  auto wrong_key = agent::verify_shadow_update(update("shadow", 0, other_), keys_);
  ASSERT_FALSE(wrong_key.has_value());
  EXPECT_EQ(wrong_key.error().code, ErrorCode::kPermission);

  // A canary grant is not a shadow one, nor can it be relabelled as one.
  auto canary = update("canary", kT0 + 60 * kSec, online_);
  EXPECT_FALSE(agent::verify_shadow_update(canary, keys_).has_value());
  canary.set_scope("shadow");
  canary.set_expires_ns(0);
  auto relabelled = agent::verify_shadow_update(canary, keys_);
  ASSERT_FALSE(relabelled.has_value());
  EXPECT_NE(relabelled.error().message.find("bad signature"), std::string::npos)
      << relabelled.error().message;

  EXPECT_FALSE(agent::verify_shadow_update(update("shadow", kT0, online_), keys_).has_value())
      << "a shadow grant does not expire";
  EXPECT_FALSE(agent::verify_shadow_update(update("shadow", 0, online_), {}).has_value())
      << "no key configured: nothing verifies";

  // And the model path refuses a shadow grant: it never becomes the active model.
  agent::ModelTrust trust(dir_.path(), keys_);
  auto as_model = trust.apply(update("shadow", 0, online_), kT0);
  ASSERT_FALSE(as_model.has_value());
  EXPECT_EQ(as_model.error().code, ErrorCode::kPermission);
}

// ------------------------------------------------------------ the collector

// A report of `events` events, `would` would-be alerts, `active` active
// alerts (`both` of them both), every event in score bucket `bucket`.
v1::ShadowReport report(const std::string& version, std::uint64_t since_ns, std::uint64_t events,
                        std::uint64_t would, std::uint64_t active, std::uint64_t both = 0,
                        int bucket = 9) {
  v1::ShadowReport r;
  r.set_version(version);
  r.set_active_version("active-1");
  r.set_since_ns(since_ns);
  r.set_alert_threshold(50);
  auto& c = *r.mutable_counts();
  c.set_events(events);
  c.set_would_alert(would);
  c.set_active_alerts(active);
  c.set_both_alert(both);
  for (int i = 0; i < 10; ++i) {
    c.add_scores(i == bucket ? events : 0);
    c.add_active_scores(i == 0 ? events : 0);
  }
  return r;
}

collector::ShadowTally tally(const std::string& version) {
  v1::ShadowStatus st;
  st.set_version(version);
  st.set_phase("running");
  return collector::ShadowTally(st);
}

TEST(ShadowTally, AddsUpAgentsAndCountsThatGrow) {
  auto t = tally("cand");
  ASSERT_OK(t.add("a", report("cand", kT0, 100, 40, 2), kT0 + kSec));
  ASSERT_OK(t.add("b", report("cand", kT0, 50, 10, 1), kT0 + kSec));
  // a's count grows: only what is new is added.
  ASSERT_OK(t.add("a", report("cand", kT0, 300, 120, 6, 1), kT0 + 2 * kSec));
  const auto& st = t.status();
  EXPECT_EQ(st.counts().events(), 350U);
  EXPECT_EQ(st.counts().would_alert(), 130U);
  EXPECT_EQ(st.counts().active_alerts(), 7U);
  EXPECT_EQ(st.counts().both_alert(), 1U);
  ASSERT_EQ(st.counts().scores_size(), 10);
  EXPECT_EQ(st.counts().scores(9), 350U);
  EXPECT_EQ(st.counts().active_scores(0), 350U);
  EXPECT_EQ(st.agents_reporting(), 2U);
  EXPECT_DOUBLE_EQ(st.would_alert_per_1k(), 1000.0 * 130 / 350);
  EXPECT_DOUBLE_EQ(st.active_alerts_per_1k(), 1000.0 * 7 / 350);
  ASSERT_EQ(st.per_agent_size(), 2);
  EXPECT_EQ(st.per_agent(0).agent_id(), "a");
  EXPECT_EQ(st.per_agent(0).counts().events(), 300U);
  EXPECT_EQ(st.per_agent(0).reported_ns(), kT0 + 2 * kSec);
  EXPECT_EQ(st.per_agent(0).active_version(), "active-1");
  // The same report again (a resend) changes nothing.
  ASSERT_OK(t.add("a", report("cand", kT0, 300, 120, 6, 1), kT0 + 3 * kSec));
  EXPECT_EQ(t.status().counts().events(), 350U);
}

TEST(ShadowTally, AnAgentRestartStartsANewCountAndKeepsTheOld) {
  auto t = tally("cand");
  ASSERT_OK(t.add("a", report("cand", kT0, 100, 40, 2), kT0));
  // Restarted: its counts start again from a new since_ns.
  ASSERT_OK(t.add("a", report("cand", kT0 + 60 * kSec, 10, 3, 0), kT0 + 61 * kSec));
  EXPECT_EQ(t.status().counts().events(), 110U);
  EXPECT_EQ(t.status().counts().would_alert(), 43U);
  ASSERT_OK(t.add("a", report("cand", kT0 + 60 * kSec, 30, 5, 1), kT0 + 62 * kSec));
  EXPECT_EQ(t.status().counts().events(), 130U);
  EXPECT_EQ(t.status().per_agent(0).counts().events(), 130U);
  EXPECT_EQ(t.status().per_agent(0).current().events(), 30U);
  EXPECT_EQ(t.status().per_agent(0).since_ns(), kT0 + 60 * kSec);
  // Counts that went down under the same since_ns (an agent clock that did
  // not move): a new count, never a negative delta.
  ASSERT_OK(t.add("a", report("cand", kT0 + 60 * kSec, 4, 0, 0), kT0 + 63 * kSec));
  EXPECT_EQ(t.status().counts().events(), 134U);
  EXPECT_EQ(t.status().agents_reporting(), 1U);
}

TEST(ShadowTally, RestoredNumbersGoOn) {
  auto t = tally("cand");
  ASSERT_OK(t.add("a", report("cand", kT0, 100, 40, 2), kT0));
  collector::ShadowTally again(t.status());  // as restored from the store
  ASSERT_OK(again.add("a", report("cand", kT0, 150, 50, 2), kT0 + kSec));
  ASSERT_OK(again.add("b", report("cand", kT0, 10, 0, 0), kT0 + kSec));
  EXPECT_EQ(again.status().counts().events(), 160U);
  EXPECT_EQ(again.status().per_agent_size(), 2);
}

TEST(ShadowTally, RefusesOtherVersionsAndCountsThatDoNotAddUp) {
  auto t = tally("cand");
  auto other = t.add("a", report("older", kT0, 100, 40, 2), kT0);
  ASSERT_FALSE(other.has_value());
  EXPECT_NE(other.error().message.find("'older', not 'cand'"), std::string::npos)
      << other.error().message;
  auto too_many = report("cand", kT0, 10, 11, 0);
  EXPECT_FALSE(t.add("a", too_many, kT0).has_value());
  auto both = report("cand", kT0, 10, 2, 3, 3);
  EXPECT_FALSE(t.add("a", both, kT0).has_value()) << "both > would_alert";
  auto buckets = report("cand", kT0, 10, 1, 1);
  buckets.mutable_counts()->mutable_scores()->RemoveLast();
  EXPECT_FALSE(t.add("a", buckets, kT0).has_value());
  auto sums = report("cand", kT0, 10, 1, 1);
  sums.mutable_counts()->set_scores(0, 5);
  EXPECT_FALSE(t.add("a", sums, kT0).has_value()) << "buckets add up to 15, not 10";
  auto no_buckets = report("cand", kT0, 10, 1, 1);
  no_buckets.mutable_counts()->clear_scores();
  no_buckets.mutable_counts()->clear_active_scores();
  EXPECT_OK(t.add("a", no_buckets, kT0));  // buckets are optional
  EXPECT_EQ(t.status().counts().events(), 10U);
  EXPECT_EQ(t.status().counts().scores_size(), 10) << "the sums keep their 10 buckets";
}

TEST(ShadowGate, RefusesACandidateThatWouldAlertFarMoreThanTheActiveModel) {
  collector::CanaryGateConfig cfg;  // min_events 500, ratio 5, floor 20 per 1,000
  auto t = tally("cand");
  ASSERT_OK(t.add("a", report("cand", kT0, 400, 400, 4), kT0));
  EXPECT_EQ(collector::shadow_blocker(t.status(), "cand", cfg), "") << "too few events to say";
  ASSERT_OK(t.add("b", report("cand", kT0, 600, 600, 6), kT0));
  const auto why = collector::shadow_blocker(t.status(), "cand", cfg);
  EXPECT_NE(why.find("shadow scoring: cand would alert on 1000.0 per 1,000 events where the "
                     "active model alerted on 10.0 (limit 50.0) over 1000 events on 2 agents"),
            std::string::npos)
      << why;
  EXPECT_EQ(collector::shadow_blocker(t.status(), "other", cfg), "") << "numbers of another model";

  // Five times the active model's rate is the limit; below the floor of 20
  // per 1,000 nothing is refused.
  auto near = tally("near");
  ASSERT_OK(near.add("a", report("near", kT0, 1000, 50, 10), kT0));
  EXPECT_EQ(collector::shadow_blocker(near.status(), "near", cfg), "");
  auto over = tally("over");
  ASSERT_OK(over.add("a", report("over", kT0, 1000, 51, 10), kT0));
  EXPECT_NE(collector::shadow_blocker(over.status(), "over", cfg), "");
  auto quiet = tally("quiet");
  ASSERT_OK(quiet.add("a", report("quiet", kT0, 1000, 19, 0), kT0));
  EXPECT_EQ(collector::shadow_blocker(quiet.status(), "quiet", cfg), "");
}

class ShadowScoringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = collector::Store::open(dir_.path() / "db", {.sync = false});
    ASSERT_OK(s);
    store_ = std::move(*s);
    connected_ = {"c", "a", "b", "d"};
  }
  std::unique_ptr<collector::ShadowScoring> make() {
    return std::make_unique<collector::ShadowScoring>(
        *store_, "model_shadow",
        collector::ShadowOps{
            .connected = [this] { return connected_; },
            .send =
                [this](const std::string& id, const std::string& version) {
                  sent_[id].push_back(version);
                  return true;
                },
            .exists = [](const std::string& v) -> Result<bool> { return v != "missing"; },
            .active_version = [this] { return active_; }});
  }
  static v1::Health health(const v1::ShadowReport& r) {
    v1::Health h;
    *h.mutable_shadow() = r;
    return h;
  }
  test::TempDir dir_;
  std::unique_ptr<collector::Store> store_;
  std::vector<std::string> connected_;
  std::map<std::string, std::vector<std::string>> sent_;
  std::string active_ = "active-1";
};

TEST_F(ShadowScoringTest, SendsToAShareAddsUpReportsStopsAndSurvivesARestart) {
  auto s = make();
  EXPECT_EQ(s->status().phase(), "idle");
  auto missing = s->start("missing", 1, kT0);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("vigilctl models list"), std::string::npos);
  EXPECT_FALSE(s->start("active-1", 1, kT0).has_value()) << "not the active model";
  EXPECT_FALSE(s->start("cand", 0, kT0).has_value());

  auto st = s->start("cand", 0.5, kT0);
  ASSERT_OK(st);
  EXPECT_EQ(st->phase(), "running");
  EXPECT_EQ(st->active_version(), "active-1");
  EXPECT_EQ(std::vector<std::string>(st->agents().begin(), st->agents().end()),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(sent_["a"], std::vector<std::string>{"cand"});
  EXPECT_TRUE(sent_["c"].empty());
  // A chosen agent that says hello again gets it again; one not chosen does not.
  s->on_hello("a");
  s->on_hello("c");
  EXPECT_EQ(sent_["a"].size(), 2U);
  EXPECT_TRUE(sent_["c"].empty()) << "fraction 0.5: c was not chosen";

  s->on_health("a", health(report("cand", kT0, 100, 90, 1)), kT0 + kSec);
  s->on_health("b", health(report("cand", kT0, 100, 80, 1)), kT0 + kSec);
  s->on_health("b", health(report("other", kT0, 100, 80, 1)), kT0 + kSec);  // refused
  s->on_health("d", v1::Health{}, kT0 + kSec);                              // no report: nothing
  EXPECT_EQ(s->refused_reports(), 1U);
  EXPECT_EQ(s->status().counts().would_alert(), 170U);
  EXPECT_EQ(s->blocker("cand", {.min_events = 100}).empty(), false);
  s->tick(kT0 + 10 * kSec);  // saves

  // A collector restart: the numbers come back and go on.
  s = make();
  ASSERT_OK(s->restore());
  EXPECT_EQ(s->status().counts().events(), 200U);
  s->on_health("a", health(report("cand", kT0, 150, 130, 1)), kT0 + 20 * kSec);
  EXPECT_EQ(s->status().counts().events(), 250U);

  auto stopped = s->stop("", kT0 + 30 * kSec);
  ASSERT_OK(stopped);
  EXPECT_EQ(stopped->phase(), "stopped");
  EXPECT_EQ(stopped->reason(), "stopped by an operator");
  EXPECT_EQ(sent_["a"].back(), "") << "withdrawn from the agents it was sent to";
  EXPECT_EQ(sent_["b"].back(), "");
  EXPECT_EQ(stopped->counts().events(), 250U) << "the numbers stay";
  EXPECT_FALSE(s->stop("", kT0).has_value()) << "nothing running";
  s->on_hello("a");
  EXPECT_EQ(sent_["a"].back(), "") << "not sent again once stopped";
}

TEST_F(ShadowScoringTest, EveryAgentIncludingLaterOnesAndAutoStopWhenPromoted) {
  auto s = make();
  ASSERT_OK(s->start("cand", 1, kT0));
  for (const auto& id : connected_) EXPECT_EQ(sent_[id], std::vector<std::string>{"cand"}) << id;
  s->on_hello("late");
  EXPECT_EQ(sent_["late"], std::vector<std::string>{"cand"});
  EXPECT_EQ(s->status().agents_size(), 5);
  // Replaced by another candidate on half of them: the others drop it.
  auto next = s->start("cand-2", 0.5, kT0 + kSec);
  ASSERT_OK(next);
  EXPECT_NE(next->reason().find("replaces cand"), std::string::npos) << next->reason();
  EXPECT_EQ(sent_["a"].back(), "cand-2");
  EXPECT_EQ(sent_["c"].back(), "");
  EXPECT_EQ(sent_["late"].back(), "");
  // It becomes the active model: nothing left to compare.
  active_ = "cand-2";
  s->tick(kT0 + 2 * kSec);
  EXPECT_EQ(s->status().phase(), "stopped");
  EXPECT_NE(s->status().reason().find("became the active model"), std::string::npos);
  EXPECT_EQ(sent_["a"].back(), "");
}

// The model manager: the shadow grant it signs is what agents take as a
// shadow model (and never as a model to run), the numbers show in the rollout
// status, and a canary that its shadow numbers say alerts on everything fails
// the canary gate.
class ShadowModels : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = collector::Store::open(dir_.path() / "db", {.sync = false});
    ASSERT_OK(s);
    store_ = std::move(*s);
    cfg_.signing_key = dir_.path() / "signing.key";
    cfg_.evolve_interval_s = 0;
    cfg_.canary_gate.min_events = 100;
    for (const auto& id : connected_) {
      v1::Hello h;
      h.set_agent_id(id);
      h.set_host_id("host-" + id);
      h.set_spool_id(1);
      h.set_model_version("base-1");
      ASSERT_OK(store_->register_agent(h, kT0));
      ASSERT_OK(store_->set_connected(id, true, kT0));
    }
  }
  collector::AgentLink link() {
    return {.connected = [this] { return connected_; },
            .send =
                [this](const std::string& id, const v1::ModelUpdate& u) {
                  sent_[id].push_back(u);
                  return true;
                }};
  }
  static std::string model_bytes(const std::string& version) {
    auto m = agent::baseline_model()->proto();
    m.set_version(version);
    return m.SerializeAsString();
  }
  test::TempDir dir_;
  std::unique_ptr<collector::Store> store_;
  collector::ModelConfig cfg_;
  std::vector<std::string> connected_ = {"a", "b"};
  std::map<std::string, std::vector<v1::ModelUpdate>> sent_;
};

TEST_F(ShadowModels, TheShadowGrantIsVerifiedByAgentsAndJudgedByTheGate) {
  collector::ModelManager m(*store_, cfg_, link());
  ASSERT_OK(m.init(model_bytes("base-1"), kT0));
  ASSERT_OK(m.import(model_bytes("cand"), kT0));
  auto st = m.shadow("cand", 1, kT0);
  ASSERT_OK(st);
  ASSERT_EQ(sent_["a"].size(), 1U);
  const auto& granted = sent_["a"][0];
  EXPECT_EQ(granted.scope(), "shadow");
  EXPECT_EQ(granted.version(), "cand");
  const agent::ModelKeys keys{.online = m.public_key_hex(), .release = ""};
  auto taken = agent::verify_shadow_update(granted, keys);
  ASSERT_TRUE(taken.has_value()) << taken.error().message;
  EXPECT_EQ((*taken)->version(), "cand");
  EXPECT_FALSE(agent::verify_model_update(granted, keys, {}, kT0).has_value())
      << "a shadow grant is never a model to run";

  // Both agents report: the candidate would alert on everything.
  for (const auto& id : connected_) {
    v1::Health h;
    *h.mutable_shadow() = report("cand", kT0, 100, 100, 1);
    m.on_health(id, h);
  }
  EXPECT_EQ(m.status().shadow().counts().would_alert(), 200U);
  EXPECT_EQ(m.status().shadow().agents_reporting(), 2U);

  // Its canary is healthy (both agents run it), but the gate reads the shadow numbers.
  ASSERT_OK(m.rollout("cand", 0.5, 10, kT0 + kSec));
  v1::Hello h;
  h.set_agent_id("a");
  h.set_host_id("host-a");
  h.set_spool_id(1);
  h.set_model_version("cand");
  ASSERT_OK(store_->register_agent(h, kT0));
  ASSERT_OK(store_->set_connected("a", true, kT0));
  m.tick(kT0 + 20 * kSec);
  const auto after = m.status();
  EXPECT_EQ(after.phase(), "rolled_back") << after.reason();
  EXPECT_NE(after.reason().find("canary gate failed: shadow scoring: cand would alert on 1000.0 "
                                "per 1,000 events"),
            std::string::npos)
      << after.reason();

  // Stopping withdraws it: an empty, unsigned update of scope shadow.
  ASSERT_OK(m.stop_shadow("", kT0 + 30 * kSec));
  const auto& withdrawn = sent_["b"].back();
  EXPECT_EQ(withdrawn.scope(), "shadow");
  EXPECT_TRUE(withdrawn.version().empty());
  EXPECT_TRUE(withdrawn.model().empty());
}

}  // namespace
}  // namespace vigil
