// Asking a container runtime what it knows of a container: the Docker Engine
// API over a unix socket (Docker, and Podman's `podman system service`) and
// the Kubernetes CRI over gRPC (containerd, CRI-O). Called only from the
// container table's worker thread, never on the event path; every call has a
// deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigil/result.h"

namespace vigil::agent {

// Which protocol a socket speaks.
enum class RuntimeApi : std::uint8_t {
  kDocker,  // Docker Engine API (HTTP/1.1): docker, podman
  kCri,     // runtime.v1.RuntimeService (gRPC): containerd, cri-o, or any CRI ("cri")
};

struct RuntimeSocket {
  std::string runtime;  // docker, podman, containerd, cri-o, cri
  std::string path;     // the unix socket
  RuntimeApi api = RuntimeApi::kDocker;
};

// "RUNTIME:PATH" (e.g. "containerd:/run/containerd/containerd.sock"; PATH may
// also be written unix:///PATH). RUNTIME is one of docker, podman, containerd,
// cri-o, cri; it picks the protocol.
[[nodiscard]] Result<RuntimeSocket> parse_runtime_socket(std::string_view spec);
// The sockets each runtime listens on by default, in the order tried.
[[nodiscard]] const std::vector<std::string>& default_runtime_sockets();

// What a runtime says of one container. Kubernetes' pod identity comes from
// the labels kubelet sets (io.kubernetes.pod.name, .namespace, .uid).
struct RuntimeContainer {
  std::string name;
  std::string image;
  std::string pod;
  std::string pod_uid;
  std::string k8s_ns;
  std::vector<std::pair<std::string, std::string>> labels;  // bounded (kMaxLabels)
};

inline constexpr std::size_t kMaxLabels = 32;
inline constexpr std::size_t kMaxLabelBytes = 256;  // longer keys and values are cut

// Adds a label (bounded: beyond kMaxLabels it is dropped, long ones are cut)
// and takes the pod's identity from kubelet's labels.
void add_runtime_label(RuntimeContainer& c, std::string_view key, std::string_view value);

// The body of GET /containers/{id}/json (Docker, Podman's compat API).
[[nodiscard]] Result<RuntimeContainer> parse_docker_inspect(std::string_view json);

// containers/storage's record of one container (Podman, CRI-O, Buildah):
// GRAPHROOT/DRIVER-containers/containers.json, written when the container is
// created, before it starts and without the runtime's container lock that its
// API waits on while the container starts: the name and the image, in time
// for the container's first exec. nullopt: not in the file.
[[nodiscard]] Result<std::optional<RuntimeContainer>> find_in_storage(
    const std::filesystem::path& containers_json, std::string_view container_id);

struct HttpReply {
  int status = 0;
  std::string body;
};
// One HTTP/1.1 GET over a unix socket, `Connection: close`, within `timeout`
// (connect, send and the whole answer). Bodies over 4 MiB are refused.
[[nodiscard]] Result<HttpReply> unix_http_get(const std::string& socket_path,
                                              std::string_view target,
                                              std::chrono::milliseconds timeout);

// A runtime's API behind one socket. inspect() fails with kNotFound when the
// runtime does not know the container (the next socket may), and with kIo or
// kUnsupported when the socket is absent or does not answer in time.
class RuntimeClient {
 public:
  virtual ~RuntimeClient() = default;
  [[nodiscard]] virtual Result<RuntimeContainer> inspect(std::string_view container_id,
                                                         std::chrono::milliseconds timeout) = 0;
};

[[nodiscard]] std::unique_ptr<RuntimeClient> make_runtime_client(const RuntimeSocket& socket);

}  // namespace vigil::agent
