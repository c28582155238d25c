// vigilctl: the operator's client for vigil-collector's QueryService.
//   vigilctl --collector ADDR report | agents | alerts [--follow] | events | feedback ID --label L
// Tables by default, --json for machines. Exit codes: 0 ok, 1 the request
// failed, 2 bad arguments, 3 collector unreachable.
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "vigil/cli/format.h"
#include "vigil/clock.h"
#include "vigil/v1/query.grpc.pb.h"

namespace {

using vigil::unix_now_ns;
using vigil::cli::format_age;
using vigil::cli::format_bytes;
using vigil::cli::format_time;
using vigil::cli::Table;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

struct Options {
  std::string collector = "127.0.0.1:7700";
  bool insecure = false;
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

void print_json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions jo;
  jo.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, jo);
  std::cout << out << '\n';
}

void set_deadline(grpc::ClientContext& ctx, const Options& o) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(o.timeout_s));
}

std::string hosts_of(const vigil::v1::Alert& a) {
  std::string out;
  for (const auto& h : a.hosts()) {
    out += out.empty() ? h : "," + h;
  }
  return out;
}

std::string attack_of(const vigil::v1::Alert& a) {
  std::string out;
  for (const auto& i : a.indicators()) {
    out += (out.empty() ? "" : ",") + i.attack();
  }
  return out.empty() ? "-" : out;
}

void add_alert_row(Table& t, const vigil::v1::Alert& a) {
  t.add({format_time(a.ts_ns()), std::to_string(a.score()), a.fleet() ? "fleet" : "host",
         hosts_of(a), a.kind(), attack_of(a), a.label().empty() ? "-" : a.label(),
         std::to_string(a.count()), a.id(), a.summary()});
}

Table alert_table() {
  return Table({"TIME (UTC)", "SCORE", "SCOPE", "HOSTS", "KIND", "ATT&CK", "LABEL", "COUNT", "ID",
                "SUMMARY"});
}

int cmd_report(vigil::v1::QueryService::Stub& stub, const Options& o, std::uint64_t window_s,
               std::uint32_t top) {
  grpc::ClientContext ctx;
  set_deadline(ctx, o);
  vigil::v1::FleetReportRequest req;
  req.set_window_s(window_s);
  req.set_top(top);
  vigil::v1::FleetReport rep;
  if (auto s = stub.FleetReport(&ctx, req, &rep); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(rep);
    return kExitOk;
  }
  const auto now = unix_now_ns();
  fmt::print("Fleet report: {} hosts, last {}s (generated {} UTC)\n\n", rep.hosts_size(),
             rep.window_s(), format_time(rep.generated_ns()));
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
    auto t = alert_table();
    for (const auto& a : rep.top_alerts()) {
      add_alert_row(t, a);
    }
    fmt::print("{}", t.render(60));
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
  fmt::print("\nTrend ({}s buckets, oldest first)\n  events {}\n  alerts {}\n", rep.bucket_s(),
             vigil::cli::sparkline({rep.events_trend().begin(), rep.events_trend().end()}),
             vigil::cli::sparkline({rep.alerts_trend().begin(), rep.alerts_trend().end()}));
  return kExitOk;
}

int cmd_agents(vigil::v1::QueryService::Stub& stub, const Options& o) {
  grpc::ClientContext ctx;
  set_deadline(ctx, o);
  vigil::v1::ListAgentsResponse resp;
  if (auto s = stub.ListAgents(&ctx, {}, &resp); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(resp);
    return kExitOk;
  }
  const auto now = unix_now_ns();
  Table t({"AGENT", "HOST", "CONNECTED", "LAST SEEN", "LEVEL", "ACKED SEQ", "STORED", "DUPLICATES",
           "DROPS", "SPOOL", "LAG", "CPU", "RSS", "VERSION", "PROBES"});
  for (const auto& a : resp.agents()) {
    std::string probes;
    for (const auto& p : a.probes()) {
      probes += (probes.empty() ? "" : " ") + p;
    }
    t.add({a.agent_id(), a.host_id(), a.connected() ? "yes" : "no",
           format_age(a.last_seen_ns(), now), a.level().empty() ? "-" : a.level(),
           std::to_string(a.acked_seq()), std::to_string(a.events_stored()),
           std::to_string(a.duplicates()), std::to_string(a.kernel_drops()),
           std::to_string(a.spool_events()), fmt::format("{}ms", a.lag_ms()),
           fmt::format("{:.1f}%", a.cpu_percent()), format_bytes(a.rss_bytes()), a.version(),
           probes});
  }
  fmt::print("{}", t.render());
  return kExitOk;
}

std::atomic<grpc::ClientContext*> g_follow_ctx{nullptr};

