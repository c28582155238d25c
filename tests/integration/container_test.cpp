// Containers on a real runtime: the real vigil-agent (real probes) watching
// rootful podman with runc run containers made locally from busybox-static
// (tests/container/build-images.sh; nothing is pulled: every run says
// --pull=never). The agent asks podman's API (`podman system service` on a
// socket of this test's own) for names and images.
//   - exec, file and network events in a container carry its id, name and
//     image, and its cgroup is the one the kernel names;
//   - events on the host carry no container;
//   - a shell in a container whose image never ran one alerts, one in an
//     image whose workload runs shells does not;
//   - a container started privileged or in the host's namespaces alerts;
//   - a namespace escape (nsenter into the host's namespaces) alerts;
//   - a write to the host's root filesystem through a bind mount alerts.
// Runtime facts (deploy/install-deps.sh): crun refuses a hybrid cgroup layout,
// runc does not; where root cannot raise RLIMIT_NOFILE, containers.conf needs
// `default_ulimits = []`. One agent serves every test the process runs (ctest
// runs one per process); every podman call has a deadline, and every
// container is removed in TearDown.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/proc.h"
#include "util/test_util.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;
using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kPodman = "/usr/bin/podman";
// tests/container/build-images.sh
constexpr const char* kBusyboxImage = "localhost/vigil-test-busybox:latest";
constexpr const char* kSleeperImage = "localhost/vigil-test-sleeper:latest";
constexpr const char* kShellAppImage = "localhost/vigil-test-shellapp:latest";
// Every container this suite makes carries it, so a crashed run's leftovers
// are found and removed by the next one.
constexpr const char* kLabel = "vigil.test=container_test";
// An image's shells are learned for this long after its first sighting.
constexpr auto kLearningWindow = 3s;

// Indicator ids: agent/src/indicators.cpp and the rules' names (rules/vigil/).
constexpr const char* kShellNovel = "container-shell-novel";
constexpr const char* kPrivileged = "container-privileged";
constexpr const char* kHostPidIpc = "container-host-namespaces";
constexpr const char* kHostNet = "container-host-network";
constexpr const char* kNsEscape = "namespace-escape";
constexpr const char* kHostMountNs = "container-exec-host-mount-ns";
constexpr const char* kHostWrite = "container-host-write";
constexpr const char* kHostWriteSensitive = "container-host-write-sensitive";

struct CmdResult {
  int rc = -1;  // -1: killed at its deadline
  std::string out, err;
};

// The event of a scored line, or the line itself (an --events-out line).
const Json& event_of(const Json& j) { return j.contains("event") ? j["event"] : j; }

std::string container_field(const Json& j, const char* field) {
  const auto& e = event_of(j);
  if (!e.contains("container") || !e["container"].is_object()) return {};
  return e["container"].value(field, "");
}

// An event's host_ns (a number or a boolean), when it has one.
std::optional<bool> host_ns(const Json& j) {
  const auto& e = event_of(j);
  if (!e.contains("host_ns")) return std::nullopt;
  const auto& v = e["host_ns"];
  return v.is_boolean() ? v.get<bool>() : v.get<int>() != 0;
}

bool has_indicator(const Json& j, const std::string& id) {
  if (!j.contains("indicators")) return false;
  for (const auto& i : j["indicators"]) {
    if (i.value("id", "") == id) return true;
  }
  return false;
}

bool has_any_indicator(const Json& j, const std::set<std::string>& ids) {
  if (!j.contains("indicators")) return false;
  for (const auto& i : j["indicators"]) {
    if (ids.contains(i.value("id", ""))) return true;
  }
  return false;
}

// The cgroup2 mount (the unified hierarchy; /sys/fs/cgroup/unified on a
// hybrid layout).
fs::path cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    return mount_point;
  }
  return {};
}

// A directory on the host's root filesystem (not a tmpfs /tmp): the target
// of a bind mount whose writes are writes to the host's root filesystem.
std::optional<fs::path> dir_on_root_fs() {
  struct stat root {};
  if (::stat("/", &root) != 0) return std::nullopt;
  for (const char* base : {"/var/tmp", "/var/lib", "/root"}) {
    std::string tmpl = std::string(base) + "/vigil-ct-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) continue;
    struct stat st {};
    if (::stat(tmpl.c_str(), &st) == 0 && st.st_dev == root.st_dev) return fs::path(tmpl);
    fs::remove_all(tmpl);
  }
  return std::nullopt;
}

