#include "vigil/agent/pipeline.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "util/records.h"
#include "util/test_util.h"

namespace vigil::agent {
namespace {

std::vector<std::string> read_lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

TEST(Pipeline, DecodesEnrichesAndWritesJsonLines) {
  test::TempDir dir;
  const auto out = dir.path() / "events.jsonl";
  ProcessTable table(100, "");
  Pipeline p("host-a", table, 0);
  auto sink = LineSink::open(out.string());
  ASSERT_OK(sink);
  p.set_events(std::make_unique<EventWriter>(std::move(*sink), OutputFormat::kJson));

  p.on_record(test::bytes_of(test::make_exec(50, "/usr/bin/env", {"env", "true"})));
  p.on_record(std::vector<std::byte>(3));  // garbage in between
  p.on_record(test::bytes_of(test::make_exit(50, 7)));
  p.on_batch_end();

  auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_NE(lines[0].find("\"type\":\"exec\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"host\":\"host-a\""), std::string::npos);
  EXPECT_NE(lines[1].find("\"type\":\"exit\""), std::string::npos);
  EXPECT_NE(lines[1].find("\"exe\":\"/usr/bin/env\""), std::string::npos)
      << "exit is enriched with the exe seen at exec";
  EXPECT_NE(lines[1].find("\"exit_code\":7"), std::string::npos);
  EXPECT_EQ(p.decode_stats().errors(), 1U);
  EXPECT_EQ(p.stats().records, 3U);
  EXPECT_EQ(p.stats().events_out, 2U);
}

TEST(Pipeline, OneDrainIsProcessedInKernelTimeOrderAcrossRingBuffers) {
  test::TempDir dir;
  const auto out = dir.path() / "events.jsonl";
  ProcessTable table(100, "");
  Pipeline p("h", table, 0);
  auto sink = LineSink::open(out.string());
  ASSERT_OK(sink);
  p.set_events(std::make_unique<EventWriter>(std::move(*sink), OutputFormat::kJson));
  // The exit (read first, as if from another ring buffer) happened after the exec.
  auto exit = test::make_exit(60, 0);
  exit.hdr.ts_ns = 2'000'000'000;
  auto exec = test::make_exec(60, "/usr/bin/true", {"true"});
  exec.hdr.ts_ns = 1'000'000'000;
  p.on_record(test::bytes_of(exit));
  p.on_record(test::bytes_of(exec));
  EXPECT_EQ(p.stats().events_out, 0U) << "nothing is processed before the drain ends";
  p.on_batch_end();
  auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_NE(lines[0].find("\"type\":\"exec\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"exe\":\"/usr/bin/true\""), std::string::npos)
      << "the exit is enriched by the exec it followed: " << lines[1];
}

TEST(Pipeline, CountsEventsByTypeAndMeasuresKernelToOutputLatency) {
  ProcessTable table(100, "");
  Pipeline p("h", table, 0);
  // Stamped 2 ms before now on the kernel's clock, as a record read late would be.
  auto exec = test::make_exec(70, "/usr/bin/true", {"true"});
  exec.hdr.ts_ns = static_cast<std::uint64_t>(boot_now_ns() - 2'000'000);
  auto exit = test::make_exit(70, 0);
  exit.hdr.ts_ns = exec.hdr.ts_ns + 1;
  p.on_record(test::bytes_of(exec));
  p.on_record(test::bytes_of(exit));
  EXPECT_EQ(p.event_latency().count(), 0U) << "measured when the drain's output is flushed";
  p.on_batch_end();
  EXPECT_EQ(p.stats().by_type[static_cast<std::size_t>(EventType::kExec)], 1U);
  EXPECT_EQ(p.stats().by_type[static_cast<std::size_t>(EventType::kExit)], 1U);
  EXPECT_EQ(p.stats().by_type[static_cast<std::size_t>(EventType::kFork)], 0U);
  ASSERT_EQ(p.event_latency().count(), 2U);
  EXPECT_GE(p.event_latency().quantile_ns(0.5), 2'000'000U);
  EXPECT_LT(p.event_latency().max_ns(), 2'000'000'000U) << "seconds would mean a wrong clock";
  EXPECT_EQ(p.alert_latency().count(), 0U) << "no alert was raised";
}

// A model may score events without any indicator above 0 (evolved models cap
// them at 19); with a threshold below that, such an event is still no alert:
// an alert names what fired.
TEST(Pipeline, AnEventWithoutAnIndicatorIsNeverAnAlert) {
  test::TempDir dir;
  const auto out = dir.path() / "alerts.jsonl";
  ProcessTable table(100, "");
  Pipeline p("h", table, 0);
  auto sink = LineSink::open(out.string());
  ASSERT_OK(sink);
  p.set_alerts(std::move(*sink), OutputFormat::kJson, 0);
  auto m = baseline_model()->proto();
  m.mutable_combiner()->set_bias(10);  // everything scores 100 ...
  m.set_cap_without_indicators(30);    // ... but 30 without an indicator
  auto model = ScoringModel::load(m);
  ASSERT_OK(model);
  p.set_model(*model);
  p.on_record(test::bytes_of(test::make_exec(80, "/usr/bin/true", {"true"})));
  p.on_batch_end();
  EXPECT_EQ(p.stats().alerts, 0U);
  EXPECT_TRUE(read_lines(out).empty());
  // The same model alerts on an event with one.
  p.on_record(test::bytes_of(test::make_exec(81, "/tmp/dropped", {"dropped"})));
  p.on_batch_end();
  EXPECT_EQ(p.stats().alerts, 1U);
}

TEST(LineSink, UnwritableTargetIsAClearError) {
  auto sink = LineSink::open("/nonexistent-dir/x.jsonl");
  ASSERT_FALSE(sink);
  EXPECT_NE(sink.error().message.find("/nonexistent-dir/x.jsonl"), std::string::npos);
}

TEST(LineSink, AppendsNeverTruncates) {
  test::TempDir dir;
  const auto out = dir.path() / "a.jsonl";
  std::ofstream(out) << "earlier\n";
  {
    auto sink = LineSink::open(out.string());
    ASSERT_OK(sink);
    (*sink)->write_line("later");
  }
  EXPECT_EQ(read_lines(out), (std::vector<std::string>{"earlier", "later"}));
}

}  // namespace
}  // namespace vigil::agent
