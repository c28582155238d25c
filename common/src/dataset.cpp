#include "vigil/dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

namespace vigil::evo {
namespace {

static_assert(std::endian::native == std::endian::little, "dataset files are little-endian");

constexpr char kMagic[6] = {'V', 'G', 'L', 'D', 'S', '\2'};

}  // namespace

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

float default_weight(LabelSource source) {
  switch (source) {
    case LabelSource::kFeedback:
      return 4.0F;
    case LabelSource::kScenario:
      return 2.0F;
    case LabelSource::kFleetBaseline:
      return 1.0F;
    case LabelSource::kWeakNegative:
      return 0.5F;
  }
  return 1.0F;
}

// ------------------------------------------------------------------ dataset

// Format 2 (groups and runs); format 1 is read too (Dataset::load).
constexpr char kMagicV1[6] = {'V', 'G', 'L', 'D', 'S', '\1'};
constexpr std::size_t kMaxNameBytes = 255;  // a group name's u8 length

// One sample in the file's layout (format 2); `group` at most kMaxNameBytes.
template <typename Put>
void put_sample(const Sample& s, std::string_view group, Put&& put) {
  const std::uint8_t label = s.label >= 0.5F ? 1 : 0;
  const auto source = static_cast<std::uint8_t>(s.source);
  put(&label, 1);
  put(&source, 1);
  put(&s.weight, 4);
  std::uint8_t nnz = 0;
  for (float v : s.x) nnz += v != 0.0F ? 1 : 0;
  put(&nnz, 1);
  for (std::size_t i = 0; i < kFeatureCount; ++i) {
    if (s.x[i] != 0.0F) {
      const auto slot = static_cast<std::uint8_t>(i);
      put(&slot, 1);
      put(&s.x[i], 4);
    }
  }
  put(&s.run, 4);
  const auto len = static_cast<std::uint8_t>(std::min(group.size(), kMaxNameBytes));
  put(&len, 1);
  put(group.data(), len);
}

template <typename Put>
void put_run(const RecordingRun& r, Put&& put) {
  const auto len = static_cast<std::uint16_t>(std::min<std::size_t>(r.name.size(), 0xffff));
  put(&r.seconds, 8);
  put(&len, 2);
  put(r.name.data(), len);
}

constexpr long kCountOffset = sizeof(kMagic) + 4;
// The writer's single run: its seconds follow the run count.
constexpr long kRunSecondsOffset = kCountOffset + 8 + 4;

Result<std::unique_ptr<DatasetWriter>> DatasetWriter::open(const std::filesystem::path& path) {
  std::unique_ptr<DatasetWriter> w(new DatasetWriter());
  w->path_ = path;
  w->opened_ = std::chrono::steady_clock::now();
  w->file_ = std::fopen(path.c_str(), "wb");
  if (w->file_ == nullptr) {
    return make_error(ErrorCode::kIo, fmt::format("cannot write dataset {}: {}", path.string(),
                                                  std::strerror(errno)));
  }
  const std::uint32_t schema = kFeatureSchemaVersion;
  const std::uint64_t zero = 0;
  const std::uint32_t runs = 1;
  std::fwrite(kMagic, 1, sizeof(kMagic), w->file_);
  std::fwrite(&schema, 4, 1, w->file_);
  std::fwrite(&zero, 8, 1, w->file_);
  std::fwrite(&runs, 4, 1, w->file_);
  put_run({path.filename().string(), 0},
          [&](const void* p, std::size_t n) { std::fwrite(p, 1, n, w->file_); });
  return w;
}

DatasetWriter::~DatasetWriter() {
  if (file_ != nullptr) {
    (void)flush();
    std::fclose(file_);
  }
}

void DatasetWriter::append(const Sample& s, std::string_view group) {
  Sample one = s;
  one.run = 0;
  put_sample(one, group, [&](const void* p, std::size_t n) { std::fwrite(p, 1, n, file_); });
  ++count_;
}

Result<void> DatasetWriter::flush() {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_).count();
  const long end = std::ftell(file_);
  if (std::fseek(file_, kCountOffset, SEEK_SET) != 0 || std::fwrite(&count_, 8, 1, file_) != 1 ||
      std::fseek(file_, kRunSecondsOffset, SEEK_SET) != 0 ||
      std::fwrite(&seconds, 8, 1, file_) != 1 || std::fseek(file_, end, SEEK_SET) != 0 ||
      std::fflush(file_) != 0) {
    return make_error(ErrorCode::kIo,
                      fmt::format("write dataset {}: {}", path_.string(), std::strerror(errno)));
  }
  return {};
}

