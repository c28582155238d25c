// vigil-evolve: the offline side of neural Darwinism (docs/learning.md).
//   vigil-evolve merge --out ALL.vds A.vds B.vds ...   concatenate datasets
//   vigil-evolve train --dataset ALL.vds --out model.pb [--report learning.md]
//   vigil-evolve inspect --dataset ALL.vds [--model model.pb] [--all]
//   vigil-evolve evaluate --loso --dataset ALL.vds [--budget N] [--out table.md]
// `train` evolves six populations on the training part of the dataset, fits
// the combiner, compares initial repertoire / detector-only baseline / evolved
// model on the held-out part and writes the evolved model. The same dataset,
// seed and options give the same model bytes, whatever --workers says.
// `evaluate --loso` holds out one attack group and one benign run at a time
// and compares baseline, logistic regression and evolved model on them
// (vigil/loso.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "vigil/agent/indicators.h"
#include "vigil/agent/pipeline.h"
#include "vigil/evolution.h"
#include "vigil/loso.h"

namespace {

using namespace vigil;

// The indicators' ATT&CK ids and severities, for the groups of format-1 data.
std::vector<evo::IndicatorInfo> indicator_info() {
  std::vector<evo::IndicatorInfo> out;
  for (const auto& ind : agent::all_indicators()) out.push_back({ind.id, ind.attack, ind.severity});
  return out;
}

// Concatenates the inputs: each keeps its runs (named after its directory and
// file: the recorder names a run after its file) and groups; samples without a
// group (format 1) get theirs from their indicators (evo::fill_groups).
int merge(const std::string& out, const std::vector<std::string>& inputs) {
  evo::Dataset all;
  for (const auto& in : inputs) {
    auto d = evo::Dataset::load(in);
    if (!d) {
      std::cerr << "vigil-evolve: " << d.error().message << '\n';
      return 1;
    }
    const auto dir = std::filesystem::path(in).parent_path().filename();
    for (auto& run : d->runs) {
      if (run.name == std::filesystem::path(in).filename()) run.name = (dir / run.name).string();
    }
    all.append(*d);
  }
  const auto named = evo::fill_groups(all, indicator_info());
  std::set<std::uint32_t> groups;
  for (const auto& s : all.samples) groups.insert(s.group);
  if (auto r = all.save(out); !r) {
    std::cerr << "vigil-evolve: " << r.error().message << '\n';
    return 1;
  }
  std::cout << fmt::format(
      "{}: {} samples ({} positive), {} runs, {} groups ({} samples grouped "
      "by their strongest indicator)\n",
      out, all.samples.size(), all.positives(), all.runs.size(), groups.size(), named);
  return 0;
}

// One line per distinct (label, feature vector) of the dataset, split as
// `train` splits it: how many samples, in which part, which indicators and
// context, and the score the baseline and `model` give it. Answers "which
// events would this model alert on, and why".
int inspect(const std::string& dataset, const std::string& model_path, bool everything,
            bool outputs, bool calm, double holdout, std::uint64_t seed) {
  auto data = evo::Dataset::load(dataset);
  if (!data) {
    std::cerr << "vigil-evolve: " << data.error().message << '\n';
    return 1;
  }
  const auto baseline = agent::baseline_model();
  std::shared_ptr<const ScoringModel> model;
  if (!model_path.empty()) {
    std::ifstream in(model_path, std::ios::binary);
    if (!in) {
      std::cerr << "vigil-evolve: cannot read " << model_path << '\n';
      return 1;
    }
    std::stringstream bytes;
    bytes << in.rdbuf();
    auto m = ScoringModel::load_bytes(bytes.str());
    if (!m) {
      std::cerr << "vigil-evolve: " << m.error().message << '\n';
      return 1;
    }
    model = *m;
  }
  evo::Dataset train_set;
  evo::Dataset test_set;
  data->split(holdout, seed, train_set, test_set);
  if (calm) {  // as train does (TrainOptions::calm_copies)
    (void)evo::add_calm_copies(train_set);
    (void)evo::add_calm_copies(test_set);
  }
  struct Row {
    std::size_t train = 0;
    std::size_t test = 0;
  };
  std::map<std::pair<bool, FeatureVector>, Row> rows;
  for (const auto* part : {&train_set, &test_set}) {
    for (const auto& s : part->samples) {
      const bool any = std::any_of(s.x.begin(), s.x.begin() + kIndicatorFeatures,
                                   [](float v) { return v != 0.0F; });
      if (!any && !everything) continue;
      auto& r = rows[{s.label >= 0.5F, s.x}];
      (part == &train_set ? r.train : r.test) += 1;
    }
  }
  std::cout << "label\ttrain\ttest\tbaseline\tmodel\tindicators\tcontext"
            << (outputs && model ? "\tnetworks (process network memory privilege persistence "
                                   "lateral)"
                                 : "")
            << '\n';
  static constexpr std::array<std::string_view, kFeatureCount - kIndicatorFeatures> kContext = {
      "process",   "network",      "memory", "file",  "lineage", "root",
      "uid!=euid", "writable-exe", "level",  "focus", "count"};
  for (const auto& [key, r] : rows) {
    const auto& x = key.second;
    std::string ind;
    for (std::size_t i = 0; i < kIndicatorFeatures; ++i) {
      if (x[i] != 0.0F) ind += (ind.empty() ? "" : ",") + std::string(indicator_slots()[i].id);
    }
    std::string ctx;
    for (std::size_t i = kIndicatorFeatures; i < kFeatureCount; ++i) {
      if (x[i] != 0.0F) {
        ctx += fmt::format("{}{}={:.2g}", ctx.empty() ? "" : " ", kContext[i - kIndicatorFeatures],
                           x[i]);
      }
    }
    std::cout << fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}", key.first ? "attack" : "benign", r.train,
                             r.test, baseline->score(x),
                             model ? std::to_string(model->score(x)) : "-", ind.empty() ? "-" : ind,
                             ctx);
    if (outputs && model) {
      std::array<float, kPopulations> y{};
      model->population_outputs(x, y);
      std::cout << fmt::format("\t{:+.2f}", fmt::join(y, " "));
    }
    std::cout << '\n';
  }
  if (model) {
    // On stderr, so the table stays one row per line for scripts.
    const auto mono = evo::check_awareness_monotone(*model, data->samples);
    std::cerr << "awareness: " << (mono.accepted ? "monotone" : "NOT monotone") << " — "
              << mono.reason << '\n';
  }
  return 0;
}