// Lines appended to a JSONL file, read incrementally. The agent's event
// output holds everything the host does; only lines that name a container,
// this suite (`vigil-ct`) or conmon are parsed and kept.
class JsonlTail {
 public:
  explicit JsonlTail(fs::path path) : path_(std::move(path)) {}
  const std::vector<Json>& poll() {
    std::ifstream in(path_);
    if (!in) return kept_;
    in.seekg(offset_);
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // a partial line: read again next time
      offset_ += static_cast<std::streamoff>(line.size() + 1);
      if (line.find("\"container\":{") == std::string::npos &&
          line.find("vigil-ct") == std::string::npos &&
          line.find("\"comm\":\"conmon\"") == std::string::npos) {
        continue;
      }
      auto j = Json::parse(line, nullptr, false);
      if (!j.is_discarded()) kept_.push_back(std::move(j));
    }
    return kept_;
  }

 private:
  fs::path path_;
  std::streamoff offset_ = 0;
  std::vector<Json> kept_;
};

// What the whole suite shares: one podman API service, one agent.
struct Suite {
  vigil::test::TempDir dir;
  std::unique_ptr<Proc> service;
  std::unique_ptr<Proc> agent;
  std::unique_ptr<JsonlTail> events;
  fs::path cgroup2;
  int calls = 0;  // for per-call output directories

  [[nodiscard]] fs::path scored() const { return dir.path() / "scored.jsonl"; }
  [[nodiscard]] fs::path events_path() const { return dir.path() / "events.jsonl"; }
  [[nodiscard]] fs::path socket() const { return dir.path() / "podman.sock"; }

  // Runs argv with a deadline; killed (rc -1) when it passes.
  CmdResult run(std::vector<std::string> argv, std::chrono::milliseconds deadline = 30s) {
    const auto out_dir = dir.path() / "calls" / std::to_string(calls++);
    fs::create_directories(out_dir);
    Proc p(std::move(argv), out_dir);
    CmdResult r;
    if (const auto rc = p.wait_for(deadline)) r.rc = *rc;  // else ~Proc kills it
    r.out = p.out();
    r.err = p.err();
    return r;
  }
  CmdResult podman(std::vector<std::string> args, std::chrono::milliseconds deadline = 30s) {
    args.insert(args.begin(), {kPodman, "--runtime", "runc"});
    return run(std::move(args), deadline);
  }
};
Suite* g_suite = nullptr;

