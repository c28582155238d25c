// Evasion variants end to end: real vigil-agent and vigil-collector processes,
// real probes, real gRPC on loopback.
//   - names that are not UTF-8 (an executable and a credential file with a
//     \xff byte) reach the agent's JSON output and the collector escaped;
//   - a padded argv keeps its last argument, flagged as truncated;
//   - a message that does not parse (a non-UTF-8 proto3 string) is counted and
//     refused by the collector, not ended as if the agent had hung up.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/sync_stream.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>

#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/v1/agent.grpc.pb.h"
#include "vigil/v1/query.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;
namespace fs = std::filesystem;

// The loopback address a process printed after `key` (empty if not yet).
std::string printed_addr(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(key + "(127\\.0\\.0\\.1:\\d+)"))) return {};
  return m[1].str();
}

class CollectorProc {
 public:
  explicit CollectorProc(const fs::path& dir) : dir_(dir) {
    fs::create_directories(dir / "run");
    proc_ = std::make_unique<Proc>(
        std::vector<std::string>{VIGIL_COLLECTOR_BIN, "--listen", "127.0.0.1:0", "--data-dir",
                                 (dir / "data").string(), "--insecure", "--metrics-listen",
                                 "127.0.0.1:0", "--log-level", "warn"},
        dir / "run");
  }
  ~CollectorProc() {
    kill(proc_->pid(), SIGTERM);
    proc_->wait_for(20s);
  }
  bool up() {
    return wait_until(
        [&] {
          addr_ = printed_addr(proc_->out(), "listening agents=");
          metrics_ = printed_addr(proc_->out(), "metrics=");
          return !addr_.empty() && !metrics_.empty();
        },
        10s);
  }
  [[nodiscard]] const std::string& addr() const { return addr_; }
  // One sample of the collector's /metrics (-1 if absent).
  double metric(const std::string& series) {
    Proc curl({"/usr/bin/curl", "-sf", "http://" + metrics_ + "/metrics"}, dir_ / "run");
    if (curl.wait() != 0) return -1;
    std::istringstream in(curl.out());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
  }
  [[nodiscard]] std::string err() const { return proc_->err(); }

 private:
  fs::path dir_;
  std::unique_ptr<Proc> proc_;
  std::string addr_;
  std::string metrics_;
};

// Runs `argv` (argv[0] is the path) to completion; returns its pid.
pid_t run(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

// The first JSON event line of `file` matching `pred`.
std::optional<nlohmann::json> find_event(const fs::path& file,
                                         const std::function<bool(const nlohmann::json&)>& pred) {
  std::optional<nlohmann::json> found;
  wait_until(
      [&] {
        std::ifstream in(file);
        std::string line;
        while (std::getline(in, line)) {
          auto j = nlohmann::json::parse(line, nullptr, false);
          if (!j.is_discarded() && pred(j)) {
            found = std::move(j);
            return true;
          }
        }
        return false;
      },
      5s);
  return found;
}

class EvasionTest : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_ROOT_OR_SKIP(); }
  vigil::test::TempDir dir_;
};

TEST_F(EvasionTest, NonUtf8NamesReachTheOutputAndTheCollectorEscaped) {
  CollectorProc collector(dir_.path() / "collector");
  ASSERT_TRUE(collector.up()) << collector.err();
  const auto events = dir_.path() / "events.jsonl";
  fs::create_directories(dir_.path() / "agent-run");
  Proc agent({VIGIL_AGENT_BIN, "--probes", "process,file", "--events-out", events.string(),
              "--collector", collector.addr(), "--insecure", "--host-id", "evasion-h",
              "--state-dir", (dir_.path() / "state").string(), "--stats-interval", "0"},
             dir_.path() / "agent-run");
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("running on host") != std::string::npos; }, 20s))
      << agent.err();

  // An executable whose name has a byte that is not UTF-8, run with such an
  // argument, reading a private key in a directory with such a name.
  const std::string bad = "\xff";
  const auto exe = dir_.path() / ("vigil-" + bad + "-cat");
  fs::copy_file("/usr/bin/cat", exe);
  const auto keydir = dir_.path() / ("k" + bad);
  fs::create_directories(keydir);
  std::ofstream(keydir / "id_rsa") << "-----BEGIN OPENSSH PRIVATE KEY-----\n";
  const pid_t pid = run({exe.string(), (keydir / "id_rsa").string()});

  const std::string exe_escaped = dir_.path().string() + "/vigil-\\xFF-cat";
  const std::string key_escaped = dir_.path().string() + "/k\\xFF/id_rsa";
  auto ex = find_event(
      events, [&](const nlohmann::json& j) { return j["type"] == "exec" && j["pid"] == pid; });
  ASSERT_TRUE(ex) << "no exec event in the JSON output\n" << slurp(events);
  EXPECT_EQ((*ex)["exe"], exe_escaped);
  EXPECT_EQ((*ex)["args"], nlohmann::json::array({exe_escaped, key_escaped}));
  auto rd = find_event(
      events, [&](const nlohmann::json& j) { return j["type"] == "file" && j["pid"] == pid; });
  ASSERT_TRUE(rd) << "no file event in the JSON output";
  EXPECT_EQ((*rd)["op"], "read_sensitive");
  EXPECT_EQ((*rd)["path"], key_escaped);
  EXPECT_EQ((*rd)["exe"], exe_escaped);

  // The same strings at the collector: nothing was lost between spool and store.
  auto query = vigil::v1::QueryService::NewStub(
      grpc::CreateChannel(collector.addr(), grpc::InsecureChannelCredentials()));
  bool exec_stored = false;
  bool file_stored = false;
  ASSERT_TRUE(wait_until(
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 5s);
        vigil::v1::QueryEventsRequest req;
        req.set_agent_id("evasion-h");
        req.set_limit(10000);
        vigil::v1::QueryEventsResponse resp;
        if (!query->QueryEvents(&ctx, req, &resp).ok()) return false;
        for (const auto& s : resp.events()) {
          const auto& e = s.event();
          if (e.pid() != static_cast<std::uint32_t>(pid)) continue;
          exec_stored |= e.type() == "exec" && e.exe() == exe_escaped &&
                         e.exec().args_size() == 2 && e.exec().args(1) == key_escaped;
          file_stored |= e.type() == "file" && e.file().path() == key_escaped;
        }
        return exec_stored && file_stored;
      },
      20s))
      << "exec stored: " << exec_stored << ", file stored: " << file_stored;
  EXPECT_EQ(collector.metric("vigil_collector_undecodable_total"), 0);
  kill(agent.pid(), SIGTERM);
  EXPECT_EQ(agent.wait_for(20s).value_or(-1), 0) << agent.err();
}

