// The collector's model registry, signing, canary rollout with its health
// gate, rollback and evolution on stored fleet data: a real RocksDB store in a
// temp dir, agents faked behind AgentLink.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "util/test_util.h"
#include "vigil/agent/model_update.h"
#include "vigil/agent/pipeline.h"
#include "vigil/collector/models.h"
#include "vigil/model_release.h"

namespace vigil::collector {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kT0 = 1'790'000'000ULL * kSec;

struct FakeFleet {
  std::vector<std::string> connected;
  std::map<std::string, std::vector<v1::ModelUpdate>> sent;
  AgentLink link() {
    return {.connected = [this] { return connected; },
            .send =
                [this](const std::string& id, const v1::ModelUpdate& u) {
                  sent[id].push_back(u);
                  return true;
                }};
  }
};

std::string model_bytes(const std::string& version) {
  auto m = agent::baseline_model()->proto();
  m.set_version(version);
  return m.SerializeAsString();
}

// The agent reports `version` (its hello after applying the update).
void report(Store& s, const std::string& agent, const std::string& version) {
  v1::Hello h;
  h.set_agent_id(agent);
  h.set_host_id("host-" + agent);
  h.set_spool_id(1);
  h.set_model_version(version);
  ASSERT_OK(s.register_agent(h, kT0));
  ASSERT_OK(s.set_connected(agent, true, kT0));
}

class Models : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.path() / "db", {.sync = false});
    ASSERT_OK(s);
    store_ = std::move(*s);
    cfg_.signing_key = dir_.path() / "signing.key";
    auto release = SigningKey::create(dir_.path() / "release.key");
    ASSERT_OK(release);
    release_ = *release;
    cfg_.release_pubkey = release_.public_key_hex();
    cfg_.evolve_interval_s = 0;
    // No events here: the behaviour comparison has nothing to hold the
    // canary for (rollout_gate_test.cpp tests it).
    cfg_.canary_gate.min_events = 0;
    fleet_.connected = {"a", "b", "c", "d"};
    for (const auto& id : fleet_.connected) report(*store_, id, "base-1");
  }
  test::TempDir dir_;
  std::unique_ptr<Store> store_;
  ModelConfig cfg_;
  FakeFleet fleet_;
  SigningKey release_;  // the operators' offline key, here for the test
  // What `vigilctl models sign` uploads for `version` as release `seq`.
  v1::ReleaseModelRequest release_of(ModelManager& m, const std::string& version, std::uint64_t seq,
                                     std::uint64_t rollback_to) {
    auto got = m.get(version);
    EXPECT_TRUE(got.has_value());
    v1::ReleaseModelRequest req;
    req.set_version(version);
    req.set_release_seq(seq);
    req.set_signature(release_.sign(model_release_message(seq, got ? got->model() : "")));
    req.set_rollback_to_seq(rollback_to);
    req.set_rollback_signature(release_.sign(model_rollback_message(seq, rollback_to)));
    return req;
  }
};

