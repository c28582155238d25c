// The container table: cgroup path layouts of every runtime and of kubelet,
// a fixture cgroup tree walked at start and kept current by mkdir/rmdir
// records, unknown ids resolved by the worker, and enrichment from a Docker
// Engine API stub (HTTP on a unix socket) and a CRI stub (gRPC on a unix
// socket).
#include "vigil/agent/container_table.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "cri/api.grpc.pb.h"
#include "util/test_util.h"
#include "vigil/agent/config.h"
#include "vigil/agent/runtime_client.h"

namespace vigil::agent {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const std::string kId1(64, 'a');
const std::string kId2 = std::string(32, '0') + std::string(32, 'f');
const std::string kId3 = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";
constexpr std::string_view kPodUid = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
constexpr std::string_view kPodUidSystemd = "0a1b2c3d_4e5f_6789_abcd_ef0123456789";

struct PathCase {
  std::string path;
  std::string id;  // "" = a host cgroup
  std::string runtime;
  std::string pod_uid;
  std::string cgroup;
};

std::vector<PathCase> path_cases() {
  const std::string uid(kPodUid);
  const std::string suid(kPodUidSystemd);
  return {
      // podman, cgroupfs manager (this machine's layout) and its /container child
      {"/libpod_parent/libpod-" + kId1, kId1, "podman", "", "/libpod_parent/libpod-" + kId1},
      {"/libpod_parent/libpod-" + kId1 + "/container", kId1, "podman", "",
       "/libpod_parent/libpod-" + kId1},
      // podman, systemd manager; a pod's container; conmon is the host's
      {"/machine.slice/libpod-" + kId1 + ".scope", kId1, "podman", "",
       "/machine.slice/libpod-" + kId1 + ".scope"},
      {"/machine.slice/libpod-" + kId1 + ".scope/container", kId1, "podman", "",
       "/machine.slice/libpod-" + kId1 + ".scope"},
      {"/machine.slice/machine-libpod_pod_" + kId2 + ".slice/libpod-" + kId1 + ".scope", kId1,
       "podman", "",
       "/machine.slice/machine-libpod_pod_" + kId2 + ".slice/libpod-" + kId1 + ".scope"},
      {"/machine.slice/libpod-conmon-" + kId1 + ".scope", "", "", "", ""},
      // docker: cgroupfs and systemd drivers, a container's own sub-cgroup
      {"/docker/" + kId2, kId2, "docker", "", "/docker/" + kId2},
      {"/docker/" + kId2 + "/nested/deeper", kId2, "docker", "", "/docker/" + kId2},
      {"/system.slice/docker-" + kId2 + ".scope", kId2, "docker", "",
       "/system.slice/docker-" + kId2 + ".scope"},
      {"/docker/buildkit", "", "", "", ""},
      {"/system.slice/docker.service", "", "", "", ""},
      // containerd outside Kubernetes (systemd cgroup driver)
      {"/system.slice/cri-containerd-" + kId3 + ".scope", kId3, "containerd", "",
       "/system.slice/cri-containerd-" + kId3 + ".scope"},
      // CRI-O: scope, cgroupfs, and its monitor (a host process)
      {"/machine.slice/crio-" + kId3 + ".scope", kId3, "cri-o", "",
       "/machine.slice/crio-" + kId3 + ".scope"},
      {"/crio-" + kId3, kId3, "cri-o", "", "/crio-" + kId3},
      {"/machine.slice/crio-conmon-" + kId3 + ".scope", "", "", "", ""},
      // kubelet, systemd driver: burstable, besteffort, guaranteed
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + suid +
           ".slice/cri-containerd-" + kId3 + ".scope",
       kId3, "containerd", uid,
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + suid +
           ".slice/cri-containerd-" + kId3 + ".scope"},
      {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + suid + ".slice/crio-" +
           kId3 + ".scope",
       kId3, "cri-o", uid,
       "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + suid + ".slice/crio-" +
           kId3 + ".scope"},
      {"/kubepods.slice/kubepods-pod" + suid + ".slice/cri-containerd-" + kId3 + ".scope/sub", kId3,
       "containerd", uid,
       "/kubepods.slice/kubepods-pod" + suid + ".slice/cri-containerd-" + kId3 + ".scope"},
      // ... the pod's own cgroup and the QoS slices hold no container
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + suid + ".slice", "", "",
       "", ""},
      {"/kubepods.slice/kubepods-burstable.slice", "", "", "", ""},
      // kubelet, cgroupfs driver: besteffort, burstable, guaranteed (no QoS dir)
      {"/kubepods/besteffort/pod" + uid + "/" + kId3, kId3, "containerd", uid,
       "/kubepods/besteffort/pod" + uid + "/" + kId3},
      {"/kubepods/burstable/pod" + uid + "/" + kId3 + "/nested", kId3, "containerd", uid,
       "/kubepods/burstable/pod" + uid + "/" + kId3},
      {"/kubepods/pod" + uid + "/" + kId3, kId3, "containerd", uid,
       "/kubepods/pod" + uid + "/" + kId3},
      {"/kubepods/burstable/pod" + uid + "/crio-" + kId3, kId3, "cri-o", uid,
       "/kubepods/burstable/pod" + uid + "/crio-" + kId3},
      {"/kubepods/besteffort/pod" + uid, "", "", "", ""},
      // LXC 4+ and before
      {"/lxc.payload.web1", "web1", "lxc", "", "/lxc.payload.web1"},
      {"/lxc.payload.web1/init.scope", "web1", "lxc", "", "/lxc.payload.web1"},
      {"/lxc.monitor.web1", "", "", "", ""},
      {"/lxc/web2", "web2", "lxc", "", "/lxc/web2"},
      // host cgroups
      {"/", "", "", "", ""},
      {"", "", "", "", ""},
      {"/system.slice/ssh.service", "", "", "", ""},
      {"/user.slice/user-1000.slice/session-3.scope", "", "", "", ""},
      {"/libpod_parent/conmon", "", "", "", ""},
      {"/libpod_parent/libpod-short", "", "", "", ""},
  };
}

