#include "vigil/loso.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <utility>

namespace vigil::evo {
namespace {

bool positive(const Sample& s) { return s.label >= 0.5F; }

// Distinct (label, vector) points of a part of the dataset: each once, with
// its copies' weights summed (for training) and counted (alerts are events).
struct Points {
  std::vector<Sample> samples;
  std::vector<double> counts;
};

template <typename Keep>
Points points_of(const Dataset& d, std::span<const std::uint32_t> idx, Keep&& keep) {
  std::map<std::pair<bool, FeatureVector>, std::size_t> index;
  Points out;
  for (const auto i : idx) {
    const auto& s = d.samples[i];
    if (!keep(s)) continue;
    auto [it, fresh] = index.emplace(std::make_pair(positive(s), s.x), out.samples.size());
    if (fresh) {
      out.samples.push_back(s);
      out.counts.push_back(1);
    } else {
      out.samples[it->second].weight += s.weight;
      out.counts[it->second] += 1;
    }
  }
  return out;
}

// Count-weighted share of `pts` scoring above `threshold`.
template <typename Score>
double above(const Points& pts, double threshold, Score&& score) {
  double hit = 0;
  for (std::size_t i = 0; i < pts.samples.size(); ++i) {
    if (score(pts.samples[i].x) > threshold) hit += pts.counts[i];
  }
  return hit;
}

double total(const Points& pts) {
  return std::accumulate(pts.counts.begin(), pts.counts.end(), 0.0);
}

}  // namespace

std::size_t fill_groups(Dataset& d, std::span<const IndicatorInfo> indicators) {
  std::array<std::uint32_t, kIndicatorFeatures> severity{};
  for (const auto& ind : indicators) {
    if (const auto slot = indicator_slot(ind.id)) severity[*slot] = ind.severity;
  }
  std::size_t named = 0;
  for (auto& s : d.samples) {
    if (!d.group_name(s).empty()) continue;
    std::string_view name = "benign";
    if (positive(s)) {
      name = "no-indicator";
      std::optional<std::size_t> best;
      for (std::size_t k = 0; k < kIndicatorFeatures; ++k) {
        if (s.x[k] != 0.0F && (!best || severity[k] > severity[*best])) best = k;
      }
      if (best) name = indicator_slots()[*best].id;
    }
    s.group = d.intern_group(name);
    ++named;
  }
  return named;
}

Result<std::vector<LosoFold>> loso_folds(const Dataset& d) {
  // Every group index past the names is one group: unknown.
  const auto unknown = static_cast<std::uint32_t>(d.groups.size());
  auto group_of = [&](const Sample& s) { return std::min(s.group, unknown); };
  std::vector<bool> attack_group(d.groups.size() + 1, false);
  std::vector<bool> benign_run(std::max<std::size_t>(d.runs.size(), 1), false);
  for (const auto& s : d.samples) {
    if (positive(s)) {
      attack_group[group_of(s)] = true;
    } else {
      if (s.run >= benign_run.size()) benign_run.resize(s.run + 1, false);
      benign_run[s.run] = true;
    }
  }
  std::vector<std::uint32_t> groups;
  for (std::uint32_t g = 0; g < attack_group.size(); ++g) {
    if (attack_group[g]) groups.push_back(g);
  }
  auto name = [&](std::uint32_t g) {
    return g < d.groups.size() ? std::string_view(d.groups[g]) : std::string_view();
  };
  std::ranges::sort(groups, {}, name);
  std::vector<std::uint32_t> runs;
  for (std::uint32_t r = 0; r < benign_run.size(); ++r) {
    if (benign_run[r]) runs.push_back(r);
  }
  if (groups.size() < 2 || runs.size() < 2) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("leave-one-scenario-out needs at least 2 attack groups and 2 "
                                  "benign runs; the dataset has {} and {}",
                                  groups.size(), runs.size()));
  }
  std::vector<LosoFold> folds;
  for (std::size_t k = 0; k < groups.size(); ++k) {
    LosoFold f;
    f.group = groups[k];
    f.benign_run = runs[k % runs.size()];
    for (std::uint32_t i = 0; i < d.samples.size(); ++i) {
      const auto& s = d.samples[i];
      const bool held_out = positive(s) ? group_of(s) == f.group : s.run == f.benign_run;
      (held_out ? f.test : f.train).push_back(i);
    }
    folds.push_back(std::move(f));
  }
  return folds;
}

