// vigilctl: the operator's client for vigil-collector's QueryService.
//   vigilctl --collector ADDR report | agents | alerts [--follow] | events | feedback ID --label L
//     (alerts and events filter by --host and by workload: --container, --image, --pod, --k8s-ns)
//   vigilctl models list | evolve | import FILE | rollout VERSION | rollback | status
//   vigilctl models shadow VERSION [--fraction F] | shadow --stop | shadow (its numbers)
//   vigilctl models keygen --out FILE | sign --key FILE VERSION | release FILE
//   vigilctl rules list | push [DIR] [--disable ID,...] | rollout VERSION | rollback | status
//   vigilctl enroll create --out FILE | list | revoke TOKEN_ID | revoke-agent AGENT_ID
// Tables by default, --json for machines. Exit codes: 0 ok, 1 the request
// failed, 2 bad arguments, 3 collector unreachable.
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "vigil/cli/enroll_cmd.h"
#include "vigil/cli/format.h"
#include "vigil/cli/json.h"
#include "vigil/cli/query_format.h"
#include "vigil/clock.h"
#include "vigil/model_release.h"
#include "vigil/pem.h"
#include "vigil/signing.h"
#include "vigil/v1/model.grpc.pb.h"
#include "vigil/v1/query.grpc.pb.h"
#include "vigil/v1/rules.grpc.pb.h"

namespace {

using vigil::unix_now_ns;
using vigil::cli::format_age;
using vigil::cli::format_bytes;
using vigil::cli::format_time;
using vigil::cli::print_json;
using vigil::cli::printable;
using vigil::cli::Table;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

struct Options {
  std::string collector = "127.0.0.1:7700";
  bool insecure = false;
  std::string ca_file;     // CA of the collector's certificate (TLS); empty: system roots
  std::string token_file;  // bearer token for the API (first token in the file)
  std::string token;
  bool json = false;
  std::uint32_t timeout_s = 10;
};

int report_error(const Options& o, const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    fmt::print(stderr, "vigilctl: collector {} unreachable: {}\n", o.collector, s.error_message());
    return kExitUnreachable;
  }
  fmt::print(stderr, "vigilctl: {}\n", s.error_message());
  return kExitFailed;
}

// Every call: the deadline and, with a token file, the bearer token.
void prepare_call(grpc::ClientContext& ctx, const Options& o) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(o.timeout_s));
  if (!o.token.empty()) {
    ctx.AddMetadata("authorization", "Bearer " + o.token);
  }
}

// The token of a token file: the first non-comment line, "ROLE TOKEN" or "TOKEN".
std::optional<std::string> read_token(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string s; words >> s;) w.push_back(s);
    if (!w.empty()) return w.back();
  }
  return std::nullopt;
}

// The workload filters of `alerts` and `events` (docs/api.md, "Workload filters").
struct Workload {
  std::string container;
  std::string image;
  std::string pod;
  std::string k8s_ns;

  template <class Req>
  void set(Req& req) const {
    req.set_container(container);
    req.set_image(image);
    req.set_pod(pod);
    req.set_k8s_ns(k8s_ns);
  }
  void add_options(CLI::App& cmd, const char* what) {
    cmd.add_option("--container", container,
                   fmt::format("only {} from this container (id, id prefix or name)", what));
    cmd.add_option("--image", image,
                   fmt::format("only {} from containers of this image (tag optional)", what));
    cmd.add_option("--pod", pod,
                   fmt::format("only {} from this pod (name or NAMESPACE/POD)", what));
    cmd.add_option("--k8s-ns", k8s_ns,
                   fmt::format("only {} from pods in this Kubernetes namespace", what));
  }
};

// Paged listings (report, agents, alerts, events): without a token, every
// page is fetched and shown as one; with --page-token, that one page, and the
// token for the next.
struct Paging {
  std::uint32_t page_size = 0;  // 0: the collector's default
  std::string page_token;
  bool all = false;  // alerts, events: follow every page
};

// QueryAlerts/QueryEvents: one page, or every page with --all, merged into
// `resp` (the scan counters add up). The error status, if a call fails.
template <class Req, class Resp, class Call, class Merge>
grpc::Status fetch_pages(const Options& o, const Paging& paging, Req req, Resp& resp, Call call,
                         Merge merge) {
  for (;;) {
    grpc::ClientContext ctx;
    prepare_call(ctx, o);
    Resp page;
    if (auto s = call(ctx, req, page); !s.ok()) {
      return s;
    }
    merge(resp, page);
    resp.set_next_page_token(page.next_page_token());
    resp.set_scan_limited(resp.scan_limited() || page.scan_limited());
    resp.set_scanned(resp.scanned() + page.scanned());
    if (!paging.all || page.next_page_token().empty()) {
      return grpc::Status::OK;
    }
    req.set_page_token(page.next_page_token());
  }
}

void print_more(const std::string& token) {
  if (!token.empty()) {
    fmt::print("(more: --page-token {})\n", token);
  }
}