TEST(ParseCgroupPath, EveryLayout) {
  for (const auto& c : path_cases()) {
    SCOPED_TRACE(c.path);
    const auto ref = parse_cgroup_path(c.path);
    if (c.id.empty()) {
      EXPECT_FALSE(ref.has_value()) << "parsed as " << ref->runtime << " " << ref->id;
      continue;
    }
    ASSERT_TRUE(ref.has_value());
    EXPECT_EQ(ref->id, c.id);
    EXPECT_EQ(ref->runtime, c.runtime);
    EXPECT_EQ(ref->pod_uid, c.pod_uid);
    EXPECT_EQ(ref->cgroup, c.cgroup);
  }
}

TEST(ParseCgroupPath, RelativePathsAndTrailingSlashes) {
  auto ref = parse_cgroup_path("docker/" + kId2 + "/");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->id, kId2);
  EXPECT_EQ(ref->cgroup, "/docker/" + kId2);
}

TEST(FindCgroup2Mount, HybridAndUnifiedLayouts) {
  test::TempDir dir;
  const auto mi = dir.path() / "mountinfo";
  {
    std::ofstream out(mi);
    out << "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
           "25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
           "26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - "
           "cgroup2 cgroup2 rw,nsdelegate\n"
           "27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup "
           "rw,xattr,name=systemd\n";
  }
  EXPECT_EQ(find_cgroup2_mount(mi), fs::path("/sys/fs/cgroup/unified"));
  {
    std::ofstream out(mi);
    out << "30 25 0:24 /sub /mnt/bind\\040dir rw shared:1 - cgroup2 cgroup2 rw\n"
           "31 22 0:24 / /sys/fs/cgroup rw,nosuid shared:2 - cgroup2 cgroup2 rw\n";
  }
  EXPECT_EQ(find_cgroup2_mount(mi), fs::path("/sys/fs/cgroup"));
  {
    std::ofstream out(mi);
    out << "30 25 0:24 /sub /mnt/bind\\040dir rw shared:1 - cgroup2 cgroup2 rw\n";
  }
  EXPECT_EQ(find_cgroup2_mount(mi), fs::path("/mnt/bind dir"));
  {
    std::ofstream out(mi);
    out << "25 22 0:23 / /sys/fs/cgroup/cpu rw shared:9 - cgroup cgroup rw,cpu\n";
  }
  EXPECT_FALSE(find_cgroup2_mount(mi).has_value());
}

