#include "vigil/agent/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "util/test_util.h"

namespace vigil::agent {
namespace {

ParsedArgs parse(std::vector<const char*> args) {
  args.insert(args.begin(), "vigil-agent");
  return parse_args(static_cast<int>(args.size()), args.data());
}

TEST(Config, DefaultsAreValid) {
  AgentConfig cfg;
  EXPECT_OK(validate(cfg));
  EXPECT_EQ(cfg.probes, std::vector<std::string>{"process"});
}

TEST(Config, YamlSetsEveryKey) {
  AgentConfig cfg;
  ASSERT_OK(apply_yaml(R"(
host_id: web-1
state_dir: /tmp/vigil-state
events_out: "-"
alerts_out: /tmp/alerts.jsonl
format: text
probes: [process, network]
ignore_comms: [sshd, cron]
ignore_exec_prefixes: ["/usr/lib/"]
ringbuf_kib: 8192
stats_interval_s: 5
process_table_capacity: 1000
log_level: debug
log_format: json
alert_threshold: 70
)",
                       cfg));
  EXPECT_EQ(cfg.host_id, "web-1");
  EXPECT_EQ(cfg.state_dir, "/tmp/vigil-state");
  EXPECT_EQ(cfg.events_out, "-");
  EXPECT_EQ(cfg.alerts_out, "/tmp/alerts.jsonl");
  EXPECT_EQ(cfg.format, OutputFormat::kText);
  EXPECT_EQ(cfg.probes, (std::vector<std::string>{"process", "network"}));
  EXPECT_EQ(cfg.ignore_comms, (std::vector<std::string>{"sshd", "cron"}));
  EXPECT_EQ(cfg.ignore_exec_prefixes, std::vector<std::string>{"/usr/lib/"});
  EXPECT_EQ(cfg.ringbuf_kib, 8192U);
  EXPECT_EQ(cfg.stats_interval_s, 5U);
  EXPECT_EQ(cfg.process_table_capacity, 1000U);
  EXPECT_EQ(cfg.log_level, "debug");
  EXPECT_EQ(cfg.log_format, "json");
  EXPECT_EQ(cfg.alert_threshold, 70U);
}

TEST(Config, ProbesAsCommaString) {
  AgentConfig cfg;
  ASSERT_OK(apply_yaml("probes: process, file", cfg));
  EXPECT_EQ(cfg.probes, (std::vector<std::string>{"process", "file"}));
}

TEST(Config, EmptyYamlKeepsDefaults) {
  AgentConfig cfg;
  ASSERT_OK(apply_yaml("", cfg));
  EXPECT_EQ(cfg.ringbuf_kib, 4096U);
}

TEST(Config, UnknownKeyIsAnErrorWithLine) {
  AgentConfig cfg;
  auto r = apply_yaml("host_id: a\nprobez: [process]\n", cfg);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("probez"), std::string::npos);
  EXPECT_NE(r.error().message.find("line 2"), std::string::npos);
}

TEST(Config, MalformedYamlIsAnError) {
  AgentConfig cfg;
  EXPECT_FALSE(apply_yaml("host_id: [unclosed", cfg));
  EXPECT_FALSE(apply_yaml("- just\n- a list\n", cfg));
  EXPECT_FALSE(apply_yaml("ringbuf_kib: lots", cfg));
  EXPECT_FALSE(apply_yaml("format: xml", cfg));
}

TEST(Config, ValidateRejectsNonsense) {
  AgentConfig cfg;
  cfg.probes = {"process", "gpu"};
  EXPECT_FALSE(validate(cfg));
  cfg = {};
  cfg.ringbuf_kib = 3000;
  EXPECT_FALSE(validate(cfg));
  cfg = {};
  cfg.ignore_comms = {"a-very-long-command-name"};
  EXPECT_FALSE(validate(cfg));
  cfg = {};
  cfg.probes.clear();
  EXPECT_FALSE(validate(cfg));
  cfg = {};
  cfg.log_format = "xml";
  EXPECT_FALSE(validate(cfg));
  cfg = {};
  cfg.log_level = "loud";
  EXPECT_FALSE(validate(cfg));
}

