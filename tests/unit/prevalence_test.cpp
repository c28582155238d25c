// Fleet prevalence at the collector on a real RocksDB: reports from several
// hosts merge into per-key host counts, a host counts once per key, the
// retention sweep drops old pairs and adjusts the counts, the pushed table is
// bounded and sorted, a restart rebuilds the same table, oversize reports are
// refused, and the table reaches agents on hello and, debounced, on change.
#include "vigil/collector/prevalence.h"

#include <gtest/gtest.h>

#include "util/test_util.h"
#include "vigil/collector/collector.h"
#include "vigil/collector/validate.h"
#include "vigil/wire_limits.h"

namespace vigil {
namespace {

using collector::PrevalenceManager;
using collector::PrevalenceOptions;

constexpr std::uint32_t kDay = 20'000;  // a unix day in 2024

// A fake link records what reaches agents.
struct FakeFleet {
  std::vector<std::string> connected = {"a", "b"};
  std::vector<std::pair<std::string, v1::Prevalence>> sent;
  collector::PrevalenceLink link() {
    return {.connected = [this] { return connected; },
            .send =
                [this](const std::string& id, const v1::Prevalence& p) {
                  sent.emplace_back(id, p);
                  return true;
                }};
  }
};

v1::BehaviourReport report(std::initializer_list<std::uint64_t> keys) {
  v1::BehaviourReport r;
  for (auto k : keys) r.add_keys(k);
  return r;
}

std::vector<std::pair<std::uint64_t, std::uint32_t>> rows(const v1::Prevalence& p) {
  EXPECT_EQ(p.keys_size(), p.hosts_size());
  std::vector<std::pair<std::uint64_t, std::uint32_t>> out;
  for (int i = 0; i < p.keys_size() && i < p.hosts_size(); ++i) {
    out.emplace_back(p.keys(i), p.hosts(i));
  }
  return out;
}

using Rows = std::vector<std::pair<std::uint64_t, std::uint32_t>>;

class Prevalence : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    auto s = collector::Store::open(dir_.path(), {.sync = false});
    ASSERT_OK(s);
    store_ = std::move(*s);
  }
  void reopen() {
    store_.reset();
    open();
  }
  PrevalenceManager make(PrevalenceOptions options = {}) {
    return PrevalenceManager(*store_, fleet_.link(), options);
  }

  test::TempDir dir_;
  std::unique_ptr<collector::Store> store_;
  FakeFleet fleet_;
};

TEST_F(Prevalence, ReportsFromSeveralHostsMergeIntoHostCounts) {
  auto m = make();
  ASSERT_OK(m.init(kDay));
  auto n = m.report("a", report({30, 10, 20}), kDay);
  ASSERT_OK(n);
  EXPECT_EQ(*n, 3U);
  ASSERT_OK(m.report("b", report({10, 20}), kDay));
  ASSERT_OK(m.report("c", report({20, 40}), kDay));
  EXPECT_EQ(m.hosts(10), 2U);
  EXPECT_EQ(m.hosts(20), 3U);
  EXPECT_EQ(m.hosts(30), 1U);
  EXPECT_EQ(m.hosts(99), 0U);
  EXPECT_EQ(m.keys(), 4U);
  EXPECT_EQ(m.pairs(), 7U);
  EXPECT_EQ(m.fleet_hosts(), 3U);
  // Only keys on >= 2 hosts, sorted by key; hosts parallel.
  const auto t = m.table();
  EXPECT_EQ(rows(*t), (Rows{{10, 2}, {20, 3}}));
  EXPECT_EQ(t->fleet_hosts(), 3U);
  EXPECT_EQ(t->window_days(), 30U);
  EXPECT_EQ(m.stats().reports.load(), 3U);
  EXPECT_EQ(m.stats().pairs_added.load(), 7U);
}

