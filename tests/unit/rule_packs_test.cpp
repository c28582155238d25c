// Rule packs as a fleet artefact: the collector's validation (names, limits,
// the Sigma engine), signing and registry, the shared canary rollout with
// rollback to the previous pack (or to none), and the agent's side: signature
// check, atomic write under STATE_DIR/rules-pack/, CURRENT, refusals; packs
// that disable rules (RulePack.disabled) on every source, across a restart,
// until rolled back. A real RocksDB store in a temp dir; agents faked behind
// RulePackLink.
#include "vigil/collector/rule_packs.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "util/test_util.h"
#include "vigil/agent/model_update.h"
#include "vigil/agent/pipeline.h"
#include "vigil/agent/rule_update.h"
#include "vigil/collector/models.h"
#include "vigil/rule_pack_format.h"
#include "vigil/signing.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;
using collector::check_rule_pack;
using collector::RulePackLink;
using collector::RulePackManager;
using collector::Store;

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kT0 = 1'790'000'000ULL * kSec;

std::string rule_yaml(const std::string& marker, const std::string& id) {
  return "title: Marker " + marker + "\nid: " + id + "\nname: marker-" + marker +
         "\nstatus: test\nauthor: vigil tests\nlogsource:\n  product: linux\n  category: "
         "process_creation\ndetection:\n  sel:\n    CommandLine|contains: '" +
         marker + "'\n  condition: sel\nlevel: high\n";
}

v1::RulePackFile file(const std::string& name, const std::string& yaml) {
  v1::RulePackFile f;
  f.set_name(name);
  f.set_yaml(yaml);
  return f;
}

v1::PushRulePackRequest push_request(const std::string& marker, const std::string& version = {}) {
  v1::PushRulePackRequest req;
  req.set_version(version);
  *req.add_files() = file("marker.yml", rule_yaml(marker, "6f9c1a52-0d1e-4a8b-9c3e-0000000000" +
                                                              std::to_string(10 + marker.size())));
  return req;
}

std::string slurp_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool mentions(const std::vector<std::string>& problems, const std::string& what) {
  return std::ranges::any_of(problems,
                             [&](const auto& p) { return p.find(what) != std::string::npos; });
}

std::string all(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += p + "\n";
  return out;
}

TEST(RulePackFormat, NamesAndVersionsCannotLeaveThePackDirectory) {
  EXPECT_OK(check_rule_pack_file_name("a.yml"));
  EXPECT_OK(check_rule_pack_file_name("linux/process_creation/proc_x.yaml"));
  for (const char* bad : {"../x.yml", "/etc/x.yml", "a/../../x.yml", "a//b.yml", ".hidden.yml",
                          "a/.git/b.yml", "x.txt", "sp ace.yml", "", "x.yml/"}) {
    EXPECT_FALSE(check_rule_pack_file_name(bad)) << bad;
  }
  EXPECT_OK(check_rule_pack_version("rp-1"));
  EXPECT_OK(check_rule_pack_version("2026.12:sigma-update"));
  for (const char* bad : {"", ".", "..", "../x", "a/b", ".rp", "a b"}) {
    EXPECT_FALSE(check_rule_pack_version(bad)) << bad;
  }
  EXPECT_FALSE(check_rule_pack_version(std::string(129, 'a')));
}

TEST(RulePackCheck, AGoodPackLoadsEveryRule) {
  v1::RulePack pack;
  *pack.add_files() = file("a.yml", rule_yaml("alpha", "6f9c1a52-0d1e-4a8b-9c3e-000000000001"));
  *pack.add_files() =
      file("sub/b.yaml", rule_yaml("beta", "6f9c1a52-0d1e-4a8b-9c3e-000000000002") + "---\n" +
                             rule_yaml("gamma", "6f9c1a52-0d1e-4a8b-9c3e-000000000003"));
  const auto check = check_rule_pack(pack);
  EXPECT_TRUE(check.ok()) << all(check.problems);
  EXPECT_EQ(check.rules, 3U);
}