std::uint64_t ino(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

// A cgroup2 tree as kubelet (systemd driver) and podman lay it out, in a
// temporary directory: the ids are the directories' inode numbers.
class FixtureTree {
 public:
  FixtureTree() {
    const std::string suid(kPodUidSystemd);
    pod_slice_ =
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + suid + ".slice";
    k8s_container_ = pod_slice_ + "/cri-containerd-" + kId3 + ".scope";
    podman_ = "/libpod_parent/libpod-" + kId1;
    for (const auto& p :
         {std::string("/system.slice/ssh.service"), std::string("/init.scope"), k8s_container_,
          podman_ + "/container", std::string("/libpod_parent/conmon")}) {
      fs::create_directories(root() / p.substr(1));
    }
    // Control files are not cgroups.
    std::ofstream(root() / "cgroup.procs") << "1\n";
    std::ofstream(root() / k8s_container_.substr(1) / "cgroup.procs") << "";
  }
  [[nodiscard]] const fs::path& root() const { return dir_.path(); }
  [[nodiscard]] std::uint64_t id(const std::string& rel) const {
    return ino(rel == "/" ? root() : root() / rel.substr(1));
  }
  std::string pod_slice_;
  std::string k8s_container_;
  std::string podman_;

 private:
  test::TempDir dir_;
};

ContainerTableConfig fixture_config(const FixtureTree& tree) {
  ContainerTableConfig c;
  c.cgroup_root = tree.root();
  c.rescan_interval = milliseconds(0);
  c.enrich_retries.clear();
  c.lookup_timeout = milliseconds(2000);
  c.storage_roots.clear();  // hermetic: not this machine's containers/storage
  return c;
}

TEST(ContainerTable, WalksAFixtureTreeAtStart) {
  FixtureTree tree;
  ContainerTable table(fixture_config(tree));
  auto found = table.start();
  ASSERT_OK(found);
  EXPECT_EQ(*found, 2U);  // the pod's container and the podman container

  const auto k8s = table.lookup(tree.id(tree.k8s_container_));
  ASSERT_NE(k8s, nullptr);
  EXPECT_EQ(k8s->id, kId3);
  EXPECT_EQ(k8s->runtime, "containerd");
  EXPECT_EQ(k8s->pod_uid, kPodUid);
  EXPECT_EQ(k8s->cgroup, tree.k8s_container_);
  EXPECT_TRUE(k8s->name.empty());  // no runtime socket: the path is all there is

  const auto podman = table.lookup(tree.id(tree.podman_));
  ASSERT_NE(podman, nullptr);
  EXPECT_EQ(podman->id, kId1);
  EXPECT_EQ(podman->runtime, "podman");
  // The container's own sub-cgroup shares the container's entry.
  EXPECT_EQ(table.lookup(tree.id(tree.podman_ + "/container")), podman);

  // Host cgroups map to no container.
  for (const auto* host : {"/", "/system.slice/ssh.service", "/init.scope", "/libpod_parent/conmon",
                           "/kubepods.slice", "/kubepods.slice/kubepods-burstable.slice"}) {
    EXPECT_EQ(table.lookup(tree.id(host)), nullptr) << host;
  }
  EXPECT_EQ(table.lookup(tree.id(tree.pod_slice_)), nullptr);
  const auto s = table.stats();
  EXPECT_EQ(s.containers, 2U);
  EXPECT_EQ(s.cgroups, 12U);  // every directory, the root included
  EXPECT_EQ(s.lookups_unknown, 0U);
}

TEST(ContainerTable, FollowsMkdirAndRmdirRecords) {
  FixtureTree tree;
  ContainerTable table(fixture_config(tree));
  ASSERT_OK(table.start());
  const std::string docker = "/system.slice/docker-" + kId2 + ".scope";
  fs::create_directories(tree.root() / docker.substr(1));
  const auto id = tree.id(docker);

  Event mkdir;
  mkdir.type = EventType::kCgroup;
  mkdir.cgroup_id = tree.id("/system.slice/ssh.service");  // who made it: a host process
  mkdir.data = CgroupData{.removed = false, .id = id, .level = 2, .path = docker};
  table.apply(mkdir);
  EXPECT_EQ(mkdir.container, nullptr);  // the record's own task is on the host

  Event exec;
  exec.type = EventType::kExec;
  exec.cgroup_id = id;
  table.apply(exec);
  ASSERT_NE(exec.container, nullptr);
  EXPECT_EQ(exec.container->id, kId2);
  EXPECT_EQ(exec.container->runtime, "docker");
  EXPECT_EQ(table.stats().containers, 3U);

  Event rmdir;
  rmdir.type = EventType::kCgroup;
  rmdir.data = CgroupData{.removed = true, .id = id, .level = 2, .path = docker};
  table.apply(rmdir);
  EXPECT_EQ(table.stats().containers, 2U);
  EXPECT_EQ(table.stats().cgroup_events, 2U);
  // Events still holding the container keep its description.
  EXPECT_EQ(exec.container->id, kId2);
  // The id is no longer known: unknown, and the worker finds nothing for it.
  fs::remove(tree.root() / docker.substr(1));
  EXPECT_EQ(table.lookup(id), nullptr);
  ASSERT_TRUE(table.wait_idle(milliseconds(5000)));
  EXPECT_EQ(table.lookup(id), nullptr);
  EXPECT_EQ(table.stats().resolved, 0U);
}

TEST(ContainerTable, ResolvesAMissedMkdirByWalkingAgain) {
  FixtureTree tree;
  ContainerTable table(fixture_config(tree));
  ASSERT_OK(table.start());
  // A container made while no mkdir record reached the table.
  const std::string crio = "/kubepods/besteffort/pod" + std::string(kPodUid) + "/crio-" + kId2;
  fs::create_directories(tree.root() / crio.substr(1));
  const auto id = tree.id(crio);
  EXPECT_EQ(table.lookup(id), nullptr);  // first sight: handed to the worker
  EXPECT_EQ(table.lookup(id), nullptr);  // asked once, counted twice
  ASSERT_TRUE(table.wait_idle(milliseconds(5000)));
  const auto info = table.lookup(id);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->id, kId2);
  EXPECT_EQ(info->runtime, "cri-o");
  EXPECT_EQ(info->pod_uid, kPodUid);
  const auto s = table.stats();
  EXPECT_EQ(s.lookups_unknown, 2U);
  EXPECT_EQ(s.rescans, 1U);
  EXPECT_EQ(s.resolved, 1U);
}

