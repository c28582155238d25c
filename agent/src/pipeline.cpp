#include "vigil/agent/pipeline.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>

#include "vigil/abi.h"
#include "vigil/agent/config.h"
#include "vigil/event_format.h"
#include "vigil/shipped_model.h"

namespace vigil::agent {
namespace {

constexpr std::size_t kLineageDepth = 8;
std::string_view severity_word(std::uint32_t score) {
  if (score >= 80) {
    return "Critical";
  }
  if (score >= 50) {
    return "High";
  }
  if (score >= 20) {
    return "Medium";
  }
  return "Low";
}

double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// A Sigma rule's provenance, as the Detection Rule License asks: id, title,
// author and reference travel with every match.
void append_rule_json(const sigma::RuleInfo& rule, std::string& out) {
  out.append(",\"rule\":{\"id\":");
  append_json_string(rule.id, out);
  out.append(",\"title\":");
  append_json_string(rule.title, out);
  out.append(",\"author\":");
  append_json_string(rule.author, out);
  out.append(",\"reference\":");
  append_json_string(rule.reference, out);
  out.append(",\"level\":");
  append_json_string(sigma::to_string(rule.level), out);
  out.append(",\"file\":");
  append_json_string(rule.file, out);
  out.append(",\"attack\":[");
  for (std::size_t i = 0; i < rule.attack.size(); ++i) {
    if (i != 0) out.push_back(',');
    append_json_string(rule.attack[i], out);
  }
  out.append("]}");
}

}  // namespace

void append_alert_json(const Event& event, const AlertContext& ctx,
                       std::span<const Indicator* const> hits,
                       std::span<const ProcessInfo* const> lineage, std::string& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"ts\":{},\"host\":", event.ts_ns);
  append_json_string(event.host, out);
  out.append(",\"alert_id\":");
  append_json_string(ctx.alert_id, out);
  fmt::format_to(it, ",\"count\":{},\"score\":{},\"severity\":", ctx.count, ctx.score);
  append_json_string(severity_word(ctx.score), out);
  out.append(",\"level\":");
  append_json_string(to_string(ctx.level), out);
  fmt::format_to(it, ",\"in_focus\":{}", ctx.in_focus);
  out.append(",\"indicators\":[");
  for (std::size_t i = 0; i < hits.size(); ++i) {
    out.append(i == 0 ? "{\"id\":" : ",{\"id\":");
    append_json_string(hits[i]->id, out);
    out.append(",\"attack\":");
    append_json_string(hits[i]->attack, out);
    fmt::format_to(it, ",\"severity\":{},\"summary\":", hits[i]->severity);
    append_json_string(hits[i]->summary, out);
    if (hits[i]->rule != nullptr) {
      append_rule_json(*hits[i]->rule, out);
    }
    out.push_back('}');
  }
  out.append("],\"lineage\":[");
  for (std::size_t i = 0; i < lineage.size(); ++i) {
    fmt::format_to(it, "{}{{\"pid\":{},\"exe\":", i == 0 ? "" : ",", lineage[i]->pid);
    append_json_string(lineage[i]->exe, out);
    out.append(",\"comm\":");
    append_json_string(lineage[i]->comm, out);
    out.push_back('}');
  }
  out.append("],\"event\":");
  append_json(event, out);
  out.push_back('}');
}

void append_alert_text(const Event& event, const AlertContext& ctx,
                       std::span<const Indicator* const> hits, std::string& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{} threat {} event: pid={} comm={} exe={} threat={} [",
                 severity_word(ctx.score), to_string(event.type), event.pid, event.comm,
                 event.exe.empty() ? "?" : event.exe, ctx.score);
  for (std::size_t i = 0; i < hits.size(); ++i) {
    fmt::format_to(it, "{}{} {}", i == 0 ? "" : ", ", hits[i]->attack, hits[i]->id);
    if (hits[i]->rule != nullptr && hits[i]->rule->title != hits[i]->id) {
      // Attribution (Detection Rule License): the title and author of the rule.
      fmt::format_to(it, " \"{}\" by {}", hits[i]->rule->title,
                     hits[i]->rule->author.empty() ? "unknown" : hits[i]->rule->author);
    }
  }
  fmt::format_to(it, "] level={} id={}", to_string(ctx.level), ctx.alert_id);
}