TEST(RulePackCheck, ABadPackIsRefusedWithEveryReason) {
  v1::RulePack pack;
  *pack.add_files() = file("good.yml", rule_yaml("alpha", "6f9c1a52-0d1e-4a8b-9c3e-000000000001"));
  *pack.add_files() = file("broken.yml", "title: [unclosed\n  detection: {\n");
  auto bad_modifier = rule_yaml("beta", "6f9c1a52-0d1e-4a8b-9c3e-000000000002");
  bad_modifier.replace(bad_modifier.find("|contains"), 9, "|frobnicate");
  *pack.add_files() = file("modifier.yml", bad_modifier);
  auto windows = rule_yaml("gamma", "6f9c1a52-0d1e-4a8b-9c3e-000000000003");
  windows.replace(windows.find("product: linux"), 14, "product: windows");
  *pack.add_files() = file("windows.yml", windows);
  const auto check = check_rule_pack(pack);
  ASSERT_FALSE(check.ok());
  EXPECT_TRUE(mentions(check.problems, "broken.yml")) << all(check.problems);
  EXPECT_TRUE(mentions(check.problems, "modifier.yml")) << all(check.problems);
  EXPECT_TRUE(mentions(check.problems, "frobnicate")) << all(check.problems);
  EXPECT_TRUE(mentions(check.problems, "windows.yml")) << all(check.problems);
  EXPECT_FALSE(mentions(check.problems, "good.yml")) << all(check.problems);

  v1::RulePack names;
  *names.add_files() =
      file("../escape.yml", rule_yaml("a", "6f9c1a52-0d1e-4a8b-9c3e-000000000001"));
  *names.add_files() = file("x.yml", rule_yaml("b", "6f9c1a52-0d1e-4a8b-9c3e-000000000002"));
  *names.add_files() = file("x.yml", rule_yaml("c", "6f9c1a52-0d1e-4a8b-9c3e-000000000003"));
  *names.add_files() = file("big.yml", std::string(kRulePackMaxFileBytes + 1, '#'));
  const auto named = check_rule_pack(names);
  EXPECT_TRUE(mentions(named.problems, "../escape.yml")) << all(named.problems);
  EXPECT_TRUE(mentions(named.problems, "appears twice")) << all(named.problems);
  EXPECT_TRUE(mentions(named.problems, "big.yml")) << all(named.problems);

  EXPECT_TRUE(mentions(check_rule_pack(v1::RulePack{}).problems, "no files"));
  v1::RulePack comments_only;
  *comments_only.add_files() = file("empty.yml", "# nothing here\n");
  EXPECT_FALSE(check_rule_pack(comments_only).ok()) << "a pack must hold at least one rule";
}

TEST(RulePackCheck, APackMayOnlyDisableRules) {
  v1::RulePack only;
  only.add_disabled("history-disable");
  only.add_disabled("6f9c1a52-0d1e-4a8b-9c3e-000000000001");
  auto check = check_rule_pack(only);
  EXPECT_TRUE(check.ok()) << all(check.problems);
  EXPECT_EQ(check.rules, 0U);

  v1::RulePack both;
  *both.add_files() = file("a.yml", rule_yaml("alpha", "6f9c1a52-0d1e-4a8b-9c3e-000000000001"));
  both.add_disabled("marker-alpha");
  check = check_rule_pack(both);
  EXPECT_TRUE(check.ok()) << all(check.problems);
  EXPECT_EQ(check.rules, 1U);

  // Files without a rule are fine when the pack disables something.
  v1::RulePack comments;
  *comments.add_files() = file("empty.yml", "# nothing here\n");
  comments.add_disabled("history-disable");
  EXPECT_TRUE(check_rule_pack(comments).ok()) << all(check_rule_pack(comments).problems);

  const auto none = check_rule_pack(v1::RulePack{});
  ASSERT_EQ(none.problems.size(), 1U);
  EXPECT_EQ(none.problems[0], "the pack has no files and disables no rule");

  // The limits themselves are allowed.
  v1::RulePack limits;
  limits.add_disabled(std::string(kRulePackMaxDisabledBytes, 'x'));
  for (std::size_t i = 1; i < kRulePackMaxDisabled; ++i) {
    limits.add_disabled(fmt::format("rule-{}", i));
  }
  EXPECT_TRUE(check_rule_pack(limits).ok()) << all(check_rule_pack(limits).problems);
}

TEST(RulePackCheck, BadDisabledIdsAreRefusedWithEveryReason) {
  v1::RulePack pack;
  *pack.add_files() = file("a.yml", rule_yaml("alpha", "6f9c1a52-0d1e-4a8b-9c3e-000000000001"));
  pack.add_disabled("");
  pack.add_disabled(std::string(kRulePackMaxDisabledBytes + 1, 'a'));
  pack.add_disabled("two\nlines");
  pack.add_disabled("caf\xc3\xa9");
  pack.add_disabled("dup");
  pack.add_disabled("dup");
  pack.add_disabled("fine id");
  const auto check = check_rule_pack(pack);
  ASSERT_EQ(check.problems.size(), 5U) << all(check.problems);
  EXPECT_TRUE(mentions(check.problems, "disabled rule '': empty")) << all(check.problems);
  EXPECT_TRUE(mentions(check.problems, "201 bytes, at most 200")) << all(check.problems);
  EXPECT_TRUE(mentions(check.problems, "'two?lines': not printable ASCII")) << all(check.problems);
  EXPECT_TRUE(mentions(check.problems, std::string("'caf?") + "?': not printable ASCII"))
      << all(check.problems);
  EXPECT_TRUE(mentions(check.problems, "disabled rule 'dup': named twice")) << all(check.problems);

  v1::RulePack many;
  for (std::size_t i = 0; i <= kRulePackMaxDisabled; ++i) {
    many.add_disabled(fmt::format("rule-{}", i));
  }
  const auto too_many = check_rule_pack(many);
  EXPECT_TRUE(mentions(too_many.problems, "1001 disabled rules: at most 1000"))
      << all(too_many.problems);
  EXPECT_FALSE(mentions(too_many.problems, "no rule")) << all(too_many.problems);
}

