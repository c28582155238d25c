// The agent's typed events onto the wire (agent/src/wire.cpp): the container,
// namespaces and the new event types (issue 22), and names from runtimes
// made acceptable to the collector's checks whatever they hold.
#include <gtest/gtest.h>

#include "vigil/abi.h"
#include "vigil/agent/wire.h"
#include "vigil/clock.h"
#include "vigil/collector/validate.h"

namespace vigil::agent {
namespace {

Event exec_in_container() {
  Event e;
  e.type = EventType::kExec;
  e.ts_ns = unix_now_ns();
  e.pid = 4242;
  e.comm = "sh";
  e.exe = "/bin/sh";
  e.ns = {.mnt = 4026532801,
          .pid = 4026532804,
          .net = 4026532806,
          .user = 4026531837,
          .uts = 4026532802,
          .ipc = 4026532803,
          .cgroup = 4026532805,
          .ns_pid = 1,
          .cap_eff = 0xa80425fb};
  e.host_ns = false;
  auto c = std::make_shared<ContainerInfo>();
  c->id = std::string(64, 'a');
  c->runtime = "containerd";
  c->name = "api";
  c->image = "registry.local/payments/api:1.4";
  c->pod = "api-7f9c";
  c->pod_uid = "6d3c2b1a-0000-4000-8000-000000000001";
  c->k8s_ns = "payments";
  c->cgroup = "/kubepods.slice/x";
  c->labels = {{"app", "api"}, {"team", "payments"}};
  e.container = std::move(c);
  e.data = ExecData{.filename = "/bin/sh"};
  return e;
}

TEST(AgentWire, ContainerAndNamespacesGoOnTheWireLabelsOnlyWithAlerts) {
  const auto e = exec_in_container();
  v1::Event out;
  to_proto(e, 10, {}, "", out);
  ASSERT_TRUE(out.has_container());
  EXPECT_EQ(out.container().id(), std::string(64, 'a'));
  EXPECT_EQ(out.container().runtime(), "containerd");
  EXPECT_EQ(out.container().name(), "api");
  EXPECT_EQ(out.container().image(), "registry.local/payments/api:1.4");
  EXPECT_EQ(out.container().pod(), "api-7f9c");
  EXPECT_EQ(out.container().pod_uid(), "6d3c2b1a-0000-4000-8000-000000000001");
  EXPECT_EQ(out.container().k8s_ns(), "payments");
  EXPECT_EQ(out.container().labels_size(), 0) << "events stay small";
  ASSERT_TRUE(out.has_ns());
  EXPECT_EQ(out.ns().mnt(), 4026532801U);
  EXPECT_EQ(out.ns().pid(), 4026532804U);
  EXPECT_EQ(out.ns().net(), 4026532806U);
  EXPECT_EQ(out.ns().user(), 4026531837U);
  EXPECT_EQ(out.ns().ns_pid(), 1U);
  EXPECT_EQ(out.ns().cap_eff(), 0xa80425fbU);
  EXPECT_FALSE(out.host_ns());

  to_proto(e, 90, {}, "run-1", out);
  ASSERT_EQ(out.container().labels_size(), 2);
  EXPECT_EQ(out.container().labels(1).key(), "team");
  EXPECT_EQ(out.container().labels(1).value(), "payments");

  // The host's events: no container; namespaces only when known.
  Event host = exec_in_container();
  host.container = nullptr;
  host.ns = {};
  host.host_ns = true;
  to_proto(host, 0, {}, "", out);
  EXPECT_FALSE(out.has_container());
  EXPECT_FALSE(out.has_ns());
}

TEST(AgentWire, OddRuntimeNamesAreEscapedAndCutSoTheCollectorTakesTheEvent) {
  auto e = exec_in_container();
  auto c = std::make_shared<ContainerInfo>(*e.container);
  c->name = "evil\x1b[2J\\x41";  // a control character and a literal backslash-x
  c->image = std::string(2000, 'i') + "\xc3\xa9";
  c->pod = std::string("bad\xff", 4);  // not UTF-8
  for (int i = 0; i < 100; ++i) {
    c->labels.emplace_back("k" + std::to_string(i), "v\n");
  }
  e.container = c;
  v1::Event out;
  to_proto(e, 90, {}, "run-1", out);
  EXPECT_EQ(out.container().name(), "evil\\x1B[2J\\\\x41");
  EXPECT_EQ(out.container().image(), std::string(1024, 'i'));
  EXPECT_EQ(out.container().pod(), "bad\\xFF");
  EXPECT_EQ(out.container().labels_size(), 64);
  EXPECT_EQ(out.container().labels(2).value(), "v\\x0A");
  out.set_seq(1);
  EXPECT_FALSE(collector::check_event(out)) << collector::check_event(out)->detail;

  // A cut never splits a character: 1023 bytes then a two-byte one.
  c->image = std::string(1023, 'i') + "\xc3\xa9";
  to_proto(e, 0, {}, "", out);
  EXPECT_EQ(out.container().image(), std::string(1023, 'i'));
}

TEST(AgentWire, NsChangeAndCgroupEventsHaveTheirDetails) {
  Event e = exec_in_container();
  e.type = EventType::kNsChange;
  Namespaces host{.mnt = 4026531841, .pid = 4026531836, .net = 4026531840, .user = 4026531837};
  e.data = NsChangeData{.syscall = VIGIL_SYS_SETNS,
                        .ret = 0,
                        .flags = 0x00020000,  // CLONE_NEWNS
                        .before = e.ns,
                        .after = host};
  v1::Event out;
  to_proto(e, 95, {}, "run-2", out);
  ASSERT_TRUE(out.has_ns_change());
  EXPECT_EQ(out.type(), "ns_change");
  EXPECT_EQ(out.ns_change().syscall(), "setns");
  EXPECT_EQ(out.ns_change().flags(), 0x00020000U);
  EXPECT_EQ(out.ns_change().before().mnt(), 4026532801U);
  EXPECT_EQ(out.ns_change().after().mnt(), 4026531841U);
  out.set_seq(1);
  EXPECT_FALSE(collector::check_event(out));

  e.data = NsChangeData{.syscall = VIGIL_SYS_UNSHARE, .ret = 0, .flags = 0x10000000};
  to_proto(e, 0, {}, "", out);
  EXPECT_EQ(out.ns_change().syscall(), "unshare");
  EXPECT_FALSE(out.ns_change().has_before()) << "not known: absent";

  e.type = EventType::kCgroup;
  e.data = CgroupData{.removed = true, .id = 12345, .level = 2, .path = "/libpod_parent/libpod-x"};
  to_proto(e, 0, {}, "", out);
  ASSERT_TRUE(out.has_cgroup());
  EXPECT_TRUE(out.cgroup().removed());
  EXPECT_EQ(out.cgroup().id(), 12345U);
  EXPECT_EQ(out.cgroup().level(), 2U);
  EXPECT_EQ(out.cgroup().path(), "/libpod_parent/libpod-x");

  e.type = EventType::kFile;
  e.data = FileData{.op = VIGIL_FILE_WRITE, .path = "/etc/passwd", .dev = 0x800001, .root_dev = 44};
  to_proto(e, 0, {}, "", out);
  EXPECT_EQ(out.file().dev(), 0x800001U);
  EXPECT_EQ(out.file().root_dev(), 44U);
}

}  // namespace
}  // namespace vigil::agent
