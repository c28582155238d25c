#include "vigil/agent/enroll.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "vigil/clock.h"
#include "vigil/log.h"
#include "vigil/v1/enroll.grpc.pb.h"

namespace vigil::agent {
namespace {

constexpr const char* kKeyFile = "agent.key";
constexpr const char* kCertFile = "agent.crt";
constexpr const char* kChainFile = "ca-chain.pem";

std::int64_t now_s() { return static_cast<std::int64_t>(unix_now_ns() / 1'000'000'000ULL); }

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return make_error(ErrorCode::kNotFound, fmt::format("cannot read {}", path.string()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Written whole or not at all (temp file, fsync, rename), with `mode` from the start.
Result<void> write_file(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  const auto tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return make_error(ErrorCode::kIo, fmt::format("cannot write {}", tmp));
  }
  ::fchmod(fd, mode);  // an older file of that name kept its mode
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  std::error_code ec;
  if (ok) {
    std::filesystem::rename(tmp, path, ec);
  }
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    return make_error(ErrorCode::kIo, fmt::format("cannot write {}", path.string()));
  }
  return {};
}

// The token: the file's first line that is neither empty nor a comment.
Result<std::string> read_token(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("enroll token file {}: cannot read it", path.string()));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
    VLOG_WARN("enroll token file {} is readable by others (mode {:o}); chmod 600 it", path.string(),
              st.st_mode & 0777);
  }
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    line = line.substr(0, line.find('#'));
    const auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos) {
      return line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    }
  }
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("enroll token file {} holds no token (vigilctl enroll create "
                                "--out FILE writes one)",
                                path.string()));
}

std::shared_ptr<grpc::Channel> channel_to(const EnrollSettings& s, const std::string& cert_pem,
                                          const std::string& key_pem) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = s.ca_pem;
  tls.pem_cert_chain = cert_pem;
  tls.pem_private_key = key_pem;
  return grpc::CreateChannel(s.collector, grpc::SslCredentials(tls));
}

// Stores what the collector issued for `key_pem` and returns it, checked.
Result<ClientCertificate> keep(const EnrollSettings& s, const std::string& key_pem,
                               const v1::EnrollResponse& resp) {
  auto info = x509::cert_info(resp.cert_pem());
  if (!info) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "the collector answered with an unreadable certificate: " + info.error().message);
  }
  if (info->common_name != s.agent_id || !x509::key_matches(resp.cert_pem(), key_pem)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("the collector issued a certificate for '{}' that does not "
                                  "match this agent's id or key",
                                  info->common_name));
  }
  std::error_code ec;
  std::filesystem::create_directories(s.tls_dir, ec);
  ::chmod(s.tls_dir.c_str(), 0700);
  // Key first: a crash in between leaves a certificate that fails key_matches
  // (enroll again), never a certificate for a key that is gone.
  for (const auto& [name, data, mode] :
       {std::tuple{kKeyFile, std::string_view(key_pem), 0600},
        std::tuple{kChainFile, std::string_view(resp.ca_chain_pem()), 0644},
        std::tuple{kCertFile, std::string_view(resp.cert_pem()), 0644}}) {
    if (auto r = write_file(s.tls_dir / name, data, static_cast<mode_t>(mode)); !r) {
      return std::unexpected(r.error());
    }
  }
  return ClientCertificate{.cert_chain_pem = resp.cert_pem() + resp.ca_chain_pem(),
                           .key_pem = key_pem,
                           .info = std::move(*info)};
}

std::string refusal(const grpc::Status& status, std::string_view what, std::string_view addr) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return fmt::format("{}: collector {} unreachable: {}", what, addr, status.error_message());
    case grpc::StatusCode::UNIMPLEMENTED:
      return fmt::format("{}: the collector at {} does not enroll agents ({})", what, addr,
                         status.error_message());
    default:
      return fmt::format("{} refused by the collector: {}", what, status.error_message());
  }
}

}  // namespace

std::int64_t renew_at(const x509::CertInfo& info) {
  return info.not_before_s + (info.not_after_s - info.not_before_s) * 2 / 3;
}

Result<ClientCertificate> load_enrolled(const std::filesystem::path& tls_dir,
                                        const std::string& agent_id, std::int64_t now) {
  auto cert = read_file(tls_dir / kCertFile);
  auto key = read_file(tls_dir / kKeyFile);
  if (!cert || !key) {
    return make_error(ErrorCode::kNotFound, fmt::format("no certificate in {}", tls_dir.string()));
  }
  auto chain = read_file(tls_dir / kChainFile);
  auto info = x509::cert_info(*cert);
  if (!info) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: {}", (tls_dir / kCertFile).string(), info.error().message));
  }
  if (info->common_name != agent_id) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("the certificate in {} is for '{}', not '{}'", tls_dir.string(),
                                  info->common_name, agent_id));
  }
  if (now >= info->not_after_s) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("the certificate in {} expired", tls_dir.string()));
  }
  if (!x509::key_matches(*cert, *key)) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("the certificate in {} does not match its key", tls_dir.string()));
  }
  return ClientCertificate{.cert_chain_pem = *cert + (chain ? *chain : std::string()),
                           .key_pem = std::move(*key),
                           .info = std::move(*info)};
}