struct FakeAgents {
  std::vector<std::string> connected;
  std::map<std::string, std::vector<v1::RulePackUpdate>> sent;
  RulePackLink link() {
    return {.connected = [this] { return connected; },
            .send =
                [this](const std::string& id, const v1::RulePackUpdate& u) {
                  sent[id].push_back(u);
                  return true;
                }};
  }
};

// The agent reports `version` in its hello.
void report(Store& s, const std::string& agent, const std::string& version) {
  v1::Hello h;
  h.set_agent_id(agent);
  h.set_host_id(agent);
  h.set_spool_id(1);
  h.set_rule_pack_version(version);
  ASSERT_OK(s.register_agent(h, kT0));
}

class RulePacks : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.path() / "db", {.sync = false});
    ASSERT_OK(s);
    store_ = std::move(*s);
    auto key = SigningKey::load_or_create(dir_.path() / "signing.key");
    ASSERT_OK(key);
    key_ = std::move(*key);
    agents_.connected = {"a", "b", "c", "d"};
    for (const auto& id : agents_.connected) report(*store_, id, "");
  }
  test::TempDir dir_;
  std::unique_ptr<Store> store_;
  SigningKey key_;
  FakeAgents agents_;
};

TEST_F(RulePacks, PushRefusesABadPackWithItsReasonsAndStoresNothing) {
  RulePackManager m(*store_, key_, agents_.link());
  ASSERT_OK(m.init());
  v1::PushRulePackRequest req;
  *req.add_files() = file("ok.yml", rule_yaml("alpha", "6f9c1a52-0d1e-4a8b-9c3e-000000000001"));
  *req.add_files() = file("broken.yml", "detection: [\n");
  auto r = m.push_pack(req, kT0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("rule pack refused: 1 problem"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("broken.yml"), std::string::npos) << r.error().message;
  EXPECT_EQ(m.list().packs_size(), 0) << "a refused pack is not registered";
  req.set_version("../../etc");
  r = m.push_pack(req, kT0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("version"), std::string::npos) << r.error().message;

  // Many problems: the message stays small enough for a gRPC trailer.
  v1::PushRulePackRequest many;
  for (int i = 0; i < 200; ++i) {
    *many.add_files() = file(fmt::format("f{:03}.yml", i), "detection: [\n");
  }
  r = m.push_pack(many, kT0);
  ASSERT_FALSE(r);
  EXPECT_LT(r.error().message.size(), 4000U);
  EXPECT_NE(r.error().message.find("rule pack refused: 200 problems"), std::string::npos);
  EXPECT_NE(r.error().message.find("more"), std::string::npos);
}

TEST_F(RulePacks, SignedPacksVerifyOnAgentsAndTamperingDoesNot) {
  RulePackManager m(*store_, key_, agents_.link());
  ASSERT_OK(m.init());
  auto info = m.push_pack(push_request("alpha"), kT0);
  ASSERT_OK(info);
  EXPECT_EQ(info->version(), "rp-1");
  EXPECT_EQ(info->state(), "candidate");
  EXPECT_EQ(info->rules(), 1U);
  EXPECT_EQ(info->digest().size(), 64U);
  EXPECT_EQ(m.list().signing_public_key(), key_.public_key_hex());

  auto update = m.update_for("rp-1", kT0);
  ASSERT_OK(update);
  const auto pub = key_.public_key_hex();
  auto pack = agent::verify_rule_pack_update(*update, pub);
  ASSERT_OK(pack);
  EXPECT_EQ(pack->version(), "rp-1");
  ASSERT_EQ(pack->files_size(), 1);
  EXPECT_EQ(pack->files(0).name(), "marker.yml");

  auto tampered = *update;
  tampered.mutable_pack()->back() ^= 1;
  EXPECT_FALSE(agent::verify_rule_pack_update(tampered, pub)) << "one flipped byte";
  EXPECT_FALSE(agent::verify_rule_pack_update(*update, std::string(64, 'a'))) << "another key";
  auto no_key = agent::verify_rule_pack_update(*update, "");
  ASSERT_FALSE(no_key);
  EXPECT_NE(no_key.error().message.find("model_pubkey"), std::string::npos);
  auto relabelled = *update;
  relabelled.set_version("rp-9");
  EXPECT_FALSE(agent::verify_rule_pack_update(relabelled, pub))
      << "the version is the one signed, not the envelope's";

  // A model signed by the same key is not a rule pack: the signatures are
  // over different messages.
  collector::ModelConfig cfg;
  cfg.signing_key = dir_.path() / "signing.key";
  cfg.evolve_interval_s = 0;
  collector::ModelManager models(*store_, cfg,
                                 {.connected = [] { return std::vector<std::string>{}; },
                                  .send = [](const auto&, const auto&) { return true; }});
  auto model = agent::baseline_model()->proto();
  model.set_version("m1");
  ASSERT_OK(models.init(model.SerializeAsString(), kT0));
  EXPECT_EQ(models.public_key_hex(), pub) << "one key signs models and packs";
  auto signed_model = models.get("m1");
  ASSERT_OK(signed_model);
  v1::RulePackUpdate forged;
  forged.set_version("m1");
  forged.set_pack(signed_model->model());
  forged.set_signature(signed_model->signature());
  EXPECT_FALSE(agent::verify_rule_pack_update(forged, pub));
  forged.set_version("");
  EXPECT_FALSE(agent::verify_rule_pack_update(forged, pub));

  // "No pack" is signed too.
  auto none = m.update_for("", kT0);
  ASSERT_OK(none);
  auto empty = agent::verify_rule_pack_update(*none, pub);
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->version().empty());
  auto unsigned_none = *none;
  unsigned_none.clear_signature();
  EXPECT_FALSE(agent::verify_rule_pack_update(unsigned_none, pub));
}