double Logistic::score(const FeatureVector& x) const {
  double z = bias;
  for (std::size_t f = 0; f < kFeatureCount; ++f) z += static_cast<double>(w[f]) * x[f];
  return z;
}

Logistic fit_logistic(std::span<const Sample> samples, const LogisticOptions& options) {
  double pos = 0;
  double neg = 0;
  for (const auto& s : samples) (positive(s) ? pos : neg) += s.weight;
  std::vector<double> w(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const double cls = positive(samples[i]) ? pos : neg;
    w[i] = cls > 0 ? samples[i].weight / (2.0 * cls) : 0.0;
  }
  std::array<double, kFeatureCount> beta{};
  double bias = 0;
  for (std::size_t it = 0; it < options.iterations; ++it) {
    std::array<double, kFeatureCount> grad{};
    double gbias = 0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const auto& x = samples[i].x;
      double z = bias;
      for (std::size_t f = 0; f < kFeatureCount; ++f) z += beta[f] * x[f];
      const double err = (1.0 / (1.0 + std::exp(-z)) - (positive(samples[i]) ? 1.0 : 0.0)) * w[i];
      gbias += err;
      for (std::size_t f = 0; f < kFeatureCount; ++f) grad[f] += err * x[f];
    }
    bias -= options.rate * gbias;
    for (std::size_t f = 0; f < kFeatureCount; ++f) {
      beta[f] -= options.rate * (grad[f] + options.l2 * beta[f]);
    }
  }
  Logistic m;
  for (std::size_t f = 0; f < kFeatureCount; ++f) m.w[f] = static_cast<float>(beta[f]);
  m.bias = bias;
  return m;
}

double budget_threshold(std::span<const float> scores, std::span<const double> counts,
                        double allowed) {
  std::vector<std::size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0U);
  std::ranges::sort(idx, std::greater<>(), [&](std::size_t i) { return scores[i]; });
  double threshold = std::numeric_limits<double>::infinity();
  double alerts = 0;  // benign events above `threshold`
  for (std::size_t i = 0; i < idx.size();) {
    const float v = scores[idx[i]];
    if (alerts > allowed) break;
    threshold = v;  // everything above v alerts: `alerts` events
    for (; i < idx.size() && scores[idx[i]] == v; ++i) alerts += counts[idx[i]];
  }
  if (alerts <= allowed) {
    return -std::numeric_limits<double>::infinity();  // every benign event may alert
  }
  return threshold;
}

