// Containers in the output and the rules (issue 22): the container, k8s and
// namespace fields of JSON events and alerts (also Falco's names), the Sigma
// fields rules read, the host relation (ContainerWatch) and the container
// rules of vigil's pack, on hand-made events.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "util/test_util.h"
#include "vigil/abi.h"
#include "vigil/agent/alert_format.h"
#include "vigil/agent/host_relation.h"
#include "vigil/agent/rules.h"
#include "vigil/event_format.h"

namespace vigil::agent {
namespace {

using sigma::Field;
using V = std::vector<std::string>;

constexpr std::uint32_t kHostRootDev = 0x801;  // sda1 (st_dev: makedev(8, 1))
constexpr std::uint32_t kOverlayDev = 77;      // a container's overlay (makedev(0, 77))

Namespaces host_ns() {
  return {.mnt = 100,
          .pid = 101,
          .net = 102,
          .user = 103,
          .uts = 104,
          .ipc = 105,
          .cgroup = 106,
          .ns_pid = 1};
}
Namespaces container_ns() {
  return {.mnt = 200,
          .pid = 201,
          .net = 202,
          .user = 103,
          .uts = 204,
          .ipc = 205,
          .cgroup = 206,
          .ns_pid = 1};
}
HostIdentity host() { return {.ns = host_ns(), .root_dev = kHostRootDev}; }

std::shared_ptr<const ContainerInfo> nginx() {
  auto c = std::make_shared<ContainerInfo>();
  c->id = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e";
  c->runtime = "containerd";
  c->name = "web \"front\"";
  c->image = "registry.local:5000/library/nginx:1.25";
  c->pod = "web-7d9f";
  c->pod_uid = "3e41dc6b-08a8-44db-bc2a-3724b18ab19a";
  c->k8s_ns = "payments";
  return c;
}
std::shared_ptr<const ContainerInfo> podman_box() {
  auto c = std::make_shared<ContainerInfo>();
  c->id = "5b3c0d3e1f2a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c";
  c->runtime = "podman";
  c->name = "box";
  c->image = "localhost/busybox:latest";
  return c;
}

Event exec_in(std::shared_ptr<const ContainerInfo> c, Namespaces ns, std::string exe,
              std::initializer_list<std::string_view> args, std::uint64_t cgroup = 7001) {
  Event e;
  e.type = EventType::kExec;
  e.ts_ns = 1795486530123456789ULL;
  e.host = "node-1";
  e.pid = 4242;
  e.ppid = 4200;
  e.comm = "sh";
  e.exe = std::move(exe);
  e.args = args;
  e.cgroup_id = cgroup;
  e.ns = ns;
  e.host_ns = ns.mnt == host_ns().mnt && ns.pid == host_ns().pid && ns.net == host_ns().net &&
              ns.user == host_ns().user;
  e.container = std::move(c);
  e.data = ExecData{.filename = e.exe};
  return e;
}

Event setns_in(std::shared_ptr<const ContainerInfo> c, Namespaces before, Namespaces after,
               std::uint64_t cgroup = 7001, std::int32_t ret = 0) {
  Event e =
      exec_in(std::move(c), after, "/usr/bin/nsenter", {"nsenter", "-t", "1", "-m", "sh"}, cgroup);
  e.type = EventType::kNsChange;
  e.data = NsChangeData{
      .syscall = VIGIL_SYS_SETNS, .ret = ret, .flags = 0, .before = before, .after = after};
  return e;
}

Event write_in(std::shared_ptr<const ContainerInfo> c, std::string path, std::uint32_t dev,
               std::uint32_t root_dev) {
  Event e = exec_in(std::move(c), container_ns(), "/bin/busybox", {"sh", "-c", "echo x > f"});
  e.type = EventType::kFile;
  e.data =
      FileData{.op = VIGIL_FILE_WRITE, .path = std::move(path), .dev = dev, .root_dev = root_dev};
  return e;
}

// ---- JSON events ---------------------------------------------------------------

TEST(ContainerOutput, JsonEventCarriesContainerPodAndNamespaces) {
  Event e = exec_in(nginx(), container_ns(), "/bin/sh", {"sh"});
  e.ns.ns_pid = 7;
  std::string out;
  append_json(e, out);
  for (
      const char* field :
      {R"("container":{"id":"3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e","name":"web \"front\"","image":"registry.local:5000/library/nginx:1.25","runtime":"containerd"})",
       R"("k8s":{"pod":"web-7d9f","pod_uid":"3e41dc6b-08a8-44db-bc2a-3724b18ab19a","ns":"payments"})",
       R"("ns":{"mnt":200,"pid":201,"net":202,"user":103,"uts":204,"ipc":205,"cgroup":206})",
       R"("ns_pid":7)", R"("host_ns":false)", R"("cap_eff":0)", R"("filename":"/bin/sh")"}) {
    EXPECT_NE(out.find(field), std::string::npos) << field << " missing in " << out;
  }
  // A podman container outside Kubernetes has no k8s object.
  out.clear();
  append_json(exec_in(podman_box(), container_ns(), "/bin/sh", {"sh"}), out);
  EXPECT_NE(out.find(R"("container":{"id":"5b3c)"), std::string::npos) << out;
  EXPECT_EQ(out.find("\"k8s\""), std::string::npos) << out;
}

TEST(ContainerOutput, HostEventsHaveNoContainerAndUnknownNamespacesAreLeftOut) {
  Event e = exec_in(nullptr, host_ns(), "/usr/bin/id", {"id"});
  std::string out;
  append_json(e, out);
  EXPECT_EQ(out.find("\"container\""), std::string::npos) << out;
  EXPECT_EQ(out.find("\"k8s\""), std::string::npos) << out;
  EXPECT_NE(out.find(R"("host_ns":true)"), std::string::npos) << out;
  e.ns = {};
  out.clear();
  append_json(e, out);
  EXPECT_EQ(out.find("\"ns\""), std::string::npos) << out;
  EXPECT_EQ(out.find("\"host_ns\""), std::string::npos) << out;
  EXPECT_EQ(out.find("\"ns_pid\""), std::string::npos) << out;
}

TEST(ContainerOutput, FileEventsCarryTheirFilesystems) {
  std::string out;
  append_json(write_in(nginx(), "/etc/crontab", kHostRootDev, kOverlayDev), out);
  EXPECT_NE(out.find(R"("dev":2049,"root_dev":77)"), std::string::npos) << out;
  out.clear();
  append_json(write_in(nginx(), "/etc/crontab", 0, 0), out);
  EXPECT_EQ(out.find(R"("dev")"), std::string::npos) << out;
}

TEST(ContainerOutput, ContainerStringsAreEscapedAndValidUtf8) {
  auto c = std::make_shared<ContainerInfo>(*nginx());
  c->name = "a\\b\n\xff";
  c->image = "img\"x";
  std::string out;
  append_json(exec_in(c, container_ns(), "/bin/sh", {"sh"}), out);
  EXPECT_NE(out.find(R"("name":"a\\b\n)"
                     "\xEF\xBF\xBD\""),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("image":"img\"x")"), std::string::npos) << out;
}

TEST(ContainerOutput, NsChangeAndCgroupEventsAreRendered) {
  Namespaces after = container_ns();
  after.mnt = host_ns().mnt;
  after.cap_eff = 0x1fffffffffULL;
  Event e = setns_in(nginx(), container_ns(), after);
  std::get<NsChangeData>(e.data).flags = 0x00020000;  // CLONE_NEWNS
  std::string out;
  append_json(e, out);
  for (const char* field :
       {R"("type":"ns_change")", R"("syscall":"setns")", R"("ret":0)", R"("flags":131072)",
        R"("ns_types":"mnt")", R"("changed":"mnt")",
        R"("before":{"mnt":200,"pid":201,"net":202,"user":103,"uts":204,"ipc":205,"cgroup":206})",
        R"("after":{"mnt":100,"pid":201)", R"("cap_eff":137438953471)"}) {
    EXPECT_NE(out.find(field), std::string::npos) << field << " missing in " << out;
  }
  out.clear();
  append_text(e, out);
  EXPECT_NE(out.find("ns_change pid=4242"), std::string::npos) << out;
  EXPECT_NE(out.find(" syscall=setns ret=0 ns_types=mnt container=3ad7b26ded6d"), std::string::npos)
      << out;

  Event g;
  g.type = EventType::kCgroup;
  g.data =
      CgroupData{.removed = false, .id = 9001, .level = 2, .path = "/libpod_parent/libpod-5b3c"};
  out.clear();
  append_json(g, out);
  for (const char* field : {R"("type":"cgroup")", R"("op":"mkdir")", R"("id":9001)", R"("level":2)",
                            R"("path":"/libpod_parent/libpod-5b3c")"}) {
    EXPECT_NE(out.find(field), std::string::npos) << field << " missing in " << out;
  }
}

// ---- alerts ----------------------------------------------------------------------

TEST(ContainerOutput, AlertsNameTheContainerAndFalcoModeUsesFalcosFields) {
  const Event e = exec_in(nginx(), container_ns(), "/bin/sh", {"sh"});
  const Indicator ind{
      .id = "container-host-namespaces", .attack = "T1611", .severity = 70, .summary = "s"};
  const Indicator* hits[] = {&ind};
  const AlertContext ctx{.score = 70, .alert_id = "r-1", .count = 1, .level = Level::kCalm};
  std::string out;
  append_alert_text(e, ctx, hits, out);
  EXPECT_EQ(out,
            "High threat exec event: pid=4242 comm=sh exe=/bin/sh threat=70 [T1611 "
            "container-host-namespaces] container_id=3ad7b26ded6d container_name=web \"front\" "
            "container_image=registry.local:5000/library/nginx:1.25 k8s_ns=payments "
            "k8s_pod_name=web-7d9f level=calm id=r-1");

  out.clear();
  append_alert_json(e, ctx, hits, {}, out);
  EXPECT_NE(out.find(R"("event":{)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("k8s":{"pod":"web-7d9f")"), std::string::npos) << out;

  out.clear();
  append_alert_falco(e, ctx, hits, out);
  for (const char* field :
       {R"("container.id":"3ad7b26ded6d")",
        R"("container.full_id":"3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e")",
        R"("container.name":"web \"front\"")",
        R"("container.image":"registry.local:5000/library/nginx:1.25")",
        R"("container.image.repository":"registry.local:5000/library/nginx")",
        R"("container.image.tag":"1.25")", R"("container.image.digest":null)",
        R"("container.type":"containerd")", R"("k8s.ns.name":"payments")",
        R"("k8s.pod.name":"web-7d9f")", R"("k8s.pod.uid":"3e41dc6b-08a8-44db-bc2a-3724b18ab19a")",
        R"("proc.vpid":1)", R"("vigil.host_ns":false)"}) {
    EXPECT_NE(out.find(field), std::string::npos) << field << " missing in " << out;
  }
  // Falco names a host event's container "host".
  out.clear();
  append_alert_falco(exec_in(nullptr, host_ns(), "/bin/sh", {"sh"}), ctx, hits, out);
  EXPECT_NE(out.find(R"("container.id":"host","container.name":"host")"), std::string::npos) << out;
  // A digest-pinned image without a tag.
  auto pinned = std::make_shared<ContainerInfo>(*podman_box());
  pinned->image = "quay.io/team/app@sha256:d977378f890d";
  pinned->name.clear();
  out.clear();
  append_alert_falco(exec_in(pinned, container_ns(), "/bin/sh", {"sh"}), ctx, hits, out);
  for (const char* field :
       {R"("container.name":null)", R"("container.image.repository":"quay.io/team/app")",
        R"("container.image.tag":null)", R"("container.image.digest":"sha256:d977378f890d")",
        R"("k8s.pod.name":null)"}) {
    EXPECT_NE(out.find(field), std::string::npos) << field << " missing in " << out;
  }
}