int cmd_report(vigil::v1::QueryService::Stub& stub, const Options& o, std::uint64_t window_s,
               std::uint32_t top, const Paging& paging) {
  vigil::v1::FleetReportRequest req;
  req.set_window_s(window_s);
  req.set_top(top);
  req.set_page_size(paging.page_size);
  req.set_page_token(paging.page_token);
  vigil::v1::FleetReport rep;
  for (bool first = true;; first = false) {
    grpc::ClientContext ctx;
    prepare_call(ctx, o);
    vigil::v1::FleetReport page;
    if (auto s = stub.FleetReport(&ctx, req, &page); !s.ok()) {
      return report_error(o, s);
    }
    if (first) {
      rep = std::move(page);  // the fleet-wide parts are the same on every page
    } else {
      rep.mutable_hosts()->MergeFrom(page.hosts());
      rep.set_next_page_token(page.next_page_token());
    }
    if (!paging.page_token.empty() || rep.next_page_token().empty()) {
      break;
    }
    req.set_page_token(rep.next_page_token());
  }
  if (o.json) {
    print_json(rep);
    return kExitOk;
  }
  const auto now = unix_now_ns();
  fmt::print("Fleet report: {} hosts, last {}s (generated {} UTC): {} events, {} alerts\n",
             rep.total_hosts(), rep.window_s(), format_time(rep.generated_ns()), rep.events(),
             rep.alerts());
  for (const auto& why : rep.approximations()) {
    fmt::print("  not exact: {}\n", why);
  }
  fmt::print("\n");
  Table hosts({"HOST", "LEVEL", "RISK", "EVENTS", "ALERTS", "LAST SEEN", "CONNECTED", "DROPS",
               "SPOOL", "SPOOL DROPPED", "LAG", "MODEL"});
  for (const auto& h : rep.hosts()) {
    const auto& a = h.agent();
    hosts.add({h.host(), h.level(), std::to_string(h.risk()), std::to_string(h.events()),
               std::to_string(h.alerts()), format_age(a.last_seen_ns(), now),
               a.connected() ? "yes" : "no", std::to_string(a.kernel_drops()),
               std::to_string(a.spool_events()), std::to_string(a.spool_dropped()),
               fmt::format("{}ms", a.lag_ms()),
               a.model_version().empty() ? "-" : a.model_version()});
  }
  fmt::print("{}\n", hosts.render());
  fmt::print("Top alerts ({} fleet alerts in the window)\n", rep.fleet_alerts());
  if (rep.top_alerts_size() == 0) {
    fmt::print("  none\n");
  } else {
    fmt::print("{}", vigil::cli::alerts_table(rep.top_alerts()).render(60));
  }
  auto counts = [](const char* title, const auto& list, const char* unit) {
    fmt::print("\n{}\n", title);
    if (list.empty()) {
      fmt::print("  none\n");
      return;
    }
    Table t({"", unit});
    for (const auto& c : list) {
      t.add({c.key(), std::to_string(c.count())});
    }
    fmt::print("{}", t.render());
  };
  counts("Top processes (by summed score)", rep.top_processes(), "SCORE");
  counts("Top remote addresses", rep.top_remote_addresses(), "EVENTS");
  // Workloads: shown when containers reported in the window.
  if (rep.top_pods_size() + rep.top_k8s_namespaces_size() + rep.top_images_size() == 0) {
    fmt::print("\nWorkloads: no events from containers in the window\n");
  } else {
    auto groups = [](const char* title, const char* key, const auto& list) {
      fmt::print("\n{}\n", title);
      if (list.empty()) {
        fmt::print("  none\n");
        return;
      }
      fmt::print("{}", vigil::cli::groups_table(key, list).render());
    };
    groups("Top pods (by alerts, risk, events)", "POD", rep.top_pods());
    groups("Top Kubernetes namespaces", "K8S NAMESPACE", rep.top_k8s_namespaces());
    groups("Top images", "IMAGE", rep.top_images());
  }
  fmt::print("\nTrend ({}s buckets, oldest first)\n  events {}\n  alerts {}\n", rep.bucket_s(),
             vigil::cli::sparkline({rep.events_trend().begin(), rep.events_trend().end()}),
             vigil::cli::sparkline({rep.alerts_trend().begin(), rep.alerts_trend().end()}));
  print_more(rep.next_page_token());
  return kExitOk;
}

// Claimed addresses, the unverified ones marked (docs/api.md, "Identity"), and
// the peer address the collector saw when the hello did not claim it.
std::string addresses_of(const vigil::v1::AgentRecord& a) {
  std::string out;
  bool peer_claimed = false;
  for (const auto& addr : a.addresses()) {
    const bool verified =
        std::ranges::find(a.verified_addresses(), addr) != a.verified_addresses().end();
    peer_claimed = peer_claimed || addr == a.peer_address();
    out += fmt::format("{}{}{}", out.empty() ? "" : " ", addr, verified ? "" : "(unverified)");
  }
  if (!peer_claimed && !a.peer_address().empty()) {
    out += fmt::format("{}peer={}", out.empty() ? "" : " ", a.peer_address());
  }
  return out.empty() ? "-" : out;
}

int cmd_agents(vigil::v1::QueryService::Stub& stub, const Options& o, const Paging& paging) {
  vigil::v1::ListAgentsRequest req;
  req.set_page_size(paging.page_size);
  req.set_page_token(paging.page_token);
  vigil::v1::ListAgentsResponse resp;
  for (;;) {
    grpc::ClientContext ctx;
    prepare_call(ctx, o);
    vigil::v1::ListAgentsResponse page;
    if (auto s = stub.ListAgents(&ctx, req, &page); !s.ok()) {
      return report_error(o, s);
    }
    resp.mutable_agents()->MergeFrom(page.agents());
    resp.set_next_page_token(page.next_page_token());
    if (!paging.page_token.empty() || page.next_page_token().empty()) {
      break;
    }
    req.set_page_token(page.next_page_token());
  }
  if (o.json) {
    print_json(resp);
    return kExitOk;
  }
  const auto now = unix_now_ns();
  Table t({"AGENT", "HOST", "CONNECTED", "LAST SEEN", "LEVEL", "ACKED SEQ", "STORED", "DUPLICATES",
           "DROPS", "SPOOL", "OUT ERRS", "LAG", "CPU", "RSS", "VERSION", "MODEL", "PROBES",
           "REFUSED", "ADDRESSES"});
  for (const auto& a : resp.agents()) {
    std::string probes;
    for (const auto& p : a.probes()) {
      probes += (probes.empty() ? "" : " ") + p;
    }
    t.add({a.agent_id(), a.host_id(), a.connected() ? "yes" : "no",
           format_age(a.last_seen_ns(), now), a.level().empty() ? "-" : a.level(),
           std::to_string(a.acked_seq()), std::to_string(a.events_stored()),
           std::to_string(a.duplicates()), std::to_string(a.kernel_drops()),
           std::to_string(a.spool_events()), std::to_string(a.output_write_errors()),
           fmt::format("{}ms", a.lag_ms()), fmt::format("{:.1f}%", a.cpu_percent()),
           format_bytes(a.rss_bytes()), a.version(),
           a.model_refusals() == 0 ? a.model_version()
                                   : fmt::format("{} (refused {}: {})", a.model_version(),
                                                 a.model_refusals(), a.model_refusal()),
           probes, std::to_string(a.events_refused()), addresses_of(a)});
  }
  fmt::print("{}", t.render());
  print_more(resp.next_page_token());
  return kExitOk;
}

std::atomic<grpc::ClientContext*> g_follow_ctx{nullptr};

