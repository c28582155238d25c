// Workloads in the collector (issue 22): events and alerts from containers
// filtered by container, image, pod and Kubernetes namespace, page tokens
// bound to those filters, and the fleet report's pods, namespaces and images
// (bounded per host-minute like its other top lists), on a real store in a
// temp directory.
#include <gtest/gtest.h>

#include "util/test_util.h"
#include "vigil/collector/keys.h"
#include "vigil/collector/report.h"
#include "vigil/collector/store.h"
#include "vigil/collector/workload.h"

namespace vigil::collector {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kT0 = 1'790'000'040ULL * kSec;  // minute-aligned
static_assert(kT0 % kMinuteNs == 0);

constexpr const char* kApiId = "4f9d1c2b3a4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef";
constexpr const char* kDbId = "0a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddee00";

v1::Container container(const std::string& id, const std::string& name, const std::string& image,
                        const std::string& pod = {}, const std::string& ns = {},
                        const std::string& pod_uid = {}) {
  v1::Container c;
  c.set_id(id);
  c.set_runtime(pod.empty() ? "podman" : "containerd");
  c.set_name(name);
  c.set_image(image);
  c.set_pod(pod);
  c.set_k8s_ns(ns);
  c.set_pod_uid(pod_uid);
  return c;
}

v1::Container api() {
  return container(kApiId, "api", "registry.local:5000/payments/api:1.4@sha256:abcd", "api-7f9c",
                   "payments", "6d3c2b1a-0000-4000-8000-000000000001");
}
v1::Container db() { return container(kDbId, "db", "postgres:16", "db-0", "payments"); }
v1::Container web() {
  return container(std::string(64, 'c'), "web", "nginx:1.25", "web-1", "shop");
}
v1::Container podman() { return container(std::string(64, 'd'), "builder", "busybox:latest"); }

v1::Hello hello(const std::string& agent) {
  v1::Hello h;
  h.set_agent_id(agent);
  h.set_host_id(agent);
  h.set_version("test");
  h.set_spool_id(7);
  return h;
}

// One event per workload given (nullopt: the host), from seq `first`, `step`
// apart from `ts`.
v1::EventBatch batch(std::uint64_t first, const std::vector<std::optional<v1::Container>>& from,
                     std::uint64_t ts = kT0, std::uint64_t step = kSec) {
  v1::EventBatch b;
  b.set_first_seq(first);
  b.set_last_seq(first + from.size() - 1);
  for (std::size_t i = 0; i < from.size(); ++i) {
    auto* e = b.add_events();
    e->set_seq(first + i);
    e->set_type("exec");
    e->set_ts_ns(ts + i * step);
    e->set_pid(static_cast<std::uint32_t>(100 + i));
    e->set_comm("sh");
    if (from[i]) {
      *e->mutable_container() = *from[i];
    }
  }
  return b;
}

v1::Event event_of(const v1::Container& c) {
  v1::Event e;
  *e.mutable_container() = c;
  return e;
}

TEST(Workload, FiltersMatchIdPrefixNameImageWithoutTagPodAndNamespace) {
  const auto e = event_of(api());
  const auto match = [&](WorkloadFilter f) { return f.matches(e); };
  EXPECT_TRUE(match({}));
  EXPECT_TRUE(match({.container = kApiId}));
  EXPECT_TRUE(match({.container = "4f9d1c2b3a4e"}));  // what `docker ps` shows
  EXPECT_TRUE(match({.container = "api"}));           // the name
  EXPECT_FALSE(match({.container = "ap"}));           // a name matches whole
  EXPECT_FALSE(match({.container = "0a1b2c3d4e5f"}));
  EXPECT_TRUE(match({.image = "registry.local:5000/payments/api:1.4@sha256:abcd"}));
  EXPECT_TRUE(match({.image = "registry.local:5000/payments/api:1.4"}));  // no digest
  EXPECT_TRUE(match({.image = "registry.local:5000/payments/api"}));      // no tag
  EXPECT_FALSE(match({.image = "registry.local"}));  // a registry's port is no tag
  EXPECT_FALSE(match({.image = "payments/api"}));
  EXPECT_TRUE(match({.pod = "api-7f9c"}));
  EXPECT_TRUE(match({.pod = "payments/api-7f9c"}));
  EXPECT_TRUE(match({.pod = "6d3c2b1a-0000-4000-8000-000000000001"}));
  EXPECT_FALSE(match({.pod = "shop/api-7f9c"}));
  EXPECT_TRUE(match({.k8s_ns = "payments"}));
  EXPECT_FALSE(match({.k8s_ns = "pay"}));
  EXPECT_TRUE(match({.container = "api",
                     .image = "registry.local:5000/payments/api",
                     .pod = "api-7f9c",
                     .k8s_ns = "payments"}));
  EXPECT_FALSE(match({.container = "api", .k8s_ns = "shop"})) << "every filter must hold";
  // The host's events (and fleet alerts) have no container: no filter matches them.
  EXPECT_FALSE(WorkloadFilter{.k8s_ns = "payments"}.matches(v1::Event{}));
  EXPECT_TRUE(WorkloadFilter{}.matches(v1::Event{}));

  EXPECT_EQ(image_repository("nginx:1.25"), "nginx");
  EXPECT_EQ(image_repository("registry.local:5000/app"), "registry.local:5000/app");
  EXPECT_EQ(image_repository("app@sha256:ab"), "app");
  EXPECT_EQ(pod_key(api()), "payments/api-7f9c");
  auto uid_only = container(kApiId, "", "", "", "", "6d3c2b1a");
  EXPECT_EQ(pod_key(uid_only), "6d3c2b1a") << "kubelet's layout alone names the pod uid";
  EXPECT_EQ(pod_key(podman()), "");
}

TEST(Workload, EventsAndAlertsAreFilteredByWorkloadAndTokensAreBoundToTheFilters) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("node-1"), kT0));
  ASSERT_OK(s.register_agent(hello("node-2"), kT0));
  // node-1: api x3, db, the host, podman; node-2: web x2, api.
  auto b1 = batch(1, {api(), api(), db(), std::nullopt, podman(), api()});
  b1.mutable_events(1)->set_alert_id("run-1");  // an alert in payments/api-7f9c
  b1.mutable_events(1)->set_score(80);
  b1.mutable_events(3)->set_alert_id("run-2");  // an alert on the host
  b1.mutable_events(3)->set_score(60);
  ASSERT_OK(s.ingest("node-1", b1, kT0));
  auto b2 = batch(1, {web(), web(), api()}, kT0 + 10 * kSec);
  b2.mutable_events(0)->set_alert_id("run-1");  // an alert in shop/web-1
  b2.mutable_events(0)->set_score(70);
  ASSERT_OK(s.ingest("node-2", b2, kT0));
  v1::Alert fleet;
  fleet.set_id("fleet-1");
  fleet.set_ts_ns(kT0 + 20 * kSec);
  fleet.set_fleet(true);
  fleet.add_hosts("node-1");
  fleet.set_score(90);
  ASSERT_OK(s.put_alert(fleet));

  const auto now = kT0 + 100 * kSec;
  auto events = [&](auto set) {
    v1::QueryEventsRequest q;
    q.set_since_ns(1);
    q.set_limit(100);
    set(q);
    auto r = s.query_events(q, now);
    EXPECT_TRUE(r.has_value());
    std::vector<std::string> out;
    for (const auto& e : r->events()) {
      out.push_back(e.host() + "#" + std::to_string(e.event().seq()));
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(events([](auto& q) { q.set_k8s_ns("payments"); }),
            (V{"node-1#1", "node-1#2", "node-1#3", "node-1#6", "node-2#3"}));
  EXPECT_EQ(events([](auto& q) { q.set_pod("payments/db-0"); }), (V{"node-1#3"}));
  EXPECT_EQ(events([](auto& q) { q.set_image("nginx"); }), (V{"node-2#1", "node-2#2"}));
  EXPECT_EQ(events([](auto& q) { q.set_container("builder"); }), (V{"node-1#5"}));
  EXPECT_EQ(events([](auto& q) {
              q.set_container("4f9d1c2b3a4e");
              q.set_host("node-2");
            }),
            (V{"node-2#3"}));
  EXPECT_TRUE(events([](auto& q) { q.set_k8s_ns("kube-system"); }).empty());

  auto alerts = [&](auto set) {
    v1::QueryAlertsRequest q;
    set(q);
    auto r = s.query_alerts(q, now);
    EXPECT_TRUE(r.has_value());
    std::vector<std::string> out;
    for (const auto& a : r->alerts()) out.push_back(a.id());
    return out;
  };
  EXPECT_EQ(alerts([](auto&) {}), (V{"fleet-1", "node-2:run-1", "node-1:run-2", "node-1:run-1"}));
  EXPECT_EQ(alerts([](auto& q) { q.set_k8s_ns("payments"); }), (V{"node-1:run-1"}));
  EXPECT_EQ(alerts([](auto& q) { q.set_pod("web-1"); }), (V{"node-2:run-1"}));
  EXPECT_EQ(alerts([](auto& q) { q.set_image("nginx:1.25"); }), (V{"node-2:run-1"}));
  EXPECT_EQ(alerts([](auto& q) { q.set_container("api"); }), (V{"node-1:run-1"}));
  // The stored alert keeps its event's container for whoever reads it.
  auto got = s.get_alert("node-1:run-1");
  ASSERT_OK(got);
  EXPECT_EQ(got->event().container().pod(), "api-7f9c");
  EXPECT_EQ(got->event().container().k8s_ns(), "payments");

  // Pages: a token is bound to the workload filters it was issued with.
  v1::QueryEventsRequest q;
  q.set_since_ns(1);
  q.set_k8s_ns("payments");
  q.set_limit(2);
  auto first = s.query_events(q, now);
  ASSERT_OK(first);
  ASSERT_EQ(first->events_size(), 2);
  ASSERT_FALSE(first->next_page_token().empty());
  auto next = q;
  next.set_page_token(first->next_page_token());
  auto second = s.query_events(next, now);
  ASSERT_OK(second);
  ASSERT_EQ(second->events_size(), 2);
  EXPECT_EQ(second->events(0).event().seq(), 3U);
  for (auto* set : {+[](v1::QueryEventsRequest& r) { r.set_k8s_ns("shop"); },
                    +[](v1::QueryEventsRequest& r) { r.set_pod("api-7f9c"); },
                    +[](v1::QueryEventsRequest& r) { r.set_image("postgres"); },
                    +[](v1::QueryEventsRequest& r) { r.set_container("db"); }}) {
    auto other = next;
    set(other);
    auto refused = s.query_events(other, now);
    ASSERT_FALSE(refused.has_value()) << other.DebugString();
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  }
  v1::QueryAlertsRequest qa;
  qa.set_k8s_ns("");  // every alert, one per page; then a filter on the token
  qa.set_limit(1);
  auto page = s.query_alerts(qa, now);
  ASSERT_OK(page);
  ASSERT_FALSE(page->next_page_token().empty());
  qa.set_page_token(page->next_page_token());
  EXPECT_OK(s.query_alerts(qa, now));
  qa.set_pod("web-1");
  EXPECT_EQ(s.query_alerts(qa, now).error().code, ErrorCode::kInvalidArgument);
}

TEST(Workload, TheReportGroupsByPodNamespaceAndImageAlertingFirst) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("node-1"), kT0));
  ASSERT_OK(s.register_agent(hello("node-2"), kT0));
  // web is the busiest, api the one that alerts (twice, once grown).
  std::vector<std::optional<v1::Container>> many;
  for (int i = 0; i < 6; ++i) many.emplace_back(web());
  many.emplace_back(db());
  many.emplace_back(std::nullopt);
  ASSERT_OK(s.ingest("node-1", batch(1, many), kT0));
  auto alerting = batch(9, {api(), api(), api(), podman()}, kT0 + 10 * kSec);
  alerting.mutable_events(0)->set_alert_id("run-1");
  alerting.mutable_events(0)->set_score(70);
  alerting.mutable_events(1)->set_alert_id("run-1");  // the same alert grows
  alerting.mutable_events(1)->set_score(85);
  alerting.mutable_events(2)->set_alert_id("run-2");
  alerting.mutable_events(2)->set_score(60);
  ASSERT_OK(s.ingest("node-1", alerting, kT0));
  // A second batch in the same minute from another host: merged rollups.
  ASSERT_OK(s.ingest("node-2", batch(1, {api(), web()}, kT0 + 20 * kSec), kT0));

  v1::FleetReportRequest req;
  req.set_window_s(600);
  auto rep = fleet_report_page(s, req, kT0 + 5 * kMinuteNs);
  ASSERT_OK(rep);
  EXPECT_TRUE(rep->complete()) << rep->DebugString();
  ASSERT_EQ(rep->top_pods_size(), 3);
  EXPECT_EQ(rep->top_pods(0).key(), "payments/api-7f9c");
  EXPECT_EQ(rep->top_pods(0).events(), 4U);
  EXPECT_EQ(rep->top_pods(0).alerts(), 2U);
  EXPECT_EQ(rep->top_pods(0).risk(), 85U);
  EXPECT_EQ(rep->top_pods(1).key(), "shop/web-1") << "then by events";
  EXPECT_EQ(rep->top_pods(1).events(), 7U);
  EXPECT_EQ(rep->top_pods(1).alerts(), 0U);
  EXPECT_EQ(rep->top_pods(2).key(), "payments/db-0");
  ASSERT_EQ(rep->top_k8s_namespaces_size(), 2);
  EXPECT_EQ(rep->top_k8s_namespaces(0).key(), "payments");
  EXPECT_EQ(rep->top_k8s_namespaces(0).events(), 5U);
  EXPECT_EQ(rep->top_k8s_namespaces(0).alerts(), 2U);
  EXPECT_EQ(rep->top_k8s_namespaces(1).key(), "shop");
  ASSERT_EQ(rep->top_images_size(), 4) << "podman's containers have an image, no pod";
  EXPECT_EQ(rep->top_images(0).key(), "registry.local:5000/payments/api:1.4@sha256:abcd");
  EXPECT_EQ(rep->top_images(1).key(), "nginx:1.25");
  EXPECT_EQ(rep->top_images(2).key(), "busybox:latest") << "ties: key order";
  EXPECT_EQ(rep->top_images(3).key(), "postgres:16");
  EXPECT_EQ(rep->events(), 14U) << "the host's events count in the totals, in no group";

  req.set_top(1);
  rep = fleet_report_page(s, req, kT0 + 5 * kMinuteNs);
  ASSERT_OK(rep);
  ASSERT_EQ(rep->top_pods_size(), 1);
  EXPECT_EQ(rep->top_pods(0).key(), "payments/api-7f9c");
}

