// Which container an event came from, by its cgroup id. The table maps every
// cgroup v2 directory (id = its inode number, what bpf_get_current_cgroup_id()
// returns) to the container it belongs to, or to none (a host cgroup). It is
// filled by walking the cgroup2 mount at start, kept current by the kernel's
// cgroup mkdir/rmdir records (EventType::kCgroup), and enriched from the
// container runtime's API by a worker thread: the event thread never waits on
// a socket. lookup() is a hash lookup: no system call, no allocation.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "vigil/agent/runtime_client.h"
#include "vigil/event.h"
#include "vigil/result.h"

namespace vigil::agent {

// A container named by a cgroup path.
struct ContainerRef {
  std::string id;       // the runtime's id (64 hex; the name for LXC)
  std::string runtime;  // podman, docker, containerd, cri-o, lxc
  std::string pod_uid;  // kubelet's layout: the pod's UID, with dashes
  std::string cgroup;   // the container's own cgroup (a prefix of the path parsed)
};

// The container a cgroup path (relative to the cgroup2 mount) belongs to, or
// nullopt for a host cgroup. Sub-cgroups a container makes inside its own map
// to it. Layouts: podman (cgroupfs /libpod_parent/libpod-ID[/container],
// systemd machine.slice/libpod-ID.scope), docker (/docker/ID,
// system.slice/docker-ID.scope), containerd (cri-containerd-ID.scope), CRI-O
// (crio-ID.scope, /crio-ID; crio-conmon-* is the monitor, a host process),
// kubelet with the systemd driver (kubepods.slice/kubepods-QOS.slice/
// kubepods-QOS-podUID.slice/...) and the cgroupfs driver
// (/kubepods/QOS/podUID/ID), LXC (/lxc.payload.NAME).
[[nodiscard]] std::optional<ContainerRef> parse_cgroup_path(std::string_view path);

// The mount point of the cgroup2 (unified) hierarchy, from a mountinfo file.
[[nodiscard]] std::optional<std::filesystem::path> find_cgroup2_mount(
    const std::filesystem::path& mountinfo = "/proc/self/mountinfo");

struct ContainerTableConfig {
  // The cgroup2 mount; empty: found in `mountinfo` (tests give a fixture tree).
  std::filesystem::path cgroup_root;
  std::filesystem::path mountinfo = "/proc/self/mountinfo";
  // Runtime APIs asked for names, images and pods; none: paths alone.
  std::vector<RuntimeSocket> sockets;
  // containers/storage graph roots (Podman, CRI-O): name and image of a new
  // container are read from DRIVER-containers/containers.json there first.
  std::vector<std::filesystem::path> storage_roots = {"/var/lib/containers/storage"};
  std::chrono::milliseconds lookup_timeout{1000};  // per runtime call
  std::size_t capacity = 65536;                    // cgroups tracked
  // Unknown ids (a missed mkdir record) are resolved by the worker: by file
  // handle on a real cgroup2 mount, else by walking the tree again, at most
  // once per this interval.
  std::chrono::milliseconds rescan_interval{2000};
  // Runtime calls that found nothing are tried again after these delays (a
  // container's cgroup can appear a moment before its runtime reports it).
  std::vector<std::chrono::milliseconds> enrich_retries{std::chrono::milliseconds(500),
                                                        std::chrono::milliseconds(2000)};
};

struct ContainerTableStats {
  std::uint64_t cgroups = 0;     // tracked now (host and container)
  std::uint64_t containers = 0;  // tracked now
  std::uint64_t lookups = 0;
  std::uint64_t lookups_unknown = 0;  // ids the table did not know
  std::uint64_t cgroup_events = 0;    // mkdir/rmdir records applied
  std::uint64_t rescans = 0;          // walks of the tree after start
  std::uint64_t resolved = 0;         // unknown ids found later (handle or walk)
  std::uint64_t enrich_requests = 0;  // runtime calls made
  std::uint64_t enriched = 0;         // containers a runtime described
  std::uint64_t from_storage = 0;     // ... of them first from containers/storage's records
  std::uint64_t runtime_errors = 0;   // calls that failed (socket absent, timeout, bad answer)
  std::uint64_t runtime_unknown = 0;  // containers no configured runtime knew
  std::uint64_t overflows = 0;        // cgroups not tracked: the table was full
  std::uint64_t queue_drops = 0;      // worker jobs dropped: its queue was full
};

class ContainerTable {
 public:
  explicit ContainerTable(ContainerTableConfig config);
  ~ContainerTable();
  ContainerTable(const ContainerTable&) = delete;
  ContainerTable& operator=(const ContainerTable&) = delete;

