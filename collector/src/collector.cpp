#include "vigil/collector/collector.h"

#include <fmt/format.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "vigil/clock.h"
#include "vigil/collector/authz.h"
#include "vigil/collector/canary_gate.h"
#include "vigil/collector/enroll.h"
#include "vigil/collector/image_profiles.h"
#include "vigil/collector/ingest.h"
#include "vigil/collector/model_service.h"
#include "vigil/collector/prevalence.h"
#include "vigil/collector/query_service.h"
#include "vigil/collector/rule_service.h"
#include "vigil/collector/web.h"
#include "vigil/log.h"
#include "vigil/metrics_server.h"
#include "vigil/model_release.h"
#include "vigil/pem.h"
#include "vigil/shipped_model.h"
#include "vigil/wire_limits.h"

namespace vigil::collector {
namespace {

// TLS on both ports: a client certificate is requested and, when given,
// verified against tls_ca. AgentService then insists on one (Ingest); operators
// (vigilctl, the Python client) connect with server-side TLS and a token.
Result<std::shared_ptr<grpc::ServerCredentials>> server_credentials(const CollectorConfig& c) {
  auto tls = read_tls_files(c.tls_ca, c.tls_cert, c.tls_key);
  if (!tls) {
    return std::unexpected(tls.error());
  }
  grpc::SslServerCredentialsOptions opts(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.pem_root_certs = tls->ca;
  opts.pem_key_cert_pairs.push_back({tls->key, tls->cert});
  return grpc::SslServerCredentials(opts);
}

// "host:port" with the port grpc actually bound.
std::string bound(const std::string& addr, int port) {
  const auto colon = addr.rfind(':');
  return fmt::format("{}:{}", colon == std::string::npos ? addr : addr.substr(0, colon), port);
}

}  // namespace

Result<void> apply_yaml(std::string_view text, CollectorConfig& cfg) {
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (!root || root.IsNull()) {
      return {};
    }
    if (!root.IsMap()) {
      return make_error(ErrorCode::kInvalidArgument, "config: top level must be a map");
    }
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      const auto& v = kv.second;
      if (key == "listen") {
        cfg.listen = v.as<std::string>();
      } else if (key == "api_listen") {
        cfg.api_listen = v.as<std::string>();
      } else if (key == "data_dir") {
        cfg.data_dir = v.as<std::string>();
      } else if (key == "insecure") {
        cfg.insecure = v.as<bool>();
      } else if (key == "insecure_bind_any") {
        cfg.insecure_bind_any = v.as<bool>();
      } else if (key == "tls_cert") {
        cfg.tls_cert = v.as<std::string>();
      } else if (key == "tls_key") {
        cfg.tls_key = v.as<std::string>();
      } else if (key == "tls_ca") {
        cfg.tls_ca = v.as<std::string>();
      } else if (key == "retention_age_s") {
        cfg.store.retention_age_s = v.as<std::uint64_t>();
      } else if (key == "retention_bytes") {
        cfg.store.retention_bytes = v.as<std::uint64_t>();
      } else if (key == "alert_retention_age_s") {
        cfg.store.alert_retention_age_s = v.as<std::uint64_t>();
      } else if (key == "retention_interval_s") {
        cfg.retention_interval_s = v.as<std::uint32_t>();
      } else if (key == "correlation_window_s") {
        cfg.correlation.window_s = v.as<std::uint64_t>();
      } else if (key == "correlation_min_hosts") {
        cfg.correlation.min_hosts = v.as<std::uint32_t>();
      } else if (key == "correlation_rules") {
        cfg.correlation.rule_dirs.clear();
        if (v.IsSequence()) {
          for (const auto& d : v) cfg.correlation.rule_dirs.emplace_back(d.as<std::string>());
        } else if (!v.IsNull()) {
          cfg.correlation.rule_dirs.emplace_back(v.as<std::string>());
        }
      } else if (key == "correlation_shipped_rules") {
        cfg.correlation.shipped_rules = v.as<bool>();
      } else if (key == "correlation_max_groups") {
        cfg.correlation.max_groups = v.as<std::size_t>();
      } else if (key == "correlation_max_entries") {
        cfg.correlation.max_entries = v.as<std::size_t>();
      } else if (key == "stats_interval_s") {
        cfg.stats_interval_s = v.as<std::uint32_t>();
      } else if (key == "model_signing_key") {
        cfg.models.signing_key = v.as<std::string>();
      } else if (key == "model_release_pubkey") {
        cfg.models.release_pubkey = v.as<std::string>();
      } else if (key == "model_canary_ttl_s") {
        cfg.models.canary_ttl_s = v.as<std::uint64_t>();
      } else if (key == "evolve_interval_s") {
        cfg.models.evolve_interval_s = v.as<std::uint64_t>();
      } else if (key == "evolve_window_s") {
        cfg.models.evolve_window_s = v.as<std::uint64_t>();
      } else if (key == "evolve_feedback_trigger") {
        cfg.models.evolve_feedback_trigger = v.as<std::uint32_t>();
      } else if (key == "evolve_population") {
        cfg.models.evolve_population = v.as<std::size_t>();
      } else if (key == "evolve_generations") {
        cfg.models.evolve_generations = v.as<std::size_t>();
      } else if (key == "evolve_workers") {
        cfg.models.evolve_workers = v.as<std::size_t>();
      } else if (key == "evolve_inner_folds") {
        cfg.models.evolve_inner_folds = v.as<std::size_t>();
      } else if (key == "evolve_ensemble") {
        cfg.models.evolve_ensemble = v.as<std::size_t>();
      } else if (apply_canary_gate_key(key, v, cfg.models.canary_gate)) {
        // canary_gate, canary_gate_*: the canary's behaviour against the control's
      } else if (key == "evolve_scenario_dataset") {
        cfg.models.scenario_dataset = v.as<std::string>();
      } else if (key == "min_free_mb") {
        cfg.store.min_free_bytes = v.as<std::uint64_t>() << 20;
      } else if (key == "max_agents") {
        cfg.max_agents = v.as<std::uint32_t>();
      } else if (key == "ingest_writers") {
        cfg.ingest_writers = v.as<std::uint32_t>();
      } else if (key == "image_profiles_max") {
        cfg.image_profiles_max = v.as<std::size_t>();
      } else if (key == "image_profiles_debounce_ms") {
        cfg.image_profiles_debounce_ms = v.as<std::uint32_t>();
      } else if (key == "prevalence_window_days") {
        cfg.prevalence_window_days = v.as<std::uint32_t>();
      } else if (key == "prevalence_max_keys") {
        cfg.prevalence_max_keys = v.as<std::size_t>();
      } else if (key == "prevalence_debounce_ms") {
        cfg.prevalence_debounce_ms = v.as<std::uint32_t>();
      } else if (key == "max_events_per_s") {
        cfg.max_events_per_s = v.as<std::uint32_t>();
      } else if (key == "metrics_listen") {
        cfg.metrics_listen = v.as<std::string>();
      } else if (key == "web_listen") {
        cfg.web_listen = v.as<std::string>();
      } else if (key == "token_file") {
        cfg.token_file = v.as<std::string>();
      } else if (key == "enroll_ca_cert") {
        cfg.enroll_ca_cert = v.as<std::string>();
      } else if (key == "enroll_ca_key") {
        cfg.enroll_ca_key = v.as<std::string>();
      } else if (key == "enroll_cert_days") {
        cfg.enroll_cert_days = v.as<std::uint32_t>();
      } else if (key == "enroll_cert_lifetime_s") {
        cfg.enroll_cert_lifetime_s = v.as<std::uint64_t>();
      } else if (key == "log_level") {
        cfg.log_level = v.as<std::string>();
      } else if (key == "log_format") {
        cfg.log_format = v.as<std::string>();
      } else {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("config: unknown key '{}'", key));
      }
    }
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("config: {}", e.what()));
  }
  if (cfg.correlation.min_hosts < 2) {
    return make_error(ErrorCode::kInvalidArgument, "config: correlation_min_hosts must be >= 2");
  }
  if (cfg.correlation.max_groups == 0 || cfg.correlation.max_entries == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "config: correlation_max_groups and correlation_max_entries must be >= 1");
  }
  if (cfg.prevalence_window_days == 0) {
    return make_error(ErrorCode::kInvalidArgument, "config: prevalence_window_days must be >= 1");
  }
  if (cfg.prevalence_max_keys > wire::kMaxPrevalenceKeys) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("config: prevalence_max_keys must be <= {} (the table must fit "
                                  "an agent's 4 MiB gRPC receive limit)",
                                  wire::kMaxPrevalenceKeys));
  }
  return {};
}

