#include "vigil/agent/agent.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>

#include "vigil/agent/file_probe.h"
#include "vigil/agent/memory_probe.h"
#include "vigil/agent/model_update.h"
#include "vigil/agent/network_probe.h"
#include "vigil/agent/process_probe.h"
#include "vigil/agent/wire.h"
#include "vigil/clock.h"
#include "vigil/event_format.h"
#include "vigil/log.h"
#include "vigil/model_release.h"
#include "vigil/pem.h"
#include "vigil/wire_limits.h"

namespace vigil::agent {
namespace {

// Resident set size now (/proc/self/statm), not ru_maxrss's peak.
std::uint64_t current_rss_bytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  if (!(in >> size >> resident)) {
    return 0;
  }
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

namespace {

std::unique_ptr<Probe> make_probe(const std::string& family) {
  if (family == "process") {
    return make_process_probe();
  }
  if (family == "memory") {
    return make_memory_probe();
  }
  if (family == "file") {
    return make_file_probe();
  }
  if (family == "network") {
    return make_network_probe();
  }
  return nullptr;
}

}  // namespace

const char* Probe::common_stat_name(std::size_t slot) {
  switch (slot) {
    case VIGIL_STAT_EVENTS:
      return "events";
    case VIGIL_STAT_RB_DROPS:
      return "ringbuf_drops";
    case VIGIL_STAT_FILTERED:
      return "filtered";
    case VIGIL_STAT_STASH_MISS:
      return "stash_misses";
    case VIGIL_STAT_READ_ERRORS:
      return "read_errors";
    default:
      return nullptr;
  }
}

std::string default_host_id() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return name;
}

std::string format_status_table(const std::vector<HookStatus>& status) {
  std::string out =
      fmt::format("{:<9} {:<11} {:<11} {:<9} {}\n", "FAMILY", "HOOK", "MODE", "STATUS", "DETAIL");
  for (const auto& s : status) {
    out += fmt::format("{:<9} {:<11} {:<11} {:<9} {}\n", s.family, s.hook, s.mode,
                       to_string(s.state), s.error);
  }
  return out;
}

Agent::Agent(AgentConfig config)
    : config_(std::move(config)),
      host_(config_.host_id.empty() ? default_host_id() : config_.host_id),
      signals_(io_, SIGINT, SIGTERM),
      hup_(io_, SIGHUP),
      stats_timer_(io_),
      tick_timer_(io_),
      flush_timer_(io_),
      table_(config_.process_table_capacity) {}

Agent::~Agent() { stop(); }

Result<void> Agent::load_probes() {
  route_libbpf_logs();
  auto env = prepare_bpf_environment(config_.btf_path);
  if (!env) {
    return std::unexpected(env.error());
  }
  env_ = std::move(*env);
  for (const auto& note : env_.notes) {
    VLOG_INFO("{}", note);
  }
  ProbeOptions options;
  options.ringbuf_bytes = config_.ringbuf_kib * 1024U;
  options.agent_tgid = static_cast<std::uint32_t>(getpid());
  options.ignore_comms = config_.ignore_comms;
  options.ignore_exec_prefixes = config_.ignore_exec_prefixes;
  options.btf_path = env_.btf_path;
  options.file_watch_prefixes = config_.file_watch_prefixes;
  options.file_read_paths = config_.file_read_paths;
  options.file_watch_names = config_.file_watch_names;
  options.xdp_ifaces = config_.xdp_ifaces;
  options.xdp_enforce = config_.xdp_enforce;
  options.raw_events = config_.raw_events;
  options.wakeup_min_us = config_.ringbuf_wakeup_us;
  options.polled_wakeups = config_.ringbuf_poll_ms > 0;
  if (options.raw_events) {
    VLOG_INFO("raw events: in-kernel de-duplication and rate limits are off");
  }
  options.xdp_blocklist = config_.xdp_blocklist;

  for (const auto& family : config_.probes) {
    auto probe = make_probe(family);
    if (!probe) {
      missing_.push_back(HookStatus{family, "*", "-", HookState::kFailed,
                                    "probe family not available in this build"});
      continue;
    }
    if (auto started = probe->start(options); !started) {
      VLOG_WARN("{} probe: {}", family, started.error().message);
    }
    probes_.push_back(std::move(probe));
  }
  return {};
}

std::vector<HookStatus> Agent::status() const {
  std::vector<HookStatus> all;
  for (const auto& p : probes_) {
    all.insert(all.end(), p->status().begin(), p->status().end());
  }
  all.insert(all.end(), missing_.begin(), missing_.end());
  return all;
}

bool Agent::all_requested_ok(std::string& why) const {
  why.clear();
  for (const auto& s : status()) {
    if (s.state != HookState::kAttached) {
      why += fmt::format("{}/{} did not attach: {}\n", s.family, s.hook,
                         s.error.empty() ? "unknown reason" : s.error);
    }
  }
  return why.empty();
}

Result<void> Agent::start() {
  std::vector<int> fds;
  for (const auto& p : probes_) {
    if (p->ring_fd() >= 0) {
      fds.push_back(p->ring_fd());
    }
  }
  if (fds.empty()) {
    return make_error(ErrorCode::kKernel, "no probe is loaded: nothing to read");
  }

  std::error_code ec;
  std::filesystem::create_directories(config_.state_dir, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("cannot create state dir {}: {}",
                                                  config_.state_dir.string(), ec.message()));
  }
  chmod(config_.state_dir.c_str(), 0750);

  auto seeded = table_.seed();
  if (!seeded) {
    VLOG_WARN("process table not seeded: {}", seeded.error().message);
  } else {
    VLOG_INFO("process table seeded with {} processes from /proc", *seeded);
  }

  pipeline_ = std::make_unique<Pipeline>(host_, table_, boot_to_unix_offset_ns());
  // pid 1's namespaces and root filesystem: what the container rules compare
  // with (the namespaces the process table judges host_ns by, when it has them).
  HostIdentity host = HostIdentity::read();
  if (table_.host_namespaces().known()) {
    host.ns = table_.host_namespaces();
  }
  pipeline_->set_host_identity(host);
  start_containers();
  pipeline_->set_raw_events(config_.raw_events);
  if (!config_.events_out.empty()) {
    auto sink = LineSink::open(config_.events_out);
    if (!sink) {
      return std::unexpected(sink.error());
    }
    pipeline_->set_events(std::make_unique<EventWriter>(std::move(*sink), config_.format));
  }
  if (!config_.alerts_out.empty()) {
    auto sink = LineSink::open(config_.alerts_out);
    if (!sink) {
      return std::unexpected(sink.error());
    }
    pipeline_->set_alerts(std::move(*sink), config_.format, config_.alert_threshold);
    pipeline_->set_falco_alerts(config_.falco_alerts);
  }

  rule_packs_.restore(config_.state_dir / "rules-pack", config_.model_pubkey, config_.rules);
  load_rules(false);
  if (auto r = load_model(); !r) {
    return r;
  }
  if (!config_.record_features.empty()) {
    auto writer = evo::DatasetWriter::open(config_.record_features);
    if (!writer) {
      return std::unexpected(writer.error());
    }
    pipeline_->set_recorder(std::move(*writer), config_.record_label == "scenario"
                                                    ? RecordLabel::kScenario
                                                    : RecordLabel::kBenign);
    VLOG_INFO("recording feature vectors to {} (labels: {})", config_.record_features,
              config_.record_label);
  }