TEST_F(EvasionTest, PaddedArgvShowsItsLastArgumentAndTheTruncation) {
  const auto events = dir_.path() / "events.jsonl";
  fs::create_directories(dir_.path() / "agent-run");
  Proc agent({VIGIL_AGENT_BIN, "--probes", "process", "--events-out", events.string(),
              "--state-dir", (dir_.path() / "state").string(), "--stats-interval", "0"},
             dir_.path() / "agent-run");
  ASSERT_TRUE(
      wait_until([&] { return agent.err().find("running on host") != std::string::npos; }, 20s))
      << agent.err();
  std::vector<std::string> args = {"/usr/bin/true"};
  for (int i = 0; i < 200; ++i) args.emplace_back("pad");
  args.emplace_back("--evil-telltale");
  const pid_t pid = run(args);
  auto ex = find_event(
      events, [&](const nlohmann::json& j) { return j["type"] == "exec" && j["pid"] == pid; });
  ASSERT_TRUE(ex) << slurp(events);
  EXPECT_EQ((*ex)["args_truncated"], true);
  EXPECT_EQ((*ex)["argc"], 202);
  ASSERT_TRUE((*ex)["args"].is_array());
  EXPECT_EQ((*ex)["args"].front(), "/usr/bin/true");
  EXPECT_EQ((*ex)["args"].back(), "--evil-telltale");
}

// A raw AgentService.Connect stream, to send bytes no well-behaved agent would.
class RawStream {
 public:
  explicit RawStream(const std::string& addr)
      : channel_(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials())) {
    ctx_.set_deadline(std::chrono::system_clock::now() + 20s);
    stream_.reset(
        grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
            channel_.get(),
            grpc::internal::RpcMethod("/vigil.v1.AgentService/Connect",
                                      grpc::internal::RpcMethod::BIDI_STREAMING),
            &ctx_));
  }
  bool write(const std::string& raw) {
    grpc::Slice slice(raw);
    grpc::ByteBuffer buf(&slice, 1);
    return stream_->Write(buf);
  }
  std::optional<vigil::v1::CollectorMessage> read() {
    grpc::ByteBuffer buf;
    if (!stream_->Read(&buf)) return std::nullopt;
    std::vector<grpc::Slice> slices;
    (void)buf.Dump(&slices);
    std::string raw;
    for (const auto& s : slices) raw.append(reinterpret_cast<const char*>(s.begin()), s.size());
    vigil::v1::CollectorMessage msg;
    if (!msg.ParseFromString(raw)) return std::nullopt;
    return msg;
  }
  grpc::Status finish() { return stream_->Finish(); }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream_;
};

TEST(CollectorIngest, CountsAndRefusesAMessageThatDoesNotParse) {
  vigil::test::TempDir dir;
  CollectorProc collector(dir.path() / "collector");
  ASSERT_TRUE(collector.up()) << collector.err();
  RawStream stream(collector.addr());

  vigil::v1::AgentMessage hello;
  hello.mutable_hello()->set_agent_id("raw-agent");
  hello.mutable_hello()->set_host_id("raw-agent");
  ASSERT_TRUE(stream.write(hello.SerializeAsString()));
  auto ack = stream.read();
  ASSERT_TRUE(ack && ack->has_ack()) << "hello not acknowledged";

  // A valid batch whose comm is then overwritten in place with a 0xFF byte:
  // what an agent without escaping would send for such a process name.
  vigil::v1::AgentMessage batch;
  auto* b = batch.mutable_batch();
  b->set_first_seq(1);
  b->set_last_seq(1);
  auto* e = b->add_events();
  e->set_seq(1);
  e->set_type("exec");
  e->set_ts_ns(1);
  e->set_comm("evil-PLACEHOLDER");
  std::string raw = batch.SerializeAsString();
  const auto at = raw.find("PLACEHOLDER");
  ASSERT_NE(at, std::string::npos);
  raw[at] = '\xff';
  ASSERT_TRUE(stream.write(raw));

  std::optional<vigil::v1::CollectorMessage> reply;
  while ((reply = stream.read())) {
    if (reply->has_refusal()) break;
  }
  ASSERT_TRUE(reply && reply->has_refusal()) << "no refusal for an unparsable message";
  EXPECT_NE(reply->refusal().reason().find("parse"), std::string::npos)
      << reply->refusal().reason();
  const auto status = stream.finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(collector.metric("vigil_collector_undecodable_total"), 1);
  EXPECT_GE(collector.metric("vigil_collector_refused_total"), 1);
}

}  // namespace
