// Image profiles (container-shell-novel): the shared key and shell names, the
// agent's per-image tracker (learning window, novelty, re-alert hold, fleet
// merge, bounds, persistence), the detector hit, and the collector's fleet
// merge on a real RocksDB (persistence across a restart, broadcast, labels).
#include "vigil/agent/image_profiles.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>

#include "util/test_util.h"
#include "vigil/agent/config.h"
#include "vigil/agent/detectors.h"
#include "vigil/collector/collector.h"
#include "vigil/collector/image_profiles.h"
#include "vigil/image_profile.h"

namespace vigil {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kT0 = 1'790'000'000ULL * kSec;

using agent::ImageProfileConfig;
using agent::ImageProfiles;
using Verdict = ImageProfiles::Verdict;

std::shared_ptr<const ContainerInfo> container(std::string id, std::string image,
                                               std::string name = "") {
  auto c = std::make_shared<ContainerInfo>();
  c->id = std::move(id);
  c->runtime = "podman";
  c->image = std::move(image);
  c->name = std::move(name);
  return c;
}

Event exec_in(const std::shared_ptr<const ContainerInfo>& c, std::string exe, std::uint64_t ts,
              std::initializer_list<std::string_view> args = {}) {
  Event e;
  e.type = EventType::kExec;
  e.pid = 4242;
  e.ppid = 1;
  e.ts_ns = ts;
  e.exe = std::move(exe);
  if (args.size() == 0) {
    e.args = {std::string_view(e.exe).substr(e.exe.rfind('/') + 1)};
  } else {
    e.args = args;
  }
  e.container = c;
  e.data = ExecData{.filename = e.exe};
  return e;
}

TEST(ImageProfileKeys, ImagesAreNormalisedToTheirRepository) {
  EXPECT_EQ(normalize_image("nginx"), "docker.io/library/nginx");
  EXPECT_EQ(normalize_image("nginx:1.25"), "docker.io/library/nginx");
  EXPECT_EQ(normalize_image("docker.io/library/nginx@sha256:0123"), "docker.io/library/nginx");
  EXPECT_EQ(normalize_image("docker.io/nginx:latest"), "docker.io/library/nginx");
  EXPECT_EQ(normalize_image("index.docker.io/library/nginx"), "docker.io/library/nginx");
  EXPECT_EQ(normalize_image("bitnami/redis:7.2"), "docker.io/bitnami/redis");
  EXPECT_EQ(normalize_image("quay.io/prometheus/node-exporter:v1.7.0"),
            "quay.io/prometheus/node-exporter");
  EXPECT_EQ(normalize_image("localhost:5000/app:2"), "localhost:5000/app");
  EXPECT_EQ(normalize_image("localhost/vigil-busybox:latest"), "localhost/vigil-busybox");
  EXPECT_EQ(normalize_image("sha256:abcdef"), "sha256:abcdef");
  const std::string id(64, 'a');
  EXPECT_EQ(normalize_image(id), id);

  EXPECT_EQ(image_profile_key("nginx:1", "web-1"), "docker.io/library/nginx");
  EXPECT_EQ(image_profile_key("", "web-1"), "name:web");
  EXPECT_EQ(image_profile_key("", "proj_web_2"), "name:proj_web");
  EXPECT_EQ(image_profile_key("", "db"), "name:db");
  EXPECT_EQ(image_profile_key("", ""), "");
  EXPECT_EQ(image_profile_key("has space", ""), "") << "not a valid key, and no name";
}

TEST(ImageProfileKeys, ShellsAndInterpretersHaveOneCanonicalName) {
  const std::vector<std::string> none;
  EXPECT_EQ(profile_shell_name("/bin/sh", none), "sh");
  EXPECT_EQ(profile_shell_name("/usr/bin/bash", none), "bash");
  EXPECT_EQ(profile_shell_name("/bin/ash", none), "ash");
  EXPECT_EQ(profile_shell_name("/usr/bin/python3.11", none), "python");
  EXPECT_EQ(profile_shell_name("/usr/bin/python3", none), "python");
  EXPECT_EQ(profile_shell_name("/usr/bin/pypy3", none), "python");
  EXPECT_EQ(profile_shell_name("/usr/bin/perl5.36.0", none), "perl");
  EXPECT_EQ(profile_shell_name("/usr/local/bin/node", none), "node");
  EXPECT_EQ(profile_shell_name("/usr/bin/nodejs", none), "node");
  EXPECT_EQ(profile_shell_name("/usr/bin/php8.2", none), "php");
  EXPECT_EQ(profile_shell_name("/usr/bin/luajit", none), "lua");
  EXPECT_EQ(profile_shell_name("/usr/bin/pwsh", none), "pwsh");
  EXPECT_EQ(profile_shell_name("/usr/sbin/php-fpm8.2", none), "") << "a service, not a shell";
  EXPECT_EQ(profile_shell_name("/usr/bin/python-config", none), "");
  EXPECT_EQ(profile_shell_name("/usr/bin/nc", none), "") << "reverse-shell covers nc";
  EXPECT_EQ(profile_shell_name("/bin/ls", none), "");
  // busybox: the applet names the program.
  const std::vector<std::string> busybox_sh = {"busybox", "sh", "-c", "id"};
  const std::vector<std::string> ash = {"ash"};
  const std::vector<std::string> ls = {"ls", "-l"};
  EXPECT_EQ(profile_shell_name("/bin/busybox", busybox_sh), "sh");
  EXPECT_EQ(profile_shell_name("/bin/busybox", ash), "ash");
  EXPECT_EQ(profile_shell_name("/bin/busybox", ls), "");
  EXPECT_EQ(profile_shell_name("/bin/busybox", none), "");
}

TEST(ImageProfileKeys, MergeTakesTheEarliestSightingAndTheUnionOfShells) {
  ImageProfileRecord a{.image = "x", .first_seen_ns = kT0, .shells = {"sh"}};
  const ImageProfileRecord b{.image = "x", .first_seen_ns = kT0 - kSec, .shells = {"bash", "sh"}};
  EXPECT_TRUE(merge_profile(a, b));
  EXPECT_EQ(a.first_seen_ns, kT0 - kSec);
  EXPECT_EQ(a.shells, (std::vector<std::string>{"bash", "sh"}));
  EXPECT_FALSE(merge_profile(a, b)) << "idempotent";
  const ImageProfileRecord later{.image = "x", .first_seen_ns = kT0 + kSec, .shells = {}};
  EXPECT_FALSE(merge_profile(a, later));
  // Bounded.
  ImageProfileRecord many{.image = "x", .first_seen_ns = kT0, .shells = {}};
  for (int i = 0; i < 40; ++i) many.shells.push_back("s" + std::to_string(100 + i));
  std::size_t dropped = 0;
  ImageProfileRecord into{.image = "x", .first_seen_ns = 0, .shells = {}};
  merge_profile(into, many, &dropped);
  EXPECT_EQ(into.shells.size(), kMaxProfileShells);
  EXPECT_EQ(dropped, 40 - kMaxProfileShells);
  EXPECT_TRUE(std::ranges::is_sorted(into.shells));
  EXPECT_TRUE(valid_shell_name("python"));
  EXPECT_FALSE(valid_shell_name("Py"));
  EXPECT_FALSE(valid_profile_key(std::string(kMaxProfileKeyBytes + 1, 'a')));
}

TEST(ImageProfiles, ShellsAreLearnedInTheWindowAndANewOneAfterItIsNovelOnce) {
  ImageProfiles p(
      ImageProfileConfig{.learning_window_s = 600, .max_images = 16, .realert_s = 3600});
  const auto web = container("c1", "nginx:1.25", "web");
  EXPECT_EQ(p.observe(exec_in(web, "/usr/sbin/nginx", kT0)), Verdict::kNone);
  EXPECT_EQ(p.observe(exec_in(web, "/bin/sh", kT0 + 10 * kSec)), Verdict::kLearned);
  EXPECT_EQ(p.observe(exec_in(web, "/bin/sh", kT0 + 700 * kSec)), Verdict::kKnown);
  EXPECT_EQ(p.observe(exec_in(web, "/bin/bash", kT0 + 700 * kSec)), Verdict::kNovel);
  EXPECT_EQ(p.observe(exec_in(web, "/bin/bash", kT0 + 701 * kSec)), Verdict::kHeld)
      << "raised once per (image, shell) per realert_s";
  // Another container of the same image (another tag): same profile.
  const auto web2 = container("c2", "docker.io/library/nginx:1.26", "web-2");
  EXPECT_EQ(p.observe(exec_in(web2, "/bin/bash", kT0 + 800 * kSec)), Verdict::kHeld);
  EXPECT_EQ(p.observe(exec_in(web2, "/usr/bin/python3", kT0 + 800 * kSec)), Verdict::kNovel);
  EXPECT_EQ(p.observe(exec_in(web, "/bin/bash", kT0 + (700 + 3601) * kSec)), Verdict::kNovel)
      << "after realert_s it is raised again";
  const auto* rec = p.find("docker.io/library/nginx");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->first_seen_ns, kT0) << "the first exec of the image, not the first shell";
  EXPECT_EQ(rec->shells, std::vector<std::string>{"sh"}) << "novel shells are not learned";
  EXPECT_EQ(p.stats().learned, 1U);
  EXPECT_EQ(p.stats().novel, 3U);
  EXPECT_EQ(p.stats().held, 2U);
  // Not in a container, or not an exec: nothing.
  auto host = exec_in(web, "/bin/sh", kT0);
  host.container = nullptr;
  EXPECT_EQ(p.observe(host), Verdict::kNone);
}