  if (auto r = pipeline_->load_suppressions(config_.state_dir / "suppressions.txt"); !r) {
    return r;  // an operator-edited file with a bad line: say so rather than ignore it
  }
  pipeline_->set_baseline_config(BaselineConfig{.warmup_s = config_.baseline_warmup_s});
  const auto baseline_path = config_.state_dir / "baseline.tsv";
  if (auto loaded =
          pipeline_->load_baseline(baseline_path, static_cast<double>(std::time(nullptr)));
      !loaded) {
    // A damaged baseline costs novelty detection, not the agent: start afresh.
    VLOG_WARN("baseline not loaded, starting empty: {}", loaded.error().message);
  } else {
    VLOG_INFO("baseline: {} known parent->child pairs", pipeline_->baseline().size());
  }

  load_behaviours();

  pipeline_->image_profiles().set_config(
      ImageProfileConfig{.learning_window_s = config_.image_learning_window_s,
                         .max_images = config_.image_profiles_max,
                         .realert_s = config_.image_realert_s});
  if (auto loaded = pipeline_->image_profiles().load(config_.state_dir / "image-profiles.tsv");
      !loaded) {
    // Costs what was learned (the fleet's profiles come back on connect), not the agent.
    VLOG_WARN("image profiles not loaded, starting empty: {}", loaded.error().message);
  }

  if (!config_.collector.empty()) {
    if (auto r = start_shipping(); !r) {
      return r;
    }
  }

  // How the probes wake this reader (bpf/maps.bpf.h, ring_reader.h).
  const auto wakeups = config_.ringbuf_wakeup_us > 0 ? RingReader::Wakeups::kBatched
                       : config_.ringbuf_poll_ms > 0 ? RingReader::Wakeups::kPolled
                                                     : RingReader::Wakeups::kPerRecord;
  auto reader = RingReader::create(
      io_, fds, [this](std::span<const std::byte> r) { pipeline_->on_record(r); },
      [this] { pipeline_->on_batch_end(); }, wakeups,
      std::chrono::milliseconds(config_.ringbuf_poll_ms));
  if (!reader) {
    return std::unexpected(reader.error());
  }
  reader_ = std::move(*reader);
  return {};
}

void Agent::start_containers() {
  const auto& c = config_.containers;
  if (!c.enabled) {
    return;
  }
  ContainerTableConfig tc;
  if (c.cgroup_root != "auto") {
    tc.cgroup_root = c.cgroup_root;
  }
  for (const auto& spec : c.runtime_sockets) {
    if (auto s = parse_runtime_socket(spec)) {  // validate() refused bad ones
      tc.sockets.push_back(std::move(*s));
    }
  }
  tc.storage_roots.assign(c.storage_roots.begin(), c.storage_roots.end());
  tc.lookup_timeout = std::chrono::milliseconds(c.lookup_timeout_ms);
  tc.capacity = c.capacity;
  auto table = std::make_unique<ContainerTable>(std::move(tc));
  auto found = table->start();
  if (!found) {
    VLOG_WARN("containers: {}; events carry no container", found.error().message);
    return;
  }
  VLOG_INFO("containers: {} found under {} ({} cgroups; {} runtime sockets configured)", *found,
            table->root().string(), table->stats().cgroups, c.runtime_sockets.size());
  containers_ = std::move(table);
  pipeline_->set_containers(containers_.get());
}

namespace {
// The configured rules, plus what the collector's rule pack adds (its
// directory is in config.rules) and switches off.
RulePackOptions rule_options(const AgentConfig& config, const RulePackUpdates& packs) {
  RulePackOptions o;
  o.builtin = config.builtin_rules;
  o.dirs.assign(config.rules.begin(), config.rules.end());
  o.disabled = config.disabled_rules;
  packs.apply(o);
  return o;
}
}  // namespace

void Agent::load_rules(bool reload) {
  if (!reload && config_.builtin_rules && config_.rules.empty() && config_.disabled_rules.empty() &&
      rule_packs_.disabled().empty()) {
    if (!reload) {
      VLOG_INFO("rules: vigil's built-in pack, {} rules", pipeline_->rules()->size());
    }
    return;  // the pipeline starts with the built-in pack
  }
  sigma::LoadReport report;
  const auto options = rule_options(config_, rule_packs_);
  auto pack = RulePack::load(options, report);
  // Every problem, a disabled id that matches no loaded rule included.
  for (const auto& e : report.entries) {
    if (!e.loaded && !e.skipped) {
      VLOG_WARN("rules: {} {}: {}", e.file, e.rule, e.reason);
    }
  }
  if (reload && report.files_failed != 0) {
    // A file that no longer parses is an editing accident: keep what runs.
    ++rule_reloads_failed_;
    VLOG_WARN("rules: reload refused ({} files did not parse); {} rules stay in force",
              report.files_failed, pipeline_->rules() ? pipeline_->rules()->size() : 0);
    return;
  }
  VLOG_INFO("rules: {} {} rules ({} failed, {} skipped) from the {}and {} directories",
            reload ? "reloaded" : "loaded", report.rules_loaded, report.rules_failed,
            report.rules_skipped, config_.builtin_rules ? "built-in pack " : "",
            config_.rules.size());
  if (!options.pack_disabled.empty()) {
    std::string ids;
    for (const auto& id : options.pack_disabled) {
      if (ids.size() > 400) {
        ids += ", ...";
        break;
      }
      ids += (ids.empty() ? "" : ", ") + id;
    }
    VLOG_INFO("rules: rule pack {} disables {} ids or names: {}", options.pack_version,
              options.pack_disabled.size(), ids);
  }
  pipeline_->set_rules(std::move(pack));
}

void Agent::wait_for_hup() {
  hup_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) {
      return;
    }
    // On the agent loop, between drains: the next event sees the new rules,
    // and no event is dropped or evaluated twice. File outputs are reopened by
    // path (logrotate's postrotate sends this signal).
    load_rules(true);
    if (auto r = pipeline_->reopen_outputs(); !r) {
      VLOG_WARN("outputs: {} (still writing to the previous file)", r.error().message);
    }
    wait_for_hup();
  });
}

int Agent::run() {
  wait_for_hup();
  signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (!ec) {
      VLOG_INFO("signal {} received, shutting down", sig);
      stop();
    }
  });
  if (!config_.metrics_listen.empty()) {
    metrics_snapshot_ = metrics_text();
    auto server = serve_metrics(config_.metrics_listen, [this] {
      std::lock_guard lock(metrics_mu_);
      return metrics_snapshot_;
    });
    if (!server) {
      VLOG_ERROR("{}", server.error().message);
      return 2;
    }
    metrics_ = std::move(*server);
    VLOG_INFO("metrics on {}:{}/metrics",
              config_.metrics_listen.substr(0, config_.metrics_listen.rfind(':')),
              metrics_->port());
  }
  // Everything that needed privileges is done: probes loaded and attached, the
  // spool, outputs and the metrics port open. Keep only what reading /proc needs.
  if (auto kept = drop_capabilities_after_load(); kept) {
    VLOG_INFO("capabilities dropped after loading the probes; kept {}", *kept);
  } else {
    VLOG_WARN("capabilities not dropped ({}); running with what it started with",
              kept.error().message);
  }
  reader_->start();
  schedule_stats();
  schedule_tick();
  schedule_flush();
  if (config_.builtin_detections) {
    VLOG_INFO("vigil-agent {} running on host {} ({} probe families)", kVersion, host_,
              probes_.size());
  } else {
    VLOG_WARN(
        "vigil-agent {} running on host {} ({} probe families) with BUILT-IN DETECTIONS OFF: "
        "only the rarity path can alert",
        kVersion, host_, probes_.size());
  }
  io_.run();
  // Detach first, then drain: every record the kernel produced is read, and
  // the final kernel counters match what was decoded.
  for (auto& p : probes_) {
    p->detach();
  }
  reader_->drain();
  if (renewer_) {
    renewer_->stop();
  }
  if (shipper_) {
    // What the collector has not acked by now stays in the spool for next time.
    shipper_->stop(std::chrono::seconds(2));
  }
  report_stats(true);
  save_baseline();
  for (auto& p : probes_) {
    p->stop();
  }
  return kExitOk;
}