Result<LosoReport> evaluate_loso(const Dataset& data, const LosoOptions& o,
                                 const std::function<void(const LosoFoldResult&)>& progress) {
  if (o.baseline == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "leave-one-scenario-out needs the baseline");
  }
  auto folds = loso_folds(data);
  if (!folds) {
    return std::unexpected(folds.error());
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::array<std::uint32_t, kIndicatorFeatures> severity{};
  for (const auto& ind : o.indicators) {
    if (const auto slot = indicator_slot(ind.id)) severity[*slot] = ind.severity;
  }
  LosoReport rep;
  rep.samples = data.samples.size();
  rep.distinct = data.distinct().samples.size();
  rep.evolved = o.evolve;
  auto seconds_of = [&](std::uint32_t r) {
    const double s = r < data.runs.size() ? data.runs[r].seconds : 0;
    return s > 0 ? s : o.unknown_run_seconds;
  };
  std::vector<std::uint32_t> benign_runs;
  for (const auto& s : data.samples) {
    if (!positive(s) && std::ranges::find(benign_runs, s.run) == benign_runs.end()) {
      benign_runs.push_back(s.run);
    }
  }
  rep.benign_runs = benign_runs.size();
  for (const auto r : benign_runs) {
    rep.benign_hours += seconds_of(r) / 3600;
    const bool known = r < data.runs.size() && data.runs[r].seconds > 0;
    rep.unknown_duration_runs += known ? 0 : 1;
  }
  auto elapsed = [](std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  };

  for (const auto& f : *folds) {
    LosoFoldResult fr;
    fr.group = f.group < data.groups.size() ? data.groups[f.group] : "(unknown)";
    for (const auto& ind : o.indicators) {
      if (ind.id == fr.group) fr.technique = ind.attack;
    }
    fr.benign_run = f.benign_run < data.runs.size() ? data.runs[f.benign_run].name
                                                    : fmt::format("run {}", f.benign_run);
    for (const auto r : benign_runs) {
      (r == f.benign_run ? fr.heldout_hours : fr.train_benign_hours) += seconds_of(r) / 3600;
    }
    fr.allowed = o.budget * fr.train_benign_hours;

    const auto training = points_of(data, f.train, [](const Sample&) { return true; });
    const auto train_benign =
        points_of(data, f.train, [](const Sample& s) { return !positive(s); });
    const auto attacks = points_of(data, f.test, positive);
    const auto heldout_benign =
        points_of(data, f.test, [](const Sample& s) { return !positive(s); });
    auto calm = attacks;
    for (auto& s : calm.samples) {
      s.x[kAwarenessLevel] = 0;
      s.x[kInFocus] = 0;
    }
    fr.attack_events = total(attacks);
    fr.attack_points = attacks.samples.size();

    auto judge = [&](std::size_t m, auto&& score) {
      std::vector<float> benign_scores;
      for (const auto& s : train_benign.samples) {
        benign_scores.push_back(static_cast<float>(score(s.x)));
      }
      auto& r = fr.models[m];
      r.threshold = budget_threshold(benign_scores, train_benign.counts, fr.allowed);
      // Scores compared in float, as the threshold was chosen.
      auto scored = [&](const FeatureVector& x) { return static_cast<float>(score(x)); };
      r.detected = above(attacks, r.threshold, scored) / std::max(1.0, fr.attack_events);
      r.detected_calm = above(calm, r.threshold, scored) / std::max(1.0, fr.attack_events);
      r.heldout_alerts = above(heldout_benign, r.threshold, scored);
    };

    auto t = std::chrono::steady_clock::now();
    judge(0, [&](const FeatureVector& x) { return static_cast<double>(o.baseline->score(x)); });
    rep.seconds[0] += elapsed(t);

    t = std::chrono::steady_clock::now();
    const auto lr = fit_logistic(training.samples, o.logistic);
    judge(1, [&](const FeatureVector& x) { return lr.score(x); });
    rep.seconds[1] += elapsed(t);

    if (o.evolve) {
      t = std::chrono::steady_clock::now();
      Dataset part;
      part.samples = training.samples;
      TrainOptions opt = o.evolution;
      opt.holdout = 0;
      if (opt.version.empty()) opt.version = "loso-" + fr.group;
      auto trained = train(part, opt);
      if (!trained) {
        return make_error(trained.error().code,
                          fmt::format("fold {}: {}", fr.group, trained.error().message));
      }
      auto model = ScoringModel::load(trained->model);
      if (!model) {
        return make_error(ErrorCode::kInternal, "evolved model does not load (a bug)");
      }
      judge(2, [&](const FeatureVector& x) { return static_cast<double>((*model)->score(x)); });
      judge(3, [&](const FeatureVector& x) {
        std::uint32_t score = (*model)->score(x);
        for (std::size_t k = 0; k < kIndicatorFeatures; ++k) {
          if (x[k] != 0.0F) score = std::max(score, severity[k]);
        }
        return static_cast<double>(score);
      });
      rep.seconds[2] += elapsed(t);
    }
    if (progress) progress(fr);
    rep.folds.push_back(std::move(fr));
  }
  rep.total_seconds = elapsed(t0);
  return rep;
}