TEST_F(RulePacks, ADisableOnlyPackIsRegisteredSignedAndListed) {
  RulePackManager m(*store_, key_, agents_.link());
  ASSERT_OK(m.init());
  v1::PushRulePackRequest req;
  req.add_disabled("history-disable");
  req.add_disabled("6f9c1a52-0d1e-4a8b-9c3e-000000000001");
  req.set_description("quiet");
  auto info = m.push_pack(req, kT0);
  ASSERT_OK(info);
  EXPECT_EQ(info->files(), 0U);
  EXPECT_EQ(info->rules(), 0U);
  EXPECT_EQ(std::vector<std::string>(info->disabled().begin(), info->disabled().end()),
            (std::vector<std::string>{"history-disable", "6f9c1a52-0d1e-4a8b-9c3e-000000000001"}));
  const auto list = m.list();
  ASSERT_EQ(list.packs_size(), 1);
  EXPECT_EQ(list.packs(0).disabled_size(), 2);

  auto update = m.update_for(info->version(), kT0);
  ASSERT_OK(update);
  const auto pub = key_.public_key_hex();
  auto pack = agent::verify_rule_pack_update(*update, pub);
  ASSERT_OK(pack);
  EXPECT_EQ(pack->files_size(), 0);
  ASSERT_EQ(pack->disabled_size(), 2);
  EXPECT_EQ(pack->disabled(0), "history-disable");

  // The signature covers the disabled ids: one changed is refused.
  v1::RulePack changed;
  ASSERT_TRUE(changed.ParseFromString(update->pack()));
  changed.set_disabled(0, "history-tamper");
  auto forged = *update;
  forged.set_pack(changed.SerializeAsString());
  EXPECT_FALSE(agent::verify_rule_pack_update(forged, pub));
  changed.set_disabled(0, "history-disable");
  changed.add_disabled("cron-write");
  forged.set_pack(changed.SerializeAsString());
  EXPECT_FALSE(agent::verify_rule_pack_update(forged, pub)) << "one added";

  // Bad ids are refused with the reasons; nothing is registered.
  v1::PushRulePackRequest bad;
  bad.add_disabled("x");
  bad.add_disabled("x");
  bad.add_disabled("");
  auto r = m.push_pack(bad, kT0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("rule pack refused: 2 problems"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("'x': named twice"), std::string::npos) << r.error().message;
  auto empty = m.push_pack(v1::PushRulePackRequest{}, kT0);
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("no files and disables no rule"), std::string::npos)
      << empty.error().message;
  EXPECT_EQ(m.list().packs_size(), 1);
}

TEST_F(RulePacks, VersionsAreOrderedAndUnique) {
  RulePackManager m(*store_, key_, agents_.link());
  ASSERT_OK(m.init());
  ASSERT_OK(m.push_pack(push_request("alpha"), kT0));
  ASSERT_OK(m.push_pack(push_request("beta", "sigma-2026-12"), kT0 + kSec));
  auto third = m.push_pack(push_request("gamma"), kT0 + 2 * kSec);
  ASSERT_OK(third);
  EXPECT_EQ(third->version(), "rp-3") << "named by push order";
  EXPECT_EQ(third->seq(), 3U);
  auto again = m.push_pack(push_request("delta", "sigma-2026-12"), kT0);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already registered"), std::string::npos);
  const auto list = m.list();
  ASSERT_EQ(list.packs_size(), 3);
  EXPECT_EQ(list.packs(0).version(), "rp-3") << "newest first";
  EXPECT_EQ(list.packs(1).version(), "sigma-2026-12");
  EXPECT_EQ(list.packs(2).version(), "rp-1");
  EXPECT_FALSE(m.get("nope"));
}

