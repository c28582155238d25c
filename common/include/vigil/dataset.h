// The evolution dataset: labelled, weighted feature vectors, the file they
// live in (sparse, little-endian) and the writer the agent records with
// (--record-features). The only part of learning the agent links: the
// trainer itself (vigil/evolution.h) lives in learn/ (docs/learning.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/features.h"
#include "vigil/result.h"

namespace vigil::evo {

// SplitMix64: the deterministic mixer of dataset splits and evolution seeds.
[[nodiscard]] std::uint64_t splitmix(std::uint64_t x);

// Where a label came from; decides its weight (docs/learning.md).
enum class LabelSource : std::uint8_t {
  kFeedback = 0,  // an analyst said so: strongest
  kScenario = 1,  // recorded from a public attack scenario or the benign suite
  // A fleet event on which an indicator fired that was neither escalated (no
  // alert) nor labelled malicious: weak negative. (Value 2 meant "a
  // high-confidence detector hit, weak positive" before; only the collector
  // made such samples, in memory: a model's own verdicts are never labels.)
  kWeakNegative = 2,
  kFleetBaseline = 3  // a fleet event without an indicator, whatever its score: negative
};
[[nodiscard]] float default_weight(LabelSource source);

struct Sample {
  FeatureVector x{};
  float label = 0;   // 1 malicious, 0 benign
  float weight = 1;  // importance in every metric
  LabelSource source = LabelSource::kScenario;
  // Where it came from, so evaluation can split by scenario and by run, never
  // by sample: indices into Dataset::groups (the attack technique or scenario;
  // "benign" for benign recordings) and Dataset::runs (the recording run).
  // Out of range: unknown ("", no run).
  std::uint32_t group = 0;
  std::uint32_t run = 0;
};

// One recording: an agent's --record-features file, or a part of a format-1
// file (load() explains which).
struct RecordingRun {
  std::string name;
  double seconds = 0;  // how long the recorder ran (host time it watched); 0: unknown
};

struct Dataset {
  std::vector<Sample> samples;
  std::vector<std::string> groups;
  std::vector<RecordingRun> runs;

  // Little-endian binary, format 2: "VGLDS\2", u32 schema, u64 count, u32
  // runs, per run (f64 seconds, u16 length, name), then per sample u8 label,
  // u8 source, f32 weight, u8 nnz, nnz x (u8 slot, f32 value), u32 run, u8
  // length, group name. save() writes format 2; load() also reads format 1
  // ("VGLDS\1": no runs, no groups, samples end after the features). A
  // format-1 file gets one run per stretch of consecutive samples of one label
  // (each recording holds one label, and merge concatenated them: the shipped
  // dataset is attacks, benign, attacks, benign), of unknown duration, and no
  // groups (fill_groups() in vigil/loso.h derives them).
  [[nodiscard]] Result<void> save(const std::filesystem::path& path) const;
  [[nodiscard]] static Result<Dataset> load(const std::filesystem::path& path);
  // Sample s's group name ("" when unknown).
  [[nodiscard]] std::string_view group_name(const Sample& s) const;
  // The index of group `name`, added if new.
  std::uint32_t intern_group(std::string_view name);
  // Appends other's samples: its runs after ours, its groups by name.
  void append(const Dataset& other);
  // Deterministic split by a hash of each sample's position and `seed`:
  // about `holdout` of the samples go to `test`, stratified by label.
  void split(double holdout, std::uint64_t seed, Dataset& train, Dataset& test) const;
  [[nodiscard]] std::size_t positives() const;
  // The distinct (vector, label) points, each once with the summed weight of
  // its copies, in order of first appearance: every weighted metric (AUC, TPR,
  // fitness, the combiner's log-loss) is the same up to floating point, and
  // evolution evaluates 115 points instead of 37,160 on the shipped dataset.
  // Each point keeps the group and run of its first copy.
  [[nodiscard]] Dataset distinct() const;
};

// Appends samples to a dataset file as they come (the agent's recorder): one
// run, named after the file. The header's count is rewritten at every flush,
// so the file is loadable after each flush and after close.
class DatasetWriter {
 public:
  [[nodiscard]] static Result<std::unique_ptr<DatasetWriter>> open(
      const std::filesystem::path& path);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;
  // `group`: the attack technique or scenario the sample belongs to.
  void append(const Sample& s, std::string_view group = {});
  // Also rewrites the run's duration: the time since open().
  [[nodiscard]] Result<void> flush();
  [[nodiscard]] std::uint64_t count() const { return count_; }

 private:
  DatasetWriter() = default;
  std::FILE* file_ = nullptr;
  std::uint64_t count_ = 0;
  std::filesystem::path path_;
  std::chrono::steady_clock::time_point opened_;
};

}  // namespace vigil::evo