TEST(Config, FlagsOverrideFile) {
  test::TempDir dir;
  const auto path = dir.path() / "agent.yaml";
  std::ofstream(path) << "host_id: from-file\nformat: text\nstats_interval_s: 9\n";
  auto p = parse({"--config", path.c_str(), "--host-id", "from-flag", "--probes", "process"});
  ASSERT_FALSE(p.exit_now);
  EXPECT_EQ(p.config.host_id, "from-flag");
  EXPECT_EQ(p.config.format, OutputFormat::kText);  // file value kept
  EXPECT_EQ(p.config.stats_interval_s, 9U);
}

TEST(Config, BadFlagsExitWithUsageCode) {
  auto p = parse({"--no-such-flag"});
  EXPECT_TRUE(p.exit_now);
  EXPECT_NE(p.exit_code, 0);
  p = parse({"--probes", "process,bogus"});
  EXPECT_TRUE(p.exit_now);
  EXPECT_EQ(p.exit_code, 2);
  p = parse({"--config", "/nonexistent/agent.yaml"});
  EXPECT_TRUE(p.exit_now);
  EXPECT_EQ(p.exit_code, 2);
}

TEST(Config, VersionAndCheck) {
  auto p = parse({"--version"});
  EXPECT_TRUE(p.exit_now);
  EXPECT_EQ(p.exit_code, 0);
  p = parse({"--check"});
  EXPECT_FALSE(p.exit_now);
  EXPECT_TRUE(p.config.check);
}

TEST(Config, ShippedExampleParsesAndValidates) {
  AgentConfig cfg;
  ASSERT_OK(apply_yaml_file(VIGIL_SOURCE_DIR "/deploy/config/agent.yaml", cfg));
  EXPECT_OK(validate(cfg));
  EXPECT_EQ(cfg.alerts_out, "/var/log/vigil/alerts.jsonl");
}

TEST(Config, FileWatchListsParseAndValidate) {
  AgentConfig cfg;
  ASSERT_OK(
      apply_yaml("file_watch_prefixes: [/etc, /opt/app]\nfile_read_paths: [/etc/shadow]\n"
                 "file_watch_names: [authorized_keys]\n",
                 cfg));
  EXPECT_EQ(cfg.file_watch_prefixes, (std::vector<std::string>{"/etc", "/opt/app"}));
  EXPECT_OK(validate(cfg));
  cfg.file_watch_prefixes = {"etc"};
  EXPECT_FALSE(validate(cfg)) << "relative prefix";
  cfg.file_watch_prefixes = {};
  cfg.file_watch_names = {"a/b"};
  EXPECT_FALSE(validate(cfg)) << "a name is a basename";
}

TEST(Config, NetworkFlags) {
  auto p = parse({"--probes", "process,network", "--xdp-iface", "veth0,veth1", "--xdp-enforce",
                  "--xdp-block", "10.0.0.1,2001:db8::1/60"});
  ASSERT_FALSE(p.exit_now);
  EXPECT_EQ(p.config.xdp_ifaces, (std::vector<std::string>{"veth0", "veth1"}));
  EXPECT_TRUE(p.config.xdp_enforce);
  EXPECT_EQ(p.config.xdp_blocklist.size(), 2U);
  AgentConfig cfg;
  ASSERT_OK(apply_yaml("xdp_ifaces: [all]\nxdp_enforce: false\n", cfg));
  EXPECT_EQ(cfg.xdp_ifaces, std::vector<std::string>{"all"});
  EXPECT_TRUE(parse({}).config.xdp_ifaces.empty()) << "no XDP unless asked for";
}

TEST(Config, RawEventsFlagAndKey) {
  EXPECT_FALSE(parse({}).config.raw_events) << "in-kernel de-duplication is the default";
  EXPECT_TRUE(parse({"--raw-events"}).config.raw_events);
  AgentConfig cfg;
  ASSERT_OK(apply_yaml("raw_events: true\n", cfg));
  EXPECT_TRUE(cfg.raw_events);
  EXPECT_FALSE(apply_yaml("raw_events: sometimes\n", cfg)) << "not a boolean";
}

TEST(SplitList, TrimsAndDropsEmpty) {
  EXPECT_EQ(split_list(" a, b,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_list("").empty());
}

}  // namespace
}  // namespace vigil::agent