class PodmanContainers : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    if (g_suite == nullptr) return;
    if (g_suite->agent) {
      kill(g_suite->agent->pid(), SIGTERM);
      EXPECT_EQ(g_suite->agent->wait_for(20s), std::optional<int>(0)) << g_suite->agent->err();
    }
    if (g_suite->service) {
      kill(g_suite->service->pid(), SIGTERM);
      g_suite->service->wait_for(10s);
    }
    delete g_suite;
    g_suite = nullptr;
  }

  void SetUp() override {
    REQUIRE_ROOT_OR_SKIP();
    ASSERT_TRUE(fs::exists(kPodman)) << "podman is missing: sudo deploy/install-deps.sh";
    if (g_suite == nullptr) {
      g_suite = new Suite();
      start_suite();
    }
    ASSERT_TRUE(g_suite->agent && g_suite->events) << "the suite did not start";
  }

  void TearDown() override {
    if (g_suite == nullptr || containers_.empty()) return;
    std::vector<std::string> args = {"rm", "--force", "--time", "0"};
    args.insert(args.end(), containers_.begin(), containers_.end());
    const auto r = s().podman(args);
    EXPECT_EQ(r.rc, 0) << r.err;
  }

  static Suite& s() { return *g_suite; }

  // The images, the podman API service, the agent.
  static void start_suite() {
    auto& st = s();
    fs::permissions(st.dir.path(), fs::perms::owner_all | fs::perms::group_read |
                                       fs::perms::group_exec | fs::perms::others_read |
                                       fs::perms::others_exec);
    st.cgroup2 = cgroup2_mount();
    ASSERT_FALSE(st.cgroup2.empty()) << "no cgroup2 mount";

    const auto images = st.run(
        {"/bin/bash", std::string(VIGIL_SOURCE_DIR) + "/tests/container/build-images.sh"}, 120s);
    ASSERT_EQ(images.rc, 0) << images.out << images.err;
    // Leftovers of a run that crashed before its TearDown.
    const auto stale =
        st.podman({"ps", "--all", "--quiet", "--filter", std::string("label=") + kLabel});
    std::istringstream ids(stale.out);
    for (std::string id; ids >> id;) st.podman({"rm", "--force", "--time", "0", id});

    fs::create_directories(st.dir.path() / "service");
    st.service = std::make_unique<Proc>(
        std::vector<std::string>{kPodman, "--runtime", "runc", "system", "service", "--time=0",
                                 "unix://" + st.socket().string()},
        st.dir.path() / "service");
    ASSERT_TRUE(wait_until([&] { return fs::exists(st.socket()); }, 20s)) << st.service->err();

    const auto config = st.dir.path() / "agent.yaml";
    std::ofstream(config) << "containers:\n  runtime_sockets: [\"podman:unix://"
                          << st.socket().string() << "\"]\n";
    fs::create_directories(st.dir.path() / "agent");
    st.agent = std::make_unique<Proc>(
        std::vector<std::string>{VIGIL_AGENT_BIN, "--config", config.string(), "--probes",
                                 "process,network,file", "--events-out", st.events_path().string(),
                                 "--alerts-out", st.scored().string(), "--alert-threshold", "1",
                                 "--state-dir", (st.dir.path() / "state").string(),
                                 "--stats-interval", "0", "--image-learning-window",
                                 std::to_string(std::chrono::seconds(kLearningWindow).count())},
        st.dir.path() / "agent");
    ASSERT_TRUE(wait_until(
        [&] { return st.agent->err().find("running on host") != std::string::npos; }, 60s))
        << st.agent->err();
    st.events = std::make_unique<JsonlTail>(st.events_path());
  }

  // A unique container name for this test run.
  static std::string unique_name(const std::string& what) {
    static std::random_device rd;
    return "vigil-ct-" + std::to_string(getpid()) + "-" + what + "-" +
           std::to_string(rd() % 100000);
  }

  // `podman run --detach`: the container's full id ("" on failure).
  std::string start(const std::string& name, const std::vector<std::string>& options,
                    const std::string& image, const std::vector<std::string>& command = {}) {
    std::vector<std::string> args = {"run", "--detach", "--pull=never", "--name",
                                     name,  "--label",  kLabel};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(image);
    args.insert(args.end(), command.begin(), command.end());
    containers_.push_back(name);
    const auto r = s().podman(args);
    EXPECT_EQ(r.rc, 0) << "podman run " << name << ": " << r.err;
    std::string id = r.out.substr(0, r.out.find_first_of(" \n"));
    EXPECT_EQ(id.size(), 64U) << "podman printed: " << r.out;
    return id;
  }
  // `podman exec NAME COMMAND...`; its exit status.
  int exec(const std::string& name, const std::vector<std::string>& command) {
    std::vector<std::string> args = {"exec", name};
    args.insert(args.end(), command.begin(), command.end());
    const auto r = s().podman(args);
    return r.rc;
  }

  // Event lines (--events-out) matching pred, once one is there or at timeout.
  std::vector<Json> wait_events(const std::function<bool(const Json&)>& pred,
                                std::chrono::milliseconds timeout = 10s) {
    std::vector<Json> found;
    wait_until(
        [&] {
          found.clear();
          for (const auto& j : s().events->poll()) {
            if (pred(j)) found.push_back(j);
          }
          return !found.empty();
        },
        timeout);
    return found;
  }
  // Scored lines carrying one of `ids` and matching pred.
  static std::vector<Json> alerts(const std::set<std::string>& ids,
                                  const std::function<bool(const Json&)>& pred) {
    std::vector<Json> out;
    std::ifstream in(s().scored());
    std::string line;
    while (std::getline(in, line)) {
      auto j = Json::parse(line, nullptr, false);
      if (!j.is_discarded() && has_any_indicator(j, ids) && pred(j)) out.push_back(j);
    }
    return out;
  }
  std::vector<Json> wait_alerts(const std::set<std::string>& ids,
                                const std::function<bool(const Json&)>& pred,
                                std::chrono::milliseconds timeout = 10s) {
    std::vector<Json> found;
    wait_until(
        [&] {
          found = alerts(ids, pred);
          return !found.empty();
        },
        timeout);
    return found;
  }
  static std::function<bool(const Json&)> in_container(const std::string& id) {
    return [id](const Json& j) { return container_field(j, "id") == id; };
  }

  // The agent knows the container's name and image: its events carry them
  // (the runtime is asked off the event path, so the first ones may not).
  void wait_enriched(const std::string& name, const std::string& id) {
    const bool ok = wait_until(
        [&] {
          exec(name, {"/bin/busybox", "true"});
          return !wait_events(
                      [&](const Json& j) {
                        return container_field(j, "id") == id &&
                               !container_field(j, "image").empty() &&
                               !container_field(j, "name").empty();
                      },
                      500ms)
                      .empty();
        },
        15s);
    ASSERT_TRUE(ok) << "no event of " << name << " names its image";
  }

  static std::string dump_alerts() { return slurp(s().scored()); }

  std::vector<std::string> containers_;  // removed in TearDown
};