TEST(Workload, AHostMinuteKeepsItsMostAlertingGroupsAndTheReportSaysItIsApproximate) {
  test::TempDir dir;
  auto store = Store::open(dir.path(), {.sync = false});
  ASSERT_OK(store);
  auto& s = **store;
  ASSERT_OK(s.register_agent(hello("node-1"), kT0));
  // 100 pods in one minute, two events each; one quiet pod raises an alert.
  std::vector<std::optional<v1::Container>> from;
  for (int i = 0; i < 100; ++i) {
    auto c = web();
    c.set_pod("web-" + std::to_string(i));
    from.emplace_back(c);
    from.emplace_back(c);
  }
  auto quiet = web();
  quiet.set_pod("quiet");
  from.emplace_back(quiet);
  auto b = batch(1, from, kT0, kSec / 10);  // all in one minute
  b.mutable_events(200)->set_alert_id("run-1");
  b.mutable_events(200)->set_score(90);
  ASSERT_OK(s.ingest("node-1", b, kT0));
  std::size_t groups = 0;
  std::uint64_t dropped = 0;
  s.scan_rollups(0, ~0ULL, [&](std::uint64_t, std::string_view, const v1::HostMinute& m) {
    groups += static_cast<std::size_t>(m.pods_size());
    dropped += m.pods_dropped();
    return true;
  });
  EXPECT_EQ(groups, 32U) << "a host-minute keeps a bounded list";
  EXPECT_EQ(dropped, 2U * (100 - 31));
  auto rep = fleet_report_page(s, {}, kT0 + 30 * kSec);
  ASSERT_OK(rep);
  EXPECT_EQ(rep->events(), 201U);
  ASSERT_GE(rep->top_pods_size(), 1);
  EXPECT_EQ(rep->top_pods(0).key(), "shop/quiet") << "the alerting pod is never the one dropped";
  EXPECT_EQ(rep->top_pods(0).alerts(), 1U);
  EXPECT_FALSE(rep->complete());
  bool named = false;
  for (const auto& why : rep->approximations()) {
    named = named || why.starts_with("top_pods:");
  }
  EXPECT_TRUE(named) << rep->DebugString();
  // One namespace and one image: those lists stay exact.
  ASSERT_EQ(rep->top_k8s_namespaces_size(), 1);
  EXPECT_EQ(rep->top_k8s_namespaces(0).events(), 201U);
}

}  // namespace
}  // namespace vigil::collector