TEST(ContainerTable, IsBounded) {
  FixtureTree tree;
  auto config = fixture_config(tree);
  config.capacity = 4;
  ContainerTable table(std::move(config));
  ASSERT_OK(table.start());
  EXPECT_LE(table.stats().cgroups, 4U);
  table.on_cgroup(
      CgroupData{.removed = false, .id = 999999, .level = 1, .path = "/docker/" + kId2});
  EXPECT_EQ(table.lookup(999999), nullptr);
  EXPECT_GE(table.stats().overflows, 1U);
}

TEST(ContainerTable, NoCgroup2MountIsAnError) {
  test::TempDir dir;
  std::ofstream(dir.path() / "mountinfo")
      << "25 22 0:23 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw\n";
  ContainerTableConfig c;
  c.mountinfo = dir.path() / "mountinfo";
  ContainerTable table(std::move(c));
  EXPECT_FALSE(table.start().has_value());
}

// The real cgroup2 mount: a cgroup made after the table's walk, with no mkdir
// record, is found by file handle (open_by_handle_at; CAP_DAC_READ_SEARCH),
// not by walking again.
TEST(ContainerTable, ResolvesByFileHandleOnTheRealMount) {
  REQUIRE_ROOT_OR_SKIP();
  const auto mount = find_cgroup2_mount();
  ASSERT_TRUE(mount.has_value());
  ContainerTableConfig c;
  c.rescan_interval = std::chrono::hours(1);  // a walk would wait: only the handle can answer
  ContainerTable table(std::move(c));
  ASSERT_OK(table.start());
  const auto parent = *mount / ("vigil-test-" + std::to_string(getpid()));
  const auto dir = parent / ("docker-" + kId2 + ".scope");
  ASSERT_EQ(mkdir(parent.c_str(), 0755), 0) << std::strerror(errno);
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
  const auto id = ino(dir);
  EXPECT_EQ(table.lookup(id), nullptr);
  const bool idle = table.wait_idle(milliseconds(5000));
  const auto info = table.lookup(id);
  rmdir(dir.c_str());
  rmdir(parent.c_str());
  ASSERT_TRUE(idle);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->id, kId2);
  EXPECT_EQ(info->runtime, "docker");
  EXPECT_EQ(info->cgroup, "/" + parent.filename().string() + "/docker-" + kId2 + ".scope");
  const auto s = table.stats();
  EXPECT_EQ(s.rescans, 0U);
  EXPECT_EQ(s.resolved, 1U);
  EXPECT_EQ(s.lookups_unknown, 1U);
}

// --- Docker Engine API stub: HTTP/1.1 on a unix socket --------------------

int listen_unix(const fs::path& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
  EXPECT_EQ(listen(fd, 16), 0);
  return fd;
}