// ---- Sigma fields ------------------------------------------------------------------

std::string_view field(const sigma::RuleEvent& r, Field f) {
  return r.present[static_cast<std::size_t>(f)] ? r.value[static_cast<std::size_t>(f)]
                                                : std::string_view("<absent>");
}

TEST(ContainerRules, RuleEventCarriesContainerAndNamespaceFields) {
  ContainerWatch watch(host());
  ProcessTable table(100, "");
  RuleEventBuilder builder;
  sigma::RuleEvent r;
  Event e = exec_in(nginx(), container_ns(), "/bin/sh", {"sh"});
  e.ns.ns_pid = 12;
  const HostRelation rel = watch.relate(e);
  ASSERT_TRUE(builder.build(e, table, r, {}, rel));
  EXPECT_EQ(field(r, Field::kContainerId), nginx()->id);
  EXPECT_EQ(field(r, Field::kContainerName), "web \"front\"");
  EXPECT_EQ(field(r, Field::kContainerImage), "registry.local:5000/library/nginx:1.25");
  EXPECT_EQ(field(r, Field::kContainerImageRepo), "registry.local:5000/library/nginx");
  EXPECT_EQ(field(r, Field::kContainerImageTag), "1.25");
  EXPECT_EQ(field(r, Field::kContainerRuntime), "containerd");
  EXPECT_EQ(field(r, Field::kK8sPod), "web-7d9f");
  EXPECT_EQ(field(r, Field::kK8sPodUid), "3e41dc6b-08a8-44db-bc2a-3724b18ab19a");
  EXPECT_EQ(field(r, Field::kK8sNs), "payments");
  EXPECT_EQ(field(r, Field::kHostNs), "false");
  EXPECT_EQ(field(r, Field::kNsMnt), "200");
  EXPECT_EQ(field(r, Field::kNsCgroup), "206");
  EXPECT_EQ(field(r, Field::kNsPidInNs), "12");
  EXPECT_EQ(field(r, Field::kNsHost), "user");
  EXPECT_EQ(field(r, Field::kContainerHostNs), "");  // judged: nothing of the host's
  EXPECT_EQ(field(r, Field::kContainerHostCaps), "");

  // A host process: no container fields at all, its namespaces still there.
  const Event h = exec_in(nullptr, host_ns(), "/usr/bin/id", {"id"});
  ASSERT_TRUE(builder.build(h, table, r, {}, watch.relate(h)));
  EXPECT_EQ(field(r, Field::kContainerId), "<absent>");
  EXPECT_EQ(field(r, Field::kK8sPod), "<absent>");
  EXPECT_EQ(field(r, Field::kContainerHostNs), "<absent>");
  EXPECT_EQ(field(r, Field::kHostNs), "true");
  EXPECT_EQ(field(r, Field::kNsHost), "mnt,pid,net,user,uts,ipc,cgroup");

  // Falco's spellings name the same fields.
  EXPECT_EQ(sigma::field_from_string("k8s.pod.name"), Field::kK8sPod);
  EXPECT_EQ(sigma::field_from_string("K8S.NS.NAME"), Field::kK8sNs);
  EXPECT_EQ(sigma::field_from_string("container.type"), Field::kContainerRuntime);
  EXPECT_EQ(sigma::field_from_string("proc.vpid"), Field::kNsPidInNs);
}