void append_alert_falco(const Event& event, const AlertContext& ctx,
                        std::span<const Indicator* const> hits, std::string& out) {
  auto it = std::back_inserter(out);
  // Falco's priorities, by score: the same bands as the severity words.
  const std::string_view priority = ctx.score >= 80   ? "Critical"
                                    : ctx.score >= 50 ? "Warning"
                                    : ctx.score >= 20 ? "Notice"
                                                      : "Informational";
  std::string text;
  append_alert_text(event, ctx, hits, text);
  out.append("{\"output\":");
  append_json_string(text, out);
  fmt::format_to(it, ",\"priority\":\"{}\",\"rule\":", priority);
  append_json_string(
      fmt::format("vigil {}", hits.empty() ? std::string_view("score") : hits.front()->id), out);
  const std::time_t secs = static_cast<std::time_t>(event.ts_ns / 1000000000ULL);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  fmt::format_to(it, ",\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z\"", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 event.ts_ns % 1000000000ULL);
  out.append(",\"source\":\"syscall\",\"hostname\":");
  append_json_string(event.host, out);
  out.append(",\"tags\":[\"vigil\"");
  for (const auto* h : hits) {
    out.push_back(',');
    append_json_string(h->attack, out);
  }
  fmt::format_to(it,
                 "],\"output_fields\":{{\"evt.type\":\"{}\",\"evt.time\":{},\"proc.pid\":{},"
                 "\"proc.ppid\":{},\"user.uid\":{},\"proc.name\":",
                 to_string(event.type), event.ts_ns, event.pid, event.ppid, event.uid);
  append_json_string(event.comm, out);
  out.append(",\"proc.exepath\":");
  append_json_string(event.exe, out);
  fmt::format_to(it, ",\"vigil.score\":{},\"vigil.alert_id\":", ctx.score);
  append_json_string(ctx.alert_id, out);
  out.append(",\"vigil.level\":");
  append_json_string(to_string(ctx.level), out);
  std::string ids;
  for (const auto* h : hits) {
    if (!ids.empty()) ids.push_back(',');
    ids.append(h->id);
  }
  out.append(",\"vigil.indicators\":");
  append_json_string(ids, out);
  out.append("}}");
}

Pipeline::Pipeline(std::string host, ProcessTable& table, std::int64_t boot_to_unix_ns,
                   std::shared_ptr<const ScoringModel> model)
    : host_(std::move(host)),
      table_(table),
      decoder_(boot_to_unix_ns),
      boot_to_unix_ns_(boot_to_unix_ns),
      run_id_(fmt::format("{:x}", static_cast<std::uint64_t>(std::time(nullptr)))) {
  model_ = model ? std::move(model) : default_model();
  rules_ = default_rule_pack();
  hit_ids_.reserve(16);
  batch_ts_.reserve(kMaxPending);
  alert_ts_.reserve(kMaxPending);
}

std::shared_ptr<const ScoringModel> baseline_model() {
  static const auto model = [] {
    std::vector<IndicatorWeight> weights;
    for (const auto& ind : all_indicators()) {
      weights.push_back({ind.id, ind.severity});
    }
    auto loaded =
        ScoringModel::load(make_baseline_model(weights, fmt::format("baseline-{}", kVersion)));
    // The baseline is built from this build's own tables: failing to load it is a bug.
    if (!loaded) {
      std::fprintf(stderr, "vigil: baseline model invalid: %s\n", loaded.error().message.c_str());
      std::abort();
    }
    return *loaded;
  }();
  return model;
}

std::shared_ptr<const RulePack> default_rule_pack() {
  static const auto pack = [] {
    sigma::LoadReport report;
    auto loaded = RulePack::load(RulePackOptions{}, report);
    // The pack is this build's own: a rule that does not load is a bug the
    // unit tests catch; say so rather than run without it silently.
    if (report.rules_failed != 0 || report.files_failed != 0) {
      std::fprintf(stderr, "vigil: built-in rule pack: %s", format_load_report(report).c_str());
    }
    return loaded;
  }();
  return pack;
}