Result<ClientCertificate> ensure_enrolled(const EnrollSettings& s) {
  if (!x509::valid_agent_id(s.agent_id)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("agent id '{}' cannot be enrolled: 1..64 characters of "
                                  "[A-Za-z0-9._-] (set --agent-id or --host-id)",
                                  s.agent_id));
  }
  auto existing = load_enrolled(s.tls_dir, s.agent_id, now_s());
  if (existing) {
    return existing;
  }
  VLOG_INFO("enrolling with the collector at {} ({})", s.collector, existing.error().message);
  auto token = read_token(s.token_file);
  if (!token) {
    return std::unexpected(token.error());
  }
  auto key = x509::generate_key();
  if (!key) {
    return std::unexpected(key.error());
  }
  auto csr = x509::make_csr(*key, s.agent_id);
  if (!csr) {
    return std::unexpected(csr.error());
  }
  v1::EnrollRequest req;
  req.set_token(*token);
  req.set_agent_id(s.agent_id);
  req.set_csr_pem(*csr);
  auto stub = v1::EnrollService::NewStub(channel_to(s, "", ""));
  // A collector that is still starting (a fleet rolled out with it) gets a few
  // tries; a refusal is final.
  grpc::Status status;
  v1::EnrollResponse resp;
  auto delay = std::chrono::seconds(1);
  for (int attempt = 0; attempt < 5; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + s.rpc_timeout);
    status = stub->Enroll(&ctx, req, &resp);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      break;
    }
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
  if (!status.ok()) {
    return make_error(status.error_code() == grpc::StatusCode::PERMISSION_DENIED
                          ? ErrorCode::kPermission
                          : ErrorCode::kIo,
                      refusal(status, "enrollment", s.collector));
  }
  auto kept = keep(s, *key, resp);
  if (kept) {
    VLOG_INFO("enrolled as '{}': certificate {} valid until {}", s.agent_id, kept->info.serial_hex,
              kept->info.not_after_s);
  }
  return kept;
}

CertRenewer::CertRenewer(EnrollSettings settings, ClientCertificate current, Handler on_renewed)
    : settings_(std::move(settings)),
      current_(std::move(current)),
      on_renewed_(std::move(on_renewed)) {}

CertRenewer::~CertRenewer() { stop(); }

void CertRenewer::start() {
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { run(); });
  }
}

void CertRenewer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::uint64_t CertRenewer::renewals() const {
  std::lock_guard lock(mu_);
  return renewals_;
}

Result<ClientCertificate> CertRenewer::renew_once(const ClientCertificate& current) {
  auto key = x509::generate_key();  // a fresh key with every certificate
  if (!key) {
    return std::unexpected(key.error());
  }
  auto csr = x509::make_csr(*key, settings_.agent_id);
  if (!csr) {
    return std::unexpected(csr.error());
  }
  auto stub =
      v1::EnrollService::NewStub(channel_to(settings_, current.cert_chain_pem, current.key_pem));
  v1::RenewRequest req;
  req.set_csr_pem(*csr);
  v1::EnrollResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + settings_.rpc_timeout);
  if (auto status = stub->Renew(&ctx, req, &resp); !status.ok()) {
    return make_error(status.error_code() == grpc::StatusCode::PERMISSION_DENIED
                          ? ErrorCode::kPermission
                          : ErrorCode::kIo,
                      refusal(status, "certificate renewal", settings_.collector));
  }
  return keep(settings_, *key, resp);
}

void CertRenewer::run() {
  for (;;) {
    const auto due = renew_at(current_.info);
    const auto wait = std::chrono::seconds(std::max<std::int64_t>(0, due - now_s()));
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, wait, [this] { return stopping_; })) {
        return;
      }
    }
    auto renewed = renew_once(current_);
    if (renewed) {
      VLOG_INFO("renewed the client certificate: {} valid until {}", renewed->info.serial_hex,
                renewed->info.not_after_s);
      current_ = std::move(*renewed);
      {
        std::lock_guard lock(mu_);
        ++renewals_;
      }
      on_renewed_(current_);
      continue;
    }
    const auto left = current_.info.not_after_s - now_s();
    if (left <= 0) {
      VLOG_ERROR(
          "{}; the client certificate expired: the collector will refuse this agent "
          "until it enrolls again (a new enroll token, and remove {})",
          renewed.error().message, settings_.tls_dir.string());
    } else {
      VLOG_WARN("{}; retrying, the certificate is valid for {} s more", renewed.error().message,
                left);
    }
    // Retry sooner as the end nears: a tenth of what is left, 1 s .. 5 min.
    const auto retry = std::chrono::seconds(std::clamp<std::int64_t>(left / 10, 1, 300));
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, retry, [this] { return stopping_; })) {
      return;
    }
  }
}

}  // namespace vigil::agent
