// SigmaHQ compatibility: the unmodified snapshot of SigmaHQ's Linux rules
// (VIGIL_SIGMAHQ_DIR, ../shared/sigma) must load. Built only where that
// snapshot exists (tests/unit/CMakeLists.txt).
//
// Prints every rule that did not load, with its reason; with
// VIGIL_SIGMA_COMPAT_REPORT=<file> also writes the whole report there
// (docs take their figures from it):
//   VIGIL_SIGMA_COMPAT_REPORT=/tmp/compat.txt build/tests/unit/vigil_sigma_compat_tests
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "vigil/agent/sigma.h"

namespace {

using namespace vigil::agent::sigma;

const std::filesystem::path kRoot = VIGIL_SIGMAHQ_DIR;

// The logsource category a file's rules declare ("" when none): read
// straight from the YAML, so rules that fail to load are still counted
// under their category.
std::string category_of(const std::string& file) {
  try {
    for (const auto& doc : YAML::LoadAllFromFile(file)) {
      if (doc.IsMap() && doc["logsource"] && doc["logsource"].IsMap()) {
        const auto ls = doc["logsource"];
        if (ls["category"] && ls["category"].IsScalar()) {
          return ls["category"].Scalar();
        }
        if (ls["service"] && ls["service"].IsScalar()) {
          return "service:" + ls["service"].Scalar();
        }
      }
    }
  } catch (const YAML::Exception&) {
  }
  return "";
}

struct Tally {
  std::size_t loaded = 0, failed = 0, skipped = 0;
};

TEST(SigmaHQCompat, LinuxRulesLoad) {
  LoadReport report;
  const std::vector<std::filesystem::path> dirs = {
      kRoot / "rules", kRoot / "rules-emerging-threats", kRoot / "rules-threat-hunting"};
  const auto set = load_rules(dirs, report);
  ASSERT_GT(report.files, 0u) << "no rule files under " << kRoot;

  std::map<std::string, Tally> by_category;
  std::map<std::string, std::size_t> reasons;
  std::ostringstream out;
  out << "# SigmaHQ Linux rules in vigil (" << kRoot.string() << ")\n";
  for (const auto& e : report.entries) {
    auto& t = by_category[e.rule.empty() ? "(file)" : category_of(e.file)];
    if (e.loaded) {
      ++t.loaded;
      continue;
    }
    ++(e.skipped ? t.skipped : t.failed);
    const auto rel = std::filesystem::relative(e.file, kRoot).string();
    out << (e.skipped ? "skipped " : "FAILED  ") << rel << " [" << e.rule << "]: " << e.reason
        << "\n";
    reasons[(e.skipped ? "skipped: " : "failed: ") + e.reason]++;
  }
  out << "\nfiles " << report.files << " (unreadable " << report.files_failed << "), rules loaded "
      << report.rules_loaded << ", failed " << report.rules_failed << ", skipped "
      << report.rules_skipped << "\n";
  for (const auto& [cat, t] : by_category) {
    out << "  " << (cat.empty() ? "(no category)" : cat) << ": loaded " << t.loaded << ", failed "
        << t.failed << ", skipped " << t.skipped << "\n";
  }
  out << "reasons:\n";
  for (const auto& [why, n] : reasons) {
    out << "  " << n << "x " << why << "\n";
  }
  std::cout << out.str();
  if (const char* path = std::getenv("VIGIL_SIGMA_COMPAT_REPORT"); path != nullptr) {
    std::ofstream(path) << out.str();
  }

  EXPECT_EQ(report.files_failed, 0u);
  for (const auto* cat : {"process_creation", "file_event", "network_connection"}) {
    const Tally& t = by_category[cat];
    const std::size_t total = t.loaded + t.failed + t.skipped;
    ASSERT_GT(total, 0u) << cat;
    EXPECT_GE(static_cast<double>(t.loaded) / static_cast<double>(total), 0.95)
        << cat << ": " << t.loaded << " of " << total << " loaded";
  }
  EXPECT_EQ(set->size(), report.rules_loaded);
}

}  // namespace
