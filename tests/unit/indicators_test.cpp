#include "vigil/agent/indicators.h"

#include <gtest/gtest.h>

#include <set>

#include "vigil/abi.h"
#include "vigil/agent/pipeline.h"

namespace vigil::agent {
namespace {

// What the agent evaluates on one event: the C++ detectors, then vigil's rule
// pack (the plain predicates, named after the indicators they replaced).
class Detectors {
 public:
  void evaluate(const Event& e, const ProcessTable& t, std::vector<const Indicator*>& hits) const {
    engine_.evaluate(e, t, hits);
    default_rule_pack()->evaluate(e, t, hits);
  }

 private:
  IndicatorEngine engine_;
};

std::vector<std::string_view> ids(const std::vector<const Indicator*>& hits) {
  std::vector<std::string_view> out;
  for (const auto* h : hits) out.push_back(h->id);
  return out;
}

Event exec(std::string exe, std::uint32_t uid, std::uint32_t euid, bool euid_changed) {
  Event e;
  e.type = EventType::kExec;
  e.pid = 10;
  e.uid = uid;
  e.euid = euid;
  e.exe = std::move(exe);
  e.data = ExecData{.euid_changed = euid_changed};
  return e;
}

TEST(Indicators, CatalogueIsWellFormed) {
  std::set<std::string_view> seen;
  for (const auto& i : all_indicators()) {
    EXPECT_TRUE(seen.insert(i.id).second) << "duplicate id " << i.id;
    EXPECT_TRUE(i.attack.starts_with("T")) << i.id;
    EXPECT_LE(i.severity, 100) << i.id;
    EXPECT_FALSE(i.summary.empty()) << i.id;
  }
}

TEST(Indicators, SetuidExecAndWritableLocations) {
  ProcessTable t(10, "");
  Detectors engine;
  std::vector<const Indicator*> hits;

  engine.evaluate(exec("/usr/bin/sudo", 1000, 0, true), t, hits);
  EXPECT_EQ(ids(hits), std::vector<std::string_view>{"setuid-exec"});

  engine.evaluate(exec("/tmp/x/suid-sh", 1000, 0, true), t, hits);
  EXPECT_EQ(ids(hits),
            (std::vector<std::string_view>{"setuid-exec-writable", "exec-writable-location"}));

  engine.evaluate(exec("/usr/bin/ls", 1000, 1000, false), t, hits);
  EXPECT_TRUE(hits.empty()) << "ordinary exec raises nothing";

  engine.evaluate(exec("/usr/bin/ping", 0, 0, false), t, hits);
  EXPECT_TRUE(hits.empty()) << "root running a set-uid binary is no escalation";
}

TEST(Indicators, WritableLocationPaths) {
  EXPECT_TRUE(is_writable_location("/tmp/a"));
  EXPECT_TRUE(is_writable_location("/dev/shm/.x"));
  EXPECT_TRUE(is_writable_location("/var/tmp/b"));
  EXPECT_TRUE(is_writable_location("/memfd:payload (deleted)"));
  EXPECT_TRUE(is_writable_location("/usr/bin/gone (deleted)"));
  EXPECT_FALSE(is_writable_location("/usr/bin/tmp"));
  EXPECT_FALSE(is_writable_location("/tmpfoo/a"));
}

TEST(Indicators, PtraceAttachAndWriteOnlyOnSuccessAgainstOthers) {
  ProcessTable t(10, "");
  Detectors engine;
  std::vector<const Indicator*> hits;
  Event e;
  e.type = EventType::kPtrace;
  e.pid = 10;
  e.data = PtraceData{.request = 16, .target_pid = 20, .ret = 0};
  engine.evaluate(e, t, hits);
  EXPECT_EQ(ids(hits), std::vector<std::string_view>{"ptrace-attach"});

  e.data = PtraceData{.request = 5, .target_pid = 20, .ret = 0};
  engine.evaluate(e, t, hits);
  EXPECT_EQ(ids(hits), std::vector<std::string_view>{"ptrace-write"});

  e.data = PtraceData{.request = 16, .target_pid = 20, .ret = -1};
  engine.evaluate(e, t, hits);
  EXPECT_TRUE(hits.empty()) << "a refused attach is not an injection";

  e.data = PtraceData{.request = 0, .target_pid = 0, .ret = 0};  // TRACEME
  engine.evaluate(e, t, hits);
  EXPECT_TRUE(hits.empty());
}

TEST(Indicators, SetuidToRootNeedsSuccessFromNonRoot) {
  ProcessTable t(10, "");
  Detectors engine;
  std::vector<const Indicator*> hits;
  Event e;
  e.type = EventType::kSetuid;
  SetidData s;
  s.ret = 0;
  s.old_ids = {1000, 1000, 0};
  s.new_ids = {1000, 0, 0};
  e.data = s;
  engine.evaluate(e, t, hits);
  EXPECT_EQ(ids(hits), std::vector<std::string_view>{"setuid-to-root"});
  s.ret = -1;
  s.new_ids = s.old_ids;
  e.data = s;
  engine.evaluate(e, t, hits);
  EXPECT_TRUE(hits.empty());
}

TEST(Indicators, ShellFromServiceUsesTheParentsImage) {
  ProcessTable t(10, "");
  Event parent_exec = exec("/usr/sbin/nginx", 33, 33, false);
  parent_exec.pid = 5;
  t.apply(parent_exec);
  Detectors engine;
  std::vector<const Indicator*> hits;
  Event shell = exec("/usr/bin/dash", 33, 33, false);
  shell.pid = 6;
  shell.ppid = 5;
  engine.evaluate(shell, t, hits);
  EXPECT_EQ(ids(hits), std::vector<std::string_view>{"shell-from-service"});

  Event ls = exec("/usr/bin/ls", 33, 33, false);
  ls.ppid = 5;
  engine.evaluate(ls, t, hits);
  EXPECT_TRUE(hits.empty()) << "a service running a non-shell program is not this indicator";

  Event sshd_exec = exec("/usr/sbin/sshd", 0, 0, false);
  sshd_exec.pid = 7;
  t.apply(sshd_exec);
  Event login = exec("/usr/bin/bash", 0, 0, false);
  login.ppid = 7;
  engine.evaluate(login, t, hits);
  EXPECT_TRUE(hits.empty()) << "sshd spawning a shell is its job";
  EXPECT_TRUE(is_shell_or_interpreter("/usr/bin/python3.11"));
  EXPECT_TRUE(is_service_binary("/usr/sbin/php-fpm8.2"));
}

TEST(Indicators, ShellFromAListeningProcessThatIsNotALoginService) {
  ProcessTable t(10, "");
  Detectors engine;
  std::vector<const Indicator*> hits;
  for (const auto& [exe, expected] :
       std::vector<std::pair<std::string, std::vector<std::string_view>>>{
           {"/opt/app/bin/worker", {"shell-from-listener"}},
           {"/usr/sbin/sshd", {}},
           {"/usr/sbin/nginx", {"shell-from-service"}}}) {
    Event parent = exec(exe, 0, 0, false);
    parent.pid = 40;
    t.apply(parent);
    Event shell = exec("/bin/sh", 0, 0, false);
    shell.pid = 41;
    shell.ppid = 40;
    engine.evaluate(shell, t, hits);
    if (exe != "/usr/sbin/nginx") {
      EXPECT_TRUE(hits.empty()) << exe << " has not listened yet";
    }
    Event listen;
    listen.type = EventType::kAccept;
    listen.pid = 40;
    listen.data = SockData{.ret = 5};
    t.apply(listen);
    engine.evaluate(shell, t, hits);
    EXPECT_EQ(ids(hits), expected) << exe;
  }
  EXPECT_TRUE(is_toolchain("/usr/bin/x86_64-linux-gnu-ld.bfd"));
  EXPECT_FALSE(is_toolchain("/tmp/dropper"));
}

TEST(Indicators, MemoryFamily) {
  ProcessTable t(10, "");
  Detectors engine;
  std::vector<const Indicator*> hits;
  Event e;
  e.type = EventType::kWxMemory;
  e.data = MemProtData{.prot = 7, .ret = 0, .anon = VIGIL_MAP_ANON};
  engine.evaluate(e, t, hits);
  EXPECT_EQ(ids(hits), std::vector<std::string_view>{"wx-memory"});
  e.data = MemProtData{.prot = 7, .ret = -13};
  engine.evaluate(e, t, hits);
  EXPECT_TRUE(hits.empty()) << "a refused mapping is no W+X memory";

  e.type = EventType::kExecAdded;
  e.data = MemProtData{.prot = 5, .anon = VIGIL_MAP_ANON};
  engine.evaluate(e, t, hits);
  EXPECT_EQ(ids(hits), std::vector<std::string_view>{"exec-added-anon"});
  e.data = MemProtData{.prot = 5, .anon = VIGIL_MAP_FILE};
  engine.evaluate(e, t, hits);
  EXPECT_TRUE(hits.empty());

  e.type = EventType::kInject;
  e.data = InjectData{.target_pid = 5, .method = VIGIL_INJECT_PROC_MEM};
  engine.evaluate(e, t, hits);
  EXPECT_EQ(ids(hits), std::vector<std::string_view>{"inject-proc-mem"});
  e.data = InjectData{.target_pid = 5, .ret = -1, .method = VIGIL_INJECT_VM_WRITEV};
  engine.evaluate(e, t, hits);
  EXPECT_TRUE(hits.empty());

  e.type = EventType::kFilelessExec;
  e.data = FilelessExecData{.memfd = true};
  engine.evaluate(e, t, hits);
  EXPECT_EQ(ids(hits), std::vector<std::string_view>{"fileless-exec"});
}

Event file_event(std::uint32_t op, std::string path, std::string exe = "/usr/bin/bash",
                 std::uint32_t mode = 0) {
  Event e;
  e.type = EventType::kFile;
  e.exe = std::move(exe);
  e.data = FileData{.op = op, .mode = mode, .path = std::move(path)};
  return e;
}

TEST(Indicators, FileFamilyPersistenceAndCredentialAccess) {
  ProcessTable t(10, "");
  Detectors engine;
  std::vector<const Indicator*> hits;
  auto check = [&](const Event& e) {
    engine.evaluate(e, t, hits);
    return ids(hits);
  };
  using V = std::vector<std::string_view>;
  EXPECT_EQ(check(file_event(VIGIL_FILE_CREATE, "/etc/cron.d/evil")), V{"cron-write"});
  EXPECT_EQ(check(file_event(VIGIL_FILE_WRITE, "/var/spool/cron/crontabs/root")), V{"cron-write"});
  EXPECT_EQ(check(file_event(VIGIL_FILE_CREATE, "/etc/systemd/system/x.service")),
            V{"systemd-unit-write"});
  EXPECT_EQ(check(file_event(VIGIL_FILE_WRITE, "/home/a/.ssh/authorized_keys")),
            V{"authorized-keys-write"});
  EXPECT_EQ(check(file_event(VIGIL_FILE_WRITE, "/etc/ld.so.preload")), V{"ld-preload-write"});
  EXPECT_EQ(check(file_event(VIGIL_FILE_WRITE, "/root/.bashrc")), V{"shell-rc-write"});
  EXPECT_EQ(check(file_event(VIGIL_FILE_CHMOD, "/tmp/x", "/usr/bin/chmod", 04755)),
            V{"setuid-bit-set"});
  EXPECT_TRUE(check(file_event(VIGIL_FILE_CHMOD, "/etc/x", "/usr/bin/chmod", 0644)).empty());
  EXPECT_EQ(check(file_event(VIGIL_FILE_CREATE, "/usr/bin/sshd2", "/tmp/dropper")),
            V{"system-binary-changed"});
  EXPECT_TRUE(check(file_event(VIGIL_FILE_CREATE, "/usr/bin/vim", "/usr/bin/dpkg")).empty())
      << "the package manager changing binaries is its job";
  EXPECT_EQ(check(file_event(VIGIL_FILE_READ_SENSITIVE, "/etc/shadow", "/tmp/cat")),
            V{"credential-read"});
  EXPECT_TRUE(
      check(file_event(VIGIL_FILE_READ_SENSITIVE, "/etc/shadow", "/usr/sbin/sshd")).empty());
  EXPECT_EQ(check(file_event(VIGIL_FILE_UNLINK, "/root/.bash_history")), V{"history-tamper"});
  EXPECT_TRUE(check(file_event(VIGIL_FILE_WRITE, "/etc/hostname")).empty());
  Event refused = file_event(VIGIL_FILE_CREATE, "/etc/cron.d/evil");
  std::get<FileData>(refused.data).ret = -13;
  EXPECT_TRUE(check(refused).empty()) << "a refused write changed nothing";
  Event moved = file_event(VIGIL_FILE_RENAME, "/tmp/payload");
  std::get<FileData>(moved.data).new_path = "/etc/cron.d/payload";
  EXPECT_EQ(check(moved), V{"cron-write"}) << "a rename into a watched place";
}

TEST(Indicators, NetworkSummaries) {
  ProcessTable t(10, "");
  Detectors engine;
  std::vector<const Indicator*> hits;
  Event e;
  e.type = EventType::kNetSummary;
  e.data = NetSummaryData{.reasons = VIGIL_NET_SCAN | VIGIL_NET_SYN_FLOOD};
  engine.evaluate(e, t, hits);
  EXPECT_EQ(ids(hits), (std::vector<std::string_view>{"port-scan", "syn-flood"}));
  e.data = NetSummaryData{.reasons = VIGIL_NET_PERIODIC};
  engine.evaluate(e, t, hits);
  EXPECT_TRUE(hits.empty()) << "a busy source alone is no attack";
}

TEST(Alerts, JsonCarriesScoreIndicatorsLineageAndEvent) {
  Event e;
  e.type = EventType::kPtrace;
  e.host = "h";
  e.pid = 10;
  e.comm = "gdb";
  e.exe = "/usr/bin/gdb";
  e.data = PtraceData{.request = 16, .target_pid = 20};
  const Indicator* hit = &all_indicators()[4];
  ProcessInfo parent{.pid = 1, .comm = "init", .exe = "/sbin/init"};
  ProcessInfo self{.pid = 10, .ppid = 1, .comm = "gdb", .exe = "/usr/bin/gdb"};
  const ProcessInfo* lineage[] = {&self, &parent};
  const Indicator* hits[] = {hit};
  std::string out;
  const AlertContext ctx{.score = 55, .alert_id = "abc-1", .count = 1, .level = Level::kAttentive};
  append_alert_json(e, ctx, hits, lineage, out);
  EXPECT_NE(out.find("\"score\":55"), std::string::npos) << out;
  EXPECT_NE(out.find("\"alert_id\":\"abc-1\",\"count\":1"), std::string::npos) << out;
  EXPECT_NE(out.find("\"level\":\"attentive\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"severity\":\"High\""), std::string::npos);
  EXPECT_NE(out.find("\"id\":\"ptrace-attach\",\"attack\":\"T1055.008\""), std::string::npos);
  EXPECT_NE(out.find("\"lineage\":[{\"pid\":10,\"exe\":\"/usr/bin/gdb\""), std::string::npos);
  EXPECT_NE(out.find("\"event\":{\"ts\""), std::string::npos);

  out.clear();
  append_alert_text(e, ctx, hits, out);
  EXPECT_EQ(out,
            "High threat ptrace event: pid=10 comm=gdb exe=/usr/bin/gdb threat=55 "
            "[T1055.008 ptrace-attach] level=attentive id=abc-1");

  // Falco-compatible: the fields falcosidekick reads, with vigil's in output_fields.
  out.clear();
  e.ts_ns = 1795486530123456789ULL;  // 2026-11-24T...
  append_alert_falco(e, ctx, hits, out);
  EXPECT_EQ(out.rfind("{\"output\":\"High threat ptrace event: pid=10", 0), 0U) << out;
  EXPECT_NE(out.find("\"priority\":\"Warning\",\"rule\":\"vigil ptrace-attach\""),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"time\":\"2026-11-24T"), std::string::npos) << out;
  EXPECT_NE(out.find(".123456789Z\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"tags\":[\"vigil\",\"T1055.008\"]"), std::string::npos) << out;
  EXPECT_NE(out.find("\"output_fields\":{\"evt.type\":\"ptrace\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"proc.exepath\":\"/usr/bin/gdb\",\"vigil.score\":55"), std::string::npos)
      << out;
  EXPECT_EQ(out.back(), '}');
}

}  // namespace
}  // namespace vigil::agent