TEST(ContainerRules, ARuleOnTheContainerImageMatches) {
  sigma::LoadReport report;
  const auto pack = RulePack::from_yaml(R"(
title: Shell in a payments nginx
id: shell-in-payments-nginx
logsource: {product: linux, category: process_creation}
detection:
  image:
    container.image|contains: '/library/nginx:'
    k8s.ns.name: payments
    k8s.pod|startswith: 'web-'
  shell:
    Image|endswith: '/sh'
  condition: image and shell
level: high
)",
                                        report);
  ASSERT_EQ(report.rules_loaded, 1U) << format_load_report(report);
  ProcessTable table(100, "");
  std::vector<const Indicator*> hits;
  pack->evaluate(exec_in(nginx(), container_ns(), "/bin/sh", {"sh"}), table, hits);
  ASSERT_EQ(hits.size(), 1U);
  EXPECT_EQ(hits[0]->id, "shell-in-payments-nginx");
  EXPECT_EQ(hits[0]->severity, 70);
  hits.clear();
  pack->evaluate(exec_in(podman_box(), container_ns(), "/bin/sh", {"sh"}), table, hits);
  EXPECT_TRUE(hits.empty());
  pack->evaluate(exec_in(nullptr, host_ns(), "/bin/sh", {"sh"}), table, hits);
  EXPECT_TRUE(hits.empty());
}

