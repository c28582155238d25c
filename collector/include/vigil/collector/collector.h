// vigil-collector: configuration, the gRPC servers (agents, operator API), the
// store and the retention timer. main.cpp is a thin wrapper around run().
#pragma once

#include <filesystem>
#include <string>

#include "vigil/collector/correlator.h"
#include "vigil/collector/models.h"
#include "vigil/collector/store.h"
#include "vigil/result.h"

namespace vigil::collector {

inline constexpr std::string_view kVersion = "0.1.0";

struct CollectorConfig {
  std::string listen = "127.0.0.1:7700";  // AgentService
  std::string api_listen;                 // QueryService; empty = same server as listen
  std::filesystem::path data_dir = "/var/lib/vigil-collector";
  bool insecure = false;  // plaintext gRPC, for local trials only
  // With insecure: allow gRPC binds beyond loopback (plaintext, open to whoever
  // reaches the port). Off: an insecure collector listens on loopback only.
  bool insecure_bind_any = false;
  // TLS on both gRPC ports (PEM files). tls_ca verifies agents' client
  // certificates (mTLS; the certificate's CN is the agent's identity).
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  std::filesystem::path tls_ca;
  StoreOptions store;
  CorrelatorOptions correlation;
  ModelConfig models;  // signing_key empty = DATA_DIR/model-signing.key
  std::uint32_t retention_interval_s = 300;
  std::uint32_t stats_interval_s = 60;
  std::uint32_t max_agents = 10000;    // concurrent agent streams (0: no limit)
  std::uint32_t max_events_per_s = 0;  // per agent stream (0: no limit)
  std::uint32_t ingest_writers = 4;    // threads writing agents' messages to RocksDB
  // Fleet image profiles (image_profiles.h): images kept at most, and how
  // often changes are sent to agents.
  std::size_t image_profiles_max = 100'000;
  std::uint32_t image_profiles_debounce_ms = 1000;
  // Fleet prevalence of behaviours (prevalence.h): the window a (behaviour,
  // agent) pair is kept without a new report, the pushed table's size bound
  // (at most 262144), and how often a changed table is pushed.
  std::uint32_t prevalence_window_days = 30;
  std::size_t prevalence_max_keys = 200'000;
  std::uint32_t prevalence_debounce_ms = 5000;
  std::string metrics_listen;        // Prometheus /metrics on HOST:PORT; empty = off
  std::string web_listen;            // the read-only web view on HOST:PORT; empty = off
  std::filesystem::path token_file;  // API tokens with roles (tokens.h); the web view needs one
  // Enrollment (enroll.h): the issuing CA that signs agents' certificates (its
  // certificate, then the chain up to tls_ca's root; its key), and how long
  // those certificates live: enroll_cert_lifetime_s if set, else enroll_cert_days.
  std::filesystem::path enroll_ca_cert;
  std::filesystem::path enroll_ca_key;
  std::uint32_t enroll_cert_days = 30;
  std::uint64_t enroll_cert_lifetime_s = 0;
  std::string log_level = "info";
  std::string log_format = "text";  // text | json
};

[[nodiscard]] Result<void> apply_yaml_file(const std::filesystem::path& path, CollectorConfig& cfg);
[[nodiscard]] Result<void> apply_yaml(std::string_view text, CollectorConfig& cfg);

struct ParsedArgs {
  CollectorConfig config;
  bool exit_now = false;
  int exit_code = 0;
};
[[nodiscard]] ParsedArgs parse_args(int argc, char** argv);

// Closed by default: without `insecure` the collector needs TLS (tls_cert,
// tls_key, tls_ca: agents must present a certificate signed by tls_ca) and a
// token_file; with it, gRPC binds stay on loopback unless insecure_bind_any,
// and the web view (plaintext then) stays on loopback whatever is set.
[[nodiscard]] Result<void> check_exposure(const CollectorConfig& cfg);

// Serves until SIGINT/SIGTERM. Prints one line to stdout once listening:
//   vigil-collector: listening agents=HOST:PORT api=HOST:PORT
// (with the real ports when 0 was asked for). Returns the process exit code.
int run(const CollectorConfig& config);

class Ingest;
class AlertHub;
class ModelManager;
// The collector's Prometheus exposition (docs/operations.md lists every metric).
[[nodiscard]] std::string render_metrics(Ingest& ingest, AlertHub& hub, ModelManager& models);

}  // namespace vigil::collector
