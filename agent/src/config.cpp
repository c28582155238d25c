#include "vigil/agent/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "vigil/agent/runtime_client.h"
#include "vigil/log.h"

namespace vigil::agent {
namespace {

Result<OutputFormat> parse_format(std::string_view s) {
  if (s == "json") {
    return OutputFormat::kJson;
  }
  if (s == "text") {
    return OutputFormat::kText;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("format must be 'json' or 'text', not '{}'", s));
}

std::vector<std::string> yaml_list(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    return split_list(n.as<std::string>());
  }
  for (const auto& item : n) {
    out.push_back(item.as<std::string>());
  }
  return out;
}

bool is_power_of_two(std::uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

Result<void> apply_containers(const YAML::Node& n, ContainersConfig& c) {
  if (n.IsNull()) {
    return {};
  }
  if (!n.IsMap()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("config: containers must be a mapping (line {})", n.Mark().line + 1));
  }
  static const std::vector<std::string> kKeys = {"enabled",           "cgroup_root",
                                                 "runtime_sockets",   "storage_roots",
                                                 "lookup_timeout_ms", "capacity"};
  for (const auto& kv : n) {
    const auto key = kv.first.as<std::string>();
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("config: unknown key 'containers.{}' (line {})", key,
                                    kv.first.Mark().line + 1));
    }
  }
  if (auto v = n["enabled"]) c.enabled = v.as<bool>();
  if (auto v = n["cgroup_root"]) c.cgroup_root = v.as<std::string>();
  if (auto v = n["runtime_sockets"]) {
    c.runtime_sockets = v.IsNull() ? std::vector<std::string>{} : yaml_list(v);
  }
  if (auto v = n["storage_roots"]) {
    c.storage_roots = v.IsNull() ? std::vector<std::string>{} : yaml_list(v);
  }
  if (auto v = n["lookup_timeout_ms"]) c.lookup_timeout_ms = v.as<std::uint32_t>();
  if (auto v = n["capacity"]) c.capacity = v.as<std::size_t>();
  return {};
}

}  // namespace

const std::vector<std::string>& known_probe_families() {
  static const std::vector<std::string> kFamilies = {"process", "network", "memory", "file"};
  return kFamilies;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto next = s.find(',', pos);
    if (next == std::string_view::npos) {
      next = s.size();
    }
    auto item = s.substr(pos, next - pos);
    while (!item.empty() && item.front() == ' ') {
      item.remove_prefix(1);
    }
    while (!item.empty() && item.back() == ' ') {
      item.remove_suffix(1);
    }
    if (!item.empty()) {
      out.emplace_back(item);
    }
    pos = next + 1;
  }
  return out;
}

