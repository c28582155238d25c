#include <gtest/gtest.h>

#include <fstream>

#include "util/test_util.h"
#include "vigil/collector/collector.h"
#include "vigil/metrics_server.h"

namespace vigil::collector {
namespace {

TEST(CollectorConfig, ShippedExampleParses) {
  CollectorConfig cfg;
  ASSERT_OK(apply_yaml_file(VIGIL_SOURCE_DIR "/deploy/config/collector.yaml", cfg));
  EXPECT_EQ(cfg.listen, "0.0.0.0:7700");
  EXPECT_EQ(cfg.api_listen, "127.0.0.1:7701");
  EXPECT_EQ(cfg.store.retention_age_s, 604800U);
  EXPECT_EQ(cfg.correlation.window_s, 300U);
  EXPECT_EQ(cfg.models.scenario_dataset, "/usr/share/vigil-collector/dataset.vds")
      << "the package's scenario recordings give fleet evolution its positives";
}

TEST(CollectorConfig, BadInputIsAClearError) {
  CollectorConfig cfg;
  auto r = apply_yaml("listne: 1.2.3.4:5\n", cfg);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unknown key 'listne'"), std::string::npos);
  EXPECT_FALSE(apply_yaml("correlation_min_hosts: 1\n", cfg));
  EXPECT_FALSE(apply_yaml("retention_age_s: soon\n", cfg));
  EXPECT_FALSE(apply_yaml("- a\n- b\n", cfg));
  EXPECT_FALSE(apply_yaml_file("/nonexistent/collector.yaml", cfg));
}

TEST(CollectorConfig, FlagsOverrideTheFile) {
  test::TempDir dir;
  const auto path = dir.path() / "c.yaml";
  {
    std::ofstream out(path);
    out << "listen: 127.0.0.1:1000\ndata_dir: /from/file\n";
  }
  std::vector<std::string> args = {"vigil-collector", "--config",       path.string(),
                                   "--listen",        "127.0.0.1:2000", "--insecure"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto parsed = parse_args(static_cast<int>(argv.size()), argv.data());
  ASSERT_FALSE(parsed.exit_now);
  EXPECT_EQ(parsed.config.listen, "127.0.0.1:2000");
  EXPECT_EQ(parsed.config.data_dir, "/from/file");
}

TEST(CollectorConfig, LogFormatIsValidated) {
  CollectorConfig cfg;
  ASSERT_OK(apply_yaml("log_format: json\nlog_level: debug\n", cfg));
  EXPECT_EQ(cfg.log_format, "json");
  std::vector<std::string> args = {"vigil-collector", "--log-format", "xml"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto parsed = parse_args(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(parsed.exit_now);
  EXPECT_EQ(parsed.exit_code, 2);
}

// Closed by default (docs/security.md): every way a collector could come up
// open to the network without saying so is refused before anything binds.
TEST(CollectorExposure, WithoutInsecureTlsAndTokensAreRequired) {
  CollectorConfig cfg;
  cfg.listen = "0.0.0.0:7700";
  auto r = check_exposure(cfg);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("TLS needs tls_cert, tls_key and tls_ca"), std::string::npos);
  cfg.tls_cert = "/c.crt";
  cfg.tls_key = "/c.key";
  EXPECT_FALSE(check_exposure(cfg)) << "tls_ca missing: agents' certificates unverifiable";
  cfg.tls_ca = "/ca.crt";
  r = check_exposure(cfg);
  ASSERT_FALSE(r) << "no token_file: the operator API (ImportModel, Rollout) would be open";
  EXPECT_NE(r.error().message.find("needs token_file"), std::string::npos) << r.error().message;
  cfg.token_file = "/tokens";
  EXPECT_OK(check_exposure(cfg));
  cfg.web_listen = "0.0.0.0:8080";  // HTTPS with the collector's certificate
  EXPECT_OK(check_exposure(cfg));
}

TEST(CollectorExposure, InsecureStaysOnLoopbackUnlessToldOtherwise) {
  CollectorConfig cfg;
  cfg.insecure = true;
  for (const char* ok : {"127.0.0.1:7700", "127.9.9.9:0", "localhost:7700", "[::1]:7700"}) {
    cfg.listen = ok;
    EXPECT_TRUE(check_exposure(cfg).has_value()) << ok;
  }
  for (const char* open : {"0.0.0.0:7700", "[::]:7700", "10.1.2.3:7700", "collector.example:7700",
                           "127.0.0.1.example.org:7700"}) {
    cfg.listen = open;
    const auto r = check_exposure(cfg);
    ASSERT_FALSE(r) << open;
    EXPECT_NE(r.error().message.find("--insecure-bind-any"), std::string::npos);
  }
  cfg.listen = "127.0.0.1:7700";
  cfg.api_listen = "0.0.0.0:7701";
  EXPECT_FALSE(check_exposure(cfg)) << "the operator port counts too";
  cfg.insecure_bind_any = true;
  EXPECT_OK(check_exposure(cfg));
  cfg.listen = "0.0.0.0:7700";
  EXPECT_OK(check_exposure(cfg));
}

TEST(CollectorExposure, APlaintextWebViewNeverLeavesLoopback) {
  CollectorConfig cfg;
  cfg.insecure = true;
  cfg.insecure_bind_any = true;  // does not lift it: the token would travel in clear
  cfg.token_file = "/tokens";
  cfg.web_listen = "127.0.0.1:7780";
  EXPECT_OK(check_exposure(cfg));
  cfg.web_listen = "0.0.0.0:7780";
  const auto r = check_exposure(cfg);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("web_listen"), std::string::npos);
}

TEST(CollectorExposure, ParseArgsRefusesToStartOpen) {
  auto parse = [](std::vector<std::string> args) {
    args.insert(args.begin(), "vigil-collector");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return parse_args(static_cast<int>(argv.size()), argv.data());
  };
  auto p =
      parse({"--listen", "127.0.0.1:0", "--tls-cert", "/c", "--tls-key", "/k", "--tls-ca", "/ca"});
  EXPECT_TRUE(p.exit_now);
  EXPECT_EQ(p.exit_code, 2);
  p = parse({"--listen", "0.0.0.0:0", "--insecure"});
  EXPECT_TRUE(p.exit_now);
  EXPECT_EQ(p.exit_code, 2);
  p = parse({"--listen", "0.0.0.0:0", "--insecure", "--insecure-bind-any"});
  EXPECT_FALSE(p.exit_now);
  EXPECT_TRUE(p.config.insecure_bind_any);
  p = parse({"--listen", "127.0.0.1:0", "--insecure"});
  EXPECT_FALSE(p.exit_now);
}

TEST(CollectorExposure, LoopbackListenAddresses) {
  EXPECT_TRUE(is_loopback_listen("127.0.0.1:1"));
  EXPECT_TRUE(is_loopback_listen("[::1]:1"));
  EXPECT_TRUE(is_loopback_listen("localhost:1"));
  EXPECT_FALSE(is_loopback_listen("0.0.0.0:1"));
  EXPECT_FALSE(is_loopback_listen("[::]:1"));
  EXPECT_FALSE(is_loopback_listen("::ffff:10.0.0.1"));
  EXPECT_FALSE(is_loopback_listen("localhost.evil.example:1"));
  EXPECT_FALSE(is_loopback_listen(":1"));
}

}  // namespace
}  // namespace vigil::collector
