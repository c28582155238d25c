// The per-event hot path allocates nothing in steady state: decode, enrich,
// indicators, features, model, and the JSON line of every event. Counted by
// replacing operator new in this test binary (tests/bench/alloc_counter.cpp).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "alloc_counter.h"
#include "util/records.h"
#include "util/test_util.h"
#include "vigil/agent/container_table.h"
#include "vigil/agent/pipeline.h"

namespace vigil::agent {
namespace {

// Feeds `n` records (one drain each 256) and returns the allocations made.
std::uint64_t allocations_for(Pipeline& p, const std::vector<std::vector<std::byte>>& records,
                              int n) {
  const auto before = test::allocations();
  for (int i = 0; i < n; ++i) {
    p.on_record(records[static_cast<std::size_t>(i) % records.size()]);
    if (i % 256 == 255) {
      p.on_batch_end();
    }
  }
  p.on_batch_end();
  return test::allocations() - before;
}

std::vector<std::vector<std::byte>> mixed_records() {
  auto wx = test::make_mem_prot(4243, 7);  // PROT_READ | PROT_WRITE | PROT_EXEC
  // Process churn: exec, fork, the child's and the parent's exits (entries
  // come and go), and a W+X event of a process that stays.
  return {test::bytes_of(test::make_exec(
              4242, "/usr/local/bin/some-service",
              {"/usr/local/bin/some-service", "--config", "/etc/some-service/config.yaml"})),
          test::bytes_of(test::make_fork(4242, 4250)), test::bytes_of(test::make_exit(4250, 0)),
          test::bytes_of(test::make_exit(4242, 0)), test::bytes_of(wx)};
}

TEST(HotPath, ScoringAnEventAllocatesNothing) {
  ProcessTable table(1024, "");
  Pipeline p("alloc-host", table, 0);
  const auto records = mixed_records();
  (void)allocations_for(p, records, 10000);  // warm up: tables, buffers, strings reach size
  EXPECT_EQ(allocations_for(p, records, 100000), 0U);
}

TEST(HotPath, WritingEveryEventAsJsonAllocatesNothing) {
  test::TempDir dir;
  ProcessTable table(1024, "");
  Pipeline p("alloc-host", table, 0);
  auto sink = LineSink::open((dir.path() / "events.jsonl").string());
  ASSERT_OK(sink);
  p.set_events(std::make_unique<EventWriter>(std::move(*sink), OutputFormat::kJson));
  const auto records = mixed_records();
  (void)allocations_for(p, records, 10000);
  EXPECT_EQ(allocations_for(p, records, 100000), 0U);
}

TEST(HotPath, ContainerLookupsAllocateNothing) {
  test::TempDir dir;
  const auto container = dir.path() / "docker" / std::string(64, 'c');
  std::filesystem::create_directories(container);
  std::filesystem::create_directories(dir.path() / "system.slice");
  ContainerTableConfig config;
  config.cgroup_root = dir.path();
  ContainerTable table(std::move(config));
  ASSERT_OK(table.start());
  struct stat st {};
  ASSERT_EQ(stat(container.c_str(), &st), 0);
  const std::uint64_t in_container = st.st_ino;
  ASSERT_EQ(stat((dir.path() / "system.slice").c_str(), &st), 0);
  const std::uint64_t on_host = st.st_ino;
  Event e;
  auto run = [&] {
    std::uint64_t attributed = 0;
    for (int i = 0; i < 100000; ++i) {
      e.cgroup_id = (i % 2 == 0) ? in_container : on_host;
      table.apply(e);
      attributed += e.container != nullptr ? 1 : 0;
    }
    return attributed;
  };
  EXPECT_EQ(run(), 50000U);
  const auto before = test::allocations();
  EXPECT_EQ(run(), 50000U);
  EXPECT_EQ(test::allocations() - before, 0U);
}

TEST(HotPath, TheCounterSeesAllocations) {
  const auto before = test::allocations();
  // The assertions above would be vacuous if the counter saw nothing.
  std::vector<std::string> v(3, std::string(100, 'x'));
  asm volatile("" : : "r"(v.data()) : "memory");  // keep the allocations
  EXPECT_GE(test::allocations() - before, 4U);
}

}  // namespace
}  // namespace vigil::agent