TEST(ImageProfiles, AWindowOfZeroLearnsNothing) {
  ImageProfiles p(ImageProfileConfig{.learning_window_s = 0});
  const auto c = container("c1", "localhost/app:1");
  // busybox started as sh (argv[0]) is the sh applet; `busybox sh` too.
  EXPECT_EQ(p.observe(exec_in(c, "/bin/busybox", kT0, {"sh", "-c", "id"})), Verdict::kNovel);
  EXPECT_EQ(p.observe(exec_in(c, "/bin/busybox", kT0, {"busybox", "sh"})), Verdict::kHeld);
  EXPECT_EQ(p.observe(exec_in(c, "/bin/sh", kT0)), Verdict::kHeld) << "the same shell: sh";
  EXPECT_EQ(p.observe(exec_in(c, "/bin/ash", kT0)), Verdict::kNovel);
  EXPECT_EQ(p.find("localhost/app")->shells.size(), 0U);
}

TEST(ImageProfiles, TheFleetsProfileStartsTheWindowEarlierAndSilencesItsShells) {
  ImageProfiles p(ImageProfileConfig{.learning_window_s = 600});
  // The fleet has known this image for a day; its containers ran sh.
  p.merge(
      {.image = "docker.io/library/redis", .first_seen_ns = kT0 - 86400 * kSec, .shells = {"sh"}});
  const auto c = container("c9", "redis:7");
  // This host sees it for the first time: the window is long over.
  EXPECT_EQ(p.observe(exec_in(c, "/bin/sh", kT0)), Verdict::kKnown);
  EXPECT_EQ(p.observe(exec_in(c, "/bin/bash", kT0)), Verdict::kNovel);
  EXPECT_EQ(p.find("docker.io/library/redis")->first_seen_ns, kT0 - 86400 * kSec);
  // An analyst labels it benign: the collector's profile learns bash.
  p.merge({.image = "docker.io/library/redis", .first_seen_ns = kT0, .shells = {"bash", "sh"}});
  EXPECT_EQ(p.observe(exec_in(c, "/bin/bash", kT0 + (3601) * kSec)), Verdict::kKnown);
  EXPECT_EQ(p.stats().fleet_merged, 2U);
  // Malformed fleet records are refused.
  p.merge({.image = "bad key", .first_seen_ns = kT0, .shells = {}});
  p.merge({.image = "ok", .first_seen_ns = kT0, .shells = {"Bad Shell"}});
  EXPECT_EQ(p.stats().fleet_refused, 2U);
  EXPECT_EQ(p.find("ok"), nullptr);
}

