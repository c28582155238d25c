#include "vigil/agent/output.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "util/test_util.h"

namespace vigil::agent {
namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// logrotate moves the file away, then SIGHUP: the next line lands in a new
// file at the configured path, the rotated file keeps what it had.
TEST(LineSink, ReopenAfterRotationWritesToTheNewFile) {
  test::TempDir dir;
  const auto path = dir.path() / "events.jsonl";
  auto sink = LineSink::open(path.string());
  ASSERT_TRUE(sink);
  (*sink)->write_line("before");
  (*sink)->flush();
  std::filesystem::rename(path, dir.path() / "events.jsonl.1");
  (*sink)->write_line("buffered before the signal");
  ASSERT_TRUE((*sink)->reopen());
  (*sink)->write_line("after");
  (*sink)->flush();
  EXPECT_EQ(read_all(dir.path() / "events.jsonl.1"), "before\nbuffered before the signal\n");
  EXPECT_EQ(read_all(path), "after\n");
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read);
  EXPECT_EQ((*sink)->write_errors(), 0U);
  EXPECT_EQ((*sink)->lines(), 3U);
}

TEST(LineSink, AFailedReopenKeepsTheOldFileAndIsCounted) {
  test::TempDir dir;
  const auto sub = dir.path() / "logs";
  std::filesystem::create_directories(sub);
  auto sink = LineSink::open((sub / "a.jsonl").string());
  ASSERT_TRUE(sink);
  (*sink)->write_line("one");
  std::filesystem::rename(sub, dir.path() / "moved");  // the path cannot be created now
  const auto r = (*sink)->reopen();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("a.jsonl"), std::string::npos) << r.error().message;
  EXPECT_EQ((*sink)->write_errors(), 1U);
  (*sink)->write_line("two");  // still written, to the old file
  (*sink)->flush();
  EXPECT_EQ(read_all(dir.path() / "moved" / "a.jsonl"), "one\ntwo\n");
}

TEST(LineSink, WriteErrorsAreCounted) {
  auto sink = LineSink::open("/dev/full");
  ASSERT_TRUE(sink);
  for (int i = 0; i < 3; ++i) {
    (*sink)->write_line(std::string(8192, 'x'));  // more than stdio buffers
  }
  (*sink)->flush();
  EXPECT_GE((*sink)->write_errors(), 1U);
  EXPECT_TRUE((*sink)->reopen());  // /dev/full opens fine; stdout is never reopened
  auto out = LineSink::open("-");
  ASSERT_TRUE(out);
  EXPECT_TRUE((*out)->reopen());
}

}  // namespace
}  // namespace vigil::agent
