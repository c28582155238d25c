// Rule packs from the collector (docs/operations.md, "Rule packs"): a signed
// RulePackUpdate is verified with the model public key (the trust models
// have), every file is checked with the Sigma engine, and the pack is written
// to STATE_DIR/rules-pack/<version>/ (a temporary directory renamed into
// place). The pack's directory then joins the configured rule directories
// and the agent reloads its rules; STATE_DIR/rules-pack/CURRENT names the pack
// that loaded, so a restart starts with it. The rule ids or names the pack
// disables (RulePack.disabled) are kept one per line in <version>/.disabled (a
// name no pack file can have, and not a rule file to the Sigma loader) and
// switch those rules off whatever their source. A bad pack is refused,
// counted, and the rules in force stay.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/agent/rules.h"
#include "vigil/result.h"
#include "vigil/v1/agent.pb.h"
#include "vigil/v1/rules.pb.h"

namespace vigil::agent {

// The pack inside `update` if its signature verifies against `pubkey_hex`,
// the version it names is the one signed, its file names and sizes are
// allowed, its disabled ids are well-formed (at least one file or one
// disabled id), and every file parses and every rule in it loads. An update
// with version "" is the signed "no pack" and holds neither.
[[nodiscard]] Result<v1::RulePack> verify_rule_pack_update(const v1::RulePackUpdate& update,
                                                           std::string_view pubkey_hex);

// Where a written pack keeps its disabled ids, one per line.
inline constexpr const char* kRulePackDisabledFile = ".disabled";

// Writes the pack's files (and its disabled ids, kRulePackDisabledFile) below
// `root`/<version>/ through a temporary directory renamed into place; returns
// that directory. Idempotent.
[[nodiscard]] Result<std::filesystem::path> write_rule_pack(const std::filesystem::path& root,
                                                            const v1::RulePack& pack);

// The agent's side of rule pack rollouts. Runs on the agent loop.
class RulePackUpdates {
 public:
  // At start: the pack that loaded last (root/CURRENT) joins `rule_dirs`, and
  // its disabled ids are read back.
  void restore(std::filesystem::path root, std::string pubkey_hex,
               std::vector<std::string>& rule_dirs);
  // Verifies and writes `update`, then puts its directory into `rule_dirs` in
  // place of the current pack's. True when the rules must be reloaded; false
  // when it was refused (counted) or is the pack in force already.
  bool stage(const v1::RulePackUpdate& update, std::vector<std::string>& rule_dirs);
  // After the reload: `loaded` makes the staged pack current (CURRENT is
  // rewritten, older pack directories removed); otherwise the previous pack's
  // directory goes back into `rule_dirs` and the refusal is counted.
  void commit(bool loaded, std::vector<std::string>& rule_dirs);

  // The rule ids or names the pack being loaded disables: the staged pack's
  // between stage() and commit(), the pack in force's otherwise.
  [[nodiscard]] const std::vector<std::string>& disabled() const {
    return staging_ ? staged_disabled_ : disabled_;
  }
  // Sets options.pack_disabled and pack_version from disabled(): every (re)load
  // of the rules goes through here.
  void apply(RulePackOptions& options) const;

  // The pack in force ("" = none), for hello and health.
  [[nodiscard]] const std::string& version() const { return version_; }
  [[nodiscard]] std::uint64_t refusals() const { return refusals_; }
  [[nodiscard]] const std::string& last_refusal() const { return last_refusal_; }
  // Sets the rule pack fields of a health report.
  void report(v1::Health& health) const;

 private:
  void refuse(const std::string& version, const std::string& why);
  [[nodiscard]] std::string dir_of(const std::string& version) const;

  std::filesystem::path root_;
  std::string pubkey_hex_;
  std::string version_;  // in force
  std::string digest_;   // of its signed bytes: a reissued version is a new pack
  std::vector<std::string> disabled_;
  std::string staged_;  // verified and written, waiting for commit
  std::string staged_digest_;
  std::vector<std::string> staged_disabled_;
  bool staging_ = false;
  std::uint64_t refusals_ = 0;
  std::string last_refusal_;
};

}  // namespace vigil::agent