Result<void> apply_yaml(std::string_view yaml_text, AgentConfig& cfg) {
  static const std::vector<std::string> kKeys = {"host_id",
                                                 "state_dir",
                                                 "events_out",
                                                 "alerts_out",
                                                 "format",
                                                 "probes",
                                                 "ignore_comms",
                                                 "ignore_exec_prefixes",
                                                 "ringbuf_kib",
                                                 "stats_interval_s",
                                                 "process_table_capacity",
                                                 "btf_path",
                                                 "log_level",
                                                 "log_format",
                                                 "alert_threshold",
                                                 "file_watch_prefixes",
                                                 "file_read_paths",
                                                 "file_watch_names",
                                                 "xdp_ifaces",
                                                 "xdp_enforce",
                                                 "raw_events",
                                                 "ringbuf_wakeup_us",
                                                 "ringbuf_poll_ms",
                                                 "xdp_blocklist",
                                                 "collector",
                                                 "insecure",
                                                 "tls_ca",
                                                 "tls_cert",
                                                 "tls_key",
                                                 "enroll_token_file",
                                                 "agent_id",
                                                 "host_addresses",
                                                 "spool_max_mb",
                                                 "spool_sync",
                                                 "batch_max",
                                                 "batch_interval_ms",
                                                 "handoff_max_events",
                                                 "model_path",
                                                 "baseline_warmup_s",
                                                 "image_learning_window_s",
                                                 "image_profiles_max",
                                                 "image_realert_s",
                                                 "rarity",
                                                 "rarity_learn_s",
                                                 "rarity_max_keys",
                                                 "rarity_fleet_common_hosts",
                                                 "rarity_fleet_common_fraction",
                                                 "builtin_detections",
                                                 "model_pubkey",
                                                 "model_release_pubkey",
                                                 "metrics_listen",
                                                 "alert_format",
                                                 "record_features",
                                                 "record_label",
                                                 "rules",
                                                 "builtin_rules",
                                                 "disabled_rules",
                                                 "containers"};
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("config: {}", e.what()));
  }
  if (root.IsNull()) {
    return {};
  }
  if (!root.IsMap()) {
    return make_error(ErrorCode::kInvalidArgument, "config: top level must be a mapping");
  }
  try {
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
        return make_error(
            ErrorCode::kInvalidArgument,
            fmt::format("config: unknown key '{}' (line {})", key, kv.first.Mark().line + 1));
      }
    }
    if (auto n = root["host_id"]) cfg.host_id = n.as<std::string>();
    if (auto n = root["state_dir"]) cfg.state_dir = n.as<std::string>();
    if (auto n = root["events_out"]) cfg.events_out = n.as<std::string>();
    if (auto n = root["alerts_out"]) cfg.alerts_out = n.as<std::string>();
    if (auto n = root["format"]) {
      auto f = parse_format(n.as<std::string>());
      if (!f) {
        return std::unexpected(f.error());
      }
      cfg.format = *f;
    }
    if (auto n = root["probes"]) cfg.probes = yaml_list(n);
    if (auto n = root["ignore_comms"]) cfg.ignore_comms = yaml_list(n);
    if (auto n = root["ignore_exec_prefixes"]) cfg.ignore_exec_prefixes = yaml_list(n);
    if (auto n = root["ringbuf_kib"]) cfg.ringbuf_kib = n.as<std::uint32_t>();
    if (auto n = root["stats_interval_s"]) cfg.stats_interval_s = n.as<std::uint32_t>();
    if (auto n = root["process_table_capacity"]) {
      cfg.process_table_capacity = n.as<std::size_t>();
    }
    if (auto n = root["btf_path"]) cfg.btf_path = n.as<std::string>();
    if (auto n = root["log_level"]) cfg.log_level = n.as<std::string>();
    if (auto n = root["log_format"]) cfg.log_format = n.as<std::string>();
    if (auto n = root["alert_threshold"]) cfg.alert_threshold = n.as<std::uint32_t>();
    if (auto n = root["file_watch_prefixes"]) cfg.file_watch_prefixes = yaml_list(n);
    if (auto n = root["file_read_paths"]) cfg.file_read_paths = yaml_list(n);
    if (auto n = root["file_watch_names"]) cfg.file_watch_names = yaml_list(n);
    if (auto n = root["xdp_ifaces"]) cfg.xdp_ifaces = yaml_list(n);
    if (auto n = root["xdp_enforce"]) cfg.xdp_enforce = n.as<bool>();
    if (auto n = root["raw_events"]) cfg.raw_events = n.as<bool>();
    if (auto n = root["ringbuf_wakeup_us"]) cfg.ringbuf_wakeup_us = n.as<std::uint32_t>();
    if (auto n = root["ringbuf_poll_ms"]) cfg.ringbuf_poll_ms = n.as<std::uint32_t>();
    if (auto n = root["xdp_blocklist"]) cfg.xdp_blocklist = yaml_list(n);
    if (auto n = root["collector"]) cfg.collector = n.as<std::string>();
    if (auto n = root["insecure"]) cfg.insecure = n.as<bool>();
    if (auto n = root["tls_ca"]) cfg.tls_ca = n.as<std::string>();
    if (auto n = root["tls_cert"]) cfg.tls_cert = n.as<std::string>();
    if (auto n = root["tls_key"]) cfg.tls_key = n.as<std::string>();
    if (auto n = root["enroll_token_file"]) cfg.enroll_token_file = n.as<std::string>();
    if (auto n = root["agent_id"]) cfg.agent_id = n.as<std::string>();
    if (auto n = root["host_addresses"]) cfg.host_addresses = yaml_list(n);
    if (auto n = root["spool_max_mb"]) cfg.spool_max_mb = n.as<std::uint64_t>();
    if (auto n = root["spool_sync"]) cfg.spool_sync = n.as<bool>();
    if (auto n = root["batch_max"]) cfg.batch_max = n.as<std::uint32_t>();
    if (auto n = root["batch_interval_ms"]) cfg.batch_interval_ms = n.as<std::uint32_t>();
    if (auto n = root["handoff_max_events"]) cfg.handoff_max_events = n.as<std::uint32_t>();
    if (auto n = root["model_path"]) cfg.model_path = n.as<std::string>();
    if (auto n = root["baseline_warmup_s"]) cfg.baseline_warmup_s = n.as<double>();
    if (auto n = root["image_learning_window_s"]) {
      cfg.image_learning_window_s = n.as<std::uint64_t>();
    }
    if (auto n = root["image_profiles_max"]) cfg.image_profiles_max = n.as<std::size_t>();
    if (auto n = root["image_realert_s"]) cfg.image_realert_s = n.as<std::uint64_t>();
    if (auto n = root["rarity"]) cfg.rarity = n.as<bool>();
    if (auto n = root["rarity_learn_s"]) cfg.rarity_learn_s = n.as<double>();
    if (auto n = root["rarity_max_keys"]) cfg.rarity_max_keys = n.as<std::size_t>();
    if (auto n = root["rarity_fleet_common_hosts"]) {
      cfg.rarity_fleet_common_hosts = n.as<std::uint32_t>();
    }
    if (auto n = root["rarity_fleet_common_fraction"]) {
      cfg.rarity_fleet_common_fraction = n.as<double>();
    }
    if (auto n = root["builtin_detections"]) cfg.builtin_detections = n.as<bool>();
    if (auto n = root["model_pubkey"]) cfg.model_pubkey = n.as<std::string>();
    if (auto n = root["model_release_pubkey"]) {
      cfg.model_release_pubkey = n.as<std::string>();
    }
    if (auto n = root["metrics_listen"]) cfg.metrics_listen = n.as<std::string>();
    if (auto n = root["alert_format"]) {
      const auto v = n.as<std::string>();
      if (v != "falco" && v != "default") {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("alert_format '{}' must be default or falco", v));
      }
      cfg.falco_alerts = v == "falco";
    }
    if (auto n = root["record_features"]) cfg.record_features = n.as<std::string>();
    if (auto n = root["record_label"]) cfg.record_label = n.as<std::string>();
    if (auto n = root["rules"]) cfg.rules = yaml_list(n);
    if (auto n = root["builtin_rules"]) cfg.builtin_rules = n.as<bool>();
    if (auto n = root["disabled_rules"]) cfg.disabled_rules = yaml_list(n);
    if (auto n = root["containers"]) {
      if (auto r = apply_containers(n, cfg.containers); !r) {
        return r;
      }
    }
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("config: line {}: {}", e.mark.line + 1, e.msg));
  }
  return {};
}