void Agent::stop() {
  if (reader_) {
    reader_->stop();
  }
  boost::system::error_code ec;
  signals_.cancel(ec);
  hup_.cancel(ec);
  stats_timer_.cancel();
  tick_timer_.cancel();
  flush_timer_.cancel();
  io_.stop();
}

void Agent::schedule_stats() {
  if (config_.stats_interval_s == 0) {
    return;
  }
  stats_timer_.expires_after(std::chrono::seconds(config_.stats_interval_s));
  stats_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) {
      return;
    }
    report_stats(false);
    schedule_stats();
  });
}

void Agent::schedule_tick() {
  // Awareness runs on the events' clock (CLOCK_BOOTTIME); this timer lets the
  // level decay and closes alert incidents when the host goes quiet.
  tick_timer_.expires_after(std::chrono::seconds(5));
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) {
      return;
    }
    timespec boot{};
    clock_gettime(CLOCK_BOOTTIME, &boot);
    resync_wall_clock();
    const Level before = pipeline_->level();
    pipeline_->on_tick(static_cast<double>(boot.tv_sec) + static_cast<double>(boot.tv_nsec) / 1e9);
    expire_canary_model();
    ship_behaviours();
    if (pipeline_->level() != before) {
      VLOG_INFO("host level {} -> {}", to_string(before), to_string(pipeline_->level()));
    }
    if (shipper_) {
      shipper_->set_health(health());
    }
    if (metrics_) {
      auto text = metrics_text();  // rendered here, on the loop that owns the counters
      std::lock_guard lock(metrics_mu_);
      metrics_snapshot_ = std::move(text);
    }
    schedule_tick();
  });
}

namespace {

// Converts every scored event for the shipper (agent loop only).
class ShipSink final : public ScoredEventSink {
 public:
  explicit ShipSink(Shipper& shipper) : shipper_(shipper) {}
  void on_scored(const Event& event, std::uint32_t score, const FeatureVector& features,
                 std::span<const Indicator* const> hits, std::string_view alert_id) override {
    v1::Event ev;
    to_proto(event, score, hits, alert_id, ev);
    set_features(features, ev);
    shipper_.add(std::move(ev));
  }

 private:
  Shipper& shipper_;
};

// {"count":N,"p50_us":..,"p99_us":..,"p999_us":..,"max_us":..}
std::string latency_json(const LatencyHistogram& h) {
  return fmt::format(
      "{{\"count\":{},\"p50_us\":{:.1f},\"p99_us\":{:.1f},\"p999_us\":{:.1f},"
      "\"max_us\":{:.1f}}}",
      h.count(), static_cast<double>(h.quantile_ns(0.5)) / 1e3,
      static_cast<double>(h.quantile_ns(0.99)) / 1e3,
      static_cast<double>(h.quantile_ns(0.999)) / 1e3, static_cast<double>(h.max_ns()) / 1e3);
}

std::string kernel_release() {
  utsname u{};
  if (uname(&u) != 0) {
    return "unknown";
  }
  return fmt::format("{} {}", u.sysname, u.release);
}

}  // namespace

std::vector<std::string> interface_addresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return out;
  }
  for (auto* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_LOOPBACK) != 0) {
      continue;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    const int family = a->ifa_addr->sa_family;
    const void* src = nullptr;
    if (family == AF_INET) {
      src = &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr;
    } else if (family == AF_INET6) {
      src = &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr;
    } else {
      continue;
    }
    if (inet_ntop(family, src, buf, sizeof(buf)) != nullptr) {
      out.emplace_back(buf);
    }
  }
  freeifaddrs(list);
  return out;
}

Result<void> Agent::start_shipping() {
  auto spool = Spool::open(
      config_.state_dir / "spool",
      SpoolOptions{.max_bytes = config_.spool_max_mb << 20, .sync = config_.spool_sync});
  if (!spool) {
    return std::unexpected(spool.error());
  }
  spool_ = std::move(*spool);
  ShipperOptions opts;
  std::optional<EnrollSettings> enroll;
  std::optional<ClientCertificate> enrolled;
  if (config_.insecure) {
    VLOG_WARN("INSECURE: plaintext gRPC to the collector (--insecure is for local trials only)");
  } else if (!config_.enroll_token_file.empty()) {
    auto ca = read_pem(config_.tls_ca, "tls_ca");
    if (!ca) {
      return std::unexpected(ca.error());
    }
    enroll = EnrollSettings{.collector = config_.collector,
                            .ca_pem = *ca,
                            .token_file = config_.enroll_token_file,
                            .tls_dir = config_.state_dir / "tls",
                            .agent_id = config_.agent_id.empty() ? host_ : config_.agent_id};
    auto cert = ensure_enrolled(*enroll);
    if (!cert) {
      return std::unexpected(cert.error());
    }
    opts.tls_ca_pem = std::move(*ca);
    opts.tls_cert_pem = cert->cert_chain_pem;
    opts.tls_key_pem = cert->key_pem;
    enrolled = std::move(*cert);
  } else {
    auto tls = read_tls_files(config_.tls_ca, config_.tls_cert, config_.tls_key);
    if (!tls) {
      return std::unexpected(tls.error());
    }
    opts.tls_ca_pem = std::move(tls->ca);
    opts.tls_cert_pem = std::move(tls->cert);
    opts.tls_key_pem = std::move(tls->key);
  }
  v1::Hello hello;
  hello.set_agent_id(config_.agent_id.empty() ? host_ : config_.agent_id);
  hello.set_host_id(host_);
  hello.set_version(std::string(kVersion));
  hello.set_kernel(kernel_release());
  hello.set_model_version(pipeline_->model().version());
  hello.set_rule_pack_version(rule_packs_.version());
  hello.set_feature_schema_version(kFeatureSchemaVersion);
  for (const auto& p : probes_) {
    auto* ps = hello.add_probes();
    ps->set_family(p->family());
    for (const auto& h : p->status()) {
      if (h.state == HookState::kAttached) {
        ps->set_hooks_attached(ps->hooks_attached() + 1);
      } else {
        ps->set_hooks_failed(ps->hooks_failed() + 1);
        if (ps->error().empty()) {
          ps->set_error(h.hook + ": " + h.error);
        }
      }
    }
    ps->set_loaded(ps->hooks_attached() > 0);
  }
  for (const auto& a :
       config_.host_addresses.empty() ? interface_addresses() : config_.host_addresses) {
    hello.add_addresses(a);
  }
  opts.collector = config_.collector;
  opts.insecure = config_.insecure;
  opts.batch_max = config_.batch_max;
  opts.batch_interval = std::chrono::milliseconds(config_.batch_interval_ms);
  opts.handoff_max = config_.handoff_max_events;
  shipper_ = std::make_unique<Shipper>(opts, *spool_, std::move(hello));
  // The shipper sends health as soon as it connects: from the start, not an
  // empty one until the first tick (the collector would record no rule pack).
  shipper_->set_health(health());
  shipper_->set_feedback_handler([this](const v1::Feedback& fb) {
    boost::asio::post(io_, [this, fb] { apply_feedback(fb.alert_id(), fb.label()); });
  });
  // Model updates arrive on the shipper's thread; they are applied on the agent loop.
  shipper_->set_model_handler([this](const v1::ModelUpdate& update) {
    boost::asio::post(io_, [this, update] { apply_model_update(update); });
  });
  // Rule packs too: verified and written, then the rules reload between events.
  shipper_->set_rule_pack_handler([this](const v1::RulePackUpdate& update) {
    boost::asio::post(io_, [this, update] {
      if (rule_packs_.stage(update, config_.rules)) {
        const auto before = pipeline_->rules();
        load_rules(true);
        rule_packs_.commit(pipeline_->rules() != before, config_.rules);
        shipper_->set_rule_pack_version(rule_packs_.version());
      }
    });
  });
  shipper_->set_image_profiles_handler([this](const v1::ImageProfiles& fleet) {
    boost::asio::post(io_, [this, fleet] { apply_image_profiles(fleet); });
  });
  // The fleet's prevalence table, applied between events like the image profiles.
  shipper_->set_prevalence_handler([this](const v1::Prevalence& table) {
    boost::asio::post(io_, [this, table] { apply_prevalence(table); });
  });
  ship_sink_ = std::make_unique<ShipSink>(*shipper_);
  pipeline_->set_scored_sink(ship_sink_.get());
  const auto ss = spool_->stats();
  VLOG_INFO("shipping to {} (spool: {} unacked events, next seq {})", config_.collector, ss.events,
            ss.next_seq);
  shipper_->start();
  if (enroll) {
    renewer_ = std::make_unique<CertRenewer>(
        std::move(*enroll), std::move(*enrolled), [this](const ClientCertificate& c) {
          shipper_->set_client_certificate(c.cert_chain_pem, c.key_pem);
        });
    renewer_->start();
  }
  return {};
}

