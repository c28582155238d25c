// The scoring model: six population networks and a combiner over the feature
// vector (vigil/features.h), plus per-indicator floors. Loaded from the
// protobuf `vigil.v1.Model` after validation; evaluation allocates nothing.
// docs/scoring.md explains the format and the shipped baseline.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/features.h"
#include "vigil/result.h"
#include "vigil/v1/model.pb.h"

namespace vigil {

// tanh as a [7/6] Pade approximant, clamped to +-1 beyond |x| = 4.97 where it
// is within 1e-4 of 1 (absolute error below 1e-4 everywhere). Part of the
// model's definition: every evaluator (agent, collector, evolution) uses it.
inline float model_tanh(float x) {
  if (x > 4.97F) return 1.0F;
  if (x < -4.97F) return -1.0F;
  const float x2 = x * x;
  const float num = x * (135135.0F + x2 * (17325.0F + x2 * (378.0F + x2)));
  const float den = 135135.0F + x2 * (62370.0F + x2 * (3150.0F + x2 * 28.0F));
  return num / den;
}

// Hidden units a model's network may have (ScoringModel::load checks).
inline constexpr std::uint32_t kMaxHiddenUnits = 64;

// The attention-focus bonus of a model that does not set one (v1::Model.focus_bonus).
inline constexpr std::uint32_t kDefaultFocusBonus = 15;

class ScoringModel {
 public:
  // Checks shapes, schema version, population order and finite weights.
  [[nodiscard]] static Result<std::shared_ptr<const ScoringModel>> load(const v1::Model& model);
  [[nodiscard]] static Result<std::shared_ptr<const ScoringModel>> load_bytes(
      std::string_view bytes);

  // 0..100, what the agent alerts on: raw_score(x), and never less than
  // raw_score of the same evidence on a calm host (awareness level 0, not in
  // the attention focus). Awareness may raise a score, never lower it, by
  // construction, whatever the model's weights (docs/scoring.md).
  [[nodiscard]] std::uint32_t score(const FeatureVector& x) const;
  // The model's own function: the combiner's score, raised to the floors of
  // the indicators set in `x`, capped without any, plus the focus bonus when
  // `x` is in the attention focus. evo::check_awareness_monotone judges it.
  [[nodiscard]] std::uint32_t raw_score(const FeatureVector& x) const;
  // Whether the weights alone make the model monotone in awareness (every
  // path from awareness_level and in_focus non-negative, combiner weights
  // non-negative): then score() costs one evaluation, not two.
  [[nodiscard]] bool monotone_by_weights() const { return monotone_; }
  // The population outputs in (-1, 1), for explanations and tests.
  void population_outputs(const FeatureVector& x, std::array<float, kPopulations>& y) const;

  [[nodiscard]] const std::string& version() const { return version_; }
  [[nodiscard]] const v1::Model& proto() const { return proto_; }

 private:
  struct Net {
    std::uint32_t hidden = 0;
    std::vector<float> w1;  // hidden x kFeatureCount
    std::vector<float> b1;
    std::vector<float> w2;
    float b2 = 0;
  };
  std::array<Net, kPopulations> nets_;
  std::array<float, kPopulations> combiner_{};
  float bias_ = 0;
  std::array<std::uint8_t, kIndicatorFeatures> floors_{};
  std::uint32_t cap_without_indicators_ = 100;
  std::uint32_t focus_bonus_ = kDefaultFocusBonus;
  bool monotone_ = false;  // monotone in awareness by its weights: score() == raw_score()
  std::string version_;
  v1::Model proto_;
};

struct IndicatorWeight {
  std::string_view id;
  std::uint8_t severity;  // 0..100
};

// The detector-only baseline: each indicator's floor is its severity; each
// population network has one hidden unit per indicator of its population
// (weight 3 from the indicator's feature, output weight severity/100), and the
// combiner adds corroboration across populations (bias -6, weight 2 each). With
// one or two indicators the floors decide (score = highest severity); the
// networks lift the score only when most populations fire together. Evolution
// (issue 6) replaces these weights with learned ones in the same format.
[[nodiscard]] v1::Model make_baseline_model(std::span<const IndicatorWeight> indicators,
                                            std::string version);

}  // namespace vigil
