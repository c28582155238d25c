// Leave-one-scenario-out evaluation (docs/learning.md, "Leave-one-scenario-out
// evaluation"). A per-sample split puts exact twins of held-out attacks in
// training (the shipped dataset has 115 distinct vectors in 37,160 samples), so
// it cannot tell a model that generalises from a lookup table. Here every
// attack group (a technique or scenario) is held out in turn, with one benign
// recording run: the models are trained on the other groups and the other
// benign runs, an alert threshold is chosen on that training part for a
// false-alert budget per host-hour, and the held-out attacks are scored at it.
// Compared: the detector-only baseline, a plain logistic regression on the same
// features, and the evolved model.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/evolution.h"

namespace vigil::evo {

// What the evaluation needs to know of an indicator (agent::all_indicators()).
struct IndicatorInfo {
  std::string_view id;
  std::string_view attack;  // MITRE ATT&CK technique id
  std::uint32_t severity = 0;
};

// Gives every sample without a group (format-1 files) the one its recorder
// would have written: an attack's group is its strongest indicator with a
// feature slot (the technique it exercises; the lowest slot on ties),
// "no-indicator" when none fired; a benign sample's is "benign". Returns how
// many samples it named.
std::size_t fill_groups(Dataset& d, std::span<const IndicatorInfo> indicators);

// One fold: attack group `group` and benign run `benign_run` held out.
struct LosoFold {
  std::uint32_t group = 0;           // Dataset::groups index
  std::uint32_t benign_run = 0;      // Dataset::runs index
  std::vector<std::uint32_t> train;  // sample indices
  std::vector<std::uint32_t> test;
};

// One fold per attack group (a group with a positive; in order of name):
// test = the group's positives and the negatives of one benign run (a run
// with a negative), rotating through the benign runs; train = the positives of
// every other group and the negatives of every other run. Fails with fewer
// than two attack groups or two benign runs.
[[nodiscard]] Result<std::vector<LosoFold>> loso_folds(const Dataset& d);

// Plain logistic regression on the feature vector: weighted log-loss with the
// classes balanced (each class's weights sum to one half), L2, full-batch
// gradient descent from zero (deterministic).
struct LogisticOptions {
  double l2 = 1e-3;
  std::size_t iterations = 500;
  double rate = 0.5;
};
struct Logistic {
  FeatureVector w{};
  double bias = 0;
  // The logit (monotone in the probability, without float saturation).
  [[nodiscard]] double score(const FeatureVector& x) const;
};
[[nodiscard]] Logistic fit_logistic(std::span<const Sample> samples,
                                    const LogisticOptions& options = {});

// The alert threshold for a false-alert budget: an event alerts when its
// score is above the threshold; the threshold is the lowest benign score (or
// -infinity) at which the benign events scoring above it number at most
// `allowed` (counts[i] events score scores[i]).
[[nodiscard]] double budget_threshold(std::span<const float> scores, std::span<const double> counts,
                                      double allowed);

// The last is the evolved model as the agent applies it: an event scores at
// least the severity of every indicator on it (docs/scoring.md, "Floors in the
// agent"; here the slotted indicators, all the feature vector shows).
inline constexpr std::size_t kLosoModels = 4;
inline constexpr std::array<std::string_view, kLosoModels> kLosoModelNames = {
    "detector-only baseline", "logistic regression", "evolved", "evolved, agent floors"};

struct LosoOptions {
  double budget = 1;  // false alerts per host-hour
  // The duration of a benign run whose recorder did not write one (format-1
  // files, docs/learning.md says how it was estimated).
  double unknown_run_seconds = 75;
  const ScoringModel* baseline = nullptr;  // required
  LogisticOptions logistic;
  // The evolved model: trained by train() on each fold's training part (its
  // holdout is set to 0). evolve false: baseline and logistic only.
  TrainOptions evolution;
  bool evolve = true;
  // Each group's ATT&CK technique; the severities of the agent's floors.
  std::vector<IndicatorInfo> indicators;
};

struct LosoModelResult {
  double threshold = 0;
  double detected = 0;        // share of the held-out attack events above the threshold
  double detected_calm = 0;   // the same with each scored as on a calm host
  double heldout_alerts = 0;  // held-out benign events above the threshold
};

struct LosoFoldResult {
  std::string group;
  std::string technique;  // ATT&CK id of the group's indicator, "" if not an indicator
  std::string benign_run;
  double attack_events = 0;
  std::size_t attack_points = 0;  // distinct vectors among them
  double train_benign_hours = 0;
  double heldout_hours = 0;
  double allowed = 0;  // budget x training benign hours
  std::array<LosoModelResult, kLosoModels> models{};
};

struct LosoReport {
  std::vector<LosoFoldResult> folds;
  std::size_t samples = 0;
  std::size_t distinct = 0;
  std::size_t benign_runs = 0;
  double benign_hours = 0;
  std::size_t unknown_duration_runs = 0;  // benign runs timed by unknown_run_seconds
  bool evolved = false;
  std::array<double, kLosoModels> seconds{};  // training + scoring, all folds
  double total_seconds = 0;
};

[[nodiscard]] Result<LosoReport> evaluate_loso(
    const Dataset& data, const LosoOptions& options,
    const std::function<void(const LosoFoldResult&)>& progress = {});

// The per-group table, the summary per model and how they were made.
[[nodiscard]] std::string loso_markdown(const LosoReport& report, const LosoOptions& options,
                                        std::string_view command);

}  // namespace vigil::evo
