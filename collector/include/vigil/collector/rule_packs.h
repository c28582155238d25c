// The collector's Sigma rule packs (docs/operations.md, "Rule packs"): an
// operator pushes a directory of rules; the collector validates it with the
// agents' own Sigma engine (every file parses, every rule loads), signs it
// with the key that signs models, keeps it in RocksDB and rolls it out like a
// model (ArtefactRollout: canary, health gate, fleet, rollback). Agents are
// reached through RulePackLink so the class is testable without gRPC.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "vigil/collector/rollout.h"
#include "vigil/collector/store.h"
#include "vigil/result.h"
#include "vigil/signing.h"
#include "vigil/v1/agent.pb.h"
#include "vigil/v1/rules.pb.h"

namespace vigil::collector {

struct RulePackLink {
  std::function<std::vector<std::string>()> connected;
  // Queues a signed pack to one agent; false if it is not connected.
  std::function<bool(const std::string& agent_id, const v1::RulePackUpdate& update)> send;
};

// What validation found: the rules that loaded, or every reason the pack is refused.
struct RulePackCheck {
  std::uint32_t rules = 0;
  std::uint64_t bytes = 0;
  std::vector<std::string> problems;  // "FILE[ RULE]: reason"
  [[nodiscard]] bool ok() const { return problems.empty(); }
};
// Names, limits, then the Sigma engine: every file must parse as YAML and every
// rule in it must load (a rule for a logsource vigil does not produce is a
// problem too: a pack holds only what agents run). At least one rule or one
// disabled id; disabled ids are checked by check_rule_pack_disabled_id, at
// most kRulePackMaxDisabled, none twice.
[[nodiscard]] RulePackCheck check_rule_pack(const v1::RulePack& pack);

// The signed bytes of a pack as agents check them (vigil/rule_pack_format.h).
[[nodiscard]] v1::RulePackUpdate make_rule_pack_update(const std::string& version,
                                                       const std::string& pack_bytes,
                                                       const std::string& signature);

class RulePackManager {
 public:
  // `key` must outlive the manager (ModelManager::signing_key()).
  RulePackManager(Store& store, const SigningKey& key, RulePackLink link);
  RulePackManager(const RulePackManager&) = delete;
  RulePackManager& operator=(const RulePackManager&) = delete;

  // Restores the rollout state.
  [[nodiscard]] Result<void> init();

  [[nodiscard]] v1::ListRulePacksResponse list();
  [[nodiscard]] Result<v1::GetRulePackResponse> get(const std::string& version);
  // Validates, signs and registers a candidate. kInvalidArgument names every
  // problem (the first 20, then how many more).
  [[nodiscard]] Result<v1::RulePackInfo> push_pack(const v1::PushRulePackRequest& request,
                                                   std::uint64_t now_ns);

  [[nodiscard]] Result<v1::RolloutStatus> rollout(const std::string& version,
                                                  double canary_fraction, std::uint64_t soak_s,
                                                  std::uint64_t now_ns);
  // Every connected agent goes back to the previous pack; before the first
  // rollout that is no pack at all.
  [[nodiscard]] Result<v1::RolloutStatus> rollback(const std::string& reason, std::uint64_t now_ns);
  [[nodiscard]] v1::RolloutStatus status();
  // The rollout and the pack every known agent reports.
  [[nodiscard]] v1::RuleStatusResponse agents_status();

  void tick(std::uint64_t now_ns) { rollout_.tick(now_ns); }
  void on_hello(const std::string& agent_id, const std::string& rule_pack_version) {
    rollout_.on_hello(agent_id, rule_pack_version);
  }

  // The signed update for `version`; "" is the signed "no pack".
  [[nodiscard]] Result<v1::RulePackUpdate> update_for(const std::string& version,
                                                      std::uint64_t now_ns);

 private:
  [[nodiscard]] std::string active_version();
  void set_state(const std::string& version, const std::string& state);

  Store& store_;
  const SigningKey& key_;
  RulePackLink link_;
  std::mutex mu_;  // push_pack: version and seq allocation
  ArtefactRollout rollout_;
};

}  // namespace vigil::collector