TEST_F(RulePacks, CanaryFleetThenRollbackToThePreviousPackThenToNone) {
  RulePackManager m(*store_, key_, agents_.link());
  ASSERT_OK(m.init());
  ASSERT_OK(m.push_pack(push_request("alpha"), kT0));  // rp-1
  ASSERT_OK(m.push_pack(push_request("beta"), kT0));   // rp-2
  m.on_hello("a", "");
  EXPECT_TRUE(agents_.sent.empty()) << "nothing rolled out yet: agents keep their own rules";

  auto st = m.rollout("rp-1", 0.5, 60, kT0);
  ASSERT_OK(st);
  EXPECT_EQ(st->phase(), "canary");
  EXPECT_EQ(st->previous_version(), "");
  ASSERT_EQ(agents_.sent["a"].size(), 1U);
  EXPECT_EQ(agents_.sent["a"][0].version(), "rp-1");
  EXPECT_TRUE(agents_.sent["c"].empty());
  report(*store_, "a", "rp-1");
  report(*store_, "b", "rp-1");
  m.tick(kT0 + 61 * kSec);
  EXPECT_EQ(m.status().phase(), "fleet");
  EXPECT_EQ(agents_.sent["c"].back().version(), "rp-1");
  for (const auto& id : {"c", "d"}) report(*store_, id, "rp-1");

  ASSERT_OK(m.rollout("rp-2", 1.0, 10, kT0 + 100 * kSec));
  for (const auto& id : agents_.connected) report(*store_, id, "rp-2");
  m.tick(kT0 + 111 * kSec);
  ASSERT_EQ(m.status().phase(), "fleet");
  auto list = m.list();
  for (const auto& p : list.packs()) {
    EXPECT_EQ(p.state(), p.version() == "rp-2" ? "active" : "retired") << p.version();
  }
  const auto status = m.agents_status();
  ASSERT_EQ(status.agents_size(), 4);
  EXPECT_EQ(status.agents(0).version(), "rp-2");
  EXPECT_EQ(status.rollout().agents_updated(), 4U);

  // Rollback: the pack before, not the first one nor none.
  auto back = m.rollback("noisy", kT0 + 200 * kSec);
  ASSERT_OK(back);
  EXPECT_EQ(back->phase(), "rolled_back");
  for (const auto& id : agents_.connected) {
    EXPECT_EQ(agents_.sent[id].back().version(), "rp-1") << id;
  }
  list = m.list();
  for (const auto& p : list.packs()) {
    EXPECT_EQ(p.state(), p.version() == "rp-2" ? "rolled_back" : "active") << p.version();
  }
  EXPECT_FALSE(m.rollback("again", kT0)) << "nothing left to roll back";

  // An agent that was away comes back on the rolled-back pack: it is corrected.
  m.on_hello("e", "rp-2");
  ASSERT_EQ(agents_.sent["e"].size(), 1U);
  EXPECT_EQ(agents_.sent["e"][0].version(), "rp-1");

  // The state survives a restart.
  RulePackManager restarted(*store_, key_, agents_.link());
  ASSERT_OK(restarted.init());
  EXPECT_EQ(restarted.status().phase(), "rolled_back");
}

TEST_F(RulePacks, RollingBackTheFirstPackLeavesAgentsWithNone) {
  RulePackManager m(*store_, key_, agents_.link());
  ASSERT_OK(m.init());
  ASSERT_OK(m.push_pack(push_request("alpha"), kT0));
  ASSERT_OK(m.rollout("rp-1", 0.25, 5, kT0));
  report(*store_, "a", "rp-1");
  auto back = m.rollback("", kT0 + kSec);
  ASSERT_OK(back);
  EXPECT_EQ(back->reason(), "rolled back by an operator");
  for (const auto& id : agents_.connected) {
    ASSERT_FALSE(agents_.sent[id].empty()) << id;
    EXPECT_EQ(agents_.sent[id].back().version(), "") << id << ": the signed 'no pack'";
    EXPECT_OK(agent::verify_rule_pack_update(agents_.sent[id].back(), key_.public_key_hex()));
  }
  // The canary that still runs it is brought back when it says hello again.
  m.on_hello("a", "rp-1");
  EXPECT_EQ(agents_.sent["a"].back().version(), "");
  const auto before = agents_.sent["b"].size();
  m.on_hello("b", "");
  EXPECT_EQ(agents_.sent["b"].size(), before) << "already on no pack";
}

TEST_F(RulePacks, ACanaryThatRefusesThePackRollsBackAutomatically) {
  RulePackManager m(*store_, key_, agents_.link());
  ASSERT_OK(m.init());
  ASSERT_OK(m.push_pack(push_request("alpha"), kT0));
  ASSERT_OK(m.rollout("rp-1", 0.25, 10, kT0));  // canary a never reports it
  m.tick(kT0 + 11 * kSec);
  const auto st = m.status();
  EXPECT_EQ(st.phase(), "rolled_back");
  EXPECT_NE(st.reason().find("canary agent a runs"), std::string::npos) << st.reason();
  EXPECT_EQ(agents_.sent["a"].back().version(), "");
  EXPECT_TRUE(agents_.sent["b"].empty()) << "the fleet never saw it";
}

// ------------------------------------------------------------ agent side

class AgentRulePacks : public RulePacks {
 protected:
  void SetUp() override {
    RulePacks::SetUp();
    manager_ = std::make_unique<RulePackManager>(*store_, key_, agents_.link());
    ASSERT_OK(manager_->init());
    root_ = dir_.path() / "state" / "rules-pack";
  }
  v1::RulePackUpdate signed_pack(const std::string& marker) {
    auto info = manager_->push_pack(push_request(marker), kT0);
    EXPECT_TRUE(info.has_value());
    return *manager_->update_for(info->version(), kT0);
  }
  std::unique_ptr<RulePackManager> manager_;
  fs::path root_;
};

