// Model trust on the agent (docs/security.md, "Models"): what the online key
// grants (canary, fleet), what only the release key allows (the fleet, a
// downgrade through a rollback marker), and the persisted updates checked
// again at start. Keys are real ed25519 keys in a temp dir.
#include <gtest/gtest.h>

#include <fstream>

#include "util/records.h"
#include "util/test_util.h"
#include "vigil/agent/model_update.h"
#include "vigil/agent/pipeline.h"
#include "vigil/model_release.h"
#include "vigil/signing.h"

namespace vigil::agent {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kNow = 1'790'000'000ULL * kSec;

class ModelTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto online = SigningKey::create(dir_.path() / "online.key");
    auto release = SigningKey::create(dir_.path() / "release.key");
    auto other = SigningKey::create(dir_.path() / "other.key");
    ASSERT_OK(online);
    ASSERT_OK(release);
    ASSERT_OK(other);
    online_ = *online;
    release_ = *release;
    other_ = *other;
    keys_ = {.online = online_.public_key_hex(), .release = release_.public_key_hex()};
    std::filesystem::create_directories(state_);
  }

  static std::string model(const std::string& version) {
    auto m = baseline_model()->proto();
    m.set_version(version);
    return m.SerializeAsString();
  }
  // What the collector sends a canary agent.
  v1::ModelUpdate canary(const std::string& version, std::uint64_t expires_ns) const {
    v1::ModelUpdate u;
    u.set_version(version);
    u.set_model(model(version));
    u.set_scope("canary");
    u.set_expires_ns(expires_ns);
    u.set_signature(online_.sign(model_grant_message("canary", expires_ns, u.model())));
    return u;
  }
  // What the collector sends the fleet: release `seq` signed by `by`.
  v1::ModelUpdate fleet(const std::string& version, std::uint64_t seq,
                        const SigningKey* by = nullptr) const {
    v1::ModelUpdate u;
    u.set_version(version);
    u.set_model(model(version));
    u.set_scope("fleet");
    u.set_signature(online_.sign(model_grant_message("fleet", 0, u.model())));
    u.set_release_seq(seq);
    u.set_release_signature(
        (by != nullptr ? *by : release_).sign(model_release_message(seq, u.model())));
    return u;
  }
  void mark(v1::ModelUpdate& u, std::uint64_t from, std::uint64_t to,
            const SigningKey* by = nullptr) const {
    u.set_rollback_from_seq(from);
    u.set_rollback_to_seq(to);
    u.set_rollback_signature(
        (by != nullptr ? *by : release_).sign(model_rollback_message(from, to)));
  }

  test::TempDir dir_;
  std::filesystem::path state_ = dir_.path() / "state";
  SigningKey online_, release_, other_;
  ModelKeys keys_;
};

TEST_F(ModelTrustTest, AcceptsAReleasedModel) {
  auto m = verify_model_update(fleet("r1", 1), keys_, {}, kNow);
  ASSERT_OK(m);
  EXPECT_EQ((*m)->version(), "r1");
  ASSERT_OK(verify_model_update(canary("c1", kNow + 3600 * kSec), keys_, {}, kNow));
}

TEST_F(ModelTrustTest, FleetScopeNeedsAValidReleaseSignature) {
  auto unsigned_release = fleet("r1", 1);
  unsigned_release.clear_release_signature();
  auto r = verify_model_update(unsigned_release, keys_, {}, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermission);
  EXPECT_NE(r.error().message.find("without a release signature"), std::string::npos)
      << r.error().message;

  r = verify_model_update(fleet("r1", 1, &other_), keys_, {}, kNow);
  ASSERT_FALSE(r) << "signed by a key that is not the release key";
  EXPECT_NE(r.error().message.find("not signed by the release key"), std::string::npos);

  r = verify_model_update(fleet("r1", 1, &online_), keys_, {}, kNow);
  ASSERT_FALSE(r) << "the collector's own key cannot release";

  auto moved = fleet("r1", 1);
  moved.set_release_seq(7);  // a release signature is bound to its number
  EXPECT_FALSE(verify_model_update(moved, keys_, {}, kNow));

  r = verify_model_update(fleet("r1", 1), {.online = keys_.online, .release = ""}, {}, kNow);
  ASSERT_FALSE(r) << "no release key configured: no fleet model";
  EXPECT_NE(r.error().message.find("no model_release_pubkey"), std::string::npos);

  auto tampered = fleet("r1", 1);
  tampered.mutable_model()->back() ^= 1;
  EXPECT_FALSE(verify_model_update(tampered, keys_, {}, kNow));
}