Result<void> apply_yaml_file(const std::filesystem::path& path, AgentConfig& cfg) {
  std::ifstream in(path);
  if (!in) {
    return make_error(ErrorCode::kNotFound, fmt::format("cannot read config {}", path.string()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = apply_yaml(ss.str(), cfg);
  if (!r) {
    return make_error(r.error().code, fmt::format("{}: {}", path.string(), r.error().message));
  }
  return {};
}

Result<void> validate(const AgentConfig& cfg) {
  if (cfg.probes.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "no probe families requested");
  }
  if (auto r = log::validate_logging(cfg.log_level, cfg.log_format); !r) {
    return r;
  }
  if (!cfg.enroll_token_file.empty() && (!cfg.tls_cert.empty() || !cfg.tls_key.empty())) {
    return make_error(ErrorCode::kInvalidArgument,
                      "enroll_token_file and tls_cert/tls_key exclude each other: an enrolled "
                      "agent keeps its key and certificate in STATE_DIR/tls");
  }
  if (!cfg.enroll_token_file.empty() && (cfg.insecure || cfg.tls_ca.empty())) {
    return make_error(ErrorCode::kInvalidArgument,
                      "enrollment needs TLS: tls_ca (the CA of the collector's certificate), "
                      "not insecure");
  }
  if (!cfg.collector.empty() && !cfg.insecure && cfg.enroll_token_file.empty() &&
      (cfg.tls_ca.empty() || cfg.tls_cert.empty() || cfg.tls_key.empty())) {
    return make_error(ErrorCode::kInvalidArgument,
                      "collector needs tls_ca and either enroll_token_file (--enroll; vigilctl "
                      "enroll create makes one) or tls_cert and tls_key (mTLS; "
                      "deploy/make-certs.sh makes them); for a local trial only, insecure: true "
                      "/ --insecure");
  }
  for (const auto& p : cfg.probes) {
    const auto& known = known_probe_families();
    if (std::find(known.begin(), known.end(), p) == known.end()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("unknown probe family '{}' (known: process, network, "
                                    "memory, file)",
                                    p));
    }
  }
  if (cfg.ringbuf_kib < 4 || !is_power_of_two(cfg.ringbuf_kib)) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("ringbuf_kib must be a power of two >= 4, not {}", cfg.ringbuf_kib));
  }
  if (cfg.ringbuf_poll_ms > 1000) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("ringbuf_poll_ms must be 0..1000, not {}", cfg.ringbuf_poll_ms));
  }
  if (cfg.handoff_max_events > 1000000) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("handoff_max_events must be 0..1000000, not {}", cfg.handoff_max_events));
  }
  if (cfg.batch_max == 0 || cfg.batch_max > 10000) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("batch_max must be 1..10000, not {}", cfg.batch_max));
  }
  if (cfg.record_label != "benign" && cfg.record_label != "scenario") {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("record_label '{}' must be benign or scenario", cfg.record_label));
  }
  for (const auto& [name, key] : {std::pair{"model_pubkey", &cfg.model_pubkey},
                                  std::pair{"model_release_pubkey", &cfg.model_release_pubkey}}) {
    if (!key->empty() && (key->size() != 64 ||
                          key->find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{} must be 64 hex characters (an ed25519 public key)", name));
    }
  }
  if (cfg.baseline_warmup_s < 0) {
    return make_error(ErrorCode::kInvalidArgument, "baseline_warmup_s must be >= 0");
  }
  if (cfg.image_profiles_max == 0) {
    return make_error(ErrorCode::kInvalidArgument, "image_profiles_max must be > 0");
  }
  constexpr std::uint64_t kTenYearsS = 10ULL * 365 * 86400;
  if (cfg.image_learning_window_s > kTenYearsS || cfg.image_realert_s > kTenYearsS) {
    return make_error(ErrorCode::kInvalidArgument,
                      "image_learning_window_s and image_realert_s must be at most 10 years");
  }
  if (!(cfg.rarity_learn_s >= 0) || cfg.rarity_learn_s > static_cast<double>(kTenYearsS)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("rarity_learn_s must be 0..{} seconds, not {}", kTenYearsS,
                                  cfg.rarity_learn_s));
  }
  if (cfg.rarity_max_keys < 100 || cfg.rarity_max_keys > 10'000'000) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("rarity_max_keys must be 100..10000000, not {}", cfg.rarity_max_keys));
  }
  if (cfg.rarity_fleet_common_hosts == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "rarity_fleet_common_hosts must be at least 1 (hosts that make a "
                      "behaviour common in the fleet)");
  }
  if (!(cfg.rarity_fleet_common_fraction >= 0 && cfg.rarity_fleet_common_fraction <= 1)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("rarity_fleet_common_fraction must be 0..1 (a share of the "
                                  "fleet's hosts), not {}",
                                  cfg.rarity_fleet_common_fraction));
  }
  if (cfg.spool_max_mb == 0) {
    return make_error(ErrorCode::kInvalidArgument, "spool_max_mb must be at least 1");
  }
  if (!cfg.collector.empty() && cfg.collector.find(':') == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("collector must be HOST:PORT, not '{}'", cfg.collector));
  }
  if (cfg.alert_threshold > 100) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("alert_threshold must be 0..100, not {}", cfg.alert_threshold));
  }
  if (cfg.process_table_capacity == 0) {
    return make_error(ErrorCode::kInvalidArgument, "process_table_capacity must be > 0");
  }
  for (const auto& c : cfg.ignore_comms) {
    if (c.size() >= 16) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("ignore_comms entry '{}' is longer than 15 bytes", c));
    }
  }
  for (const auto* list : {&cfg.file_watch_prefixes, &cfg.file_read_paths}) {
    for (const auto& p : *list) {
      if (p.empty() || p.front() != '/' || p.size() > 64) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("file watch path '{}' must be absolute, 1..64 bytes", p));
      }
    }
  }
  for (const auto& n : cfg.file_watch_names) {
    if (n.empty() || n.size() > 31 || n.find('/') != std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("file watch name '{}' must be a basename of 1..31 bytes", n));
    }
  }
  if (cfg.containers.cgroup_root != "auto" &&
      (cfg.containers.cgroup_root.empty() || cfg.containers.cgroup_root.front() != '/')) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("containers.cgroup_root '{}' must be auto or an absolute path",
                                  cfg.containers.cgroup_root));
  }
  for (const auto& s : cfg.containers.runtime_sockets) {
    if (auto r = parse_runtime_socket(s); !r) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("containers.runtime_sockets: {}", r.error().message));
    }
  }
  for (const auto& r : cfg.containers.storage_roots) {
    if (r.empty() || r.front() != '/') {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("containers.storage_roots entry '{}' must be absolute", r));
    }
  }
  if (cfg.containers.lookup_timeout_ms == 0 || cfg.containers.lookup_timeout_ms > 60000) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("containers.lookup_timeout_ms must be 1..60000, not {}",
                                  cfg.containers.lookup_timeout_ms));
  }
  if (cfg.containers.capacity == 0) {
    return make_error(ErrorCode::kInvalidArgument, "containers.capacity must be > 0");
  }
  for (const auto& p : cfg.ignore_exec_prefixes) {
    if (p.empty() || p.size() > 64) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("ignore_exec_prefixes entry '{}' must be 1..64 bytes", p));
    }
  }
  return {};
}

