#include "vigil/agent/rule_update.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "vigil/agent/sigma.h"
#include "vigil/log.h"
#include "vigil/rule_pack_format.h"
#include "vigil/signing.h"

namespace vigil::agent {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCurrent = "CURRENT";

std::string shown(const std::string& version) { return version.empty() ? "(none)" : version; }

// Written, flushed to disk and closed; never through an existing file or link.
Result<void> write_file(const fs::path& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0) {
    return make_error(ErrorCode::kIo,
                      fmt::format("cannot create {}: {}", path.string(), std::strerror(errno)));
  }
  std::size_t off = 0;
  while (off < data.size()) {
    const auto n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return make_error(ErrorCode::kIo,
                        fmt::format("cannot write {}: {}", path.string(), std::strerror(err)));
    }
    off += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    return make_error(ErrorCode::kIo, fmt::format("cannot sync {}", path.string()));
  }
  return {};
}

void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

Result<v1::RulePack> verify_rule_pack_update(const v1::RulePackUpdate& update,
                                             std::string_view pubkey_hex) {
  // The signature first: nothing unsigned reaches the parsers.
  if (auto ok =
          verify_signature(pubkey_hex, rule_pack_signed_message(update.pack()), update.signature());
      !ok) {
    return make_error(ok.error().code, "refused: " + ok.error().message);
  }
  v1::RulePack pack;
  if (!pack.ParseFromString(update.pack())) {
    return make_error(ErrorCode::kCorrupt, "refused: not a vigil.v1.RulePack");
  }
  if (pack.version() != update.version()) {
    return make_error(
        ErrorCode::kPermission,
        fmt::format("refused: the signed pack is version '{}'", pack.version().substr(0, 128)));
  }
  if (pack.version().empty()) {
    if (pack.files_size() != 0 || pack.disabled_size() != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "refused: a pack without a version has files or disabled rules");
    }
    return pack;  // the signed "no pack"
  }
  if (auto r = check_rule_pack_version(pack.version()); !r) {
    return make_error(r.error().code, "refused: " + r.error().message);
  }
  if (static_cast<std::size_t>(pack.files_size()) > kRulePackMaxFiles) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("refused: {} files (at most {})", pack.files_size(), kRulePackMaxFiles));
  }
  if (static_cast<std::size_t>(pack.disabled_size()) > kRulePackMaxDisabled) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("refused: {} disabled rules (at most {})", pack.disabled_size(),
                                  kRulePackMaxDisabled));
  }
  if (pack.files_size() == 0 && pack.disabled_size() == 0) {
    return make_error(ErrorCode::kInvalidArgument, "refused: no files and no disabled rule");
  }
  std::set<std::string_view> disabled;
  for (const auto& id : pack.disabled()) {
    if (auto r = check_rule_pack_disabled_id(id); !r) {
      return make_error(r.error().code, "refused: " + r.error().message);
    }
    if (!disabled.insert(id).second) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("refused: disabled rule '{}' named twice", id));
    }
  }
  std::set<std::string_view> names;
  std::size_t bytes = 0;
  for (const auto& f : pack.files()) {
    if (auto r = check_rule_pack_file_name(f.name()); !r) {
      return make_error(r.error().code, "refused: " + r.error().message);
    }
    if (!names.insert(f.name()).second) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("refused: {} appears twice", f.name()));
    }
    if (f.yaml().size() > kRulePackMaxFileBytes) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("refused: {} is larger than {} bytes", f.name(), kRulePackMaxFileBytes));
    }
    bytes += f.yaml().size();
  }
  if (bytes > kRulePackMaxBytes) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("refused: {} bytes of rules (at most {})", bytes, kRulePackMaxBytes));
  }
  // This agent's engine may be older than the collector's: what it cannot load
  // is refused here, and the canary gate sees the refusal.
  sigma::RuleSet set;
  sigma::LoadReport report;
  for (const auto& f : pack.files()) {
    set.add_yaml(f.yaml(), f.name(), report);
  }
  if (report.files_failed > 0 || report.rules_failed > 0) {
    std::string first;
    for (const auto& e : report.entries) {
      if (!e.loaded && !e.skipped) {
        first = fmt::format("{}{}{}: {}", e.file, e.rule.empty() ? "" : " ", e.rule, e.reason);
        break;
      }
    }
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("refused: {} files do not parse, {} rules do not load; {}",
                                  report.files_failed, report.rules_failed, first.substr(0, 300)));
  }
  return pack;
}