std::shared_ptr<const ScoringModel> default_model() {
  static const auto model = []() -> std::shared_ptr<const ScoringModel> {
    const auto bytes = shipped_model_bytes();
    if (bytes.empty()) {
      return baseline_model();
    }
    auto loaded = ScoringModel::load_bytes(bytes);
    if (!loaded) {
      // A schema change without a regenerated model: say so, score with the baseline.
      std::fprintf(stderr, "vigil: shipped model not usable (%s); using the baseline\n",
                   loaded.error().message.c_str());
      return baseline_model();
    }
    return *loaded;
  }();
  return model;
}

void Pipeline::on_record(std::span<const std::byte> record) {
  ++stats_.records;
  if (n_pending_ == pending_.size()) {
    pending_.emplace_back();
  }
  if (!decoder_.decode(record, pending_[n_pending_])) {
    return;  // counted in decode_stats(); never logged per record
  }
  if (++n_pending_ >= kMaxPending) {
    process_pending();
  }
}

void Pipeline::process_pending() {
  // One drain holds records of several ring buffers (one per probe family):
  // put them back in kernel time order, so a connect is seen before the exec
  // it led to, whichever buffer was read first.
  order_.resize(n_pending_);
  for (std::uint32_t i = 0; i < n_pending_; ++i) order_[i] = i;
  // Stable by arrival for equal timestamps, without stable_sort's temporary
  // buffer (an allocation per drain).
  std::ranges::sort(order_, [&](std::uint32_t a, std::uint32_t b) {
    return pending_[a].boot_ns != pending_[b].boot_ns ? pending_[a].boot_ns < pending_[b].boot_ns
                                                      : a < b;
  });
  for (const auto i : order_) {
    std::swap(event_, pending_[i]);  // both keep their strings' capacity
    process_event();
  }
  n_pending_ = 0;
  if (batch_ts_.size() >= kMaxPending) {
    record_latencies();  // a long drain: keep the buffers bounded
  }
}

void Pipeline::process_event() {
  ++stats_.by_type[static_cast<std::size_t>(event_.type) % stats_.by_type.size()];
  event_.host = host_;
  table_.apply(event_);
  if (events_) {
    events_->write(event_);
    ++stats_.events_out;
  }
  const Scored scored = score_event();
  batch_ts_.push_back(event_.boot_ns);
  if (scored.alerted) {
    alert_ts_.push_back(event_.boot_ns);
  }
  if (scored_ != nullptr) {
    scored_->on_scored(event_, scored.score, features_, hits_,
                       scored.alerted ? std::string_view(alert_id_) : std::string_view{});
  }
}

namespace {

// A chmod +x is part of write -> chmod -> exec only for a freshly written file.
bool freshly_written(const std::string& path, std::uint64_t event_unix_ns) {
  constexpr std::int64_t kFreshS = 600;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return false;
  }
  const auto event_s = static_cast<std::int64_t>(event_unix_ns / 1000000000ULL);
  return event_s - static_cast<std::int64_t>(st.st_mtim.tv_sec) <= kFreshS;
}

bool connect_succeeded(const Event& e) {
  if (e.type != EventType::kConnect) {
    return false;
  }
  const auto ret = std::get<SockData>(e.data).ret;
  return ret == 0 || ret == -EINPROGRESS;
}

}  // namespace

