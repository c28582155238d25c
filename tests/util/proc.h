// Child processes for integration tests: output captured to files, waits
// with timeouts, killed on destruction.
#pragma once

#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace vigil::test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Runs a shell command quietly; true when it exits 0.
inline bool sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A child process with stdout/stderr captured to files.
class Proc {
 public:
  // `before_exec` runs in the child (e.g. to enter a private mount namespace).
  Proc(std::vector<std::string> args, const fs::path& dir, std::optional<uid_t> as_user = {},
       const std::function<bool()>& before_exec = {})
      : out_(dir / "stdout"), err_(dir / "stderr") {
    pid_ = fork();
    if (pid_ == 0) {
      freopen(out_.c_str(), "w", stdout);
      freopen(err_.c_str(), "w", stderr);
      if (before_exec && !before_exec()) {
        std::perror("before_exec");
        _exit(125);
      }
      if (as_user && setresuid(*as_user, *as_user, *as_user) != 0) {
        _exit(126);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Proc() {
    if (pid_ > 0 && !done_) {
      kill(pid_, SIGKILL);
      wait();
    }
  }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    done_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // Waits up to `timeout` for exit; nullopt if still running.
  std::optional<int> wait_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        done_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string out() const { return slurp(out_); }
  [[nodiscard]] std::string err() const { return slurp(err_); }

 private:
  fs::path out_, err_;
  pid_t pid_ = -1;
  bool done_ = false;
};

inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// Forks a child, PTRACE_ATTACHes to it (the alerting case every agent scores),
// detaches and reaps it. Returns the child's pid, or -1 if the attach failed.
inline pid_t ptrace_attach_a_child() {
  const pid_t target = fork();
  if (target == 0) {
    pause();
    _exit(0);
  }
  const bool attached = ptrace(PTRACE_ATTACH, target, nullptr, nullptr) == 0;
  if (attached) {
    waitpid(target, nullptr, 0);
    ptrace(PTRACE_DETACH, target, nullptr, nullptr);
  }
  kill(target, SIGKILL);
  waitpid(target, nullptr, 0);
  return attached ? target : -1;
}

}  // namespace vigil::test
