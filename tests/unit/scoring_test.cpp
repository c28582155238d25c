// Features, the model format and its evaluation, the baseline, hot swap in the
// pipeline, signed updates.
#include "vigil/scoring.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <fstream>
#include <map>

#include "util/records.h"
#include "util/test_util.h"
#include "vigil/agent/indicators.h"
#include "vigil/agent/model_update.h"
#include "vigil/agent/pipeline.h"
#include "vigil/features.h"
#include "vigil/model_release.h"
#include "vigil/shipped_model.h"

namespace vigil {
namespace {

std::vector<IndicatorWeight> weights() {
  std::vector<IndicatorWeight> w;
  for (const auto& ind : agent::all_indicators()) w.push_back({ind.id, ind.severity});
  return w;
}

std::uint32_t score_of(const ScoringModel& m, std::vector<std::string_view> ids,
                       EventType type = EventType::kExec) {
  FeatureVector x{};
  compute_features({.type = type, .uid = 1000, .euid = 1000, .indicators = ids}, x);
  return m.score(x);
}

TEST(Features, EveryIndicatorHasExactlyOneSlot) {
  EXPECT_EQ(indicator_slots().size(), kIndicatorFeatures);
  for (const auto& ind : agent::all_indicators()) {
    EXPECT_TRUE(indicator_slot(ind.id)) << ind.id << " has no feature slot";
  }
  EXPECT_EQ(agent::all_indicators().size(), kIndicatorFeatures);
}

TEST(Features, ContextSlots) {
  FeatureVector x{};
  std::vector<std::string_view> ids = {"ptrace-attach", "setuid-to-root"};
  compute_features({.type = EventType::kWxMemory,
                    .uid = 1000,
                    .euid = 0,
                    .exe = "/dev/shm/x",
                    .indicators = ids,
                    .lineage_depth = 4,
                    .level = 2,
                    .in_focus = true},
                   x);
  EXPECT_EQ(x[*indicator_slot("ptrace-attach")], 1.0F);
  EXPECT_EQ(x[*indicator_slot("wx-memory")], 0.0F);
  EXPECT_EQ(x[kFamilyMemory], 1.0F);
  EXPECT_EQ(x[kFamilyProcess], 0.0F);
  EXPECT_FLOAT_EQ(x[kLineageDepth], 0.5F);
  EXPECT_EQ(x[kEuidRoot], 1.0F);
  EXPECT_EQ(x[kUidMismatch], 1.0F);
  EXPECT_EQ(x[kWritableExe], 1.0F);
  EXPECT_FLOAT_EQ(x[kAwarenessLevel], 2.0F / 3.0F);
  EXPECT_EQ(x[kInFocus], 1.0F);
  EXPECT_FLOAT_EQ(x[kIndicatorCount], 0.5F);
}

TEST(Scoring, BaselineScoresEachIndicatorAtItsSeverityAndQuietEventsAtZero) {
  auto model = ScoringModel::load(make_baseline_model(weights(), "baseline-test"));
  ASSERT_OK(model);
  EXPECT_EQ(score_of(**model, {}), 0U);
  for (const auto& ind : agent::all_indicators()) {
    EXPECT_EQ(score_of(**model, {ind.id}), ind.severity) << ind.id;
  }
  // Corroboration never lowers the score below the strongest indicator.
  EXPECT_GE(score_of(**model, {"ptrace-write", "cron-write", "setuid-to-root", "port-scan"}), 75U);
  std::array<float, kPopulations> y{};
  FeatureVector x{};
  std::vector<std::string_view> ids = {"port-scan"};
  compute_features({.indicators = ids}, x);
  (*model)->population_outputs(x, y);
  EXPECT_GT(y[static_cast<std::size_t>(Population::kNetwork)], 0.3F);
  EXPECT_EQ(y[static_cast<std::size_t>(Population::kMemory)], 0.0F);
}

TEST(Scoring, InvalidModelsAreRejectedWithReasons) {
  const auto good = make_baseline_model(weights(), "v");
  auto expect_bad = [](const v1::Model& m, const char* needle) {
    auto r = ScoringModel::load(m);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  auto m = good;
  m.set_feature_schema_version(99);
  expect_bad(m, "feature schema 99");
  m = good;
  m.mutable_networks()->RemoveLast();
  expect_bad(m, "5 networks");
  m = good;
  m.mutable_networks(0)->set_population("memory");
  expect_bad(m, "expected 'process'");
  m = good;
  m.mutable_networks(1)->mutable_w1()->RemoveLast();
  expect_bad(m, "do not match");
  m = good;
  m.mutable_networks(2)->set_b2(std::numeric_limits<float>::quiet_NaN());
  expect_bad(m, "non-finite");
  m = good;
  m.add_floors()->set_indicator("telepathy");
  expect_bad(m, "unknown indicator");
  m = good;
  m.set_version("");
  expect_bad(m, "version");
  EXPECT_EQ(ScoringModel::load_bytes("\xff\xff garbage").error().code, ErrorCode::kCorrupt);
}

class CaptureScores : public agent::ScoredEventSink {
 public:
  void on_scored(const Event& /*e*/, std::uint32_t score, const FeatureVector& /*x*/,
                 std::span<const agent::Indicator* const> hits, std::string_view) override {
    scores.push_back(score);
    std::string ids;
    for (const auto* h : hits) {
      ids += std::string(h->id) + " ";
    }
    indicators.push_back(ids);
  }
  std::vector<std::uint32_t> scores;
  std::vector<std::string> indicators;
};

TEST(Scoring, PipelineSwapsModelsBetweenEvents) {
  agent::ProcessTable table(100, "");
  agent::Pipeline p("h", table, 0, agent::baseline_model());
  CaptureScores sink;
  p.set_scored_sink(&sink);
  EXPECT_EQ(p.model().version(), std::string("baseline-") + std::string(agent::kVersion));
  // A dropped binary run from /tmp: exec-writable-location, a medium rule (45).
  p.on_record(test::bytes_of(test::make_exec(70, "/tmp/dropper", {"dropper"})));
  p.on_batch_end();
  auto tuned = make_baseline_model(weights(), "tuned-1");
  for (auto& f : *tuned.mutable_floors()) {
    if (f.indicator() == "exec-writable-location") f.set_score(90);
  }
  auto model = ScoringModel::load(tuned);
  ASSERT_OK(model);
  p.set_model(*model);
  p.on_record(test::bytes_of(test::make_exec(71, "/tmp/dropper", {"dropper"})));
  p.on_batch_end();
  ASSERT_EQ(sink.scores.size(), 2U);
  EXPECT_EQ(sink.scores[0], 45U) << sink.indicators[0];
  EXPECT_EQ(sink.scores[1], 90U) << sink.indicators[1];
  EXPECT_EQ(p.stats().model_swaps, 1U);
  EXPECT_EQ(p.model().version(), "tuned-1");
}

TEST(ModelUpdate, OnlyCorrectlySignedUpdatesLoad) {
  ASSERT_GE(sodium_init(), 0);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  char pk_hex[crypto_sign_PUBLICKEYBYTES * 2 + 1];
  sodium_bin2hex(pk_hex, sizeof(pk_hex), pk, sizeof(pk));

  // A canary grant: the collector's key is enough (model_trust_test.cpp has the fleet).
  constexpr std::uint64_t kNow = 1'790'000'000'000'000'000ULL;
  v1::ModelUpdate update;
  update.set_version("signed-1");
  update.set_model(make_baseline_model(weights(), "signed-1").SerializeAsString());
  update.set_scope("canary");
  update.set_expires_ns(kNow + 60'000'000'000ULL);
  const auto message = model_grant_message("canary", update.expires_ns(), update.model());
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk);
  update.set_signature(reinterpret_cast<const char*>(sig), sizeof(sig));

  const agent::ModelKeys keys{.online = pk_hex, .release = ""};
  auto ok = agent::verify_model_update(update, keys, {}, kNow);
  ASSERT_OK(ok);
  EXPECT_EQ((*ok)->version(), "signed-1");

  EXPECT_EQ(agent::verify_model_update(update, {}, {}, kNow).error().code, ErrorCode::kPermission);
  auto tampered = update;
  tampered.mutable_model()->back() ^= 1;
  EXPECT_EQ(agent::verify_model_update(tampered, keys, {}, kNow).error().code,
            ErrorCode::kPermission);
  unsigned char other_pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char other_sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(other_pk, other_sk);
  char other_hex[crypto_sign_PUBLICKEYBYTES * 2 + 1];
  sodium_bin2hex(other_hex, sizeof(other_hex), other_pk, sizeof(other_pk));
  EXPECT_FALSE(agent::verify_model_update(update, {.online = other_hex, .release = ""}, {}, kNow));
}

TEST(ModelUpdate, PersistedModelRoundTrips) {
  test::TempDir dir;
  auto model = ScoringModel::load(make_baseline_model(weights(), "persist-1"));
  ASSERT_OK(model);
  ASSERT_OK(agent::save_model_file(dir.path() / "model.pb", **model));
  auto back = agent::load_model_file(dir.path() / "model.pb");
  ASSERT_OK(back);
  EXPECT_EQ((*back)->version(), "persist-1");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "model.pb.tmp"));
  EXPECT_EQ(agent::load_model_file(dir.path() / "missing.pb").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace vigil

namespace vigil::agent {
namespace {

class CaptureAlerts : public ScoredEventSink {
 public:
  void on_scored(const Event&, std::uint32_t score, const FeatureVector&,
                 std::span<const Indicator* const>, std::string_view alert_id) override {
    scores.push_back(score);
    if (!alert_id.empty()) ids.emplace_back(alert_id);
  }
  std::vector<std::uint32_t> scores;
  std::vector<std::string> ids;
};

TEST(Feedback, BenignSuppressesTheIndicatorForThatExecutableAndPersists) {
  test::TempDir dir;
  ProcessTable table(100, "");
  Pipeline p("h", table, 0, baseline_model());
  CaptureAlerts sink;
  p.set_scored_sink(&sink);
  p.set_alerts(*LineSink::open((dir.path() / "alerts").string()), OutputFormat::kJson, 30);
  p.on_record(test::bytes_of(test::make_exec(80, "/tmp/tool", {"tool"})));
  p.on_batch_end();
  ASSERT_EQ(sink.ids.size(), 1U);
  EXPECT_FALSE(p.apply_feedback("no-such-alert", "benign"));
  EXPECT_FALSE(p.apply_feedback(sink.ids[0], "maybe"));
  ASSERT_TRUE(p.apply_feedback(sink.ids[0], "benign"));
  p.on_record(test::bytes_of(test::make_exec(81, "/tmp/tool", {"tool"})));
  p.on_record(test::bytes_of(test::make_exec(82, "/tmp/other", {"other"})));
  p.on_batch_end();
  ASSERT_EQ(sink.scores.size(), 3U);
  EXPECT_EQ(sink.scores[0], 45U);  // exec-writable-location: a medium rule
  EXPECT_EQ(sink.scores[1], 0U);   // suppressed for /tmp/tool
  EXPECT_GE(sink.scores[2], 45U);  // not for another executable (+15: its parent is in focus)
  EXPECT_EQ(p.stats().suppressed_hits, 1U);

  ASSERT_OK(p.save_suppressions(dir.path() / "suppressions.txt"));
  Pipeline q("h", table, 0);
  ASSERT_OK(q.load_suppressions(dir.path() / "suppressions.txt"));
  EXPECT_EQ(q.suppressions(), 1U);
  std::ofstream(dir.path() / "bad.txt") << "no separator here\n";
  EXPECT_FALSE(q.load_suppressions(dir.path() / "bad.txt"));
  ASSERT_TRUE(p.apply_feedback(sink.ids[0], "malicious"));  // lifts it
  EXPECT_EQ(p.suppressions(), 0U);
}

}  // namespace
}  // namespace vigil::agent

namespace vigil {
namespace {

TEST(ShippedModel, LoadsForThisFeatureSchemaAndIsTheAgentDefault) {
  const auto bytes = shipped_model_bytes();
  ASSERT_FALSE(bytes.empty()) << "models/default-model.pb is compiled in";
  auto model = ScoringModel::load_bytes(bytes);
  ASSERT_TRUE(model) << model.error().message << " (regenerate it: deploy/evolve-default-model.sh)";
  EXPECT_EQ(agent::default_model()->version(), (*model)->version());
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

TEST(Scoring, CapWithoutIndicatorsKeepsContextAloneFromAlerting) {
  std::vector<IndicatorWeight> w;
  for (const auto& ind : agent::all_indicators()) w.push_back({ind.id, ind.severity});
  auto proto = make_baseline_model(w, "capped");
  // A combiner that scores high whatever fired: context alone would alert.
  proto.mutable_combiner()->set_bias(3.0F);
  auto uncapped = ScoringModel::load(proto);
  ASSERT_OK(uncapped);
  FeatureVector plain{};
  compute_features({.type = EventType::kExec, .exe = "/usr/bin/ls"}, plain);
  EXPECT_GE((*uncapped)->score(plain), 50U) << "the uncapped model alerts on nothing";
  proto.set_cap_without_indicators(19);
  auto capped = ScoringModel::load(proto);
  ASSERT_OK(capped);
  EXPECT_EQ((*capped)->score(plain), 19U);
  FeatureVector flagged{};
  std::vector<std::string_view> ids = {"exec-writable-location"};
  compute_features({.type = EventType::kExec, .exe = "/tmp/x", .indicators = ids}, flagged);
  EXPECT_EQ((*capped)->score(flagged), (*uncapped)->score(flagged))
      << "the cap applies only when no indicator fired";
  proto.set_cap_without_indicators(101);
  EXPECT_FALSE(ScoringModel::load(proto));
}

// The attention-focus bonus is the model's: the baseline adds 15 to a scored
// event in focus (as agents did before models carried it, also when unset),
// an evolved model 0; an event that scored 0 gets none.
TEST(Scoring, TheFocusBonusIsTheModels) {
  auto proto = make_baseline_model(weights(), "focus");
  EXPECT_EQ(proto.focus_bonus(), kDefaultFocusBonus);
  std::vector<std::string_view> ids = {"cron-write"};
  FeatureVector in_focus{};
  compute_features({.indicators = ids, .in_focus = true}, in_focus);
  FeatureVector quiet{};
  compute_features({.in_focus = true}, quiet);
  const auto severity = agent::find_indicator("cron-write")->severity;
  auto with = ScoringModel::load(proto);
  ASSERT_OK(with);
  EXPECT_EQ((*with)->score(in_focus), severity + 15);
  EXPECT_EQ((*with)->score(quiet), 0U);
  proto.clear_focus_bonus();  // a model from before the field
  auto unset = ScoringModel::load(proto);
  ASSERT_OK(unset);
  EXPECT_EQ((*unset)->score(in_focus), severity + 15);
  proto.set_focus_bonus(0);
  auto none = ScoringModel::load(proto);
  ASSERT_OK(none);
  EXPECT_EQ((*none)->score(in_focus), severity);
  proto.set_focus_bonus(101);
  EXPECT_FALSE(ScoringModel::load(proto));
}

}  // namespace
}  // namespace vigil

namespace vigil::agent {
namespace {

// Awareness cannot blind a host: cheap hits no longer arouse it at all, and
// one driven to critical on purpose (alert-grade noise), then a shell spawned by a web server as an
// ordinary user, alerts as it does on a calm host (the shipped model alone gives it 42 calm, 20
// critical; the detector's severity is a floor).
TEST(Awareness, AHostDrivenToCriticalStillAlertsOnTheNextAttack) {
  auto attack = [](Pipeline& p, std::uint32_t base_pid) {
    auto nginx = test::make_exec(base_pid, "/usr/sbin/nginx", {"nginx", "-g", "daemon off;"});
    p.on_record(test::bytes_of(nginx));
    p.on_record(test::bytes_of(test::make_fork(base_pid, base_pid + 1)));
    auto sh = test::make_exec(base_pid + 1, "/bin/sh", {"sh", "-c", "id"});
    sh.hdr.ppid = base_pid;
    p.on_record(test::bytes_of(sh));
    p.on_batch_end();
  };
  class LastScore : public ScoredEventSink {
   public:
    void on_scored(const Event& e, std::uint32_t score, const FeatureVector&,
                   std::span<const Indicator* const> hits, std::string_view) override {
      for (const auto* h : hits) {
        if (h->id == "shell-from-service") {
          last[e.pid] = score;
        }
      }
    }
    std::map<std::uint32_t, std::uint32_t> last;
  };
  ProcessTable calm_table(1000, "");
  Pipeline calm("h", calm_table, 0);
  LastScore calm_sink;
  calm.set_scored_sink(&calm_sink);
  attack(calm, 500);
  ASSERT_TRUE(calm_sink.last.contains(501));
  EXPECT_GE(calm_sink.last[501], 50U);  // a web server's shell alerts on a calm host too

  ProcessTable table(1000, "");
  Pipeline busy("h", table, 0);
  LastScore sink;
  busy.set_scored_sink(&sink);
  // Cheap hits: programs run from /tmp (a medium rule each), many processes.
  // Below the alert threshold they take the host to attentive at most.
  for (std::uint32_t i = 0; i < 60; ++i) {
    const std::string exe = "/tmp/noise" + std::to_string(i);
    busy.on_record(test::bytes_of(test::make_exec(2000 + i, exe.c_str(), {"noise"})));
    busy.on_batch_end();
  }
  ASSERT_LE(static_cast<int>(busy.level()), static_cast<int>(Level::kAttentive));
  // Alert-grade noise (ptrace attaches) does drive it to critical.
  for (std::uint32_t i = 0; i < 60 && busy.level() != Level::kCritical; ++i) {
    vigil_ptrace rec{};
    test::fill_hdr(rec.hdr, VIGIL_EV_PTRACE, sizeof(rec), 3000 + i);
    rec.request = 16;
    rec.target_pid = 4000 + i;
    busy.on_record(test::bytes_of(rec));
    busy.on_batch_end();
  }
  ASSERT_EQ(busy.level(), Level::kCritical);
  attack(busy, 700);
  ASSERT_TRUE(sink.last.contains(701));
  EXPECT_GE(sink.last[701], calm_sink.last[501]);
  EXPECT_GE(sink.last[701], 50U) << "calm " << calm_sink.last[501];
}

}  // namespace
}  // namespace vigil::agent