// ---- the host relation ---------------------------------------------------------------

TEST(ContainerWatch, AContainerIsJudgedAtItsFirstExecOnce) {
  ContainerWatch watch(host());
  Namespaces ns = container_ns();
  ns.pid = host_ns().pid;  // --pid=host
  ns.net = host_ns().net;  // --network=host
  auto r = watch.relate(exec_in(nginx(), ns, "/bin/sh", {"sh"}));
  EXPECT_EQ(r.container_host_ns, "pid,net");
  EXPECT_EQ(r.container_host_caps, "");
  EXPECT_EQ(r.ns_host, "pid,net,user");
  // The next exec in the same container says nothing new.
  r = watch.relate(exec_in(nginx(), ns, "/bin/ls", {"ls"}));
  EXPECT_FALSE(HostRelation::present(r.container_host_ns));
  EXPECT_FALSE(HostRelation::present(r.container_host_caps));
  EXPECT_EQ(watch.stats().judged, 1U);
  // Another container (another cgroup) is judged on its own.
  r = watch.relate(exec_in(podman_box(), container_ns(), "/bin/sh", {"sh"}, 7002));
  EXPECT_EQ(r.container_host_ns, "");
  EXPECT_EQ(watch.stats().judged, 2U);
}

TEST(ContainerWatch, CapabilitiesCountOnlyInTheHostsUserNamespaceAndAreReportedWhenNew) {
  ContainerWatch watch(host());
  Namespaces ns = container_ns();  // shares the host's user namespace (no userns remap)
  ns.cap_eff = 0;                  // the entrypoint runs as a user
  auto r = watch.relate(exec_in(nginx(), ns, "/app/server", {"server"}));
  EXPECT_EQ(r.container_host_caps, "");
  ns.cap_eff = (1ULL << 21) | (1ULL << 16) | (1ULL << 0);  // a root exec into --privileged
  r = watch.relate(exec_in(nginx(), ns, "/bin/sh", {"sh"}));
  EXPECT_EQ(r.container_host_caps, "cap_sys_module,cap_sys_admin");
  EXPECT_EQ(r.container_host_ns, "");  // namespaces are judged once
  r = watch.relate(exec_in(nginx(), ns, "/bin/sh", {"sh"}));
  EXPECT_FALSE(HostRelation::present(r.container_host_caps));
  EXPECT_EQ(watch.stats().rejudged, 1U);
  // Rootless: full capabilities inside its own user namespace are not the host's.
  Namespaces userns = container_ns();
  userns.user = 300;
  userns.cap_eff = ~0ULL;
  r = watch.relate(exec_in(podman_box(), userns, "/bin/sh", {"sh"}, 7003));
  EXPECT_EQ(r.container_host_caps, "");
}

