// Neural Darwinism: six populations of small networks evolved by selection on
// labelled feature vectors, and the model built from their champions.
// docs/learning.md explains the method; the pieces:
//  - Dataset (vigil/dataset.h, in common/: the agent records with it).
//  - Metrics: weighted AUC and TPR at a fixed FPR.
//  - Evolution: per population, genomes inputs -> H (tanh) -> 1 (tanh);
//    self-adaptive Gaussian mutation, unit-wise crossover, add/remove-unit
//    structural variation, tournament selection with elitism, fitness sharing
//    on behaviour for diversity. Parallel on a worker pool and deterministic
//    for a seed whatever the number of workers.
//  - fit_combiner + build_model: the six champions, a logistic combiner fitted
//    on the same data, floors for critical indicators -> vigil.v1.Model.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/dataset.h"
#include "vigil/features.h"
#include "vigil/result.h"
#include "vigil/scoring.h"

namespace vigil::evo {

// Weighted area under the ROC curve (ties count half); 0.5 when a class is empty.
[[nodiscard]] double auc(std::span<const float> scores, std::span<const Sample> samples);
// Weighted true-positive rate at the highest threshold whose false-positive
// rate does not exceed `fpr`.
[[nodiscard]] double tpr_at_fpr(std::span<const float> scores, std::span<const Sample> samples,
                                double fpr);

struct EvolutionConfig {
  std::size_t population_size = 100;
  std::uint32_t initial_hidden = 4;
  std::uint32_t max_hidden = 16;
  std::size_t generations = 80;
  std::size_t workers = 4;
  std::uint64_t seed = 1;
  std::size_t tournament = 3;
  std::size_t elites = 2;
  double crossover_rate = 0.3;
  double structural_rate = 0.05;       // add or remove one hidden unit
  double complexity_penalty = 0.0005;  // fitness per hidden unit
  double weight_penalty = 0.00005;     // fitness per unit of mean |weight|
  double share_radius = 0.02;          // behaviour distance of one niche
  double target_fpr = 0.01;
  // Reentry (cooperative coevolution): each genome's fitness also counts how
  // well the model's score ranks the training events with an indicator when
  // this genome joins the other populations' current champions (their outputs
  // summed), weighted by this. A population's own examples say nothing about
  // its outputs on other populations' attacks, and the model adds all six:
  // without this term champions that are perfect on their own examples can
  // still add up to a benign event above an attack. 0: specialisation alone.
  // docs/learning.md has the measurements behind the default.
  double reentry = 2.0;
  // Genomes seeded from a prior model (seed()): the prior itself plus
  // prior_copies - 1 mutated copies, all with mutation step prior_sigma, so the
  // prior's descendants explore near it.
  std::size_t prior_copies = 1;
  float prior_sigma = 0.3F;
};

struct Genome {
  std::uint32_t hidden = 0;
  std::vector<float> w1;  // hidden x kFeatureCount, row-major
  std::vector<float> b1;
  std::vector<float> w2;
  float b2 = 0;
  float sigma = 0.3F;  // self-adaptive mutation step
  double fitness = 0;  // AUC/TPR blend minus complexity (selection uses the shared value)
  double auc = 0.5;
  double tpr = 0;
};

// Output of one genome over many samples, vectorised (Eigen): fills `out`.
void evaluate(const Genome& g, std::span<const Sample> samples, std::span<float> out);

struct GenerationStats {
  std::size_t generation = 0;
  std::array<double, kPopulations> best{};
  std::array<double, kPopulations> mean{};
  std::array<double, kPopulations> best_auc{};
  std::array<double, kPopulations> diversity{};  // mean behaviour distance to the champion
};

class Evolution {
 public:
  // `train` must outlive the Evolution.
  Evolution(EvolutionConfig config, const Dataset& train);
  ~Evolution();
  Evolution(const Evolution&) = delete;
  Evolution& operator=(const Evolution&) = delete;

  // Replaces the last genome of each population with the given one (e.g. the
  // networks of the model in service), and the prior_copies - 1 before it with
  // mutated copies of it, and re-evaluates: selection keeps them only while
  // they are good.
  void seed(std::array<Genome, kPopulations> genomes);
  // Runs one generation of all six populations.
  GenerationStats step();
  // Runs the configured number of generations, reporting each.
  void run(const std::function<void(const GenerationStats&)>& progress = {});