Result<void> Agent::load_model() {
  model_trust_ = std::make_unique<ModelTrust>(
      config_.state_dir,
      ModelKeys{.online = config_.model_pubkey, .release = config_.model_release_pubkey});
  std::shared_ptr<const ScoringModel> model;
  if (config_.model_path == "baseline") {
    model = baseline_model();  // the detector-only baseline, on request
  } else if (!config_.model_path.empty()) {
    // The local admin's file is trusted as it is: no collector signature.
    auto loaded = load_model_file(config_.model_path);
    if (!loaded) {
      return std::unexpected(loaded.error());  // an explicit model that does not load is fatal
    }
    model = *loaded;
  } else {
    // What the collector rolled out, only if it still verifies with the
    // configured keys: a tampered or unsigned file costs the rolled-out
    // weights, not the agent.
    auto restored = model_trust_->restore(unix_now_ns());
    for (const auto& why : restored.refusals) {
      ++model_updates_refused_;
      last_model_refusal_ = why;
      VLOG_WARN("{}; using the built-in default model", why);
    }
    model = std::move(restored.model);
  }
  if (model) {
    pipeline_->set_model(std::move(model));
  }
  VLOG_INFO("scoring model {} (feature schema {})", pipeline_->model().version(),
            kFeatureSchemaVersion);
  return {};
}

void Agent::apply_feedback(const std::string& alert_id, const std::string& label) {
  if (!pipeline_->apply_feedback(alert_id, label)) {
    VLOG_INFO("feedback '{}' for alert {} not applied (unknown here or label not understood)",
              label, alert_id);
    return;
  }
  VLOG_INFO("feedback: alert {} labelled {}; {} suppression(s) on this host", alert_id, label,
            pipeline_->suppressions());
  if (auto r = pipeline_->save_suppressions(config_.state_dir / "suppressions.txt"); !r) {
    VLOG_WARN("suppressions not saved: {}", r.error().message);
  }
}

void Agent::apply_model_update(const v1::ModelUpdate& update) {
  if (update.scope() == kModelScopeShadow) {
    apply_shadow_update(update);
    return;
  }
  auto model = model_trust_->apply(update, unix_now_ns());
  if (!model) {
    ++model_updates_refused_;
    last_model_refusal_ = fmt::format("{}: {}", update.version(), model.error().message);
    VLOG_WARN("{}", model.error().message);
    return;
  }
  VLOG_INFO("scoring model {} -> {} ({})", pipeline_->model().version(), (*model)->version(),
            update.scope() == kModelScopeCanary
                ? fmt::format("canary until {} s", update.expires_ns() / 1'000'000'000ULL)
                : fmt::format("release {}", update.release_seq()));
  set_running_model(*model);
}

void Agent::apply_shadow_update(const v1::ModelUpdate& update) {
  auto& shadow = pipeline_->shadow();
  if (update.version().empty() && update.model().empty()) {
    if (shadow.installed()) {
      VLOG_INFO("shadow model {} withdrawn: {} events scored, {} would-be alerts ({} by {})",
                shadow.model()->version(), shadow.counts().events, shadow.counts().would_alert,
                shadow.counts().active_alerts, pipeline_->model().version());
      shadow.set(nullptr, 0);
    }
    return;
  }
  if (shadow.installed() && shadow.model()->version() == update.version()) {
    return;  // sent again after a reconnect: the count goes on
  }
  auto model = verify_shadow_update(
      update, ModelKeys{.online = config_.model_pubkey, .release = config_.model_release_pubkey});
  if (!model) {
    ++shadow_refusals_;
    last_shadow_refusal_ = fmt::format("{}: {}", update.version(), model.error().message);
    VLOG_WARN("shadow {}", model.error().message);
    return;
  }
  shadow.set(*model, unix_now_ns());
  ++shadow_installs_;
  VLOG_INFO(
      "shadow model {} beside {}: every event scored by both, would-be alerts counted, none "
      "raised",
      (*model)->version(), pipeline_->model().version());
}

void Agent::expire_canary_model() {
  if (!model_trust_) {
    return;
  }
  auto back = model_trust_->expire(unix_now_ns());
  if (!back) {
    return;
  }
  auto model = *back ? *back : default_model();
  VLOG_WARN("canary grant for model {} expired: back to {}", pipeline_->model().version(),
            model->version());
  set_running_model(std::move(model));
}

void Agent::set_running_model(std::shared_ptr<const ScoringModel> model) {
  pipeline_->set_model(model);
  if (shipper_) {
    shipper_->set_model_version(model->version());
  }
}

void Agent::schedule_flush() {
  if (!shipper_) {
    return;
  }
  flush_timer_.expires_after(
      std::chrono::milliseconds(std::max<std::uint32_t>(1, config_.batch_interval_ms)));
  flush_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) {
      return;
    }
    shipper_->flush();
    ship_image_observations();
    schedule_flush();
  });
}

