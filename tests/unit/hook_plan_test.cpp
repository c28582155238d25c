#include "vigil/agent/hook_plan.h"

#include <gtest/gtest.h>

#include <set>

namespace vigil::agent {
namespace {

// Behaves like libbpf: a load fails if any program in it is "bad to load";
// attach fails for programs that are "bad to attach".
class FakeBackend : public ObjectBackend {
 public:
  std::set<std::string> bad_load;
  std::set<std::string> bad_attach;
  std::set<std::string> loaded;
  std::set<std::string> attached;
  int loads = 0;

  Result<void> load(const std::vector<std::string>& programs) override {
    reset();
    ++loads;
    for (const auto& p : programs) {
      if (bad_load.contains(p)) {
        return make_error(ErrorCode::kKernel, "verifier says no to " + p);
      }
    }
    loaded = {programs.begin(), programs.end()};
    return {};
  }
  Result<void> attach(const std::vector<std::string>& programs) override {
    for (const auto& p : programs) {
      if (!loaded.contains(p)) {
        return make_error(ErrorCode::kInternal, "not loaded: " + p);
      }
      if (bad_attach.contains(p)) {
        return make_error(ErrorCode::kKernel, "no such tracepoint " + p);
      }
    }
    attached.insert(programs.begin(), programs.end());
    return {};
  }
  void reset() override {
    loaded.clear();
    attached.clear();
  }
};

const std::vector<HookSpec> kHooks = {
    {"exec", {{"tp_btf", {"exec_btf"}}, {"tracepoint", {"exec_tp"}}}},
    {"setuid", {{"tracepoint", {"setuid_enter", "setuid_exit"}}}},
    {"kill", {{"tp_btf", {"kill_btf"}}, {"tracepoint", {"kill_tp"}}}},
};

TEST(HookPlan, AllPreferredVariantsInOneLoad) {
  FakeBackend b;
  auto st = plan_and_attach("process", kHooks, b);
  ASSERT_EQ(st.size(), 3U);
  for (const auto& s : st) {
    EXPECT_EQ(s.state, HookState::kAttached) << s.hook;
    EXPECT_TRUE(s.error.empty());
  }
  EXPECT_EQ(st[0].mode, "tp_btf");
  EXPECT_EQ(b.loads, 1);
  EXPECT_EQ(b.attached,
            (std::set<std::string>{"exec_btf", "setuid_enter", "setuid_exit", "kill_btf"}));
}

TEST(HookPlan, FallsBackWhenPreferredFailsToLoad) {
  FakeBackend b;
  b.bad_load = {"exec_btf", "kill_btf"};  // e.g. a kernel without tp_btf
  auto st = plan_and_attach("process", kHooks, b);
  EXPECT_EQ(st[0].state, HookState::kAttached);
  EXPECT_EQ(st[0].mode, "tracepoint");
  EXPECT_NE(st[0].error.find("verifier says no"), std::string::npos);
  EXPECT_EQ(st[2].mode, "tracepoint");
  EXPECT_EQ(b.attached,
            (std::set<std::string>{"exec_tp", "setuid_enter", "setuid_exit", "kill_tp"}));
}

TEST(HookPlan, OneHookFailingDoesNotStopOthers) {
  FakeBackend b;
  b.bad_load = {"setuid_exit"};
  auto st = plan_and_attach("process", kHooks, b);
  EXPECT_EQ(st[1].state, HookState::kFailed);
  EXPECT_FALSE(st[1].error.empty());
  EXPECT_EQ(st[0].state, HookState::kAttached);
  EXPECT_EQ(st[2].state, HookState::kAttached);
  EXPECT_FALSE(b.loaded.contains("setuid_enter")) << "a failed hook leaves nothing loaded";
}

TEST(HookPlan, AttachFailureFallsBackAndUnloadsIdlePrograms) {
  FakeBackend b;
  b.bad_attach = {"kill_btf"};
  auto st = plan_and_attach("process", kHooks, b);
  EXPECT_EQ(st[2].state, HookState::kAttached);
  EXPECT_EQ(st[2].mode, "tracepoint");
  EXPECT_NE(st[2].error.find("attach"), std::string::npos);
  EXPECT_FALSE(b.loaded.contains("kill_btf"));
  EXPECT_TRUE(b.attached.contains("exec_btf"));
}

TEST(HookPlan, DisabledModeForcesTheFallback) {
  FakeBackend b;
  const std::vector<std::string> disabled = {"tp_btf"};
  auto st = plan_and_attach("process", kHooks, b, disabled);
  EXPECT_EQ(st[0].mode, "tracepoint");
  EXPECT_EQ(st[0].state, HookState::kAttached);
  EXPECT_EQ(st[0].error, "tp_btf: disabled by configuration");
  EXPECT_EQ(st[1].mode, "tracepoint");
  EXPECT_TRUE(st[1].error.empty());
  EXPECT_FALSE(b.loaded.contains("exec_btf"));
  EXPECT_EQ(b.loads, 1);
}

TEST(HookPlan, NothingWorksLeavesNothingLoaded) {
  FakeBackend b;
  b.bad_load = {"exec_btf", "exec_tp", "setuid_enter", "kill_btf", "kill_tp"};
  auto st = plan_and_attach("process", kHooks, b);
  for (const auto& s : st) {
    EXPECT_EQ(s.state, HookState::kFailed);
  }
  EXPECT_TRUE(b.loaded.empty());
}

}  // namespace
}  // namespace vigil::agent
