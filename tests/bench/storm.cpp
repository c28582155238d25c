// vigil-storm: the workloads of the capture, latency and footprint harnesses
// (tests/bench/harness.py, docs/PERFORMANCE.md). Each mode makes one kind of
// kernel event as fast as it can, or at a paced rate, and prints one JSON line:
//
//   wx    W+X toggles: mprotect(RWX) then mprotect(RW) on one anonymous page
//         (2 syscalls, 1 W+X event per toggle)
//   exec  posix_spawn + wait of /bin/true (1 exec event per op)
//
//   vigil-storm wx --duration 2             flat out for 2 s
//   vigil-storm wx --count 100000           flat out, a fixed number of ops
//   vigil-storm wx --rate 1000 --duration 5 paced: 1000 ops/s for 5 s
//
// Output: {"mode":"wx","pid":N,"ops":N,"seconds":S,"ops_per_s":R,"cpu_s":C}
// cpu_s is the CPU time (user + system) the workload and its children used:
// what a tracer adds to each syscall shows there even when a busy machine
// makes wall-clock throughput noisy.
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::uint64_t count = 0;  // 0 = until duration
  double duration_s = 0;    // 0 = until count
  double rate = 0;          // ops per second; 0 = flat out
};

int usage() {
  std::fputs(
      "usage: vigil-storm wx|exec [--count N] [--duration S] [--rate OPS_PER_S]\n"
      "  at least one of --count and --duration\n",
      stderr);
  return 2;
}

bool parse(int argc, char** argv, Options& o) {
  if (argc < 2) {
    return false;
  }
  o.mode = argv[1];
  if (o.mode != "wx" && o.mode != "exec") {
    return false;
  }
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    char* end = nullptr;
    const double v = std::strtod(argv[i + 1], &end);
    if (end == argv[i + 1] || *end != '\0' || v < 0) {
      return false;
    }
    if (flag == "--count") {
      o.count = static_cast<std::uint64_t>(v);
    } else if (flag == "--duration") {
      o.duration_s = v;
    } else if (flag == "--rate") {
      o.rate = v;
    } else {
      return false;
    }
  }
  return (argc % 2) == 0 && (o.count > 0 || o.duration_s > 0);
}

// One W+X toggle: two mprotect calls, the first makes the page writable and
// executable (the event), the second takes execute away again.
class WxToggle {
 public:
  WxToggle() {
    page_ = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page_ == MAP_FAILED) {
      std::perror("mmap");
      std::exit(1);
    }
  }
  bool operator()() {
    return mprotect(page_, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) == 0 &&
           mprotect(page_, 4096, PROT_READ | PROT_WRITE) == 0;
  }

 private:
  void* page_;
};

bool exec_true() {
  static char arg0[] = "true";
  char* argv[] = {arg0, nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) {
    return false;
  }
  int status = 0;
  return waitpid(pid, &status, 0) == pid;
}

template <typename Op>
std::uint64_t run(const Options& o, Op&& op, double& seconds) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(o.duration_s));
  std::uint64_t ops = 0;
  // Paced runs release ops in 1 ms slices so the rate holds at any size.
  const double per_ms = o.rate / 1000.0;
  double owed = 0;
  auto slice = start;
  for (;;) {
    if (o.count > 0 && ops >= o.count) {
      break;
    }
    if (o.duration_s > 0 && Clock::now() >= deadline) {
      break;
    }
    if (o.rate > 0) {
      if (owed < 1.0) {
        slice += std::chrono::milliseconds(1);
        std::this_thread::sleep_until(slice);
        owed += per_ms;
        if (o.duration_s > 0 && Clock::now() >= deadline) {
          break;
        }
        continue;
      }
      owed -= 1.0;
    }
    if (!op()) {
      std::perror(o.mode.c_str());
      std::exit(1);
    }
    ++ops;
  }
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    return usage();
  }
  double seconds = 0;
  std::uint64_t ops = 0;
  if (o.mode == "wx") {
    WxToggle toggle;
    ops = run(o, toggle, seconds);
  } else {
    ops = run(o, exec_true, seconds);
  }
  double cpu_s = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage ru{};
    getrusage(who, &ru);
    cpu_s += static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
             static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }
  std::printf(
      "{\"mode\":\"%s\",\"pid\":%d,\"ops\":%llu,\"seconds\":%.6f,\"ops_per_s\":%.1f,"
      "\"cpu_s\":%.6f}\n",
      o.mode.c_str(), static_cast<int>(getpid()), static_cast<unsigned long long>(ops), seconds,
      seconds > 0 ? static_cast<double>(ops) / seconds : 0.0, cpu_s);
  return 0;
}