int cmd_alerts(vigil::v1::QueryService::Stub& stub, const Options& o, const std::string& host,
               std::uint32_t min_score, std::uint64_t since_s, std::uint32_t limit, bool fleet,
               bool follow) {
  if (follow) {
    grpc::ClientContext ctx;
    vigil::v1::WatchAlertsRequest req;
    req.set_host(host);
    req.set_min_score(min_score);
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
        fmt::print("{} score={} {} hosts={} kind={} attack={} id={} {}\n",
                   format_time(a.updated_ns()), a.score(), a.fleet() ? "FLEET" : "host",
                   hosts_of(a), a.kind(), attack_of(a), a.id(), a.summary());
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
  grpc::ClientContext ctx;
  set_deadline(ctx, o);
  vigil::v1::QueryAlertsRequest req;
  req.set_host(host);
  req.set_min_score(min_score);
  req.set_limit(limit);
  req.set_fleet_only(fleet);
  if (since_s > 0) {
    req.set_since_ns(unix_now_ns() - since_s * 1'000'000'000ULL);
  }
  vigil::v1::QueryAlertsResponse resp;
  if (auto s = stub.QueryAlerts(&ctx, req, &resp); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(resp);
    return kExitOk;
  }
  auto t = alert_table();
  for (const auto& a : resp.alerts()) {
    add_alert_row(t, a);
  }
  fmt::print("{}", t.render(60));
  if (!resp.next_page_token().empty()) {
    fmt::print("(more: raise --limit)\n");
  }
  return kExitOk;
}

int cmd_events(vigil::v1::QueryService::Stub& stub, const Options& o, const std::string& host,
               const std::string& type, std::uint32_t min_score, std::uint64_t since_s,
               std::uint32_t limit, const std::string& page) {
  grpc::ClientContext ctx;
  set_deadline(ctx, o);
  vigil::v1::QueryEventsRequest req;
  req.set_host(host);
  req.set_type(type);
  req.set_min_score(min_score);
  req.set_limit(limit);
  req.set_page_token(page);
  req.set_since_ns(unix_now_ns() - since_s * 1'000'000'000ULL);
  vigil::v1::QueryEventsResponse resp;
  if (auto s = stub.QueryEvents(&ctx, req, &resp); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(resp);
    return kExitOk;
  }
  Table t({"TIME (UTC)", "HOST", "SEQ", "TYPE", "SCORE", "PID", "COMM", "SUMMARY"});
  for (const auto& se : resp.events()) {
    const auto& e = se.event();
    t.add({format_time(e.ts_ns()), se.host(), std::to_string(e.seq()), e.type(),
           std::to_string(e.score()), std::to_string(e.pid()), e.comm(), e.summary()});
  }
  fmt::print("{}", t.render(100));
  if (!resp.next_page_token().empty()) {
    fmt::print("(more: --page {})\n", resp.next_page_token());
  }
  return kExitOk;
}

int cmd_feedback(vigil::v1::QueryService::Stub& stub, const Options& o, const std::string& id,
                 const std::string& label, const std::string& comment) {
  grpc::ClientContext ctx;
  set_deadline(ctx, o);
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

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("VIGIL_COLLECTOR")) {
    o.collector = env;
  }
  CLI::App app{"vigilctl: query vigil-collector (fleet report, agents, alerts, events, feedback)"};
  app.require_subcommand(1);
  app.add_option("--collector", o.collector,
                 "collector API address HOST:PORT (env VIGIL_COLLECTOR)");
  app.add_flag("--insecure", o.insecure, "plaintext gRPC (the only transport until mTLS lands)");
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

  app.add_subcommand("agents", "agents, their health and what the collector holds");

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

  auto* events = app.add_subcommand("events", "stored events, oldest first");
  std::string type;
  std::string ev_since = "15m";
  std::string page;
  std::uint32_t ev_min_score = 0;
  std::uint32_t ev_limit = 100;
  events->add_option("--host", host, "only this host");
  events->add_option("--type", type, "only this event type (exec, connect, net_summary, ...)");
  events->add_option("--since", ev_since, "from DURATION ago (default 15m)");
  events->add_option("--min-score", ev_min_score, "only events scoring at least this")
      ->check(CLI::Range(0, 100));
  events->add_option("--limit", ev_limit, "at most this many")->check(CLI::Range(1, 10000));
  events->add_option("--page", page, "continue from a previous page token");

  auto* feedback = app.add_subcommand("feedback", "label an alert malicious or benign");
  std::string alert_id;
  std::string label;
  std::string comment;
  feedback->add_option("ALERT_ID", alert_id, "alert id (from `vigilctl alerts`)")->required();
  feedback->add_option("--label", label, "malicious | benign")
      ->required()
      ->check(CLI::IsMember({"malicious", "benign"}));
  feedback->add_option("--comment", comment, "why (kept with the label)");

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

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  auto channel = grpc::CreateCustomChannel(o.collector, grpc::InsecureChannelCredentials(), args);
  auto stub = vigil::v1::QueryService::NewStub(channel);

  if (report->parsed()) {
    auto w = parse_dur(window, "--window");
    return w ? cmd_report(*stub, o, *w, top) : kExitUsage;
  }
  if (app.got_subcommand("agents")) {
    return cmd_agents(*stub, o);
  }
  if (alerts->parsed()) {
    auto s = parse_dur(since, "--since");
    return s ? cmd_alerts(*stub, o, host, min_score, *s, limit, fleet, follow) : kExitUsage;
  }
  if (events->parsed()) {
    auto s = parse_dur(ev_since, "--since");
    return s ? cmd_events(*stub, o, host, type, ev_min_score, *s, ev_limit, page) : kExitUsage;
  }
  if (feedback->parsed()) {
    return cmd_feedback(*stub, o, alert_id, label, comment);
  }
  return kExitUsage;
}
