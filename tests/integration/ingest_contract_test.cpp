// The ingest contract against a real vigil-collector, with agents played by raw
// gRPC clients (no root): acks cover only what a batch held, one writer per
// agent id, per-event refusal, the limits table, and input that does not parse
// (docs/reliability.md lists each guarantee with its test here).
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/sync_stream.h>
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/clock.h"
#include "vigil/v1/agent.grpc.pb.h"
#include "vigil/v1/query.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::wait_until;
namespace fs = std::filesystem;
namespace v1 = vigil::v1;

class Collector {
 public:
  explicit Collector(const fs::path& dir) : dir_(dir) {
    fs::create_directories(dir_ / "run");
    proc_ = std::make_unique<Proc>(
        std::vector<std::string>{VIGIL_COLLECTOR_BIN, "--listen", "127.0.0.1:0", "--data-dir",
                                 (dir_ / "data").string(), "--log-level", "warn", "--insecure",
                                 "--metrics-listen", "127.0.0.1:0"},
        dir_ / "run");
    wait_until([&] { return !addr_of("agents=").empty() && !addr_of("metrics=").empty(); }, 10s);
  }
  ~Collector() {
    kill(proc_->pid(), SIGTERM);
    proc_->wait();
  }
  [[nodiscard]] std::string addr() const { return addr_of("agents="); }
  // One sample of /metrics (-1 when absent), scraped with curl.
  [[nodiscard]] double metric(const std::string& series) const {
    Proc curl({"/usr/bin/curl", "-sf", "http://" + addr_of("metrics=") + "/metrics"}, dir_);
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
  [[nodiscard]] std::string addr_of(const std::string& key) const {
    std::smatch m;
    const auto out = proc_->out();
    if (!std::regex_search(out, m, std::regex(key + "(127\\.0\\.0\\.1:\\d+)"))) return {};
    return m[1].str();
  }
  fs::path dir_;
  std::unique_ptr<Proc> proc_;
};

v1::Event event(std::uint64_t seq) {
  v1::Event e;
  e.set_seq(seq);
  e.set_type("exec");
  e.set_ts_ns(vigil::unix_now_ns());
  e.set_comm("sh");
  e.set_summary("exec sh");
  return e;
}

v1::EventBatch batch(std::uint64_t first, std::uint64_t last) {
  v1::EventBatch b;
  b.set_first_seq(first);
  b.set_last_seq(last);
  for (auto s = first; s <= last; ++s) *b.add_events() = event(s);
  return b;
}

// One agent stream, written and read in lockstep.
class RawAgent {
 public:
  RawAgent(const std::string& addr, std::string id, std::uint64_t spool_id = 7)
      : id_(std::move(id)), spool_id_(spool_id) {
    stub_ =
        v1::AgentService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
    ctx_.set_deadline(std::chrono::system_clock::now() + 20s);
    stream_ = stub_->Connect(&ctx_);
  }
  // The hello's ack: the collector's mark for this spool (nullopt if refused).
  std::optional<std::uint64_t> hello() {
    v1::AgentMessage m;
    m.mutable_hello()->set_agent_id(id_);
    m.mutable_hello()->set_host_id(id_);
    m.mutable_hello()->set_spool_id(spool_id_);
    auto reply = exchange(m);
    if (!reply || !reply->has_ack()) return std::nullopt;
    return reply->ack().seq();
  }
  // The collector's answer to `b`: an ack or a refusal (nullopt: the stream broke).
  std::optional<v1::CollectorMessage> send(const v1::EventBatch& b) {
    v1::AgentMessage m;
    *m.mutable_batch() = b;
    return exchange(m);
  }
  // The next ack or refusal (models and rule packs the collector pushes are skipped).
  std::optional<v1::CollectorMessage> read() {
    v1::CollectorMessage reply;
    while (stream_->Read(&reply)) {
      if (reply.has_ack() || reply.has_refusal()) return reply;
    }
    return std::nullopt;
  }
  grpc::Status finish() {
    stream_->WritesDone();
    v1::CollectorMessage drain;
    while (stream_->Read(&drain)) {
    }
    return stream_->Finish();
  }