TEST(ContainerWatch, RuntimeHelpersAndEscapedExecsAreNotJudged) {
  ContainerWatch watch(host());
  // runc passing through the container's cgroup in the host's namespaces.
  Event runc = exec_in(nginx(), host_ns(), "/usr/bin/runc", {"runc", "init"});
  EXPECT_FALSE(HostRelation::present(watch.relate(runc).container_host_ns));
  runc.exe = "/memfd:runc_cloned:/proc/self/exe (deleted)";
  EXPECT_FALSE(HostRelation::present(watch.relate(runc).container_host_ns));
  // A shell already in the host's mount namespace left its container: that
  // is for the escape rules, not a container start.
  Namespaces escaped = host_ns();
  EXPECT_FALSE(HostRelation::present(
      watch.relate(exec_in(nginx(), escaped, "/bin/sh", {"sh"})).container_host_ns));
  EXPECT_EQ(watch.stats().judged, 0U);
  // The container's real first exec is then judged.
  EXPECT_EQ(watch.relate(exec_in(nginx(), container_ns(), "/bin/sh", {"sh"})).container_host_ns,
            "");
  EXPECT_EQ(watch.stats().judged, 1U);
  // Without the host's identity nothing is related to the host.
  ContainerWatch blind;
  const auto r = blind.relate(exec_in(nginx(), container_ns(), "/bin/sh", {"sh"}));
  EXPECT_FALSE(HostRelation::present(r.ns_host));
  EXPECT_FALSE(HostRelation::present(r.container_host_ns));
}

TEST(ContainerWatch, SetnsIntoTheHostsNamespacesIsAnEntry) {
  ContainerWatch watch(host());
  watch.relate(exec_in(nginx(), container_ns(), "/bin/sh", {"sh"}));  // its home
  // nsenter -t 1 -m -n: mount and network now the host's.
  Namespaces after = container_ns();
  after.mnt = host_ns().mnt;
  after.net = host_ns().net;
  auto r = watch.relate(setns_in(nginx(), container_ns(), after));
  EXPECT_EQ(r.ns_entered_host, "mnt,net");
  // A refused setns entered nothing.
  r = watch.relate(setns_in(nginx(), container_ns(), after, 7001, -1));
  EXPECT_FALSE(HostRelation::present(r.ns_entered_host));
  // runc exec joining a container one namespace at a time: the kinds it has
  // not joined yet were the host's before and after; no entry.
  Namespaces half = host_ns();
  half.ipc = container_ns().ipc;
  r = watch.relate(setns_in(nginx(), host_ns(), half));
  EXPECT_EQ(r.ns_entered_host, "");
}