class DockerStub {
 public:
  // `bodies`: target -> JSON answered with 200 (chunked); anything else 404.
  // `silent`: accept and never answer (a hung daemon).
  DockerStub(fs::path path, std::map<std::string, std::string> bodies, bool silent = false)
      : path_(std::move(path)), bodies_(std::move(bodies)), silent_(silent) {
    fd_ = listen_unix(path_);
    thread_ = std::thread([this] { serve(); });
  }
  ~DockerStub() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
    for (const int c : held_) {
      close(c);
    }
  }
  [[nodiscard]] int requests() const { return requests_.load(); }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  void serve() {
    while (!stop_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) {
        return;
      }
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        const auto n = read(c, buf, sizeof(buf));
        if (n <= 0) {
          break;
        }
        req.append(buf, static_cast<std::size_t>(n));
      }
      ++requests_;
      if (silent_) {
        held_.push_back(c);
        continue;
      }
      const auto sp1 = req.find(' ');
      const auto target = req.substr(sp1 + 1, req.find(' ', sp1 + 1) - sp1 - 1);
      std::string out;
      if (auto it = bodies_.find(target); it != bodies_.end()) {
        // Chunked, split in two, as Go's net/http sends a large encoded body.
        const auto& b = it->second;
        const auto half = b.size() / 2;
        out =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: "
            "chunked\r\n\r\n";
        char size[32];
        std::snprintf(size, sizeof(size), "%zx\r\n", half);
        out += size + b.substr(0, half) + "\r\n";
        std::snprintf(size, sizeof(size), "%zx\r\n", b.size() - half);
        out += size + b.substr(half) + "\r\n0\r\n\r\n";
      } else {
        const std::string msg = R"({"message":"No such container"})";
        out = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
              std::to_string(msg.size()) + "\r\n\r\n" + msg;
      }
      (void)write(c, out.data(), out.size());
      close(c);
    }
  }

  fs::path path_;
  std::map<std::string, std::string> bodies_;
  bool silent_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::vector<int> held_;
  std::thread thread_;
};

std::string docker_inspect_json(const std::string& id) {
  return R"({"Id":")" + id +
         R"(","Name":"/web-1","Image":"sha256:1234",)"
         R"("Config":{"Image":"localhost/vigil-busybox:latest","Labels":{)"
         R"("io.kubernetes.pod.name":"payments-7d9f","io.kubernetes.pod.namespace":"payments",)"
         R"("io.kubernetes.pod.uid":")" +
         std::string(kPodUid) + R"(","maintainer":"ops"}},"State":{"Running":true}})";
}

TEST(DockerApi, ParsesAnInspectAnswer) {
  auto c = parse_docker_inspect(docker_inspect_json(kId1));
  ASSERT_OK(c);
  EXPECT_EQ(c->name, "web-1");
  EXPECT_EQ(c->image, "localhost/vigil-busybox:latest");
  EXPECT_EQ(c->pod, "payments-7d9f");
  EXPECT_EQ(c->k8s_ns, "payments");
  EXPECT_EQ(c->pod_uid, kPodUid);
  ASSERT_EQ(c->labels.size(), 4U);
  EXPECT_EQ(c->labels[3], (std::pair<std::string, std::string>{"maintainer", "ops"}));
  // Podman's compat API: no leading slash, null labels, no Config.Image.
  c = parse_docker_inspect(R"({"Name":"db","Image":"sha256:99","Config":{"Labels":null}})");
  ASSERT_OK(c);
  EXPECT_EQ(c->name, "db");
  EXPECT_EQ(c->image, "sha256:99");
  EXPECT_TRUE(c->labels.empty());
  EXPECT_FALSE(parse_docker_inspect("not json").has_value());
  EXPECT_FALSE(parse_docker_inspect("[1,2]").has_value());
}

TEST(DockerApi, LabelsAreBounded) {
  RuntimeContainer c;
  for (int i = 0; i < 100; ++i) {
    add_runtime_label(c, "k" + std::to_string(i), std::string(1000, 'v'));
  }
  EXPECT_EQ(c.labels.size(), kMaxLabels);
  EXPECT_EQ(c.labels[0].second.size(), kMaxLabelBytes);
}

TEST(DockerApi, HttpGetOverAUnixSocket) {
  test::TempDir dir;
  DockerStub stub(dir.path() / "docker.sock",
                  {{"/containers/" + kId1 + "/json", docker_inspect_json(kId1)}});
  auto r = unix_http_get(stub.path(), "/containers/" + kId1 + "/json", milliseconds(2000));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, docker_inspect_json(kId1));
  r = unix_http_get(stub.path(), "/containers/nope/json", milliseconds(2000));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_FALSE(unix_http_get((dir.path() / "absent.sock").string(), "/", milliseconds(100)));
}

TEST(DockerApi, AHungDaemonTimesOut) {
  test::TempDir dir;
  DockerStub stub(dir.path() / "hung.sock", {}, /*silent=*/true);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = unix_http_get(stub.path(), "/containers/x/json", milliseconds(200));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_FALSE(r.has_value());
  EXPECT_GE(took, milliseconds(190));
  EXPECT_LT(took, milliseconds(2000));
}