int cmd_alerts(vigil::v1::QueryService::Stub& stub, const Options& o, const std::string& host,
               const Workload& workload, std::uint32_t min_score, std::uint64_t since_s,
               std::uint32_t limit, bool fleet, bool follow, const Paging& paging) {
  if (follow) {
    grpc::ClientContext ctx;  // no deadline: follows until Ctrl-C
    if (!o.token.empty()) {
      ctx.AddMetadata("authorization", "Bearer " + o.token);
    }
    vigil::v1::WatchAlertsRequest req;
    req.set_host(host);
    req.set_min_score(min_score);
    workload.set(req);
    g_follow_ctx = &ctx;
    std::signal(SIGINT, [](int) {
      if (auto* c = g_follow_ctx.load()) c->TryCancel();
    });
    auto reader = stub.WatchAlerts(&ctx, req);
    if (!o.json) {
      fmt::print(stderr, "watching alerts on {} (Ctrl-C to stop)\n", o.collector);
    }
    vigil::v1::Alert a;
    while (reader->Read(&a)) {
      if (o.json) {
        print_json(a);
      } else {
        fmt::print("{} score={} {} hosts={} kind={} attack={}{} id={} {}\n",
                   format_time(a.updated_ns()), a.score(), a.fleet() ? "FLEET" : "host",
                   printable(vigil::cli::alert_hosts(a)), printable(a.kind()),
                   printable(vigil::cli::alert_attack(a)),
                   printable(vigil::cli::workload_words(a.event())), printable(a.id()),
                   printable(a.summary()));
      }
      std::fflush(stdout);
    }
    const auto s = reader->Finish();
    g_follow_ctx = nullptr;
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
      return report_error(o, s);
    }
    return kExitOk;
  }
  vigil::v1::QueryAlertsRequest req;
  req.set_host(host);
  req.set_min_score(min_score);
  req.set_limit(limit);
  req.set_fleet_only(fleet);
  workload.set(req);
  req.set_page_token(paging.page_token);
  if (since_s > 0) {
    req.set_since_ns(unix_now_ns() - since_s * 1'000'000'000ULL);
  }
  vigil::v1::QueryAlertsResponse resp;
  if (auto s = fetch_pages(
          o, paging, req, resp,
          [&](grpc::ClientContext& ctx, const auto& r, auto& page) {
            return stub.QueryAlerts(&ctx, r, &page);
          },
          [](auto& all, const auto& page) { all.mutable_alerts()->MergeFrom(page.alerts()); });
      !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(resp);
    return kExitOk;
  }
  fmt::print("{}", vigil::cli::alerts_table(resp.alerts()).render(60));
  if (resp.scan_limited() && !resp.next_page_token().empty()) {
    fmt::print("(the collector stopped after reading {} alerts; more may match)\n", resp.scanned());
  }
  print_more(resp.next_page_token());
  return kExitOk;
}

