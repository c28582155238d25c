#include "vigil/collector/rule_packs.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "vigil/agent/sigma.h"
#include "vigil/clock.h"
#include "vigil/log.h"
#include "vigil/rule_pack_format.h"

namespace vigil::collector {
namespace {

constexpr const char* kRolloutKey = "rule_rollout";
constexpr std::size_t kProblemsShown = 20;
constexpr std::size_t kMaxReasonBytes = 3000;
constexpr std::size_t kMaxDescription = 1024;

}  // namespace

RulePackCheck check_rule_pack(const v1::RulePack& pack) {
  RulePackCheck check;
  auto& problems = check.problems;
  if (pack.files_size() == 0 && pack.disabled_size() == 0) {
    problems.emplace_back("the pack has no files and disables no rule");
    return check;
  }
  if (static_cast<std::size_t>(pack.files_size()) > kRulePackMaxFiles) {
    problems.push_back(
        fmt::format("{} files: at most {} in a pack", pack.files_size(), kRulePackMaxFiles));
    return check;
  }
  if (pack.description().size() > kMaxDescription) {
    problems.push_back(fmt::format("description longer than {} bytes", kMaxDescription));
  }
  if (static_cast<std::size_t>(pack.disabled_size()) > kRulePackMaxDisabled) {
    problems.push_back(fmt::format("{} disabled rules: at most {} in a pack", pack.disabled_size(),
                                   kRulePackMaxDisabled));
  } else {
    std::set<std::string_view> disabled;
    for (const auto& id : pack.disabled()) {
      if (auto r = check_rule_pack_disabled_id(id); !r) {
        problems.push_back(r.error().message);
      } else if (!disabled.insert(id).second) {
        problems.push_back(fmt::format("disabled rule '{}': named twice", id));
      }
    }
  }
  std::set<std::string> names;
  for (const auto& f : pack.files()) {
    check.bytes += f.yaml().size();
    if (auto r = check_rule_pack_file_name(f.name()); !r) {
      problems.push_back(r.error().message);
    } else if (!names.insert(f.name()).second) {
      problems.push_back(fmt::format("{}: the name appears twice", f.name()));
    }
    if (f.yaml().size() > kRulePackMaxFileBytes) {
      problems.push_back(fmt::format("{}: {} bytes, at most {} per file", f.name(), f.yaml().size(),
                                     kRulePackMaxFileBytes));
    }
  }
  if (check.bytes > kRulePackMaxBytes) {
    problems.push_back(
        fmt::format("{} bytes of YAML, at most {} in a pack", check.bytes, kRulePackMaxBytes));
  }
  if (!problems.empty()) {
    return check;  // names and sizes first: nothing oversized reaches the parser
  }
  // The agents' engine, so that what passes here loads there.
  agent::sigma::RuleSet set;
  agent::sigma::LoadReport report;
  for (const auto& f : pack.files()) {
    set.add_yaml(f.yaml(), f.name(), report);
  }
  for (const auto& e : report.entries) {
    if (!e.loaded) {
      problems.push_back(fmt::format("{}{}{}: {}{}", e.file, e.rule.empty() ? "" : " ", e.rule,
                                     e.skipped ? "not for a logsource vigil produces: " : "",
                                     e.reason.empty() ? "did not load" : e.reason));
    }
  }
  if (report.files_failed > 0 && problems.empty()) {
    problems.push_back(fmt::format("{} files did not parse as YAML", report.files_failed));
  }
  check.rules = static_cast<std::uint32_t>(report.rules_loaded);
  if (problems.empty() && check.rules == 0 && pack.disabled_size() == 0) {
    problems.emplace_back("no rule in the pack");
  }
  return check;
}

v1::RulePackUpdate make_rule_pack_update(const std::string& version, const std::string& pack_bytes,
                                         const std::string& signature) {
  v1::RulePackUpdate u;
  u.set_version(version);
  u.set_pack(pack_bytes);
  u.set_signature(signature);
  return u;
}

RulePackManager::RulePackManager(Store& store, const SigningKey& key, RulePackLink link)
    : store_(store),
      key_(key),
      link_(std::move(link)),
      rollout_(store, {.noun = "rule pack", .state_key = kRolloutKey, .empty_is_a_version = true},
               {.connected = [this] { return link_.connected(); },
                .push =
                    [this](const std::string& id, const std::string& version,
                           const PushScope& /*scope*/) {
                      auto update = update_for(version, unix_now_ns());
                      if (!update) {
                        VLOG_WARN("rule pack {}: {}", version, update.error().message);
                        return false;
                      }
                      return link_.send(id, *update);
                    },
                .running = [](const v1::AgentRecord& a) { return a.rule_pack_version(); },
                .exists = [this](const std::string& version) -> Result<bool> {
                  auto rec = store_.get_rule_pack(version);
                  if (!rec) {
                    return std::unexpected(rec.error());
                  }
                  return rec->has_value();
                },
                .active_version = [this] { return active_version(); },
                .set_state = [this](const std::string& version,
                                    const std::string& state) { set_state(version, state); }}) {}

Result<void> RulePackManager::init() { return rollout_.restore(); }

std::string RulePackManager::active_version() {
  for (const auto& p : store_.rule_packs()) {
    if (p.info().state() == "active") {
      return p.info().version();
    }
  }
  return {};
}

void RulePackManager::set_state(const std::string& version, const std::string& state) {
  auto rec = store_.get_rule_pack(version);
  if (rec && rec->has_value()) {
    (*rec)->mutable_info()->set_state(state);
    if (auto r = store_.put_rule_pack(**rec); !r) {
      VLOG_WARN("rule pack {}: cannot record state {}: {}", version, state, r.error().message);
    }
  }
}

Result<v1::RulePackUpdate> RulePackManager::update_for(const std::string& version,
                                                       std::uint64_t now_ns) {
  if (version.empty()) {
    // "No pack" is signed too: otherwise anyone on the path could switch a
    // fleet's rules off with one unsigned message.
    v1::RulePack none;
    none.set_created_ns(now_ns);
    const auto bytes = none.SerializeAsString();
    return make_rule_pack_update("", bytes, key_.sign(rule_pack_signed_message(bytes)));
  }
  auto rec = store_.get_rule_pack(version);
  if (!rec) {
    return std::unexpected(rec.error());
  }
  if (!rec->has_value()) {
    return make_error(ErrorCode::kNotFound, "no rule pack " + version);
  }
  return make_rule_pack_update(version, (*rec)->pack(), (*rec)->signature());
}

v1::ListRulePacksResponse RulePackManager::list() {
  v1::ListRulePacksResponse resp;
  auto packs = store_.rule_packs();
  std::ranges::sort(packs,
                    [](const auto& a, const auto& b) { return a.info().seq() > b.info().seq(); });
  for (const auto& p : packs) {
    *resp.add_packs() = p.info();
  }
  resp.set_signing_public_key(key_.public_key_hex());
  return resp;
}

Result<v1::GetRulePackResponse> RulePackManager::get(const std::string& version) {
  auto rec = store_.get_rule_pack(version);
  if (!rec) {
    return std::unexpected(rec.error());
  }
  if (!rec->has_value()) {
    return make_error(ErrorCode::kNotFound, "no rule pack " + version);
  }
  v1::GetRulePackResponse resp;
  *resp.mutable_info() = (*rec)->info();
  resp.set_pack((*rec)->pack());
  resp.set_signature((*rec)->signature());
  return resp;
}

Result<v1::RulePackInfo> RulePackManager::push_pack(const v1::PushRulePackRequest& request,
                                                    std::uint64_t now_ns) {
  if (!request.version().empty()) {
    if (auto r = check_rule_pack_version(request.version()); !r) {
      return std::unexpected(r.error());
    }
  }
  v1::RulePack pack;
  pack.set_created_ns(now_ns);
  pack.set_description(request.description());
  *pack.mutable_files() = request.files();
  *pack.mutable_disabled() = request.disabled();  // as given: that order is shown
  // Files in name order: the same directory pushed twice is the same pack.
  std::ranges::sort(*pack.mutable_files(),
                    [](const auto& a, const auto& b) { return a.name() < b.name(); });
  const auto check = check_rule_pack(pack);
  if (!check.ok()) {
    std::string why = fmt::format("rule pack refused: {} problem{}", check.problems.size(),
                                  check.problems.size() == 1 ? "" : "s");
    // The reasons travel in the status message, a trailer: a few KiB at most.
    std::size_t shown = 0;
    for (; shown < check.problems.size() && shown < kProblemsShown; ++shown) {
      const auto line = "\n  " + check.problems[shown].substr(0, 300);
      if (why.size() + line.size() > kMaxReasonBytes) break;
      why += line;
    }
    if (shown < check.problems.size()) {
      why += fmt::format("\n  ... and {} more", check.problems.size() - shown);
    }
    return make_error(ErrorCode::kInvalidArgument, std::move(why));
  }
  std::lock_guard lock(mu_);
  const auto existing = store_.rule_packs();
  std::uint64_t seq = 1;
  for (const auto& p : existing) {
    seq = std::max(seq, p.info().seq() + 1);
  }
  std::string version = request.version();
  if (version.empty()) {
    for (std::uint64_t n = seq;; ++n) {
      version = fmt::format("rp-{}", n);
      if (std::ranges::none_of(existing,
                               [&](const auto& p) { return p.info().version() == version; })) {
        break;
      }
    }
  } else if (std::ranges::any_of(existing,
                                 [&](const auto& p) { return p.info().version() == version; })) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("rule pack {} is already registered", version));
  }
  pack.set_version(version);
  v1::RulePackRecord rec;
  if (!pack.SerializeToString(rec.mutable_pack())) {
    return make_error(ErrorCode::kInternal, "rule pack does not serialise");
  }
  rec.set_signature(key_.sign(rule_pack_signed_message(rec.pack())));
  auto* info = rec.mutable_info();
  info->set_version(version);
  info->set_created_ns(now_ns);
  info->set_state("candidate");
  info->set_files(static_cast<std::uint32_t>(pack.files_size()));
  info->set_rules(check.rules);
  info->set_bytes(check.bytes);
  info->set_digest(digest_hex(rec.pack()));
  info->set_description(pack.description());
  info->set_seq(seq);
  *info->mutable_disabled() = pack.disabled();
  if (auto r = store_.put_rule_pack(rec); !r) {
    return std::unexpected(r.error());
  }
  VLOG_INFO("rule pack {} registered: {} files, {} rules, {} disabled", version, info->files(),
            info->rules(), info->disabled_size());
  return rec.info();
}

Result<v1::RolloutStatus> RulePackManager::rollout(const std::string& version,
                                                   double canary_fraction, std::uint64_t soak_s,
                                                   std::uint64_t now_ns) {
  return rollout_.start(version, canary_fraction, soak_s, now_ns);
}

Result<v1::RolloutStatus> RulePackManager::rollback(const std::string& reason,
                                                    std::uint64_t now_ns) {
  return rollout_.rollback(reason, now_ns);
}

v1::RolloutStatus RulePackManager::status() { return rollout_.status(); }

v1::RuleStatusResponse RulePackManager::agents_status() {
  v1::RuleStatusResponse resp;
  *resp.mutable_rollout() = rollout_.status();
  auto agents = store_.agents();
  std::ranges::sort(agents,
                    [](const auto& a, const auto& b) { return a.agent_id() < b.agent_id(); });
  for (const auto& a : agents) {
    auto* r = resp.add_agents();
    r->set_agent_id(a.agent_id());
    r->set_connected(a.connected());
    r->set_version(a.rule_pack_version());
    r->set_refusals(a.rule_pack_refusals());
    r->set_refusal(a.rule_pack_refusal());
  }
  return resp;
}

}  // namespace vigil::collector