TEST_F(AgentRulePacks, AVerifiedPackIsWrittenLoadedAndRestoredAfterARestart) {
  agent::RulePackUpdates packs;
  std::vector<std::string> dirs{"/etc/vigil/rules"};
  packs.restore(root_, key_.public_key_hex(), dirs);
  EXPECT_EQ(packs.version(), "");
  EXPECT_EQ(dirs.size(), 1U);

  ASSERT_TRUE(packs.stage(signed_pack("alpha"), dirs));
  ASSERT_EQ(dirs.size(), 2U);
  EXPECT_EQ(dirs[1], (root_ / "rp-1").string());
  EXPECT_TRUE(fs::exists(root_ / "rp-1" / "marker.yml"));
  EXPECT_EQ(packs.version(), "") << "in force only once the rules reloaded";
  packs.commit(true, dirs);
  EXPECT_EQ(packs.version(), "rp-1");
  v1::Health h;
  packs.report(h);
  EXPECT_EQ(h.rule_pack_version(), "rp-1");
  EXPECT_EQ(h.rule_pack_refusals(), 0U);
  // The same pack again changes nothing.
  EXPECT_FALSE(packs.stage(*manager_->update_for("rp-1", kT0), dirs));

  ASSERT_TRUE(packs.stage(signed_pack("beta"), dirs));
  packs.commit(true, dirs);
  EXPECT_EQ(dirs, (std::vector<std::string>{"/etc/vigil/rules", (root_ / "rp-2").string()}));
  EXPECT_FALSE(fs::exists(root_ / "rp-1")) << "only the pack in force is kept";
  for (const auto& e : fs::directory_iterator(root_)) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".tmp")) << e.path();
  }

  agent::RulePackUpdates restarted;
  std::vector<std::string> dirs2;
  restarted.restore(root_, key_.public_key_hex(), dirs2);
  EXPECT_EQ(restarted.version(), "rp-2");
  EXPECT_EQ(dirs2, (std::vector<std::string>{(root_ / "rp-2").string()}));

  // Back to no pack: the directory leaves the rule directories, CURRENT goes.
  ASSERT_TRUE(packs.stage(*manager_->update_for("", kT0), dirs));
  packs.commit(true, dirs);
  EXPECT_EQ(packs.version(), "");
  EXPECT_EQ(dirs, (std::vector<std::string>{"/etc/vigil/rules"}));
  EXPECT_FALSE(fs::exists(root_ / "CURRENT"));
  EXPECT_FALSE(fs::exists(root_ / "rp-2"));
}

TEST_F(AgentRulePacks, ABadPackIsRefusedCountedAndTheRulesInForceStay) {
  agent::RulePackUpdates packs;
  std::vector<std::string> dirs;
  packs.restore(root_, key_.public_key_hex(), dirs);
  ASSERT_TRUE(packs.stage(signed_pack("alpha"), dirs));
  packs.commit(true, dirs);
  const auto in_force = dirs;

  auto tampered = signed_pack("beta");
  tampered.mutable_pack()->back() ^= 1;
  EXPECT_FALSE(packs.stage(tampered, dirs));
  EXPECT_EQ(dirs, in_force);
  EXPECT_EQ(packs.version(), "rp-1");
  EXPECT_EQ(packs.refusals(), 1U);
  EXPECT_NE(packs.last_refusal().find("rp-2: refused: bad signature"), std::string::npos)
      << packs.last_refusal();
  EXPECT_FALSE(fs::exists(root_ / "rp-2"));

  // Signed but not loadable here (an agent older than the collector): refused.
  v1::RulePack pack;
  pack.set_version("rp-x");
  *pack.add_files() = file("bad.yml", "detection: [\n");
  const auto bytes = pack.SerializeAsString();
  v1::RulePackUpdate unloadable;
  unloadable.set_version("rp-x");
  unloadable.set_pack(bytes);
  unloadable.set_signature(key_.sign(rule_pack_signed_message(bytes)));
  EXPECT_FALSE(packs.stage(unloadable, dirs));
  EXPECT_EQ(packs.refusals(), 2U);
  EXPECT_NE(packs.last_refusal().find("bad.yml"), std::string::npos) << packs.last_refusal();

  // Signed, but its names would leave the pack directory.
  pack.set_version("rp-y");
  pack.clear_files();
  *pack.add_files() =
      file("../../escape.yml", rule_yaml("e", "6f9c1a52-0d1e-4a8b-9c3e-000000000009"));
  const auto evil = pack.SerializeAsString();
  unloadable.set_version("rp-y");
  unloadable.set_pack(evil);
  unloadable.set_signature(key_.sign(rule_pack_signed_message(evil)));
  EXPECT_FALSE(packs.stage(unloadable, dirs));
  EXPECT_FALSE(fs::exists(root_.parent_path().parent_path() / "escape.yml"));

  // A verified pack whose reload fails (an operator's file broke meanwhile):
  // the previous pack goes back and the refusal is counted.
  ASSERT_TRUE(packs.stage(signed_pack("gamma"), dirs));
  packs.commit(false, dirs);
  EXPECT_EQ(dirs, in_force);
  EXPECT_EQ(packs.version(), "rp-1");
  EXPECT_EQ(packs.refusals(), 4U);
  v1::Health h;
  packs.report(h);
  EXPECT_EQ(h.rule_pack_version(), "rp-1");
  EXPECT_EQ(h.rule_pack_refusals(), 4U);
  EXPECT_NE(h.rule_pack_refusal().find("did not reload"), std::string::npos);
  EXPECT_TRUE(fs::exists(root_ / "rp-1" / "marker.yml"));

  agent::RulePackUpdates no_key;
  std::vector<std::string> d;
  no_key.restore(dir_.path() / "other", "", d);
  EXPECT_FALSE(no_key.stage(signed_pack("delta"), d)) << "without model_pubkey nothing is trusted";
  EXPECT_NE(no_key.last_refusal().find("no model_pubkey"), std::string::npos);
}