int cmd_events(vigil::v1::QueryService::Stub& stub, const Options& o, const std::string& host,
               const Workload& workload, const std::string& type, std::uint32_t min_score,
               std::uint64_t since_s, std::uint32_t limit, const Paging& paging) {
  vigil::v1::QueryEventsRequest req;
  req.set_host(host);
  workload.set(req);
  req.set_type(type);
  req.set_min_score(min_score);
  req.set_limit(limit);
  req.set_page_token(paging.page_token);
  req.set_since_ns(unix_now_ns() - since_s * 1'000'000'000ULL);
  vigil::v1::QueryEventsResponse resp;
  if (auto s = fetch_pages(
          o, paging, req, resp,
          [&](grpc::ClientContext& ctx, const auto& r, auto& page) {
            return stub.QueryEvents(&ctx, r, &page);
          },
          [](auto& all, const auto& page) { all.mutable_events()->MergeFrom(page.events()); });
      !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(resp);
    return kExitOk;
  }
  fmt::print("{}", vigil::cli::events_table(resp.events()).render(100));
  if (resp.scan_limited() && !resp.next_page_token().empty()) {
    fmt::print("(the collector stopped after reading {} events; more may match)\n", resp.scanned());
  }
  print_more(resp.next_page_token());
  return kExitOk;
}

int cmd_feedback(vigil::v1::QueryService::Stub& stub, const Options& o, const std::string& id,
                 const std::string& label, const std::string& comment) {
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::SubmitFeedbackRequest req;
  req.set_alert_id(id);
  req.set_label(label);
  req.set_comment(comment);
  vigil::v1::SubmitFeedbackResponse resp;
  if (auto s = stub.SubmitFeedback(&ctx, req, &resp); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(resp);
  } else {
    fmt::print("alert {} labelled {}\n", resp.alert().id(), resp.alert().label());
  }
  return kExitOk;
}

// ------------------------------------------------------------------ models

using ModelStub = vigil::v1::ModelService::Stub;

void print_rollout(const vigil::v1::RolloutStatus& r);

// The answer of Rollout, Rollback and RolloutStatus.
int show_rollout(const Options& o, const grpc::Status& s, const vigil::v1::RolloutStatus& st) {
  if (!s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(st);
  } else {
    print_rollout(st);
  }
  return kExitOk;
}

void print_shadow(const vigil::v1::ShadowStatus& s) {
  const auto& c = s.counts();
  fmt::print("shadow {} phase={} beside={} agents reporting={}/{}\n",
             s.version().empty() ? "-" : s.version(), s.phase(),
             s.active_version().empty() ? "-" : s.active_version(), s.agents_reporting(),
             s.agents_size());
  fmt::print(
      "  events {}: would alert {} ({:.1f} per 1k), the active model alerted {} ({:.1f} per 1k), "
      "both {}\n",
      c.events(), c.would_alert(), s.would_alert_per_1k(), c.active_alerts(),
      s.active_alerts_per_1k(), c.both_alert());
  if (c.scores_size() > 0) {
    const auto row = [](const auto& buckets) {
      std::string out;
      for (const auto n : buckets) out += fmt::format(" {:>7}", n);
      return out;
    };
    fmt::print("  scores   {}\n  shadow  {}\n  active  {}\n",
               " 0-9    10-19   20-29   30-39   40-49   50-59   60-69   70-79   80-89  90-100",
               row(c.scores()), row(c.active_scores()));
  }
  fmt::print("  {}\n", s.reason());
}

void print_rollout(const vigil::v1::RolloutStatus& r) {
  fmt::print("rollout {} phase={} agents={}/{} previous={}\n  {}\n",
             r.version().empty() ? "-" : r.version(), r.phase(), r.agents_updated(),
             r.agents_total(), r.previous_version().empty() ? "-" : r.previous_version(),
             r.reason());
  if (r.has_shadow()) {
    print_shadow(r.shadow());
  }
}

int cmd_models_list(ModelStub& stub, const Options& o) {
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::ListModelsResponse resp;
  if (auto s = stub.ListModels(&ctx, {}, &resp); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(resp);
    return kExitOk;
  }
  Table t({"VERSION", "STATE", "RELEASE", "CREATED (UTC)", "PARENT", "SAMPLES", "HELD-OUT AUC",
           "TPR@1%", "PARENT AUC", "CREATED BY"});
  for (const auto& m : resp.models()) {
    t.add({m.version(), m.state(), m.released() ? std::to_string(m.release_seq()) : "-",
           format_time(m.created_ns()), m.parent_version().empty() ? "-" : m.parent_version(),
           m.samples() == 0 ? "-" : fmt::format("{} ({}+)", m.samples(), m.positives()),
           m.heldout_auc() == 0 ? "-" : fmt::format("{:.4f}", m.heldout_auc()),
           m.heldout_auc() == 0 ? "-" : fmt::format("{:.4f}", m.heldout_tpr()),
           m.parent_auc() == 0 ? "-" : fmt::format("{:.4f}", m.parent_auc()), m.created_by()});
  }
  std::cout << t.render();
  const auto& e = resp.evolution();
  fmt::print(
      "\nevolution: {} (generation {}/{}, best fitness {:.4f}, mean {:.4f}); runs {}; "
      "last: {}\nsigning key (agents' --model-pubkey): {}\n"
      "release key (agents' --model-release-pubkey): {}\n",
      e.running() ? "running" : "idle", e.generation(), e.generations(), e.best_fitness(),
      e.mean_fitness(), e.runs(), e.last_result().empty() ? "-" : e.last_result(),
      resp.signing_public_key(),
      resp.release_public_key().empty() ? "none (models stop at their canary)"
                                        : resp.release_public_key());
  return kExitOk;
}

int cmd_models_show(ModelStub& stub, const Options& o, const std::string& version) {
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::GetModelRequest req;
  req.set_version(version);
  vigil::v1::GetModelResponse resp;
  if (auto s = stub.GetModel(&ctx, req, &resp); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    resp.clear_model();  // the bytes: `models import` takes files, not JSON
    print_json(resp);
    return kExitOk;
  }
  const auto& m = resp.info();
  vigil::v1::Model model;
  const bool parsed = model.ParseFromString(resp.model());
  fmt::print("version:        {}\nstate:          {}\ncreated:        {} by {}\n", m.version(),
             m.state(), format_time(m.created_ns()), m.created_by().empty() ? "-" : m.created_by());
  fmt::print("parent:         {}\nfeature schema: {}\n",
             m.parent_version().empty() ? "-" : m.parent_version(), m.feature_schema_version());
  if (m.samples() > 0) {
    fmt::print("data:           {} .. {}, {} samples ({} positive)\n",
               format_time(m.data_from_ns()), format_time(m.data_to_ns()), m.samples(),
               m.positives());
    fmt::print("held-out:       AUC {:.4f}, TPR@1% {:.4f} (parent: {:.4f}, {:.4f})\n",
               m.heldout_auc(), m.heldout_tpr(), m.parent_auc(), m.parent_tpr());
  }
  fmt::print("model:          {} bytes, {} population networks{}\nsignature:      {}\n",
             resp.model().size(), parsed ? model.networks_size() : 0,
             parsed ? "" : " (unparsable!)",
             resp.signature().empty() ? "none"
                                      : fmt::format("ed25519, {} bytes", resp.signature().size()));
  fmt::print("release:        {}\ndigest:         blake2b-256 {}\n",
             !m.released()          ? "none: canary use only (vigilctl models sign)"
             : m.release_seq() == 0 ? "0 (the shipped model)"
             : resp.release_signature().empty()
                 ? std::to_string(m.release_seq())
                 : fmt::format("{}, signed by the release key", m.release_seq()),
             vigil::digest_hex(resp.model()));
  return kExitOk;
}

int cmd_models_evolve(ModelStub& stub, const Options& o, bool wait) {
  vigil::v1::EvolutionStatus st;
  {
    grpc::ClientContext ctx;
    prepare_call(ctx, o);
    if (auto s = stub.Evolve(&ctx, {}, &st); !s.ok()) {
      return report_error(o, s);
    }
  }
  const auto runs = st.runs();
  while (wait && (st.running() || st.runs() == runs)) {
    // Progress: generation and fitness, as the collector reports them.
    if (!o.json) {
      fmt::print(stderr, "evolving: generation {}/{} best {:.4f} mean {:.4f}\n", st.generation(),
                 st.generations(), st.best_fitness(), st.mean_fitness());
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    grpc::ClientContext ctx;
    prepare_call(ctx, o);
    vigil::v1::ListModelsResponse resp;
    if (auto s = stub.ListModels(&ctx, {}, &resp); !s.ok()) {
      return report_error(o, s);
    }
    st = resp.evolution();
  }
  if (o.json) {
    print_json(st);
  } else {
    fmt::print("evolution {}: {}\n", st.running() ? "running" : "done",
               st.last_result().empty() ? "started" : st.last_result());
  }
  return kExitOk;
}

int cmd_models_import(ModelStub& stub, const Options& o, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "vigilctl: cannot read {}\n", path);
    return kExitUsage;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  vigil::v1::ImportModelRequest req;
  req.set_model(ss.str());
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::ModelInfo info;
  if (auto s = stub.ImportModel(&ctx, req, &info); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(info);
  } else {
    fmt::print("model {} registered as {} (parent {})\n", info.version(), info.state(),
               info.parent_version().empty() ? "-" : info.parent_version());
  }
  return kExitOk;
}

int cmd_models_rollout(ModelStub& stub, const Options& o, const std::string& version, double canary,
                       std::uint64_t soak_s) {
  vigil::v1::RolloutRequest req;
  req.set_version(version);
  req.set_canary_fraction(canary);
  req.set_soak_s(soak_s);
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::RolloutStatus st;
  return show_rollout(o, stub.Rollout(&ctx, req, &st), st);
}

int cmd_models_rollback(ModelStub& stub, const Options& o, const std::string& reason) {
  vigil::v1::RollbackRequest req;
  req.set_reason(reason);
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::RolloutStatus st;
  return show_rollout(o, stub.Rollback(&ctx, req, &st), st);
}

// `models shadow VERSION`, `models shadow --stop`, `models shadow` (the numbers).
int cmd_models_shadow(ModelStub& stub, const Options& o, const std::string& version,
                      double fraction, bool stop) {
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::ShadowStatus st;
  grpc::Status s;
  if (version.empty() && !stop) {
    s = stub.ShadowStatus(&ctx, {}, &st);
  } else {
    vigil::v1::ShadowRequest req;
    req.set_version(version);
    req.set_fraction(fraction);
    req.set_stop(stop);
    s = stub.Shadow(&ctx, req, &st);
  }
  if (!s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(st);
  } else if (st.phase() == "idle") {
    fmt::print("no shadow scoring yet: vigilctl models shadow VERSION starts one\n");
  } else {
    print_shadow(st);
  }
  return kExitOk;
}

int cmd_models_status(ModelStub& stub, const Options& o) {
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::RolloutStatus st;
  return show_rollout(o, stub.RolloutStatus(&ctx, {}, &st), st);
}

// ------------------------------------------------- model releases (release key)

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "vigilctl: cannot read {}\n", path);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int cmd_models_keygen(const std::string& out) {
  auto key = vigil::SigningKey::create(out);
  if (!key) {
    fmt::print(stderr, "vigilctl: {}\n", key.error().message);
    return kExitFailed;
  }
  fmt::print(
      "release key written to {} (mode 0600; keep it offline), public key in {}.pub:\n{}\n"
      "give the public key to the collector (--model-release-pubkey) and the agents "
      "(--model-release-pubkey)\n",
      out, out, key->public_key_hex());
  return kExitOk;
}

