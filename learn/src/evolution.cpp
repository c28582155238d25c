#include "vigil/evolution.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <thread>

namespace vigil::evo {
namespace {

constexpr std::size_t kProbe = 64;  // samples whose outputs describe a genome's behaviour

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A small deterministic generator: the same numbers on every machine with the
// same libm, whatever the standard library's distributions do.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(splitmix(seed)) {}
  std::uint64_t next() { return state_ = splitmix(state_); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(uniform() * n) % n; }
  float normal() {
    const double u1 = std::max(uniform(), 1e-300);
    const double u2 = uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
  }

 private:
  std::uint64_t state_;
};

std::uint64_t seed_for(std::uint64_t seed, std::size_t gen, std::size_t pop, std::size_t idx) {
  return splitmix(splitmix(splitmix(seed) ^ gen) ^ (pop << 20)) ^ idx;
}

// Runs fn(i) for i in [0, n) on `workers` threads; each i is independent.
template <typename Fn>
void parallel_for(std::size_t n, std::size_t workers, Fn&& fn) {
  workers = std::max<std::size_t>(1, std::min(workers, n));
  if (workers == 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < n; i = next++) fn(i);
    });
  }
  for (auto& t : threads) t.join();
}

RowMatrix matrix_of(std::span<const Sample> samples) {
  RowMatrix x(static_cast<Eigen::Index>(samples.size()), static_cast<Eigen::Index>(kFeatureCount));
  for (std::size_t i = 0; i < samples.size(); ++i) {
    for (std::size_t f = 0; f < kFeatureCount; ++f) {
      x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(f)) = samples[i].x[f];
    }
  }
  return x;
}

void evaluate_matrix(const Genome& g, const RowMatrix& x, std::span<float> out) {
  const auto h = static_cast<Eigen::Index>(g.hidden);
  Eigen::Map<const RowMatrix> w1(g.w1.data(), h, static_cast<Eigen::Index>(kFeatureCount));
  Eigen::Map<const Eigen::VectorXf> b1(g.b1.data(), h);
  Eigen::Map<const Eigen::VectorXf> w2(g.w2.data(), h);
  RowMatrix z = x * w1.transpose();
  z.rowwise() += b1.transpose();
  z = z.unaryExpr([](float v) { return model_tanh(v); });
  Eigen::VectorXf y = z * w2;
  for (Eigen::Index i = 0; i < y.size(); ++i) {
    out[static_cast<std::size_t>(i)] = model_tanh(y(i) + g.b2);
  }
}

// Indices of `samples` sorted by score, ascending.
std::vector<std::uint32_t> order_by(std::span<const float> scores) {
  std::vector<std::uint32_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0U);
  std::stable_sort(idx.begin(), idx.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return scores[a] < scores[b]; });
  return idx;
}

bool has_indicator(const Sample& s) {
  return std::any_of(s.x.begin(), s.x.begin() + kIndicatorFeatures,
                     [](float v) { return v != 0.0F; });
}

// A population learns from its own positives (an indicator of its population
// fired) and every negative; positives without any indicator teach every
// population.
bool specialises(const Sample& s, std::size_t p) {
  if (s.label < 0.5F) {
    return true;
  }
  const auto slots = indicator_slots();
  std::uint32_t mask = 0;
  for (std::size_t k = 0; k < slots.size(); ++k) {
    if (s.x[k] != 0.0F) mask |= 1U << static_cast<unsigned>(slots[k].population);
  }
  return mask == 0 || (mask & (1U << p)) != 0;
}

Genome random_genome(std::uint32_t hidden, Rng& rng) {
  Genome g;
  g.hidden = hidden;
  g.w1.resize(static_cast<std::size_t>(hidden) * kFeatureCount);
  for (auto& w : g.w1) w = 0.5F * rng.normal();
  g.b1.resize(hidden);
  for (auto& b : g.b1) b = 0.1F * rng.normal();
  g.w2.resize(hidden);
  for (auto& w : g.w2) w = 0.5F * rng.normal();
  g.b2 = 0.1F * rng.normal();
  return g;
}

void copy_unit(const Genome& from, std::size_t u, Genome& to) {
  to.w1.insert(to.w1.end(), from.w1.begin() + static_cast<std::ptrdiff_t>(u * kFeatureCount),
               from.w1.begin() + static_cast<std::ptrdiff_t>((u + 1) * kFeatureCount));
  to.b1.push_back(from.b1[u]);
  to.w2.push_back(from.w2[u]);
  ++to.hidden;
}

// Awareness may raise a score, never lower it (docs/learning.md, "Awareness
// may only raise"): a network's output must not decrease in the awareness
// inputs. tanh is increasing, so it suffices that every hidden unit's path
// from such an input to the output is non-negative (w1 * w2 >= 0); with
// non-negative combiner weights (fit_combiner) the whole model is then
// monotone. A unit whose path is negative loses that input weight.
void make_monotone(Genome& g) {
  for (std::size_t u = 0; u < g.hidden; ++u) {
    for (const std::size_t f :
         {static_cast<std::size_t>(kAwarenessLevel), static_cast<std::size_t>(kInFocus)}) {
      float& w = g.w1[u * kFeatureCount + f];
      if (w * g.w2[u] < 0.0F) w = 0.0F;
    }
  }
}

// Self-adaptive Gaussian mutation: the step size evolves with the weights.
// Non-zero input weights always mutate, zero ones rarely (sparse stays sparse).
void mutate(Genome& g, Rng& rng) {
  g.sigma = std::clamp(g.sigma * std::exp(0.2F * rng.normal()), 0.005F, 1.0F);
  for (auto& w : g.w1) {
    if (w != 0.0F || rng.uniform() < 0.2) w += g.sigma * rng.normal();
  }
  for (auto& w : g.b1) w += g.sigma * rng.normal();
  for (auto& w : g.w2) w += g.sigma * rng.normal();
  g.b2 += g.sigma * rng.normal();
}

double mean_abs_weight(const Genome& g) {
  double s = 0;
  for (float w : g.w1) s += std::abs(w);
  for (float w : g.w2) s += std::abs(w);
  return s / static_cast<double>(g.w1.size() + g.w2.size());
}

}  // namespace