TEST_F(Prevalence, AHostReportingAKeyAgainCountsOnce) {
  auto m = make();
  ASSERT_OK(m.init(kDay));
  auto n = m.report("a", report({5, 5, 6}), kDay);  // a key twice in one report
  ASSERT_OK(n);
  EXPECT_EQ(*n, 2U);
  n = m.report("a", report({5, 6}), kDay);  // the same day: nothing to write
  ASSERT_OK(n);
  EXPECT_EQ(*n, 0U);
  EXPECT_EQ(m.stats().pairs_refreshed.load(), 0U);
  n = m.report("a", report({5}), kDay + 1);  // a later day: refreshed, not counted
  ASSERT_OK(n);
  EXPECT_EQ(*n, 0U);
  EXPECT_EQ(m.stats().pairs_refreshed.load(), 1U);
  EXPECT_EQ(m.hosts(5), 1U);
  EXPECT_EQ(m.pairs(), 2U);
  EXPECT_EQ(m.fleet_hosts(), 1U);
  EXPECT_EQ(m.table()->keys_size(), 0) << "one host is not a fleet prevalence";
  // An empty report is no sign of life.
  ASSERT_OK(m.report("idle", v1::BehaviourReport{}, kDay));
  EXPECT_EQ(m.fleet_hosts(), 1U);
}

TEST_F(Prevalence, RetentionDropsOldPairsAndAdjustsCounts) {
  auto m = make({.window_days = 30, .sweep_chunk = 2});  // several chunks
  ASSERT_OK(m.init(kDay));
  ASSERT_OK(m.report("a", report({1, 2, 3}), kDay));
  ASSERT_OK(m.report("b", report({1, 2}), kDay));
  ASSERT_OK(m.report("c", report({1}), kDay + 10));
  ASSERT_OK(m.report("a", report({2}), kDay + 20));  // refreshed: stays
  EXPECT_EQ(m.fleet_hosts(), 3U);
  EXPECT_EQ(rows(*m.table()), (Rows{{1, 3}, {2, 2}}));

  // The last day inside the window: nothing goes.
  auto dropped = m.sweep(kDay + 29);
  ASSERT_OK(dropped);
  EXPECT_EQ(*dropped, 0U);
  EXPECT_EQ(m.pairs(), 6U);

  // kDay's pairs are 30 days old: a's 1 and 3, b's 1 and 2; b reported
  // nothing since and leaves the fleet.
  dropped = m.sweep(kDay + 30);
  ASSERT_OK(dropped);
  EXPECT_EQ(*dropped, 4U);
  EXPECT_EQ(m.hosts(1), 1U);  // c
  EXPECT_EQ(m.hosts(2), 1U);  // a, refreshed
  EXPECT_EQ(m.hosts(3), 0U);
  EXPECT_EQ(m.keys(), 2U);
  EXPECT_EQ(m.pairs(), 2U);
  EXPECT_EQ(m.fleet_hosts(), 2U);
  EXPECT_EQ(m.stats().pairs_expired.load(), 4U);
  EXPECT_TRUE(rows(*m.table()).empty());
  EXPECT_EQ(m.table()->fleet_hosts(), 2U);

  // Deleted from the store too: a restart finds only what is left.
  reopen();
  auto again = make();
  ASSERT_OK(again.init(kDay + 30));
  EXPECT_EQ(again.pairs(), 2U);
  EXPECT_EQ(again.fleet_hosts(), 2U);
  EXPECT_EQ(again.stats().pairs_expired.load(), 0U);
}