// The release request for `model` as release `seq`, with the marker that lets
// agents go back from it to release `rollback_to`.
vigil::v1::ReleaseModelRequest make_release(const vigil::SigningKey& key,
                                            const std::string& version, const std::string& model,
                                            std::uint64_t seq, std::uint64_t rollback_to) {
  vigil::v1::ReleaseModelRequest req;
  req.set_version(version);
  req.set_release_seq(seq);
  req.set_signature(key.sign(vigil::model_release_message(seq, model)));
  req.set_rollback_to_seq(rollback_to);
  req.set_rollback_signature(key.sign(vigil::model_rollback_message(seq, rollback_to)));
  return req;
}

int upload_release(ModelStub& stub, const Options& o, const vigil::v1::ReleaseModelRequest& req) {
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::ModelInfo info;
  if (auto s = stub.ReleaseModel(&ctx, req, &info); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(info);
  } else {
    fmt::print("model {} released for the fleet as release {} (rollback marker to release {})\n",
               info.version(), info.release_seq(), req.rollback_to_seq());
  }
  return kExitOk;
}

// Online: fetches the model from the collector, signs it here and uploads
// only the signatures.
int cmd_models_sign(ModelStub& stub, const Options& o, const vigil::SigningKey& key,
                    const std::string& version, std::uint64_t seq) {
  vigil::v1::ListModelsResponse list;
  {
    grpc::ClientContext ctx;
    prepare_call(ctx, o);
    if (auto s = stub.ListModels(&ctx, {}, &list); !s.ok()) {
      return report_error(o, s);
    }
  }
  if (list.release_public_key() != key.public_key_hex()) {
    fmt::print(stderr,
               "vigilctl: this key's public half {} is not the collector's model_release_pubkey "
               "({})\n",
               key.public_key_hex(),
               list.release_public_key().empty() ? "none configured" : list.release_public_key());
    return kExitFailed;
  }
  std::uint64_t highest = 0;
  std::uint64_t rollback_to = 0;  // the release in service: what a rollback returns to
  for (const auto& m : list.models()) {
    highest = std::max(highest, m.release_seq());
    if (m.state() == "active") rollback_to = m.release_seq();
    if (m.version() == version && m.release_seq() > 0 && seq == 0) {
      fmt::print("model {} is already release {}\n", version, m.release_seq());
      return kExitOk;
    }
  }
  if (seq == 0) seq = highest + 1;
  if (rollback_to >= seq) {
    fmt::print(stderr, "vigilctl: release {} is not above the release in service ({})\n", seq,
               rollback_to);
    return kExitUsage;
  }
  vigil::v1::GetModelResponse model;
  {
    grpc::ClientContext ctx;
    prepare_call(ctx, o);
    vigil::v1::GetModelRequest req;
    req.set_version(version);
    if (auto s = stub.GetModel(&ctx, req, &model); !s.ok()) {
      return report_error(o, s);
    }
  }
  if (!o.json) {
    fmt::print("signing model {} (blake2b-256 {}) as release {}\n", version,
               vigil::digest_hex(model.model()), seq);
  }
  return upload_release(stub, o, make_release(key, version, model.model(), seq, rollback_to));
}

// Offline: signs a model file; the request file is uploaded later with
// `vigilctl models release FILE`.
int cmd_models_sign_file(const vigil::SigningKey& key, const std::string& model_path,
                         std::uint64_t seq, std::uint64_t rollback_to, const std::string& out) {
  auto bytes = read_file(model_path);
  if (!bytes) {
    return kExitUsage;
  }
  vigil::v1::Model model;
  if (!model.ParseFromString(*bytes)) {
    fmt::print(stderr, "vigilctl: {} is not a vigil.v1.Model\n", model_path);
    return kExitUsage;
  }
  if (seq == 0 || rollback_to >= seq) {
    fmt::print(stderr, "vigilctl: offline signing needs --seq N (> 0) above --rollback-to\n");
    return kExitUsage;
  }
  // The collector stores models re-serialised (as agents receive them).
  const auto req = make_release(key, model.version(), model.SerializeAsString(), seq, rollback_to);
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  if (!f || !req.SerializeToOstream(&f)) {
    fmt::print(stderr, "vigilctl: cannot write {}\n", out);
    return kExitFailed;
  }
  fmt::print("release {} of model {} (blake2b-256 {}) written to {}: vigilctl models release {}\n",
             seq, model.version(), vigil::digest_hex(*bytes), out, out);
  return kExitOk;
}

int cmd_models_release(ModelStub& stub, const Options& o, const std::string& path) {
  auto bytes = read_file(path);
  vigil::v1::ReleaseModelRequest req;
  if (!bytes || !req.ParseFromString(*bytes)) {
    fmt::print(stderr, "vigilctl: {} is not a release (vigilctl models sign --out)\n", path);
    return kExitUsage;
  }
  return upload_release(stub, o, req);
}

// ------------------------------------------------------------------- rules

using RuleStub = vigil::v1::RuleService::Stub;

// "a,b,c", or "-" for none.
std::string joined(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    out += (out.empty() ? "" : ",") + id;
  }
  return out.empty() ? "-" : out;
}

int cmd_rules_list(RuleStub& stub, const Options& o) {
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::ListRulePacksResponse resp;
  if (auto s = stub.ListRulePacks(&ctx, {}, &resp); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(resp);
    return kExitOk;
  }
  Table t({"VERSION", "STATE", "CREATED (UTC)", "FILES", "RULES", "BYTES", "DIGEST", "DISABLED",
           "DESCRIPTION"});
  for (const auto& p : resp.packs()) {
    t.add({p.version(), p.state(), format_time(p.created_ns()), std::to_string(p.files()),
           std::to_string(p.rules()), format_bytes(p.bytes()), p.digest().substr(0, 16),
           joined(p.disabled()), p.description().empty() ? "-" : p.description()});
  }
  std::cout << t.render();
  fmt::print("\nsigning key (agents' --model-pubkey): {}\n", resp.signing_public_key());
  return kExitOk;
}