// ------------------------------------------------------------------ metrics

double auc(std::span<const float> scores, std::span<const Sample> samples) {
  const auto idx = order_by(scores);
  double pos = 0;
  double neg = 0;
  double neg_below = 0;
  double area = 0;
  for (std::size_t i = 0; i < idx.size();) {
    double gp = 0;
    double gn = 0;
    std::size_t j = i;
    for (; j < idx.size() && scores[idx[j]] == scores[idx[i]]; ++j) {
      const auto& s = samples[idx[j]];
      (s.label >= 0.5F ? gp : gn) += s.weight;
    }
    area += gp * (neg_below + 0.5 * gn);
    neg_below += gn;
    pos += gp;
    neg += gn;
    i = j;
  }
  return pos == 0 || neg == 0 ? 0.5 : area / (pos * neg);
}

double tpr_at_fpr(std::span<const float> scores, std::span<const Sample> samples, double fpr) {
  const auto idx = order_by(scores);
  double pos = 0;
  double neg = 0;
  for (const auto& s : samples) (s.label >= 0.5F ? pos : neg) += s.weight;
  if (pos == 0 || neg == 0) {
    return 0;
  }
  double tp = 0;
  double fp = 0;
  // From the highest score down, whole groups of ties at a time.
  for (std::size_t i = idx.size(); i > 0;) {
    double gp = 0;
    double gn = 0;
    std::size_t j = i;
    for (; j > 0 && scores[idx[j - 1]] == scores[idx[i - 1]]; --j) {
      const auto& s = samples[idx[j - 1]];
      (s.label >= 0.5F ? gp : gn) += s.weight;
    }
    if ((fp + gn) / neg > fpr) {
      break;
    }
    tp += gp;
    fp += gn;
    i = j;
  }
  return tp / pos;
}

void evaluate(const Genome& g, std::span<const Sample> samples, std::span<float> out) {
  evaluate_matrix(g, matrix_of(samples), out);
}

// ---------------------------------------------------------------- evolution

struct Evolution::Impl {
  std::array<RowMatrix, kPopulations> x;  // each population's examples
  // Reentry: the training events with an indicator, every genome's outputs on
  // them, and per population the outputs of its champion of the last
  // evaluation (the context the other populations are scored in).
  std::vector<Sample> hard;
  RowMatrix hard_x;
  std::array<std::vector<std::vector<float>>, kPopulations> hard_out;
  std::array<std::vector<float>, kPopulations> context;
  std::array<std::vector<std::uint32_t>, kPopulations> probe;  // behaviour sample rows
  // Behaviour of every genome on its probe rows, per population.
  std::array<std::vector<std::vector<float>>, kPopulations> behaviour;
  std::array<std::vector<double>, kPopulations> shared;
};

Evolution::Evolution(EvolutionConfig config, const Dataset& train)
    : config_(config), train_(train), impl_(std::make_unique<Impl>()) {
  config_.population_size = std::max<std::size_t>(config_.population_size, 4);
  config_.elites = std::min(config_.elites, config_.population_size - 1);
  config_.max_hidden = std::clamp<std::uint32_t>(config_.max_hidden, 1, 64);
  config_.initial_hidden = std::clamp<std::uint32_t>(config_.initial_hidden, 1, config_.max_hidden);
  for (std::uint32_t i = 0; i < train_.samples.size(); ++i) {
    for (std::size_t p = 0; p < kPopulations; ++p) {
      if (specialises(train_.samples[i], p)) examples_[p].push_back(i);
    }
  }
  for (std::size_t p = 0; p < kPopulations; ++p) {
    for (auto i : examples_[p]) subsets_[p].push_back(train_.samples[i]);
    impl_->x[p] = matrix_of(subsets_[p]);
    const std::size_t n = subsets_[p].size();
    for (std::size_t k = 0; k < std::min(n, kProbe); ++k) {
      impl_->probe[p].push_back(static_cast<std::uint32_t>(k * n / std::min(n, kProbe)));
    }
    if (p == 0 && config_.reentry > 0) {
      for (const auto& s : train_.samples) {
        if (has_indicator(s)) impl_->hard.push_back(s);
      }
      impl_->hard_x = matrix_of(impl_->hard);
    }
    pops_[p].resize(config_.population_size);
    for (std::size_t i = 0; i < config_.population_size; ++i) {
      Rng rng(seed_for(config_.seed, 0, p, i));
      pops_[p][i] = random_genome(config_.initial_hidden, rng);
      pops_[p][i].sigma = 0.3F;
      make_monotone(pops_[p][i]);
    }
  }
  evaluate_all();
}

Evolution::~Evolution() = default;

void Evolution::seed(std::array<Genome, kPopulations> genomes) {
  const std::size_t n = config_.population_size;
  const std::size_t copies = std::clamp<std::size_t>(config_.prior_copies, 1, n);
  for (std::size_t p = 0; p < kPopulations; ++p) {
    auto& g = genomes[p];
    g.hidden = std::min(g.hidden, config_.max_hidden);
    g.w1.resize(static_cast<std::size_t>(g.hidden) * kFeatureCount);
    g.b1.resize(g.hidden);
    g.w2.resize(g.hidden);
    g.sigma = std::clamp(config_.prior_sigma, 0.005F, 1.0F);
    make_monotone(g);  // a prior that read arousal as innocence stops doing so
    for (std::size_t c = 1; c < copies; ++c) {
      Genome m = g;
      Rng rng(seed_for(config_.seed, 0, p, n + c));  // indices >= n: not used by generation 0
      mutate(m, rng);
      make_monotone(m);
      pops_[p][n - 1 - c] = std::move(m);
    }
    pops_[p].back() = std::move(g);
  }
  evaluate_all();  // once for all six
}

Genome genome_of(const ScoringModel& model, std::size_t population) {
  const auto& n = model.proto().networks(static_cast<int>(population));
  Genome g;
  g.hidden = n.hidden();
  g.w1.assign(n.w1().begin(), n.w1().end());
  g.b1.assign(n.b1().begin(), n.b1().end());
  g.w2.assign(n.w2().begin(), n.w2().end());
  g.b2 = n.b2();
  return g;
}

