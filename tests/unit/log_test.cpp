#include "vigil/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace vigil::log {
namespace {

TEST(Log, JsonLinesAreValidJsonWithEscapes) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("vigil-test", sink);
  logger.set_formatter(make_json_formatter());
  logger.info("probe {} \"attached\"\n\tpath=C:\\x \x01 ünï", "process");
  logger.warn("second");
  logger.flush();

  std::istringstream lines(out.str());
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const auto j = nlohmann::json::parse(line);  // throws (fails the test) if not JSON
  EXPECT_EQ(j.at("level"), "info");
  EXPECT_EQ(j.at("logger"), "vigil-test");
  EXPECT_EQ(j.at("msg"), "probe process \"attached\"\n\tpath=C:\\x \x01 ünï");
  const std::string ts = j.at("ts");
  ASSERT_EQ(ts.size(), 24U) << ts;  // 2026-11-24T12:00:00.123Z
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts.back(), 'Z');
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_EQ(nlohmann::json::parse(line).at("level"), "warning");
  EXPECT_FALSE(std::getline(lines, line));
}

TEST(Log, LevelsAndFormatsAreValidated) {
  EXPECT_TRUE(validate_logging("debug", "json"));
  EXPECT_TRUE(validate_logging("off", "text"));
  auto bad_level = validate_logging("verbose", "text");
  ASSERT_FALSE(bad_level);
  EXPECT_NE(bad_level.error().message.find("log_level 'verbose'"), std::string::npos);
  auto bad_format = validate_logging("info", "xml");
  ASSERT_FALSE(bad_format);
  EXPECT_NE(bad_format.error().message.find("log_format 'xml' must be text or json"),
            std::string::npos);
}

}  // namespace
}  // namespace vigil::log