// Every *.yml / *.yaml below `dir` (hidden files and directories skipped),
// named by its path relative to `dir`, in name order.
std::optional<std::vector<vigil::v1::RulePackFile>> read_rule_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    fmt::print(stderr, "vigilctl: {} is not a directory\n", dir);
    return std::nullopt;
  }
  std::vector<vigil::v1::RulePackFile> files;
  fs::recursive_directory_iterator it(dir, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.starts_with(".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    const auto ext = it->path().extension();
    if (!it->is_regular_file() || (ext != ".yml" && ext != ".yaml")) {
      continue;
    }
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      fmt::print(stderr, "vigilctl: cannot read {}\n", it->path().string());
      return std::nullopt;
    }
    vigil::v1::RulePackFile f;
    f.set_name(fs::relative(it->path(), dir).generic_string());
    f.set_yaml(ss.str());
    files.push_back(std::move(f));
  }
  if (ec) {
    fmt::print(stderr, "vigilctl: {}: {}\n", dir, ec.message());
    return std::nullopt;
  }
  if (files.empty()) {
    fmt::print(stderr, "vigilctl: no *.yml or *.yaml files in {}\n", dir);
    return std::nullopt;
  }
  std::ranges::sort(files, [](const auto& a, const auto& b) { return a.name() < b.name(); });
  return files;
}

// --disable values: each may be a comma list; items trimmed, empty ones dropped.
std::vector<std::string> split_ids(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    std::istringstream items(v);
    for (std::string item; std::getline(items, item, ',');) {
      const auto first = item.find_first_not_of(" \t");
      if (first == std::string::npos) continue;
      out.push_back(item.substr(first, item.find_last_not_of(" \t") - first + 1));
    }
  }
  return out;
}

int cmd_rules_push(RuleStub& stub, const Options& o, const std::string& dir,
                   const std::vector<std::string>& disable, const std::string& version,
                   const std::string& description) {
  const auto disabled = split_ids(disable);
  if (dir.empty() && disabled.empty()) {
    fmt::print(stderr,
               "vigilctl: rules push needs a directory of rules (DIR), rules to switch off "
               "(--disable ID[,ID...]), or both\n");
    return kExitUsage;
  }
  vigil::v1::PushRulePackRequest req;
  req.set_version(version);
  req.set_description(description);
  if (!dir.empty()) {
    auto files = read_rule_dir(dir);
    if (!files) {
      return kExitUsage;
    }
    for (auto& f : *files) {
      *req.add_files() = std::move(f);
    }
  }
  for (const auto& id : disabled) {
    req.add_disabled(id);
  }
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::RulePackInfo info;
  if (auto s = stub.PushRulePack(&ctx, req, &info); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(info);
  } else {
    fmt::print("rule pack {} registered as {}: {} files, {} rules{}, digest {}\n", info.version(),
               info.state(), info.files(), info.rules(),
               info.disabled().empty() ? "" : ", disables " + joined(info.disabled()),
               info.digest());
  }
  return kExitOk;
}

int cmd_rules_rollout(RuleStub& stub, const Options& o, const std::string& version, double canary,
                      std::uint64_t soak_s) {
  vigil::v1::RolloutRequest req;
  req.set_version(version);
  req.set_canary_fraction(canary);
  req.set_soak_s(soak_s);
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::RolloutStatus st;
  return show_rollout(o, stub.RuleRollout(&ctx, req, &st), st);
}

int cmd_rules_rollback(RuleStub& stub, const Options& o, const std::string& reason) {
  vigil::v1::RollbackRequest req;
  req.set_reason(reason);
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::RolloutStatus st;
  return show_rollout(o, stub.RuleRollback(&ctx, req, &st), st);
}