  // Finds the cgroup2 mount, walks it and starts the worker. Returns the
  // number of containers found. Fails when there is no cgroup2 mount.
  [[nodiscard]] Result<std::size_t> start();
  // Stops the worker (pending runtime calls are abandoned). Idempotent.
  void stop();

  // The container of a cgroup id; null for a host cgroup or an unknown id (an
  // unknown id is handed to the worker, and a later event finds it). Hot path.
  [[nodiscard]] std::shared_ptr<const ContainerInfo> lookup(std::uint64_t cgroup_id);
  // A cgroup made or removed (the kernel's record; path relative to the mount).
  void on_cgroup(const CgroupData& cgroup);
  // The pipeline's hook: sync(), then a kCgroup record updates the table, and
  // every event gets e.container = lookup(e.cgroup_id).
  void apply(Event& event);
  // Takes in what the worker finished (runtime answers, walks). One atomic load
  // when there is nothing.
  void sync();

  // Event-thread counters plus the worker's.
  [[nodiscard]] ContainerTableStats stats() const;
  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  // Tests: waits until the worker has nothing queued or running and its
  // results were taken in (sync). False on timeout.
  bool wait_idle(std::chrono::milliseconds timeout);

 private:
  struct Container {
    std::shared_ptr<const ContainerInfo> info;
    std::vector<std::uint64_t> cgroups;
  };
  struct Job {
    enum class Kind : std::uint8_t { kEnrich, kResolve } kind = Kind::kEnrich;
    std::uint64_t cgroup_id = 0;                // kResolve
    std::shared_ptr<const ContainerInfo> info;  // kEnrich: what the path said
    std::size_t attempt = 0;
    bool described = false;  // kEnrich: containers/storage gave name and image
    std::chrono::steady_clock::time_point not_before{};
  };
  struct Found {
    std::uint64_t id = 0;
    std::string path;
  };
  struct Results {
    std::vector<std::shared_ptr<const ContainerInfo>> enriched;
    std::vector<Found> found;              // cgroups the worker found (handle or walk)
    std::vector<std::uint64_t> not_found;  // resolve jobs that found nothing
  };

  // Adds one cgroup; false when the table is full.
  bool add_cgroup(std::uint64_t id, std::string_view path);
  void remove_cgroup(std::uint64_t id);
  void enqueue(Job job);
  void worker_loop(std::stop_token stop);
  void run_enrich(Job& job);
  // Name and image from containers/storage (first attempt only); posts them.
  std::shared_ptr<const ContainerInfo> from_storage(const ContainerInfo& base);
  void post(std::shared_ptr<const ContainerInfo> info);
  void run_resolve(const Job& job);
  // Walks root_ (bounded by capacity) into `out`.
  void walk(std::vector<Found>& out) const;
  [[nodiscard]] std::optional<std::string> path_by_handle(std::uint64_t id) const;
  RuntimeClient* client_for(std::size_t socket);

  ContainerTableConfig config_;
  std::filesystem::path root_;
  bool root_is_cgroup2_ = false;  // open_by_handle_at works there

  // Event thread.
  std::unordered_map<std::uint64_t, std::shared_ptr<const ContainerInfo>> cgroups_;
  std::unordered_map<std::string, Container> containers_;
  std::unordered_set<std::uint64_t> resolving_;   // handed to the worker
  std::unordered_set<std::uint64_t> unresolved_;  // the worker found nothing (bounded)
  ContainerTableStats stats_;

  // Shared with the worker.
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<Job> jobs_;
  Results results_;
  bool busy_ = false;
  std::atomic<bool> have_results_{false};
  std::atomic<std::uint64_t> w_rescans_{0};
  std::atomic<std::uint64_t> w_enrich_requests_{0};
  std::atomic<std::uint64_t> w_enriched_{0};
  std::atomic<std::uint64_t> w_from_storage_{0};
  std::atomic<std::uint64_t> w_runtime_errors_{0};
  std::atomic<std::uint64_t> w_runtime_unknown_{0};
  std::atomic<std::uint64_t> w_queue_drops_{0};

  // Worker thread only.
  std::vector<std::unique_ptr<RuntimeClient>> clients_;  // one per config_.sockets entry
  std::chrono::steady_clock::time_point last_walk_{};
  std::jthread worker_;
};

}  // namespace vigil::agent
