#include "vigil/scoring.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace vigil {
namespace {

constexpr std::uint32_t kMaxHidden = kMaxHiddenUnits;

float sigmoid(float z) { return 1.0F / (1.0F + std::exp(-z)); }

bool all_finite(const google::protobuf::RepeatedField<float>& v) {
  return std::ranges::all_of(v, [](float f) { return std::isfinite(f); });
}

}  // namespace

Result<std::shared_ptr<const ScoringModel>> ScoringModel::load(const v1::Model& m) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("model '{}': {}", m.version().substr(0, 64), why));
  };
  if (m.version().empty() || m.version().size() > 128) {
    return bad("version must be 1..128 characters");
  }
  if (m.feature_schema_version() != kFeatureSchemaVersion) {
    return bad(fmt::format("feature schema {} but this build computes schema {}",
                           m.feature_schema_version(), kFeatureSchemaVersion));
  }
  if (m.networks_size() != static_cast<int>(kPopulations)) {
    return bad(fmt::format("{} networks, expected {}", m.networks_size(), kPopulations));
  }
  auto model = std::shared_ptr<ScoringModel>(new ScoringModel());
  for (std::size_t p = 0; p < kPopulations; ++p) {
    const auto& n = m.networks(static_cast<int>(p));
    const auto expected = to_string(static_cast<Population>(p));
    if (n.population() != expected) {
      return bad(fmt::format("network {} is '{}', expected '{}'", p, n.population(), expected));
    }
    if (n.inputs() != kFeatureCount || n.hidden() == 0 || n.hidden() > kMaxHidden) {
      return bad(fmt::format("network {}: {} inputs, {} hidden (want {} inputs, 1..{} hidden)",
                             expected, n.inputs(), n.hidden(), kFeatureCount, kMaxHidden));
    }
    if (static_cast<std::uint32_t>(n.w1_size()) != n.hidden() * kFeatureCount ||
        static_cast<std::uint32_t>(n.b1_size()) != n.hidden() ||
        static_cast<std::uint32_t>(n.w2_size()) != n.hidden()) {
      return bad(fmt::format("network {}: weight arrays do not match its shape", expected));
    }
    if (!all_finite(n.w1()) || !all_finite(n.b1()) || !all_finite(n.w2()) ||
        !std::isfinite(n.b2())) {
      return bad(fmt::format("network {}: non-finite weight", expected));
    }
    auto& net = model->nets_[p];
    net.hidden = n.hidden();
    net.w1.assign(n.w1().begin(), n.w1().end());
    net.b1.assign(n.b1().begin(), n.b1().end());
    net.w2.assign(n.w2().begin(), n.w2().end());
    net.b2 = n.b2();
  }
  if (m.combiner().weights_size() != static_cast<int>(kPopulations) ||
      !all_finite(m.combiner().weights()) || !std::isfinite(m.combiner().bias())) {
    return bad("combiner needs one finite weight per network and a finite bias");
  }
  std::ranges::copy(m.combiner().weights(), model->combiner_.begin());
  model->bias_ = m.combiner().bias();
  if (m.has_cap_without_indicators()) {
    if (m.cap_without_indicators() > 100) {
      return bad(fmt::format("cap_without_indicators {} exceeds 100", m.cap_without_indicators()));
    }
    model->cap_without_indicators_ = m.cap_without_indicators();
  }
  if (m.has_focus_bonus()) {
    if (m.focus_bonus() > 100) {
      return bad(fmt::format("focus_bonus {} exceeds 100", m.focus_bonus()));
    }
    model->focus_bonus_ = m.focus_bonus();
  }
  for (const auto& f : m.floors()) {
    auto slot = indicator_slot(f.indicator());
    if (!slot) {
      return bad(fmt::format("floor for unknown indicator '{}'", f.indicator().substr(0, 64)));
    }
    if (f.score() > 100) {
      return bad(fmt::format("floor {} for '{}' exceeds 100", f.score(), f.indicator()));
    }
    model->floors_[*slot] = static_cast<std::uint8_t>(f.score());
  }
  // Monotone in awareness by its weights (what evolution keeps, learn/): tanh
  // and the sigmoid are increasing, so non-negative paths from the awareness
  // inputs and a non-negative combiner mean the calm score is never higher;
  // score() then needs one evaluation.
  model->monotone_ = std::ranges::all_of(model->combiner_, [](float w) { return w >= 0.0F; });
  for (const auto& net : model->nets_) {
    for (std::uint32_t h = 0; h < net.hidden && model->monotone_; ++h) {
      for (const std::size_t f : {static_cast<std::size_t>(kAwarenessLevel),
                                  static_cast<std::size_t>(kInFocus)}) {
        if (net.w1[h * kFeatureCount + f] * net.w2[h] < 0.0F) model->monotone_ = false;
      }
    }
  }
  model->version_ = m.version();
  model->proto_ = m;
  return std::shared_ptr<const ScoringModel>(std::move(model));
}