bool Pipeline::relayed_shell() const {
  // A shell reading commands from its stdin (no -c, no script) whose stdin and
  // stdout are pipes or a pty, and whose output reaches a process with a TCP
  // connection out: the parent feeding it through pipes (`ncat -e`, `socat
  // exec:`), the holder of its pty (`socat exec:'bash -li',pty`, python's
  // pty.spawn, `script`), or a process of its tree reading its output from a
  // pipe (`cat f | bash -i 2>&1 | nc HOST PORT > f`). A relay that connects
  // only after the exec is matched at its connect (stateful_indicators).
  if (!reads_commands_from_stdin(event_.args)) {
    return false;
  }
  const auto shell = wire_shell(event_.pid, event_.ppid, table_.tree_of(event_.pid),
                                table_.stdio_wiring(event_.pid));
  if (!shell) {
    return false;
  }
  const auto* relay = table_.find(shell->relay);
  if (relay != nullptr && is_login_service(relay->exe)) {
    return false;  // sshd, tmux, su: a login, not a relay
  }
  const double now = seconds(event_.boot_ns);
  if (shell->relay != 0 &&
      (shell->relay_on_socket || sequences_.recently_connected(shell->relay, now))) {
    return true;
  }
  std::array<std::uint32_t, 8> peers{};
  const auto outs = std::span(shell->out).first(shell->n_out);
  for (const auto peer :
       std::span(peers).first(sequences_.recent_connects_in(shell->tree, now, peers))) {
    const FdEnd in = table_.stdio(peer).fd[0];
    if (in.kind == FdKind::kPipe && std::ranges::find(outs, in.id) != outs.end()) {
      return true;
    }
  }
  return false;
}