void Evolution::evaluate_all() {
  const std::size_t n = config_.population_size;
  for (std::size_t p = 0; p < kPopulations; ++p) {
    impl_->behaviour[p].assign(n, {});
    impl_->shared[p].assign(n, 0);
    impl_->hard_out[p].resize(n);
  }
  parallel_for(kPopulations * n, config_.workers, [&](std::size_t t) {
    const std::size_t p = t / n;
    const std::size_t i = t % n;
    auto& g = pops_[p][i];
    std::vector<float> out(subsets_[p].size());
    evaluate_matrix(g, impl_->x[p], out);
    g.auc = auc(out, subsets_[p]);
    g.tpr = tpr_at_fpr(out, subsets_[p], config_.target_fpr);
    g.fitness = 0.5 * g.auc + 0.5 * g.tpr -
                config_.complexity_penalty * static_cast<double>(g.hidden) -
                config_.weight_penalty * mean_abs_weight(g);
    auto& b = impl_->behaviour[p][i];
    for (auto row : impl_->probe[p]) b.push_back(out[row]);
    if (!impl_->hard.empty()) {
      auto& h = impl_->hard_out[p][i];
      h.resize(impl_->hard.size());
      evaluate_matrix(g, impl_->hard_x, h);
    }
  });
  if (!impl_->hard.empty()) {
    // The first evaluation has no champions yet: those of specialisation alone.
    for (std::size_t p = 0; p < kPopulations; ++p) {
      if (impl_->context[p].empty()) {
        impl_->context[p] = impl_->hard_out[p][static_cast<std::size_t>(
            std::ranges::max_element(pops_[p], {}, &Genome::fitness) - pops_[p].begin())];
      }
    }
    parallel_for(kPopulations * n, config_.workers, [&](std::size_t t) {
      const std::size_t p = t / n;
      const std::size_t i = t % n;
      std::vector<float> score(impl_->hard.size());
      for (std::size_t k = 0; k < score.size(); ++k) {
        float z = impl_->hard_out[p][i][k];
        for (std::size_t q = 0; q < kPopulations; ++q) {
          if (q != p) z += impl_->context[q][k];
        }
        score[k] = z;
      }
      pops_[p][i].fitness +=
          config_.reentry * (0.5 * auc(score, impl_->hard) +
                             0.5 * tpr_at_fpr(score, impl_->hard, config_.target_fpr));
    });
    for (std::size_t p = 0; p < kPopulations; ++p) {
      impl_->context[p] =
          impl_->hard_out[p][static_cast<std::size_t>(&champion(p) - pops_[p].data())];
    }
  }
  // Fitness sharing: genomes that behave alike split their fitness, so one
  // solution does not take over the whole population.
  parallel_for(kPopulations * n, config_.workers, [&](std::size_t t) {
    const std::size_t p = t / n;
    const std::size_t i = t % n;
    const auto& bi = impl_->behaviour[p][i];
    double niche = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const auto& bj = impl_->behaviour[p][j];
      double d = 0;
      for (std::size_t k = 0; k < bi.size(); ++k) d += std::abs(bi[k] - bj[k]);
      d /= std::max<std::size_t>(1, bi.size());
      niche += std::max(0.0, 1.0 - d / config_.share_radius);
    }
    impl_->shared[p][i] = pops_[p][i].fitness / std::max(1.0, niche);
  });
}

void Evolution::breed() {
  const std::size_t n = config_.population_size;
  std::array<std::vector<Genome>, kPopulations> next;
  std::array<std::vector<std::uint32_t>, kPopulations> ranked;
  for (std::size_t p = 0; p < kPopulations; ++p) {
    next[p].resize(n);
    ranked[p].resize(n);
    std::iota(ranked[p].begin(), ranked[p].end(), 0U);
    std::stable_sort(ranked[p].begin(), ranked[p].end(), [&](std::uint32_t a, std::uint32_t b) {
      return pops_[p][a].fitness > pops_[p][b].fitness;
    });
  }
  parallel_for(kPopulations * n, config_.workers, [&](std::size_t t) {
    const std::size_t p = t / n;
    const std::size_t k = t % n;
    if (k < config_.elites) {
      next[p][k] = pops_[p][ranked[p][k]];  // elitism: the best survive unchanged
      return;
    }
    Rng rng(seed_for(config_.seed, generation_ + 1, p, k));
    auto tournament = [&] {
      std::size_t best = rng.below(n);
      for (std::size_t r = 1; r < config_.tournament; ++r) {
        const std::size_t c = rng.below(n);
        if (impl_->shared[p][c] > impl_->shared[p][best]) best = c;
      }
      return best;
    };
    const Genome& a = pops_[p][tournament()];
    Genome child;
    if (rng.uniform() < config_.crossover_rate) {
      const Genome& b = pops_[p][tournament()];
      child.b2 = rng.uniform() < 0.5 ? a.b2 : b.b2;
      child.sigma = 0.5F * (a.sigma + b.sigma);
      for (std::size_t u = 0; u < a.hidden; ++u) {
        copy_unit(u < b.hidden && rng.uniform() < 0.5 ? b : a, u, child);
      }
    } else {
      child = a;
    }
    mutate(child, rng);
    const double s = rng.uniform();
    if (s < config_.structural_rate && child.hidden < config_.max_hidden) {
      // A new unit starts silent (output weight 0): behaviour is unchanged
      // until mutation gives it a role.
      Genome unit = random_genome(1, rng);
      unit.w2[0] = 0;
      copy_unit(unit, 0, child);
    } else if (s < 2 * config_.structural_rate && child.hidden > 1) {
      const std::size_t u = rng.below(child.hidden);
      child.w1.erase(child.w1.begin() + static_cast<std::ptrdiff_t>(u * kFeatureCount),
                     child.w1.begin() + static_cast<std::ptrdiff_t>((u + 1) * kFeatureCount));
      child.b1.erase(child.b1.begin() + static_cast<std::ptrdiff_t>(u));
      child.w2.erase(child.w2.begin() + static_cast<std::ptrdiff_t>(u));
      --child.hidden;
    }
    make_monotone(child);
    next[p][k] = std::move(child);
  });
  pops_ = std::move(next);
}