TEST(ContainerTable, EnrichesFromTheDockerApi) {
  FixtureTree tree;
  test::TempDir sockets;
  DockerStub podman(sockets.path() / "podman.sock",
                    {{"/containers/" + kId1 + "/json", docker_inspect_json(kId1)}});
  auto config = fixture_config(tree);
  config.sockets = {*parse_runtime_socket("docker:" + (sockets.path() / "absent.sock").string()),
                    *parse_runtime_socket("podman:" + podman.path().string())};
  ContainerTable table(std::move(config));
  ASSERT_OK(table.start());
  ASSERT_TRUE(table.wait_idle(milliseconds(5000)));
  const auto info = table.lookup(tree.id(tree.podman_));
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->id, kId1);
  EXPECT_EQ(info->runtime, "podman");
  EXPECT_EQ(info->name, "web-1");
  EXPECT_EQ(info->image, "localhost/vigil-busybox:latest");
  EXPECT_EQ(info->pod, "payments-7d9f");
  EXPECT_EQ(info->k8s_ns, "payments");
  EXPECT_EQ(info->cgroup, tree.podman_);
  // The sub-cgroup got the enriched description too.
  EXPECT_EQ(table.lookup(tree.id(tree.podman_ + "/container")), info);
  // A podman container is never asked of the docker socket (absent here
  // anyway); the pod's container (containerd) is asked of the podman socket
  // as a last resort and is unknown there.
  EXPECT_EQ(podman.requests(), 2);
  const auto s = table.stats();
  EXPECT_EQ(s.enriched, 1U);
  EXPECT_EQ(s.runtime_unknown, 1U);
  EXPECT_EQ(s.runtime_errors, 0U);
}

// containers/storage's containers.json, as Podman 4 writes it.
void write_storage(const fs::path& root, const std::string& id) {
  fs::create_directories(root / "overlay-containers");
  std::ofstream(root / "overlay-containers" / "containers.json")
      << R"([{"id":"0000","names":["other"],"image":"1111","metadata":"{}"},)"
      << R"({"id":")" << id << R"(","names":["web-1"],"image":"4b6e07febca3",)"
      << R"("layer":"d31a","metadata":"{\"image-name\":\"localhost/vigil-busybox:latest\",)"
      << R"(\"image-id\":\"4b6e07febca3\",\"name\":\"web-1\",\"created-at\":1796666596}",)"
      << R"("created":"2026-12-07T18:03:16.52726705Z","flags":{"MountLabel":""}}])";
}

TEST(ContainersStorage, FindsAContainerRecord) {
  test::TempDir dir;
  write_storage(dir.path(), kId1);
  const auto file = dir.path() / "overlay-containers" / "containers.json";
  auto c = find_in_storage(file, kId1);
  ASSERT_OK(c);
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->name, "web-1");
  EXPECT_EQ((*c)->image, "localhost/vigil-busybox:latest");
  c = find_in_storage(file, "0000");
  ASSERT_OK(c);
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->name, "other");
  EXPECT_EQ((*c)->image, "1111");  // no image-name: the image id
  c = find_in_storage(file, kId2);
  ASSERT_OK(c);
  EXPECT_FALSE(c->has_value());
  EXPECT_FALSE(find_in_storage(dir.path() / "absent.json", kId1).has_value());
  std::ofstream(file) << "{not json";
  EXPECT_FALSE(find_in_storage(file, kId1).has_value());
}

TEST(ContainerTable, NamesAPodmanContainerFromStorageBeforeItsApiAnswers) {
  FixtureTree tree;
  test::TempDir storage;
  write_storage(storage.path(), kId1);
  auto config = fixture_config(tree);
  config.storage_roots = {storage.path()};
  ContainerTable table(std::move(config));
  ASSERT_OK(table.start());
  ASSERT_TRUE(table.wait_idle(milliseconds(5000)));
  const auto info = table.lookup(tree.id(tree.podman_));
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->name, "web-1");
  EXPECT_EQ(info->image, "localhost/vigil-busybox:latest");
  EXPECT_EQ(info->runtime, "podman");
  const auto s = table.stats();
  EXPECT_EQ(s.enriched, 1U);
  EXPECT_EQ(s.from_storage, 1U);
  EXPECT_EQ(s.enrich_requests, 0U);  // no socket configured
}

// --- CRI stub: runtime.v1.RuntimeService on a unix socket -----------------

