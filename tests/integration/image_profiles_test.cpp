// Image profiles fleet-wide (container-shell-novel, docs/detections.md): a real
// vigil-collector and
//   - agents played over real gRPC (no root): observations merge, a benign
//     label on a container-shell-novel alert teaches the image its shell, the
//     merged profiles reach every agent (all at hello, changes debounced) and
//     survive a collector restart;
//   - two real vigil-agent processes on rootful podman (root; images made
//     locally by tests/container/build-images.sh, nothing pulled): host A,
//     whose window is 0, alerts on a shell in a container; an analyst labels
//     the alert benign; host B, which never saw the image, does not alert on
//     that shell there, and still alerts on another shell there and on the
//     same shell in another image nobody labelled.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "util/fleet.h"
#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/clock.h"
#include "vigil/v1/agent.grpc.pb.h"
#include "vigil/v1/query.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::alerts_with;
using vigil::test::label;
using vigil::test::Proc;
using Collector = vigil::test::CollectorProc;
using RealAgent = vigil::test::AgentProc;
using vigil::test::slurp;
using vigil::test::wait_until;
using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kShellNovel = "container-shell-novel";

// One agent's stream, played: a hello, then what the test sends; a reader
// thread keeps the image profiles and acks the collector sends.
class PlayedAgent {
 public:
  PlayedAgent(const std::string& collector, const std::string& id)
      : stub_(vigil::v1::AgentService::NewStub(
            grpc::CreateChannel(collector, grpc::InsecureChannelCredentials()))) {
    ctx_.set_deadline(std::chrono::system_clock::now() + 120s);
    stream_ = stub_->Connect(&ctx_);
    vigil::v1::AgentMessage hello;
    hello.mutable_hello()->set_agent_id(id);
    hello.mutable_hello()->set_host_id(id);
    hello.mutable_hello()->set_version("image-profiles-test");
    hello.mutable_hello()->set_spool_id(7);
    stream_->Write(hello);
    reader_ = std::thread([this] {
      vigil::v1::CollectorMessage in;
      while (stream_->Read(&in)) {
        std::lock_guard lock(mu_);
        if (in.has_ack()) acked_ = std::max(acked_, in.ack().seq());
        if (in.has_refusal()) refusals_.push_back(in.refusal().reason());
        if (in.has_image_profiles()) {
          for (const auto& p : in.image_profiles().profiles()) profiles_[p.image()] = p;
          ++profile_messages_;
        }
      }
    });
  }
  ~PlayedAgent() {
    stream_->WritesDone();
    reader_.join();
    stream_->Finish();
  }
  bool observe(const std::vector<std::tuple<std::string, std::uint64_t, std::vector<std::string>>>&
                   profiles) {
    vigil::v1::AgentMessage msg;
    for (const auto& [image, first, shells] : profiles) {
      auto* p = msg.mutable_image_observations()->add_profiles();
      p->set_image(image);
      p->set_first_seen_ns(first);
      for (const auto& s : shells) p->add_shells(s);
    }
    return stream_->Write(msg);
  }
  // True once the collector acked the event.
  bool send(vigil::v1::Event e) {
    vigil::v1::AgentMessage msg;
    auto* batch = msg.mutable_batch();
    e.set_seq(++seq_);
    batch->set_first_seq(seq_);
    batch->set_last_seq(seq_);
    *batch->add_events() = std::move(e);
    if (!stream_->Write(msg)) return false;
    return wait_until(
        [&] {
          std::lock_guard lock(mu_);
          return acked_ >= seq_;
        },
        10s);
  }
  std::optional<vigil::v1::ImageProfile> profile(const std::string& image) {
    std::lock_guard lock(mu_);
    auto it = profiles_.find(image);
    return it == profiles_.end() ? std::nullopt : std::optional(it->second);
  }
  bool has_shell(const std::string& image, const std::string& shell) {
    const auto p = profile(image);
    return p && std::ranges::find(p->shells(), shell) != p->shells().end();
  }
  std::vector<std::string> refusals() {
    std::lock_guard lock(mu_);
    return refusals_;
  }