TEST(ContainerWatch, AHostNetworkPodReturningToTheHostsNetworkIsAtHome) {
  ContainerWatch watch(host());
  Namespaces cni = container_ns();
  cni.net = host_ns().net;  // hostNetwork: true
  watch.relate(exec_in(nginx(), cni, "/opt/cni/agent", {"agent"}));
  // It enters a pod's network namespace and comes back (netns.Do).
  Namespaces pod = cni;
  pod.net = 999;
  EXPECT_EQ(watch.relate(setns_in(nginx(), cni, pod)).ns_entered_host, "");
  EXPECT_EQ(watch.relate(setns_in(nginx(), pod, cni)).ns_entered_host, "");
  // A host process (dockerd) doing the same: entered, but only the mount
  // namespace counts for processes outside containers (the rule says so).
  Namespaces dockerd = host_ns();
  dockerd.net = 999;
  EXPECT_EQ(watch.relate(setns_in(nullptr, dockerd, host_ns(), 1)).ns_entered_host, "net");
}

TEST(ContainerWatch, HostFilesystemIsTheHostsRootDeviceFromAnotherRoot) {
  ContainerWatch watch(host());
  auto rel = [&](std::uint32_t dev, std::uint32_t root_dev) {
    return watch.relate(write_in(nginx(), "/etc/crontab", dev, root_dev)).host_filesystem;
  };
  EXPECT_EQ(rel(kHostRootDev, kOverlayDev), "true");         // through a mount of the host's /
  EXPECT_EQ(rel(kOverlayDev, kOverlayDev), "false");         // its own /etc
  EXPECT_EQ(rel(kHostRootDev, kHostRootDev), "false");       // a host process
  EXPECT_FALSE(HostRelation::present(rel(0, kOverlayDev)));  // not known
  ContainerWatch no_root({.ns = host_ns()});
  EXPECT_FALSE(HostRelation::present(
      no_root.relate(write_in(nginx(), "/etc/crontab", kHostRootDev, kOverlayDev))
          .host_filesystem));
}

TEST(ContainerWatch, BoundedAndForgetsRemovedContainers) {
  ContainerWatch watch(host(), 2);
  for (std::uint64_t cg = 1; cg <= 3; ++cg) {
    watch.relate(exec_in(nginx(), container_ns(), "/bin/sh", {"sh"}, cg));
  }
  EXPECT_EQ(watch.size(), 2U);
  EXPECT_EQ(watch.stats().evicted, 1U);
  Event rm;
  rm.type = EventType::kCgroup;
  rm.data = CgroupData{.removed = true, .id = 3};
  watch.relate(rm);
  EXPECT_EQ(watch.size(), 1U);
  // Many short-lived containers: the state stays within its capacity.
  for (std::uint64_t cg = 100; cg < 1100; ++cg) {
    watch.relate(exec_in(nginx(), container_ns(), "/bin/sh", {"sh"}, cg));
    rm.data = CgroupData{.removed = true, .id = cg};
    watch.relate(rm);
  }
  EXPECT_LE(watch.size(), 2U);
}

TEST(ContainerWatch, HostIdentityIsReadFromPidOnesNamespacesAndRoot) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "1" / "ns");
  for (const char* kind : {"mnt", "pid", "net", "user", "uts", "ipc", "cgroup"}) {
    std::ofstream(dir.path() / "1" / "ns" / kind) << kind;
  }
  std::filesystem::create_directory_symlink("/", dir.path() / "1" / "root");
  const HostIdentity h = HostIdentity::read(dir.path());
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "1" / "ns" / "mnt").c_str(), &st), 0);
  EXPECT_EQ(h.ns.mnt, static_cast<std::uint32_t>(st.st_ino));
  ASSERT_EQ(::stat((dir.path() / "1" / "ns" / "cgroup").c_str(), &st), 0);
  EXPECT_EQ(h.ns.cgroup, static_cast<std::uint32_t>(st.st_ino));
  ASSERT_EQ(::stat("/", &st), 0);
  EXPECT_EQ(h.root_dev, static_cast<std::uint32_t>(st.st_dev));
  // An init that hides its links: kthreadd's are the host's.
  test::TempDir hidden;
  std::filesystem::create_directories(hidden.path() / "1");
  std::filesystem::create_directories(hidden.path() / "2" / "ns");
  std::ofstream(hidden.path() / "2" / "stat") << "2 (kthreadd) S 0 0 0";
  for (const char* kind : {"mnt", "pid", "net", "user", "uts", "ipc", "cgroup"}) {
    std::ofstream(hidden.path() / "2" / "ns" / kind) << kind;
  }
  const HostIdentity k = HostIdentity::read(hidden.path());
  ASSERT_EQ(::stat((hidden.path() / "2" / "ns" / "pid").c_str(), &st), 0);
  EXPECT_EQ(k.ns.pid, static_cast<std::uint32_t>(st.st_ino));
  EXPECT_NE(k.root_dev, 0U);  // stat("/")
}