class CriStub final : public runtime::v1::RuntimeService::Service {
 public:
  grpc::Status ContainerStatus(grpc::ServerContext* /*ctx*/,
                               const runtime::v1::ContainerStatusRequest* req,
                               runtime::v1::ContainerStatusResponse* resp) override {
    ++calls;
    last_verbose = req->verbose();
    if (req->container_id() != kId3) {
      return {grpc::StatusCode::NOT_FOUND, "container not found"};
    }
    auto* s = resp->mutable_status();
    s->set_id(kId3);
    s->mutable_metadata()->set_name("api");
    s->mutable_metadata()->set_attempt(1);
    s->set_state(runtime::v1::CONTAINER_RUNNING);
    s->mutable_image()->set_image("registry.example/payments/api:1.4");
    s->set_image_ref("registry.example/payments/api@sha256:abcd");
    auto& labels = *s->mutable_labels();
    labels["io.kubernetes.pod.name"] = "api-5f7c9";
    labels["io.kubernetes.pod.namespace"] = "payments";
    labels["io.kubernetes.pod.uid"] = std::string(kPodUid);
    labels["io.kubernetes.container.name"] = "api";
    (*s->mutable_annotations())["io.kubernetes.container.hash"] = "1234";
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
  std::atomic<bool> last_verbose{true};
};

class CriServer {
 public:
  explicit CriServer(const fs::path& socket) {
    grpc::ServerBuilder b;
    b.AddListeningPort("unix://" + socket.string(), grpc::InsecureServerCredentials());
    b.RegisterService(&service_);
    server_ = b.BuildAndStart();
  }
  ~CriServer() { server_->Shutdown(); }
  CriStub& service() { return service_; }
  [[nodiscard]] bool up() const { return server_ != nullptr; }