 private:
  std::unique_ptr<vigil::v1::AgentService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<vigil::v1::AgentMessage, vigil::v1::CollectorMessage>>
      stream_;
  std::thread reader_;
  std::mutex mu_;
  std::uint64_t seq_ = 0;
  std::uint64_t acked_ = 0;
  std::map<std::string, vigil::v1::ImageProfile> profiles_;
  int profile_messages_ = 0;
  std::vector<std::string> refusals_;
};

TEST(ImageProfilesFleet, ObservationsMergeABenignLabelTeachesAndProfilesSurviveARestart) {
  vigil::test::TempDir dir;
  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start()) << collector.err();
  const auto now = vigil::unix_now_ns();
  const std::string app = "localhost/app";
  {
    PlayedAgent a(collector.addr(), "ip-host-a");
    ASSERT_TRUE(a.observe({{"docker.io/library/nginx", now - 3600'000'000'000ULL, {}},
                           {"docker.io/library/redis", now, {"sh"}}}));
    // Host a raised container-shell-novel: sh in localhost/app.
    vigil::v1::Event e;
    e.set_type("exec");
    e.set_ts_ns(now);
    e.set_pid(4242);
    e.set_comm("sh");
    e.set_exe("/bin/sh");
    e.set_score(70);
    e.set_alert_id("run1-1");
    auto* hit = e.add_indicators();
    hit->set_id(kShellNovel);
    hit->set_attack("T1059");
    hit->set_severity(70);
    e.mutable_exec()->add_args("sh");
    e.mutable_exec()->add_args("-c");
    e.mutable_exec()->add_args("id");
    e.mutable_container()->set_id(std::string(64, 'c'));
    e.mutable_container()->set_image("localhost/app:1.2");
    e.mutable_container()->set_name("app-1");
    ASSERT_TRUE(a.send(e));

    // Host b knows the fleet's profiles from its hello on.
    PlayedAgent b(collector.addr(), "ip-host-b");
    ASSERT_TRUE(wait_until([&] { return b.has_shell("docker.io/library/redis", "sh"); }, 10s));
    const auto nginx = b.profile("docker.io/library/nginx");
    ASSERT_TRUE(nginx);
    EXPECT_EQ(nginx->first_seen_ns(), now - 3600'000'000'000ULL);
    EXPECT_EQ(nginx->shells_size(), 0);
    EXPECT_FALSE(b.profile(app)) << "nothing learned about localhost/app yet";

    // The analyst: benign. The fleet's profile learns sh; b hears of it.
    std::vector<vigil::v1::Alert> found;
    ASSERT_TRUE(wait_until(
        [&] {
          found = alerts_with(collector.addr(), kShellNovel);
          return !found.empty();
        },
        10s));
    EXPECT_EQ(found[0].id(), "ip-host-a:run1-1");
    ASSERT_TRUE(label(collector.addr(), found[0].id(), "benign").ok());
    EXPECT_TRUE(wait_until([&] { return b.has_shell(app, "sh"); }, 10s))
        << "the change reaches connected agents (debounced)";
    EXPECT_TRUE(wait_until([&] { return a.has_shell(app, "sh"); }, 10s));
    // A later observation only adds.
    ASSERT_TRUE(a.observe({{app, now + 5, {"python"}}}));
    EXPECT_TRUE(wait_until([&] { return b.has_shell(app, "python"); }, 10s));
    EXPECT_TRUE(b.has_shell(app, "sh"));
    EXPECT_TRUE(a.refusals().empty());
    EXPECT_TRUE(b.refusals().empty());
  }
  ASSERT_EQ(collector.stop(), 0) << collector.err();
  ASSERT_TRUE(collector.start()) << collector.err();
  PlayedAgent c(collector.addr(), "ip-host-c");
  ASSERT_TRUE(wait_until([&] { return c.has_shell(app, "python"); }, 10s))
      << "the fleet's profiles are in RocksDB";
  EXPECT_TRUE(c.has_shell(app, "sh"));
  EXPECT_TRUE(c.has_shell("docker.io/library/redis", "sh"));
  const auto app_profile = c.profile(app);
  ASSERT_TRUE(app_profile);
  EXPECT_EQ(app_profile->first_seen_ns(), now);
}

// --- Two real agents on a real runtime --------------------------------------

constexpr const char* kPodman = "/usr/bin/podman";
constexpr const char* kBusyboxImage = "localhost/vigil-test-busybox:latest";
constexpr const char* kLabel = "vigil.test=image_profiles_test";

struct Cmd {
  int rc = -1;
  std::string out, err;
};

Cmd run(const fs::path& dir, std::vector<std::string> argv, std::chrono::milliseconds deadline) {
  static int calls = 0;
  const auto out_dir = dir / "calls" / std::to_string(calls++);
  fs::create_directories(out_dir);
  Proc p(std::move(argv), out_dir);
  Cmd r;
  if (const auto rc = p.wait_for(deadline)) r.rc = *rc;
  r.out = p.out();
  r.err = p.err();
  return r;
}

Cmd podman(const fs::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {kPodman, "--runtime", "runc"});
  return run(dir, std::move(args), 30s);
}

