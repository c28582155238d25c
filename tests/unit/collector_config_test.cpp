#include <gtest/gtest.h>

#include <fstream>

#include "util/test_util.h"
#include "vigil/collector/collector.h"

namespace vigil::collector {
namespace {

TEST(CollectorConfig, ShippedExampleParses) {
  CollectorConfig cfg;
  ASSERT_OK(apply_yaml_file(VIGIL_SOURCE_DIR "/deploy/config/collector.yaml", cfg));
  EXPECT_EQ(cfg.listen, "0.0.0.0:7700");
  EXPECT_EQ(cfg.api_listen, "127.0.0.1:7701");
  EXPECT_EQ(cfg.store.retention_age_s, 604800U);
  EXPECT_EQ(cfg.correlation.window_s, 300U);
}

TEST(CollectorConfig, BadInputIsAClearError) {
  CollectorConfig cfg;
  auto r = apply_yaml("listne: 1.2.3.4:5\n", cfg);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unknown key 'listne'"), std::string::npos);
  EXPECT_FALSE(apply_yaml("correlation_min_hosts: 1\n", cfg));
  EXPECT_FALSE(apply_yaml("retention_age_s: soon\n", cfg));
  EXPECT_FALSE(apply_yaml("- a\n- b\n", cfg));
  EXPECT_FALSE(apply_yaml_file("/nonexistent/collector.yaml", cfg));
}

TEST(CollectorConfig, FlagsOverrideTheFile) {
  test::TempDir dir;
  const auto path = dir.path() / "c.yaml";
  {
    std::ofstream out(path);
    out << "listen: 127.0.0.1:1000\ndata_dir: /from/file\n";
  }
  std::vector<std::string> args = {"vigil-collector", "--config",       path.string(),
                                   "--listen",        "127.0.0.1:2000", "--insecure"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto parsed = parse_args(static_cast<int>(argv.size()), argv.data());
  ASSERT_FALSE(parsed.exit_now);
  EXPECT_EQ(parsed.config.listen, "127.0.0.1:2000");
  EXPECT_EQ(parsed.config.data_dir, "/from/file");
}

TEST(CollectorConfig, LogFormatIsValidated) {
  CollectorConfig cfg;
  ASSERT_OK(apply_yaml("log_format: json\nlog_level: debug\n", cfg));
  EXPECT_EQ(cfg.log_format, "json");
  std::vector<std::string> args = {"vigil-collector", "--log-format", "xml"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto parsed = parse_args(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(parsed.exit_now);
  EXPECT_EQ(parsed.exit_code, 2);
}

}  // namespace
}  // namespace vigil::collector