// The command that made a report, minus the report's own path (`option`).
std::string command_line(int argc, char** argv, std::string_view option) {
  std::string command = "vigil-evolve";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == option) {
      ++i;
      continue;
    }
    command += ' ';
    command += arg;
  }
  return command;
}

// The floors vigil-evolve train gives a model by default: severity kept as a
// floor for indicators of severity >= min_floor_severity and for every
// indicator no training attack showed.
void default_floors(evo::TrainOptions& opt, std::uint32_t min_floor_severity, bool trust_unproven) {
  for (const auto& ind : agent::all_indicators()) {
    if (ind.severity >= min_floor_severity) opt.floors.push_back({ind.id, ind.severity});
    if (!trust_unproven) opt.severities.push_back({ind.id, ind.severity});
  }
}

int evaluate(const std::string& dataset, const std::string& out, evo::LosoOptions opt, bool evolve,
             const std::string& command) {
  auto data = evo::Dataset::load(dataset);
  if (!data) {
    std::cerr << "vigil-evolve: " << data.error().message << '\n';
    return 1;
  }
  opt.indicators = indicator_info();
  (void)evo::fill_groups(*data, opt.indicators);
  const auto baseline = agent::baseline_model();
  opt.baseline = baseline.get();
  opt.evolve = evolve;
  opt.evolution.baseline = baseline.get();  // the prior, as train seeds it
  auto report = evo::evaluate_loso(*data, opt, [](const evo::LosoFoldResult& f) {
    std::cerr << fmt::format("{}: {:.0f} attack events held out with {}; detected", f.group,
                             f.attack_events, f.benign_run);
    for (std::size_t m = 0; m < evo::kLosoModels; ++m) {
      std::cerr << fmt::format(" {:.2f}", f.models[m].detected);
    }
    std::cerr << '\n';
  });
  if (!report) {
    std::cerr << "vigil-evolve: " << report.error().message << '\n';
    return 1;
  }
  const auto md = evo::loso_markdown(*report, opt, command);
  std::cout << md;
  if (!out.empty()) std::ofstream(out) << md;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigil-evolve: evolve the shared scoring model from a labelled dataset"};
  app.require_subcommand(1);

  auto* merge_cmd = app.add_subcommand("merge", "concatenate dataset files");
  std::string merge_out;
  std::vector<std::string> merge_in;
  merge_cmd->add_option("--out", merge_out, "output dataset")->required();
  merge_cmd->add_option("inputs", merge_in, "dataset files")->required();

  auto* inspect_cmd = app.add_subcommand(
      "inspect", "list the dataset's distinct labelled events and what each model scores them");
  std::string inspect_dataset;
  std::string inspect_model;
  bool inspect_all = false;
  double inspect_holdout = 0.3;
  std::uint64_t inspect_seed = 1;
  inspect_cmd->add_option("--dataset", inspect_dataset, "labelled dataset")->required();
  inspect_cmd->add_option("--model", inspect_model, "a model to score them with (vigil.v1.Model)");
  inspect_cmd->add_flag("--all", inspect_all, "also the events without any indicator");
  bool inspect_no_calm = false;
  inspect_cmd->add_flag("--no-calm-copies", inspect_no_calm,
                        "without the calm copies of attacks train adds");
  bool inspect_outputs = false;
  inspect_cmd->add_flag("--outputs", inspect_outputs, "also the model's six network outputs");
  inspect_cmd->add_option("--holdout", inspect_holdout, "held-out share, as for train (0.3)");
  inspect_cmd->add_option("--seed", inspect_seed, "split seed, as for train (1)");

  auto* train_cmd = app.add_subcommand("train", "evolve a model and report how it compares");
  std::string dataset;
  std::string out;
  std::string report;
  std::string version = "evolved-1";
  evo::TrainOptions opt;
  train_cmd->add_option("--dataset", dataset, "labelled dataset (vigil-agent --record-features)")
      ->required();
  train_cmd->add_option("--out", out, "where to write the model (vigil.v1.Model)")->required();
  train_cmd->add_option("--report", report, "write the Markdown comparison here");
  train_cmd->add_option("--version", version, "the model's version string");
  train_cmd->add_option("--seed", opt.evolution.seed, "random seed (default 1)");
  train_cmd->add_option("--generations", opt.evolution.generations, "generations (default 80)");
  train_cmd->add_option("--population", opt.evolution.population_size,
                        "genomes per population (default 100)");
  train_cmd->add_option("--workers", opt.evolution.workers, "worker threads (default 4)");
  train_cmd->add_option("--holdout", opt.holdout, "held-out share of each class (default 0.3)");
  bool keep_best = false;
  train_cmd->add_flag("--keep-best", keep_best,
                      "write the detector-only baseline instead when the evolved model does not "
                      "beat it on held-out data");
  train_cmd->add_option("--hidden", opt.evolution.initial_hidden,
                        "hidden units per network at the start (default 4)");
  train_cmd->add_option("--inner-folds", opt.inner_folds,
                        "choose the generation count (0..--generations) by this many folds of "
                        "inner validation on the training part (default 0: keep the last "
                        "generation)");
  train_cmd->add_option("--ensemble", opt.ensemble,
                        "independent evolutions whose champions each network joins (default 1)");
  train_cmd->add_option("--prior-copies", opt.evolution.prior_copies,
                        "genomes per population seeded from the baseline: itself and mutated "
                        "copies (default 1)");
  train_cmd->add_option("--prior-sigma", opt.evolution.prior_sigma,
                        "mutation step the seeded baseline genomes start with (default 0.3)");
  std::uint32_t min_floor_severity = 80;
  train_cmd->add_option("--min-floor-severity", min_floor_severity,
                        "indicators of at least this severity keep it as a floor (default 80)");
  train_cmd->add_option("--weight-penalty", opt.evolution.weight_penalty,
                        "fitness per unit of mean |weight| (default 0.00005)");
  train_cmd->add_option("--reentry", opt.evolution.reentry,
                        "weight of the reentry term: how well a genome ranks the events with an "
                        "indicator together with the other populations' champions");
  train_cmd->add_option("--complexity-penalty", opt.evolution.complexity_penalty,
                        "fitness per hidden unit (default 0.0005)");
  train_cmd->add_option("--indicator-floor", opt.indicator_floor,
                        "floor of every indicator without a higher one (default 20, one above "
                        "the cap of events without indicators; 0: none)");

  bool no_calm_copies = false;
  train_cmd->add_flag("--no-calm-copies", no_calm_copies,
                      "do not also count attacks recorded on an aroused host as on a calm one");
  bool trust_unproven = false;
  train_cmd->add_flag("--trust-unproven", trust_unproven,
                      "let the networks score indicators that fired on no training positive "
                      "below their severity (default: those keep it as a floor)");

  auto* eval_cmd = app.add_subcommand(
      "evaluate",
      "leave-one-scenario-out: hold out each attack group with one benign run, train on the "
      "rest, compare baseline, logistic regression and evolved model at a false-alert budget");
  bool loso = false;
  std::string eval_dataset;
  std::string eval_out;
  evo::LosoOptions lopt;
  bool eval_no_evolved = false;
  // The shipped settings (deploy/evolve-default-model.sh: an ensemble of 4
  // evolutions of 6 x 100 genomes, 80 generations, reentry 2): on the
  // dataset's ~115 distinct points a fold takes ~5 s on 2 cores, all 19 of the
  // shipped dataset under 2 minutes, so nothing needs scaling down.
  lopt.evolution.ensemble = 4;
  lopt.evolution.evolution.generations = 80;
  lopt.evolution.evolution.workers = 2;
  eval_cmd->add_flag("--loso", loso, "leave one scenario out (the only evaluation so far)")
      ->required();
  eval_cmd->add_option("--dataset", eval_dataset, "labelled dataset")->required();
  eval_cmd->add_option("--budget", lopt.budget,
                       "false alerts per host-hour the threshold allows on the training part "
                       "(default 1)");
  eval_cmd->add_option("--run-seconds", lopt.unknown_run_seconds,
                       "duration of a benign run that recorded none (format-1 data; default 75)");
  eval_cmd->add_option("--out", eval_out, "also write the Markdown table here");
  eval_cmd->add_option("--seed", lopt.evolution.evolution.seed, "evolution seed (default 1)");
  eval_cmd->add_option("--generations", lopt.evolution.evolution.generations,
                       "generations per fold (default 80, as shipped)");
  eval_cmd->add_option("--population", lopt.evolution.evolution.population_size,
                       "genomes per population (default 100)");
  eval_cmd->add_option("--ensemble", lopt.evolution.ensemble,
                       "evolutions per fold (default 4, as shipped)");
  eval_cmd->add_option("--workers", lopt.evolution.evolution.workers, "worker threads (default 2)");
  eval_cmd->add_option("--lr-iterations", lopt.logistic.iterations,
                       "gradient steps of the logistic regression (default 500)");
  eval_cmd->add_flag("--no-evolved", eval_no_evolved, "baseline and logistic regression only");
  bool eval_trust_unproven = false;
  eval_cmd->add_flag("--trust-unproven", eval_trust_unproven,
                     "as for train: no severity floor for indicators no training attack showed "
                     "(the networks' own generalisation)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (merge_cmd->parsed()) {
    return merge(merge_out, merge_in);
  }
  if (inspect_cmd->parsed()) {
    return inspect(inspect_dataset, inspect_model, inspect_all, inspect_outputs, !inspect_no_calm,
                   inspect_holdout, inspect_seed);
  }

  if (eval_cmd->parsed()) {
    default_floors(lopt.evolution, 80, eval_trust_unproven);
    return evaluate(eval_dataset, eval_out, lopt, !eval_no_evolved,
                    command_line(argc, argv, "--out"));
  }

  auto data = evo::Dataset::load(dataset);
  if (!data) {
    std::cerr << "vigil-evolve: " << data.error().message << '\n';
    return 1;
  }
  // Floors at their severity only for the indicators that are almost never
  // benign (severity >= 80): everything else is the networks' call (above
  // --indicator-floor). --min-floor-severity 0 keeps every severity as a floor,
  // as the detector-only baseline does.
  default_floors(opt, min_floor_severity, trust_unproven);
  opt.calm_copies = !no_calm_copies;
  const auto baseline = agent::baseline_model();
  opt.baseline = baseline.get();
  opt.version = version;
  opt.created_by = fmt::format(
      "vigil-evolve seed={} generations={} population={} ensemble={} inner-folds={} "
      "reentry={}",
      opt.evolution.seed, opt.evolution.generations, opt.evolution.population_size, opt.ensemble,
      opt.inner_folds, opt.evolution.reentry);
  auto result = evo::train(*data, opt, [](const evo::GenerationStats& st) {
    std::string line = fmt::format("generation {:3}", st.generation);
    for (std::size_t p = 0; p < kPopulations; ++p) {
      line += fmt::format("  {} {:.3f}/{:.3f}", to_string(static_cast<Population>(p)), st.best[p],
                          st.mean[p]);
    }
    std::cerr << line << '\n';
  });
  if (!result) {
    std::cerr << "vigil-evolve: " << result.error().message << '\n';
    return 1;
  }
  const auto& r = result->report;
  // --keep-best: the output is the evolved model only if it beats the
  // detector-only baseline on held-out data (AUC + TPR), as the collector
  // requires of a candidate against the model in service.
  // A candidate that lets awareness lower an attack's score is refused
  // whatever it wins (check_awareness_monotone), as the collector refuses it.
  auto vs_baseline = evo::accepts(r.evolved, r.baseline);
  if (vs_baseline.accepted && !r.awareness.accepted) {
    vs_baseline = {false, r.awareness.reason};
  }
  const bool ship_evolved = !keep_best || vs_baseline.accepted;
  const auto& chosen = ship_evolved ? result->model : baseline->proto();
  const std::string verdict =
      ship_evolved
          ? fmt::format("written: the evolved model {}{}", version,
                        keep_best ? " — it beats the detector-only baseline on held-out data (" +
                                        vs_baseline.reason + ")"
                                  : std::string())
          : fmt::format(
                "written: the detector-only baseline {} — the evolved model does not beat it on "
                "held-out data ({})",
                baseline->version(), vs_baseline.reason);
  std::string bytes;
  if (!chosen.SerializeToString(&bytes)) {
    std::cerr << "vigil-evolve: cannot serialise the model\n";
    return 1;
  }
  std::ofstream(out, std::ios::binary | std::ios::trunc) << bytes;
  std::cout << fmt::format(
      "{}: {} bytes; held-out AUC initial {:.4f} baseline {:.4f} evolved {:.4f}; TPR@1%FPR "
      "initial {:.4f} baseline {:.4f} evolved {:.4f}; with an indicator: AUC initial {:.4f} "
      "baseline {:.4f} evolved {:.4f}, TPR@1%FPR initial {:.4f} baseline {:.4f} evolved {:.4f}; "
      "{} generations\n",
      out, bytes.size(), r.initial.auc, r.baseline.auc, r.evolved.auc, r.initial.tpr,
      r.baseline.tpr, r.evolved.tpr, r.initial.auc_indicators, r.baseline.auc_indicators,
      r.evolved.auc_indicators, r.initial.tpr_indicators, r.baseline.tpr_indicators,
      r.evolved.tpr_indicators, r.generations_run);
  std::cout << out << ": " << verdict << '\n';
  if (!report.empty()) {
    std::ofstream(report) << evo::report_markdown(r, opt, command_line(argc, argv, "--report"))
                          << '\n'
                          << "`" << out << "` " << verdict << ".\n";
  }
  return 0;
}