Result<void> apply_yaml_file(const std::filesystem::path& path, CollectorConfig& cfg) {
  std::ifstream in(path);
  if (!in) {
    return make_error(ErrorCode::kNotFound, fmt::format("config: cannot read {}", path.string()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return apply_yaml(ss.str(), cfg);
}

Result<void> check_exposure(const CollectorConfig& cfg) {
  if (!cfg.insecure) {
    // Closed by default: agents must present certificates signed by tls_ca, and
    // every operator call a bearer token.
    if (cfg.tls_cert.empty() || cfg.tls_key.empty() || cfg.tls_ca.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "TLS needs tls_cert, tls_key and tls_ca (deploy/make-certs.sh makes "
                        "them); for a local trial only, --insecure serves plaintext on loopback");
    }
    if (cfg.token_file.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the operator API needs token_file ('operator TOKEN' and 'viewer TOKEN' "
                        "lines, docs/security.md); for a local trial only, --insecure serves "
                        "plaintext on loopback");
    }
    return {};
  }
  if (!cfg.web_listen.empty() && !is_loopback_listen(cfg.web_listen)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("web_listen {} is not a loopback address and --insecure means "
                                  "no TLS: the web view's token would cross the network in clear. "
                                  "Bind it to 127.0.0.1, or configure TLS",
                                  cfg.web_listen));
  }
  if (!cfg.insecure_bind_any) {
    for (const auto& [name, addr] :
         {std::pair{"listen", &cfg.listen}, {"api_listen", &cfg.api_listen}}) {
      if (!addr->empty() && !is_loopback_listen(*addr)) {
        return make_error(
            ErrorCode::kInvalidArgument,
            fmt::format("{} {} is not a loopback address: --insecure serves plaintext gRPC with "
                        "unauthenticated agents, so it binds to loopback only. Configure TLS "
                        "(docs/security.md), or add --insecure-bind-any to expose it anyway",
                        name, *addr));
      }
    }
  }
  return {};
}

ParsedArgs parse_args(int argc, char** argv) {
  ParsedArgs out;
  auto& cfg = out.config;
  CLI::App app{
      "vigil-collector: ingests agents' event streams, stores them in RocksDB, "
      "correlates across hosts and serves vigilctl"};
  std::string config_path;
  bool version = false;
  app.add_option("--config", config_path, "YAML config file (flags override it)");
  app.add_flag("--version", version, "print the version and exit");
  auto* listen = app.add_option("--listen", cfg.listen, "agents' address (AgentService)");
  auto* api = app.add_option("--api-listen", cfg.api_listen,
                             "operator API address (QueryService); default: same as --listen");
  auto* data = app.add_option("--data-dir", cfg.data_dir, "RocksDB data directory");
  auto* insecure = app.add_flag("--insecure", cfg.insecure,
                                "plaintext gRPC, unauthenticated agents (local trials only; "
                                "loopback binds only)");
  auto* bind_any = app.add_flag("--insecure-bind-any", cfg.insecure_bind_any,
                                "with --insecure: allow plaintext gRPC on non-loopback addresses");
  auto* tls_cert = app.add_option("--tls-cert", cfg.tls_cert, "server certificate (PEM)");
  auto* tls_key = app.add_option("--tls-key", cfg.tls_key, "server private key (PEM)");
  auto* tls_ca =
      app.add_option("--tls-ca", cfg.tls_ca, "CA (PEM) that signs agents' client certificates");
  auto* ret_age = app.add_option("--retention-age", cfg.store.retention_age_s,
                                 "seconds events are kept (default 7 days)");
  auto* ret_bytes = app.add_option("--retention-bytes", cfg.store.retention_bytes,
                                   "approximate bytes of events kept (default 8 GiB)");
  auto* window = app.add_option("--correlation-window", cfg.correlation.window_s,
                                "seconds within which executions of one new executable on "
                                "different hosts correlate (fleet-novel-exe)");
  auto* corr_rules = app.add_option("--correlation-rules", cfg.correlation.rule_dirs,
                                    "directory of Sigma correlation rules (*.yml), in addition "
                                    "to the shipped fleet pack; repeatable");
  auto* level = app.add_option("--log-level", cfg.log_level, "trace|debug|info|warn|error");
  auto* log_format =
      app.add_option("--log-format", cfg.log_format, "log lines as text (default) or json");
  std::uint64_t min_free_mb = 0;
  auto* min_free =
      app.add_option("--min-free-mb", min_free_mb,
                     "refuse events while the data dir has less free space (default 64)");
  auto* max_agents = app.add_option("--max-agents", cfg.max_agents,
                                    "concurrent agent streams (0: no limit; default 10000)");
  auto* max_rate = app.add_option("--max-events-per-s", cfg.max_events_per_s,
                                  "events per second per agent (0: no limit, the default)");
  auto* metrics = app.add_option("--metrics-listen", cfg.metrics_listen,
                                 "serve Prometheus /metrics on HOST:PORT (off by default)");
  auto* web = app.add_option("--web-listen", cfg.web_listen,
                             "serve the read-only web view on HOST:PORT (needs --token-file)");
  auto* tokens = app.add_option("--token-file", cfg.token_file,
                                "API tokens with roles, one per line ('viewer TOKEN')");
  std::string release_pubkey;
  auto* release_opt =
      app.add_option("--model-release-pubkey", release_pubkey,
                     "ed25519 public key (hex) of the offline release key fleet-wide models need "
                     "(vigilctl models keygen)");
  auto* enroll_cert =
      app.add_option("--enroll-ca-cert", cfg.enroll_ca_cert,
                     "issuing CA (PEM, then its chain) that signs enrolled agents' certificates");
  auto* enroll_key = app.add_option("--enroll-ca-key", cfg.enroll_ca_key, "issuing CA's key");
  auto* enroll_days = app.add_option("--enroll-cert-days", cfg.enroll_cert_days,
                                     "days an enrolled agent's certificate is valid (default 30; "
                                     "agents renew at 2/3)");
  // Seconds instead of days, for tests that watch renewals happen.
  auto* enroll_lifetime =
      app.add_option("--enroll-cert-lifetime-s", cfg.enroll_cert_lifetime_s)->group("");
  std::string signing_key;
  auto* key_opt = app.add_option("--model-signing-key", signing_key,
                                 "ed25519 key (hex) models are signed with; created if missing "
                                 "(default DATA_DIR/model-signing.key)");
  auto* evolve = app.add_option("--evolve-interval", cfg.models.evolve_interval_s,
                                "seconds between evolution runs on fleet data (0: on demand only)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    out.exit_now = true;
    out.exit_code = app.exit(e);
    return out;
  }
  if (version) {
    fmt::print("vigil-collector {}\n", kVersion);
    out.exit_now = true;
    return out;
  }
  if (!config_path.empty()) {
    // The file is the base; flags given on the command line win.
    CollectorConfig from_file;
    if (auto r = apply_yaml_file(config_path, from_file); !r) {
      fmt::print(stderr, "vigil-collector: {}\n", r.error().message);
      out.exit_now = true;
      out.exit_code = 2;
      return out;
    }
    const CollectorConfig flags = cfg;
    cfg = from_file;
    if (listen->count() > 0) cfg.listen = flags.listen;
    if (api->count() > 0) cfg.api_listen = flags.api_listen;
    if (data->count() > 0) cfg.data_dir = flags.data_dir;
    if (insecure->count() > 0) cfg.insecure = true;
    if (bind_any->count() > 0) cfg.insecure_bind_any = true;
    if (tls_cert->count() > 0) cfg.tls_cert = flags.tls_cert;
    if (tls_key->count() > 0) cfg.tls_key = flags.tls_key;
    if (tls_ca->count() > 0) cfg.tls_ca = flags.tls_ca;
    if (ret_age->count() > 0) cfg.store.retention_age_s = flags.store.retention_age_s;
    if (ret_bytes->count() > 0) cfg.store.retention_bytes = flags.store.retention_bytes;
    if (window->count() > 0) cfg.correlation.window_s = flags.correlation.window_s;
    if (corr_rules->count() > 0) cfg.correlation.rule_dirs = flags.correlation.rule_dirs;
    if (level->count() > 0) cfg.log_level = flags.log_level;
    if (log_format->count() > 0) cfg.log_format = flags.log_format;
    if (evolve->count() > 0) cfg.models.evolve_interval_s = flags.models.evolve_interval_s;
    if (metrics->count() > 0) cfg.metrics_listen = flags.metrics_listen;
    if (max_agents->count() > 0) cfg.max_agents = flags.max_agents;
    if (max_rate->count() > 0) cfg.max_events_per_s = flags.max_events_per_s;
    if (web->count() > 0) cfg.web_listen = flags.web_listen;
    if (tokens->count() > 0) cfg.token_file = flags.token_file;
    if (enroll_cert->count() > 0) cfg.enroll_ca_cert = flags.enroll_ca_cert;
    if (enroll_key->count() > 0) cfg.enroll_ca_key = flags.enroll_ca_key;
    if (enroll_days->count() > 0) cfg.enroll_cert_days = flags.enroll_cert_days;
    if (enroll_lifetime->count() > 0) cfg.enroll_cert_lifetime_s = flags.enroll_cert_lifetime_s;
  }
  if (key_opt->count() > 0) cfg.models.signing_key = signing_key;
  if (release_opt->count() > 0) cfg.models.release_pubkey = release_pubkey;
  if (min_free->count() > 0) cfg.store.min_free_bytes = min_free_mb << 20;
  auto r = log::validate_logging(cfg.log_level, cfg.log_format);
  if (r && !cfg.web_listen.empty() && cfg.token_file.empty()) {
    r = make_error(ErrorCode::kInvalidArgument,
                   "web_listen needs token_file: the web view is token-protected");
  }
  if (r) {
    r = check_exposure(cfg);
  }
  if (!r) {
    fmt::print(stderr, "vigil-collector: {}\n", r.error().message);
    out.exit_now = true;
    out.exit_code = 2;
  }
  return out;
}

namespace {

std::mutex g_stop_mu;
std::condition_variable g_stop_cv;
bool g_stop = false;

}  // namespace

int run(const CollectorConfig& config) {
  // Block the stop signals before any thread exists (RocksDB's, gRPC's) so only
  // the sigwait thread below receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  log::init(config.log_level, config.log_format);
  auto store = Store::open(config.data_dir, config.store);
  if (!store) {
    fmt::print(stderr, "vigil-collector: {}\n", store.error().message);
    return 1;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (config.insecure) {
    VLOG_WARN(
        "INSECURE: plaintext gRPC, agents are not authenticated (--insecure is for local "
        "trials only)");
    if (config.insecure_bind_any) {
      // Not only a log line: whoever reads the terminal or the journal sees it.
      fmt::print(stderr,
                 "vigil-collector: WARNING: --insecure-bind-any: plaintext gRPC on {}{}{}; "
                 "anyone who reaches the port can send events as any host{}\n",
                 config.listen, config.api_listen.empty() ? "" : " and ", config.api_listen,
                 config.token_file.empty() ? " and change the fleet's models and rules" : "");
      VLOG_WARN("INSECURE: --insecure-bind-any: plaintext gRPC reachable beyond loopback");
    }
    credentials = grpc::InsecureServerCredentials();
  } else {
    auto tls = server_credentials(config);
    if (!tls) {
      fmt::print(stderr, "vigil-collector: {}\n", tls.error().message);
      return 1;
    }
    credentials = *tls;
  }
  std::optional<TokenStore> tokens;
  if (!config.token_file.empty()) {
    auto loaded = TokenStore::load(config.token_file);
    if (!loaded) {
      fmt::print(stderr, "vigil-collector: {}\n", loaded.error().message);
      return 1;
    }
    tokens = std::move(*loaded);
  } else {
    VLOG_WARN(
        "no token_file: the operator API (reports, feedback, rollout) is open to anyone "
        "who reaches it");
  }
  const Authorizer auth(tokens ? &*tokens : nullptr);
  std::vector<std::string> rule_notes;
  auto rules = load_correlation_rules(config.correlation, &rule_notes);
  if (!rules) {
    fmt::print(stderr, "vigil-collector: correlation rules: {}\n", rules.error().message);
    return 1;
  }
  for (const auto& note : rule_notes) {
    VLOG_INFO("correlation rules: {}", note);
  }
  VLOG_INFO("{} Sigma correlation rules loaded ({}shipped pack{})", rules->size(),
            config.correlation.shipped_rules ? "" : "no ",
            config.correlation.rule_dirs.empty()
                ? std::string()
                : fmt::format(", {} operator directories", config.correlation.rule_dirs.size()));
  Correlator correlator(config.correlation, std::move(*rules));
  AlertHub hub;
  Ingest ingest(**store, correlator, hub);
  ingest.require_client_identity(!config.insecure);
  ingest.set_limits(config.max_agents, config.max_events_per_s);
  ingest.set_writer_threads(std::max<std::uint32_t>(1, config.ingest_writers));
  std::optional<IssuingCa> issuing_ca;
  if (!config.enroll_ca_cert.empty() || !config.enroll_ca_key.empty()) {
    auto ca = load_issuing_ca(config.enroll_ca_cert, config.enroll_ca_key);
    if (!ca) {
      fmt::print(stderr, "vigil-collector: {}\n", ca.error().message);
      return 1;
    }
    issuing_ca = std::move(*ca);
  }
  auto enrollment = Enrollment::open(**store, std::move(issuing_ca),
                                     config.enroll_cert_lifetime_s > 0
                                         ? config.enroll_cert_lifetime_s
                                         : std::uint64_t{config.enroll_cert_days} * 86400);
  if (!enrollment) {
    fmt::print(stderr, "vigil-collector: enrollment: {}\n", enrollment.error().message);
    return 1;
  }
  ingest.set_admission([&e = **enrollment](const std::string& id) { return e.admit(id); });
  EnrollServiceImpl enroll_service(**enrollment);
  EnrollAdminServiceImpl enroll_admin(**enrollment, auth,
                                      [&ingest](const std::string& id, const std::string& why) {
                                        return ingest.disconnect(id, why);
                                      });
  QueryServiceImpl query(**store, hub, ingest, auth);
  ModelConfig model_config = config.models;
  if (model_config.signing_key.empty()) {
    model_config.signing_key = config.data_dir / "model-signing.key";
  }
  ModelManager models(**store, model_config,
                      AgentLink{.connected = [&ingest] { return ingest.connected_agents(); },
                                .send =
                                    [&ingest](const std::string& id, const v1::ModelUpdate& u) {
                                      v1::CollectorMessage msg;
                                      // A shadow model has its own field: agents
                                      // older than shadow scoring ignore it.
                                      *(u.scope() == kModelScopeShadow ? msg.mutable_shadow_model()
                                                                       : msg.mutable_model()) = u;
                                      return ingest.send_to_agent(id, msg);
                                    }});
  if (auto r = models.init(shipped_model_bytes(), unix_now_ns()); !r) {
    fmt::print(stderr, "vigil-collector: {}\n", r.error().message);
    return 1;
  }
  // Rule packs are signed with the models' key: agents trust one key.
  RulePackLink pack_link{.connected = [&ingest] { return ingest.connected_agents(); },
                         .send =
                             [&ingest](const std::string& id, const v1::RulePackUpdate& u) {
                               v1::CollectorMessage msg;
                               *msg.mutable_rule_pack() = u;
                               return ingest.send_to_agent(id, msg);
                             }};
  RulePackManager rule_packs(**store, models.signing_key(), std::move(pack_link));
  if (auto r = rule_packs.init(); !r) {
    fmt::print(stderr, "vigil-collector: {}\n", r.error().message);
    return 1;
  }
  ImageProfileManager image_profiles(
      **store,
      ImageProfileLink{.connected = [&ingest] { return ingest.connected_agents(); },
                       .send =
                           [&ingest](const std::string& id, const v1::ImageProfiles& p) {
                             v1::CollectorMessage msg;
                             *msg.mutable_image_profiles() = p;
                             return ingest.send_to_agent(id, msg);
                           }},
      ImageProfileOptions{
          .max_images = config.image_profiles_max,
          .debounce = std::chrono::milliseconds(config.image_profiles_debounce_ms)});
  if (auto r = image_profiles.init(); !r) {
    fmt::print(stderr, "vigil-collector: image profiles: {}\n", r.error().message);
    return 1;
  }
  ingest.set_image_observations_hook(
      [&image_profiles](const std::string&, const v1::ImageObservations& o) -> Result<void> {
        if (auto r = image_profiles.observe(o, unix_now_ns()); !r) {
          return std::unexpected(r.error());
        }
        return {};
      });
  PrevalenceManager prevalence(
      **store,
      PrevalenceLink{.connected = [&ingest] { return ingest.connected_agents(); },
                     .send =
                         [&ingest](const std::string& id, const v1::Prevalence& p) {
                           v1::CollectorMessage msg;
                           *msg.mutable_prevalence() = p;
                           return ingest.send_to_agent(id, msg);
                         }},
      PrevalenceOptions{.window_days = config.prevalence_window_days,
                        .max_keys = config.prevalence_max_keys,
                        .debounce = std::chrono::milliseconds(config.prevalence_debounce_ms)});
  if (auto r = prevalence.init(unix_day(unix_now_ns())); !r) {
    fmt::print(stderr, "vigil-collector: prevalence: {}\n", r.error().message);
    return 1;
  }
  ingest.set_behaviours_hook(
      [&prevalence](const std::string& id, const v1::BehaviourReport& b) -> Result<void> {
        if (auto r = prevalence.report(id, b, unix_day(unix_now_ns())); !r) {
          return std::unexpected(r.error());
        }
        return {};
      });
  ingest.set_health_hook(
      [&models](const std::string& id, const v1::Health& health) { models.on_health(id, health); });
  ingest.set_hello_hook([&models, &rule_packs, &image_profiles, &prevalence](
                            const std::string& id, const v1::Hello& hello) {
    models.on_hello(id, hello.model_version());
    rule_packs.on_hello(id, hello.rule_pack_version());
    image_profiles.on_hello(id);
    prevalence.on_hello(id);
  });
  query.set_feedback_hook(
      [&models, &image_profiles](const v1::Alert& alert, const std::string& label) {
        models.on_feedback();
        if (auto r = image_profiles.on_label(alert, label, unix_now_ns()); !r) {
          VLOG_WARN("image profiles: label on {} not applied: {}", alert.id(), r.error().message);
        }
      });
  ModelServiceImpl model_service(models, auth);
  RuleServiceImpl rule_service(rule_packs, auth);

  // The standard health service (grpc.health.v1) and server reflection on
  // both ports, so Kubernetes probes and generic gRPC tools work.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // Port 0 twice means two free ports, not one.
  const bool one_server = config.api_listen.empty() ||
                          (config.api_listen == config.listen && !config.listen.ends_with(":0"));
  int agent_port = 0;
  int api_port = 0;
  grpc::ServerBuilder agents_builder;
  agents_builder.SetMaxReceiveMessageSize(64 << 20);
  agents_builder.AddListeningPort(config.listen, credentials, &agent_port);
  agents_builder.RegisterService(&ingest);
  agents_builder.RegisterService(&enroll_service);
  if (one_server) {
    agents_builder.RegisterService(&query);
    agents_builder.RegisterService(&model_service);
    agents_builder.RegisterService(&rule_service);
    agents_builder.RegisterService(&enroll_admin);
  }
  auto agents_server = agents_builder.BuildAndStart();
  if (!agents_server || agent_port == 0) {
    fmt::print(stderr, "vigil-collector: cannot listen on {}\n", config.listen);
    return 1;
  }
  std::unique_ptr<grpc::Server> api_server;
  if (one_server) {
    api_port = agent_port;
  } else {
    grpc::ServerBuilder api_builder;
    api_builder.AddListeningPort(config.api_listen, credentials, &api_port);
    api_builder.SetMaxReceiveMessageSize(32 << 20);  // model imports
    api_builder.RegisterService(&query);
    api_builder.RegisterService(&model_service);
    api_builder.RegisterService(&rule_service);
    api_builder.RegisterService(&enroll_admin);
    api_server = api_builder.BuildAndStart();
    if (!api_server || api_port == 0) {
      fmt::print(stderr, "vigil-collector: cannot listen on {}\n", config.api_listen);
      return 1;
    }
  }
  // grpc.health.v1 per port tells the truth: each server reports SERVING for
  // the services it hosts and nothing for the others (NOT_FOUND), so a probe
  // or a client never learns that a port serves what it would answer
  // UNIMPLEMENTED. The empty name ("the server") is SERVING on both.
  const std::vector<std::string> agent_services = {"vigil.v1.AgentService",
                                                   "vigil.v1.EnrollService"};
  const std::vector<std::string> operator_services = {
      "vigil.v1.QueryService", "vigil.v1.ModelService", "vigil.v1.RuleService",
      "vigil.v1.EnrollAdminService"};
  const auto serve = [](grpc::Server* server, const std::vector<std::string>& names) {
    if (server != nullptr && server->GetHealthCheckService() != nullptr) {
      for (const auto& svc : names) {
        server->GetHealthCheckService()->SetServingStatus(svc, true);
      }
    }
  };
  serve(agents_server.get(), agent_services);
  serve(one_server ? agents_server.get() : api_server.get(), operator_services);
  std::unique_ptr<HttpServer> metrics_server;
  if (!config.metrics_listen.empty()) {
    auto started = serve_metrics(config.metrics_listen, [&] {
      auto text = render_metrics(ingest, hub, models);
      append_image_profile_metrics(image_profiles, text);
      append_prevalence_metrics(prevalence, text);
      return text;
    });
    if (!started) {
      fmt::print(stderr, "vigil-collector: {}\n", started.error().message);
      return 1;
    }
    metrics_server = std::move(*started);
  }
  std::unique_ptr<WebView> web_view;
  std::unique_ptr<HttpServer> web_server;
  if (!config.web_listen.empty()) {
    if (!tokens) {
      fmt::print(stderr, "vigil-collector: web_listen needs token_file\n");
      return 1;
    }
    web_view = std::make_unique<WebView>(**store, models, *tokens, unix_now_ns);
    // HTTPS with the collector's certificate whenever it has one; plaintext
    // only with --insecure, which parse_args keeps on loopback.
    std::optional<HttpTls> web_tls;
    if (!config.insecure) {
      auto files = read_tls_files(config.tls_ca, config.tls_cert, config.tls_key);
      if (!files) {
        fmt::print(stderr, "vigil-collector: web view: {}\n", files.error().message);
        return 1;
      }
      web_tls = HttpTls{.cert_pem = files->cert, .key_pem = files->key};
    }
    auto started = HttpServer::start(
        config.web_listen, [&web_view](const HttpRequest& req) { return web_view->handle(req); },
        "web view", web_tls ? &*web_tls : nullptr);
    if (!started) {
      fmt::print(stderr, "vigil-collector: {}\n", started.error().message);
      return 1;
    }
    web_server = std::move(*started);
  }
  fmt::print("vigil-collector: listening agents={} api={}{}{}\n", bound(config.listen, agent_port),
             bound(one_server ? config.listen : config.api_listen, api_port),
             metrics_server ? " metrics=" + bound(config.metrics_listen, metrics_server->port())
                            : std::string(),
             web_server ? " web=" + bound(config.web_listen, web_server->port()) : std::string());
  std::fflush(stdout);
  VLOG_INFO("vigil-collector {} data in {}", kVersion, config.data_dir.string());
  VLOG_INFO("model signing public key {} (agents: --model-pubkey)", models.public_key_hex());

  // Signals are waited for on a dedicated thread; the main thread runs retention.
  std::thread signal_thread([set] {
    int sig = 0;
    sigwait(&set, &sig);
    std::lock_guard lock(g_stop_mu);
    g_stop = true;
    g_stop_cv.notify_all();
  });

  auto next_retention = std::chrono::steady_clock::now();
  auto next_stats =
      std::chrono::steady_clock::now() + std::chrono::seconds(config.stats_interval_s);
  for (;;) {
    std::unique_lock lock(g_stop_mu);
    const auto next_tick = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    if (g_stop_cv.wait_until(lock, std::min({next_retention, next_stats, next_tick}),
                             [] { return g_stop; })) {
      break;
    }
    lock.unlock();
    const auto now = std::chrono::steady_clock::now();
    models.tick(unix_now_ns());  // canary soak and health gate, scheduled evolution
    rule_packs.tick(unix_now_ns());
    image_profiles.tick(now);
    prevalence.tick(now, unix_day(unix_now_ns()));
    if (now >= next_retention) {
      if (auto r = (*store)->enforce_retention(unix_now_ns()); !r) {
        VLOG_WARN("retention: {}", r.error().message);
      }
      next_retention =
          now + std::chrono::seconds(std::max<std::uint32_t>(1, config.retention_interval_s));
    }
    if (now >= next_stats) {
      const auto& s = ingest.stats();
      const auto c = ingest.correlation_stats();
      VLOG_INFO(
          "stats streams={} batches={} events={} duplicates={} refused={} events_refused={} "
          "undecodable={} replaced={} store_errors={} "
          "fleet_alerts={} watchers={} correlation_groups={} correlation_evictions={}",
          s.streams.load(), s.batches.load(), s.events.load(), s.duplicates.load(),
          s.refused.load(), s.events_refused.load(), s.undecodable.load(), s.replaced.load(),
          s.store_errors.load(), s.fleet_alerts.load(), hub.watchers(), c.sigma.groups,
          c.sigma.evictions);
      next_stats = now + std::chrono::seconds(std::max<std::uint32_t>(1, config.stats_interval_s));
    }
  }
  VLOG_INFO("shutting down");
  for (auto* server : {agents_server.get(), api_server.get()}) {
    if (server != nullptr && server->GetHealthCheckService() != nullptr) {
      server->GetHealthCheckService()->SetServingStatus(false);  // probes see it go
    }
  }
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(2);
  agents_server->Shutdown(deadline);
  if (api_server) {
    api_server->Shutdown(deadline);
  }
  signal_thread.join();
  const auto& s = ingest.stats();
  fmt::print(stderr, "vigil-collector: stopped; events={} duplicates={} fleet_alerts={}\n",
             s.events.load(), s.duplicates.load(), s.fleet_alerts.load());
  return 0;
}

std::string render_metrics(Ingest& ingest, AlertHub& hub, ModelManager& models) {
  const auto& s = ingest.stats();
  std::string out;
  metric(out, "vigil_collector_agents_connected", "gauge", "Agents with an open stream.",
         static_cast<double>(ingest.connected_agents().size()));
  metric(out, "vigil_collector_streams_total", "counter", "Agent streams opened.",
         static_cast<double>(s.streams.load()));
  metric(out, "vigil_collector_ingest_writer_threads", "gauge",
         "Threads writing agents' messages to RocksDB (ingest_writers).",
         static_cast<double>(ingest.writers().threads()));
  metric(out, "vigil_collector_ingest_waiting", "gauge",
         "Agent messages waiting for a writer thread (at most one per stream).",
         static_cast<double>(ingest.writers().waiting()));
  metric(out, "vigil_collector_batches_total", "counter", "Event batches stored and acked.",
         static_cast<double>(s.batches.load()));
  metric(out, "vigil_collector_events_total", "counter", "Events stored.",
         static_cast<double>(s.events.load()));
  metric(out, "vigil_collector_duplicate_events_total", "counter",
         "Replayed events already stored (dropped by the (agent, seq) dedupe).",
         static_cast<double>(s.duplicates.load()));
  metric(out, "vigil_collector_refused_total", "counter",
         "Streams ended with a refusal (invalid input, identity, limits).",
         static_cast<double>(s.refused.load()));
  metric(out, "vigil_collector_undecodable_total", "counter",
         "Agent messages that failed to parse (e.g. a string that is not UTF-8); each ends "
         "its stream with a refusal.",
         static_cast<double>(s.undecodable.load()));
  metric(out, "vigil_collector_rate_limited_total", "counter",
         "Streams ended because an agent exceeded max_events_per_s.",
         static_cast<double>(s.rate_limited.load()));
  metric(out, "vigil_collector_over_max_agents_total", "counter",
         "Hellos refused because max_agents streams were connected.",
         static_cast<double>(s.over_max_agents.load()));
  metric(out, "vigil_collector_events_refused_total", "counter",
         "Events refused one by one (listed in the ack; the rest of the batch is stored).",
         static_cast<double>(s.events_refused.load()));
  metric(out, "vigil_collector_streams_replaced_total", "counter",
         "Agent streams ended because a newer stream with the same agent id took over.",
         static_cast<double>(s.replaced.load()));
  metric_header(out, "vigil_collector_refusals_total", "counter",
                "Refusals by reason: streams ended (Refusal.code) and single events (ack "
                "refused[].reason); docs/api.md lists the reasons.");
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    metric_sample(out, "vigil_collector_refusals_total", static_cast<double>(s.refusals[i].load()),
                  fmt::format("reason=\"{}\"", reason_code(static_cast<Reason>(i))));
  }
  metric(out, "vigil_collector_store_errors_total", "counter", "Batches the store failed to write.",
         static_cast<double>(s.store_errors.load()));
  metric(out, "vigil_collector_fleet_alerts_total", "counter",
         "Fleet (cross-host) alerts raised or updated.",
         static_cast<double>(s.fleet_alerts.load()));
  metric(out, "vigil_collector_alert_watchers", "gauge", "Live WatchAlerts subscribers.",
         static_cast<double>(hub.watchers()));
  const auto corr = ingest.correlation_stats();
  metric(out, "vigil_collector_correlation_rules", "gauge", "Sigma correlation rules loaded.",
         static_cast<double>(corr.sigma.rules.size()));
  metric(out, "vigil_collector_correlation_evictions_total", "counter",
         "Correlation groups dropped for correlation_max_groups/max_entries before their window "
         "closed (all rules).",
         static_cast<double>(corr.sigma.evictions));
  metric(out, "vigil_collector_correlation_groups", "gauge", "Open correlation groups (all rules).",
         static_cast<double>(corr.sigma.groups));
  const auto per_rule = [&](const char* name, const char* type, const char* help, auto value) {
    metric_header(out, name, type, help);
    for (const auto& r : corr.sigma.rules) {
      metric_sample(out, name, static_cast<double>(value(r)),
                    fmt::format("rule=\"{}\"", label_value(r.kind)));
    }
  };
  per_rule("vigil_collector_correlation_rule_alerts_total", "counter",
           "Fleet alerts a correlation rule opened.",
           [](const sigma::RuleStats& r) { return r.alerts_created; });
  per_rule("vigil_collector_correlation_rule_evictions_total", "counter",
           "Groups a correlation rule dropped for its limits before their window closed.",
           [](const sigma::RuleStats& r) { return r.evictions; });
  per_rule("vigil_collector_correlation_rule_ungrouped_total", "counter",
           "Hits a correlation rule skipped for want of a group-by or counted field.",
           [](const sigma::RuleStats& r) { return r.ungrouped; });
  per_rule("vigil_collector_correlation_rule_groups", "gauge", "Open groups of a correlation rule.",
           [](const sigma::RuleStats& r) { return r.groups; });
  const auto name = "vigil_collector_ack_latency_seconds";
  metric_header(out, name, "histogram",
                "Time from a batch's arrival to its durable write, after which it is acked.");
  for (std::size_t i = 0; i < IngestStats::kAckBucketsMs.size(); ++i) {
    metric_sample(out, "vigil_collector_ack_latency_seconds_bucket",
                  static_cast<double>(s.ack_buckets[i].load()),
                  fmt::format("le=\"{}\"", IngestStats::kAckBucketsMs[i] / 1000.0));
  }
  metric_sample(out, "vigil_collector_ack_latency_seconds_bucket",
                static_cast<double>(s.ack_count.load()), "le=\"+Inf\"");
  metric_sample(out, "vigil_collector_ack_latency_seconds_sum",
                static_cast<double>(s.ack_sum_us.load()) / 1e6);
  metric_sample(out, "vigil_collector_ack_latency_seconds_count",
                static_cast<double>(s.ack_count.load()));
  metric_summary(out, "vigil_collector_event_durable_latency_seconds",
                 "Event timestamp (kernel) to durable in the collector, per stored event.",
                 s.durable_latency_snapshot());
  const auto list = models.list();
  metric_header(out, "vigil_collector_model_info", "gauge",
                "Registered scoring models by version and state (value 1).");
  for (const auto& m : list.models()) {
    metric_sample(out, "vigil_collector_model_info", 1,
                  fmt::format("version=\"{}\",state=\"{}\"", label_value(m.version()),
                              label_value(m.state())));
  }
  metric(out, "vigil_collector_evolution_running", "gauge", "1 while an evolution run is going.",
         list.evolution().running() ? 1 : 0);
  metric(out, "vigil_collector_evolution_runs_total", "counter", "Evolution runs finished.",
         static_cast<double>(list.evolution().runs()));
  return out;
}

}  // namespace vigil::collector