std::string loso_markdown(const LosoReport& r, const LosoOptions& o, std::string_view command) {
  std::string md;
  auto out = std::back_inserter(md);
  const std::size_t models = r.evolved ? kLosoModels : 2;  // the evolved ones last
  fmt::format_to(out, "Produced by:\n\n```sh\n{}\n```\n\n", command);
  double hours = 0;
  for (const auto& f : r.folds) hours += f.train_benign_hours;
  const double mean_train_hours = r.folds.empty() ? 0 : hours / static_cast<double>(r.folds.size());
  fmt::format_to(
      out,
      "Data: {} samples ({} distinct vectors), {} attack groups, {} benign runs ({:.3f} "
      "host-hours{}). Each fold holds out one attack group and one benign run (rotating); the "
      "models are trained on the rest. Budget: {} false alerts per host-hour; the threshold of "
      "each model is the lowest at which the training part's benign runs (on average {:.3f} "
      "host-hours, so at most {:.3f} alerts) stay within it. Detection: the share of the held-out "
      "group's attack events scoring above the threshold, as recorded / as on a calm host "
      "(awareness level 0, not in focus). {:.0f} s in all.\n\n",
      r.samples, r.distinct, r.folds.size(), r.benign_runs, r.benign_hours,
      r.unknown_duration_runs > 0
          ? fmt::format("; {} of them without a recorded duration, counted as {:.0f} s each",
                        r.unknown_duration_runs, o.unknown_run_seconds)
          : "",
      o.budget, mean_train_hours, o.budget * mean_train_hours, r.total_seconds);

  md += "| held-out group (strongest indicator) | ATT&CK | attack events (distinct) |";
  for (std::size_t m = 0; m < models; ++m) fmt::format_to(out, " {} |", kLosoModelNames[m]);
  md += "\n|---|---|---|";
  for (std::size_t m = 0; m < models; ++m) md += "---|";
  md += "\n";
  std::array<double, kLosoModels> macro{};
  std::array<double, kLosoModels> macro_calm{};
  std::array<double, kLosoModels> heldout{};
  std::array<double, kLosoModels> heldout_max{};
  double heldout_hours = 0;
  for (const auto& f : r.folds) {
    fmt::format_to(out, "| {} | {} | {:.0f} ({}) |", f.group,
                   f.technique.empty() ? "-" : f.technique, f.attack_events, f.attack_points);
    for (std::size_t m = 0; m < models; ++m) {
      const auto& e = f.models[m];
      fmt::format_to(out, " {:.2f} / {:.2f} |", e.detected, e.detected_calm);
      macro[m] += e.detected / static_cast<double>(r.folds.size());
      macro_calm[m] += e.detected_calm / static_cast<double>(r.folds.size());
      heldout[m] += e.heldout_alerts;
      heldout_max[m] =
          std::max(heldout_max[m], f.heldout_hours > 0 ? e.heldout_alerts / f.heldout_hours : 0);
    }
    heldout_hours += f.heldout_hours;
    md += "\n";
  }
  md += "| **macro average** | | |";
  for (std::size_t m = 0; m < models; ++m) {
    fmt::format_to(out, " **{:.3f} / {:.3f}** |", macro[m], macro_calm[m]);
  }
  md +=
      "\n\n| model | macro detection, as recorded | macro detection, calm host | held-out benign "
      "alerts per host-hour (all folds; worst fold) | threshold (min..max over folds) | time (s) "
      "|\n|---|---|---|---|---|---|\n";
  for (std::size_t m = 0; m < models; ++m) {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (const auto& f : r.folds) {
      lo = std::min(lo, f.models[m].threshold);
      hi = std::max(hi, f.models[m].threshold);
    }
    fmt::format_to(out, "| {} | {:.3f} | {:.3f} | {:.1f}; {:.1f} | {:.4g}..{:.4g} | {:.1f} |\n",
                   kLosoModelNames[m], macro[m], macro_calm[m],
                   heldout_hours > 0 ? heldout[m] / heldout_hours : 0, heldout_max[m], lo, hi,
                   r.seconds[m]);
  }
  md +=
      "\nThresholds are on each model's own scale (baseline and evolved: the agent's score 0..100; "
      "logistic regression: the logit); an event alerts above it. \"Agent floors\": the evolved "
      "model's score raised to the severity of every indicator on the event, as the agent "
      "applies any model. The time of the evolved model includes both rows.\n";
  if (r.evolved) {
    const auto& e = o.evolution;
    fmt::format_to(out,
                   "\nEvolved model per fold: {}{} populations x {} genomes, {} generations, "
                   "reentry {}, seed {}, {} workers; floors, unproven-indicator floors, calm "
                   "copies and the baseline prior as vigil-evolve train.\n",
                   o.evolution.ensemble > 1
                       ? fmt::format("an ensemble of {} evolutions of ", o.evolution.ensemble)
                       : "",
                   kPopulations, e.evolution.population_size, e.evolution.generations,
                   e.evolution.reentry, e.evolution.seed, e.evolution.workers);
  }
  fmt::format_to(out,
                 "Logistic regression: the {} features, classes balanced, L2 {}, {} full-batch "
                 "gradient steps of {}.\n",
                 static_cast<std::size_t>(kFeatureCount), o.logistic.l2, o.logistic.iterations,
                 o.logistic.rate);
  return md;
}

}  // namespace vigil::evo