TEST(ImageProfiles, AContainerWithoutImageOrNameIsReportedOncePerShell) {
  ImageProfiles p;
  const auto anon = container("0123abcd", "");
  EXPECT_EQ(p.observe(exec_in(anon, "/bin/sh", kT0)), Verdict::kUnprofiled);
  EXPECT_EQ(p.observe(exec_in(anon, "/bin/sh", kT0 + kSec)), Verdict::kHeld);
  EXPECT_EQ(p.observe(exec_in(anon, "/bin/ls", kT0 + kSec)), Verdict::kNone);
  EXPECT_EQ(p.observe(exec_in(container("4567", ""), "/bin/sh", kT0)), Verdict::kUnprofiled);
  EXPECT_EQ(p.size(), 0U) << "nothing learned without a key";
  // With only a name, the name (less its replica number) is the key.
  const auto named = container("89ab", "", "worker-3");
  EXPECT_EQ(p.observe(exec_in(named, "/bin/sh", kT0)), Verdict::kLearned);
  EXPECT_NE(p.find("name:worker"), nullptr);
}

TEST(ImageProfiles, BoundedByMaxImagesLeastRecentlySeenFirst) {
  ImageProfiles p(ImageProfileConfig{.learning_window_s = 600, .max_images = 3});
  p.merge({.image = "fleet-only", .first_seen_ns = kT0, .shells = {}});
  p.observe(exec_in(container("a", "img-a"), "/bin/true", kT0 + 1));
  p.observe(exec_in(container("b", "img-b"), "/bin/true", kT0 + 2));
  p.observe(exec_in(container("c", "img-c"), "/bin/true", kT0 + 3));
  EXPECT_EQ(p.size(), 3U);
  EXPECT_EQ(p.find("fleet-only"), nullptr) << "never seen here: evicted first";
  p.observe(exec_in(container("a", "img-a"), "/bin/true", kT0 + 4));  // a seen again
  p.observe(exec_in(container("d", "img-d"), "/bin/true", kT0 + 5));
  EXPECT_EQ(p.size(), 3U);
  EXPECT_EQ(p.find("docker.io/library/img-b"), nullptr) << "the least recently seen";
  EXPECT_NE(p.find("docker.io/library/img-a"), nullptr);
  EXPECT_EQ(p.stats().evicted, 2U);
}