std::string_view Dataset::group_name(const Sample& s) const {
  return s.group < groups.size() ? std::string_view(groups[s.group]) : std::string_view();
}

std::uint32_t Dataset::intern_group(std::string_view name) {
  name = name.substr(0, kMaxNameBytes);
  const auto it = std::ranges::find(groups, name);
  if (it != groups.end()) {
    return static_cast<std::uint32_t>(it - groups.begin());
  }
  groups.emplace_back(name);
  return static_cast<std::uint32_t>(groups.size() - 1);
}

void Dataset::append(const Dataset& other) {
  const auto first_run = static_cast<std::uint32_t>(runs.size());
  std::uint32_t other_runs = static_cast<std::uint32_t>(other.runs.size());
  for (const auto& s : other.samples) other_runs = std::max(other_runs, s.run + 1);
  for (std::uint32_t r = 0; r < other_runs; ++r) {
    runs.push_back(r < other.runs.size() ? other.runs[r] : RecordingRun{});
  }
  std::vector<std::uint32_t> group_map(other.groups.size());
  for (std::size_t g = 0; g < other.groups.size(); ++g) {
    group_map[g] = intern_group(other.groups[g]);
  }
  const auto unknown = other.samples.empty() ? 0 : intern_group("");
  samples.reserve(samples.size() + other.samples.size());
  for (auto s : other.samples) {
    s.group = s.group < group_map.size() ? group_map[s.group] : unknown;
    s.run += first_run;
    samples.push_back(s);
  }
}

Result<void> Dataset::save(const std::filesystem::path& path) const {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return make_error(ErrorCode::kIo, fmt::format("cannot write {}", tmp));
    }
    auto put = [&](const void* p, std::size_t n) {
      out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    };
    put(kMagic, sizeof(kMagic));
    const std::uint32_t schema = kFeatureSchemaVersion;
    const std::uint64_t count = samples.size();
    put(&schema, 4);
    put(&count, 8);
    // Every run a sample names has a record, even if runs lacks it.
    auto run_count = static_cast<std::uint32_t>(runs.size());
    for (const auto& s : samples) run_count = std::max(run_count, s.run + 1);
    put(&run_count, 4);
    for (std::uint32_t r = 0; r < run_count; ++r) {
      put_run(r < runs.size() ? runs[r] : RecordingRun{}, put);
    }
    for (const auto& s : samples) {
      put_sample(s, group_name(s), put);
    }
    if (!out.flush()) {
      return make_error(ErrorCode::kIo, fmt::format("write {} failed", tmp));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("rename {}: {}", tmp, ec.message()));
  }
  return {};
}

