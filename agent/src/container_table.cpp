#include "vigil/agent/container_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace vigil::agent {
namespace {

constexpr std::size_t kIdLen = 64;                   // docker, podman, containerd, CRI-O ids
constexpr std::size_t kMaxJobs = 4096;               // the worker's queue
constexpr std::size_t kMaxResolving = 1024;          // unknown ids handed to the worker at once
constexpr std::size_t kMaxUnresolved = 4096;         // ids the worker found nothing for
constexpr int kMaxDepth = 32;                        // of a walk
constexpr unsigned long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC
// kernfs file handles: type FILEID_KERNFS, the 64-bit node id (= cgroup id).
constexpr int kFileIdKernfs = 0xfe;

bool is_hex_id(std::string_view s) {
  return s.size() == kIdLen && std::ranges::all_of(s, [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

struct Match {
  std::string_view id;
  std::string_view runtime;
};

// A path component that names a container by itself: RUNTIME-ID or
// RUNTIME-ID.scope (systemd), or LXC's payload cgroup.
std::optional<Match> match_component(std::string_view c) {
  // The monitors (conmon) run beside the container, on the host's behalf.
  if (c.starts_with("libpod-conmon-") || c.starts_with("crio-conmon-")) {
    return std::nullopt;
  }
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kPrefixes = {{
      {"libpod-", "podman"},
      {"docker-", "docker"},
      {"cri-containerd-", "containerd"},
      {"crio-", "cri-o"},
  }};
  for (const auto& [prefix, runtime] : kPrefixes) {
    if (!c.starts_with(prefix)) {
      continue;
    }
    auto rest = c.substr(prefix.size());
    if (rest.ends_with(".scope")) {
      rest.remove_suffix(6);
    }
    if (is_hex_id(rest)) {
      return Match{rest, runtime};
    }
  }
  constexpr std::string_view kLxc = "lxc.payload.";
  if (c.starts_with(kLxc) && c.size() > kLxc.size()) {
    return Match{c.substr(kLxc.size()), "lxc"};
  }
  return std::nullopt;
}

// Runtimes that keep their containers in containers/storage (the kubelet
// cgroupfs guess "containerd" may be CRI-O).
bool base_uses_storage(std::string_view runtime) {
  return runtime == "podman" || runtime == "cri-o" || runtime == "containerd";
}

bool is_kubepods(std::string_view c) {
  return c == "kubepods" || c.starts_with("kubepods.") || c.starts_with("kubepods-") ||
         c.ends_with("-kubepods.slice");
}

// A pod's UID from kubelet's pod cgroup: podUID (cgroupfs driver) or
// kubepods[-QOS]-podUID.slice with the UID's dashes as underscores (systemd).
std::optional<std::string> pod_uid_of(std::string_view c) {
  std::string_view uid;
  if (c.starts_with("kubepods") && c.ends_with(".slice")) {
    const auto at = c.rfind("-pod");
    if (at == std::string_view::npos) {
      return std::nullopt;
    }
    uid = c.substr(at + 4, c.size() - (at + 4) - 6);
  } else if (c.starts_with("pod")) {
    uid = c.substr(3);
  } else {
    return std::nullopt;
  }
  if (uid.empty() || uid.size() > 64 || !std::ranges::all_of(uid, [](char ch) {
        return std::isxdigit(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '_';
      })) {
    return std::nullopt;
  }
  std::string out(uid);
  std::ranges::replace(out, '_', '-');
  return out;
}

std::string decode_mountinfo_field(std::string_view s) {
  // Spaces, tabs, newlines and backslashes are written as \ooo.
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const auto oct = s.substr(i + 1, 3);
      if (oct.size() == 3 &&
          std::ranges::all_of(oct, [](char c) { return c >= '0' && c <= '7'; })) {
        out.push_back(static_cast<char>((oct[0] - '0') * 64 + (oct[1] - '0') * 8 + (oct[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};

// Depth-first walk of the cgroup directories below `abs` (bounded).
void walk_into(const std::string& abs, const std::string& rel, int depth,
               std::vector<std::pair<std::uint64_t, std::string>>& out, std::size_t cap) {
  std::unique_ptr<DIR, DirCloser> dir(opendir(abs.c_str()));
  if (!dir) {
    return;  // removed meanwhile, or unreadable: what the kernel records say will do
  }
  while (const dirent* e = readdir(dir.get())) {
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) {
      continue;  // control files
    }
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    std::string child = abs + "/" + std::string(name);
    struct stat st {};
    if (lstat(child.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      continue;
    }
    std::string child_rel = (rel == "/" ? std::string() : rel) + "/" + std::string(name);
    out.emplace_back(static_cast<std::uint64_t>(st.st_ino), child_rel);
    if (out.size() >= cap) {
      return;
    }
    if (depth < kMaxDepth) {
      walk_into(child, child_rel, depth + 1, out, cap);
      if (out.size() >= cap) {
        return;
      }
    }
  }
}

}  // namespace

std::optional<ContainerRef> parse_cgroup_path(std::string_view path) {
  bool in_kubepods = false;
  std::string pod_uid;
  std::string_view prev;
  std::size_t pos = 0;
  while (pos < path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string_view::npos) {
      next = path.size();
    }
    const auto c = path.substr(pos, next - pos);
    pos = next + 1;
    if (c.empty()) {
      continue;
    }
    std::optional<Match> m = match_component(c);
    if (!m && prev == "docker" && is_hex_id(c)) {
      m = Match{c, "docker"};  // docker's cgroupfs driver: /docker/ID
    }
    if (!m && prev == "lxc" && c.find('.') == std::string_view::npos) {
      m = Match{c, "lxc"};  // LXC before 4.0: /lxc/NAME
    }
    if (!m && !pod_uid.empty() && is_hex_id(c)) {
      // kubelet's cgroupfs driver: /kubepods/QOS/podUID/ID. The path does not
      // say which CRI runtime; containerd is the common one, and the runtime
      // that answers for the id names itself (ContainerTable's worker).
      m = Match{c, "containerd"};
    }
    if (m) {
      ContainerRef ref;
      ref.id = std::string(m->id);
      ref.runtime = std::string(m->runtime);
      ref.pod_uid = std::move(pod_uid);
      ref.cgroup = std::string(path.substr(0, next));
      if (ref.cgroup.empty() || ref.cgroup.front() != '/') {
        ref.cgroup.insert(ref.cgroup.begin(), '/');
      }
      return ref;
    }
    if (in_kubepods) {
      if (auto uid = pod_uid_of(c)) {
        pod_uid = std::move(*uid);
      }
    }
    if (is_kubepods(c)) {
      in_kubepods = true;
      if (auto uid = pod_uid_of(c)) {
        pod_uid = std::move(*uid);  // kubepods-podUID.slice (guaranteed QoS) directly below
      }
    }
    prev = c;
  }
  return std::nullopt;
}

std::optional<std::filesystem::path> find_cgroup2_mount(const std::filesystem::path& mountinfo) {
  std::ifstream in(mountinfo);
  std::string line;
  std::optional<std::filesystem::path> any;
  while (std::getline(in, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) {
      continue;
    }
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") {
      continue;
    }
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, dev, root, mount_point;
    head >> id >> parent >> dev >> root >> mount_point;
    if (mount_point.empty()) {
      continue;
    }
    std::filesystem::path p = decode_mountinfo_field(mount_point);
    // The hierarchy's own root, not a bind mount of a sub-cgroup.
    if (root == "/") {
      return p;
    }
    if (!any) {
      any = p;
    }
  }
  return any;
}

ContainerTable::ContainerTable(ContainerTableConfig config) : config_(std::move(config)) {
  if (config_.capacity == 0) {
    config_.capacity = 1;
  }
}

ContainerTable::~ContainerTable() { stop(); }

Result<std::size_t> ContainerTable::start() {
  if (config_.cgroup_root.empty()) {
    auto mount = find_cgroup2_mount(config_.mountinfo);
    if (!mount) {
      return make_error(ErrorCode::kUnsupported,
                        fmt::format("no cgroup2 mount in {}", config_.mountinfo.string()));
    }
    root_ = *mount;
  } else {
    root_ = config_.cgroup_root;
  }
  struct stat st {};
  if (stat(root_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("cgroup root {}: {}", root_.string(), std::strerror(errno)));
  }
  struct statfs fs {};
  root_is_cgroup2_ =
      statfs(root_.c_str(), &fs) == 0 && static_cast<unsigned long>(fs.f_type) == kCgroup2Magic;
  clients_.resize(config_.sockets.size());

  std::vector<Found> found;
  walk(found);
  for (const auto& f : found) {
    add_cgroup(f.id, f.path);
  }
  last_walk_ = std::chrono::steady_clock::now();
  worker_ = std::jthread([this](std::stop_token stop) { worker_loop(std::move(stop)); });
  return containers_.size();
}

void ContainerTable::stop() {
  if (worker_.joinable()) {
    worker_.request_stop();
    cv_.notify_all();
    worker_.join();
  }
}

std::shared_ptr<const ContainerInfo> ContainerTable::lookup(std::uint64_t cgroup_id) {
  ++stats_.lookups;
  if (auto it = cgroups_.find(cgroup_id); it != cgroups_.end()) {
    return it->second;
  }
  if (cgroup_id == 0) {
    return nullptr;  // the record carries no cgroup
  }
  ++stats_.lookups_unknown;
  // A cgroup made before the table saw its mkdir record (lost, or its probe
  // not loaded): the worker finds its path; later events are attributed.
  if (worker_.joinable() && resolving_.size() < kMaxResolving && !resolving_.contains(cgroup_id) &&
      !unresolved_.contains(cgroup_id)) {
    Job job;
    job.kind = Job::Kind::kResolve;
    job.cgroup_id = cgroup_id;
    resolving_.insert(cgroup_id);
    enqueue(std::move(job));
  }
  return nullptr;
}

void ContainerTable::on_cgroup(const CgroupData& cgroup) {
  ++stats_.cgroup_events;
  if (cgroup.removed) {
    remove_cgroup(cgroup.id);
    resolving_.erase(cgroup.id);
    unresolved_.erase(cgroup.id);
    return;
  }
  if (cgroup.path.empty()) {
    (void)lookup(cgroup.id);  // no path in the record: resolve it like an unknown id
    return;
  }
  add_cgroup(cgroup.id, cgroup.path);
  unresolved_.erase(cgroup.id);
}

void ContainerTable::apply(Event& event) {
  sync();
  if (event.type == EventType::kCgroup) {
    if (const auto* c = std::get_if<CgroupData>(&event.data)) {
      on_cgroup(*c);
    }
  }
  event.container = lookup(event.cgroup_id);
}

bool ContainerTable::add_cgroup(std::uint64_t id, std::string_view path) {
  if (cgroups_.contains(id)) {
    return true;
  }
  if (cgroups_.size() >= config_.capacity) {
    ++stats_.overflows;
    return false;
  }
  auto ref = parse_cgroup_path(path);
  if (!ref) {
    cgroups_.emplace(id, nullptr);
    return true;
  }
  auto [it, inserted] = containers_.try_emplace(ref->id);
  Container& c = it->second;
  if (inserted) {
    auto info = std::make_shared<ContainerInfo>();
    info->id = ref->id;
    info->runtime = ref->runtime;
    info->pod_uid = ref->pod_uid;
    info->cgroup = ref->cgroup;
    c.info = info;
    if (!config_.sockets.empty() || !config_.storage_roots.empty()) {
      // Before start() returns the worker is not running yet: the job waits.
      Job job;
      job.kind = Job::Kind::kEnrich;
      job.info = c.info;
      enqueue(std::move(job));
    }
  }
  c.cgroups.push_back(id);
  cgroups_.emplace(id, c.info);
  return true;
}

void ContainerTable::remove_cgroup(std::uint64_t id) {
  auto it = cgroups_.find(id);
  if (it == cgroups_.end()) {
    return;
  }
  if (it->second) {
    if (auto c = containers_.find(it->second->id); c != containers_.end()) {
      std::erase(c->second.cgroups, id);
      if (c->second.cgroups.empty()) {
        containers_.erase(c);  // events still holding its info keep it alive
      }
    }
  }
  cgroups_.erase(it);
}

void ContainerTable::sync() {
  if (!have_results_.load(std::memory_order_acquire)) {
    return;
  }
  Results taken;
  {
    std::lock_guard lock(mu_);
    std::swap(taken, results_);
    have_results_.store(false, std::memory_order_relaxed);
  }
  for (auto& info : taken.enriched) {
    auto it = containers_.find(info->id);
    if (it == containers_.end()) {
      continue;  // gone while the runtime was asked
    }
    it->second.info = info;
    for (const auto id : it->second.cgroups) {
      if (auto cg = cgroups_.find(id); cg != cgroups_.end()) {
        cg->second = info;
      }
    }
  }
  for (const auto& f : taken.found) {
    const bool wanted = resolving_.erase(f.id) > 0;
    if (!cgroups_.contains(f.id) && add_cgroup(f.id, f.path) && wanted) {
      ++stats_.resolved;
    }
  }
  for (const auto id : taken.not_found) {
    if (resolving_.erase(id) > 0 && !cgroups_.contains(id)) {
      if (unresolved_.size() >= kMaxUnresolved) {
        unresolved_.clear();
      }
      unresolved_.insert(id);
    }
  }
}

ContainerTableStats ContainerTable::stats() const {
  ContainerTableStats s = stats_;
  s.cgroups = cgroups_.size();
  s.containers = containers_.size();
  s.rescans = w_rescans_.load(std::memory_order_relaxed);
  s.enrich_requests = w_enrich_requests_.load(std::memory_order_relaxed);
  s.enriched = w_enriched_.load(std::memory_order_relaxed);
  s.from_storage = w_from_storage_.load(std::memory_order_relaxed);
  s.runtime_errors = w_runtime_errors_.load(std::memory_order_relaxed);
  s.runtime_unknown = w_runtime_unknown_.load(std::memory_order_relaxed);
  s.queue_drops = w_queue_drops_.load(std::memory_order_relaxed);
  return s;
}

bool ContainerTable::wait_idle(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool idle = false;
    {
      std::lock_guard lock(mu_);
      idle = jobs_.empty() && !busy_;
    }
    sync();
    if (idle && !have_results_.load(std::memory_order_acquire)) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void ContainerTable::enqueue(Job job) {
  {
    std::lock_guard lock(mu_);
    if (jobs_.size() >= kMaxJobs) {
      w_queue_drops_.fetch_add(1, std::memory_order_relaxed);
      if (job.kind == Job::Kind::kResolve) {
        results_.not_found.push_back(job.cgroup_id);  // let the id be asked for again
        have_results_.store(true, std::memory_order_release);
      }
      return;
    }
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void ContainerTable::worker_loop(std::stop_token stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    const auto now = std::chrono::steady_clock::now();
    auto ready = std::ranges::find_if(jobs_, [&](const Job& j) { return j.not_before <= now; });
    if (ready == jobs_.end()) {
      if (jobs_.empty()) {
        cv_.wait(lock, stop, [&] { return !jobs_.empty(); });
      } else {
        auto next = std::ranges::min_element(jobs_, {}, &Job::not_before)->not_before;
        const auto size = jobs_.size();
        cv_.wait_until(lock, stop, next, [&] { return jobs_.size() != size; });
      }
      continue;
    }
    Job job = std::move(*ready);
    jobs_.erase(ready);
    busy_ = true;
    lock.unlock();
    if (job.kind == Job::Kind::kEnrich) {
      run_enrich(job);
    } else {
      run_resolve(job);
    }
    lock.lock();
    busy_ = false;
  }
}

RuntimeClient* ContainerTable::client_for(std::size_t socket) {
  if (!clients_[socket]) {
    clients_[socket] = make_runtime_client(config_.sockets[socket]);
  }
  return clients_[socket].get();
}

void ContainerTable::post(std::shared_ptr<const ContainerInfo> info) {
  std::lock_guard lock(mu_);
  results_.enriched.push_back(std::move(info));
  have_results_.store(true, std::memory_order_release);
}

std::shared_ptr<const ContainerInfo> ContainerTable::from_storage(const ContainerInfo& base) {
  for (const auto& root : config_.storage_roots) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
      const auto name = entry.path().filename().string();
      if (!name.ends_with("-containers")) {
        continue;  // overlay-containers, vfs-containers, ...
      }
      auto found = find_in_storage(entry.path() / "containers.json", base.id);
      if (!found || !*found) {
        continue;
      }
      auto info = std::make_shared<ContainerInfo>(base);
      info->name = std::move((*found)->name);
      info->image = std::move((*found)->image);
      return info;
    }
  }
  return nullptr;
}

void ContainerTable::run_enrich(Job& job) {
  // containers/storage first (Podman, CRI-O): its record is there before the
  // container starts, while the runtime's API may wait for the start to end.
  if (job.attempt == 0 && !config_.storage_roots.empty() && base_uses_storage(job.info->runtime)) {
    if (auto info = from_storage(*job.info)) {
      w_enriched_.fetch_add(1, std::memory_order_relaxed);
      w_from_storage_.fetch_add(1, std::memory_order_relaxed);
      job.info = info;
      job.described = true;
      post(std::move(info));
    }
  }
  const ContainerInfo& base = *job.info;
  // The runtime the path named first; for a CRI runtime named by kubelet's
  // cgroupfs layout (a guess), the other CRI sockets and then the rest.
  std::vector<std::size_t> order;
  const bool restricted = base.runtime == "docker" || base.runtime == "podman";
  for (int pass = 0; pass < 3; ++pass) {
    for (std::size_t i = 0; i < config_.sockets.size(); ++i) {
      const auto& s = config_.sockets[i];
      const bool exact = s.runtime == base.runtime;
      const bool cri = s.api == RuntimeApi::kCri;
      if ((pass == 0 && exact) || (pass == 1 && !exact && cri && !restricted) ||
          (pass == 2 && !exact && !cri && !restricted)) {
        order.push_back(i);
      }
    }
  }
  bool asked = false;
  for (const auto i : order) {
    const auto& socket = config_.sockets[i];
    struct stat st {};
    if (stat(socket.path.c_str(), &st) != 0) {
      continue;  // this runtime is not installed or not running: not an error
    }
    asked = true;
    w_enrich_requests_.fetch_add(1, std::memory_order_relaxed);
    auto answer = client_for(i)->inspect(base.id, config_.lookup_timeout);
    if (!answer) {
      if (answer.error().code != ErrorCode::kNotFound) {
        w_runtime_errors_.fetch_add(1, std::memory_order_relaxed);
      }
      continue;
    }
    auto info = std::make_shared<ContainerInfo>(base);
    if (socket.runtime != "cri") {
      info->runtime = socket.runtime;
    }
    if (!answer->name.empty()) {
      info->name = std::move(answer->name);
    }
    if (!answer->image.empty()) {
      info->image = std::move(answer->image);
    }
    info->pod = std::move(answer->pod);
    info->k8s_ns = std::move(answer->k8s_ns);
    if (!answer->pod_uid.empty()) {
      info->pod_uid = std::move(answer->pod_uid);
    }
    info->labels = std::move(answer->labels);
    if (!job.described) {
      w_enriched_.fetch_add(1, std::memory_order_relaxed);
    }
    post(std::move(info));
    return;
  }
  if (!asked || job.described) {
    return;  // no runtime socket here (the path is all there is), or storage said it
  }
  if (job.attempt < config_.enrich_retries.size()) {
    job.not_before = std::chrono::steady_clock::now() + config_.enrich_retries[job.attempt];
    ++job.attempt;
    enqueue(std::move(job));
    return;
  }
  w_runtime_unknown_.fetch_add(1, std::memory_order_relaxed);
}

std::optional<std::string> ContainerTable::path_by_handle(std::uint64_t id) const {
  const int mount_fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mount_fd < 0) {
    return std::nullopt;
  }
  alignas(file_handle) std::array<unsigned char, sizeof(file_handle) + sizeof(std::uint64_t)> buf{};
  auto* fh = reinterpret_cast<file_handle*>(buf.data());
  fh->handle_bytes = sizeof(std::uint64_t);
  fh->handle_type = kFileIdKernfs;
  std::memcpy(buf.data() + sizeof(file_handle), &id, sizeof(id));
  // Needs CAP_DAC_READ_SEARCH, which the agent keeps after start.
  const int fd = open_by_handle_at(mount_fd, fh, O_PATH | O_CLOEXEC);
  close(mount_fd);
  if (fd < 0) {
    return std::nullopt;
  }
  std::array<char, 4096> target{};
  const auto link = fmt::format("/proc/self/fd/{}", fd);
  const auto n = readlink(link.c_str(), target.data(), target.size() - 1);
  close(fd);
  if (n <= 0) {
    return std::nullopt;
  }
  std::string_view abs(target.data(), static_cast<std::size_t>(n));
  const std::string root = root_.string();
  if (!abs.starts_with(root)) {
    return std::nullopt;
  }
  abs.remove_prefix(root.size());
  return abs.empty() ? std::string("/") : std::string(abs);
}

void ContainerTable::walk(std::vector<Found>& out) const {
  std::vector<std::pair<std::uint64_t, std::string>> found;
  struct stat st {};
  if (stat(root_.c_str(), &st) != 0) {
    return;
  }
  found.emplace_back(static_cast<std::uint64_t>(st.st_ino), "/");
  walk_into(root_.string(), "/", 0, found, config_.capacity);
  out.reserve(out.size() + found.size());
  for (auto& [id, path] : found) {
    out.push_back(Found{id, std::move(path)});
  }
}

void ContainerTable::run_resolve(const Job& job) {
  if (root_is_cgroup2_) {
    if (auto path = path_by_handle(job.cgroup_id)) {
      std::lock_guard lock(mu_);
      results_.found.push_back(Found{job.cgroup_id, std::move(*path)});
      have_results_.store(true, std::memory_order_release);
      return;
    }
  }
  const auto now = std::chrono::steady_clock::now();
  if (now < last_walk_ + config_.rescan_interval) {
    Job later = job;
    later.not_before = last_walk_ + config_.rescan_interval;
    enqueue(std::move(later));
    return;
  }
  // One walk answers every unknown id queued now.
  std::vector<std::uint64_t> ids = {job.cgroup_id};
  {
    std::lock_guard lock(mu_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->kind == Job::Kind::kResolve) {
        ids.push_back(it->cgroup_id);
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::vector<Found> found;
  walk(found);
  last_walk_ = std::chrono::steady_clock::now();
  w_rescans_.fetch_add(1, std::memory_order_relaxed);
  std::unordered_set<std::uint64_t> seen;
  seen.reserve(found.size());
  for (const auto& f : found) {
    seen.insert(f.id);
  }
  std::lock_guard lock(mu_);
  for (const auto id : ids) {
    if (!seen.contains(id)) {
      results_.not_found.push_back(id);
    }
  }
  for (auto& f : found) {
    results_.found.push_back(std::move(f));
  }
  have_results_.store(true, std::memory_order_release);
}

}  // namespace vigil::agent