TEST(ImageProfiles, ChangesAreTakenOnceAndEverythingLocalAgainAfterAReconnect) {
  ImageProfiles p(ImageProfileConfig{.learning_window_s = 600});
  p.merge({.image = "fleet-only", .first_seen_ns = kT0, .shells = {"sh"}});
  EXPECT_FALSE(p.has_changes()) << "the fleet's own profiles are not sent back";
  p.observe(exec_in(container("a", "img-a"), "/bin/sh", kT0));
  p.observe(exec_in(container("b", "img-b"), "/bin/true", kT0));
  ASSERT_TRUE(p.has_changes());
  std::vector<ImageProfileRecord> out;
  EXPECT_EQ(p.take_changes(out, 1), 1U) << "at most max per call";
  EXPECT_TRUE(p.has_changes());
  EXPECT_EQ(p.take_changes(out, 10), 1U);
  EXPECT_EQ(p.take_changes(out, 10), 0U);
  EXPECT_FALSE(p.has_changes());
  ASSERT_EQ(out.size(), 2U);
  std::ranges::sort(out, {}, &ImageProfileRecord::image);
  EXPECT_EQ(out[0],
            (ImageProfileRecord{
                .image = "docker.io/library/img-a", .first_seen_ns = kT0, .shells = {"sh"}}));
  EXPECT_TRUE(out[1].shells.empty());
  p.resend_all();
  out.clear();
  EXPECT_EQ(p.take_changes(out, 10), 2U) << "the two seen here, not the fleet's";
}

