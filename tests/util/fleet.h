// Fleet integration helpers: a real vigil-collector (VIGIL_COLLECTOR_BIN) and
// real vigil-agent processes (VIGIL_AGENT_BIN) on loopback, and the analyst's
// side of the QueryService (alerts, labels).
#pragma once

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "util/proc.h"
#include "vigil/v1/query.grpc.pb.h"

namespace vigil::test {

// A vigil-collector with its RocksDB in dir/data, plaintext (--insecure), on
// loopback; `extra` flags are added to every start (e.g. --config FILE).
class CollectorProc {
 public:
  explicit CollectorProc(fs::path dir, std::vector<std::string> extra = {})
      : dir_(std::move(dir)), extra_(std::move(extra)) {
    fs::create_directories(dir_);
  }
  // Starts on a free port (again after stop(), on the same data); false if it
  // did not come up.
  bool start() {
    const auto run_dir = dir_ / ("run" + std::to_string(runs_++));
    fs::create_directories(run_dir);
    std::vector<std::string> args{
        VIGIL_COLLECTOR_BIN,      "--listen",   "127.0.0.1:0", "--data-dir",
        (dir_ / "data").string(), "--insecure", "--log-level", "info"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    proc_ = std::make_unique<Proc>(args, run_dir);
    const std::regex re("listening agents=127\\.0\\.0\\.1:(\\d+)");
    return wait_until(
        [&] {
          std::smatch m;
          const auto out = proc_->out();
          if (!std::regex_search(out, m, re)) return false;
          addr_ = "127.0.0.1:" + m[1].str();
          return true;
        },
        15s);
  }
  int stop() {
    kill(proc_->pid(), SIGTERM);
    return proc_->wait();
  }
  [[nodiscard]] const std::string& addr() const { return addr_; }
  [[nodiscard]] std::string err() const { return proc_ ? proc_->err() : ""; }
  [[nodiscard]] std::string out() const { return proc_ ? proc_->out() : ""; }

 private:
  fs::path dir_;
  std::vector<std::string> extra_;
  int runs_ = 0;
  std::unique_ptr<Proc> proc_;
  std::string addr_;
};

// A vigil-agent for host `host` shipping to `collector`: state in
// dir/host/state, alerts in dir/host/alerts.jsonl, counters every second;
// `extra` flags are added (e.g. --probes, --alert-threshold).
class AgentProc {
 public:
  AgentProc(const fs::path& dir, const std::string& host, const std::string& collector,
            std::vector<std::string> extra = {})
      : dir_(dir / host) {
    fs::create_directories(dir_);
    std::vector<std::string> args{VIGIL_AGENT_BIN,
                                  "--host-id",
                                  host,
                                  "--state-dir",
                                  (dir_ / "state").string(),
                                  "--alerts-out",
                                  alerts().string(),
                                  "--collector",
                                  collector,
                                  "--insecure",
                                  "--stats-interval",
                                  "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<Proc>(args, dir_);
  }
  ~AgentProc() { stop(); }
  AgentProc(const AgentProc&) = delete;
  AgentProc& operator=(const AgentProc&) = delete;
  // Waits until it is connected to the collector.
  bool connected() {
    return wait_until(
        [&] { return proc_->err().find("connected to collector") != std::string::npos; }, 60s);
  }
  void stop() {
    if (proc_) {
      kill(proc_->pid(), SIGTERM);
      proc_->wait_for(20s);
      proc_.reset();
    }
  }
  [[nodiscard]] fs::path state() const { return dir_ / "state"; }
  [[nodiscard]] fs::path alerts() const { return dir_ / "alerts.jsonl"; }
  // Every line of --alerts-out that parses (alerts and level changes).
  [[nodiscard]] std::vector<nlohmann::json> alert_lines() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(alerts());
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }
  // The agent's counters (agent-stats.json, every --stats-interval).
  [[nodiscard]] nlohmann::json stats() const {
    auto j = nlohmann::json::parse(slurp(dir_ / "state" / "agent-stats.json"), nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
  [[nodiscard]] std::string err() const { return proc_ ? proc_->err() : ""; }

 private:
  fs::path dir_;
  std::unique_ptr<Proc> proc_;
};

inline std::unique_ptr<v1::QueryService::Stub> query(const std::string& addr) {
  return v1::QueryService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
}

// The stored alerts carrying `indicator`, newest first.
inline std::vector<v1::Alert> alerts_with(const std::string& addr, const std::string& indicator) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::QueryAlertsRequest req;
  req.set_limit(1000);
  v1::QueryAlertsResponse resp;
  std::vector<v1::Alert> out;
  if (!query(addr)->QueryAlerts(&ctx, req, &resp).ok()) return out;
  for (const auto& a : resp.alerts()) {
    if (std::ranges::any_of(a.indicators(), [&](const auto& h) { return h.id() == indicator; })) {
      out.push_back(a);
    }
  }
  return out;
}

// An analyst's label through SubmitFeedback: "benign" or "malicious".
inline grpc::Status label(const std::string& addr, const std::string& alert_id,
                          const std::string& l, const std::string& comment = "vigil test") {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::SubmitFeedbackRequest req;
  req.set_alert_id(alert_id);
  req.set_label(l);
  req.set_comment(comment);
  v1::SubmitFeedbackResponse resp;
  return query(addr)->SubmitFeedback(&ctx, req, &resp);
}

// Runs vigilctl (`bin`) against `collector` (insecure, --timeout 120) in a
// fresh directory under `dir`; returns its exit code, stdout and stderr in `out`.
inline int run_vigilctl(const std::string& bin, const std::filesystem::path& dir,
                        const std::string& collector, const std::vector<std::string>& args,
                        std::string* out = nullptr) {
  std::vector<std::string> argv = {bin, "--collector", collector, "--insecure", "--timeout", "120"};
  argv.insert(argv.end(), args.begin(), args.end());
  static int n = 0;
  const auto run_dir = dir / ("vigilctl-" + std::to_string(++n));
  std::filesystem::create_directories(run_dir);
  Proc p(argv, run_dir);
  const int rc = p.wait();
  if (out != nullptr) *out = p.out() + p.err();
  return rc;
}

}  // namespace vigil::test