Result<std::shared_ptr<const ScoringModel>> ScoringModel::load_bytes(std::string_view bytes) {
  v1::Model m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return make_error(ErrorCode::kCorrupt, "model: not a vigil.v1.Model protobuf");
  }
  return load(m);
}

void ScoringModel::population_outputs(const FeatureVector& x,
                                      std::array<float, kPopulations>& y) const {
  // Most features are zero (indicator one-hots): visit only the others.
  std::array<std::uint8_t, kFeatureCount> nz{};
  std::size_t n = 0;
  for (std::size_t i = 0; i < kFeatureCount; ++i) {
    if (x[i] != 0.0F) {
      nz[n++] = static_cast<std::uint8_t>(i);
    }
  }
  for (std::size_t p = 0; p < kPopulations; ++p) {
    const auto& net = nets_[p];
    float out = net.b2;
    const float* w = net.w1.data();
    for (std::uint32_t h = 0; h < net.hidden; ++h, w += kFeatureCount) {
      float z = net.b1[h];
      for (std::size_t k = 0; k < n; ++k) {
        z += w[nz[k]] * x[nz[k]];
      }
      out += net.w2[h] * model_tanh(z);
    }
    y[p] = model_tanh(out);
  }
}

std::uint32_t ScoringModel::score(const FeatureVector& x) const {
  const auto aroused = raw_score(x);
  if (monotone_ || (x[kAwarenessLevel] == 0.0F && x[kInFocus] == 0.0F)) {
    return aroused;
  }
  FeatureVector calm = x;
  calm[kAwarenessLevel] = 0.0F;
  calm[kInFocus] = 0.0F;
  return std::max(aroused, raw_score(calm));
}

std::uint32_t ScoringModel::raw_score(const FeatureVector& x) const {
  std::array<float, kPopulations> y{};
  population_outputs(x, y);
  float z = bias_;
  for (std::size_t p = 0; p < kPopulations; ++p) {
    z += combiner_[p] * y[p];
  }
  auto score = static_cast<std::uint32_t>(std::lround(100.0F * sigmoid(z)));
  bool any_indicator = false;
  for (std::size_t slot = 0; slot < kIndicatorFeatures; ++slot) {
    if (x[slot] != 0.0F) {
      any_indicator = true;
      score = std::max<std::uint32_t>(score, floors_[slot]);
    }
  }
  if (!any_indicator) {
    score = std::min(score, cap_without_indicators_);
  }
  if (x[kInFocus] != 0.0F && score > 0) {
    score += focus_bonus_;
  }
  return std::min<std::uint32_t>(score, 100);
}

v1::Model make_baseline_model(std::span<const IndicatorWeight> indicators, std::string version) {
  v1::Model m;
  m.set_version(std::move(version));
  m.set_feature_schema_version(kFeatureSchemaVersion);
  m.set_created_by("baseline");
  m.set_description(
      "detector-only baseline: floors = indicator severities; one hidden unit per indicator; "
      "cross-population corroboration in the combiner");
  for (std::size_t p = 0; p < kPopulations; ++p) {
    auto* net = m.add_networks();
    net->set_population(std::string(to_string(static_cast<Population>(p))));
    net->set_inputs(kFeatureCount);
    std::vector<std::pair<std::size_t, float>> units;  // (feature slot, severity)
    for (const auto& ind : indicators) {
      auto slot = indicator_slot(ind.id);
      if (slot && indicator_slots()[*slot].population == static_cast<Population>(p)) {
        units.emplace_back(*slot, static_cast<float>(ind.severity) / 100.0F);
      }
    }
    if (units.empty()) {
      units.emplace_back(0, 0.0F);  // a silent unit keeps the shape valid
    }
    net->set_hidden(static_cast<std::uint32_t>(units.size()));
    for (const auto& [slot, sev] : units) {
      for (std::size_t i = 0; i < kFeatureCount; ++i) {
        net->add_w1(i == slot && sev > 0 ? 3.0F : 0.0F);
      }
      net->add_b1(0.0F);
      net->add_w2(sev);
    }
    net->set_b2(0.0F);
    m.mutable_combiner()->add_weights(2.0F);
  }
  m.mutable_combiner()->set_bias(-6.0F);
  m.set_focus_bonus(kDefaultFocusBonus);
  for (const auto& ind : indicators) {
    auto* f = m.add_floors();
    f->set_indicator(std::string(ind.id));
    f->set_score(ind.severity);
  }
  return m;
}

}  // namespace vigil