TEST(ImageProfiles, SavedAndLoadedWithTheirWindows) {
  test::TempDir dir;
  const auto path = dir.path() / "image-profiles.tsv";
  {
    ImageProfiles p(ImageProfileConfig{.learning_window_s = 600});
    p.observe(exec_in(container("a", "img-a"), "/bin/sh", kT0));
    p.merge({.image = "fleet-only", .first_seen_ns = kT0 - kSec, .shells = {"bash", "python"}});
    ASSERT_OK(p.save(path));
  }
  ImageProfiles q(ImageProfileConfig{.learning_window_s = 600});
  ASSERT_OK(q.load(path));
  EXPECT_EQ(q.size(), 2U);
  ASSERT_NE(q.find("fleet-only"), nullptr);
  EXPECT_EQ(q.find("fleet-only")->shells, (std::vector<std::string>{"bash", "python"}));
  // The window is the saved one: a restart does not open a new one.
  const auto a = container("a", "img-a");
  EXPECT_EQ(q.observe(exec_in(a, "/bin/bash", kT0 + 601 * kSec)), Verdict::kNovel);
  EXPECT_EQ(q.observe(exec_in(a, "/bin/sh", kT0 + 601 * kSec)), Verdict::kKnown);
  std::vector<ImageProfileRecord> out;
  q.take_changes(out, 10);
  ASSERT_EQ(out.size(), 1U) << "what this host saw is sent again at the first connect";
  EXPECT_EQ(out[0].image, "docker.io/library/img-a");
  // A damaged file is refused whole; a missing one is empty.
  {
    std::ofstream bad(path, std::ios::trunc);
    bad << "img\tnot-a-number\tL\tsh\n";
  }
  ImageProfiles r;
  EXPECT_FALSE(r.load(path));
  EXPECT_EQ(r.size(), 0U);
  EXPECT_TRUE(r.load(dir.path() / "missing.tsv"));
}

TEST(ImageProfiles, TheStatefulDetectorsRaiseContainerShellNovel) {
  agent::StatefulDetectors d;
  d.image_profiles().set_config({.learning_window_s = 0});
  agent::ProcessTable table(16, "");
  std::vector<const agent::Indicator*> hits;
  const auto c = container("c1", "alpine:3.19", "box");
  d.evaluate(exec_in(c, "/bin/sh", kT0), table, 0, hits);
  ASSERT_FALSE(hits.empty());
  const auto* hit = hits.front();
  EXPECT_EQ(hit->id, "container-shell-novel");
  EXPECT_GE(hit->severity, 50) << "alerts on its own (docs/scoring.md floors)";
  EXPECT_EQ(hit, agent::find_indicator("container-shell-novel"));
  hits.clear();
  d.evaluate(exec_in(c, "/bin/sh", kT0 + kSec), table, 1, hits);
  EXPECT_TRUE(std::ranges::none_of(hits, [](auto* h) { return h->id == "container-shell-novel"; }))
      << "held on this host";
  hits.clear();
  d.evaluate(exec_in(container("c2", ""), "/bin/sh", kT0), table, 2, hits);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits.front()->id, "container-shell-unprofiled");
  EXPECT_LT(hits.front()->severity, 50) << "a hint, never an alert alone";
  for (const auto& i : agent::unslotted_indicators()) {
    EXPECT_TRUE(i.attack.starts_with("T")) << i.id;
    EXPECT_FALSE(i.summary.empty()) << i.id;
  }
}

TEST(ImageProfiles, ConfigKeysAndFlag) {
  agent::AgentConfig cfg;
  EXPECT_EQ(cfg.image_learning_window_s, 600U);
  ASSERT_OK(agent::apply_yaml(
      "image_learning_window_s: 120\nimage_profiles_max: 50\nimage_realert_s: 60\n", cfg));
  EXPECT_EQ(cfg.image_learning_window_s, 120U);
  EXPECT_EQ(cfg.image_profiles_max, 50U);
  EXPECT_EQ(cfg.image_realert_s, 60U);
  cfg.image_profiles_max = 0;
  EXPECT_FALSE(agent::validate(cfg));
  cfg.image_profiles_max = 1;
  cfg.image_learning_window_s = 1ULL << 40;  // would overflow as ns
  EXPECT_FALSE(agent::validate(cfg));
  const char* argv[] = {"vigil-agent", "--image-learning-window", "0"};
  const auto parsed = agent::parse_args(3, argv);
  ASSERT_FALSE(parsed.exit_now);
  EXPECT_EQ(parsed.config.image_learning_window_s, 0U);
  collector::CollectorConfig c;
  ASSERT_OK(collector::apply_yaml("image_profiles_max: 7\nimage_profiles_debounce_ms: 250\n", c));
  EXPECT_EQ(c.image_profiles_max, 7U);
  EXPECT_EQ(c.image_profiles_debounce_ms, 250U);
}