GenerationStats Evolution::step() {
  breed();
  ++generation_;
  evaluate_all();
  GenerationStats st;
  st.generation = generation_;
  for (std::size_t p = 0; p < kPopulations; ++p) {
    const auto& champ = champion(p);
    st.best[p] = champ.fitness;
    st.best_auc[p] = champ.auc;
    double sum = 0;
    for (const auto& g : pops_[p]) sum += g.fitness;
    st.mean[p] = sum / static_cast<double>(pops_[p].size());
    const auto ci = static_cast<std::size_t>(&champ - pops_[p].data());
    const auto& bc = impl_->behaviour[p][ci];
    double div = 0;
    for (const auto& b : impl_->behaviour[p]) {
      double d = 0;
      for (std::size_t k = 0; k < b.size(); ++k) d += std::abs(b[k] - bc[k]);
      div += d / std::max<std::size_t>(1, b.size());
    }
    st.diversity[p] = div / static_cast<double>(pops_[p].size());
  }
  return st;
}

void Evolution::run(const std::function<void(const GenerationStats&)>& progress) {
  while (generation_ < config_.generations) {
    auto st = step();
    if (progress) progress(st);
  }
}

const Genome& Evolution::champion(std::size_t p) const {
  return *std::ranges::max_element(pops_[p], {}, &Genome::fitness);
}

std::span<const Genome> Evolution::population(std::size_t p) const { return pops_[p]; }

std::span<const std::uint32_t> Evolution::examples(std::size_t p) const { return examples_[p]; }

// ----------------------------------------------------------------- combiner

Combiner fit_combiner(const std::array<const Genome*, kPopulations>& champions,
                      std::span<const Sample> samples) {
  const auto n = samples.size();
  const RowMatrix x = matrix_of(samples);
  std::array<std::vector<float>, kPopulations> y;
  for (std::size_t p = 0; p < kPopulations; ++p) {
    y[p].resize(n);
    evaluate_matrix(*champions[p], x, y[p]);
  }
  // Classes balanced, so sigmoid 0.5 (score 50, the alert threshold) sits at
  // the decision boundary.
  double pos = 0;
  double neg = 0;
  for (const auto& s : samples) (s.label >= 0.5F ? pos : neg) += s.weight;
  std::vector<double> w(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& s = samples[i];
    w[i] = s.weight / (2.0 * std::max(1e-9, s.label >= 0.5F ? pos : neg));
  }
  std::array<double, kPopulations> beta{};
  double bias = 0;
  constexpr double kL2 = 1e-2;
  constexpr double kRate = 2.0;
  for (int it = 0; it < 3000; ++it) {
    std::array<double, kPopulations> grad{};
    double gbias = 0;
    for (std::size_t i = 0; i < n; ++i) {
      double z = bias;
      for (std::size_t p = 0; p < kPopulations; ++p) z += beta[p] * y[p][i];
      const double err = (1.0 / (1.0 + std::exp(-z)) - samples[i].label) * w[i];
      gbias += err;
      for (std::size_t p = 0; p < kPopulations; ++p) grad[p] += err * y[p][i];
    }
    bias -= kRate * gbias;
    for (std::size_t p = 0; p < kPopulations; ++p) {
      // Projected: a network counts for an attack or not at all. A negative
      // weight would turn its awareness inputs (make_monotone) against the
      // score.
      beta[p] = std::max(0.0, beta[p] - kRate * (grad[p] + kL2 * beta[p]));
    }
  }
  Combiner c;
  for (std::size_t p = 0; p < kPopulations; ++p) c.weights[p] = static_cast<float>(beta[p]);
  c.bias = static_cast<float>(bias);
  return c;
}

v1::Model build_model(const std::array<const Genome*, kPopulations>& champions,
                      const Combiner& combiner, std::span<const FloorSpec> floors,
                      std::string version, std::string created_by, std::string description) {
  v1::Model m;
  m.set_version(std::move(version));
  m.set_feature_schema_version(kFeatureSchemaVersion);
  m.set_created_by(std::move(created_by));
  m.set_description(std::move(description));
  for (std::size_t p = 0; p < kPopulations; ++p) {
    const auto& g = *champions[p];
    auto* net = m.add_networks();
    net->set_population(std::string(to_string(static_cast<Population>(p))));
    net->set_inputs(kFeatureCount);
    net->set_hidden(g.hidden);
    net->mutable_w1()->Add(g.w1.begin(), g.w1.end());
    net->mutable_b1()->Add(g.b1.begin(), g.b1.end());
    net->mutable_w2()->Add(g.w2.begin(), g.w2.end());
    net->set_b2(g.b2);
    m.mutable_combiner()->add_weights(combiner.weights[p]);
  }
  m.mutable_combiner()->set_bias(combiner.bias);
  // The networks rank what the detectors flagged: an event without any
  // indicator stays Low (< 20) whatever its context.
  m.set_cap_without_indicators(kCapWithoutIndicators);
  m.set_focus_bonus(0);  // in_focus is an input: the networks weigh it
  for (const auto& f : floors) {
    auto* fl = m.add_floors();
    fl->set_indicator(std::string(f.indicator));
    fl->set_score(f.score);
  }
  return m;
}

std::vector<float> score_all(const ScoringModel& model, std::span<const Sample> samples) {
  std::vector<float> out;
  out.reserve(samples.size());
  for (const auto& s : samples) out.push_back(static_cast<float>(model.score(s.x)));
  return out;
}

// ------------------------------------------------------------------- train