  [[nodiscard]] const Genome& champion(std::size_t population) const;
  [[nodiscard]] std::span<const Genome> population(std::size_t p) const;
  [[nodiscard]] std::size_t generation() const { return generation_; }
  [[nodiscard]] const EvolutionConfig& config() const { return config_; }
  // Which samples specialise population p (its positives and all negatives).
  [[nodiscard]] std::span<const std::uint32_t> examples(std::size_t p) const;

 private:
  struct Impl;
  void evaluate_all();
  void breed();

  EvolutionConfig config_;
  const Dataset& train_;
  std::size_t generation_ = 0;
  std::array<std::vector<Genome>, kPopulations> pops_;
  std::array<std::vector<std::uint32_t>, kPopulations> examples_;
  std::array<std::vector<Sample>, kPopulations> subsets_;
  std::unique_ptr<Impl> impl_;
};

struct Combiner {
  std::array<float, kPopulations> weights{};
  float bias = 0;
};
// Logistic regression of the label on the six champions' outputs (weighted
// log-loss, L2, fixed full-batch gradient steps: deterministic).
[[nodiscard]] Combiner fit_combiner(const std::array<const Genome*, kPopulations>& champions,
                                    std::span<const Sample> samples);

// Evolved models cap the score of events without any indicator here: the
// networks rank what the detectors flagged, context alone cannot alert.
inline constexpr std::uint32_t kCapWithoutIndicators = 19;
// The score at which the agent raises an alert.
inline constexpr std::uint32_t kAlertScore = 50;

struct FloorSpec {
  std::string_view indicator;
  std::uint32_t score;
};
// The six champions + combiner + floors as a vigil.v1.Model.
[[nodiscard]] v1::Model build_model(const std::array<const Genome*, kPopulations>& champions,
                                    const Combiner& combiner, std::span<const FloorSpec> floors,
                                    std::string version, std::string created_by,
                                    std::string description);

// A model's network for population p as a genome (to seed evolution with it).
[[nodiscard]] Genome genome_of(const ScoringModel& model, std::size_t population);

// Scores of `model` over samples (0..100 each, as the agent computes them).
[[nodiscard]] std::vector<float> score_all(const ScoringModel& model,
                                           std::span<const Sample> samples);

struct ModelEval {
  double auc = 0.5;
  double tpr = 0;  // at EvolutionConfig::target_fpr
  // The same on the samples where at least one indicator fired: the cases that
  // decide alerts (routine events without indicators are easy for every model).
  double auc_indicators = 0.5;
  double tpr_indicators = 0;
  // At the alert threshold (score >= kAlertScore): the weighted share of the
  // benign events that would alert and of the malicious ones that would not.
  double false_alerts = 0;
  double missed = 0;
};

// How a candidate must compare with an incumbent on the same held-out data to
// replace it (vigil-evolve --keep-best and the collector apply the same rule).
// The decision is made on the events where an indicator fired (they decide
// alerts; on all events every model is near perfect, so there is no headroom
// there): AUC + TPR there must gain at least min_gain, while AUC + TPR on all
// events must not lose more than all_events_tolerance; and at the alert
// threshold neither the false alerts nor the missed attacks may rise.
// A candidate that ranks as well as the incumbent where an indicator fired
// (no loss at all) is also accepted when it cuts the false alerts at the
// alert threshold by at least min_false_alert_cut of the incumbent's: a false
// alert the incumbent ranks below every attack but still above the threshold
// (an analyst's recurring benign label) is no ranking error, so only this
// clause can see its repair.
struct AcceptanceRule {
  double min_gain = 0.001;
  double all_events_tolerance = 0.002;
  double min_false_alert_cut = 0.1;
};
struct Verdict {
  bool accepted = false;
  std::string reason;  // the numbers, for logs and reports
};
[[nodiscard]] Verdict accepts(const ModelEval& candidate, const ModelEval& incumbent,
                              const AcceptanceRule& rule = {});

// Awareness may raise a score, never lower it: refuses `model` when any
// recorded attack (a positive of `samples`) scores lower at a higher awareness
// level or in the attention focus than on a calm host (level 0, not in
// focus). Every level 1..3 is tried with focus off and on. Reported by
// train() and `vigil-evolve inspect`; not yet enforced: the shipped model
// fails it (docs/learning.md, "Awareness and the shipped model").
[[nodiscard]] Verdict check_awareness_monotone(const ScoringModel& model,
                                               std::span<const Sample> samples);

struct TrainOptions {
  EvolutionConfig evolution;
  double holdout = 0.3;  // share of each class kept out of training
  // Seed of the held-out split (Dataset::split); unset: evolution.seed. The
  // collector keeps the shipped model's split (seed 1) so that the model in
  // service is never judged on samples it was trained on while the candidate
  // is (docs/learning.md, "Fleet learning data").
  std::optional<std::uint64_t> split_seed;
  // Model selection (early stopping): with inner_folds >= 2 the number of
  // generations is chosen by an inner k-fold validation on the training part
  // only (the held-out part is never looked at): each fold evolves on the
  // other folds for up to evolution.generations generations, the champions +
  // fitted combiner of every generation are scored on the fold, and the
  // generation count with the best mean score (AUC + TPR with an indicator
  // plus AUC + TPR on all events) is then run on the whole training part.
  // 0 or 1: run evolution.generations and keep the last generation.
  std::size_t inner_folds = 0;
  // Independent evolutions (different seeds) run side by side; each
  // population's network in the model joins their champions unit by unit, its
  // output the tanh of the mean of their pre-activations (an ensemble the
  // model format holds exactly). 1: a single evolution.
  std::size_t ensemble = 1;
  std::string version;
  std::string created_by;
  std::vector<FloorSpec> floors;
  // Every indicator without a higher floor in `floors` gets this one: one
  // above the score cap of events without any indicator, so an event on which
  // a detector fired never ranks below one on which none did (0: no such floor).
  std::uint32_t indicator_floor = kCapWithoutIndicators + 1;
  // The detectors' severity per indicator (agent::all_indicators()). An
  // indicator that fired on no training positive keeps its severity as a
  // floor: the data holds no attack of that kind, at most benign ones, so the
  // model must not rank it below what the detector alone says. Empty: no such
  // floors.
  std::vector<FloorSpec> severities;
  // Every positive recorded while the host was aroused (awareness level above
  // calm, or the process in the attention focus) also counts as it would on
  // a calm host, in training and on the held-out part: the recorded attacks
  // come in bursts, so after the first one the host is alert and the attacker
  // in focus, but the first attack on a real host meets a calm one. Without
  // this a model learns "attacks happen on alert hosts" from the recording.
  bool calm_copies = true;
  const ScoringModel* baseline = nullptr;     // compared against, if given
  const ScoringModel* current = nullptr;      // the model in service, if any
  const std::atomic<bool>* cancel = nullptr;  // set: stop after the current generation
};

// TrainOptions::calm_copies: appends a calm copy (awareness level 0, not in
// focus) of every positive recorded on an aroused host; returns how many.
std::size_t add_calm_copies(Dataset& d);

struct TrainReport {
  std::size_t train_samples = 0;
  std::size_t train_positives = 0;
  std::size_t test_samples = 0;
  std::size_t test_positives = 0;
  std::size_t test_with_indicators = 0;  // held-out samples with an indicator
  std::size_t test_negatives_with_indicators = 0;
  // Indicators that fired on no training positive (kept at their severity,
  // TrainOptions::severities).
  std::vector<std::string> unproven;
  std::size_t calm_copies_train = 0;  // TrainOptions::calm_copies added
  std::size_t calm_copies_test = 0;
  ModelEval initial;   // generation-0 champions + fitted combiner
  ModelEval baseline;  // the detector-only baseline
  ModelEval current;   // the model in service
  ModelEval evolved;
  // check_awareness_monotone of the evolved model on every positive of the
  // data (training and held-out); reported, not yet enforced.
  Verdict awareness;
  std::array<double, kPopulations> population_auc_initial{};
  std::array<double, kPopulations> population_auc_evolved{};
  // First generation whose champion fitness came within 0.005 of the final one.
  std::array<std::size_t, kPopulations> converged_at{};
  std::vector<GenerationStats> history;
  // Model selection (TrainOptions::inner_folds >= 2): the mean inner-validation
  // score of generations 0..evolution.generations, and the count chosen.
  std::vector<double> inner_validation;
  std::size_t generations_run = 0;
  double seconds = 0;
};

struct TrainResult {
  v1::Model model;
  TrainReport report;
};

// Splits, evolves, fits the combiner and evaluates everything on the held-out
// part. Deterministic for a dataset and options (worker count included).
[[nodiscard]] Result<TrainResult> train(
    const Dataset& data, const TrainOptions& options,
    const std::function<void(const GenerationStats&)>& progress = {});

// docs/learning.md's body: the comparison table, per population, convergence.
[[nodiscard]] std::string report_markdown(const TrainReport& report, const TrainOptions& options,
                                          std::string_view command);

}  // namespace vigil::evo