TEST_F(PodmanContainers, ExecFileAndNetworkEventsCarryTheContainersIdAndName) {
  const auto name = unique_name("attr");
  const auto id = start(name, {}, kBusyboxImage, {"sleep", "60"});
  ASSERT_EQ(id.size(), 64U);
  // The cgroup the kernel names (bpf_get_current_cgroup_id) is the container's
  // cgroup2 directory: libpod_parent/libpod-ID with the cgroupfs manager.
  struct stat cg {};
  const auto cg_dir = s().cgroup2 / "libpod_parent" / ("libpod-" + id);
  ASSERT_EQ(::stat(cg_dir.c_str(), &cg), 0) << cg_dir;
  // The runtime is asked off the event path: a container's first events may
  // precede the answer.
  wait_enriched(name, id);

  // A shell (exec), a write to a file the agent watches by name (file), a
  // connect to the container's own loopback (network; refused is fine).
  ASSERT_EQ(exec(name, {"/bin/sh", "-c",
                        "echo vigil-ct >> /root/.bashrc; nc -w 1 127.0.0.1 9 </dev/null; true"}),
            0);

  const auto check = [&](const char* type, const std::function<bool(const Json&)>& pred) {
    const auto found = wait_events([&](const Json& j) {
      return j.value("type", "") == type && j.value("cgroup_id", 0ULL) == cg.st_ino && pred(j);
    });
    ASSERT_FALSE(found.empty()) << "no " << type << " event in cgroup " << cg.st_ino;
    for (const auto& j : found) {
      EXPECT_EQ(container_field(j, "id"), id) << j.dump();
      EXPECT_EQ(container_field(j, "name"), name) << j.dump();
      EXPECT_EQ(container_field(j, "image"), kBusyboxImage) << j.dump();
      EXPECT_EQ(container_field(j, "runtime"), "podman") << j.dump();
      EXPECT_NE(host_ns(j), std::optional<bool>(true)) << j.dump();
    }
  };
  check("exec", [](const Json& j) { return j.value("comm", "") == "sh"; });
  check("file", [](const Json& j) { return j.value("path", "").ends_with("/.bashrc"); });
  check("connect", [](const Json& j) { return j.value("comm", "") == "nc"; });
}

