// vigil-loadgen: emulates N agents streaming realistic event mixes to a
// collector over real gRPC (AgentService.Connect), for tests and benchmarks.
// Each emulated agent says hello, sends batches at its rate, and counts acks;
// at the end one JSON line reports what was sent, acked and how fast.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "vigil/clock.h"
#include "vigil/v1/agent.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Totals {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> refused{0};  // streams the collector refused (limits, validation)
  std::mutex mu;
  std::vector<double> ack_latency_ms;
};

// With --containers N: half the events come from one of N pods (Kubernetes
// names, namespaces and images, as an agent's container table reports them).
void set_container(std::uint64_t k, vigil::v1::Container& c) {
  static const char* kNamespaces[] = {"payments", "shop", "kube-system"};
  c.set_id(fmt::format("{:064x}", k + 1));
  c.set_runtime("containerd");
  c.set_name(fmt::format("app-{}", k));
  c.set_image(fmt::format("registry.local/app-{}:1.{}", k % 3, k));
  c.set_pod(fmt::format("app-{}-7f9c", k));
  c.set_pod_uid(fmt::format("00000000-0000-4000-8000-{:012x}", k));
  c.set_k8s_ns(kNamespaces[k % std::size(kNamespaces)]);
}

// A plausible host's mix: mostly process lifecycle, then sockets and files, a
// few scored events and XDP summaries.
void fill_event(std::mt19937_64& rng, std::uint64_t seq, int containers, vigil::v1::Event& e) {
  static const char* kExes[] = {"/usr/bin/bash",    "/usr/bin/ls",
                                "/usr/sbin/sshd",   "/usr/bin/curl",
                                "/usr/bin/python3", "/usr/lib/systemd/systemd-journald"};
  e.Clear();
  e.set_seq(seq);
  e.set_ts_ns(vigil::unix_now_ns());
  e.set_pid(static_cast<std::uint32_t>(1000 + rng() % 30000));
  e.set_ppid(static_cast<std::uint32_t>(1 + rng() % 1000));
  e.set_uid(rng() % 4 == 0 ? 0 : 1000);
  e.set_euid(e.uid());
  const char* exe = kExes[rng() % std::size(kExes)];
  e.set_exe(exe);
  e.set_comm(std::string(exe).substr(std::string(exe).rfind('/') + 1).substr(0, 15));
  const auto pick = rng() % 100;
  if (pick < 30) {
    e.set_type("exec");
    e.mutable_exec()->set_filename(exe);
    e.mutable_exec()->add_args(e.comm());
    e.mutable_exec()->add_args("--flag");
  } else if (pick < 50) {
    e.set_type("fork");
    e.mutable_fork()->set_child_pid(e.pid() + 1);
  } else if (pick < 70) {
    e.set_type("exit");
    e.mutable_exit()->set_lifetime_ns(rng() % 1'000'000'000);
  } else if (pick < 85) {
    e.set_type("connect");
    auto* s = e.mutable_socket();
    s->set_family("ipv4");
    s->set_proto("tcp");
    s->set_laddr("10.0.0.5");
    s->set_lport(static_cast<std::uint32_t>(30000 + rng() % 30000));
    s->set_raddr(fmt::format("192.0.2.{}", rng() % 250));
    s->set_rport(443);
  } else if (pick < 97) {
    e.set_type("file");
    e.mutable_file()->set_op("write");
    e.mutable_file()->set_path(fmt::format("/etc/cron.d/job{}", rng() % 10));
  } else if (pick < 99) {
    e.set_type("ptrace");
    e.mutable_ptrace()->set_request("PTRACE_ATTACH");
    e.mutable_ptrace()->set_target_pid(e.pid() + 7);
    e.set_score(75);
    auto* ind = e.add_indicators();
    ind->set_id("ptrace-attach");
    ind->set_attack("T1055.008");
    ind->set_severity(75);
    e.set_alert_id(fmt::format("lg-{}", seq));  // an alert, as an agent raises it
  } else {
    e.set_type("net_summary");
    auto* n = e.mutable_net_summary();
    n->set_src(fmt::format("198.51.100.{}", rng() % 250));
    n->add_reasons("periodic");
    n->set_pkts(rng() % 10000);
    n->set_window_ms(1000);
  }
  e.set_summary(fmt::format("{} pid={} comm={}", e.type(), e.pid(), e.comm()));
  if (containers > 0 && e.type() != "net_summary" && rng() % 2 == 0) {
    set_container(rng() % static_cast<std::uint64_t>(containers), *e.mutable_container());
  }
}

void run_agent(const std::string& target, int index, double rate, std::size_t batch,
               std::chrono::seconds duration, const std::string& prefix, int containers,
               Totals& totals) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = vigil::v1::AgentService::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->Connect(&ctx);
  std::mt19937_64 rng(static_cast<std::uint64_t>(index) * 7919 + 1);
  vigil::v1::AgentMessage msg;
  auto* hello = msg.mutable_hello();
  hello->set_agent_id(fmt::format("{}-{}", prefix, index));
  hello->set_host_id(fmt::format("{}-host-{}", prefix, index));
  hello->set_version("loadgen");
  hello->set_kernel("emulated");
  hello->set_spool_id(std::random_device{}() | 1ULL);
  if (!stream->Write(msg)) {
    ++totals.failures;
    return;
  }
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, Clock::time_point>> in_flight;  // last seq, sent at
  std::thread reader([&] {
    vigil::v1::CollectorMessage in;
    std::uint64_t prev = 0;
    while (stream->Read(&in)) {
      if (in.has_refusal()) {
        ++totals.refused;
        continue;
      }
      if (!in.has_ack()) {
        continue;
      }
      const auto now = Clock::now();
      std::lock_guard lock(mu);
      totals.acked += in.ack().seq() - std::min(prev, in.ack().seq());
      prev = std::max(prev, in.ack().seq());
      std::erase_if(in_flight, [&](const auto& f) {
        if (f.first > in.ack().seq()) return false;
        std::lock_guard tl(totals.mu);
        totals.ack_latency_ms.push_back(
            std::chrono::duration<double, std::milli>(now - f.second).count());
        return true;
      });
    }
  });
  const auto start = Clock::now();
  const auto end = start + duration;
  std::uint64_t seq = 0;
  double owed = 0;
  auto last = start;
  while (Clock::now() < end) {
    const auto now = Clock::now();
    owed += rate * std::chrono::duration<double>(now - last).count();
    last = now;
    if (owed < static_cast<double>(batch)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    const auto n = static_cast<std::size_t>(std::min(owed, static_cast<double>(batch)));
    owed -= static_cast<double>(n);
    auto* b = msg.mutable_batch();
    b->Clear();
    b->set_first_seq(seq + 1);
    for (std::size_t i = 0; i < n; ++i) {
      fill_event(rng, ++seq, containers, *b->add_events());
    }
    b->set_last_seq(seq);
    {
      std::lock_guard lock(mu);
      in_flight.emplace_back(seq, Clock::now());
    }
    if (!stream->Write(msg)) {
      ++totals.failures;
      break;
    }
    totals.sent += n;
  }
  // Give the last acks a moment, then close.
  const auto wait_until = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < wait_until) {
    {
      std::lock_guard lock(mu);
      if (in_flight.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stream->WritesDone();
  ctx.TryCancel();
  reader.join();
  (void)stream->Finish();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigil-loadgen: emulate agents streaming events to vigil-collector"};
  std::string collector = "127.0.0.1:7700";
  int agents = 10;
  double rate = 1000;
  std::size_t batch = 500;
  int duration_s = 10;
  std::string prefix = "loadgen";
  bool insecure = false;
  app.add_option("--collector", collector, "collector HOST:PORT");
  app.add_flag("--insecure", insecure,
               "plaintext gRPC: the load generator only speaks plaintext, to a collector "
               "started with --insecure");
  app.add_option("--agents", agents, "emulated agents")->check(CLI::Range(1, 10000));
  app.add_option("--rate", rate, "events per second per agent")->check(CLI::Range(1.0, 1e7));
  app.add_option("--batch", batch, "events per batch")->check(CLI::Range(1, 10000));
  app.add_option("--duration", duration_s, "seconds to run")->check(CLI::Range(1, 86400));
  app.add_option("--prefix", prefix, "agent id prefix");
  int containers = 0;
  app.add_option("--containers", containers,
                 "half the events from this many Kubernetes pods (default 0: the host's only)")
      ->check(CLI::Range(0, 100000));
  CLI11_PARSE(app, argc, argv);

  Totals totals;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(agents));
  for (int i = 0; i < agents; ++i) {
    threads.emplace_back(run_agent, collector, i, rate, batch, std::chrono::seconds(duration_s),
                         prefix, containers, std::ref(totals));
  }
  for (auto& t : threads) {
    t.join();
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  auto& lat = totals.ack_latency_ms;
  std::ranges::sort(lat);
  auto pct = [&](double p) {
    return lat.empty()
               ? 0.0
               : lat[std::min(lat.size() - 1,
                              static_cast<std::size_t>(p * static_cast<double>(lat.size())))];
  };
  fmt::print(
      "{{\"agents\":{},\"seconds\":{:.2f},\"sent\":{},\"acked\":{},\"failures\":{},"
      "\"refused\":{},\"acked_per_s\":{:.0f},\"ack_ms_p50\":{:.2f},\"ack_ms_p99\":{:.2f}}}\n",
      agents, secs, totals.sent.load(), totals.acked.load(), totals.failures.load(),
      totals.refused.load(), static_cast<double>(totals.acked.load()) / secs, pct(0.5), pct(0.99));
  return totals.failures.load() == 0 && totals.acked.load() == totals.sent.load() ? 0 : 1;
}