Verdict check_awareness_monotone(const ScoringModel& model, std::span<const Sample> samples) {
  std::size_t checked = 0;
  std::size_t violations = 0;
  std::string first;
  for (const auto& s : samples) {
    if (s.label < 0.5F) continue;
    ++checked;
    FeatureVector x = s.x;
    x[kAwarenessLevel] = 0;
    x[kInFocus] = 0;
    const auto calm = model.raw_score(x);
    bool bad = false;
    for (int level = 0; level <= 3 && !bad; ++level) {
      for (const bool focus : {false, true}) {
        if (level == 0 && !focus) continue;
        x[kAwarenessLevel] = static_cast<float>(level) / 3.0F;
        x[kInFocus] = focus ? 1.0F : 0.0F;
        const auto aroused = model.raw_score(x);
        if (aroused < calm) {
          if (first.empty()) {
            std::string ids;
            for (std::size_t k = 0; k < kIndicatorFeatures; ++k) {
              if (s.x[k] == 0.0F) continue;
              ids += ids.empty() ? "" : ",";
              ids += indicator_slots()[k].id;
            }
            first = fmt::format("[{}] scores {} calm but {} at level {}{}",
                                ids.empty() ? "no indicator" : ids, calm, aroused, level,
                                focus ? " in focus" : "");
          }
          bad = true;
          break;
        }
      }
    }
    violations += bad ? 1 : 0;
  }
  if (violations > 0) {
    return {false, fmt::format("awareness lowers {} of {} attack vectors, e.g. {}", violations,
                               checked, first)};
  }
  return {true, fmt::format("awareness lowers none of {} attack vectors", checked)};
}

namespace {

ModelEval evaluate_model(const ScoringModel& m, std::span<const Sample> samples, double fpr) {
  const auto scores = score_all(m, samples);
  ModelEval e{auc(scores, samples), tpr_at_fpr(scores, samples, fpr)};
  std::vector<float> hard_scores;
  std::vector<Sample> hard;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (has_indicator(samples[i])) {
      hard.push_back(samples[i]);
      hard_scores.push_back(scores[i]);
    }
  }
  e.auc_indicators = auc(hard_scores, hard);
  e.tpr_indicators = tpr_at_fpr(hard_scores, hard, fpr);
  double pos = 0;
  double neg = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    const bool alert = scores[i] >= static_cast<float>(kAlertScore);
    if (s.label >= 0.5F) {
      pos += s.weight;
      e.missed += alert ? 0 : s.weight;
    } else {
      neg += s.weight;
      e.false_alerts += alert ? s.weight : 0;
    }
  }
  e.missed = pos > 0 ? e.missed / pos : 0;
  e.false_alerts = neg > 0 ? e.false_alerts / neg : 0;
  return e;
}

// Routine negatives without any indicator vastly outnumber everything else and
// every model ranks them low; scaled down to the total weight of the negatives
// that do carry an indicator, they stop drowning the cases selection must learn.
void balance_easy_negatives(Dataset& d) {
  double hard = 0;
  double easy = 0;
  for (const auto& s : d.samples) {
    if (s.label < 0.5F) (has_indicator(s) ? hard : easy) += s.weight;
  }
  if (hard <= 0 || easy <= hard) {
    return;
  }
  const auto scale = static_cast<float>(hard / easy);
  for (auto& s : d.samples) {
    if (s.label < 0.5F && !has_indicator(s)) s.weight *= scale;
  }
}

// The test samples that specialise population p (its positives, all negatives).
std::vector<Sample> population_subset(std::span<const Sample> samples, std::size_t p) {
  std::vector<Sample> out;
  for (const auto& s : samples) {
    if (specialises(s, p)) out.push_back(s);
  }
  return out;
}

double genome_auc(const Genome& g, std::span<const Sample> samples) {
  std::vector<float> out(samples.size());
  evaluate(g, samples, out);
  return auc(out, samples);
}

// One network from several: every unit of each, output weights divided by
// their number, output bias their mean: tanh of the mean pre-activation.
Genome join(std::span<const Genome* const> parts) {
  if (parts.size() == 1) {
    return *parts[0];
  }
  Genome g;
  const float scale = 1.0F / static_cast<float>(parts.size());
  double b2 = 0;
  for (const auto* part : parts) {
    for (std::size_t u = 0; u < part->hidden; ++u) {
      copy_unit(*part, u, g);
      g.w2.back() *= scale;
    }
    b2 += part->b2;
  }
  g.b2 = static_cast<float>(b2 / static_cast<double>(parts.size()));
  return g;
}

// TrainOptions::ensemble evolutions side by side.
class Ensemble {
 public:
  Ensemble(const EvolutionConfig& cfg, const Dataset& fit, std::size_t runs) {
    for (const auto& s : fit.samples) {
      for (std::size_t f = 0; f < kFeatureCount; ++f) exercised_[f] = exercised_[f] || s.x[f] != 0;
    }
    for (std::size_t r = 0; r < std::max<std::size_t>(1, runs); ++r) {
      EvolutionConfig c = cfg;
      if (r > 0) c.seed = splitmix(cfg.seed ^ (0xe75e0000ULL + r));
      runs_.push_back(std::make_unique<Evolution>(c, fit));
    }
  }
  void seed(const ScoringModel& prior) {
    for (auto& run : runs_) {
      std::array<Genome, kPopulations> seeds;
      for (std::size_t p = 0; p < kPopulations; ++p) seeds[p] = genome_of(prior, p);
      run->seed(std::move(seeds));
    }
  }
  GenerationStats step() {
    GenerationStats first;
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      auto st = runs_[r]->step();
      if (r == 0) first = st;
    }
    return first;  // the first run's statistics stand for all
  }
  [[nodiscard]] std::array<Genome, kPopulations> champions() const {
    std::array<Genome, kPopulations> out;
    for (std::size_t p = 0; p < kPopulations; ++p) {
      std::vector<const Genome*> parts;
      for (const auto& run : runs_) parts.push_back(&run->champion(p));
      out[p] = join(parts);
      // Weights on inputs that are zero in every training sample were never
      // selected for, only drifted: they go to zero, so an indicator the data
      // never showed adds nothing by chance. Outputs on the data are unchanged.
      for (std::size_t u = 0; u < out[p].hidden; ++u) {
        for (std::size_t f = 0; f < kFeatureCount; ++f) {
          if (!exercised_[f]) out[p].w1[u * kFeatureCount + f] = 0;
        }
      }
    }
    return out;
  }
  [[nodiscard]] std::size_t generation() const { return runs_.front()->generation(); }

 private:
  std::vector<std::unique_ptr<Evolution>> runs_;
  std::array<bool, kFeatureCount> exercised_{};
};

