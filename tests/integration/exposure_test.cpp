// Closed by default (issue 19, docs/security.md): a real vigil-collector
// refuses every start-up that would leave the fleet's controls open, the
// operator API refuses an unauthenticated model import over TLS, and the web
// view speaks HTTPS with anti-framing headers. No root needed.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/v1/model.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;
namespace fs = std::filesystem;

class ExposureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = dir_.path() / "tls";
    Proc make({"/bin/bash", VIGIL_SOURCE_DIR "/deploy/make-certs.sh", certs_.string()},
              own_dir("make-certs"));
    ASSERT_EQ(make.wait(), 0) << make.err();
    std::ofstream(dir_.path() / "tokens")
        << "viewer   viewer-token-0123456789\noperator operator-token-0123456789\n";
  }
  fs::path own_dir(const std::string& name) {
    fs::create_directories(dir_.path() / name);
    return dir_.path() / name;
  }
  std::string pem(const std::string& f) const { return (certs_ / f).string(); }
  std::vector<std::string> tls_flags() const {
    return {"--tls-cert",         pem("collector.crt"), "--tls-key",
            pem("collector.key"), "--tls-ca",           pem("ca.crt")};
  }
  // Runs a collector that is expected to refuse to start: its exit code and stderr.
  std::pair<int, std::string> refused(const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args{VIGIL_COLLECTOR_BIN, "--data-dir",
                                  (dir_.path() / name / "data").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    Proc p(args, own_dir(name));
    const int rc = p.wait();
    return {rc, p.err()};
  }

  vigil::test::TempDir dir_;
  fs::path certs_;
};

TEST_F(ExposureTest, ACollectorNeverStartsOpenWithoutSayingSo) {
  // TLS but no token file: the operator API (ImportModel, Rollout) would be open.
  auto [rc, err] = refused("no-tokens", [&] {
    auto f = tls_flags();
    f.insert(f.end(), {"--listen", "127.0.0.1:0"});
    return f;
  }());
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("needs token_file"), std::string::npos) << err;
  // Nothing at all: TLS is required.
  std::tie(rc, err) = refused("nothing", {"--listen", "127.0.0.1:0"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("TLS needs"), std::string::npos) << err;
  // Plaintext on a public address.
  std::tie(rc, err) = refused("insecure-any", {"--insecure", "--listen", "0.0.0.0:0"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("--insecure-bind-any"), std::string::npos) << err;
  std::tie(rc, err) = refused(
      "insecure-api", {"--insecure", "--listen", "127.0.0.1:0", "--api-listen", "0.0.0.0:0"});
  EXPECT_EQ(rc, 2);
  // A plaintext web view beyond loopback, even with --insecure-bind-any.
  std::tie(rc, err) = refused("insecure-web", {"--insecure", "--insecure-bind-any", "--listen",
                                               "127.0.0.1:0", "--web-listen", "0.0.0.0:0",
                                               "--token-file", (dir_.path() / "tokens").string()});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("web_listen"), std::string::npos) << err;

  // --insecure-bind-any starts, and says so on stderr (not only at log level warn).
  Proc any({VIGIL_COLLECTOR_BIN, "--insecure", "--insecure-bind-any", "--listen", "0.0.0.0:0",
            "--data-dir", (dir_.path() / "any" / "data").string(), "--log-level", "error"},
           own_dir("any"));
  ASSERT_TRUE(wait_until([&] { return any.out().find("listening") != std::string::npos; }, 10s))
      << any.err();
  EXPECT_NE(any.err().find("WARNING: --insecure-bind-any"), std::string::npos) << any.err();
  EXPECT_NE(any.err().find("change the fleet's models and rules"), std::string::npos) << any.err();
}