void Pipeline::stateful_indicators(double now) {
  // The process tree, read once per event and only when a pattern needs it.
  std::array<std::uint32_t, kLineageDepth> tree{};
  std::size_t tree_n = 0;
  auto lineage = [&] {
    if (tree_n == 0) {
      tree_n = table_.lineage_into(event_.pid, tree);
      if (tree_n == 0) {
        tree[0] = event_.pid;
        tree[1] = event_.ppid;
        tree_n = 2;
      }
    }
    return std::span<const std::uint32_t>(tree.data(), tree_n);
  };
  const char* const exe_key = event_.exe.empty() ? event_.comm.c_str() : event_.exe.c_str();
  // Who acted, by process, tree, user and executable: stateful detectors add
  // work up per unit, so a loop of short-lived processes is one actor.
  const auto actor = [&] {
    return Actor{.pid = event_.pid,
                 .ppid = event_.ppid,
                 .tree = table_.tree_of(event_.pid),
                 .uid = event_.uid,
                 .exe = exe_key};
  };
  switch (event_.type) {
    case EventType::kExec: {
      if (is_shell_or_interpreter(event_.exe)) {
        if (table_.stdio_is_socket(event_.pid) || relayed_shell()) {
          // connect -> dup2 -> exec of a shell (bash -i >& /dev/tcp/..., nc -e),
          // or a shell whose output a connected process relays (pipes, pty).
          hits_.push_back(find_indicator("reverse-shell"));
        } else if (reads_commands_from_stdin(event_.args)) {
          // The relay may connect after the exec (a pipeline's members start
          // together): remember the shell's wiring for the relay window.
          const auto shell = wire_shell(event_.pid, event_.ppid, table_.tree_of(event_.pid),
                                        table_.stdio_wiring(event_.pid));
          const auto* relay = shell ? table_.find(shell->relay) : nullptr;
          if (shell && (shell->relay != 0 || shell->n_out != 0) &&
              (relay == nullptr || !is_login_service(relay->exe))) {
            sequences_.shell_waiting(*shell, now);
          }
        }
      }
      // Host memory: a parent->child pair this host has never run.
      const auto* parent = table_.find(event_.ppid);
      if (parent != nullptr && !parent->exe.empty() && !event_.exe.empty()) {
        key_buf_.assign(parent->exe);
        key_buf_.push_back('>');
        key_buf_.append(event_.exe);
        if (baseline_.observe(key_buf_, seconds(event_.ts_ns))) {
          hits_.push_back(find_indicator("novel-parent-child"));
        }
      }
      // Patterns ending in an exec.
      if (writable_location(event_.exe) &&
          sequences_.exec_of_dropped(event_.exe, lineage(), actor(), now)) {
        hits_.push_back(find_indicator("dropped-exec"));
      }
      if (sequences_.watching_connects() &&
          sequences_.exec_after_scan_connect(lineage(), actor(), now)) {
        hits_.push_back(find_indicator("scan-connect-exec"));
      }
      return;
    }
    case EventType::kExit: {
      // Crash storms spread over processes (copies of a binary, many binaries):
      // fatal-signal deaths add up per tree and per user.
      if (is_crash_signal(std::get<ExitData>(event_.data).signal) &&
          crash_spread_.observe(actor(), now) != Spread::kNone) {
        hits_.push_back(find_indicator("crash-storm"));
      }
      return;
    }
    case EventType::kCrashStorm:
      crash_spread_.reported(actor(), now);  // the kernel's storm: one finding, not two
      return;
    case EventType::kFile: {
      const auto& f = std::get<FileData>(event_.data);
      if (f.op == VIGIL_FILE_CHMOD && f.ret == 0 && (f.mode & 0111U) != 0 &&
          writable_location(f.path) && !is_toolchain(event_.exe) &&
          freshly_written(f.path, event_.ts_ns)) {
        sequences_.made_executable(f.path, actor(), now);  // write -> chmod +x
      }
      return;
    }
    case EventType::kWxMemory:
    case EventType::kExecAdded:
      if (!hits_.empty() && !event_.exe.empty()) {
        // Which executables use W+X is learned per host: JITs are known after
        // the warm-up, anything else doing it later stands out.
        key_buf_.assign("wx>");
        key_buf_.append(event_.exe);
        if (baseline_.observe(key_buf_, seconds(event_.ts_ns))) {
          hits_.push_back(find_indicator("wx-novel-executable"));
        }
      }
      return;
    case EventType::kListen: {
      const auto& sock = std::get<SockData>(event_.data);
      if (sock.ret == 0) {
        key_buf_.assign("listen>");
        key_buf_.append(exe_key);
        fmt::format_to(std::back_inserter(key_buf_), ">{}", sock.lport);
        if (baseline_.observe(key_buf_, seconds(event_.ts_ns))) {
          hits_.push_back(find_indicator("novel-listener"));
        }
      }
      return;
    }
    case EventType::kAccept:
    case EventType::kConnect:
    case EventType::kConnectFailed:
    case EventType::kUdpSend: {
      const auto& sock = std::get<SockData>(event_.data);
      const Actor a = actor();
      const bool linked =
          sock.proto == kProtoTcp &&
          (event_.type == EventType::kAccept ? sock.ret >= 0 : connect_succeeded(event_));
      if (linked) {
        if (event_.type == EventType::kConnect) {
          sequences_.connected_out(a.pid, a.tree, now);
        }
        // A shell waiting for its relay: does this process read its output?
        if (sequences_.shells_waiting(a.tree, now) && !is_login_service(event_.exe)) {
          const FdEnd in = table_.stdio(event_.pid).fd[0];
          if (sequences_.relay_connected(a.pid, a.tree, in.kind == FdKind::kPipe ? in.id : 0,
                                         now)) {
            hits_.push_back(find_indicator("reverse-shell"));
          }
        }
      }
      if (event_.type == EventType::kAccept) {
        return;
      }
      // Refused or timed out: synchronously (connect's return) or later (a
      // non-blocking connect's SYN_SENT -> CLOSE, reported with ret 0).
      if (event_.type == EventType::kConnectFailed ||
          (event_.type == EventType::kConnect && sock.ret < 0 && sock.ret != -EINPROGRESS)) {
        if (connect_scans_.observe(a, sock.raddr, sock.rport, now) != Spread::kNone) {
          hits_.push_back(find_indicator("connect-scan"));
          sequences_.scanned(a, now);
        }
      }
      if (connect_succeeded(event_)) {
        if (sequences_.watching_scans()) {
          sequences_.connected(lineage(), a, now);  // scan -> connect
        }
        // Host memory: which programs talk to which remote ports.
        key_buf_.assign("port>");
        key_buf_.append(exe_key);
        fmt::format_to(std::back_inserter(key_buf_), ">{}", sock.rport);
        if (baseline_.observe(key_buf_, seconds(event_.ts_ns))) {
          hits_.push_back(find_indicator("novel-exe-port"));
        }
      }
      // Rhythm: one destination contacted at a steady period by one program,
      // one process tree (a new curl per callback, renamed copies) or one user.
      // Each unit's rhythm is kept on every contact; a beacon is reported once
      // per (unit, destination) new for this host: periodic services seen
      // during warm-up are learned.
      const auto ts = seconds(event_.ts_ns);
      bool beacon = false;
      key_buf_.assign("beacon>");
      key_buf_.append(exe_key);
      fmt::format_to(std::back_inserter(key_buf_), ">{}:{}", sock.raddr, sock.rport);
      if (rhythm_.observe(key_buf_, now) > 0) {
        beacon |= baseline_.observe(key_buf_, ts);
      }
      if (a.tree > 1) {
        key_buf_.clear();
        fmt::format_to(std::back_inserter(key_buf_), "beacon>t{}>{}:{}", a.tree, sock.raddr,
                       sock.rport);
        if (rhythm_.observe(key_buf_, now) > 0) {
          // Learned by the tree's root program: the pid is not stable, the program is.
          const auto* root = table_.find(a.tree);
          key_buf_.assign("beacon>tree:");
          key_buf_.append(root != nullptr && !root->exe.empty() ? root->exe : "?");
          fmt::format_to(std::back_inserter(key_buf_), ">{}:{}", sock.raddr, sock.rport);
          beacon |= baseline_.observe(key_buf_, ts);
        }
      }
      key_buf_.clear();
      fmt::format_to(std::back_inserter(key_buf_), "beacon>uid:{}>{}:{}", a.uid, sock.raddr,
                     sock.rport);
      if (rhythm_.observe(key_buf_, now) > 0) {
        beacon |= baseline_.observe(key_buf_, ts);
      }
      if (beacon) {
        hits_.push_back(find_indicator("beaconing"));
      }
      return;
    }
    default:
      return;
  }
}