// ---- vigil's container rules -------------------------------------------------------------

class ContainerPack : public ::testing::Test {
 protected:
  std::vector<std::string> ids(const Event& e) {
    const HostRelation rel = watch_.relate(e);
    std::vector<const Indicator*> hits;
    pack()->evaluate(e, table_, hits, {}, rel);
    std::vector<std::string> out;
    for (const auto* h : hits) {
      if (std::string_view(h->id).starts_with("container-") || h->id == "namespace-escape") {
        out.emplace_back(h->id);
      }
    }
    return out;
  }
  static const RulePack* pack() {
    static const auto p = [] {
      sigma::LoadReport report;
      return RulePack::load(RulePackOptions{}, report);
    }();
    return p.get();
  }
  ContainerWatch watch_{host()};
  ProcessTable table_{100, ""};
};

TEST_F(ContainerPack, ContainersStartedWithHostNamespacesOrPrivileges) {
  Namespaces pid_host = container_ns();
  pid_host.pid = host_ns().pid;
  EXPECT_EQ(ids(exec_in(nginx(), pid_host, "/bin/sh", {"sh"}, 1)), V{"container-host-namespaces"});
  EXPECT_EQ(ids(exec_in(nginx(), pid_host, "/bin/sh", {"sh"}, 1)), V{});  // judged once
  Namespaces net_host = container_ns();
  net_host.net = host_ns().net;
  EXPECT_EQ(ids(exec_in(nginx(), net_host, "/bin/sh", {"sh"}, 2)), V{"container-host-network"});
  Namespaces privileged = container_ns();
  privileged.cap_eff = 0x1ffffffffffULL;
  EXPECT_EQ(ids(exec_in(nginx(), privileged, "/bin/sh", {"sh"}, 3)), V{"container-privileged"});
  // CAP_SYS_PTRACE matters with the host's pid namespace.
  Namespaces ptrace = container_ns();
  ptrace.cap_eff = 1ULL << 19;
  EXPECT_EQ(ids(exec_in(nginx(), ptrace, "/bin/sh", {"sh"}, 4)), V{});
  ptrace.pid = host_ns().pid;
  EXPECT_EQ(ids(exec_in(nginx(), ptrace, "/bin/sh", {"sh"}, 5)),
            (V{"container-host-namespaces", "container-privileged"}));
  // A default container, and vigil's own agent in its hostPID DaemonSet.
  EXPECT_EQ(ids(exec_in(nginx(), container_ns(), "/bin/sh", {"sh"}, 6)), V{});
  Namespaces agent = pid_host;
  agent.cap_eff = (1ULL << 2) | (1ULL << 19);
  EXPECT_EQ(ids(exec_in(nginx(), agent, "/usr/bin/vigil-agent", {"vigil-agent"}, 7)), V{});
}