TEST_F(ModelTrustTest, ACanaryGrantCannotBeRelabelledAsFleet) {
  auto u = canary("c1", kNow + 3600 * kSec);
  u.set_scope("fleet");
  EXPECT_FALSE(verify_model_update(u, keys_, {}, kNow));
  u.set_expires_ns(0);
  EXPECT_FALSE(verify_model_update(u, keys_, {}, kNow));
  // Even with a genuine release signature of the same bytes beside it: the
  // online signature was for canary use.
  u.set_release_seq(1);
  u.set_release_signature(release_.sign(model_release_message(1, u.model())));
  auto r = verify_model_update(u, keys_, {}, kNow);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("bad signature for scope fleet"), std::string::npos)
      << r.error().message;
}

TEST_F(ModelTrustTest, CanaryGrantsExpire) {
  EXPECT_FALSE(verify_model_update(canary("c1", kNow - kSec), keys_, {}, kNow));
  EXPECT_FALSE(verify_model_update(canary("c1", 0), keys_, {}, kNow));
  EXPECT_FALSE(
      verify_model_update(canary("c1", kNow + (kModelMaxCanaryTtlS + 60) * kSec), keys_, {}, kNow))
      << "no grant for longer than an agent allows";
  auto longer = canary("c1", kNow + 3600 * kSec);
  longer.set_expires_ns(kNow + 7200 * kSec);  // the expiry is signed
  EXPECT_FALSE(verify_model_update(longer, keys_, {}, kNow));
}

TEST_F(ModelTrustTest, DowngradesNeedARollbackMarkerFromTheHighestRelease) {
  const ReleaseState at3{.current = 3, .highest = 3};
  auto r = verify_model_update(fleet("r2", 2), keys_, at3, kNow);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("downgrade from release 3 to 2"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(verify_model_update(fleet("r3", 3), keys_, at3, kNow)) << "the same release";
  EXPECT_TRUE(verify_model_update(fleet("r4", 4), keys_, at3, kNow)) << "upgrades need no marker";

  auto back = fleet("r2", 2);
  mark(back, 3, 2);
  EXPECT_TRUE(verify_model_update(back, keys_, at3, kNow)) << "the marker of release 3";

  auto forged = fleet("r2", 2);
  mark(forged, 3, 2, &online_);
  EXPECT_FALSE(verify_model_update(forged, keys_, at3, kNow)) << "only the release key marks";
  auto too_far = fleet("r1", 1);
  mark(too_far, 3, 2);
  EXPECT_FALSE(verify_model_update(too_far, keys_, at3, kNow)) << "the marker allows 2, not 1";
  // Back at 2 (highest still 3), release 2's own marker does not take it lower.
  const ReleaseState at2{.current = 2, .highest = 3};
  EXPECT_TRUE(verify_model_update(back, keys_, at2, kNow));
  auto further = fleet("r1", 1);
  mark(further, 2, 1);
  EXPECT_FALSE(verify_model_update(further, keys_, at2, kNow));
}

TEST_F(ModelTrustTest, ReleaseZeroIsOnlyTheBuiltInDefault) {
  v1::ModelUpdate u;
  u.set_version(default_model()->version());
  u.set_model(default_model()->proto().SerializeAsString());
  u.set_scope("fleet");
  u.set_signature(online_.sign(model_grant_message("fleet", 0, u.model())));
  EXPECT_TRUE(verify_model_update(u, keys_, {}, kNow));
  auto other = fleet("not-builtin", 0);
  other.clear_release_signature();
  EXPECT_FALSE(verify_model_update(other, keys_, {}, kNow));
  mark(u, 1, 0);
  EXPECT_TRUE(verify_model_update(u, keys_, {.current = 1, .highest = 1}, kNow))
      << "rolled back from release 1 to the default";
}

TEST_F(ModelTrustTest, PersistedUpdatesAreCheckedAgainAtStart) {
  {
    ModelTrust t(state_, keys_);
    EXPECT_EQ(t.restore(kNow).model, nullptr) << "nothing persisted: the built-in default";
    ASSERT_OK(t.apply(fleet("r2", 2), kNow));
    EXPECT_FALSE(t.apply(fleet("r1", 1), kNow)) << "no downgrade";
    EXPECT_EQ(t.state().highest, 2U);
  }
  {
    ModelTrust t(state_, keys_);
    auto restored = t.restore(kNow);
    ASSERT_NE(restored.model, nullptr);
    EXPECT_EQ(restored.model->version(), "r2");
    EXPECT_TRUE(restored.refusals.empty());
    EXPECT_FALSE(t.apply(fleet("r1", 1), kNow)) << "the release order survives a restart";
  }
  {
    // Another release key configured: the persisted release no longer verifies.
    ModelTrust t(state_, {.online = keys_.online, .release = other_.public_key_hex()});
    auto restored = t.restore(kNow);
    EXPECT_EQ(restored.model, nullptr);
    ASSERT_EQ(restored.refusals.size(), 1U);
  }
  // Tampered model bytes in the persisted update.
  v1::ModelUpdate persisted;
  {
    std::ifstream in(state_ / "model-release.pb", std::ios::binary);
    ASSERT_TRUE(persisted.ParseFromIstream(&in));
  }
  auto tampered = persisted;
  auto weights = baseline_model()->proto();
  weights.set_version("r2");
  weights.mutable_combiner()->set_bias(-50);  // scores everything 0
  tampered.set_model(weights.SerializeAsString());
  std::ofstream(state_ / "model-release.pb", std::ios::binary) << tampered.SerializeAsString();
  {
    ModelTrust t(state_, keys_);
    auto restored = t.restore(kNow);
    EXPECT_EQ(restored.model, nullptr) << "a tampered persisted model is not used";
    ASSERT_EQ(restored.refusals.size(), 1U);
    EXPECT_NE(restored.refusals[0].find("refused"), std::string::npos) << restored.refusals[0];
    EXPECT_FALSE(t.apply(fleet("r1", 1), kNow)) << "the highest release is kept apart";
  }
  // An unsigned model (what older agents wrote) and a garbage file.
  std::filesystem::remove(state_ / "model-release.pb");
  std::ofstream(state_ / "model.pb", std::ios::binary) << model("old");
  std::ofstream(state_ / "model-canary.pb", std::ios::binary) << "garbage";
  {
    ModelTrust t(state_, keys_);
    auto restored = t.restore(kNow);
    EXPECT_EQ(restored.model, nullptr);
    EXPECT_EQ(restored.refusals.size(), 2U);
  }
}

TEST_F(ModelTrustTest, AnExpiredCanaryReturnsToTheLastRelease) {
  ModelTrust t(state_, keys_);
  (void)t.restore(kNow);
  ASSERT_OK(t.apply(fleet("r1", 1), kNow));
  ASSERT_OK(t.apply(canary("c1", kNow + 60 * kSec), kNow));
  EXPECT_FALSE(t.expire(kNow + 59 * kSec));
  {
    ModelTrust again(state_, keys_);
    auto restored = again.restore(kNow + kSec);
    ASSERT_NE(restored.model, nullptr);
    EXPECT_EQ(restored.model->version(), "c1") << "a canary grant in force survives a restart";
    auto later = ModelTrust(state_, keys_).restore(kNow + 61 * kSec);
    ASSERT_NE(later.model, nullptr);
    EXPECT_EQ(later.model->version(), "r1") << "after its expiry, the release";
  }
  ASSERT_OK(t.apply(canary("c2", kNow + 60 * kSec), kNow));
  auto back = t.expire(kNow + 60 * kSec);
  ASSERT_TRUE(back);
  ASSERT_NE(*back, nullptr);
  EXPECT_EQ((*back)->version(), "r1");
  EXPECT_FALSE(std::filesystem::exists(state_ / "model-canary.pb"));

  ModelTrust fresh(dir_.path() / "fresh", keys_);
  std::filesystem::create_directories(dir_.path() / "fresh");
  ASSERT_OK(fresh.apply(canary("c3", kNow + 60 * kSec), kNow));
  back = fresh.expire(kNow + 61 * kSec);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, nullptr) << "no release yet: the built-in default";
}