// An exec whose command line vigil's built-in history-disable rule matches.
Event history_off_exec() {
  Event e;
  e.type = EventType::kExec;
  e.pid = 20;
  e.ppid = 1;
  e.comm = "echo";
  e.exe = "/usr/bin/echo";
  e.args = {"echo", "set", "+o", "history"};
  e.data = ExecData{.filename = e.exe};
  return e;
}

Event marker_exec(const std::string& marker) {
  auto e = history_off_exec();
  e.args = {"echo", marker};
  return e;
}

// The rules an agent would load now: its configured directories (`dirs`, the
// pack's among them) plus what the pack switches off, as Agent::load_rules.
struct Loaded {
  std::shared_ptr<const agent::RulePack> pack;
  std::string report;
  bool fires(const Event& e, const std::string& indicator) const {
    agent::ProcessTable table(100, "");
    std::vector<const agent::Indicator*> hits;
    pack->evaluate(e, table, hits);
    return std::ranges::any_of(hits, [&](const auto* h) { return h->id == indicator; });
  }
};
Loaded load(const agent::RulePackUpdates& packs, const std::vector<std::string>& dirs) {
  agent::RulePackOptions o;
  o.dirs.assign(dirs.begin(), dirs.end());
  packs.apply(o);
  agent::sigma::LoadReport report;
  Loaded l{.pack = agent::RulePack::load(o, report), .report = {}};
  l.report = agent::format_load_report(report);
  return l;
}

TEST_F(AgentRulePacks, ADisableOnlyPackSwitchesABuiltInRuleOffUntilRolledBack) {
  agent::RulePackUpdates packs;
  std::vector<std::string> dirs;
  packs.restore(root_, key_.public_key_hex(), dirs);
  const auto exec = history_off_exec();
  ASSERT_TRUE(load(packs, dirs).fires(exec, "history-disable")) << "the built-in rule matches";

  v1::PushRulePackRequest req;
  req.add_disabled("history-disable");
  req.add_disabled("no-such-rule");
  auto info = manager_->push_pack(req, kT0);
  ASSERT_OK(info);
  ASSERT_TRUE(packs.stage(*manager_->update_for(info->version(), kT0), dirs));
  // The reload between stage and commit already runs without the rule.
  auto staged = load(packs, dirs);
  EXPECT_FALSE(staged.fires(exec, "history-disable"));
  packs.commit(true, dirs);
  EXPECT_EQ(packs.version(), "rp-1");
  EXPECT_EQ(dirs, (std::vector<std::string>{(root_ / "rp-1").string()}));
  auto running = load(packs, dirs);
  EXPECT_FALSE(running.fires(exec, "history-disable"));
  EXPECT_EQ(running.pack->size(), agent::embedded_rule_pack().size())
      << "the pack's directory holds no rule file: .disabled is not loaded";
  // An id no loaded rule has is reported, as a host's disabled_rules are.
  EXPECT_NE(running.report.find("(rule pack rp-1 disabled) no-such-rule: no loaded rule"),
            std::string::npos)
      << running.report;
  EXPECT_EQ(slurp_file(root_ / "rp-1" / agent::kRulePackDisabledFile),
            "history-disable\nno-such-rule\n");

  // A restart keeps them: they are read back with the pack.
  agent::RulePackUpdates restarted;
  std::vector<std::string> dirs2;
  restarted.restore(root_, key_.public_key_hex(), dirs2);
  EXPECT_EQ(restarted.version(), "rp-1");
  EXPECT_EQ(restarted.disabled(), (std::vector<std::string>{"history-disable", "no-such-rule"}));
  EXPECT_FALSE(load(restarted, dirs2).fires(exec, "history-disable"));

  // A pack whose reload fails: the disables in force stay with the pack in force.
  ASSERT_TRUE(packs.stage(signed_pack("alpha"), dirs));
  EXPECT_TRUE(packs.disabled().empty()) << "rp-2 disables nothing";
  EXPECT_TRUE(load(packs, dirs).fires(exec, "history-disable"));
  packs.commit(false, dirs);
  EXPECT_EQ(packs.version(), "rp-1");
  EXPECT_FALSE(load(packs, dirs).fires(exec, "history-disable"));

  // Rolled back to no pack: the rule matches again.
  ASSERT_TRUE(packs.stage(*manager_->update_for("", kT0), dirs));
  packs.commit(true, dirs);
  EXPECT_TRUE(packs.disabled().empty());
  EXPECT_TRUE(dirs.empty());
  EXPECT_TRUE(load(packs, dirs).fires(exec, "history-disable"));
  agent::RulePackUpdates after;
  std::vector<std::string> dirs3;
  after.restore(root_, key_.public_key_hex(), dirs3);
  EXPECT_TRUE(after.disabled().empty());
  EXPECT_TRUE(load(after, dirs3).fires(exec, "history-disable"));
}

