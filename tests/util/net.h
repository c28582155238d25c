// Network helpers for privileged tests: SYNs from inside a network namespace,
// and a listener on loopback.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::test {

// From a child inside network namespace `netns`: `repeat` rounds of one SYN
// (a non-blocking connect) to each of `count` ports from `first_port` of every
// address in `targets`. Returns the child's exit status (0 = ran).
inline int syns_from_netns(const std::string& netns, const std::vector<std::string>& targets,
                           int first_port, int count, int repeat = 1) {
  const pid_t child = fork();
  if (child == 0) {
    const int fd = open(("/var/run/netns/" + netns).c_str(), O_RDONLY);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(100);
    for (int r = 0; r < repeat; ++r) {
      for (const auto& target : targets) {
        for (int p = first_port; p < first_port + count; ++p) {
          const int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
          sockaddr_in a{};
          a.sin_family = AF_INET;
          a.sin_port = htons(static_cast<std::uint16_t>(p));
          inet_pton(AF_INET, target.c_str(), &a.sin_addr);
          connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
          close(s);
        }
      }
    }
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// A TCP listener on 127.0.0.1 with a kernel-chosen port.
struct LoopbackListener {
  int fd = -1;
  sockaddr_in addr{};
  explicit LoopbackListener(int backlog = 16) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(fd, backlog) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      close(fd);
      fd = -1;
    }
  }
  ~LoopbackListener() {
    if (fd >= 0) close(fd);
  }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  [[nodiscard]] bool ok() const { return fd >= 0; }
  // Connects a new socket to the listener; returns it (or -1).
  [[nodiscard]] int connect_client() const {
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(c);
      return -1;
    }
    return c;
  }
};

}  // namespace vigil::test