 private:
  CriStub service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST(CriApi, ContainerStatusOverAUnixSocket) {
  test::TempDir dir;
  CriServer server(dir.path() / "containerd.sock");
  ASSERT_TRUE(server.up());
  auto client = make_runtime_client(
      *parse_runtime_socket("containerd:unix://" + (dir.path() / "containerd.sock").string()));
  auto c = client->inspect(kId3, milliseconds(5000));
  ASSERT_OK(c);
  EXPECT_EQ(c->name, "api");
  EXPECT_EQ(c->image, "registry.example/payments/api:1.4");
  EXPECT_EQ(c->pod, "api-5f7c9");
  EXPECT_EQ(c->k8s_ns, "payments");
  EXPECT_EQ(c->pod_uid, kPodUid);
  ASSERT_EQ(c->labels.size(), 4U);
  EXPECT_EQ(c->labels[0].first, "io.kubernetes.container.name");  // sorted
  EXPECT_FALSE(server.service().last_verbose.load());
  auto missing = client->inspect(kId1, milliseconds(5000));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(CriApi, AnAbsentSocketFailsFast) {
  test::TempDir dir;
  auto client =
      make_runtime_client(*parse_runtime_socket("cri-o:" + (dir.path() / "crio.sock").string()));
  const auto t0 = std::chrono::steady_clock::now();
  auto c = client->inspect(kId3, milliseconds(500));
  EXPECT_FALSE(c.has_value());
  EXPECT_NE(c.error().code, ErrorCode::kNotFound);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(2000));
}

TEST(ContainerTable, EnrichesAPodFromTheCri) {
  FixtureTree tree;
  test::TempDir sockets;
  CriServer server(sockets.path() / "containerd.sock");
  ASSERT_TRUE(server.up());
  auto config = fixture_config(tree);
  config.sockets = {
      *parse_runtime_socket("containerd:" + (sockets.path() / "containerd.sock").string())};
  ContainerTable table(std::move(config));
  ASSERT_OK(table.start());
  ASSERT_TRUE(table.wait_idle(milliseconds(10000)));

  Event e;
  e.type = EventType::kExec;
  e.cgroup_id = tree.id(tree.k8s_container_);
  table.apply(e);
  ASSERT_NE(e.container, nullptr);
  EXPECT_EQ(e.container->id, kId3);
  EXPECT_EQ(e.container->runtime, "containerd");
  EXPECT_EQ(e.container->name, "api");
  EXPECT_EQ(e.container->image, "registry.example/payments/api:1.4");
  EXPECT_EQ(e.container->pod, "api-5f7c9");
  EXPECT_EQ(e.container->k8s_ns, "payments");
  EXPECT_EQ(e.container->pod_uid, kPodUid);
  EXPECT_EQ(e.container->cgroup, tree.k8s_container_);
  // The podman container is not the CRI's business.
  const auto podman = table.lookup(tree.id(tree.podman_));
  ASSERT_NE(podman, nullptr);
  EXPECT_TRUE(podman->name.empty());
  EXPECT_EQ(server.service().calls.load(), 1);

  e.cgroup_id = tree.id("/system.slice/ssh.service");
  table.apply(e);
  EXPECT_EQ(e.container, nullptr);
}

TEST(ContainerTable, RetriesARuntimeThatDoesNotKnowTheContainerYet) {
  FixtureTree tree;
  test::TempDir sockets;
  // Answers 404 at first: the stub only knows the container on a second socket.
  DockerStub unknown(sockets.path() / "podman.sock", {});
  auto config = fixture_config(tree);
  config.sockets = {*parse_runtime_socket("podman:" + unknown.path().string())};
  config.enrich_retries = {milliseconds(10), milliseconds(10)};
  ContainerTable table(std::move(config));
  ASSERT_OK(table.start());
  ASSERT_TRUE(table.wait_idle(milliseconds(5000)));
  // Podman's container: asked three times (two retries); the pod's container
  // (containerd by its path) too, as a last resort.
  EXPECT_EQ(unknown.requests(), 6);
  EXPECT_EQ(table.stats().runtime_unknown, 2U);
}

TEST(RuntimeSockets, ParseAndDefaults) {
  auto s = parse_runtime_socket("containerd:unix:///run/containerd/containerd.sock");
  ASSERT_OK(s);
  EXPECT_EQ(s->runtime, "containerd");
  EXPECT_EQ(s->path, "/run/containerd/containerd.sock");
  EXPECT_EQ(s->api, RuntimeApi::kCri);
  s = parse_runtime_socket("crio:/run/crio/crio.sock");
  ASSERT_OK(s);
  EXPECT_EQ(s->runtime, "cri-o");
  s = parse_runtime_socket("podman:/run/podman/podman.sock");
  ASSERT_OK(s);
  EXPECT_EQ(s->api, RuntimeApi::kDocker);
  EXPECT_FALSE(parse_runtime_socket("rkt:/run/rkt.sock").has_value());
  EXPECT_FALSE(parse_runtime_socket("/run/docker.sock").has_value());
  EXPECT_FALSE(parse_runtime_socket("docker:relative.sock").has_value());
  for (const auto& d : default_runtime_sockets()) {
    EXPECT_TRUE(parse_runtime_socket(d).has_value()) << d;
  }
}

TEST(ContainersConfig, YamlSection) {
  AgentConfig cfg;
  EXPECT_TRUE(cfg.containers.enabled);
  EXPECT_EQ(cfg.containers.runtime_sockets, default_runtime_sockets());
  ASSERT_OK(apply_yaml(R"(
containers:
  enabled: true
  cgroup_root: /sys/fs/cgroup/unified
  runtime_sockets:
    - podman:/run/podman/podman.sock
  storage_roots: [/srv/containers/storage]
  lookup_timeout_ms: 250
  capacity: 1000
)",
                       cfg));
  EXPECT_EQ(cfg.containers.cgroup_root, "/sys/fs/cgroup/unified");
  EXPECT_EQ(cfg.containers.runtime_sockets,
            std::vector<std::string>{"podman:/run/podman/podman.sock"});
  EXPECT_EQ(cfg.containers.storage_roots, std::vector<std::string>{"/srv/containers/storage"});
  EXPECT_EQ(cfg.containers.lookup_timeout_ms, 250U);
  EXPECT_EQ(cfg.containers.capacity, 1000U);
  EXPECT_OK(validate(cfg));

  ASSERT_OK(apply_yaml("containers: {runtime_sockets: [], enabled: false}", cfg));
  EXPECT_FALSE(cfg.containers.enabled);
  EXPECT_TRUE(cfg.containers.runtime_sockets.empty());

  EXPECT_FALSE(apply_yaml("containers: {socket: x}", cfg).has_value());
  EXPECT_FALSE(apply_yaml("containers: [1]", cfg).has_value());
  AgentConfig bad;
  bad.containers.runtime_sockets = {"rkt:/run/rkt.sock"};
  EXPECT_FALSE(validate(bad).has_value());
  bad = AgentConfig{};
  bad.containers.cgroup_root = "relative";
  EXPECT_FALSE(validate(bad).has_value());
  bad = AgentConfig{};
  bad.containers.lookup_timeout_ms = 0;
  EXPECT_FALSE(validate(bad).has_value());
}

}  // namespace
}  // namespace vigil::agent