// Fold `fold` of `folds` of `data` (stratified by label, by a hash of each
// sample's position and `seed`) goes to `val`, the rest to `fit`.
void fold_split(const Dataset& data, std::size_t fold, std::size_t folds, std::uint64_t seed,
                Dataset& fit, Dataset& val) {
  fit.samples.clear();
  val.samples.clear();
  for (const bool positive : {false, true}) {
    std::vector<std::pair<std::uint64_t, std::size_t>> keyed;
    for (std::size_t i = 0; i < data.samples.size(); ++i) {
      if ((data.samples[i].label >= 0.5F) == positive) {
        keyed.emplace_back(splitmix(seed ^ splitmix(i ^ 0xf01dULL << 32)), i);
      }
    }
    std::sort(keyed.begin(), keyed.end());
    for (std::size_t k = 0; k < keyed.size(); ++k) {
      (k % folds == fold ? val : fit).samples.push_back(data.samples[keyed[k].second]);
    }
  }
}

// Floors of the model: the given ones, and options.indicator_floor for every
// other indicator.
}  // namespace

std::size_t add_calm_copies(Dataset& d) {
  const std::size_t n = d.samples.size();
  for (std::size_t i = 0; i < n; ++i) {
    const Sample s = d.samples[i];
    if (s.label < 0.5F || (s.x[kAwarenessLevel] == 0.0F && s.x[kInFocus] == 0.0F)) continue;
    Sample calm = s;
    calm.x[kAwarenessLevel] = 0;
    calm.x[kInFocus] = 0;
    d.samples.push_back(calm);
  }
  return d.samples.size() - n;
}

namespace {

// Raises (or adds) the floor of `id` to `score`.
void raise_floor(std::vector<FloorSpec>& floors, std::string_view id, std::uint32_t score) {
  auto it = std::ranges::find(floors, id, &FloorSpec::indicator);
  if (it == floors.end()) {
    floors.push_back({id, score});
  } else {
    it->score = std::max(it->score, score);
  }
}

// The given floors, the indicator floor for every indicator, and the
// severity of every indicator that fired on no positive of `train`.
std::vector<FloorSpec> model_floors(const TrainOptions& options, const Dataset& train,
                                    std::vector<std::string>& unproven) {
  std::vector<FloorSpec> floors = options.floors;
  if (options.indicator_floor > 0) {
    for (const auto& slot : indicator_slots())
      raise_floor(floors, slot.id, options.indicator_floor);
  }
  std::array<bool, kIndicatorFeatures> proven{};
  for (const auto& s : train.samples) {
    if (s.label < 0.5F) continue;
    for (std::size_t k = 0; k < kIndicatorFeatures; ++k) proven[k] = proven[k] || s.x[k] != 0.0F;
  }
  unproven.clear();
  for (const auto& sev : options.severities) {
    const auto slot = indicator_slot(sev.indicator);
    if (slot && !proven[*slot]) {
      raise_floor(floors, indicator_slots()[*slot].id, sev.score);
      unproven.emplace_back(sev.indicator);
    }
  }
  return floors;
}

// The model selection score: AUC + TPR with an indicator plus AUC + TPR on all events.
double selection_score(const ModelEval& e) {
  return e.auc_indicators + e.tpr_indicators + e.auc + e.tpr;
}

// Champions + fitted combiner + floors, scored on `val`.
ModelEval evaluate_champions(const Ensemble& ev, std::span<const Sample> fit,
                             std::span<const Sample> val, std::span<const FloorSpec> floors,
                             double fpr) {
  const auto joined = ev.champions();
  std::array<const Genome*, kPopulations> champs{};
  for (std::size_t p = 0; p < kPopulations; ++p) champs[p] = &joined[p];
  auto m =
      ScoringModel::load(build_model(champs, fit_combiner(champs, fit), floors, "inner", "", ""));
  return m ? evaluate_model(**m, val, fpr) : ModelEval{};
}

// Inner k-fold validation on the training part: the mean selection score of
// generations 0..max (generation 0 = after seeding with the prior).
Result<std::vector<double>> inner_validation(const Dataset& train_part, const TrainOptions& options,
                                             std::span<const FloorSpec> floors) {
  const std::size_t folds = options.inner_folds;
  const std::size_t gens = options.evolution.generations;
  std::vector<double> curve(gens + 1, 0.0);
  for (std::size_t f = 0; f < folds; ++f) {
    Dataset fit;
    Dataset val;
    fold_split(train_part, f, folds, options.evolution.seed, fit, val);
    if (fit.positives() == 0 || val.positives() == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("inner fold {} of {} lacks positives ({} training, {} "
                                    "validation)",
                                    f, folds, fit.positives(), val.positives()));
    }
    fit = fit.distinct();
    balance_easy_negatives(fit);
    val = val.distinct();  // weighted metrics are unchanged
    EvolutionConfig cfg = options.evolution;
    cfg.seed = splitmix(options.evolution.seed ^ (0xc0ffeeULL + f));
    Ensemble ev(cfg, fit, options.ensemble);
    if (const auto* prior = options.current != nullptr ? options.current : options.baseline) {
      ev.seed(*prior);
    }
    const double fpr = options.evolution.target_fpr;
    for (std::size_t g = 0; g <= gens; ++g) {
      if (g > 0) {
        if (options.cancel != nullptr && options.cancel->load()) {
          return make_error(ErrorCode::kInternal, fmt::format("cancelled in inner fold {}", f));
        }
        (void)ev.step();
      }
      curve[g] += selection_score(evaluate_champions(ev, fit.samples, val.samples, floors, fpr)) /
                  static_cast<double>(folds);
    }
  }
  return curve;
}

}  // namespace