TEST_F(PodmanContainers, HostEventsCarryNoContainer) {
  // A marker run on the host, and podman's own processes (on the host, naming
  // a container on their command lines): no container on any of them.
  const auto name = unique_name("host");
  const auto id = start(name, {}, kBusyboxImage, {"sleep", "60"});
  ASSERT_EQ(id.size(), 64U);
  const auto marker = s().dir.path() / "vigil-ct-host-marker";
  fs::copy_file("/bin/true", marker, fs::copy_options::overwrite_existing);
  ASSERT_EQ(s().run({marker.string()}).rc, 0);
  ASSERT_EQ(exec(name, {"/bin/busybox", "true"}), 0);

  const auto host = wait_events([&](const Json& j) {
    return j.value("type", "") == "exec" && j.value("exe", "") == marker.string();
  });
  ASSERT_FALSE(host.empty()) << "the marker's exec is missing";
  for (const auto& j : host) {
    EXPECT_FALSE(j.contains("container")) << j.dump();
    EXPECT_NE(host_ns(j), std::optional<bool>(false)) << j.dump();
  }
  const auto podman = wait_events([&](const Json& j) {
    return j.value("comm", "") == "podman" && j.dump().find(name) != std::string::npos;
  });
  ASSERT_FALSE(podman.empty()) << "podman exec " << name << " is missing";
  for (const auto& j : podman) EXPECT_FALSE(j.contains("container")) << j.dump();
  // conmon, the container's monitor, lives in a cgroup of its own beside it.
  const auto conmon = wait_events([&](const Json& j) {
    return j.value("comm", "") == "conmon" && j.dump().find(id) != std::string::npos;
  });
  ASSERT_FALSE(conmon.empty()) << "conmon of " << name << " is missing";
  for (const auto& j : conmon) EXPECT_FALSE(j.contains("container")) << j.dump();
}

TEST_F(PodmanContainers, ShellInAnImageThatNeverRanOneAlerts) {
  // Two images first seen now: one whose workload is `busybox sleep` (never a
  // shell), one whose workload starts a shell every second. Once both are past
  // their learning window, a shell exec'd into each: only the first is novel.
  const auto sleeper = unique_name("sleeper");
  const auto sleeper_id = start(sleeper, {}, kSleeperImage);
  const auto app = unique_name("shellapp");
  const auto app_id = start(app, {}, kShellAppImage);
  ASSERT_EQ(sleeper_id.size(), 64U);
  ASSERT_EQ(app_id.size(), 64U);
  // The images are seen (and the window starts) once their containers' events
  // carry the image, which the runtime API gives.
  wait_enriched(sleeper, sleeper_id);
  wait_enriched(app, app_id);
  std::this_thread::sleep_for(kLearningWindow + 1500ms);

  ASSERT_EQ(exec(app, {"/bin/sh", "-c", "true"}), 0);
  ASSERT_EQ(exec(sleeper, {"/bin/sh", "-c", "true"}), 0);
  const auto hits = wait_alerts({kShellNovel}, in_container(sleeper_id));
  ASSERT_FALSE(hits.empty()) << dump_alerts();
  const auto& e = event_of(hits.front());
  EXPECT_EQ(e.value("type", ""), "exec") << e.dump();
  EXPECT_EQ(e.value("comm", ""), "sh") << e.dump();
  EXPECT_EQ(container_field(hits.front(), "name"), sleeper);
  EXPECT_EQ(container_field(hits.front(), "image"), kSleeperImage);
  // The sleeper's alert came after the other exec: that one was judged already.
  for (const auto& j : alerts({kShellNovel}, in_container(app_id))) {
    ADD_FAILURE() << "a shell in an image that runs shells: " << j.dump();
  }
}

TEST_F(PodmanContainers, PrivilegedOrHostNamespaceContainerStartAlerts) {
  // A plain container first (the control), then one privileged and one in
  // each of the host's pid, net and ipc namespaces.
  const std::set<std::string> all = {kPrivileged, kHostPidIpc, kHostNet};
  const auto plain_id = start(unique_name("plain"), {}, kBusyboxImage, {"sleep", "60"});
  struct Case {
    std::string option, indicator, id;
  };
  std::vector<Case> cases = {{"--privileged", kPrivileged, ""},
                             {"--pid=host", kHostPidIpc, ""},
                             {"--net=host", kHostNet, ""},
                             {"--ipc=host", kHostPidIpc, ""}};
  for (auto& c : cases) {
    c.id = start(unique_name(c.option.substr(2, 3)), {c.option}, kBusyboxImage, {"sleep", "60"});
  }
  for (const auto& c : cases) {
    const auto hits = wait_alerts({c.indicator}, in_container(c.id));
    EXPECT_FALSE(hits.empty()) << "podman run " << c.option << ": no " << c.indicator << "\n"
                               << dump_alerts();
    for (const auto& j : hits) {
      EXPECT_EQ(event_of(j).value("type", ""), "exec") << j.dump();
    }
  }
  // Only --privileged gives escape-grade capabilities.
  for (const auto& c : cases) {
    if (c.option == "--privileged") continue;
    EXPECT_TRUE(alerts({kPrivileged}, in_container(c.id)).empty())
        << "podman run " << c.option << ":\n"
        << dump_alerts();
  }
  EXPECT_TRUE(alerts(all, in_container(plain_id)).empty()) << dump_alerts();
}