ExecLinks Pipeline::pipe_links(double now) {
  ExecLinks links;
  if (is_shell_or_interpreter(event_.exe)) {
    if (!reads_commands_from_stdin(event_.args)) {
      return links;
    }
    const FdEnd in = table_.stdio(event_.pid).fd[0];
    if (in.kind != FdKind::kPipe) {
      return links;
    }
    if (const auto* f = pipes_.reader(in.id, event_.exe, now)) {
      links.stdin_image = f->exe;
      links.stdin_command_line = f->command_line;
    }
  } else if (is_pipe_feeder(event_.exe)) {
    const FdEnd out = table_.stdio(event_.pid).fd[1];
    if (out.kind != FdKind::kPipe) {
      return links;
    }
    feeder_command_line_.clear();
    for (const auto& a : event_.args) {
      if (!feeder_command_line_.empty()) {
        feeder_command_line_.push_back(' ');
      }
      feeder_command_line_.append(a);
    }
    if (const auto* r = pipes_.feeder(out.id, event_.exe, feeder_command_line_, now)) {
      links.stdout_image = r->exe;
    }
  }
  return links;
}

Pipeline::Scored Pipeline::score_event() {
  const double now = seconds(event_.boot_ns);
  indicators_.evaluate(event_, table_, hits_);
  if (rules_) {
    const ExecLinks links = event_.type == EventType::kExec ? pipe_links(now) : ExecLinks{};
    const auto before = hits_.size();
    rules_->evaluate(event_, table_, hits_, links);
    stats_.rule_hits += hits_.size() - before;
  }
  stateful_indicators(now);
  if (!suppressed_.empty() && !hits_.empty()) {
    // Indicators an analyst marked benign for this executable on this host.
    const auto before = hits_.size();
    std::erase_if(hits_, [&](const Indicator* h) {
      key_buf_.assign(h->id);
      key_buf_.push_back('>');
      key_buf_.append(event_.exe.empty() ? event_.comm : event_.exe);
      return suppressed_.contains(key_buf_);
    });
    stats_.suppressed_hits += before - hits_.size();
  }
  const bool in_focus = focus_.in_focus(event_.pid, now) || focus_.in_focus(event_.ppid, now);
  // Every event is scored by the current model on its feature vector.
  hit_ids_.clear();
  for (const auto* h : hits_) {
    hit_ids_.push_back(h->id);
  }
  const FeatureInput input{
      .type = event_.type,
      .uid = event_.uid,
      .euid = event_.euid,
      .exe = event_.exe,
      .indicators = hit_ids_,
      .lineage_depth = static_cast<std::uint32_t>(table_.lineage_depth(event_.pid, kLineageDepth)),
      .level = static_cast<std::uint8_t>(level_.level()),
      .in_focus = in_focus};
  compute_features(input, features_);
  std::uint32_t score = model_->score(features_);
  for (const auto* h : hits_) {
    // What fired is a floor no model lowers: a Sigma rule's level (a high or
    // critical match alerts on its own), a detector's severity. The model
    // adds context on top; it never ranks a detection below what the
    // detector alone says, whoever runs the process and however aroused the
    // host (docs/scoring.md, "Floors in the agent").
    score = std::max<std::uint32_t>(score, h->severity);
  }
  ++stats_.scored;
  if (recorder_) {
    record_sample();
  }
  if (hits_.empty() && score == 0) {
    return {};
  }
  stats_.indicator_hits += hits_.size();
  if (auto change = level_.observe(now, score)) {
    write_level_change(*change, event_.ts_ns);
  }
  // An alert names what fired: an event without an indicator is never one,
  // whatever the threshold (an evolved model scores such events up to its
  // cap_without_indicators, so a threshold at or below that could reach one).
  if (score < alert_threshold_ || hits_.empty()) {
    return {score, false};
  }
  // Attention follows what scored high: the process and its parent.
  focus_.add(event_.pid, score, now);
  focus_.add(event_.ppid, score / 2, now);

  if (!alerts_ && scored_ == nullptr) {
    return {score, false};
  }
  // Network summaries have no process: the source address is the entity.
  const std::uint32_t entity = event_.type == EventType::kNetSummary
                                   ? static_cast<std::uint32_t>(std::hash<std::string>{}(
                                         std::get<NetSummaryData>(event_.data).src))
                                   : event_.pid;
  const auto decision = dedupe_.observe(entity, hits_.front()->id, now);
  if (!decision.emit) {
    ++stats_.alerts_suppressed;
    return {score, false};
  }
  ++stats_.alerts;
  alert_id_ = fmt::format("{}-{}", run_id_, decision.id);
  remember_alert_key();
  const AlertContext ctx{.score = score,
                         .alert_id = alert_id_,
                         .count = decision.count,
                         .level = level_.level(),
                         .in_focus = in_focus};
  if (!alerts_) {
    return {score, true};
  }
  alert_buf_.clear();
  if (falco_alerts_) {
    append_alert_falco(event_, ctx, hits_, alert_buf_);
  } else if (alert_format_ == OutputFormat::kJson) {
    lineage_.clear();
    for (auto pid : table_.lineage(event_.pid, kLineageDepth)) {
      lineage_.push_back(table_.find(pid));
    }
    append_alert_json(event_, ctx, hits_, lineage_, alert_buf_);
  } else {
    append_alert_text(event_, ctx, hits_, alert_buf_);
  }
  alerts_->write_line(alert_buf_);
  return {score, true};
}