TEST_F(ExposureTest, UnauthenticatedModelImportIsRefusedAndTheWebViewIsHttpsOnly) {
  auto args = std::vector<std::string>{VIGIL_COLLECTOR_BIN,
                                       "--listen",
                                       "127.0.0.1:0",
                                       "--data-dir",
                                       (dir_.path() / "c" / "data").string(),
                                       "--token-file",
                                       (dir_.path() / "tokens").string(),
                                       "--web-listen",
                                       "127.0.0.1:0",
                                       "--log-level",
                                       "warn"};
  const auto tls = tls_flags();
  args.insert(args.end(), tls.begin(), tls.end());
  Proc collector(args, own_dir("c"));
  std::smatch m;
  const std::regex re(R"(listening agents=127\.0\.0\.1:(\d+) .*web=127\.0\.0\.1:(\d+))");
  std::string out;
  ASSERT_TRUE(wait_until(
      [&] {
        out = collector.out();
        return std::regex_search(out, m, re);
      },
      10s))
      << collector.err();
  const std::string api = "localhost:" + m[1].str();
  const std::string web_port = m[2].str();

  // A TLS client that trusts the CA and holds the shipped model's bytes.
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = slurp(certs_ / "ca.crt");
  auto stub =
      vigil::v1::ModelService::NewStub(grpc::CreateChannel(api, grpc::SslCredentials(opts)));
  vigil::v1::Model model;
  ASSERT_TRUE(model.ParseFromString(slurp(VIGIL_SOURCE_DIR "/models/default-model.pb")));
  model.set_version("exposure-test-model");
  vigil::v1::ImportModelRequest req;
  req.set_model(model.SerializeAsString());
  auto import = [&](const std::string& token) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    vigil::v1::ModelInfo info;
    return stub->ImportModel(&ctx, req, &info);
  };
  auto st = import("");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  st = import("viewer-token-0123456789");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  // The control: the same request with an operator token is accepted, so the
  // refusals above are the authorisation's, not the model's.
  st = import("operator-token-0123456789");
  EXPECT_TRUE(st.ok()) << st.error_message();

  // The web view: HTTPS with the collector's certificate, frame-ancestors 'none'.
  auto curl = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-s", "-D", "-", "-o", "/dev/null"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Proc p(argv, own_dir(name));
    p.wait();
    return p.out();
  };
  const auto headers =
      curl("https", {"--cacert", pem("ca.crt"), "https://localhost:" + web_port + "/"});
  EXPECT_NE(headers.find("HTTP/1.1 200"), std::string::npos) << headers;
  EXPECT_NE(headers.find("frame-ancestors 'none'"), std::string::npos) << headers;
  EXPECT_NE(headers.find("X-Frame-Options: DENY"), std::string::npos) << headers;
  EXPECT_NE(headers.find("Strict-Transport-Security"), std::string::npos) << headers;
  const auto api_headers = curl(
      "https-api", {"--cacert", pem("ca.crt"), "https://localhost:" + web_port + "/api/overview"});
  EXPECT_NE(api_headers.find("HTTP/1.1 401"), std::string::npos) << api_headers;
  EXPECT_NE(api_headers.find("frame-ancestors 'none'"), std::string::npos) << api_headers;
  // Plain HTTP on the same port gets no page.
  const auto plain = curl("plain", {"http://127.0.0.1:" + web_port + "/"});
  EXPECT_EQ(plain.find("HTTP/1.1 200"), std::string::npos) << plain;
}

}  // namespace

namespace {

// vigilctl runs, each in its own directory below `dir`: exit code and
// stdout + stderr.
class Vigilctl {
 public:
  explicit Vigilctl(fs::path dir) : dir_(std::move(dir)) {}
  std::pair<int, std::string> operator()(std::vector<std::string> args) {
    args.insert(args.begin(), VIGILCTL_BIN);
    const auto run_dir = dir_ / ("ctl" + std::to_string(++runs_));
    fs::create_directories(run_dir);
    Proc p(args, run_dir);
    const int rc = p.wait();
    return {rc, p.out() + p.err()};
  }