Result<fs::path> write_rule_pack(const fs::path& root, const v1::RulePack& pack) {
  if (auto r = check_rule_pack_version(pack.version()); !r) {
    return std::unexpected(r.error());
  }
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("{}: {}", root.string(), ec.message()));
  }
  const fs::path final_dir = root / pack.version();
  const fs::path tmp = root / fmt::format(".tmp-{}-{}", pack.version(), ::getpid());
  fs::remove_all(tmp, ec);  // left by a crash
  if (!fs::create_directory(tmp, ec) || ec) {
    return make_error(ErrorCode::kIo, fmt::format("cannot create {}: {}", tmp.string(),
                                                  ec ? ec.message() : "exists"));
  }
  auto cleanup = [&] {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
  };
  fs::permissions(tmp, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  for (const auto& f : pack.files()) {
    if (auto r = check_rule_pack_file_name(f.name()); !r) {
      cleanup();
      return std::unexpected(r.error());
    }
    const fs::path path = tmp / f.name();
    fs::create_directories(path.parent_path(), ec);
    if (auto r = write_file(path, f.yaml()); !r) {
      cleanup();
      return std::unexpected(r.error());
    }
  }
  if (pack.disabled_size() > 0) {
    std::string lines;
    for (const auto& id : pack.disabled()) {
      if (auto r = check_rule_pack_disabled_id(id); !r) {  // one per line: no line breaks
        cleanup();
        return std::unexpected(r.error());
      }
      lines += id + "\n";
    }
    if (auto r = write_file(tmp / kRulePackDisabledFile, lines); !r) {
      cleanup();
      return std::unexpected(r.error());
    }
  }
  sync_dir(tmp);
  // Into place in one step. A directory of that name (a pack the agent held
  // before, or one a wiped collector reissued under the same version) is
  // swapped out atomically and removed.
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno != EEXIST ||
        ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) != 0) {
      const int err = errno;
      cleanup();
      return make_error(ErrorCode::kIo, fmt::format("cannot rename {} to {}: {}", tmp.string(),
                                                    final_dir.string(), std::strerror(err)));
    }
    cleanup();  // now the old directory
  }
  sync_dir(root);
  return final_dir;
}

// ------------------------------------------------------------------ updates

std::string RulePackUpdates::dir_of(const std::string& version) const {
  return (root_ / version).string();
}

void RulePackUpdates::refuse(const std::string& version, const std::string& why) {
  ++refusals_;
  last_refusal_ = fmt::format("{}: {}", shown(version).substr(0, 128), why);
  VLOG_WARN("rule pack {}", last_refusal_);
}

void RulePackUpdates::restore(fs::path root, std::string pubkey_hex,
                              std::vector<std::string>& rule_dirs) {
  root_ = std::move(root);
  pubkey_hex_ = std::move(pubkey_hex);
  std::ifstream in(root_ / kCurrent);
  std::string version;
  if (!in || !std::getline(in, version) || version.empty()) {
    return;
  }
  std::getline(in, digest_);
  std::error_code ec;
  if (!check_rule_pack_version(version) || !fs::is_directory(root_ / version, ec)) {
    VLOG_WARN("rule pack {}: {} names no pack directory; running without it", version,
              (root_ / kCurrent).string());
    return;
  }
  version_ = version;
  rule_dirs.push_back(dir_of(version_));
  // Written by write_rule_pack from a verified pack; absent when it disables nothing.
  std::ifstream ids(root_ / version_ / kRulePackDisabledFile);
  for (std::string id; std::getline(ids, id);) {
    if (check_rule_pack_disabled_id(id) && disabled_.size() < kRulePackMaxDisabled) {
      disabled_.push_back(std::move(id));
    }
  }
  VLOG_INFO("rule pack {} from {}{}", version_, dir_of(version_),
            disabled_.empty() ? "" : fmt::format(", disabling {} rules", disabled_.size()));
}