int cmd_rules_status(RuleStub& stub, const Options& o) {
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  vigil::v1::RuleStatusResponse resp;
  if (auto s = stub.RuleStatus(&ctx, {}, &resp); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(resp);
    return kExitOk;
  }
  print_rollout(resp.rollout());
  Table t({"AGENT", "CONNECTED", "RULE PACK", "REFUSED"});
  for (const auto& a : resp.agents()) {
    t.add({a.agent_id(), a.connected() ? "yes" : "no", a.version().empty() ? "-" : a.version(),
           a.refusals() == 0 ? "-" : fmt::format("{} (last: {})", a.refusals(), a.refusal())});
  }
  fmt::print("\n{}", t.render(120));
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("VIGIL_COLLECTOR")) {
    o.collector = env;
  }
  CLI::App app{"vigilctl: query vigil-collector (fleet report, agents, alerts, events, feedback)"};
  app.require_subcommand(1);
  // Global options go before or after the subcommand (`vigilctl report --json`):
  // subcommands, created after this, pass options they do not know up to here.
  app.fallthrough();
  app.add_option("--collector", o.collector,
                 "collector API address HOST:PORT (env VIGIL_COLLECTOR)");
  if (const char* env = std::getenv("VIGIL_TOKEN_FILE")) {
    o.token_file = env;
  }
  if (const char* env = std::getenv("VIGIL_CA")) {
    o.ca_file = env;
  }
  app.add_flag("--insecure", o.insecure, "plaintext gRPC (a collector started with --insecure)");
  app.add_option("--ca", o.ca_file, "CA (PEM) of the collector's TLS certificate (env VIGIL_CA)");
  app.add_option("--token-file", o.token_file,
                 "API token file, 'ROLE TOKEN' per line; the first is used (env VIGIL_TOKEN_FILE)");
  app.add_flag("--json", o.json, "machine-readable JSON output");
  app.add_option("--timeout", o.timeout_s, "seconds to wait for an answer")
      ->check(CLI::Range(1, 3600));
  bool version = false;
  app.add_flag("--version", version, "print the version and exit");

  auto* report = app.add_subcommand("report", "fleet report: hosts, top alerts, entities, trends");
  std::string window = "1h";
  std::uint32_t top = 5;
  report->add_option("--window", window, "window (e.g. 15m, 1h, 1d)");
  report->add_option("--top", top, "entries per top list")->check(CLI::Range(1, 100));
  Paging report_paging;
  report->add_option("--page-size", report_paging.page_size, "hosts per request (default 500)")
      ->check(CLI::Range(1, 2000));
  report->add_option("--page-token", report_paging.page_token,
                     "only this page of hosts (default: every page)");

  auto* agents = app.add_subcommand("agents", "agents, their health and what the collector holds");
  Paging agents_paging;
  agents->add_option("--page-size", agents_paging.page_size, "agents per request (default 500)")
      ->check(CLI::Range(1, 2000));
  agents->add_option("--page-token", agents_paging.page_token,
                     "only this page of agents (default: every page)");

  auto* alerts = app.add_subcommand("alerts", "alerts, newest first (or live with --follow)");
  std::string host;
  std::uint32_t min_score = 0;
  std::string since;
  std::uint32_t limit = 50;
  bool follow = false;
  bool fleet = false;
  alerts->add_option("--host", host, "only alerts involving this host");
  alerts->add_option("--min-score", min_score, "only alerts scoring at least this")
      ->check(CLI::Range(0, 100));
  alerts->add_option("--since", since, "only the last DURATION (e.g. 30m)");
  alerts->add_option("--limit", limit, "at most this many")->check(CLI::Range(1, 10000));
  alerts->add_flag("--fleet", fleet, "only cross-host (fleet) alerts");
  alerts->add_flag("-f,--follow", follow, "stream new and updated alerts live");
  Workload workload;
  workload.add_options(*alerts, "alerts");
  Paging alerts_paging;
  alerts->add_option("--page-token", alerts_paging.page_token, "continue from a previous page");
  alerts->add_flag("--all", alerts_paging.all, "follow every page (--limit is per page)");

  auto* events = app.add_subcommand("events", "stored events, oldest first");
  std::string type;
  std::string ev_since = "15m";
  Paging events_paging;
  std::uint32_t ev_min_score = 0;
  std::uint32_t ev_limit = 100;
  events->add_option("--host", host, "only this host");
  events->add_option("--type", type, "only this event type (exec, connect, net_summary, ...)");
  workload.add_options(*events, "events");
  events->add_option("--since", ev_since, "from DURATION ago (default 15m)");
  events->add_option("--min-score", ev_min_score, "only events scoring at least this")
      ->check(CLI::Range(0, 100));
  events->add_option("--limit", ev_limit, "at most this many")->check(CLI::Range(1, 10000));
  events->add_option("--page-token,--page", events_paging.page_token,
                     "continue from a previous page");
  events->add_flag("--all", events_paging.all, "follow every page (--limit is per page)");

  auto* feedback = app.add_subcommand("feedback", "label an alert malicious or benign");
  std::string alert_id;
  std::string label;
  std::string comment;
  feedback->add_option("ALERT_ID", alert_id, "alert id (from `vigilctl alerts`)")->required();
  feedback->add_option("--label", label, "malicious | benign")
      ->required()
      ->check(CLI::IsMember({"malicious", "benign"}));
  feedback->add_option("--comment", comment, "why (kept with the label)");

  auto* models = app.add_subcommand("models", "scoring models: registry, evolution, rollout");
  models->require_subcommand(1);
  models->add_subcommand("list", "registered models, evolution progress, the signing key");
  auto* m_show = models->add_subcommand("show", "one model: lineage, data, held-out fitness");
  std::string m_show_version;
  m_show->add_option("version", m_show_version, "model version")->required();
  auto* m_evolve = models->add_subcommand("evolve", "start an evolution run on fleet data");
  bool m_wait = false;
  m_evolve->add_flag("--wait", m_wait, "follow the run's progress until it ends");
  auto* m_import = models->add_subcommand("import", "register a model file (vigil-evolve output)");
  std::string m_file;
  m_import->add_option("FILE", m_file, "a vigil.v1.Model file")->required();
  auto* m_rollout = models->add_subcommand("rollout", "roll a model out: canary, then the fleet");
  std::string m_version;
  double m_canary = 0.1;
  std::uint64_t m_soak = 300;
  m_rollout->add_option("VERSION", m_version, "model version")->required();
  m_rollout->add_option("--canary", m_canary, "share of agents in the canary (default 0.1)")
      ->check(CLI::Range(0.0001, 1.0));
  m_rollout->add_option("--soak", m_soak, "seconds the canary runs before the fleet (300)")
      ->check(CLI::Range(1, 7 * 86400));
  auto* m_rollback = models->add_subcommand("rollback", "return every agent to the previous model");
  std::string m_reason;
  m_rollback->add_option("--reason", m_reason, "why (kept in the rollout status)");
  models->add_subcommand("status", "the current rollout and shadow scoring");
  auto* m_shadow = models->add_subcommand(
      "shadow",
      "score a candidate beside the active model on the agents, counting the alerts it would "
      "raise (it raises none); without VERSION: its numbers");
  std::string m_shadow_version;
  double m_fraction = 1.0;
  bool m_shadow_stop = false;
  m_shadow->add_option("VERSION", m_shadow_version, "candidate model version");
  m_shadow->add_option("--fraction", m_fraction, "share of the agents (default 1: all of them)")
      ->check(CLI::Range(0.0001, 1.0));
  m_shadow->add_flag("--stop", m_shadow_stop, "withdraw the shadow model (its numbers stay)");
  auto* m_keygen = models->add_subcommand(
      "keygen", "make a release key (ed25519; FILE mode 0600, public key in FILE.pub)");
  std::string m_key_out;
  m_keygen->add_option("--out", m_key_out, "where to write the secret key")->required();
  auto* m_sign = models->add_subcommand(
      "sign",
      "release a model for the fleet with the release key: signs here, uploads the signatures "
      "(or, with --model and --out, signs a model file offline)");
  std::string m_key;
  std::string m_sign_version;
  std::string m_sign_model;
  std::string m_sign_out;
  std::uint64_t m_seq = 0;
  std::uint64_t m_rollback_to = 0;
  m_sign->add_option("--key", m_key, "the release key (vigilctl models keygen)")->required();
  m_sign->add_option("VERSION", m_sign_version, "model version in the collector's registry");
  m_sign->add_option("--seq", m_seq, "release number (default: one above the highest release)");
  m_sign->add_option("--model", m_sign_model, "offline: a vigil.v1.Model file to sign");
  m_sign->add_option("--rollback-to", m_rollback_to,
                     "offline: the release a rollback from this one may return to (default 0)");
  m_sign->add_option("--out", m_sign_out, "offline: where to write the release");
  auto* m_release = models->add_subcommand(
      "release", "upload a release signed offline (vigilctl models sign --model --out)");
  std::string m_release_file;
  m_release->add_option("FILE", m_release_file, "the release file")->required();

  auto* rules = app.add_subcommand("rules", "Sigma rule packs: push, rollout, status, rollback");
  rules->require_subcommand(1);
  rules->add_subcommand("list", "registered rule packs and the signing key");
  auto* r_push = rules->add_subcommand(
      "push", "validate, sign and register a directory of rules and/or rules to switch off");
  std::string r_dir;
  std::vector<std::string> r_disable;
  std::string r_push_version;
  std::string r_description;
  r_push->add_option("DIR", r_dir, "directory of Sigma rules (*.yml, *.yaml; recursive)");
  r_push
      ->add_option("--disable", r_disable,
                   "rule id or name to switch off on every agent running the pack, whatever "
                   "the rule's source (repeatable; ID,ID,... too)")
      ->expected(1)
      ->allow_extra_args(false)  // one value per --disable: `--disable X DIR` keeps DIR
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  r_push->add_option("--version", r_push_version, "version name (default: rp-N)");
  r_push->add_option("--description", r_description, "what the pack is (kept with it)");
  auto* r_rollout = rules->add_subcommand("rollout", "roll a pack out: canary, then the fleet");
  std::string r_version;
  double r_canary = 0.1;
  std::uint64_t r_soak = 300;
  r_rollout->add_option("VERSION", r_version, "rule pack version")->required();
  r_rollout->add_option("--canary", r_canary, "share of agents in the canary (default 0.1)")
      ->check(CLI::Range(0.0001, 1.0));
  r_rollout->add_option("--soak", r_soak, "seconds the canary runs before the fleet (300)")
      ->check(CLI::Range(1, 7 * 86400));
  auto* r_rollback =
      rules->add_subcommand("rollback", "return every agent to the previous pack (or none)");
  std::string r_reason;
  r_rollback->add_option("--reason", r_reason, "why (kept in the rollout status)");
  rules->add_subcommand("status", "the rollout and the pack each agent runs");

  const vigil::cli::EnrollCommands enroll(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (version) {
      fmt::print("vigilctl 0.1.0\n");
      return kExitOk;
    }
    app.exit(e);
    return kExitUsage;
  }
  auto parse_dur = [](const std::string& text, const char* flag) -> std::optional<std::uint64_t> {
    if (text.empty()) {
      return 0;
    }
    auto d = vigil::cli::parse_duration(text);
    if (!d) {
      fmt::print(stderr, "vigilctl: {} expects a duration like 90s, 15m, 2h or 7d, not '{}'\n",
                 flag, text);
    }
    return d;
  };

  if (!o.token_file.empty()) {
    auto token = read_token(o.token_file);
    if (!token) {
      fmt::print(stderr, "vigilctl: no token in {}\n", o.token_file);
      return kExitUsage;
    }
    o.token = *token;
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!o.insecure) {
    grpc::SslCredentialsOptions tls;
    if (!o.ca_file.empty()) {
      auto ca = vigil::read_pem(o.ca_file, "--ca");
      if (!ca) {
        fmt::print(stderr, "vigilctl: {}\n", ca.error().message);
        return kExitUsage;
      }
      tls.pem_root_certs = *ca;
    }
    credentials = grpc::SslCredentials(tls);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  auto channel = grpc::CreateCustomChannel(o.collector, credentials, args);
  auto stub = vigil::v1::QueryService::NewStub(channel);

  if (report->parsed()) {
    auto w = parse_dur(window, "--window");
    return w ? cmd_report(*stub, o, *w, top, report_paging) : kExitUsage;
  }
  if (agents->parsed()) {
    return cmd_agents(*stub, o, agents_paging);
  }
  if (alerts->parsed()) {
    auto s = parse_dur(since, "--since");
    return s ? cmd_alerts(*stub, o, host, workload, min_score, *s, limit, fleet, follow,
                          alerts_paging)
             : kExitUsage;
  }
  if (events->parsed()) {
    auto s = parse_dur(ev_since, "--since");
    return s ? cmd_events(*stub, o, host, workload, type, ev_min_score, *s, ev_limit, events_paging)
             : kExitUsage;
  }
  if (feedback->parsed()) {
    return cmd_feedback(*stub, o, alert_id, label, comment);
  }
  if (models->parsed()) {
    auto mstub = vigil::v1::ModelService::NewStub(channel);
    if (m_show->parsed()) return cmd_models_show(*mstub, o, m_show_version);
    if (m_evolve->parsed()) return cmd_models_evolve(*mstub, o, m_wait);
    if (m_import->parsed()) return cmd_models_import(*mstub, o, m_file);
    if (m_rollout->parsed()) return cmd_models_rollout(*mstub, o, m_version, m_canary, m_soak);
    if (m_rollback->parsed()) return cmd_models_rollback(*mstub, o, m_reason);
    if (m_shadow->parsed()) {
      return cmd_models_shadow(*mstub, o, m_shadow_version, m_fraction, m_shadow_stop);
    }
    if (m_keygen->parsed()) return cmd_models_keygen(m_key_out);
    if (m_release->parsed()) return cmd_models_release(*mstub, o, m_release_file);
    if (m_sign->parsed()) {
      auto key = vigil::SigningKey::load(m_key);
      if (!key) {
        fmt::print(stderr, "vigilctl: {}\n", key.error().message);
        return kExitUsage;
      }
      if (!m_sign_model.empty() || !m_sign_out.empty()) {
        if (m_sign_model.empty() || m_sign_out.empty()) {
          fmt::print(stderr, "vigilctl: offline signing needs both --model and --out\n");
          return kExitUsage;
        }
        return cmd_models_sign_file(*key, m_sign_model, m_seq, m_rollback_to, m_sign_out);
      }
      if (m_sign_version.empty()) {
        fmt::print(stderr, "vigilctl: models sign needs VERSION (or --model FILE --out FILE)\n");
        return kExitUsage;
      }
      return cmd_models_sign(*mstub, o, *key, m_sign_version, m_seq);
    }
    if (models->got_subcommand("status")) return cmd_models_status(*mstub, o);
    return cmd_models_list(*mstub, o);
  }
  if (enroll.parsed()) {
    return enroll.run(
        channel,
        {.collector = o.collector, .token = o.token, .json = o.json, .timeout_s = o.timeout_s});
  }
  if (rules->parsed()) {
    auto rstub = vigil::v1::RuleService::NewStub(channel);
    if (r_push->parsed()) {
      return cmd_rules_push(*rstub, o, r_dir, r_disable, r_push_version, r_description);
    }
    if (r_rollout->parsed()) return cmd_rules_rollout(*rstub, o, r_version, r_canary, r_soak);
    if (r_rollback->parsed()) return cmd_rules_rollback(*rstub, o, r_reason);
    if (rules->got_subcommand("status")) return cmd_rules_status(*rstub, o);
    return cmd_rules_list(*rstub, o);
  }
  return kExitUsage;
}