TEST_F(Models, KeyRegistryImportAndSignedUpdates) {
  ModelManager m(*store_, cfg_, fleet_.link());
  ASSERT_OK(m.init(model_bytes("base-1"), kT0));
  struct stat st {};
  ASSERT_EQ(::stat(cfg_.signing_key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U) << "the signing key is private";
  const auto pub = m.public_key_hex();
  {
    ModelManager again(*store_, cfg_, fleet_.link());
    ASSERT_OK(again.init(model_bytes("base-1"), kT0));
    EXPECT_EQ(again.public_key_hex(), pub) << "the key is kept, not regenerated";
  }
  auto list = m.list();
  ASSERT_EQ(list.models_size(), 1);
  EXPECT_EQ(list.models(0).version(), "base-1");
  EXPECT_EQ(list.models(0).state(), "active");
  EXPECT_EQ(list.signing_public_key(), pub);

  auto info = m.import(model_bytes("m2"), kT0 + kSec);
  ASSERT_OK(info);
  EXPECT_EQ(info->state(), "candidate");
  EXPECT_EQ(info->parent_version(), "base-1");
  EXPECT_FALSE(m.import(model_bytes("m2"), kT0)) << "versions are unique";
  auto junk = m.import("not a model", kT0);
  ASSERT_FALSE(junk);
  EXPECT_NE(junk.error().message.find("not a vigil.v1.Model"), std::string::npos);
  auto other_schema = agent::baseline_model()->proto();
  other_schema.set_version("old");
  other_schema.set_feature_schema_version(1);
  EXPECT_FALSE(m.import(other_schema.SerializeAsString(), kT0)) << "unloadable models are refused";

  auto got = m.get("m2");
  ASSERT_OK(got);
  EXPECT_TRUE(verify_signature(pub, got->model(), got->signature())) << "signed at registration";
  EXPECT_FALSE(got->info().released()) << "an import is a candidate for canary use only";
  EXPECT_FALSE(m.get("nope"));
}

TEST_F(Models, CanaryThenFleetThenRollback) {
  ModelManager m(*store_, cfg_, fleet_.link());
  ASSERT_OK(m.init(model_bytes("base-1"), kT0));
  ASSERT_OK(m.import(model_bytes("m2"), kT0));
  EXPECT_FALSE(m.rollout("m2", 0, 60, kT0)) << "a fraction of nothing";
  EXPECT_FALSE(m.rollout("base-1", 0.5, 60, kT0)) << "already active";
  auto st = m.rollout("m2", 0.5, 60, kT0);
  ASSERT_OK(st);
  EXPECT_EQ(st->phase(), "canary");
  ASSERT_EQ(st->canary_agents_size(), 2);
  EXPECT_EQ(fleet_.sent["a"].size(), 1U);
  EXPECT_EQ(fleet_.sent["b"].size(), 1U);
  EXPECT_TRUE(fleet_.sent["c"].empty()) << "the rest of the fleet waits for the canary";
  EXPECT_FALSE(m.rollout("m2", 1, 60, kT0)) << "one rollout at a time";

  const auto& granted = fleet_.sent["a"][0];
  EXPECT_EQ(granted.scope(), "canary");
  EXPECT_GT(granted.expires_ns(), kT0 + 60 * kSec);
  const agent::ModelKeys keys{.online = m.public_key_hex(), .release = cfg_.release_pubkey};
  EXPECT_TRUE(agent::verify_model_update(granted, keys, {}, kT0)) << "agents take the canary";

  report(*store_, "a", "m2");
  report(*store_, "b", "m2");
  m.tick(kT0 + 30 * kSec);
  EXPECT_EQ(m.status().phase(), "canary") << "still soaking";
  m.tick(kT0 + 61 * kSec);
  EXPECT_EQ(m.status().phase(), "canary") << "no release signature: the canary waits";
  EXPECT_NE(m.status().reason().find(
                "waiting for a release signature: vigilctl models sign --key KEY m2"),
            std::string::npos)
      << m.status().reason();
  EXPECT_TRUE(fleet_.sent["c"].empty()) << "the fleet never gets an unreleased model";
  EXPECT_FALSE(m.release(release_of(m, "m2", 0, 0))) << "release 0 is the shipped model";
  auto forged = release_of(m, "m2", 1, 0);
  forged.set_signature(std::string(64, 'x'));
  EXPECT_EQ(m.release(forged).error().code, ErrorCode::kPermission);
  ASSERT_OK(m.release(release_of(m, "m2", 1, 0)));
  EXPECT_FALSE(m.release(release_of(m, "base-1", 1, 0))) << "one model per release number";
  m.tick(kT0 + 62 * kSec);
  st = m.status();
  EXPECT_EQ(st->phase(), "fleet") << st->reason();
  EXPECT_EQ(fleet_.sent["c"].size(), 1U);
  EXPECT_EQ(fleet_.sent["d"].size(), 1U);
  const auto& released = fleet_.sent["c"][0];
  EXPECT_EQ(released.scope(), "fleet");
  EXPECT_EQ(released.release_seq(), 1U);
  EXPECT_TRUE(agent::verify_model_update(released, keys, {}, kT0)) << "agents take the release";
  EXPECT_FALSE(
      agent::verify_model_update(released, {.online = keys.online, .release = ""}, {}, kT0))
      << "not without a release key";
  const auto after_fleet = m.list();
  for (const auto& i : after_fleet.models()) {
    EXPECT_EQ(i.state(), i.version() == "m2" ? "active" : "retired") << i.version();
  }
  // A new agent saying hello with an old model is brought up to date.
  m.on_hello("e", "base-1");
  ASSERT_EQ(fleet_.sent["e"].size(), 1U);
  EXPECT_EQ(fleet_.sent["e"][0].version(), "m2");

  auto back = m.rollback("false positives on web hosts", kT0 + 100 * kSec);
  ASSERT_OK(back);
  EXPECT_EQ(back->phase(), "rolled_back");
  EXPECT_EQ(back->reason(), "false positives on web hosts");
  EXPECT_EQ(fleet_.sent["d"].back().version(), "base-1");
  EXPECT_EQ(fleet_.sent["d"].back().release_seq(), 0U);
  EXPECT_EQ(fleet_.sent["d"].back().rollback_from_seq(), 1U) << "the marker of release 1";
  const auto after_rollback = m.list();
  for (const auto& i : after_rollback.models()) {
    EXPECT_EQ(i.state(), i.version() == "m2" ? "rolled_back" : "active") << i.version();
  }
  EXPECT_FALSE(m.rollback("again", kT0)) << "nothing left to roll back";

  // The rollout state survives a collector restart.
  ModelManager restarted(*store_, cfg_, fleet_.link());
  ASSERT_OK(restarted.init(model_bytes("base-1"), kT0));
  EXPECT_EQ(restarted.status().phase(), "rolled_back");
}

TEST_F(Models, CanaryThatDoesNotTakeTheModelIsRolledBackAutomatically) {
  ModelManager m(*store_, cfg_, fleet_.link());
  ASSERT_OK(m.init(model_bytes("base-1"), kT0));
  ASSERT_OK(m.import(model_bytes("m3"), kT0));
  ASSERT_OK(m.rollout("m3", 0.25, 10, kT0));  // canary: agent a, which refuses it
  m.tick(kT0 + 11 * kSec);
  const auto st = m.status();
  EXPECT_EQ(st.phase(), "rolled_back");
  EXPECT_NE(st.reason().find("canary agent a runs base-1"), std::string::npos) << st.reason();
  EXPECT_EQ(fleet_.sent["a"].back().version(), "base-1");
  EXPECT_TRUE(fleet_.sent["b"].empty()) << "the fleet never saw the bad model";
}

TEST_F(Models, WithoutAReleaseKeyOnlyTheCanaryRunsAndItsGrantExpires) {
  cfg_.release_pubkey.clear();
  cfg_.canary_ttl_s = 3600;
  ModelManager m(*store_, cfg_, fleet_.link());
  ASSERT_OK(m.init(model_bytes("base-1"), kT0));
  ASSERT_OK(m.import(model_bytes("m4"), kT0));
  ASSERT_OK(m.rollout("m4", 0.25, 10, kT0));
  EXPECT_EQ(fleet_.sent["a"][0].expires_ns(), kT0 + 3610 * kSec) << "soak + canary_ttl_s";
  report(*store_, "a", "m4");
  m.tick(kT0 + 11 * kSec);
  EXPECT_EQ(m.status().phase(), "canary");
  EXPECT_NE(m.status().reason().find("no model_release_pubkey"), std::string::npos);
  EXPECT_FALSE(m.release(release_of(m, "m4", 1, 0))) << "nothing to check a release with";
  m.on_hello("e", "base-1");
  EXPECT_TRUE(fleet_.sent["e"].empty()) << "base-1 is what e runs; m4 is not for it";
  m.tick(kT0 + 3610 * kSec);
  EXPECT_EQ(m.status().phase(), "rolled_back");
  EXPECT_NE(m.status().reason().find("canary grant expired"), std::string::npos)
      << m.status().reason();
  EXPECT_EQ(fleet_.sent["a"].back().version(), "base-1");
  EXPECT_TRUE(fleet_.sent["b"].empty());
}

// One fleet event with the given features, as an agent ships it.
v1::Event fleet_event(std::uint64_t seq, std::uint32_t score, bool ptrace, bool writable,
                      const std::string& alert_id = "") {
  v1::Event e;
  e.set_seq(seq);
  e.set_type(ptrace ? "ptrace" : "exec");
  e.set_ts_ns(kT0 + seq * kSec);
  e.set_feature_schema(kFeatureSchemaVersion);
  e.add_feature_slots(static_cast<std::uint32_t>(kFamilyProcess));
  e.add_feature_values(1);
  if (ptrace) {
    e.add_feature_slots(static_cast<std::uint32_t>(*indicator_slot("ptrace-attach")));
    e.add_feature_values(1);
    e.add_indicators()->set_id("ptrace-attach");
  }
  if (writable) {
    e.add_feature_slots(static_cast<std::uint32_t>(kWritableExe));
    e.add_feature_values(1);
  }
  e.set_score(score);
  e.set_alert_id(alert_id);
  return e;
}

void ingest(Store& s, const std::string& agent, const std::vector<v1::Event>& events) {
  v1::EventBatch b;
  b.set_first_seq(events.front().seq());
  b.set_last_seq(events.back().seq());
  for (const auto& e : events) *b.add_events() = e;
  ASSERT_OK(s.ingest(agent, b, events.back().ts_ns() + kSec));
}

// Fleet data where the detectors alone cannot tell attacks from routine: every
// event has ptrace-attach; the attacks also run from /tmp, the agent scored
// them 90 and alerted ("a<seq>"); routine debugging scored 35, no alert.
void ingest_fleet(Store& s, std::uint64_t n) {
  std::vector<v1::Event> events;
  for (std::uint64_t i = 1; i <= n; ++i) {
    const bool attack = i % 4 == 0;
    events.push_back(
        fleet_event(i, attack ? 90 : 35, true, attack, attack ? "a" + std::to_string(i) : ""));
  }
  ingest(s, "a", events);
}

std::size_t count_source(const evo::Dataset& d, evo::LabelSource source, float label) {
  return static_cast<std::size_t>(std::ranges::count_if(
      d.samples, [&](const evo::Sample& x) { return x.source == source && x.label == label; }));
}

TEST_F(Models, EvolutionOnFleetDataRegistersABetterCandidateWithLineage) {
  cfg_.evolve_population = 16;
  cfg_.evolve_generations = 8;
  cfg_.evolve_workers = 2;
  ModelManager m(*store_, cfg_, fleet_.link());
  // The model in service: the baseline scores every ptrace-attach the same.
  ASSERT_OK(m.init(model_bytes("base-1"), kT0));
  auto none = m.evolve_once(kT0);
  ASSERT_OK(none);
  EXPECT_NE(none->last_result().find("not enough labelled fleet data"), std::string::npos)
      << none->last_result();

  ingest_fleet(*store_, 400);
  const auto now = kT0 + 500 * kSec;
  // The agent's alerts at 90 are its own verdicts: unlabelled, they teach nothing.
  auto unlabelled = m.fleet_dataset(now);
  EXPECT_EQ(unlabelled.positives(), 0U);
  EXPECT_EQ(unlabelled.samples.size(), 300U) << "the 300 unescalated hits, as weak negatives";
  auto st = m.evolve_once(now);
  ASSERT_OK(st);
  EXPECT_NE(st->last_result().find("0 positive samples"), std::string::npos) << st->last_result();
  EXPECT_NE(st->last_result().find("set evolve_scenario_dataset"), std::string::npos)
      << st->last_result();

  // An analyst confirms 60 of the 100 alerts.
  for (int i = 4; i <= 240; i += 4) {
    ASSERT_OK(store_->set_label("a:a" + std::to_string(i), "malicious", "", now));
  }
  const auto data = m.fleet_dataset(now);
  EXPECT_EQ(data.samples.size(), 360U);
  EXPECT_EQ(data.positives(), 60U);
  EXPECT_EQ(count_source(data, evo::LabelSource::kFeedback, 1), 60U);
  EXPECT_EQ(count_source(data, evo::LabelSource::kWeakNegative, 0), 300U);
  st = m.evolve_once(now);
  ASSERT_OK(st);
  EXPECT_NE(st->last_result().find("registered candidate"), std::string::npos) << st->last_result();
  EXPECT_EQ(st->runs(), 3U);
  EXPECT_LE(st->generation(), 8U);
  EXPECT_EQ(st->generation(), st->generations());
  const auto list = m.list();
  ASSERT_EQ(list.models_size(), 2);
  const auto& cand = list.models(0);  // newest first
  EXPECT_EQ(cand.state(), "candidate");
  EXPECT_EQ(cand.parent_version(), "base-1");
  EXPECT_EQ(cand.samples(), 360U);
  EXPECT_EQ(cand.positives(), 60U);
  EXPECT_GT(cand.heldout_auc(), cand.parent_auc()) << "kept only because it is better";
  EXPECT_GT(cand.data_to_ns(), cand.data_from_ns());
  auto got = m.get(cand.version());
  ASSERT_OK(got);
  EXPECT_TRUE(verify_signature(m.public_key_hex(), got->model(), got->signature()));
  EXPECT_FALSE(cand.released()) << "evolved candidates reach the fleet only once released";
}

// A fleet on the evolved default model: it never scores 0 (events without an
// indicator get 2..19), yet every such event is a negative; indicator hits
// nobody escalated are weak negatives; both are sampled to a bound.
TEST_F(Models, ADefaultFleetYieldsNegativesAndWeakNegativesNeverPositives) {
  cfg_.evolve_max_negatives = 50;
  ModelManager m(*store_, cfg_, fleet_.link());
  ASSERT_OK(m.init(model_bytes("base-1"), kT0));
  std::vector<v1::Event> events;
  std::uint64_t seq = 0;
  for (int i = 0; i < 200; ++i) events.push_back(fleet_event(++seq, 2 + i % 18, false, false));
  // Scored 90 by the model but not escalated (an agent with a higher
  // threshold): the score is no label, so it is a weak negative.
  for (int i = 0; i < 30; ++i) events.push_back(fleet_event(++seq, 90, true, true));
  for (int i = 0; i < 10; ++i) events.push_back(fleet_event(++seq, 35, true, false));
  // Escalated, nobody labelled them: left out.
  for (int i = 0; i < 20; ++i) {
    events.push_back(fleet_event(++seq, 90, true, true, "x" + std::to_string(i)));
  }
  ingest(*store_, "a", events);
  const auto now = kT0 + (seq + 10) * kSec;
  const auto data = m.fleet_dataset(now);
  EXPECT_EQ(data.positives(), 0U) << "no score makes a positive";
  EXPECT_EQ(count_source(data, evo::LabelSource::kFleetBaseline, 0), 50U)
      << "200 events without an indicator, sampled to evolve_max_negatives";
  EXPECT_EQ(count_source(data, evo::LabelSource::kWeakNegative, 0), 40U);
  EXPECT_EQ(data.samples.size(), 90U);
  for (const auto& x : data.samples) {
    const bool indicator = x.x[*indicator_slot("ptrace-attach")] > 0;
    EXPECT_EQ(x.source,
              indicator ? evo::LabelSource::kWeakNegative : evo::LabelSource::kFleetBaseline);
    EXPECT_FLOAT_EQ(x.weight, indicator ? 0.5F : 1.0F);
  }
  // The reservoir is a fixed-seed sample: the same data twice.
  const auto again = m.fleet_dataset(now);
  ASSERT_EQ(again.samples.size(), data.samples.size());
  for (std::size_t i = 0; i < data.samples.size(); ++i) {
    EXPECT_EQ(again.samples[i].x, data.samples[i].x);
  }
}

// Analyst labels are the strongest labels either way; each labelled alert is
// one sample, from the alert's event, not again from the event log.
TEST_F(Models, AnalystLabelsAreStrongSamplesBenignOnesStrongNegatives) {
  ModelManager m(*store_, cfg_, fleet_.link());
  ASSERT_OK(m.init(model_bytes("base-1"), kT0));
  std::vector<v1::Event> events;
  for (std::uint64_t i = 1; i <= 6; ++i) {
    events.push_back(fleet_event(i, 58, true, false, "fp" + std::to_string(i)));
  }
  events.push_back(fleet_event(7, 95, true, true, "tp"));
  ingest(*store_, "a", events);
  const auto now = kT0 + 20 * kSec;
  for (std::uint64_t i = 1; i <= 6; ++i) {
    ASSERT_OK(store_->set_label("a:fp" + std::to_string(i), "benign", "a test server", now));
  }
  ASSERT_OK(store_->set_label("a:tp", "malicious", "", now));
  const auto data = m.fleet_dataset(now);
  ASSERT_EQ(data.samples.size(), 7U);
  EXPECT_EQ(count_source(data, evo::LabelSource::kFeedback, 0), 6U);
  EXPECT_EQ(count_source(data, evo::LabelSource::kFeedback, 1), 1U);
  for (const auto& x : data.samples) {
    EXPECT_FLOAT_EQ(x.weight, 4.0F);
    EXPECT_EQ(x.label > 0.5F, x.x[kWritableExe] > 0) << "labels as the analyst gave them";
  }
  EXPECT_GT(evo::default_weight(evo::LabelSource::kFeedback),
            evo::default_weight(evo::LabelSource::kScenario));
  EXPECT_GT(evo::default_weight(evo::LabelSource::kFleetBaseline),
            evo::default_weight(evo::LabelSource::kWeakNegative));
}

// The scenario recordings (evolve_scenario_dataset) give a fleet with no
// malicious labels its positives: with the fleet's negatives, a run starts.
TEST_F(Models, ScenarioDatasetGivesADefaultFleetItsPositives) {
  cfg_.evolve_population = 16;
  cfg_.evolve_generations = 4;
  cfg_.evolve_workers = 2;
  evo::Dataset scenarios;
  for (int i = 0; i < 40; ++i) {
    evo::Sample x;
    x.x[kFamilyProcess] = 1;
    x.x[*indicator_slot("ptrace-attach")] = 1;
    x.x[kWritableExe] = i % 2 == 0 ? 1 : 0;
    x.label = i % 2 == 0 ? 1 : 0;
    x.source = evo::LabelSource::kScenario;
    x.weight = evo::default_weight(x.source);
    scenarios.samples.push_back(x);
  }
  cfg_.scenario_dataset = dir_.path() / "scenarios.vds";
  ASSERT_OK(scenarios.save(cfg_.scenario_dataset));
  {
    auto bad = cfg_;
    bad.scenario_dataset = dir_.path() / "missing.vds";
    ModelManager m(*store_, bad, fleet_.link());
    auto r = m.init(model_bytes("base-1"), kT0);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("evolve_scenario_dataset"), std::string::npos)
        << r.error().message;
  }
  ModelManager m(*store_, cfg_, fleet_.link());
  ASSERT_OK(m.init(model_bytes("base-1"), kT0));
  auto st = m.evolve_once(kT0);
  ASSERT_OK(st);
  EXPECT_NE(st->last_result().find("some fleet data"), std::string::npos)
      << "scenarios alone are no fleet learning: " << st->last_result();
  std::vector<v1::Event> events;
  for (std::uint64_t i = 1; i <= 30; ++i) events.push_back(fleet_event(i, 12, false, false));
  ingest(*store_, "a", events);
  const auto now = kT0 + 40 * kSec;
  const auto data = m.fleet_dataset(now);
  EXPECT_EQ(data.samples.size(), 70U);
  EXPECT_EQ(data.positives(), 20U);
  EXPECT_EQ(count_source(data, evo::LabelSource::kScenario, 1), 20U);
  EXPECT_EQ(count_source(data, evo::LabelSource::kFleetBaseline, 0), 30U);
  st = m.evolve_once(now);
  ASSERT_OK(st);
  EXPECT_EQ(st->last_result().find("not enough"), std::string::npos) << st->last_result();
}

}  // namespace
}  // namespace vigil::collector
