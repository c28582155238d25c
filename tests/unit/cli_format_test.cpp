#include <gtest/gtest.h>

#include "vigil/cli/format.h"

namespace vigil::cli {
namespace {

TEST(CliFormat, Durations) {
  EXPECT_EQ(parse_duration("90s"), 90U);
  EXPECT_EQ(parse_duration("15m"), 900U);
  EXPECT_EQ(parse_duration("2h"), 7200U);
  EXPECT_EQ(parse_duration("7d"), 604800U);
  EXPECT_EQ(parse_duration("42"), 42U);
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("m"));
  EXPECT_FALSE(parse_duration("1.5h"));
  EXPECT_FALSE(parse_duration("-3s"));
  EXPECT_FALSE(parse_duration("10y"));
}

TEST(CliFormat, AgentTextIsMadeSafeForTheTerminal) {
  EXPECT_EQ(printable("calm"), "calm");
  EXPECT_EQ(printable("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(printable("a\rb\nc\x7f"), "a\\x0db\\x0ac\\x7f");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x96\x81"), "caf\xc3\xa9 \xe2\x96\x81");  // UTF-8 kept
  EXPECT_EQ(printable("\xc2\x9b"
                      "2J"),
            "\\u009b2J");                          // C1 CSI
  EXPECT_EQ(printable("\xff\xc3"), "\\xff\\xc3");  // not UTF-8
  Table t({"LEVEL"});
  t.add({"\x1b]0;pwned\x07<b>x</b>"});
  const auto out = t.render();
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
}

TEST(CliFormat, TimesAndAges) {
  EXPECT_EQ(format_time(0), "-");
  EXPECT_EQ(format_time(1'790'000'000ULL * 1'000'000'000ULL), "2026-09-21 14:13:20");
  const std::uint64_t now = 1'790'000'000ULL * 1'000'000'000ULL;
  EXPECT_EQ(format_age(now - 5'000'000'000ULL, now), "5s ago");
  EXPECT_EQ(format_age(now - 600'000'000'000ULL, now), "10m ago");
  EXPECT_EQ(format_age(0, now), "never");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(3 << 20), "3.0 MiB");
}

TEST(CliFormat, TableAlignsColumnsAndCutsLongCells) {
  Table t({"HOST", "SCORE"});
  t.add({"web-1", "75"});
  t.add({"a-much-longer-host", "5"});
  EXPECT_EQ(t.render(),
            "HOST                SCORE\nweb-1               75\na-much-longer-host  5\n");
  Table cut({"X", "Y"});
  cut.add({"abcdefghij", "z"});
  EXPECT_EQ(cut.render(5), "X      Y\nabcd…  z\n");
  EXPECT_EQ(sparkline({0, 7, 14}), "▁▄█");
}

}  // namespace
}  // namespace vigil::cli