// Alert lines of an agent's --alerts-out carrying `indicator` whose event's
// comm is `comm`.
std::vector<Json> agent_alerts(const fs::path& path, const std::string& indicator,
                               const std::string& container_id, const std::string& comm) {
  std::vector<Json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("indicators")) continue;
    const auto& e = j.contains("event") ? j["event"] : j;
    if (!e.contains("container") || e["container"].value("id", "") != container_id) continue;
    if (e.value("comm", "") != comm) continue;
    for (const auto& i : j["indicators"]) {
      if (i.value("id", "") == indicator) {
        out.push_back(j);
        break;
      }
    }
  }
  return out;
}

// A real agent on this host: process probes only, no image learning window.
std::vector<std::string> real_agent_flags(const fs::path& config) {
  return {"--config", config.string(), "--probes", "process", "--image-learning-window", "0"};
}

TEST(ImageProfilesFleet, ABenignLabelOnOneHostSilencesTheShellOnAnother) {
  REQUIRE_ROOT_OR_SKIP();
  ASSERT_TRUE(fs::exists(kPodman)) << "podman is missing: sudo deploy/install-deps.sh";
  vigil::test::TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  const auto images =
      run(dir.path(),
          {"/bin/bash", std::string(VIGIL_SOURCE_DIR) + "/tests/container/build-images.sh"}, 120s);
  ASSERT_EQ(images.rc, 0) << images.out << images.err;
  const auto stale =
      podman(dir.path(), {"ps", "--all", "--quiet", "--filter", std::string("label=") + kLabel});
  std::istringstream stale_ids(stale.out);
  for (std::string id; stale_ids >> id;) podman(dir.path(), {"rm", "--force", "--time", "0", id});

  // The runtime's API, for names and images.
  const auto socket = dir.path() / "podman.sock";
  fs::create_directories(dir.path() / "service");
  Proc service(
      {kPodman, "--runtime", "runc", "system", "service", "--time=0", "unix://" + socket.string()},
      dir.path() / "service");
  ASSERT_TRUE(wait_until([&] { return fs::exists(socket); }, 20s)) << service.err();
  const auto config = dir.path() / "agent.yaml";
  std::ofstream(config) << "containers:\n  runtime_sockets: [\"podman:unix://" << socket.string()
                        << "\"]\n";

  Collector collector(dir.path() / "collector");
  ASSERT_TRUE(collector.start()) << collector.err();

  // Image names of this run's own (tags of the busybox image): other tests'
  // containers of the busybox image (their shells) must not teach or hold
  // these profiles. The second image is the control: nobody labels it.
  struct Container {
    fs::path dir;
    std::string name;
    std::string image;
    std::string id;
    ~Container() {
      podman(dir, {"rm", "--force", "--time", "0", name});
      // With no name, `podman untag` strips every name of the image, the
      // shared busybox image's own included: name the one to remove.
      podman(dir, {"untag", image, image});
    }
  };
  const auto start = [&](const std::string& name) {
    auto c = std::make_unique<Container>(
        Container{dir.path(), name, "localhost/" + name + ":latest", ""});
    EXPECT_EQ(podman(dir.path(), {"tag", kBusyboxImage, c->image}).rc, 0);
    const auto r = podman(dir.path(), {"run", "--detach", "--pull=never", "--name", name, "--label",
                                       kLabel, c->image, "sleep", "300"});
    EXPECT_EQ(r.rc, 0) << r.err;
    c->id = r.out.substr(0, r.out.find_first_of(" \n"));
    return c;
  };
  const auto labelled = start("vigil-ip-" + std::to_string(getpid()));
  const auto other = start("vigil-ip-" + std::to_string(getpid()) + "-other");
  ASSERT_EQ(labelled->id.size(), 64U);
  ASSERT_EQ(other->id.size(), 64U);
  const std::string& id = labelled->id;
  const std::string& image = labelled->image;
  const auto exec_in = [&](const Container& c, std::vector<std::string> command) {
    std::vector<std::string> args = {"exec", c.name};
    args.insert(args.end(), command.begin(), command.end());
    return podman(dir.path(), args).rc;
  };
  const auto exec = [&](std::vector<std::string> command) {
    return exec_in(*labelled, std::move(command));
  };

  // Host A: its window is 0, so the first sh it sees there is novel (the
  // first execs may come before the runtime named the image: then they are
  // unprofiled, a hint below the threshold).
  {
    RealAgent a(dir.path(), "vigil-ip-a", collector.addr(), real_agent_flags(config));
    ASSERT_TRUE(a.connected()) << a.err();
    ASSERT_TRUE(wait_until(
        [&] {
          exec({"/bin/sh", "-c", "true"});
          return !agent_alerts(a.alerts(), kShellNovel, id, "sh").empty();
        },
        30s))
        << "host A did not raise " << kShellNovel << ":\n"
        << slurp(a.alerts()) << a.err();
    // The collector has the alert; the analyst says benign.
    // (Other tests' containers on this machine may alert on host A too.)
    std::vector<vigil::v1::Alert> found;
    ASSERT_TRUE(wait_until(
        [&] {
          found = alerts_with(collector.addr(), kShellNovel);
          std::erase_if(found, [&](const auto& a) { return a.event().container().id() != id; });
          return !found.empty();
        },
        15s));
    EXPECT_EQ(found[0].agent_id(), "vigil-ip-a");
    EXPECT_EQ(found[0].event().container().image(), image);
    ASSERT_TRUE(label(collector.addr(), found[0].id(), "benign").ok());
    a.stop();
  }

  // Host B: never saw the image; the fleet's profile (sh, labelled benign)
  // arrives on connect.
  RealAgent b(dir.path(), "vigil-ip-b", collector.addr(), real_agent_flags(config));
  ASSERT_TRUE(b.connected()) << b.err();
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = b.stats();
        return s.contains("image_profiles") && s["image_profiles"].value("fleet_merged", 0) > 0;
      },
      20s))
      << "no fleet profile reached host B: " << b.stats().dump();
  // The control first: ash, which the image never ran, alerts on B (which
  // also shows B knows the container's image by now).
  ASSERT_TRUE(wait_until(
      [&] {
        exec({"/bin/busybox", "ash", "-c", "true"});
        return !agent_alerts(b.alerts(), kShellNovel, id, "busybox").empty();
      },
      30s))
      << "host B did not raise " << kShellNovel << " for ash:\n"
      << slurp(b.alerts()) << b.err();
  // And sh in the other image, which nobody labelled, alerts on B.
  ASSERT_TRUE(wait_until(
      [&] {
        exec_in(*other, {"/bin/sh", "-c", "true"});
        return !agent_alerts(b.alerts(), kShellNovel, other->id, "sh").empty();
      },
      30s))
      << "host B did not raise " << kShellNovel << " for sh in the unlabelled image:\n"
      << slurp(b.alerts()) << b.err();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(exec({"/bin/sh", "-c", "true"}), 0);
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(agent_alerts(b.alerts(), kShellNovel, id, "sh").empty())
      << "sh was labelled benign fleet-wide in " << image << ":\n"
      << slurp(b.alerts());
  const auto s = b.stats();
  EXPECT_GE(s["image_profiles"].value("shells_seen", 0), 4) << s.dump();
}

}  // namespace