 private:
  std::optional<v1::CollectorMessage> exchange(const v1::AgentMessage& m) {
    if (!stream_->Write(m)) return std::nullopt;
    return read();
  }
  std::string id_;
  std::uint64_t spool_id_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::CollectorMessage>> stream_;
};

// A query client with gRPC's defaults: 4 MiB the most it will receive.
class Api {
 public:
  explicit Api(const std::string& addr)
      : stub_(v1::QueryService::NewStub(
            grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()))) {}
  std::vector<std::uint64_t> seqs(const std::string& agent_id, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::QueryEventsRequest req;
    req.set_agent_id(agent_id);
    req.set_since_ns(1);
    v1::QueryEventsResponse resp;
    auto s = stub_->QueryEvents(&ctx, req, &resp);
    if (status != nullptr) *status = s;
    std::vector<std::uint64_t> out;
    for (const auto& e : resp.events()) out.push_back(e.event().seq());
    std::ranges::sort(out);
    return out;
  }
  v1::QueryService::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<v1::QueryService::Stub> stub_;
};

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto s = first; s <= last; ++s) out.push_back(s);
  return out;
}

TEST(IngestContract, ShortBatchWithInflatedLastSeqIsRefusedAndNoLaterEventIsLost) {
  vigil::test::TempDir dir;
  Collector collector(dir.path());
  ASSERT_FALSE(collector.addr().empty()) << collector.err();
  {
    RawAgent a(collector.addr(), "short");
    ASSERT_EQ(a.hello(), 0U);
    auto ack = a.send(batch(1, 3));
    ASSERT_TRUE(ack && ack->has_ack());
    EXPECT_EQ(ack->ack().seq(), 3U);
    auto lying = batch(4, 4);
    lying.set_last_seq(20);  // claims 4..20, holds 4
    auto reply = a.send(lying);
    ASSERT_TRUE(reply.has_value());
    ASSERT_TRUE(reply->has_refusal()) << reply->DebugString();
    EXPECT_EQ(reply->refusal().code(), "header_mismatch");
    EXPECT_EQ(a.finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  RawAgent again(collector.addr(), "short");
  EXPECT_EQ(again.hello(), 3U);  // nothing of the refused batch counted
  auto ack = again.send(batch(4, 20));
  ASSERT_TRUE(ack && ack->has_ack());
  EXPECT_EQ(ack->ack().seq(), 20U);
  EXPECT_EQ(Api(collector.addr()).seqs("short"), range(1, 20));
  EXPECT_EQ(collector.metric("vigil_collector_refusals_total{reason=\"header_mismatch\"}"), 1);
}

TEST(IngestContract, SecondStreamWithALiveAgentIdDoesNotLeaveTwoWriters) {
  vigil::test::TempDir dir;
  Collector collector(dir.path());
  ASSERT_FALSE(collector.addr().empty()) << collector.err();
  RawAgent first(collector.addr(), "twin", 1);
  ASSERT_EQ(first.hello(), 0U);
  ASSERT_TRUE(first.send(batch(1, 2)));
  RawAgent second(collector.addr(), "twin", 2);  // another spool claiming the id
  ASSERT_EQ(second.hello(), 0U);
  // The first is told, and ended: it cannot write any more.
  auto told = first.read();
  ASSERT_TRUE(told && told->has_refusal());
  EXPECT_EQ(told->refusal().code(), "replaced");
  EXPECT_FALSE(first.send(batch(3, 50)).has_value());
  EXPECT_EQ(first.finish().error_code(), grpc::StatusCode::ABORTED);
  auto ack = second.send(batch(1, 5));
  ASSERT_TRUE(ack && ack->has_ack());
  EXPECT_EQ(ack->ack().seq(), 5U);
  // Only the second's events since it took over are the agent's (the first's
  // spool is gone from the record), and the agent shows connected.
  EXPECT_EQ(Api(collector.addr()).seqs("twin"), (std::vector<std::uint64_t>{1, 1, 2, 2, 3, 4, 5}));
  EXPECT_EQ(collector.metric("vigil_collector_streams_replaced_total"), 1);
  EXPECT_EQ(collector.metric("vigil_collector_agents_connected"), 1);
}

TEST(IngestContract, BatchWithOneMalformedEventIsStoredMinusThatEventAndTheStreamContinues) {
  vigil::test::TempDir dir;
  Collector collector(dir.path());
  ASSERT_FALSE(collector.addr().empty()) << collector.err();
  RawAgent a(collector.addr(), "mixed");
  ASSERT_EQ(a.hello(), 0U);
  auto b = batch(1, 5);
  b.mutable_events(2)->set_type("teleport");
  auto ack = a.send(b);
  ASSERT_TRUE(ack && ack->has_ack()) << (ack ? ack->DebugString() : "no reply");
  EXPECT_EQ(ack->ack().seq(), 5U);  // settled: the agent drops seq 3 and moves on
  ASSERT_EQ(ack->ack().refused_size(), 1);
  EXPECT_EQ(ack->ack().refused(0).seq(), 3U);
  EXPECT_EQ(ack->ack().refused(0).reason(), "unknown_type");
  auto next = a.send(batch(6, 7));  // same stream
  ASSERT_TRUE(next && next->has_ack());
  EXPECT_EQ(next->ack().seq(), 7U);
  EXPECT_EQ(Api(collector.addr()).seqs("mixed"), (std::vector<std::uint64_t>{1, 2, 4, 5, 6, 7}));
  EXPECT_EQ(collector.metric("vigil_collector_events_refused_total"), 1);
  EXPECT_EQ(collector.metric("vigil_collector_refusals_total{reason=\"unknown_type\"}"), 1);
}

TEST(IngestContract, A5MiBStringIsRefusedAtIngestAndEveryQueryAnswersADefaultClient) {
  vigil::test::TempDir dir;
  Collector collector(dir.path());
  ASSERT_FALSE(collector.addr().empty()) << collector.err();
  RawAgent a(collector.addr(), "big");
  ASSERT_EQ(a.hello(), 0U);
  auto b = batch(1, 3);
  for (auto& e : *b.mutable_events()) e.set_alert_id("al-" + std::to_string(e.seq()));
  // The case: a 5 MiB alert event (one huge exec filename).
  b.mutable_events(1)->mutable_exec()->set_filename(std::string(5 << 20, 'x'));
  auto ack = a.send(b);
  ASSERT_TRUE(ack && ack->has_ack()) << (ack ? ack->DebugString() : "no reply");
  ASSERT_EQ(ack->ack().refused_size(), 1);
  EXPECT_EQ(ack->ack().refused(0).seq(), 2U);
  EXPECT_EQ(ack->ack().refused(0).reason(), "too_large");
  EXPECT_EQ(ack->ack().seq(), 3U);

  Api api(collector.addr());
  grpc::Status st;
  EXPECT_EQ(api.seqs("big", &st), (std::vector<std::uint64_t>{1, 3}));
  EXPECT_TRUE(st.ok()) << st.error_message();
  const auto deadline = [] { return std::chrono::system_clock::now() + 10s; };
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    v1::QueryAlertsRequest req;
    req.set_limit(1000);
    v1::QueryAlertsResponse resp;
    st = api.stub().QueryAlerts(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.alerts_size(), 2);
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    v1::FleetReport resp;
    st = api.stub().FleetReport(&ctx, {}, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    v1::ListAgentsResponse resp;
    st = api.stub().ListAgents(&ctx, {}, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(collector.metric("vigil_collector_refusals_total{reason=\"too_large\"}"), 1);
}

// Raw bytes on the agents' stream, as a client with a broken encoder sends them.
grpc::Status send_raw(const std::string& addr, const std::string& bytes) {
  auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel.get(),
          grpc::internal::RpcMethod("/vigil.v1.AgentService/Connect",
                                    grpc::internal::RpcMethod::BIDI_STREAMING),
          &ctx));
  grpc::Slice slice(bytes);
  stream->Write(grpc::ByteBuffer(&slice, 1));
  stream->WritesDone();
  grpc::ByteBuffer reply;
  while (stream->Read(&reply)) {
  }
  return stream->Finish();
}

TEST(IngestContract, GarbageOrNonUtf8InputEndsWithANonOkStatusAndIsCounted) {
  vigil::test::TempDir dir;
  Collector collector(dir.path());
  ASSERT_FALSE(collector.addr().empty()) << collector.err();
  // Not protobuf at all: the first tag is not even a varint.
  const auto garbage = send_raw(collector.addr(), std::string(16, '\xff'));
  EXPECT_EQ(garbage.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << garbage.error_message();
  // AgentMessage{hello{agent_id: "\xff\xfe"}}: proto3 strings must be UTF-8.
  const auto non_utf8 = send_raw(collector.addr(), std::string("\x0a\x04\x0a\x02\xff\xfe", 6));
  EXPECT_EQ(non_utf8.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << non_utf8.error_message();
  // A clean half-close is not an error.
  RawAgent quiet(collector.addr(), "quiet");
  ASSERT_EQ(quiet.hello(), 0U);
  EXPECT_TRUE(quiet.finish().ok());
  EXPECT_EQ(collector.metric("vigil_collector_undecodable_total"), 2);
  EXPECT_EQ(collector.metric("vigil_collector_refusals_total{reason=\"undecodable\"}"), 2);
}

}  // namespace