void Pipeline::record_sample() {
  evo::Sample sample;
  sample.x = features_;
  sample.source = evo::LabelSource::kScenario;
  sample.weight = evo::default_weight(sample.source);
  if (record_label_ == RecordLabel::kScenario) {
    const bool attack =
        std::ranges::any_of(hits_, [](const Indicator* h) { return h->severity >= 40; });
    if (!attack) {
      return;  // harness noise or context: not a label we can vouch for
    }
    sample.label = 1;
  }
  recorder_->append(sample);
  ++stats_.recorded;
}

void Pipeline::write_level_change(const LevelChange& change, std::uint64_t ts_ns) {
  ++stats_.level_changes;
  if (!alerts_ || falco_alerts_) {
    return;
  }
  alert_buf_.clear();
  if (alert_format_ == OutputFormat::kJson) {
    fmt::format_to(std::back_inserter(alert_buf_), "{{\"ts\":{},\"host\":", ts_ns);
    append_json_string(host_, alert_buf_);
    fmt::format_to(std::back_inserter(alert_buf_),
                   ",\"type\":\"level\",\"from\":\"{}\",\"to\":\"{}\",\"pressure\":{:.1f}}}",
                   to_string(change.from), to_string(change.to), change.pressure);
  } else {
    fmt::format_to(std::back_inserter(alert_buf_), "Host level: {} -> {} (pressure {:.1f})",
                   to_string(change.from), to_string(change.to), change.pressure);
  }
  alerts_->write_line(alert_buf_);
}