TEST_F(AgentRulePacks, PackDisablesApplyToEverySource) {
  // A host's own rule directory, and a pack with a rule of its own.
  const auto local = dir_.path() / "local-rules";
  fs::create_directories(local);
  std::ofstream(local / "local.yml") << rule_yaml("local", "6f9c1a52-0d1e-4a8b-9c3e-000000000071");
  auto req = push_request("own");
  *req.add_files() = file("kept.yml", rule_yaml("kept", "6f9c1a52-0d1e-4a8b-9c3e-000000000072"));
  req.add_disabled("marker-local");                          // by name, the host's rule
  req.add_disabled("6f9c1a52-0d1e-4a8b-9c3e-000000000013");  // by id, the pack's own "own"
  req.add_disabled("history-disable");                       // vigil's built-in pack
  auto info = manager_->push_pack(req, kT0);
  ASSERT_OK(info);

  agent::RulePackUpdates packs;
  std::vector<std::string> dirs{local.string()};
  packs.restore(root_, key_.public_key_hex(), dirs);
  auto before = load(packs, dirs);
  EXPECT_TRUE(before.fires(marker_exec("local"), "marker-local"));
  EXPECT_TRUE(before.fires(history_off_exec(), "history-disable"));
  ASSERT_TRUE(packs.stage(*manager_->update_for(info->version(), kT0), dirs));
  packs.commit(true, dirs);
  const auto after = load(packs, dirs);
  EXPECT_FALSE(after.fires(marker_exec("local"), "marker-local"));
  EXPECT_FALSE(after.fires(marker_exec("own"), "marker-own"));
  EXPECT_FALSE(after.fires(history_off_exec(), "history-disable"));
  EXPECT_TRUE(after.fires(marker_exec("kept"), "marker-kept")) << "only what it names";
  EXPECT_EQ(after.report.find("no loaded rule"), std::string::npos) << after.report;
}

TEST_F(AgentRulePacks, SignedButMalformedDisabledIdsAreRefused) {
  agent::RulePackUpdates packs;
  std::vector<std::string> dirs;
  packs.restore(root_, key_.public_key_hex(), dirs);
  auto sign = [&](const v1::RulePack& pack) {
    v1::RulePackUpdate u;
    u.set_version(pack.version());
    u.set_pack(pack.SerializeAsString());
    u.set_signature(key_.sign(rule_pack_signed_message(u.pack())));
    return u;
  };
  v1::RulePack pack;
  pack.set_version("rp-z");
  pack.add_disabled("a\nb");  // would be two lines in .disabled
  EXPECT_FALSE(packs.stage(sign(pack), dirs));
  EXPECT_NE(packs.last_refusal().find("not printable"), std::string::npos) << packs.last_refusal();
  pack.set_disabled(0, "x");
  pack.add_disabled("x");
  EXPECT_FALSE(packs.stage(sign(pack), dirs));
  EXPECT_NE(packs.last_refusal().find("named twice"), std::string::npos) << packs.last_refusal();
  pack.clear_disabled();
  EXPECT_FALSE(packs.stage(sign(pack), dirs));
  EXPECT_NE(packs.last_refusal().find("no files and no disabled rule"), std::string::npos)
      << packs.last_refusal();
  v1::RulePack none;  // the "no pack" disables nothing
  none.add_disabled("history-disable");
  EXPECT_FALSE(packs.stage(sign(none), dirs));
  EXPECT_EQ(packs.refusals(), 4U);
  EXPECT_FALSE(fs::exists(root_ / "rp-z"));
  EXPECT_TRUE(dirs.empty());
}

TEST_F(AgentRulePacks, WritingAPackReplacesAStaleDirectoryOfTheSameVersion) {
  v1::RulePack pack;
  pack.set_version("rp-7");
  *pack.add_files() = file("dir/a.yml", rule_yaml("a", "6f9c1a52-0d1e-4a8b-9c3e-000000000001"));
  fs::create_directories(root_ / "rp-7");
  std::ofstream(root_ / "rp-7" / "stale.yml") << "old";
  auto dir = agent::write_rule_pack(root_, pack);
  ASSERT_OK(dir);
  EXPECT_TRUE(fs::exists(*dir / "dir" / "a.yml"));
  EXPECT_FALSE(fs::exists(*dir / "stale.yml"));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(root_)) ++entries;
  EXPECT_EQ(entries, 1U) << "no temporary directory left behind";
}

}  // namespace
}  // namespace vigil