 private:
  fs::path dir_;
  int runs_ = 0;
};

// The agents' address a collector printed once listening; empty if it did
// not within 10 s.
std::string listening_address(Proc& collector) {
  std::smatch m;
  const std::regex re(R"(listening agents=(127\.0\.0\.1:\d+))");
  std::string out;
  if (!wait_until(
          [&] {
            out = collector.out();
            return std::regex_search(out, m, re);
          },
          10s)) {
    return {};
  }
  return m[1].str();
}

// vigilctl follows its ecosystem: global options before or after the
// subcommand, at any depth (`vigilctl report --json`, `vigilctl models list
// --collector X`), with the same answer either way.
TEST(VigilctlCli, GlobalOptionsWorkBeforeAndAfterTheSubcommand) {
  vigil::test::TempDir dir;
  Proc collector({VIGIL_COLLECTOR_BIN, "--insecure", "--listen", "127.0.0.1:0", "--data-dir",
                  (dir.path() / "data").string(), "--log-level", "warn"},
                 dir.path());
  const std::string addr = listening_address(collector);
  ASSERT_FALSE(addr.empty()) << collector.err();
  Vigilctl ctl(dir.path());
  const auto before = ctl({"--collector", addr, "--insecure", "--json", "report"});
  ASSERT_EQ(before.first, 0) << before.second;
  const auto after = ctl({"report", "--json", "--collector", addr, "--insecure"});
  ASSERT_EQ(after.first, 0) << after.second;
  EXPECT_EQ(after.second.front(), '{') << after.second;
  const auto mixed = ctl({"--insecure", "models", "list", "--json", "--collector", addr});
  ASSERT_EQ(mixed.first, 0) << mixed.second;
  EXPECT_NE(mixed.second.find("\"models\""), std::string::npos) << mixed.second;
  // Unknown options are still refused, with the usual hint.
  const auto bogus = ctl({"report", "--bogus", "--collector", addr, "--insecure"});
  EXPECT_EQ(bogus.first, 2);
  EXPECT_NE(bogus.second.find("--bogus"), std::string::npos) << bogus.second;
}

// The release key never needs a network: `vigilctl models sign --model FILE
// --out REL` on an offline machine, `vigilctl models release REL` on a
// connected one. The collector keeps only releases its release_pubkey verifies
// over the very bytes it registered.
TEST(ModelRelease, OfflineSigningThenUploadReleasesTheModel) {
  vigil::test::TempDir dir;
  Vigilctl ctl(dir.path());
  const auto key = (dir.path() / "release.key").string();
  const auto other = (dir.path() / "other.key").string();
  ASSERT_EQ(ctl({"models", "keygen", "--out", key}).first, 0);
  ASSERT_EQ(ctl({"models", "keygen", "--out", other}).first, 0);
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::string pub = slurp(key + ".pub");
  while (!pub.empty() && (pub.back() == '\n' || pub.back() == ' ')) pub.pop_back();
  ASSERT_EQ(pub.size(), 64U) << pub;

  Proc collector(
      {VIGIL_COLLECTOR_BIN, "--insecure", "--listen", "127.0.0.1:0", "--data-dir",
       (dir.path() / "data").string(), "--model-release-pubkey", pub, "--log-level", "warn"},
      dir.path());
  const std::string addr = listening_address(collector);
  ASSERT_FALSE(addr.empty()) << collector.err();

  vigil::v1::Model model;
  ASSERT_TRUE(model.ParseFromString(slurp(VIGIL_SOURCE_DIR "/models/default-model.pb")));
  model.set_version("offline-release-test");
  const auto model_file = dir.path() / "model.pb";
  { std::ofstream(model_file, std::ios::binary) << model.SerializeAsString(); }
  auto r = ctl({"--collector", addr, "--insecure", "models", "import", model_file.string()});
  ASSERT_EQ(r.first, 0) << r.second;

  // A release signed by a key the collector does not trust is refused.
  const auto wrong = (dir.path() / "wrong.rel").string();
  r = ctl({"models", "sign", "--key", other, "--model", model_file.string(), "--seq", "1", "--out",
           wrong});
  ASSERT_EQ(r.first, 0) << r.second;
  r = ctl({"--collector", addr, "--insecure", "models", "release", wrong});
  EXPECT_EQ(r.first, 1) << r.second;
  // A release of other bytes under the same version is refused too.
  vigil::v1::Model changed = model;
  changed.mutable_combiner()->set_bias(changed.combiner().bias() + 1.0F);
  const auto changed_file = dir.path() / "changed.pb";
  { std::ofstream(changed_file, std::ios::binary) << changed.SerializeAsString(); }
  const auto swapped = (dir.path() / "swapped.rel").string();
  ASSERT_EQ(ctl({"models", "sign", "--key", key, "--model", changed_file.string(), "--seq", "1",
                 "--out", swapped})
                .first,
            0);
  r = ctl({"--collector", addr, "--insecure", "models", "release", swapped});
  EXPECT_EQ(r.first, 1) << r.second;
  r = ctl({"--collector", addr, "--insecure", "--json", "models", "list"});
  ASSERT_EQ(r.first, 0) << r.second;
  EXPECT_EQ(r.second.find("\"release_seq\":\"1\""), std::string::npos) << r.second;

  // The genuine offline release, signed without any connection, is accepted.
  const auto rel = (dir.path() / "model.rel").string();
  r = ctl(
      {"models", "sign", "--key", key, "--model", model_file.string(), "--seq", "1", "--out", rel});
  ASSERT_EQ(r.first, 0) << r.second;
  EXPECT_NE(r.second.find("vigilctl models release"), std::string::npos) << r.second;
  r = ctl({"--collector", addr, "--insecure", "models", "release", rel});
  ASSERT_EQ(r.first, 0) << r.second;
  r = ctl({"--collector", addr, "--insecure", "--json", "models", "list"});
  ASSERT_EQ(r.first, 0) << r.second;
  const auto at = r.second.find("\"version\":\"offline-release-test\"");
  ASSERT_NE(at, std::string::npos) << r.second;
  const auto record = r.second.substr(at, r.second.find('}', at) - at);
  EXPECT_NE(record.find("\"release_seq\":\"1\""), std::string::npos) << record;
}

}  // namespace