void Pipeline::write_incident_update(std::uint64_t id, std::uint64_t count) {
  if (!alerts_ || falco_alerts_) {
    return;
  }
  alert_buf_.clear();
  if (alert_format_ == OutputFormat::kJson) {
    fmt::format_to(std::back_inserter(alert_buf_), "{{\"host\":");
    append_json_string(host_, alert_buf_);
    fmt::format_to(std::back_inserter(alert_buf_),
                   ",\"type\":\"incident\",\"alert_id\":\"{}-{}\",\"count\":{}}}", run_id_, id,
                   count);
  } else {
    fmt::format_to(std::back_inserter(alert_buf_), "Incident {}-{} repeated: {} occurrences",
                   run_id_, id, count);
  }
  alerts_->write_line(alert_buf_);
}

void Pipeline::on_tick(double boot_now_s) {
  if (auto change = level_.tick(boot_now_s)) {
    write_level_change(*change, static_cast<std::uint64_t>(boot_now_s * 1e9 +
                                                           static_cast<double>(boot_to_unix_ns_)));
  }
  dedupe_.close_expired(
      boot_now_s, [this](const AlertDeduper::Closed& c) { write_incident_update(c.id, c.count); });
  on_batch_end();
}

Result<void> Pipeline::load_baseline(const std::filesystem::path& path, double unix_now_s) {
  return baseline_.load(path, unix_now_s);
}

void Pipeline::remember_alert_key() {
  constexpr std::size_t kRemembered = 10000;
  std::string key(hits_.front()->id);
  key.push_back('>');
  key.append(event_.exe.empty() ? event_.comm : event_.exe);
  if (alert_keys_.emplace(alert_id_, std::move(key)).second) {
    alert_order_.push_back(alert_id_);
    if (alert_order_.size() > kRemembered) {
      alert_keys_.erase(alert_order_.front());
      alert_order_.pop_front();
    }
  }
}

bool Pipeline::apply_feedback(std::string_view alert_id, std::string_view label) {
  auto it = alert_keys_.find(std::string(alert_id));
  if (it == alert_keys_.end()) {
    return false;
  }
  if (label == "benign") {
    suppressed_.insert(it->second);
  } else if (label == "malicious") {
    suppressed_.erase(it->second);
  } else {
    return false;
  }
  return true;
}

Result<void> Pipeline::load_suppressions(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return {};  // none yet
  }
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.front() != '#') {
      if (line.find('>') == std::string::npos) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: '{}' is not indicator>executable", path.string(), line));
      }
      suppressed_.insert(line);
    }
  }
  return {};
}

Result<void> Pipeline::save_suppressions(const std::filesystem::path& path) const {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "# indicator>executable pairs suppressed by analyst feedback (benign)\n";
    for (const auto& k : suppressed_) {
      out << k << '\n';
    }
    if (!out.flush()) {
      return make_error(ErrorCode::kIo, fmt::format("cannot write {}", tmp));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("rename {}: {}", tmp, ec.message()));
  }
  return {};
}

Result<void> Pipeline::save_baseline(const std::filesystem::path& path) const {
  return baseline_.save(path);
}

void Pipeline::on_batch_end() {
  process_pending();
  if (events_) {
    events_->flush();
  }
  if (recorder_) {
    (void)recorder_->flush();  // failures show as a short dataset; counted in recorded
  }
  if (alerts_) {
    alerts_->flush();
  }
  record_latencies();
}

void Pipeline::record_latencies() {
  // Kernel timestamp -> scored and written out (lines flushed): one clock read
  // per drain, not per event.
  if (batch_ts_.empty()) {
    return;
  }
  const auto now = static_cast<std::uint64_t>(boot_now_ns());
  for (const auto ts : batch_ts_) event_latency_.record_between(ts, now);
  for (const auto ts : alert_ts_) alert_latency_.record_between(ts, now);
  batch_ts_.clear();
  alert_ts_.clear();
}

}  // namespace vigil::agent