TEST_F(Prevalence, TickSweepsOnANewDayAndPushesWhatChanged) {
  auto m = make({.window_days = 2, .debounce = std::chrono::seconds(5)});
  ASSERT_OK(m.init(kDay));
  ASSERT_OK(m.report("a", report({7}), kDay));
  ASSERT_OK(m.report("b", report({7}), kDay));
  const auto t0 = std::chrono::steady_clock::now();
  m.tick(t0, kDay);
  ASSERT_EQ(fleet_.sent.size(), 2U) << "the changed table to each connected agent";
  EXPECT_EQ(rows(fleet_.sent[0].second), (Rows{{7, 2}}));
  fleet_.sent.clear();
  m.tick(t0 + std::chrono::seconds(10), kDay);
  EXPECT_TRUE(fleet_.sent.empty()) << "nothing changed";
  ASSERT_OK(m.report("a", report({7}), kDay + 1));  // a refreshes, b does not
  m.tick(t0 + std::chrono::seconds(20), kDay + 1);
  EXPECT_TRUE(fleet_.sent.empty()) << "a refresh changes no count";
  m.tick(t0 + std::chrono::seconds(30), kDay + 2);  // b's pair expires
  ASSERT_EQ(fleet_.sent.size(), 2U);
  EXPECT_TRUE(rows(fleet_.sent[0].second).empty());
  EXPECT_EQ(fleet_.sent[0].second.fleet_hosts(), 1U);
  EXPECT_EQ(m.stats().pushes.load(), 4U);
}

TEST_F(Prevalence, HelloGetsTheTableAndChangesAreDebounced) {
  auto m = make({.debounce = std::chrono::seconds(5)});
  ASSERT_OK(m.init(kDay));
  m.on_hello("a");
  ASSERT_EQ(fleet_.sent.size(), 1U) << "even empty: it carries fleet_hosts";
  EXPECT_EQ(fleet_.sent[0].second.keys_size(), 0);
  fleet_.sent.clear();

  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_OK(m.report("a", report({1}), kDay));
  ASSERT_OK(m.report("b", report({1}), kDay));
  m.tick(t0, kDay);
  ASSERT_EQ(fleet_.sent.size(), 2U);
  fleet_.sent.clear();
  ASSERT_OK(m.report("c", report({1}), kDay));
  m.tick(t0 + std::chrono::seconds(1), kDay);
  EXPECT_TRUE(fleet_.sent.empty()) << "within the debounce interval";
  // A hello in between gets the current table at once.
  m.on_hello("c");
  ASSERT_EQ(fleet_.sent.size(), 1U);
  EXPECT_EQ(rows(fleet_.sent[0].second), (Rows{{1, 3}}));
  fleet_.sent.clear();
  m.tick(t0 + std::chrono::seconds(6), kDay);
  ASSERT_EQ(fleet_.sent.size(), 2U) << "the others get it after the interval";
  EXPECT_EQ(rows(fleet_.sent[1].second), (Rows{{1, 3}}));
  fleet_.sent.clear();
  ASSERT_OK(m.report("d", report({2}), kDay));  // a key on one host: fleet_hosts changed
  m.tick(t0 + std::chrono::seconds(12), kDay);
  ASSERT_EQ(fleet_.sent.size(), 2U);
  EXPECT_EQ(fleet_.sent[0].second.fleet_hosts(), 4U);
  fleet_.sent.clear();
  ASSERT_OK(m.report("d", report({3}), kDay));  // neither the table nor fleet_hosts moved
  m.tick(t0 + std::chrono::seconds(18), kDay);
  EXPECT_TRUE(fleet_.sent.empty());
}

TEST_F(Prevalence, TheTableKeepsTheMostWidespreadKeysSortedByKey) {
  auto m = make({.max_keys = 3});
  ASSERT_OK(m.init(kDay));
  // key -> hosts: 50 -> 2, 40 -> 3, 30 -> 4, 20 -> 5, 10 -> 2, 60 -> 1
  const std::vector<std::pair<std::uint64_t, int>> want = {{50, 2}, {40, 3}, {30, 4},
                                                           {20, 5}, {10, 2}, {60, 1}};
  for (const auto& [key, hosts] : want) {
    for (int h = 0; h < hosts; ++h) {
      ASSERT_OK(m.report("host-" + std::to_string(h), report({key}), kDay));
    }
  }
  EXPECT_EQ(rows(*m.table()), (Rows{{20, 5}, {30, 4}, {40, 3}}));
  EXPECT_EQ(m.table_keys(), 3U);
  EXPECT_EQ(m.table()->fleet_hosts(), 5U);
  // The bound never exceeds what an agent can receive.
  auto big = make({.max_keys = 10'000'000});
  ASSERT_OK(big.init(kDay));
  EXPECT_EQ(big.table()->keys_size(), 5) << "all of 10..50 on >= 2 hosts";
}