ParsedArgs parse_args(int argc, const char* const* argv) {
  ParsedArgs parsed;
  CLI::App app{"vigil-agent: eBPF runtime threat detection for this host", "vigil-agent"};
  std::string config_path;
  std::string host_id;
  std::string state_dir;
  std::string events_out;
  std::string alerts_out;
  std::string format;
  std::string probes;
  std::string ignore_comms;
  std::string log_level;
  std::string log_format;
  std::string btf_path;
  std::string xdp_ifaces;
  std::string xdp_blocklist;
  bool xdp_enforce = false;
  bool raw_events = false;
  std::string collector;
  bool insecure = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string enroll_token_file;
  std::string agent_id;
  std::string host_addresses;
  std::uint64_t spool_max_mb = 0;
  std::string model_path;
  std::string model_pubkey;
  std::string model_release_pubkey;
  std::string record_features;
  std::string record_label;
  std::string metrics_listen;
  std::string alert_format;
  double baseline_warmup_s = 0;
  std::string rarity;
  double rarity_learn_s = 0;
  bool no_builtin_detections = false;
  std::uint64_t image_learning_window_s = 0;
  std::uint32_t ringbuf_kib = 0;
  std::uint32_t ringbuf_wakeup_us = 0;
  std::uint32_t ringbuf_poll_ms = 0;
  std::uint32_t handoff_max_events = 0;
  std::uint32_t stats_interval = 0;
  std::uint32_t alert_threshold = 0;
  bool check = false;
  bool version = false;
  std::vector<std::string> rules;
  bool no_builtin_rules = false;
  std::string disabled_rules;
  bool check_rules = false;

  app.add_option("--config", config_path, "YAML config file");
  app.add_option("--host-id", host_id, "host identity (default: hostname)");
  app.add_option("--state-dir", state_dir, "state directory (default /var/lib/vigil)");
  app.add_option("--events-out", events_out, "write every event here: PATH or - for stdout");
  app.add_option("--alerts-out", alerts_out, "write alerts here: PATH or - for stdout");
  app.add_option("--format", format, "output format: json (default) or text");
  app.add_option("--probes", probes, "probe families: process,network,memory,file");
  app.add_option("--ignore-comms", ignore_comms, "comma-separated comms dropped in the kernel");
  app.add_option("--alert-threshold", alert_threshold,
                 "score 0..100 at which an event is an alert");
  app.add_option("--ringbuf-kib", ringbuf_kib, "ring buffer size per probe family, KiB");
  app.add_option("--ringbuf-wakeup-us", ringbuf_wakeup_us,
                 "wake the reader at most once per this many us (0: every record)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--ringbuf-poll-ms", ringbuf_poll_ms,
                 "the longest a record waits in the ring: the reader polls (0: a wakeup per "
                 "record)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--handoff-max-events", handoff_max_events,
                 "bound of the queue to the spool writer thread (0: no writer thread, the "
                 "agent loop appends)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--stats-interval", stats_interval, "seconds between counter reports (0: off)");
  app.add_option("--xdp-iface", xdp_ifaces,
                 "interfaces for XDP network summaries (comma list, or 'all')");
  app.add_flag("--xdp-enforce", xdp_enforce, "drop packets from blocklisted sources in XDP");
  app.add_flag("--raw-events", raw_events,
               "every kernel event to user space: no in-kernel de-duplication or rate limits");
  app.add_option("--xdp-block", xdp_blocklist, "comma list of ADDR or ADDR/TTL_S to block");
  app.add_option("--collector", collector, "ship scored events to vigil-collector at HOST:PORT");
  app.add_flag("--insecure", insecure, "plaintext gRPC to the collector (local trials only)");
  app.add_option("--tls-ca", tls_ca, "CA (PEM) that signed the collector's certificate");
  app.add_option("--tls-cert", tls_cert, "this agent's client certificate (PEM; CN = agent id)");
  app.add_option("--tls-key", tls_key, "this agent's private key (PEM)");
  app.add_option("--enroll", enroll_token_file,
                 "enroll token file: get a client certificate from the collector (kept and "
                 "renewed in STATE_DIR/tls) instead of --tls-cert/--tls-key");
  app.add_option("--agent-id", agent_id, "identity towards the collector (default: host id)");
  app.add_option("--host-addresses", host_addresses,
                 "addresses reported to the collector (default: the interfaces')");
  app.add_option("--spool-max-mb", spool_max_mb, "bound of the on-disk spool, MiB (default 256)");
  bool spool_sync = false;
  app.add_flag("--spool-sync", spool_sync,
               "fsync every spool write: a power cut then loses no unacked event (costs an fsync "
               "per drain)");
  app.add_option("--baseline-warmup", baseline_warmup_s,
                 "seconds after first start during which novelties are learned silently (600)");
  app.add_option("--image-learning-window", image_learning_window_s,
                 "seconds after an image's first sighting (fleet-wide) during which the shells "
                 "its containers run are learned (600; 0: none, every shell is novel)");
  app.add_option("--rarity", rarity,
                 "the rarity path: behaviours new here, rare in the fleet, in a risky context "
                 "raise rare-* (on, default; off)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--rarity-learn", rarity_learn_s,
                 "seconds after the behaviour memory's first start during which behaviours are "
                 "only learned (86400)");
  app.add_flag("--no-builtin-detections", no_builtin_detections,
               "drop every built-in indicator, Sigma rule and stateful-detector hit: only the "
               "rarity path raises alerts (evaluating it; docs/learning.md)");
  app.add_option("--model", model_path, "scoring model file (vigil.v1.Model protobuf)");
  app.add_option("--model-pubkey", model_pubkey,
                 "ed25519 public key (hex) that collector model updates must be signed with");
  app.add_option("--model-release-pubkey", model_release_pubkey,
                 "ed25519 public key (hex) of the offline release key fleet-wide models need");
  app.add_option("--alert-format", alert_format,
                 "alerts as 'default' (--format) or 'falco' (Falco-compatible JSON)")
      ->check(CLI::IsMember({"default", "falco"}));
  app.add_option("--metrics-listen", metrics_listen,
                 "serve Prometheus /metrics on HOST:PORT (off by default)");
  app.add_option("--record-features", record_features,
                 "append every scored event's feature vector to this dataset file (offline "
                 "learning; docs/learning.md)");
  app.add_option("--record-label", record_label,
                 "labels for --record-features: benign (every event negative) or scenario "
                 "(events with an indicator of severity >= 40 positive, the rest skipped)");
  app.add_option("--btf", btf_path, "kernel BTF file when /sys/kernel/btf/vmlinux is missing");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off");
  app.add_option("--log-format", log_format, "log lines as text (default) or json");
  app.add_flag("--check", check, "load the probes, print each one's status and exit");
  app.add_option("--rules", rules,
                 "Sigma rule directory (repeatable; *.yml/*.yaml below it, recursively)");
  app.add_flag("--no-builtin-rules", no_builtin_rules,
               "do not load vigil's own rule pack (compiled in; docs/detections.md)");
  app.add_option("--disable-rules", disabled_rules,
                 "comma list of rule ids or names switched off (noisy rules)");
  app.add_flag("--check-rules", check_rules,
               "load the rules, list what loaded and what did not (with the reason) and exit: "
               "0 only if every rule file parsed");
  app.add_flag("--version", version, "print the version and exit");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    parsed.exit_now = true;
    parsed.exit_code = app.exit(e);
    return parsed;
  }
  if (version) {
    std::cout << "vigil-agent " << kVersion << '\n';
    parsed.exit_now = true;
    return parsed;
  }

  auto& cfg = parsed.config;
  auto fail = [&parsed](const std::string& msg) {
    std::cerr << "vigil-agent: " << msg << '\n';
    parsed.exit_now = true;
    parsed.exit_code = 2;
    return parsed;
  };
  if (!config_path.empty()) {
    if (auto r = apply_yaml_file(config_path, cfg); !r) {
      return fail(r.error().message);
    }
  }
  if (app.count("--host-id") > 0) cfg.host_id = host_id;
  if (app.count("--state-dir") > 0) cfg.state_dir = state_dir;
  if (app.count("--events-out") > 0) cfg.events_out = events_out;
  if (app.count("--alerts-out") > 0) cfg.alerts_out = alerts_out;
  if (app.count("--format") > 0) {
    auto f = parse_format(format);
    if (!f) {
      return fail(f.error().message);
    }
    cfg.format = *f;
  }
  if (app.count("--probes") > 0) cfg.probes = split_list(probes);
  if (app.count("--ignore-comms") > 0) cfg.ignore_comms = split_list(ignore_comms);
  if (app.count("--ringbuf-kib") > 0) cfg.ringbuf_kib = ringbuf_kib;
  if (app.count("--ringbuf-wakeup-us") > 0) cfg.ringbuf_wakeup_us = ringbuf_wakeup_us;
  if (app.count("--ringbuf-poll-ms") > 0) cfg.ringbuf_poll_ms = ringbuf_poll_ms;
  if (app.count("--handoff-max-events") > 0) cfg.handoff_max_events = handoff_max_events;
  if (app.count("--stats-interval") > 0) cfg.stats_interval_s = stats_interval;
  if (app.count("--alert-threshold") > 0) cfg.alert_threshold = alert_threshold;
  if (app.count("--btf") > 0) cfg.btf_path = btf_path;
  if (app.count("--xdp-iface") > 0) cfg.xdp_ifaces = split_list(xdp_ifaces);
  if (app.count("--xdp-enforce") > 0) cfg.xdp_enforce = xdp_enforce;
  if (app.count("--raw-events") > 0) cfg.raw_events = raw_events;
  if (app.count("--xdp-block") > 0) cfg.xdp_blocklist = split_list(xdp_blocklist);
  if (app.count("--log-level") > 0) cfg.log_level = log_level;
  if (app.count("--log-format") > 0) cfg.log_format = log_format;
  if (app.count("--collector") > 0) cfg.collector = collector;
  if (app.count("--insecure") > 0) cfg.insecure = insecure;
  if (app.count("--tls-ca") > 0) cfg.tls_ca = tls_ca;
  if (app.count("--tls-cert") > 0) cfg.tls_cert = tls_cert;
  if (app.count("--tls-key") > 0) cfg.tls_key = tls_key;
  if (app.count("--enroll") > 0) cfg.enroll_token_file = enroll_token_file;
  if (app.count("--agent-id") > 0) cfg.agent_id = agent_id;
  if (app.count("--host-addresses") > 0) cfg.host_addresses = split_list(host_addresses);
  if (app.count("--spool-max-mb") > 0) cfg.spool_max_mb = spool_max_mb;
  if (app.count("--spool-sync") > 0) cfg.spool_sync = true;
  if (app.count("--model") > 0) cfg.model_path = model_path;
  if (app.count("--baseline-warmup") > 0) cfg.baseline_warmup_s = baseline_warmup_s;
  if (app.count("--image-learning-window") > 0) {
    cfg.image_learning_window_s = image_learning_window_s;
  }
  if (app.count("--rarity") > 0) cfg.rarity = rarity == "on";
  if (app.count("--rarity-learn") > 0) cfg.rarity_learn_s = rarity_learn_s;
  if (app.count("--no-builtin-detections") > 0) cfg.builtin_detections = false;
  if (app.count("--model-pubkey") > 0) cfg.model_pubkey = model_pubkey;
  if (app.count("--model-release-pubkey") > 0) cfg.model_release_pubkey = model_release_pubkey;
  if (app.count("--record-features") > 0) cfg.record_features = record_features;
  if (app.count("--metrics-listen") > 0) cfg.metrics_listen = metrics_listen;
  if (app.count("--alert-format") > 0) cfg.falco_alerts = alert_format == "falco";
  if (app.count("--record-label") > 0) cfg.record_label = record_label;
  cfg.check = check;
  if (app.count("--rules") > 0) cfg.rules = rules;
  if (app.count("--no-builtin-rules") > 0) cfg.builtin_rules = false;
  if (app.count("--disable-rules") > 0) cfg.disabled_rules = split_list(disabled_rules);
  cfg.check_rules = check_rules;
  if (auto r = validate(cfg); !r) {
    return fail(r.error().message);
  }
  return parsed;
}

}  // namespace vigil::agent