v1::Health Agent::health() {
  v1::Health h;
  for (const auto& p : probes_) {
    if (auto ks = p->read_stats()) {
      auto* d = h.add_drops();
      d->set_family(p->family());
      d->set_ringbuf_drops((*ks)[VIGIL_STAT_RB_DROPS]);
    }
  }
  if (pipeline_) {
    const auto& d = pipeline_->decode_stats();
    std::uint64_t faults = 0;
    for (auto f : d.faults) {
      faults += f;
    }
    h.set_decoder_errors(faults);
    h.set_level(std::string(to_string(pipeline_->level())));
    h.set_model_version(pipeline_->model().version());
    h.set_model_refusals(model_updates_refused_);
    h.set_model_refusal(last_model_refusal_);
    if (pipeline_->shadow().installed()) {
      pipeline_->shadow().report(*h.mutable_shadow(), pipeline_->model().version(),
                                 pipeline_->alert_threshold());
    }
    rule_packs_.report(h);
    h.set_output_write_errors(pipeline_->output_write_errors());
    h.set_events_total(pipeline_->stats().records);
    h.set_alerts_total(pipeline_->stats().alerts);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  h.set_rss_bytes(current_rss_bytes());  // now, not ru_maxrss (the peak)
  // CPU: share of one core since the previous health snapshot.
  const double cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  const auto now = std::chrono::steady_clock::now();
  const double wall = std::chrono::duration<double>(now - last_health_at_).count();
  h.set_cpu_percent(wall > 0 && last_health_cpu_s_ > 0 ? 100.0 * (cpu_s - last_health_cpu_s_) / wall
                                                       : 0.0);
  last_health_cpu_s_ = cpu_s;
  last_health_at_ = now;
  return h;
}

void Agent::resync_wall_clock() {
  // Kernel stamps are CLOCK_BOOTTIME; unix time is boot time plus an offset
  // that moves whenever the wall clock is stepped (NTP at boot, an operator).
  // Taken once, a clock fixed after start would misdate every event after it,
  // or have the collector refuse them as a day in the future.
  const auto now = boot_to_unix_offset_ns();
  const auto moved = now - pipeline_->boot_to_unix_ns();
  if (moved > 1'000'000'000LL || moved < -1'000'000'000LL) {
    VLOG_INFO("wall clock moved by {:.3f} s; event timestamps follow it",
              static_cast<double>(moved) / 1e9);
  }
  pipeline_->set_boot_to_unix_ns(now);
}

void Agent::save_baseline() {
  if (!pipeline_) {
    return;
  }
  if (auto saved = pipeline_->save_baseline(config_.state_dir / "baseline.tsv"); !saved) {
    VLOG_WARN("baseline not saved: {}", saved.error().message);
  }
  if (auto saved = pipeline_->image_profiles().save(config_.state_dir / "image-profiles.tsv");
      !saved) {
    VLOG_WARN("image profiles not saved: {}", saved.error().message);
  }
  if (config_.rarity) {
    if (auto saved = pipeline_->save_behaviours(config_.state_dir / "behaviours.tsv"); !saved) {
      VLOG_WARN("behaviours not saved: {}", saved.error().message);
    }
  }
}

void Agent::load_behaviours() {
  pipeline_->set_builtin_detections(config_.builtin_detections);
  if (!config_.builtin_detections) {
    VLOG_WARN(
        "BUILT-IN DETECTIONS ARE OFF (builtin_detections: false / --no-builtin-detections): "
        "indicators, Sigma rules and stateful detectors raise nothing; only the rarity path "
        "(rare-*) can alert. For evaluating it, not for protecting a host.");
  }
  pipeline_->set_rarity_config(
      RarityConfig{.enabled = config_.rarity,
                   .learn_s = config_.rarity_learn_s,
                   .max_keys = config_.rarity_max_keys,
                   .fleet_common_hosts = config_.rarity_fleet_common_hosts,
                   .fleet_common_fraction = config_.rarity_fleet_common_fraction});
  if (!config_.rarity) {
    VLOG_INFO("rarity: off");
    return;
  }
  const double now = static_cast<double>(std::time(nullptr));
  auto& memory = pipeline_->rarity().memory();
  if (auto loaded = pipeline_->load_behaviours(config_.state_dir / "behaviours.tsv", now);
      !loaded) {
    // Costs what was learned, not the agent: learning starts over (nothing is
    // raised until the learning window has passed again).
    VLOG_WARN("behaviours not loaded, learning again: {}", loaded.error().message);
  }
  if (memory.started() == 0) {
    VLOG_INFO(
        "rarity: nothing learned yet; behaviours are only learned for {:.0f} s from the "
        "first event",
        config_.rarity_learn_s);
  } else if (memory.learning(now, config_.rarity_learn_s)) {
    VLOG_INFO("rarity: {} behaviours known; learning only for another {:.0f} s", memory.size(),
              config_.rarity_learn_s - (now - memory.started()));
  } else {
    VLOG_INFO("rarity: {} behaviours known; new rare behaviours in risky contexts raise rare-*",
              memory.size());
  }
}

void Agent::ship_behaviours() {
  // Every 30 s: keys never reported, or last reported a day ago (the fleet
  // keeps a host's key for its window only while it is reported again).
  const auto now_steady = std::chrono::steady_clock::now();
  if (!shipper_ || !config_.rarity || now_steady - last_behaviours_at_ < std::chrono::seconds(30)) {
    return;
  }
  last_behaviours_at_ = now_steady;
  auto& memory = pipeline_->rarity().memory();
  const double now = static_cast<double>(std::time(nullptr));
  // While disconnected the shipper would queue (and may drop) what is taken:
  // keep the keys until a stream is up.
  if (!memory.report_due(now) || !shipper_->stats().connected) {
    return;
  }
  behaviour_hashes_.clear();
  if (memory.take_report(now, wire::kMaxBehaviourKeys, behaviour_hashes_) == 0) {
    return;
  }
  v1::BehaviourReport msg;
  msg.mutable_keys()->Add(behaviour_hashes_.begin(), behaviour_hashes_.end());
  shipper_->send_behaviours(std::move(msg));
}

void Agent::apply_prevalence(const v1::Prevalence& table) {
  const auto keys = std::span<const std::uint64_t>(table.keys().data(),
                                                   static_cast<std::size_t>(table.keys_size()));
  const auto hosts = std::span<const std::uint32_t>(table.hosts().data(),
                                                    static_cast<std::size_t>(table.hosts_size()));
  if (auto r = pipeline_->rarity().apply_prevalence(table.fleet_hosts(), keys, hosts,
                                                    table.window_days());
      !r) {
    VLOG_WARN("fleet prevalence table refused (the previous one stays): {}", r.error().message);
  }
}

void Agent::ship_image_observations() {
  auto& profiles = pipeline_->image_profiles();
  if (const auto c = shipper_->connections(); c != image_connections_) {
    image_connections_ = c;
    profiles.resend_all();  // a new stream: what was queued on the old one may be lost
  }
  if (!profiles.has_changes()) {
    return;
  }
  std::vector<ImageProfileRecord> changed;
  while (profiles.take_changes(changed, kMaxProfilesPerMessage) > 0) {
    v1::ImageObservations msg;
    for (auto& r : changed) {
      auto* p = msg.add_profiles();
      p->set_image(std::move(r.image));
      p->set_first_seen_ns(r.first_seen_ns);
      for (auto& sh : r.shells) {
        p->add_shells(std::move(sh));
      }
    }
    changed.clear();
    shipper_->send_image_observations(std::move(msg));
  }
}

void Agent::apply_image_profiles(const v1::ImageProfiles& fleet) {
  auto& profiles = pipeline_->image_profiles();
  ImageProfileRecord rec;
  for (const auto& p : fleet.profiles()) {
    rec.image = p.image();
    rec.first_seen_ns = p.first_seen_ns();
    rec.shells.assign(p.shells().begin(), p.shells().end());
    std::ranges::sort(rec.shells);
    profiles.merge(rec);
  }
}

std::string Agent::stats_json() const {
  std::string out = "{\"kernel\":{";
  bool first_family = true;
  for (const auto& p : probes_) {
    auto ks = p->read_stats();
    if (!ks) {
      continue;
    }
    out += fmt::format("{}\"{}\":{{", first_family ? "" : ",", p->family());
    first_family = false;
    bool first = true;
    for (std::size_t i = 0; i < ks->size(); ++i) {
      if (const char* name = p->stat_name(i)) {
        out += fmt::format("{}\"{}\":{}", first ? "" : ",", name, (*ks)[i]);
        first = false;
      }
    }
    out += "}";
  }
  out += "}";
  if (reader_) {
    out += fmt::format(",\"ring_reader\":{{\"drains\":{},\"empty_drains\":{}}}", reader_->drains(),
                       reader_->empty_drains());
  }
  if (pipeline_) {
    const auto& d = pipeline_->decode_stats();
    out += fmt::format(",\"decoder\":{{\"decoded\":{}", d.decoded);
    for (std::size_t i = 0; i < d.faults.size(); ++i) {
      out += fmt::format(",\"{}\":{}", to_string(static_cast<DecodeFault>(i)), d.faults[i]);
    }
    const auto& ps = pipeline_->stats();
    out += fmt::format(
        "}},\"pipeline\":{{\"records\":{},\"events_out\":{},\"indicator_hits\":{},"
        "\"alerts\":{},\"alerts_suppressed\":{},\"level_changes\":{},\"scored\":{},"
        "\"model_swaps\":{},\"suppressed_hits\":{}}}"
        ",\"awareness\":{{\"level\":\"{}\",\"pressure\":{:.1f},\"alerting_pressure\":{:.1f},"
        "\"attentive_threshold\":{:.1f},\"baseline_pairs\":{}}}",
        ps.records, ps.events_out, ps.indicator_hits, ps.alerts, ps.alerts_suppressed,
        ps.level_changes, ps.scored, ps.model_swaps, ps.suppressed_hits,
        to_string(pipeline_->level()), pipeline_->level_tracker().pressure(),
        pipeline_->level_tracker().alerting_pressure(),
        pipeline_->level_tracker().attentive_threshold(), pipeline_->baseline().size());
    out += ",\"by_type\":{";
    bool first_type = true;
    for (std::size_t i = 0; i < ps.by_type.size(); ++i) {
      if (ps.by_type[i] != 0) {
        out += fmt::format("{}\"{}\":{}", first_type ? "" : ",",
                           to_string(static_cast<EventType>(i)), ps.by_type[i]);
        first_type = false;
      }
    }
    out += "}";
    const auto& sw = pipeline_->shadow();
    std::string shadow_version = "\"\"";
    if (sw.installed()) {
      shadow_version.clear();
      append_json_string(sw.model()->version(), shadow_version);
    }
    out += fmt::format(
        ",\"shadow\":{{\"version\":{},\"since_ns\":{},\"events\":{},\"would_alert\":{},"
        "\"active_alerts\":{},\"both_alert\":{},\"installs\":{},\"refusals\":{},"
        "\"last_refusal\":",
        shadow_version, sw.since_ns(), sw.counts().events, sw.counts().would_alert,
        sw.counts().active_alerts, sw.counts().both_alert, shadow_installs_, shadow_refusals_);
    append_json_string(last_shadow_refusal_, out);
    out += "}";
    out += fmt::format(",\"latency\":{{\"event\":{},\"alert\":{}}}",
                       latency_json(pipeline_->event_latency()),
                       latency_json(pipeline_->alert_latency()));
  }
  if (pipeline_) {
    out += fmt::format(",\"output_write_errors\":{}", pipeline_->output_write_errors());
    const auto& ip = pipeline_->image_profiles();
    const auto& is = ip.stats();
    out += fmt::format(
        ",\"image_profiles\":{{\"images\":{},\"shells_seen\":{},\"learned\":{},\"novel\":{},"
        "\"held\":{},\"unprofiled\":{},\"evicted\":{},\"shells_dropped\":{},"
        "\"fleet_merged\":{},\"fleet_refused\":{}}}",
        ip.size(), is.shells_seen, is.learned, is.novel, is.held, is.unprofiled, is.evicted,
        is.shells_dropped, is.fleet_merged, is.fleet_refused);
    const auto& rd = pipeline_->rarity();
    const auto& rs = rd.stats();
    const auto& mem = rd.memory();
    out += fmt::format(
        ",\"rarity\":{{\"enabled\":{},\"builtin_detections\":{},\"builtin_dropped\":{},"
        "\"learning\":{},\"keys\":{},\"evicted\":{},\"novel\":{},\"fleet_common\":{},"
        "\"no_context\":{},\"hits\":{},\"hits_by_kind\":{{",
        rd.config().enabled, pipeline_->builtin_detections(), pipeline_->stats().builtin_dropped,
        mem.learning(static_cast<double>(std::time(nullptr)), rd.config().learn_s), mem.size(),
        mem.stats().evicted, rs.novel, rs.fleet_common, rs.no_context, rs.hits);
    for (std::size_t k = 0; k < kRarityKinds; ++k) {
      out += fmt::format("{}\"{}\":{}", k == 0 ? "" : ",", to_string(static_cast<RarityKind>(k)),
                         rs.hits_by_kind[k]);
    }
    out += fmt::format(
        "}},\"behaviours_reported\":{},\"prevalence_keys\":{},\"prevalence_fleet_hosts\":{},"
        "\"prevalence_updates\":{},\"prevalence_refused\":{}",
        mem.stats().reported, rd.fleet().size(), rd.fleet().fleet_hosts(), rs.prevalence_updates,
        rs.prevalence_refused);
    if (shipper_) {
      const auto sh = shipper_->stats();
      out += fmt::format(
          ",\"behaviours_sent\":{},\"behaviours_dropped\":{},\"prevalence_received\":{}",
          sh.behaviours_sent, sh.behaviours_dropped, sh.prevalence_received);
    }
    out += "}";
  }
  if (containers_) {
    const auto cs = containers_->stats();
    out += fmt::format(
        ",\"containers\":{{\"containers\":{},\"cgroups\":{},\"lookups\":{},"
        "\"lookups_unknown\":{},\"cgroup_events\":{},\"rescans\":{},\"resolved\":{},"
        "\"enrich_requests\":{},\"enriched\":{},\"from_storage\":{},\"runtime_errors\":{},"
        "\"runtime_unknown\":{},\"overflows\":{},\"queue_drops\":{}}}",
        cs.containers, cs.cgroups, cs.lookups, cs.lookups_unknown, cs.cgroup_events, cs.rescans,
        cs.resolved, cs.enrich_requests, cs.enriched, cs.from_storage, cs.runtime_errors,
        cs.runtime_unknown, cs.overflows, cs.queue_drops);
  }
  const auto& t = table_.stats();
  out += fmt::format(
      ",\"process_table\":{{\"size\":{},\"capacity\":{},\"seeded\":{},\"evictions\":{},"
      "\"proc_lookups\":{}}}}}",
      table_.size(), table_.capacity(), t.seeded, t.evictions, t.proc_lookups);
  if (shipper_ && spool_) {
    out.pop_back();  // reopen the top-level object
    const auto sh = shipper_->stats();
    const auto sp = spool_->stats();
    out += fmt::format(
        ",\"shipper\":{{\"connected\":{},\"connects\":{},\"connect_failures\":{},"
        "\"batches_sent\":{},\"events_sent\":{},\"acked_seq\":{},\"refusals\":{},"
        "\"feedback\":{},\"spool_errors\":{},\"spool_events\":{},\"spool_bytes\":{},"
        "\"spool_dropped\":{},\"next_seq\":{},\"model_updates\":{},"
        "\"model_updates_refused\":{},\"handoff_queued\":{},\"handoff_full\":{},"
        "\"spool_writes\":{},\"events_refused\":{},\"events_refused_by_reason\":{{",
        sh.connected, sh.connects, sh.connect_failures, sh.batches_sent, sh.events_sent,
        sh.acked_seq, sh.refusals, sh.feedback, sh.spool_errors, sp.events, sp.bytes, sp.dropped,
        sp.next_seq, sh.model_updates, model_updates_refused_, sh.handoff_queued, sh.handoff_full,
        sh.spool_writes, sh.events_refused_total);
    bool first_reason = true;
    for (const auto& [reason, n] : sh.events_refused) {
      out += fmt::format("{}\"{}\":{}", first_reason ? "" : ",", reason, n);
      first_reason = false;
    }
    out += "}}}";
  }
  return out;
}

std::string Agent::metrics_text() const {
  std::string out;
  metric_header(out, "vigil_agent_kernel_events_total", "counter",
                "Records the probes submitted to their ring buffer, by probe family.");
  std::vector<std::pair<std::string, std::uint64_t>> drops;
  for (const auto& p : probes_) {
    if (auto ks = p->read_stats()) {
      const auto family = fmt::format("probe=\"{}\"", p->family());
      metric_sample(out, "vigil_agent_kernel_events_total",
                    static_cast<double>((*ks)[VIGIL_STAT_EVENTS]), family);
      drops.emplace_back(family, (*ks)[VIGIL_STAT_RB_DROPS]);
    }
  }
  metric_header(out, "vigil_agent_ringbuf_drops_total", "counter",
                "Records lost because a ring buffer was full, by probe family.");
  for (const auto& [family, n] : drops) {
    metric_sample(out, "vigil_agent_ringbuf_drops_total", static_cast<double>(n), family);
  }
  if (reader_) {
    metric(out, "vigil_agent_ringbuf_drains_total", "counter",
           "Ring buffer drains: a wakeup from the probes or a poll.",
           static_cast<double>(reader_->drains()));
    metric(out, "vigil_agent_ringbuf_empty_drains_total", "counter",
           "Ring buffer drains (polls) that found no record.",
           static_cast<double>(reader_->empty_drains()));
  }
  if (pipeline_) {
    const auto& ps = pipeline_->stats();
    const auto& d = pipeline_->decode_stats();
    metric(out, "vigil_agent_decode_errors_total", "counter",
           "Ring buffer records the decoder rejected.", static_cast<double>(d.errors()));
    metric(out, "vigil_agent_events_total", "counter", "Events decoded and scored.",
           static_cast<double>(ps.scored));
    metric_header(out, "vigil_agent_events_by_type_total", "counter",
                  "Events processed, by event type.");
    for (std::size_t i = 0; i < ps.by_type.size(); ++i) {
      if (ps.by_type[i] != 0) {
        metric_sample(out, "vigil_agent_events_by_type_total", static_cast<double>(ps.by_type[i]),
                      fmt::format("type=\"{}\"", to_string(static_cast<EventType>(i))));
      }
    }
    metric(out, "vigil_agent_indicator_hits_total", "counter", "Indicators that fired.",
           static_cast<double>(ps.indicator_hits));
    metric(out, "vigil_agent_alerts_total", "counter", "Alerts raised (after de-duplication).",
           static_cast<double>(ps.alerts));
    metric(out, "vigil_agent_awareness_level", "gauge",
           "Host awareness: 0 calm, 1 attentive, 2 alert, 3 critical.",
           static_cast<double>(static_cast<int>(pipeline_->level())));
    metric(out, "vigil_agent_awareness_pressure", "gauge",
           "Decayed sum of recent indicator scores (the alert-grade part: kind=\"alerting\").",
           pipeline_->level_tracker().pressure(), "kind=\"all\"");
    metric_sample(out, "vigil_agent_awareness_pressure",
                  pipeline_->level_tracker().alerting_pressure(), "kind=\"alerting\"");
    metric(out, "vigil_agent_awareness_attentive_threshold", "gauge",
           "Pressure that makes this host attentive: 1.5 x its learned benign peak, at least 40.",
           pipeline_->level_tracker().attentive_threshold());
    metric(out, "vigil_agent_model_info", "gauge", "The scoring model in use (value 1).", 1,
           fmt::format("version=\"{}\"", label_value(pipeline_->model().version())));
    const auto& sw = pipeline_->shadow();
    metric(out, "vigil_agent_shadow_events_total", "counter",
           "Events the shadow model scored beside the active one (since it was installed).",
           static_cast<double>(sw.counts().events));
    metric(out, "vigil_agent_shadow_would_alerts_total", "counter",
           "Alert events the shadow model would have raised (none is).",
           static_cast<double>(sw.counts().would_alert));
    metric(out, "vigil_agent_shadow_active_alerts_total", "counter",
           "Alert events the active model raised on the events the shadow model scored.",
           static_cast<double>(sw.counts().active_alerts));
    metric(out, "vigil_agent_shadow_refusals_total", "counter",
           "Shadow model updates refused (signature, scope, schema).",
           static_cast<double>(shadow_refusals_));
    if (sw.installed()) {
      metric(out, "vigil_agent_shadow_model_info", "gauge", "The shadow model (value 1).", 1,
             fmt::format("version=\"{}\"", label_value(sw.model()->version())));
    }
    metric(out, "vigil_agent_rule_hits_total", "counter", "Indicators raised by Sigma rules.",
           static_cast<double>(ps.rule_hits));
    const auto& cw = pipeline_->container_watch().stats();
    metric(out, "vigil_agent_containers_judged_total", "counter",
           "Containers judged at their first exec (host namespaces, capabilities).",
           static_cast<double>(cw.judged));
    metric(out, "vigil_agent_containers_judged_evicted_total", "counter",
           "Judged containers forgotten to stay within the watch's capacity.",
           static_cast<double>(cw.evicted));
    metric(out, "vigil_agent_rule_reloads_total", "counter", "Rule packs reloaded (SIGHUP).",
           static_cast<double>(ps.rule_swaps));
    metric(out, "vigil_agent_rule_reloads_failed_total", "counter",
           "Reloads refused because a rule file did not parse (the old rules stay).",
           static_cast<double>(rule_reloads_failed_));
    if (const auto& pack = pipeline_->rules()) {
      metric_header(out, "vigil_agent_rule_evaluations_total", "counter",
                    "Full evaluations of a Sigma rule (after the index and literal prefilter).");
      const auto rules = pack->rules().rules();
      auto labels = [](const sigma::RuleInfo& r) {
        return fmt::format("rule=\"{}\",title=\"{}\"", label_value(r.indicator_id()),
                           label_value(r.title));
      };
      for (const auto& [info, c] : rules) {
        metric_sample(out, "vigil_agent_rule_evaluations_total",
                      static_cast<double>(c->evaluations.load(std::memory_order_relaxed)),
                      labels(*info));
      }
      metric_header(out, "vigil_agent_rule_matches_total", "counter", "Matches of a Sigma rule.");
      for (const auto& [info, c] : rules) {
        metric_sample(out, "vigil_agent_rule_matches_total",
                      static_cast<double>(c->matches.load(std::memory_order_relaxed)),
                      labels(*info));
      }
      metric_header(out, "vigil_agent_rule_seconds_total", "counter",
                    "Time spent evaluating a Sigma rule (sampled, scaled to all evaluations).");
      for (const auto& [info, c] : rules) {
        metric_sample(out, "vigil_agent_rule_seconds_total",
                      static_cast<double>(c->nanoseconds.load(std::memory_order_relaxed)) / 1e9,
                      labels(*info));
      }
    }
    metric_summary(out, "vigil_agent_event_latency_seconds",
                   "Kernel timestamp to event scored and written out.", pipeline_->event_latency());
    metric_summary(out, "vigil_agent_alert_latency_seconds",
                   "Kernel timestamp to alert written out.", pipeline_->alert_latency());
  }
  metric(out, "vigil_agent_process_table_size", "gauge", "Processes tracked.",
         static_cast<double>(table_.size()));
  if (containers_) {
    const auto cs = containers_->stats();
    metric(out, "vigil_agent_containers", "gauge", "Containers the container table tracks.",
           static_cast<double>(cs.containers));
    metric(out, "vigil_agent_container_cgroups", "gauge",
           "Cgroups the container table tracks (host and container).",
           static_cast<double>(cs.cgroups));
    metric(out, "vigil_agent_container_lookups_unknown_total", "counter",
           "Events whose cgroup id the container table did not know (resolved later).",
           static_cast<double>(cs.lookups_unknown));
    metric(out, "vigil_agent_container_rescans_total", "counter",
           "Walks of the cgroup tree for unknown cgroup ids.", static_cast<double>(cs.rescans));
    metric(out, "vigil_agent_container_enriched_total", "counter",
           "Containers a runtime API described (name, image, pod).",
           static_cast<double>(cs.enriched));
    metric(out, "vigil_agent_container_runtime_errors_total", "counter",
           "Runtime API calls that failed (timeout, bad answer, refused).",
           static_cast<double>(cs.runtime_errors));
    metric(out, "vigil_agent_container_overflows_total", "counter",
           "Cgroups not tracked because the container table was full.",
           static_cast<double>(cs.overflows));
  }
  if (pipeline_) {
    metric(out, "vigil_agent_output_write_errors_total", "counter",
           "Lines lost writing events_out/alerts_out (disk full, I/O errors), plus failed "
           "reopens.",
           static_cast<double>(pipeline_->output_write_errors()));
    metric(out, "vigil_agent_rss_bytes", "gauge", "Resident set size now.",
           static_cast<double>(current_rss_bytes()));
    const auto& ip = pipeline_->image_profiles();
    metric(out, "vigil_agent_image_profiles", "gauge",
           "Container image profiles known (container-shell-novel).",
           static_cast<double>(ip.size()));
    metric(out, "vigil_agent_image_shells_learned_total", "counter",
           "(image, shell) pairs learned here within an image's learning window.",
           static_cast<double>(ip.stats().learned));
    metric(out, "vigil_agent_image_shells_novel_total", "counter",
           "Shells an image never ran, raised as container-shell-novel.",
           static_cast<double>(ip.stats().novel));
    metric(out, "vigil_agent_image_profiles_evicted_total", "counter",
           "Image profiles dropped over image_profiles_max (least recently seen first).",
           static_cast<double>(ip.stats().evicted));
    const auto& rd = pipeline_->rarity();
    const auto& rs = rd.stats();
    metric(out, "vigil_agent_rarity_keys", "gauge", "Behaviours the host's memory keeps.",
           static_cast<double>(rd.memory().size()));
    metric(out, "vigil_agent_rarity_evicted_total", "counter",
           "Behaviours dropped over rarity_max_keys (least recently seen first).",
           static_cast<double>(rd.memory().stats().evicted));
    metric(out, "vigil_agent_rarity_novel_total", "counter",
           "Events with a behaviour new on this host (after the learning window).",
           static_cast<double>(rs.novel));
    metric(out, "vigil_agent_rarity_fleet_common_total", "counter",
           "Novel events whose new behaviours are common in the fleet (suppressed).",
           static_cast<double>(rs.fleet_common));
    metric(out, "vigil_agent_rarity_no_context_total", "counter",
           "Novel, fleet-rare events in no risky context (suppressed).",
           static_cast<double>(rs.no_context));
    metric_header(out, "vigil_agent_rarity_hits_total", "counter",
                  "rare-* indicators raised, by behaviour kind.");
    for (std::size_t k = 0; k < kRarityKinds; ++k) {
      metric_sample(out, "vigil_agent_rarity_hits_total", static_cast<double>(rs.hits_by_kind[k]),
                    fmt::format("kind=\"{}\"", to_string(static_cast<RarityKind>(k))));
    }
    metric(out, "vigil_agent_rarity_behaviours_reported_total", "counter",
           "Behaviour hashes reported to the collector.",
           static_cast<double>(rd.memory().stats().reported));
    metric(out, "vigil_agent_rarity_prevalence_keys", "gauge",
           "Behaviours in the fleet prevalence table (seen on 2 or more hosts).",
           static_cast<double>(rd.fleet().size()));
    metric(out, "vigil_agent_rarity_prevalence_fleet_hosts", "gauge",
           "Hosts of the fleet per the last prevalence table.",
           static_cast<double>(rd.fleet().fleet_hosts()));
    metric(out, "vigil_agent_rarity_prevalence_updates_total", "counter",
           "Fleet prevalence tables applied.", static_cast<double>(rs.prevalence_updates));
    metric(out, "vigil_agent_builtin_hits_dropped_total", "counter",
           "Built-in indicator, rule and detector hits dropped (builtin_detections off).",
           static_cast<double>(pipeline_->stats().builtin_dropped));
  }
  if (shipper_ && spool_) {
    const auto sh = shipper_->stats();
    const auto sp = spool_->stats();
    metric(out, "vigil_agent_collector_connected", "gauge", "1 while the stream is up.",
           sh.connected ? 1 : 0);
    metric(out, "vigil_agent_events_shipped_total", "counter", "Events sent to the collector.",
           static_cast<double>(sh.events_sent));
    metric(out, "vigil_agent_spool_events", "gauge", "Events waiting in the spool for an ack.",
           static_cast<double>(sp.events));
    metric(out, "vigil_agent_spool_bytes", "gauge", "Bytes of the spool.",
           static_cast<double>(sp.bytes));
    metric(out, "vigil_agent_spool_dropped_total", "counter",
           "Events dropped because the spool was full (lowest score first).",
           static_cast<double>(sp.dropped));
    metric(out, "vigil_agent_handoff_queued", "gauge",
           "Scored events handed to the spool writer thread, not yet in the spool.",
           static_cast<double>(sh.handoff_queued));
    metric(out, "vigil_agent_handoff_full_total", "counter",
           "Hand-offs to the spool writer that found its queue full: the agent loop waited.",
           static_cast<double>(sh.handoff_full));
    metric(out, "vigil_agent_spool_writes_total", "counter",
           "Spool appends (one RocksDB write each, of every event handed off since the last).",
           static_cast<double>(sh.spool_writes));
    metric_header(out, "vigil_agent_events_refused_total", "counter",
                  "Events the collector refused one by one, by its reason (dropped from the "
                  "spool, not replayed).");
    for (const auto& [reason, n] : sh.events_refused) {
      metric_sample(out, "vigil_agent_events_refused_total", static_cast<double>(n),
                    fmt::format("reason=\"{}\"", label_value(reason)));
    }
  }
  return out;
}

void Agent::report_stats(bool final) {
  const std::string json = stats_json();
  std::uint64_t drops = 0;
  for (const auto& p : probes_) {
    if (auto ks = p->read_stats()) {
      drops += (*ks)[VIGIL_STAT_RB_DROPS];
    }
  }
  if (drops > last_drops_) {
    VLOG_WARN("kernel ring buffer drops: {} (+{} since last report); consider --ringbuf-kib", drops,
              drops - last_drops_);
    last_drops_ = drops;
  }
  if (final) {
    VLOG_INFO("final counters: {}", json);
  } else {
    save_baseline();
  }
  // Counters are exposed as a file operators and tests can read.
  const auto path = config_.state_dir / "agent-stats.json";
  const auto tmp = config_.state_dir / "agent-stats.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json << '\n';
    if (!out) {
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
}

}  // namespace vigil::agent