TEST_F(Prevalence, ARestartRebuildsTheSameTable) {
  std::string before;
  {
    auto m = make();
    ASSERT_OK(m.init(kDay));
    for (std::uint64_t k = 1; k <= 300; ++k) {
      ASSERT_OK(m.report("a", report({k, ~k}), kDay));
      if (k % 2 == 0) ASSERT_OK(m.report("b", report({k}), kDay + 1));
      if (k % 3 == 0) ASSERT_OK(m.report("c", report({k, ~k}), kDay + 2));
    }
    ASSERT_OK(m.report("d", report({0xffffffffffffffffULL}), kDay + 2));  // the highest hash
    before = m.table()->SerializeAsString();
    EXPECT_EQ(m.table()->keys_size(), 150 + 100 - 50 + 100);
  }
  reopen();
  auto m = make({.sweep_chunk = 7});
  ASSERT_OK(m.init(kDay + 2));
  EXPECT_EQ(m.table()->SerializeAsString(), before);
  EXPECT_EQ(m.fleet_hosts(), 4U);
  EXPECT_EQ(m.pairs(), 300U * 2 + 150 + 100 * 2 + 1);
  EXPECT_EQ(m.hosts(6), 3U);
  EXPECT_EQ(m.hosts(~std::uint64_t{6}), 2U);

  // Started after a's pairs aged out: they are gone at once.
  reopen();
  auto later = make();
  ASSERT_OK(later.init(kDay + 30));
  EXPECT_EQ(later.fleet_hosts(), 3U);
  EXPECT_EQ(later.hosts(6), 2U);
  EXPECT_EQ(later.stats().pairs_expired.load(), 600U);
}

TEST_F(Prevalence, AnOversizeReportIsRefused) {
  auto m = make();
  ASSERT_OK(m.init(kDay));
  v1::BehaviourReport big;
  for (std::uint32_t i = 0; i <= wire::kMaxBehaviourKeys; ++i) big.add_keys(i);
  EXPECT_FALSE(m.report("a", big, kDay));
  EXPECT_EQ(m.stats().reports_refused.load(), 1U);
  EXPECT_EQ(m.pairs(), 0U);
  EXPECT_EQ(m.fleet_hosts(), 0U);
  // The collector's stream check: refused with its own reason code.
  const auto refused = collector::check_behaviours(big);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, collector::Reason::kBadBehaviours);
  EXPECT_EQ(collector::reason_code(refused->reason), "bad_behaviours");
  EXPECT_NE(refused->detail.find("4097"), std::string::npos) << refused->detail;
  // At the limit: accepted.
  big.mutable_keys()->RemoveLast();
  EXPECT_FALSE(collector::check_behaviours(big));
  auto n = m.report("a", big, kDay);
  ASSERT_OK(n);
  EXPECT_EQ(*n, wire::kMaxBehaviourKeys);
}

TEST(PrevalenceConfig, KeysParseAndAreBounded) {
  collector::CollectorConfig c;
  EXPECT_EQ(c.prevalence_window_days, 30U);
  EXPECT_EQ(c.prevalence_max_keys, 200'000U);
  EXPECT_EQ(c.prevalence_debounce_ms, 5000U);
  ASSERT_OK(collector::apply_yaml(
      "prevalence_window_days: 14\nprevalence_max_keys: 5000\nprevalence_debounce_ms: 250\n", c));
  EXPECT_EQ(c.prevalence_window_days, 14U);
  EXPECT_EQ(c.prevalence_max_keys, 5000U);
  EXPECT_EQ(c.prevalence_debounce_ms, 250U);
  collector::CollectorConfig d;
  EXPECT_FALSE(collector::apply_yaml("prevalence_window_days: 0\n", d));
  EXPECT_FALSE(collector::apply_yaml("prevalence_max_keys: 300000\n", d));
}

}  // namespace
}  // namespace vigil
