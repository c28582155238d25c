#include "vigil/cli/enroll_cmd.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "vigil/cli/format.h"
#include "vigil/cli/json.h"
#include "vigil/clock.h"
#include "vigil/v1/enroll.grpc.pb.h"

namespace vigil::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

int report_error(const CallOptions& o, const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    fmt::print(stderr, "vigilctl: collector {} unreachable: {}\n", o.collector, s.error_message());
    return kExitUnreachable;
  }
  if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    fmt::print(stderr,
               "vigilctl: the collector at {} has no enrollment API (an older version?): {}\n",
               o.collector, s.error_message());
    return kExitFailed;
  }
  fmt::print(stderr, "vigilctl: {}\n", s.error_message());
  return kExitFailed;
}

void prepare_call(grpc::ClientContext& ctx, const CallOptions& o) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(o.timeout_s));
  if (!o.token.empty()) {
    ctx.AddMetadata("authorization", "Bearer " + o.token);
  }
}

std::string token_state(const v1::EnrollTokenInfo& t, std::uint64_t now_ns) {
  if (t.revoked()) {
    return "revoked";
  }
  if (now_ns >= t.expires_ns()) {
    return "expired";
  }
  if (t.uses() >= t.max_uses()) {
    return "used up";
  }
  return "active";
}

// The token into a new file only its owner reads: never over an existing one
// (O_EXCL also refuses a symlink planted there).
bool write_token_file(const std::string& path, const std::string& token) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    fmt::print(stderr, "vigilctl: cannot create {}: {}{}\n", path, std::strerror(errno),
               errno == EEXIST ? " (remove it or choose another --out)" : "");
    return false;
  }
  const std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    fmt::print(stderr, "vigilctl: writing {} failed\n", path);
  }
  return ok;
}

}  // namespace

EnrollCommands::EnrollCommands(CLI::App& app) {
  enroll_ = app.add_subcommand("enroll", "enroll tokens for agents (--enroll), revoked agents");
  enroll_->require_subcommand(1);
  create_ = enroll_->add_subcommand("create", "a new enroll token, written to a 0600 file");
  create_->add_option("--uses", uses_, "agents that may enroll with it (default 1)")
      ->check(CLI::Range(1, 1000000));
  create_->add_option("--ttl", ttl_, "how long it is valid (default 24h; e.g. 30m, 7d)");
  create_->add_option("--note", note_, "what it is for (kept with it)");
  create_
      ->add_option("--out", out_,
                   "new file for the token (0600; the agents' --enroll FILE), or - to print it")
      ->required();
  enroll_->add_subcommand("list", "enroll tokens (never the tokens themselves), revoked agents");
  revoke_ = enroll_->add_subcommand("revoke", "revoke an enroll token: no more agents enroll");
  revoke_->add_option("TOKEN_ID", token_id_, "token id (from `vigilctl enroll list`)")->required();
  revoke_agent_ = enroll_->add_subcommand(
      "revoke-agent", "refuse an agent id from now on: its stream ends, it cannot renew or enroll");
  revoke_agent_->add_option("AGENT_ID", agent_id_, "agent id")->required();
  revoke_agent_->add_option("--reason", reason_, "why (kept with the revocation)");
}

int EnrollCommands::run(const std::shared_ptr<grpc::Channel>& channel, const CallOptions& o) const {
  auto stub = v1::EnrollAdminService::NewStub(channel);
  grpc::ClientContext ctx;
  prepare_call(ctx, o);
  if (create_->parsed()) {
    const auto ttl = parse_duration(ttl_);
    if (!ttl || *ttl == 0) {
      fmt::print(stderr, "vigilctl: --ttl expects a duration like 30m, 24h or 7d, not '{}'\n",
                 ttl_);
      return kExitUsage;
    }
    if (out_ != "-" && ::access(out_.c_str(), F_OK) == 0) {
      fmt::print(stderr, "vigilctl: {} exists (remove it or choose another --out)\n", out_);
      return kExitUsage;
    }
    v1::CreateEnrollTokenRequest req;
    req.set_max_uses(uses_);
    req.set_ttl_s(*ttl);
    req.set_note(note_);
    v1::CreateEnrollTokenResponse resp;
    if (auto s = stub->CreateEnrollToken(&ctx, req, &resp); !s.ok()) {
      return report_error(o, s);
    }
    if (out_ == "-") {
      fmt::print("{}\n", resp.token());
      return kExitOk;
    }
    if (!write_token_file(out_, resp.token())) {
      return kExitFailed;
    }
    if (o.json) {
      print_json(resp.info());
    } else {
      fmt::print("enroll token {} written to {}: {} use{}, expires {} UTC\n", resp.info().id(),
                 out_, resp.info().max_uses(), resp.info().max_uses() == 1 ? "" : "s",
                 format_time(resp.info().expires_ns()));
    }
    return kExitOk;
  }
  if (revoke_->parsed()) {
    v1::RevokeEnrollTokenRequest req;
    req.set_id(token_id_);
    v1::EnrollTokenInfo info;
    if (auto s = stub->RevokeEnrollToken(&ctx, req, &info); !s.ok()) {
      return report_error(o, s);
    }
    if (o.json) {
      print_json(info);
    } else {
      fmt::print("enroll token {} revoked ({} of {} uses spent)\n", info.id(), info.uses(),
                 info.max_uses());
    }
    return kExitOk;
  }
  if (revoke_agent_->parsed()) {
    v1::RevokeAgentRequest req;
    req.set_agent_id(agent_id_);
    req.set_reason(reason_);
    v1::RevokeAgentResponse resp;
    if (auto s = stub->RevokeAgent(&ctx, req, &resp); !s.ok()) {
      return report_error(o, s);
    }
    if (o.json) {
      print_json(resp);
    } else {
      fmt::print("agent {} revoked{}\n", resp.agent().agent_id(),
                 resp.disconnected() ? "; its stream was ended" : "");
    }
    return kExitOk;
  }
  v1::ListEnrollTokensResponse resp;
  if (auto s = stub->ListEnrollTokens(&ctx, {}, &resp); !s.ok()) {
    return report_error(o, s);
  }
  if (o.json) {
    print_json(resp);
    return kExitOk;
  }
  const auto now = unix_now_ns();
  Table tokens({"ID", "STATE", "USES", "CREATED (UTC)", "EXPIRES (UTC)", "NOTE", "AGENTS"});
  for (const auto& t : resp.tokens()) {
    std::string agents;
    for (const auto& a : t.agents()) {
      agents += (agents.empty() ? "" : ",") + a;
    }
    tokens.add({t.id(), token_state(t, now), fmt::format("{}/{}", t.uses(), t.max_uses()),
                format_time(t.created_ns()), format_time(t.expires_ns()),
                t.note().empty() ? "-" : t.note(), agents.empty() ? "-" : agents});
  }
  fmt::print("Enroll tokens\n{}", resp.tokens().empty() ? "  none\n" : tokens.render());
  Table revoked({"AGENT", "REVOKED (UTC)", "REASON"});
  for (const auto& r : resp.revoked_agents()) {
    revoked.add({r.agent_id(), format_time(r.revoked_ns()), r.reason().empty() ? "-" : r.reason()});
  }
  fmt::print("\nRevoked agents\n{}", resp.revoked_agents().empty() ? "  none\n" : revoked.render());
  return kExitOk;
}

}  // namespace vigil::cli
