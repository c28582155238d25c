// The collector's model registry, signing, canary rollout with its health
// gate, rollback and evolution on stored fleet data: a real RocksDB store in a
// temp dir, agents faked behind AgentLink.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <map>

#include "util/test_util.h"
#include "vigil/agent/model_update.h"
#include "vigil/agent/pipeline.h"
#include "vigil/collector/models.h"

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
    cfg_.evolve_interval_s = 0;
    fleet_.connected = {"a", "b", "c", "d"};
    for (const auto& id : fleet_.connected) report(*store_, id, "base-1");
  }
  test::TempDir dir_;
  std::unique_ptr<Store> store_;
  ModelConfig cfg_;
  FakeFleet fleet_;
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
  v1::ModelUpdate u;
  u.set_version("m2");
  u.set_model(got->model());
  u.set_signature(got->signature());
  EXPECT_TRUE(agent::verify_model_update(u, pub)) << "agents accept what the collector signed";
  u.mutable_model()->back() ^= 1;
  EXPECT_FALSE(agent::verify_model_update(u, pub));
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

  report(*store_, "a", "m2");
  report(*store_, "b", "m2");
  m.tick(kT0 + 30 * kSec);
  EXPECT_EQ(m.status().phase(), "canary") << "still soaking";
  m.tick(kT0 + 61 * kSec);
  st = m.status();
  EXPECT_EQ(st->phase(), "fleet") << st->reason();
  EXPECT_EQ(fleet_.sent["c"].size(), 1U);
  EXPECT_EQ(fleet_.sent["d"].size(), 1U);
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

// Fleet data where the detectors alone cannot tell attacks from routine: every
// event has ptrace-attach; the attacks also run from /tmp.
void ingest_fleet(Store& s, std::uint64_t n) {
  const auto ptrace = static_cast<std::uint32_t>(*indicator_slot("ptrace-attach"));
  v1::EventBatch b;
  b.set_first_seq(1);
  b.set_last_seq(n);
  for (std::uint64_t i = 1; i <= n; ++i) {
    auto* e = b.add_events();
    e->set_seq(i);
    e->set_type("ptrace");
    e->set_ts_ns(kT0 + i * kSec);
    e->set_feature_schema(kFeatureSchemaVersion);
    e->add_feature_slots(ptrace);
    e->add_feature_values(1);
    e->add_feature_slots(static_cast<std::uint32_t>(kFamilyProcess));
    e->add_feature_values(1);
    if (i % 4 == 0) {  // an attack, scored high by the agent
      e->add_feature_slots(static_cast<std::uint32_t>(kWritableExe));
      e->add_feature_values(1);
      e->set_score(90);
    } else {
      e->set_score(0);  // routine debugging the agent did not flag
    }
  }
  ASSERT_OK(s.ingest("a", b, kT0 + (n + 1) * kSec));
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
  const auto data = m.fleet_dataset(now);
  EXPECT_EQ(data.samples.size(), 400U);
  EXPECT_EQ(data.positives(), 100U);
  auto st = m.evolve_once(now);
  ASSERT_OK(st);
  EXPECT_NE(st->last_result().find("registered candidate"), std::string::npos) << st->last_result();
  EXPECT_EQ(st->runs(), 2U);
  // Inner validation chose how many of the 8 generations to keep.
  EXPECT_LE(st->generation(), 8U);
  EXPECT_EQ(st->generation(), st->generations());
  const auto list = m.list();
  ASSERT_EQ(list.models_size(), 2);
  const auto& cand = list.models(0);  // newest first
  EXPECT_EQ(cand.state(), "candidate");
  EXPECT_EQ(cand.parent_version(), "base-1");
  EXPECT_EQ(cand.samples(), 400U);
  EXPECT_GT(cand.heldout_auc(), cand.parent_auc()) << "kept only because it is better";
  EXPECT_GT(cand.data_to_ns(), cand.data_from_ns());
  auto got = m.get(cand.version());
  ASSERT_OK(got);
  v1::ModelUpdate u;
  u.set_version(cand.version());
  u.set_model(got->model());
  u.set_signature(got->signature());
  EXPECT_TRUE(agent::verify_model_update(u, m.public_key_hex()));
}

}  // namespace
}  // namespace vigil::collector
