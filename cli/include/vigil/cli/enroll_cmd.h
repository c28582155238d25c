// `vigilctl enroll create|list|revoke|revoke-agent`: enroll tokens and revoked
// agents (EnrollAdminService, docs/api.md; docs/operations.md "Enrolling a fleet").
#pragma once

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace vigil::cli {

// What every vigilctl call shares (its global options).
struct CallOptions {
  std::string collector;
  std::string token;  // bearer token; empty: none
  bool json = false;
  std::uint32_t timeout_s = 10;
};

class EnrollCommands {
 public:
  // Adds the `enroll` subcommand and its own subcommands to `app`.
  explicit EnrollCommands(CLI::App& app);
  [[nodiscard]] bool parsed() const { return enroll_->parsed(); }
  // Runs the parsed subcommand; vigilctl's exit codes.
  int run(const std::shared_ptr<grpc::Channel>& channel, const CallOptions& o) const;

 private:
  CLI::App* enroll_;
  CLI::App* create_;
  CLI::App* revoke_;
  CLI::App* revoke_agent_;
  std::uint32_t uses_ = 1;
  std::string ttl_ = "24h";
  std::string note_;
  std::string out_;
  std::string token_id_;
  std::string agent_id_;
  std::string reason_;
};

}  // namespace vigil::cli