Verdict accepts(const ModelEval& c, const ModelEval& i, const AcceptanceRule& rule) {
  const double ci = c.auc_indicators + c.tpr_indicators;
  const double ii = i.auc_indicators + i.tpr_indicators;
  const double ca = c.auc + c.tpr;
  const double ia = i.auc + i.tpr;
  Verdict v;
  constexpr double kSame = 1e-12;
  // Rankings equal up to rounding (both perfect is the usual case).
  constexpr double kSameRank = 1e-9;
  const bool ranks_better = ci >= ii + rule.min_gain;
  const bool fewer_false_alerts =
      ci >= ii - kSameRank && i.false_alerts > 0 &&
      c.false_alerts <= i.false_alerts * (1.0 - rule.min_false_alert_cut) + kSame;
  v.accepted = (ranks_better || fewer_false_alerts) && ca >= ia - rule.all_events_tolerance &&
               c.false_alerts <= i.false_alerts + kSame && c.missed <= i.missed + kSame;
  v.reason = fmt::format(
      "AUC+TPR with an indicator {:.4f} vs {:.4f} (needs +{}, or no loss and {:.0f} % fewer "
      "false alerts), on all events {:.4f} vs {:.4f} (may lose {}); at score {}: false alerts "
      "{:.5f} vs {:.5f}, missed attacks {:.4f} vs {:.4f} (may not rise)",
      ci, ii, rule.min_gain, 100 * rule.min_false_alert_cut, ca, ia, rule.all_events_tolerance,
      kAlertScore, c.false_alerts, i.false_alerts, c.missed, i.missed);
  return v;
}