// Whatever a model says, what fired keeps its severity (Pipeline::score_event):
// a released model that scores everything 0 and drops every floor still
// leaves a detector hit at the detector's own score.
TEST(ModelFloor, NoModelLowersTheAgentsFloor) {
  struct Scores : ScoredEventSink {
    void on_scored(const Event& /*e*/, std::uint32_t score, const FeatureVector& /*x*/,
                   std::span<const Indicator* const> /*hits*/, std::string_view) override {
      scores.push_back(score);
    }
    std::vector<std::uint32_t> scores;
  } sink;
  auto blind = baseline_model()->proto();
  blind.set_version("blind");
  blind.clear_floors();
  blind.mutable_combiner()->set_bias(-100);
  for (auto& w : *blind.mutable_combiner()->mutable_weights()) w = 0;
  blind.set_cap_without_indicators(0);
  auto model = ScoringModel::load(blind);
  ASSERT_OK(model);
  ProcessTable table(100, "");
  Pipeline p("h", table, 0, *model);
  p.set_scored_sink(&sink);
  // A dropped binary run from /tmp: exec-writable-location, severity 45.
  p.on_record(test::bytes_of(test::make_exec(70, "/tmp/dropper", {"dropper"})));
  p.on_batch_end();
  ASSERT_EQ(sink.scores.size(), 1U);
  EXPECT_EQ(sink.scores[0], 45U) << "the detector's severity is the floor";
}

}  // namespace
}  // namespace vigil::agent