TEST_F(ContainerPack, NamespaceEscapes) {
  ids(exec_in(nginx(), container_ns(), "/bin/sh", {"sh"}));  // the container's home
  Namespaces after = container_ns();
  after.mnt = host_ns().mnt;
  EXPECT_EQ(ids(setns_in(nginx(), container_ns(), after)), V{"namespace-escape"});
  // The shell nsenter then runs: in the container's cgroup, the host's mounts.
  Namespaces escaped = container_ns();
  escaped.mnt = host_ns().mnt;
  EXPECT_EQ(ids(exec_in(nginx(), escaped, "/bin/sh", {"sh"})), V{"container-exec-host-mount-ns"});
  // ... but not runc on its way into the container: by its path, or as runc
  // 1.1 runs its init, from a copy of itself on /dev/fd/N.
  EXPECT_EQ(ids(exec_in(nginx(), host_ns(), "/usr/sbin/runc", {"runc", "init"})), V{});
  Event init = exec_in(nginx(), host_ns(), "/dev/fd/6", {"/usr/bin/runc", "init"});
  init.comm = "runc";
  Event fork_runc = exec_in(nullptr, host_ns(), "/usr/bin/runc", {"runc", "exec"});
  fork_runc.pid = 4200;
  fork_runc.ppid = 1;
  fork_runc.comm = "runc";
  table_.apply(fork_runc);
  EXPECT_EQ(ids(init), V{});
  // The same /dev/fd exec under any other parent is not let through.
  init.ppid = 4300;
  EXPECT_EQ(ids(init), V{"container-exec-host-mount-ns"});
  // Network only, from a container: an escape too.
  Namespaces net = container_ns();
  net.net = host_ns().net;
  EXPECT_EQ(ids(setns_in(nginx(), container_ns(), net)), V{"namespace-escape"});
  // Outside containers only the mount namespace counts (network namespace
  // switching is what container engines and CNI plugins do all day).
  Namespaces netns = host_ns();
  netns.net = 999;
  EXPECT_EQ(ids(setns_in(nullptr, netns, host_ns(), 1)), V{});
  Namespaces sandbox = host_ns();
  sandbox.mnt = 998;  // a service with its own mount namespace, or an unknown container
  EXPECT_EQ(ids(setns_in(nullptr, sandbox, host_ns(), 1)), V{"namespace-escape"});
}

TEST_F(ContainerPack, WritesToTheHostsFilesystemFromAContainer) {
  EXPECT_EQ(ids(write_in(nginx(), "/etc/cron.d/x", kHostRootDev, kOverlayDev)),
            V{"container-host-write-sensitive"});
  EXPECT_EQ(ids(write_in(nginx(), "/home/u/.ssh/authorized_keys", kHostRootDev, kOverlayDev)),
            V{"container-host-write-sensitive"});
  EXPECT_EQ(ids(write_in(nginx(), "/home/u/.bashrc", kHostRootDev, kOverlayDev)),
            V{"container-host-write"});
  EXPECT_EQ(ids(write_in(nginx(), "/etc/cni/net.d/10-calico.conflist", kHostRootDev, kOverlayDev)),
            V{"container-host-write"});
  // The container's own /etc, and the host's own writes.
  EXPECT_EQ(ids(write_in(nginx(), "/etc/cron.d/x", kOverlayDev, kOverlayDev)), V{});
  EXPECT_EQ(ids(write_in(nullptr, "/etc/cron.d/x", kHostRootDev, kHostRootDev)), V{});
}

TEST_F(ContainerPack, HostReachedThroughProcOneOrByAKernelHelper) {
  Namespaces pid_host = container_ns();
  pid_host.pid = host_ns().pid;
  ids(exec_in(nginx(), pid_host, "/bin/sh", {"sh"}));  // judged (container-host-namespaces)
  EXPECT_EQ(ids(exec_in(nginx(), pid_host, "/usr/sbin/chroot", {"chroot", "/proc/1/root", "sh"})),
            V{"container-host-root-via-proc"});
  EXPECT_EQ(ids(exec_in(nginx(), pid_host, "/usr/bin/nsenter",
                        {"nsenter", "--mount=/proc/1/ns/mnt", "sh"})),
            V{"container-host-root-via-proc"});
  // Without the host's pid namespace /proc/1 is the container's own init.
  ids(exec_in(podman_box(), container_ns(), "/bin/sh", {"sh"}, 7002));
  EXPECT_EQ(ids(exec_in(podman_box(), container_ns(), "/bin/cat", {"cat", "/proc/1/root/x"}, 7002)),
            V{});
  // release_agent / core_pattern: the kernel runs the container's file from the host.
  EXPECT_EQ(ids(exec_in(nullptr, host_ns(), "/var/lib/containers/storage/overlay/0a1b2c/diff/cmd",
                        {"cmd"}, 1)),
            V{"container-rootfs-exec-from-host"});
  EXPECT_EQ(ids(exec_in(nullptr, host_ns(), "/var/lib/docker/overlay2/f00/merged/tmp/x", {"x"}, 1)),
            V{"container-rootfs-exec-from-host"});
  EXPECT_EQ(ids(exec_in(nullptr, host_ns(), "/usr/bin/podman", {"podman", "ps"}, 1)), V{});
}

}  // namespace
}  // namespace vigil::agent
