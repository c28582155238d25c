#include "vigil/loso.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "util/test_util.h"
#include "vigil/agent/pipeline.h"

namespace vigil::evo {
namespace {

Sample sample(float label, std::initializer_list<std::pair<std::size_t, float>> x,
              float weight = 1) {
  Sample s;
  s.label = label;
  s.weight = weight;
  for (auto [i, v] : x) s.x[i] = v;
  return s;
}

// A format-1 file, byte by byte as the recorder and merge wrote them before
// groups and runs: "VGLDS\1", schema, count, then per sample label, source,
// weight, nnz, (slot, value)...
void write_v1(const std::filesystem::path& path, const std::vector<Sample>& samples) {
  std::ofstream out(path, std::ios::binary);
  auto put = [&](const void* p, std::size_t n) {
    out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
  };
  put("VGLDS\1", 6);
  const std::uint32_t schema = kFeatureSchemaVersion;
  const std::uint64_t count = samples.size();
  put(&schema, 4);
  put(&count, 8);
  for (const auto& s : samples) {
    const std::uint8_t label = s.label >= 0.5F ? 1 : 0;
    const auto source = static_cast<std::uint8_t>(s.source);
    std::uint8_t nnz = 0;
    for (float v : s.x) nnz += v != 0.0F ? 1 : 0;
    put(&label, 1);
    put(&source, 1);
    put(&s.weight, 4);
    put(&nnz, 1);
    for (std::size_t i = 0; i < kFeatureCount; ++i) {
      if (s.x[i] == 0.0F) continue;
      const auto slot = static_cast<std::uint8_t>(i);
      put(&slot, 1);
      put(&s.x[i], 4);
    }
  }
}

TEST(LosoData, FormatOneStillLoadsWithRunsPerLabelStretchAndDerivedGroups) {
  test::TempDir dir;
  const auto path = dir.path() / "v1.vds";
  // As the shipped dataset: attacks, benign, attacks, benign (two merged rounds).
  write_v1(path, {sample(1, {{0, 1.0F}, {3, 1.0F}}, 2), sample(1, {{0, 1.0F}}, 2),
                  sample(0, {{kFamilyFile, 1.0F}}, 2), sample(0, {}, 2), sample(1, {{5, 1.0F}}, 2),
                  sample(0, {{0, 1.0F}}, 2)});
  auto d = Dataset::load(path);
  ASSERT_OK(d);
  ASSERT_EQ(d->samples.size(), 6U);
  EXPECT_EQ(d->samples[0].x[3], 1.0F);
  EXPECT_EQ(d->samples[4].weight, 2.0F);
  ASSERT_EQ(d->runs.size(), 4U);
  const std::vector<std::uint32_t> runs = {0, 0, 1, 1, 2, 3};
  for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(d->samples[i].run, runs[i]) << i;
  for (const auto& r : d->runs) EXPECT_EQ(r.seconds, 0) << "format 1 has no durations";
  for (const auto& s : d->samples) EXPECT_EQ(d->group_name(s), "");

  // Groups from the indicators: the strongest slot (slot 3 outranks slot 0).
  const std::vector<IndicatorInfo> info = {{indicator_slots()[0].id, "T0001", 30},
                                           {indicator_slots()[3].id, "T0003", 80},
                                           {indicator_slots()[5].id, "T0005", 50}};
  EXPECT_EQ(fill_groups(*d, info), 6U);
  EXPECT_EQ(d->group_name(d->samples[0]), indicator_slots()[3].id);
  EXPECT_EQ(d->group_name(d->samples[1]), indicator_slots()[0].id);
  EXPECT_EQ(d->group_name(d->samples[4]), indicator_slots()[5].id);
  EXPECT_EQ(d->group_name(d->samples[5]), "benign") << "a benign event's indicator is no group";
  EXPECT_EQ(fill_groups(*d, info), 0U) << "named samples keep their group";
}

TEST(LosoData, GroupsAndRunsRoundTripAndMergeKeepsThem) {
  test::TempDir dir;
  Dataset a;
  a.runs = {{"round1/scenarios.vds", 120.5}, {"round1/benign.vds", 61.25}};
  Sample s = sample(1, {{2, 1.0F}}, 2);
  s.group = a.intern_group("reverse-shell");
  s.run = 0;
  a.samples.push_back(s);
  s = sample(0, {{kFamilyNetwork, 1.0F}}, 2);
  s.group = a.intern_group("benign");
  s.run = 1;
  a.samples.push_back(s);
  ASSERT_OK(a.save(dir.path() / "a.vds"));
  auto back = Dataset::load(dir.path() / "a.vds");
  ASSERT_OK(back);
  ASSERT_EQ(back->samples.size(), 2U);
  ASSERT_EQ(back->runs.size(), 2U);
  EXPECT_EQ(back->runs[0].name, "round1/scenarios.vds");
  EXPECT_EQ(back->runs[1].seconds, 61.25);
  EXPECT_EQ(back->group_name(back->samples[0]), "reverse-shell");
  EXPECT_EQ(back->group_name(back->samples[1]), "benign");
  EXPECT_EQ(back->samples[1].run, 1U);
  EXPECT_EQ(back->samples[0].x, a.samples[0].x);

  // The recorder: one run named after its file, groups as given.
  {
    auto w = DatasetWriter::open(dir.path() / "rec.vds");
    ASSERT_OK(w);
    (*w)->append(sample(1, {{4, 1.0F}}), "cron-write");
    (*w)->append(sample(0, {}), "benign");
    ASSERT_OK((*w)->flush());
  }
  auto rec = Dataset::load(dir.path() / "rec.vds");
  ASSERT_OK(rec);
  ASSERT_EQ(rec->runs.size(), 1U);
  EXPECT_EQ(rec->runs[0].name, "rec.vds");
  EXPECT_GE(rec->runs[0].seconds, 0.0);
  ASSERT_EQ(rec->samples.size(), 2U);
  EXPECT_EQ(rec->group_name(rec->samples[0]), "cron-write");

  // Merging: the second dataset's runs follow the first's, groups by name.
  Dataset all = *back;
  all.append(*rec);
  ASSERT_EQ(all.runs.size(), 3U);
  EXPECT_EQ(all.samples[2].run, 2U);
  EXPECT_EQ(all.samples[3].run, 2U);
  EXPECT_EQ(all.group_name(all.samples[3]), "benign");
  EXPECT_EQ(all.samples[3].group, all.samples[1].group) << "one group per name";
  ASSERT_OK(all.save(dir.path() / "all.vds"));
  auto again = Dataset::load(dir.path() / "all.vds");
  ASSERT_OK(again);
  EXPECT_EQ(again->group_name(again->samples[2]), "cron-write");
  EXPECT_EQ(again->samples[2].run, 2U);
  EXPECT_EQ(again->runs[2].name, "rec.vds");

  // A cut file is refused.
  const auto size = std::filesystem::file_size(dir.path() / "all.vds");
  std::filesystem::resize_file(dir.path() / "all.vds", size - 2);
  EXPECT_FALSE(Dataset::load(dir.path() / "all.vds"));
}

// 4 attack groups recorded in 2 runs, 3 benign runs; twins across groups and
// runs (the same vectors), as in real recordings.
Dataset synthetic() {
  Dataset d;
  d.runs = {{"attacks1", 100}, {"attacks2", 100}, {"b1", 60}, {"b2", 60}, {"b3", 60}};
  for (std::uint32_t run = 0; run < 2; ++run) {
    for (std::size_t g = 0; g < 4; ++g) {
      for (int copy = 0; copy < 3; ++copy) {
        Sample s = sample(1, {{g, 1.0F}, {kEuidRoot, 1.0F}}, 2);
        s.group = d.intern_group(indicator_slots()[g].id);
        s.run = run;
        d.samples.push_back(s);
      }
    }
  }
  for (std::uint32_t run = 2; run < 5; ++run) {
    for (int i = 0; i < 20; ++i) {
      Sample s = sample(0, {{kFamilyProcess, 1.0F}, {5, i == 0 ? 1.0F : 0.0F}}, 2);
      s.group = d.intern_group("benign");
      s.run = run;
      d.samples.push_back(s);
    }
  }
  return d;
}

TEST(Loso, SplitNeverPutsAGroupOrTheHeldOutRunOnBothSides) {
  const auto d = synthetic();
  auto folds = loso_folds(d);
  ASSERT_OK(folds);
  ASSERT_EQ(folds->size(), 4U);
  std::set<std::uint32_t> held_groups;
  std::set<std::uint32_t> held_runs;
  for (const auto& f : *folds) {
    held_groups.insert(f.group);
    held_runs.insert(f.benign_run);
    ASSERT_EQ(f.train.size() + f.test.size(), d.samples.size());
    std::set<std::uint32_t> train_groups;
    std::set<std::uint32_t> train_runs;
    for (auto i : f.train) {
      const auto& s = d.samples[i];
      if (s.label >= 0.5F) {
        train_groups.insert(s.group);
      } else {
        train_runs.insert(s.run);
      }
    }
    std::size_t test_positives = 0;
    for (auto i : f.test) {
      const auto& s = d.samples[i];
      if (s.label >= 0.5F) {
        ++test_positives;
        EXPECT_EQ(s.group, f.group);
        EXPECT_FALSE(train_groups.contains(s.group)) << "group on both sides";
      } else {
        EXPECT_EQ(s.run, f.benign_run);
        EXPECT_FALSE(train_runs.contains(s.run)) << "benign run on both sides";
      }
    }
    EXPECT_EQ(test_positives, 6U) << "the group's events of every run";
    EXPECT_EQ(train_groups.size(), 3U);
    EXPECT_EQ(train_runs.size(), 2U);
  }
  EXPECT_EQ(held_groups.size(), 4U);
  EXPECT_EQ(held_runs.size(), 3U) << "the held-out benign run rotates";

  Dataset one_run = d;
  for (auto& s : one_run.samples) {
    if (s.label < 0.5F) s.run = 2;
  }
  EXPECT_FALSE(loso_folds(one_run)) << "no benign run can be held out";
}

TEST(Loso, LogisticRegressionSeparatesAToySetAndHonoursWeights) {
  std::vector<Sample> toy;
  for (int i = 0; i < 5; ++i) toy.push_back(sample(1, {{0, 1.0F}, {kEuidRoot, 0.2F * i}}));
  for (int i = 0; i < 20; ++i) toy.push_back(sample(0, {{1, 1.0F}, {kEuidRoot, 0.05F * i}}));
  const auto m = fit_logistic(toy);
  double lowest_positive = std::numeric_limits<double>::infinity();
  double highest_negative = -lowest_positive;
  for (const auto& s : toy) {
    if (s.label >= 0.5F) {
      lowest_positive = std::min(lowest_positive, m.score(s.x));
    } else {
      highest_negative = std::max(highest_negative, m.score(s.x));
    }
  }
  EXPECT_GT(lowest_positive, 0.0);
  EXPECT_LT(highest_negative, 0.0);
  EXPECT_GT(m.w[0], 0.0F);
  EXPECT_LT(m.w[1], 0.0F);

  // One point of weight 3 is three copies of it.
  std::vector<Sample> copies = toy;
  for (int i = 0; i < 2; ++i) copies.push_back(sample(0, {{0, 1.0F}}));
  copies.push_back(sample(0, {{0, 1.0F}}));
  std::vector<Sample> weighted = toy;
  weighted.push_back(sample(0, {{0, 1.0F}}, 3));
  const auto a = fit_logistic(copies);
  const auto b = fit_logistic(weighted);
  for (std::size_t f = 0; f < kFeatureCount; ++f) EXPECT_NEAR(a.w[f], b.w[f], 1e-5) << f;
  EXPECT_LT(a.w[0], m.w[0]) << "benign copies of the attack vector pull its weight down";
}

TEST(Loso, BudgetThresholdPicksTheLowestCutWithinTheBudget) {
  // Benign scores 10 (5 events), 20 (1), 30 (1); an event alerts above the cut.
  const std::vector<float> scores = {20, 10, 30};
  const std::vector<double> counts = {1, 5, 1};
  EXPECT_EQ(budget_threshold(scores, counts, 0), 30) << "no benign alert: above the top";
  EXPECT_EQ(budget_threshold(scores, counts, 0.5), 30);
  EXPECT_EQ(budget_threshold(scores, counts, 1), 20);
  EXPECT_EQ(budget_threshold(scores, counts, 2), 10);
  EXPECT_EQ(budget_threshold(scores, counts, 6.9), 10) << "the 5 at 10 do not fit";
  EXPECT_EQ(budget_threshold(scores, counts, 7), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(budget_threshold({}, {}, 0), -std::numeric_limits<double>::infinity());
}

TEST(Loso, EvaluationScoresHeldOutGroupsAtTheTrainingThreshold) {
  const auto d = synthetic();
  const auto baseline = agent::baseline_model();
  LosoOptions o;
  o.baseline = baseline.get();
  o.evolve = false;
  o.budget = 0;
  auto rep = evaluate_loso(d, o);
  ASSERT_OK(rep);
  ASSERT_EQ(rep->folds.size(), 4U);
  EXPECT_EQ(rep->benign_runs, 3U);
  EXPECT_EQ(rep->distinct, 6U);
  // Budget 0: the cut is the highest benign training score; every training
  // part holds a benign run with the slot-5 event.
  const double cut = std::max(baseline->score(d.samples.back().x),
                              baseline->score(d.samples[d.samples.size() - 20].x));
  for (std::size_t k = 0; k < rep->folds.size(); ++k) {
    const auto& f = rep->folds[k];
    EXPECT_EQ(f.attack_events, 6);
    EXPECT_EQ(f.attack_points, 1U);
    EXPECT_NEAR(f.train_benign_hours, 120.0 / 3600, 1e-12);
    EXPECT_EQ(f.allowed, 0);
    EXPECT_EQ(f.models[0].threshold, cut) << f.group;
    EXPECT_EQ(f.models[0].heldout_alerts, 0) << f.group;
    const auto slot = indicator_slot(f.group);
    ASSERT_TRUE(slot) << f.group;
    const auto attack = sample(1, {{*slot, 1.0F}, {kEuidRoot, 1.0F}});
    EXPECT_EQ(f.models[0].detected, baseline->score(attack.x) > cut ? 1.0 : 0.0) << f.group;
    const auto& lr = f.models[1];
    EXPECT_GE(lr.detected, 0.0);
    EXPECT_LE(lr.detected, 1.0);
  }
  const auto md = loso_markdown(*rep, o, "vigil-evolve evaluate --loso");
  EXPECT_NE(md.find("| **macro average** |"), std::string::npos) << md;
  EXPECT_NE(md.find(indicator_slots()[3].id), std::string::npos) << md;
}

}  // namespace
}  // namespace vigil::evo