// The collector: a fake link records what reaches agents.
struct FakeFleet {
  std::vector<std::string> connected = {"a", "b"};
  std::vector<std::pair<std::string, v1::ImageProfiles>> sent;
  collector::ImageProfileLink link() {
    return {.connected = [this] { return connected; },
            .send =
                [this](const std::string& id, const v1::ImageProfiles& p) {
                  sent.emplace_back(id, p);
                  return true;
                }};
  }
};

v1::ImageObservations observations(
    std::initializer_list<std::tuple<std::string, std::uint64_t, std::vector<std::string>>> ps) {
  v1::ImageObservations o;
  for (const auto& [image, first, shells] : ps) {
    auto* p = o.add_profiles();
    p->set_image(image);
    p->set_first_seen_ns(first);
    for (const auto& s : shells) p->add_shells(s);
  }
  return o;
}

TEST(CollectorImageProfiles, MergedFleetWideAndKeptAcrossARestart) {
  test::TempDir dir;
  const std::string img = "docker.io/library/nginx";
  {
    auto store = collector::Store::open(dir.path(), {.sync = false});
    ASSERT_OK(store);
    FakeFleet fleet;
    collector::ImageProfileManager m(**store, fleet.link(), {.debounce = std::chrono::seconds(5)});
    ASSERT_OK(m.init());
    auto n = m.observe(observations({{img, kT0, {"sh"}}}), kT0);
    ASSERT_OK(n);
    EXPECT_EQ(*n, 1U);
    n = m.observe(observations({{img, kT0 - 5 * kSec, {"bash", "sh"}}, {"localhost/app", kT0, {}}}),
                  kT0);
    ASSERT_OK(n);
    EXPECT_EQ(*n, 2U);
    n = m.observe(observations({{img, kT0, {"sh"}}}), kT0);  // nothing new
    ASSERT_OK(n);
    EXPECT_EQ(*n, 0U);
    // Malformed records are skipped, the rest merged.
    n = m.observe(observations({{"bad key", kT0, {}}, {img, kT0, {"BASH"}}, {"ok", kT0, {"perl"}}}),
                  kT0);
    ASSERT_OK(n);
    EXPECT_EQ(*n, 1U);
    EXPECT_EQ(m.stats().profiles_refused.load(), 2U);
    // A first sighting from a clock days ahead counts as now.
    ASSERT_OK(m.observe(observations({{"future", kT0 + 10 * 86400 * kSec, {}}}), kT0));
    EXPECT_EQ(m.get("future")->first_seen_ns, kT0);
    // Too many in one message: the stream is refused.
    v1::ImageObservations big;
    for (std::size_t i = 0; i <= kMaxProfilesPerMessage; ++i) {
      big.add_profiles()->set_image("i" + std::to_string(i));
    }
    EXPECT_FALSE(m.observe(big, kT0));
  }
  auto store = collector::Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  FakeFleet fleet;
  collector::ImageProfileManager m(**store, fleet.link());
  ASSERT_OK(m.init());
  EXPECT_EQ(m.size(), 4U);
  const auto rec = m.get(img);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->first_seen_ns, kT0 - 5 * kSec);
  EXPECT_EQ(rec->shells, (std::vector<std::string>{"bash", "sh"}));
  // A hello gets everything.
  m.on_hello("a");
  ASSERT_EQ(fleet.sent.size(), 1U);
  EXPECT_EQ(fleet.sent[0].first, "a");
  EXPECT_EQ(fleet.sent[0].second.profiles_size(), 4);
}