Result<TrainResult> train(const Dataset& data, const TrainOptions& options,
                          const std::function<void(const GenerationStats&)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  Dataset train_set;
  Dataset test_set;
  data.split(options.holdout, options.split_seed.value_or(options.evolution.seed), train_set,
             test_set);
  if (train_set.positives() == 0 || train_set.positives() == train_set.samples.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("training data needs both classes ({} samples, {} positive)",
                                  train_set.samples.size(), train_set.positives()));
  }
  if (options.ensemble < 1 || options.ensemble * options.evolution.max_hidden > kMaxHiddenUnits) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("ensemble of {} networks of up to {} hidden units exceeds the "
                                  "model's {} per network",
                                  options.ensemble, options.evolution.max_hidden, kMaxHiddenUnits));
  }
  TrainResult result;
  auto& rep = result.report;
  if (options.calm_copies) {
    rep.calm_copies_train = add_calm_copies(train_set);
    rep.calm_copies_test = add_calm_copies(test_set);
  }
  rep.train_samples = train_set.samples.size();
  rep.train_positives = train_set.positives();
  const auto floors = model_floors(options, train_set, rep.unproven);
  std::size_t generations = options.evolution.generations;
  if (options.inner_folds >= 2) {
    auto curve = inner_validation(train_set, options, floors);
    if (!curve) {
      return std::unexpected(curve.error());
    }
    rep.inner_validation = std::move(*curve);
    // The best mean score; the earliest generation on ties (less fitted).
    generations = static_cast<std::size_t>(std::ranges::max_element(rep.inner_validation) -
                                           rep.inner_validation.begin());
  }
  rep.generations_run = generations;
  // Identical samples (most routine events look alike) become one with their
  // weights summed: every weighted metric is unchanged, evaluation is cheaper.
  train_set = train_set.distinct();
  balance_easy_negatives(train_set);
  for (const auto& s : test_set.samples) {
    if (has_indicator(s)) {
      ++rep.test_with_indicators;
      rep.test_negatives_with_indicators += s.label < 0.5F ? 1 : 0;
    }
  }
  rep.test_samples = test_set.samples.size();
  rep.test_positives = test_set.positives();
  const double fpr = options.evolution.target_fpr;

  Ensemble evolution(options.evolution, train_set, options.ensemble);
  const std::array<Genome, kPopulations> initial = evolution.champions();
  std::array<const Genome*, kPopulations> champs{};
  for (std::size_t p = 0; p < kPopulations; ++p) champs[p] = &initial[p];
  const auto initial_model =
      build_model(champs, fit_combiner(champs, train_set.samples), floors, "initial", "", "");
  // The model in service (or the detector-only baseline) joins each population
  // as one genome: evolution starts from what is known, not below it.
  if (const auto* prior = options.current != nullptr ? options.current : options.baseline) {
    evolution.seed(*prior);
  }
  while (evolution.generation() < generations) {
    if (options.cancel != nullptr && options.cancel->load()) {
      return make_error(ErrorCode::kInternal,
                        fmt::format("cancelled at generation {}", evolution.generation()));
    }
    const auto st = evolution.step();
    rep.history.push_back(st);
    if (progress) progress(st);
  }
  const std::array<Genome, kPopulations> final_champions = evolution.champions();
  for (std::size_t p = 0; p < kPopulations; ++p) champs[p] = &final_champions[p];
  result.model = build_model(
      champs, fit_combiner(champs, train_set.samples), floors, options.version, options.created_by,
      fmt::format("evolved: {}{} populations x {} genomes, {} generations{}, "
                  "seed {}; {} training samples ({} positive)",
                  options.ensemble > 1 ? fmt::format("{} evolutions x ", options.ensemble) : "",
                  kPopulations, options.evolution.population_size, generations,
                  options.inner_folds >= 2
                      ? fmt::format(" (chosen by {}-fold inner validation of 0..{})",
                                    options.inner_folds, options.evolution.generations)
                      : "",
                  options.evolution.seed, rep.train_samples, rep.train_positives));
  auto evolved = ScoringModel::load(result.model);
  auto initial_loaded = ScoringModel::load(initial_model);
  if (!evolved || !initial_loaded) {
    return make_error(ErrorCode::kInternal, "evolved model does not load (a bug)");
  }
  const std::span<const Sample> test(test_set.samples);
  rep.evolved = evaluate_model(**evolved, test, fpr);
  rep.awareness = check_awareness_monotone(**evolved, data.samples);
  rep.initial = evaluate_model(**initial_loaded, test, fpr);
  if (options.baseline != nullptr) rep.baseline = evaluate_model(*options.baseline, test, fpr);
  if (options.current != nullptr) rep.current = evaluate_model(*options.current, test, fpr);
  result.model.set_fitness(0.5 * rep.evolved.auc + 0.5 * rep.evolved.tpr);
  for (std::size_t p = 0; p < kPopulations; ++p) {
    const auto subset = population_subset(test, p);
    rep.population_auc_initial[p] = genome_auc(initial[p], subset);
    rep.population_auc_evolved[p] = genome_auc(*champs[p], subset);
    const double final_best = rep.history.empty() ? 0 : rep.history.back().best[p];
    rep.converged_at[p] = 0;
    for (const auto& st : rep.history) {
      if (st.best[p] >= final_best - 0.005) {
        rep.converged_at[p] = st.generation;
        break;
      }
    }
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

std::string report_markdown(const TrainReport& r, const TrainOptions& o, std::string_view command) {
  std::string md;
  auto out = std::back_inserter(md);
  fmt::format_to(out, "Produced by:\n\n```sh\n{}\n```\n\n", command);
  fmt::format_to(out,
                 "Data: {} training samples ({} positive), {} held-out samples ({} positive); "
                 "held-out share {:.0f} % of each class, split with seed {}.\n"
                 "Evolution: {}{} populations x {} genomes, {} generations, reentry {}, seed {}, "
                 "{} workers, {:.1f} s.\n\n",
                 r.train_samples, r.train_positives, r.test_samples, r.test_positives,
                 100 * o.holdout, o.evolution.seed,
                 o.ensemble > 1 ? fmt::format("an ensemble of {} independent evolutions (each "
                                              "network joins their champions) of ",
                                              o.ensemble)
                                : "",
                 kPopulations, o.evolution.population_size, r.generations_run, o.evolution.reentry,
                 o.evolution.seed, o.evolution.workers, r.seconds);
  if (r.calm_copies_train + r.calm_copies_test > 0) {
    fmt::format_to(out,
                   "Calm copies: {} training and {} held-out attacks recorded on an aroused host "
                   "also count as on a calm one (included in the counts above).\n\n",
                   r.calm_copies_train, r.calm_copies_test);
  }
  if (!r.unproven.empty()) {
    fmt::format_to(out,
                   "Indicators that fired on no training attack keep their detector severity as "
                   "a floor: {}.\n\n",
                   fmt::join(r.unproven, ", "));
  }
  if (!r.inner_validation.empty()) {
    fmt::format_to(out,
                   "Model selection: {}-fold inner validation on the training part (the "
                   "held-out part is not used) scored generations 0..{}; generation {} scored "
                   "best (mean inner score {:.4f}; generation 0 = the seeded prior {:.4f}, "
                   "generation {} {:.4f}), so the final run evolved {} generations on the whole "
                   "training part. Inner score: AUC + TPR with an indicator plus AUC + TPR on "
                   "all events (4 is perfect).\n\n",
                   o.inner_folds, o.evolution.generations, r.generations_run,
                   r.inner_validation[r.generations_run], r.inner_validation.front(),
                   o.evolution.generations, r.inner_validation.back(), r.generations_run);
    md += "| generation | mean inner-validation score |\n|---|---|\n";
    const std::size_t every = std::max<std::size_t>(1, (r.inner_validation.size() - 1) / 8);
    for (std::size_t g = 0; g < r.inner_validation.size(); ++g) {
      if (g % every != 0 && g != r.generations_run && g + 1 != r.inner_validation.size()) continue;
      fmt::format_to(out, "| {}{} | {:.4f} |\n", g, g == r.generations_run ? " (chosen)" : "",
                     r.inner_validation[g]);
    }
    md += "\n";
  }
  fmt::format_to(
      out,
      "Held-out samples with at least one indicator: {} ({} of them benign).\n\n"
      "| model (held-out data) | AUC, all | TPR at {:.0f} % FPR, all | AUC, with an "
      "indicator | TPR at {:.0f} % FPR, with an indicator | benign events alerting (score >= "
      "{}) | attacks not alerting |\n|---|---|---|---|---|---|---|\n",
      r.test_with_indicators, r.test_negatives_with_indicators, 100 * o.evolution.target_fpr,
      100 * o.evolution.target_fpr, kAlertScore);
  auto row = [&](std::string_view name, const ModelEval& e, bool bold) {
    const std::string_view b = bold ? "**" : "";
    fmt::format_to(out,
                   "| {} | {b}{:.4f}{b} | {b}{:.4f}{b} | {b}{:.4f}{b} | {b}{:.4f}{b} | "
                   "{b}{:.5f}{b} | {b}{:.4f}{b} |\n",
                   name, e.auc, e.tpr, e.auc_indicators, e.tpr_indicators, e.false_alerts, e.missed,
                   fmt::arg("b", b));
  };
  row("initial random repertoire (generation 0 champions + fitted combiner)", r.initial, false);
  if (o.baseline != nullptr) row("detector-only baseline", r.baseline, false);
  if (o.current != nullptr) row("model in service", r.current, false);
  row("**evolved**", r.evolved, true);
  md += "\n";
  md +=
      "| population | champion AUC, generation 0 | champion AUC, evolved | converged at "
      "generation |\n|---|---|---|---|\n";
  for (std::size_t p = 0; p < kPopulations; ++p) {
    fmt::format_to(out, "| {} | {:.4f} | {:.4f} | {} |\n", to_string(static_cast<Population>(p)),
                   r.population_auc_initial[p], r.population_auc_evolved[p], r.converged_at[p]);
  }
  md +=
      "\nPer-population AUC is measured on the held-out samples that specialise the "
      "population (its own positives and every negative).\n";
  if (!r.history.empty()) {
    md +=
        "\n| generation | best fitness (mean over populations) | mean fitness | diversity |\n"
        "|---|---|---|---|\n";
    const std::size_t every = std::max<std::size_t>(1, r.history.size() / 10);
    for (std::size_t i = 0; i < r.history.size(); ++i) {
      if (i % every != 0 && i + 1 != r.history.size()) continue;
      const auto& st = r.history[i];
      double best = 0;
      double mean = 0;
      double div = 0;
      for (std::size_t p = 0; p < kPopulations; ++p) {
        best += st.best[p] / kPopulations;
        mean += st.mean[p] / kPopulations;
        div += st.diversity[p] / kPopulations;
      }
      fmt::format_to(out, "| {} | {:.4f} | {:.4f} | {:.4f} |\n", st.generation, best, mean, div);
    }
  }
  return md;
}

}  // namespace vigil::evo
