// Agent configuration: defaults < YAML file (--config) < command-line flags.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/agent/runtime_client.h"
#include "vigil/result.h"

namespace vigil::agent {

inline constexpr std::string_view kVersion = "0.1.0";

enum class OutputFormat : std::uint8_t { kJson, kText };

// Container attribution (the `containers:` section; docs/configuration.md).
struct ContainersConfig {
  bool enabled = true;
  std::string cgroup_root = "auto";  // the cgroup2 mount; auto: from /proc/self/mountinfo
  // RUNTIME:PATH, asked in this order for names, images and pods; an absent
  // socket is skipped (attribution then comes from cgroup paths alone).
  std::vector<std::string> runtime_sockets = default_runtime_sockets();
  // containers/storage graph roots (Podman, CRI-O): names and images read
  // from their records first, in time for a new container's first exec.
  std::vector<std::string> storage_roots = {"/var/lib/containers/storage"};
  std::uint32_t lookup_timeout_ms = 1000;  // per runtime call, off the event path
  std::size_t capacity = 65536;            // cgroups tracked
};

struct AgentConfig {
  std::string host_id;  // empty = hostname
  std::filesystem::path state_dir = "/var/lib/vigil";
  std::string events_out;     // "" = off, "-" = stdout, else a file (appended)
  std::string alerts_out;     // same conventions
  bool falco_alerts = false;  // --alert-format falco: Falco-compatible JSON alerts
  OutputFormat format = OutputFormat::kJson;
  std::vector<std::string> probes = {"process"};
  std::vector<std::string> ignore_comms;
  std::vector<std::string> ignore_exec_prefixes;
  // File family (empty = built-in defaults, see docs/events.md).
  std::vector<std::string> file_watch_prefixes;
  std::vector<std::string> file_read_paths;
  std::vector<std::string> file_watch_names;
  // Network family: XDP interfaces (none by default; "all" = every non-loopback
  // interface that is up), enforcement and static blocklist.
  std::vector<std::string> xdp_ifaces;
  bool xdp_enforce = false;
  std::vector<std::string> xdp_blocklist;
  std::uint32_t ringbuf_kib = 4096;  // per probe family; power of two, >= 4
  // Every kernel event to user space: no in-kernel de-duplication or rate
  // limits (benchmarks, forensics); scope filters still apply.
  bool raw_events = false;
  // Ring buffer wakeups at most once per this many microseconds (records in
  // between are read at the next wakeup or by a 1 ms backstop poll while they
  // keep coming); 0 = libbpf's adaptive wakeup. Off by default: measured, it
  // cost a W+X storm more than it saved (docs/PERFORMANCE.md).
  std::uint32_t ringbuf_wakeup_us = 0;
  // Polled wakeups (bpf/maps.bpf.h): a record wakes the waiting reader only
  // if 250 us passed since the last record that could (or past a watermark of
  // unread bytes, or for rare alert-grade records); the reader polls 1 ms after
  // drains that found records, backing off to this many ms: the longest a
  // record waits in a ring. 0 = libbpf's wakeup per record (the behaviour
  // before 2026-12-08). Ignored when ringbuf_wakeup_us > 0.
  std::uint32_t ringbuf_poll_ms = 16;
  // Shipping (off unless `collector` is set): see docs/operations.md.
  std::string collector;  // host:port of vigil-collector
  bool insecure = false;  // plaintext gRPC to the collector (local trials only)
  // mTLS to the collector (PEM): the CA that signed the collector's certificate,
  // and this agent's certificate (CN = its agent id = its host id) and key.
  std::filesystem::path tls_ca;
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  // Enrollment instead of tls_cert/tls_key: an enroll token file (vigilctl
  // enroll create); the key and certificate are made and kept in STATE_DIR/tls.
  std::filesystem::path enroll_token_file;
  std::string agent_id;                     // empty = host id
  std::vector<std::string> host_addresses;  // reported to the collector; empty = interfaces
  std::uint64_t spool_max_mb = 256;
  // fsync each spool write. Off: a crash of the agent loses nothing (RocksDB's
  // WAL is in the page cache), a power cut or kernel crash may lose the unacked
  // tail written in the last moments (docs/reliability.md).
  bool spool_sync = false;
  std::uint32_t batch_max = 1000;
  std::uint32_t batch_interval_ms = 20;
  // Scored events handed from the agent loop to the spool writer thread and
  // not yet written, at most; when full the loop waits for the writer (and the
  // kernel rings absorb the backlog), counted as handoff_full. 0 = no writer
  // thread: the agent loop appends to the spool itself (before 2026-12-08).
  std::uint32_t handoff_max_events = 32768;
  // Scoring model: a file to load (wins, trusted as the local admin's), else
  // the last one rolled out (STATE_DIR/model-{canary,release}.pb, checked
  // again at start), else the built-in default. Updates from the collector
  // need `model_pubkey` (the collector's key) and, for fleet use,
  // `model_release_pubkey` (the offline release key); ed25519, 64 hex
  // characters each. docs/security.md, "Models".
  double baseline_warmup_s = 600;  // novelties (parent->child, W+X users, beacons) learned silently
  // Container image profiles (container-shell-novel, docs/detections.md): how
  // long after an image's first sighting (fleet-wide) its shells are learned,
  // how many images are kept, and how long a novel (image, shell) stays quiet
  // on this host after it was raised.
  std::uint64_t image_learning_window_s = 600;
  std::size_t image_profiles_max = 4096;
  std::uint64_t image_realert_s = 3600;
  // Rarity (docs/learning.md, "Rarity: host memory and fleet prevalence"):
  // behaviours new on this host, rare in the fleet, in a risky context raise
  // rare-*. Learning only for rarity_learn_s after the memory's first start;
  // rarity_max_keys behaviours kept (least recently seen evicted); a behaviour
  // seen on at least max(fleet_common_hosts, ceil(fraction * fleet)) hosts is
  // common.
  bool rarity = true;
  double rarity_learn_s = 86400;
  std::size_t rarity_max_keys = 50000;
  std::uint32_t rarity_fleet_common_hosts = 3;
  double rarity_fleet_common_fraction = 0.05;
  // Off (--no-builtin-detections): built-in indicators, Sigma rules and
  // stateful detectors raise nothing; only the rarity path alerts (evaluation).
  bool builtin_detections = true;
  std::string model_path;
  std::string model_pubkey;
  std::string model_release_pubkey;
  // Feature recording for the evolution dataset (docs/learning.md): a dataset
  // file and how its samples are labelled ("benign" or "scenario").
  std::string record_features;
  std::string record_label = "benign";
  std::uint32_t alert_threshold = 50;  // 0..100: events scoring this or more become alerts
  std::uint32_t stats_interval_s = 30;
  std::string metrics_listen;  // Prometheus /metrics on HOST:PORT; empty = off
  std::size_t process_table_capacity = 65536;
  std::string btf_path;  // custom kernel BTF for kernels without /sys/kernel/btf/vmlinux
  std::string log_level = "info";
  std::string log_format = "text";  // text | json
  bool check = false;
  // Sigma rules (docs/detections.md): operator rule directories, vigil's own
  // pack (compiled in) on or off, and rules switched off by id or name.
  std::vector<std::string> rules;
  bool builtin_rules = true;
  std::vector<std::string> disabled_rules;
  bool check_rules = false;  // --check-rules: list what loaded and exit
  ContainersConfig containers;
};

// Known probe family names, in load order.
[[nodiscard]] const std::vector<std::string>& known_probe_families();

// Parses a YAML document into `cfg` (keys not present keep their value).
[[nodiscard]] Result<void> apply_yaml(std::string_view yaml_text, AgentConfig& cfg);
[[nodiscard]] Result<void> apply_yaml_file(const std::filesystem::path& path, AgentConfig& cfg);

// Checks values that parse but make no sense together.
[[nodiscard]] Result<void> validate(const AgentConfig& cfg);

// Splits "a,b, c" into {"a","b","c"} (empty items dropped).
[[nodiscard]] std::vector<std::string> split_list(std::string_view s);

// Outcome of command-line parsing: a config to run with, or an exit code
// (--help, --version, or a usage error already printed).
struct ParsedArgs {
  AgentConfig config;
  bool exit_now = false;
  int exit_code = 0;
};

[[nodiscard]] ParsedArgs parse_args(int argc, const char* const* argv);

}  // namespace vigil::agent