TEST_F(PodmanContainers, NamespaceEscapeFromAPrivilegedContainerAlerts) {
  // `nsenter -t HOSTPID -m` from a privileged container in the host's pid
  // namespace: the classic escape. The target is this test (a host process):
  // pid 1's namespaces may be closed even to root (they are on the CI VM).
  const auto name = unique_name("escape");
  const auto id = start(name, {"--privileged", "--pid=host"}, kBusyboxImage, {"sleep", "60"});
  ASSERT_EQ(id.size(), 64U);
  // The control: a new mount namespace of its own is no escape. Both by their
  // applet links, so that their comm is their name.
  ASSERT_EQ(exec(name, {"/bin/unshare", "-m", "--", "/bin/true"}), 0);
  ASSERT_EQ(exec(name, {"/bin/nsenter", "-t", std::to_string(getpid()), "-m", "--", "/bin/true"}),
            0);
  const auto hits = wait_alerts({kNsEscape}, in_container(id));
  ASSERT_FALSE(hits.empty()) << dump_alerts();
  for (const auto& j : hits) {
    EXPECT_EQ(event_of(j).value("type", ""), "ns_change") << j.dump();
    EXPECT_EQ(event_of(j).value("comm", ""), "nsenter") << j.dump();
    EXPECT_EQ(container_field(j, "name"), name);
  }
  // What nsenter then ran is a program of the container's in the host's
  // mount namespace.
  const auto ran = wait_alerts({kHostMountNs}, in_container(id));
  ASSERT_FALSE(ran.empty()) << dump_alerts();
  for (const auto& j : ran) {
    EXPECT_EQ(event_of(j).value("exe", ""), "/bin/true") << j.dump();
  }
  for (const auto& j : alerts({kNsEscape, kHostMountNs}, in_container(id))) {
    EXPECT_NE(event_of(j).value("comm", ""), "unshare") << j.dump();
  }
}

TEST_F(PodmanContainers, WriteToTheHostFilesystemThroughABindMountAlerts) {
  const auto host_dir = dir_on_root_fs();
  ASSERT_TRUE(host_dir) << "no directory on the root filesystem to bind-mount";
  struct Cleanup {
    fs::path p;
    ~Cleanup() { fs::remove_all(p); }
  } cleanup{*host_dir};
  const auto name = unique_name("mount");
  const auto id =
      start(name, {"--volume", host_dir->string() + ":/host"}, kBusyboxImage, {"sleep", "60"});
  ASSERT_EQ(id.size(), 64U);
  // The control, the container's own filesystem, first; then the host's.
  ASSERT_EQ(exec(name, {"/bin/sh", "-c", "echo vigil-ct >> /root/.profile"}), 0);
  ASSERT_EQ(exec(name, {"/bin/sh", "-c", "echo vigil-ct >> /host/.bashrc"}), 0);
  ASSERT_TRUE(fs::exists(*host_dir / ".bashrc"));

  // A start-up file of a user, not one that controls the host: the medium rule.
  const auto hits = wait_alerts({kHostWrite, kHostWriteSensitive}, in_container(id));
  ASSERT_FALSE(hits.empty()) << dump_alerts();
  for (const auto& j : hits) {
    const auto& e = event_of(j);
    EXPECT_TRUE(has_indicator(j, kHostWrite)) << j.dump();
    EXPECT_EQ(e.value("type", ""), "file") << e.dump();
    // The path on the host's filesystem, not the one the container named.
    EXPECT_EQ(e.value("path", ""), (*host_dir / ".bashrc").string()) << e.dump();
  }
  // Seen: the write to the container's own .profile is an event, no alert.
  EXPECT_FALSE(wait_events([&](const Json& j) {
                 return j.value("type", "") == "file" &&
                        j.value("path", "").ends_with("/.profile") &&
                        container_field(j, "id") == id;
               }).empty());
}

}  // namespace