TEST(CollectorImageProfiles, ChangesAreBroadcastDebouncedAndHellosAreChunked) {
  test::TempDir dir;
  auto store = collector::Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  FakeFleet fleet;
  collector::ImageProfileManager m(**store, fleet.link(), {.debounce = std::chrono::seconds(2)});
  ASSERT_OK(m.init());
  const auto t = std::chrono::steady_clock::now();
  m.tick(t);
  EXPECT_TRUE(fleet.sent.empty()) << "nothing changed";
  ASSERT_OK(m.observe(observations({{"img-1", kT0, {"sh"}}}), kT0));
  ASSERT_OK(m.observe(observations({{"img-2", kT0, {}}}), kT0));
  m.tick(t);
  ASSERT_EQ(fleet.sent.size(), 2U) << "one message to each connected agent";
  EXPECT_EQ(fleet.sent[0].second.profiles_size(), 2);
  fleet.sent.clear();
  ASSERT_OK(m.observe(observations({{"img-1", kT0, {"bash"}}}), kT0));
  m.tick(t + std::chrono::seconds(1));
  EXPECT_TRUE(fleet.sent.empty()) << "within the debounce interval";
  m.tick(t + std::chrono::seconds(2));
  ASSERT_EQ(fleet.sent.size(), 2U);
  ASSERT_EQ(fleet.sent[0].second.profiles_size(), 1);
  EXPECT_EQ(fleet.sent[0].second.profiles(0).shells_size(), 2);
  fleet.sent.clear();
  // 2500 profiles: a hello sends them in messages of at most 1000.
  for (int k = 0; k < 3; ++k) {
    v1::ImageObservations o;
    for (int i = 0; i < 1000; ++i) o.add_profiles()->set_image(fmt::format("bulk-{}-{}", k, i));
    ASSERT_OK(m.observe(o, kT0));
  }
  m.on_hello("b");
  ASSERT_EQ(fleet.sent.size(), 4U);
  int total = 0;
  for (const auto& [id, msg] : fleet.sent) {
    EXPECT_LE(msg.profiles_size(), static_cast<int>(kMaxProfilesPerMessage));
    total += msg.profiles_size();
  }
  EXPECT_EQ(total, 3002);
}

TEST(CollectorImageProfiles, ABenignLabelTeachesTheImageItsShell) {
  test::TempDir dir;
  auto store = collector::Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  FakeFleet fleet;
  collector::ImageProfileManager m(**store, fleet.link(), {.max_images = 10});
  ASSERT_OK(m.init());
  v1::Alert alert;
  alert.set_id("a:run-1");
  alert.set_agent_id("a");
  alert.add_indicators()->set_id("novel-parent-child");
  alert.add_indicators()->set_id("container-shell-novel");
  auto* e = alert.mutable_event();
  e->set_type("exec");
  e->set_ts_ns(kT0);
  e->set_exe("/bin/busybox");
  e->mutable_exec()->add_args("busybox");
  e->mutable_exec()->add_args("sh");
  e->mutable_container()->set_image("localhost/vigil-busybox:latest");
  e->mutable_container()->set_name("box");
  auto r = m.on_label(alert, "malicious", kT0);
  ASSERT_OK(r);
  EXPECT_FALSE(*r) << "only benign teaches";
  r = m.on_label(alert, "benign", kT0 + kSec);
  ASSERT_OK(r);
  EXPECT_TRUE(*r);
  const auto rec = m.get("localhost/vigil-busybox");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->shells, std::vector<std::string>{"sh"});
  EXPECT_EQ(rec->first_seen_ns, kT0);
  EXPECT_EQ(m.stats().learned_from_labels.load(), 1U);
  r = m.on_label(alert, "benign", kT0 + kSec);
  ASSERT_OK(r);
  EXPECT_FALSE(*r) << "known already";
  // Another indicator's alert teaches nothing.
  v1::Alert other = alert;
  other.clear_indicators();
  other.add_indicators()->set_id("reverse-shell");
  r = m.on_label(other, "benign", kT0);
  ASSERT_OK(r);
  EXPECT_FALSE(*r);
  // Bounded: new images beyond max_images are not kept.
  v1::ImageObservations o;
  for (int i = 0; i < 20; ++i) o.add_profiles()->set_image(fmt::format("img-{}", i));
  ASSERT_OK(m.observe(o, kT0));
  EXPECT_EQ(m.size(), 10U);
  EXPECT_EQ(m.stats().over_max.load(), 11U);
}

}  // namespace
}  // namespace vigil