Result<Dataset> Dataset::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::kNotFound, fmt::format("cannot open dataset {}", path.string()));
  }
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kCorrupt, fmt::format("dataset {}: {}", path.string(), why));
  };
  auto get = [&](void* p, std::size_t n) {
    in.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
    return static_cast<std::size_t>(in.gcount()) == n;
  };
  char magic[sizeof(kMagic)];
  std::uint32_t schema = 0;
  std::uint64_t count = 0;
  if (!get(magic, sizeof(magic))) {
    return bad("not a vigil dataset (bad magic)");
  }
  const bool v1 = std::memcmp(magic, kMagicV1, sizeof(kMagicV1)) == 0;
  if (!v1 && std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return bad("not a vigil dataset (bad magic)");
  }
  if (!get(&schema, 4) || !get(&count, 8)) {
    return bad("truncated header");
  }
  if (schema != kFeatureSchemaVersion) {
    return bad(fmt::format("feature schema {} but this build computes schema {}", schema,
                           kFeatureSchemaVersion));
  }
  if (count > 100'000'000) {
    return bad(fmt::format("implausible sample count {}", count));
  }
  Dataset d;
  if (!v1) {
    std::uint32_t run_count = 0;
    if (!get(&run_count, 4) || run_count > 1'000'000) {
      return bad("truncated header or implausible run count");
    }
    d.runs.resize(run_count);
    for (auto& r : d.runs) {
      std::uint16_t len = 0;
      if (!get(&r.seconds, 8) || !get(&len, 2)) {
        return bad("truncated run table");
      }
      r.name.resize(len);
      if (!get(r.name.data(), len) || !std::isfinite(r.seconds) || r.seconds < 0) {
        return bad("truncated or invalid run table");
      }
    }
  }
  d.samples.reserve(count);
  std::string group;
  for (std::uint64_t i = 0; i < count; ++i) {
    Sample s;
    std::uint8_t label = 0;
    std::uint8_t source = 0;
    std::uint8_t nnz = 0;
    if (!get(&label, 1) || !get(&source, 1) || !get(&s.weight, 4) || !get(&nnz, 1)) {
      return bad(fmt::format("truncated at sample {}", i));
    }
    if (label > 1 || source > 3 || !std::isfinite(s.weight) || s.weight < 0 ||
        nnz > kFeatureCount) {
      return bad(fmt::format("sample {}: label {}, source {}, {} features out of range", i, label,
                             source, nnz));
    }
    s.label = label;
    s.source = static_cast<LabelSource>(source);
    for (std::uint8_t k = 0; k < nnz; ++k) {
      std::uint8_t slot = 0;
      float v = 0;
      if (!get(&slot, 1) || !get(&v, 4)) {
        return bad(fmt::format("truncated at sample {}", i));
      }
      if (slot >= kFeatureCount || !std::isfinite(v)) {
        return bad(fmt::format("sample {}: feature slot {} or its value is invalid", i, slot));
      }
      s.x[slot] = v;
    }
    if (v1) {
      // A new run wherever the label changes (see the header).
      if (d.samples.empty() || (d.samples.back().label >= 0.5F) != (s.label >= 0.5F)) {
        d.runs.push_back({fmt::format("{} part {} ({})", path.filename().string(),
                                      d.runs.size() + 1, label != 0 ? "attacks" : "benign"),
                          0});
      }
      s.run = static_cast<std::uint32_t>(d.runs.size() - 1);
      s.group = d.intern_group("");
    } else {
      std::uint8_t len = 0;
      if (!get(&s.run, 4) || !get(&len, 1)) {
        return bad(fmt::format("truncated at sample {}", i));
      }
      group.resize(len);
      if (!get(group.data(), len)) {
        return bad(fmt::format("truncated at sample {}", i));
      }
      if (s.run >= d.runs.size()) {
        return bad(fmt::format("sample {}: run {} of {}", i, s.run, d.runs.size()));
      }
      s.group = d.intern_group(group);
    }
    d.samples.push_back(s);
  }
  return d;
}

void Dataset::split(double holdout, std::uint64_t seed, Dataset& train, Dataset& test) const {
  train.samples.clear();
  test.samples.clear();
  for (const float cls : {0.0F, 1.0F}) {
    std::vector<std::pair<std::uint64_t, std::size_t>> keyed;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      if ((samples[i].label >= 0.5F) == (cls >= 0.5F)) {
        keyed.emplace_back(splitmix(seed ^ splitmix(i)), i);
      }
    }
    std::sort(keyed.begin(), keyed.end());
    const auto n_test = static_cast<std::size_t>(std::lround(holdout * keyed.size()));
    std::vector<bool> to_test(samples.size(), false);
    for (std::size_t k = 0; k < n_test; ++k) to_test[keyed[k].second] = true;
    for (const auto& [key, i] : keyed) {
      (void)key;
      (to_test[i] ? test : train).samples.push_back(samples[i]);
    }
  }
}

std::size_t Dataset::positives() const {
  return static_cast<std::size_t>(
      std::ranges::count_if(samples, [](const Sample& s) { return s.label >= 0.5F; }));
}

Dataset Dataset::distinct() const {
  std::map<std::pair<bool, FeatureVector>, std::size_t> index;
  Dataset out;
  for (const auto& s : samples) {
    const auto key = std::make_pair(s.label >= 0.5F, s.x);
    auto [it, fresh] = index.emplace(key, out.samples.size());
    if (fresh) {
      out.samples.push_back(s);
    } else {
      out.samples[it->second].weight += s.weight;
    }
  }
  return out;
}

}  // namespace vigil::evo