bool RulePackUpdates::stage(const v1::RulePackUpdate& update, std::vector<std::string>& rule_dirs) {
  auto pack = verify_rule_pack_update(update, pubkey_hex_);
  if (!pack) {
    refuse(update.version(), pack.error().message);
    return false;
  }
  const auto digest = digest_hex(update.pack());
  if (pack->version() == version_ && (version_.empty() || digest == digest_)) {
    return false;  // in force already
  }
  fs::path dir;
  if (!pack->version().empty()) {
    auto written = write_rule_pack(root_, *pack);
    if (!written) {
      refuse(pack->version(), written.error().message);
      return false;
    }
    dir = *written;
  }
  if (!version_.empty()) {
    std::erase(rule_dirs, dir_of(version_));
  }
  if (!dir.empty()) {
    rule_dirs.push_back(dir.string());
  }
  staged_ = pack->version();
  staged_digest_ = digest;
  staged_disabled_.assign(pack->disabled().begin(), pack->disabled().end());
  staging_ = true;
  return true;
}

void RulePackUpdates::commit(bool loaded, std::vector<std::string>& rule_dirs) {
  if (!staging_) {
    return;
  }
  staging_ = false;
  if (!loaded) {
    if (!staged_.empty() && staged_ != version_) {
      std::erase(rule_dirs, dir_of(staged_));
      std::error_code ec;
      fs::remove_all(dir_of(staged_), ec);
    }
    if (!version_.empty() && std::ranges::find(rule_dirs, dir_of(version_)) == rule_dirs.end()) {
      rule_dirs.push_back(dir_of(version_));
    }
    refuse(staged_,
           "the rules did not reload (a configured rule file does not parse); the "
           "rules in force stay");
    return;
  }
  VLOG_INFO("rule pack {} -> {}", shown(version_), shown(staged_));
  version_ = staged_;
  digest_ = staged_digest_;
  disabled_ = std::move(staged_disabled_);
  staged_disabled_.clear();
  std::error_code ec;
  if (version_.empty()) {
    fs::remove(root_ / kCurrent, ec);
  } else {
    const auto tmp = root_ / (std::string(kCurrent) + ".tmp");
    fs::remove(tmp, ec);
    auto written = write_file(tmp, version_ + "\n" + digest_ + "\n");
    fs::rename(tmp, root_ / kCurrent, ec);
    if (!written || ec) {
      VLOG_WARN("rule pack {} in force but not recorded in {}: a restart runs without it", version_,
                (root_ / kCurrent).string());
    }
  }
  sync_dir(root_);
  // Only the pack in force is kept: a rollback brings its pack again.
  std::vector<fs::path> old;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const auto name = entry.path().filename().string();
    if (name != kCurrent && name != version_) {
      old.push_back(entry.path());
    }
  }
  for (const auto& p : old) {
    fs::remove_all(p, ec);
  }
}

void RulePackUpdates::apply(RulePackOptions& options) const {
  options.pack_disabled = disabled();
  options.pack_version = shown(staging_ ? staged_ : version_);
}

void RulePackUpdates::report(v1::Health& health) const {
  health.set_rule_pack_version(version_);
  health.set_rule_pack_refusals(refusals_);
  health.set_rule_pack_refusal(last_refusal_);
}

}  // namespace vigil::agent
