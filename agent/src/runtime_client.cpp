#include "vigil/agent/runtime_client.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cri/api.grpc.pb.h"

namespace vigil::agent {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxBody = 4U << 20;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on fd until the deadline; false on timeout or error.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return false;
    }
    pollfd p{fd, events, 0};
    const int r = poll(&p, 1, static_cast<int>(std::min<long long>(left, 60000)));
    if (r > 0) {
      return true;
    }
    if (r < 0 && errno != EINTR) {
      return false;
    }
  }
}

bool cri_runtime(std::string_view r) { return r == "containerd" || r == "cri-o" || r == "cri"; }

std::string_view cut(std::string_view s) { return s.substr(0, std::min(s.size(), kMaxLabelBytes)); }

class DockerClient final : public RuntimeClient {
 public:
  explicit DockerClient(std::string path) : path_(std::move(path)) {}

  Result<RuntimeContainer> inspect(std::string_view container_id,
                                   std::chrono::milliseconds timeout) override {
    auto reply = unix_http_get(path_, fmt::format("/containers/{}/json", container_id), timeout);
    if (!reply) {
      return std::unexpected(reply.error());
    }
    if (reply->status == 404) {
      return make_error(ErrorCode::kNotFound, fmt::format("{}: no such container", path_));
    }
    if (reply->status != 200) {
      return make_error(ErrorCode::kIo, fmt::format("{}: HTTP {}", path_, reply->status));
    }
    return parse_docker_inspect(reply->body);
  }

 private:
  std::string path_;
};

class CriClient final : public RuntimeClient {
 public:
  explicit CriClient(std::string path)
      : path_(std::move(path)),
        channel_(grpc::CreateChannel("unix://" + path_, grpc::InsecureChannelCredentials())),
        stub_(runtime::v1::RuntimeService::NewStub(channel_)) {}

  Result<RuntimeContainer> inspect(std::string_view container_id,
                                   std::chrono::milliseconds timeout) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    runtime::v1::ContainerStatusRequest req;
    req.set_container_id(std::string(container_id));
    req.set_verbose(false);
    runtime::v1::ContainerStatusResponse resp;
    const auto status = stub_->ContainerStatus(&ctx, req, &resp);
    if (!status.ok()) {
      return make_error(status.error_code() == grpc::StatusCode::NOT_FOUND ? ErrorCode::kNotFound
                                                                           : ErrorCode::kIo,
                        fmt::format("{}: ContainerStatus: {} ({})", path_, status.error_message(),
                                    static_cast<int>(status.error_code())));
    }
    if (!resp.has_status()) {
      return make_error(ErrorCode::kNotFound, fmt::format("{}: no status", path_));
    }
    const auto& s = resp.status();
    RuntimeContainer c;
    c.name = s.metadata().name();
    c.image = !s.image().user_specified_image().empty() ? s.image().user_specified_image()
              : !s.image().image().empty()              ? s.image().image()
                                                        : s.image_ref();
    // A protobuf map has no order: sorted, so labels read the same every time.
    std::vector<std::pair<std::string_view, std::string_view>> labels(s.labels().begin(),
                                                                      s.labels().end());
    std::ranges::sort(labels);
    for (const auto& [k, v] : labels) {
      add_runtime_label(c, k, v);
    }
    return c;
  }

 private:
  std::string path_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<runtime::v1::RuntimeService::Stub> stub_;
};

}  // namespace

Result<RuntimeSocket> parse_runtime_socket(std::string_view spec) {
  const auto colon = spec.find(':');
  if (colon == std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("runtime socket '{}' must be RUNTIME:PATH", spec));
  }
  RuntimeSocket s;
  s.runtime = std::string(spec.substr(0, colon));
  auto path = spec.substr(colon + 1);
  if (path.starts_with("unix://")) {
    path.remove_prefix(7);
  }
  if (s.runtime == "crio") {
    s.runtime = "cri-o";
  }
  if (s.runtime == "docker" || s.runtime == "podman") {
    s.api = RuntimeApi::kDocker;
  } else if (cri_runtime(s.runtime)) {
    s.api = RuntimeApi::kCri;
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("runtime socket '{}': runtime must be docker, podman, "
                                  "containerd, cri-o or cri",
                                  spec));
  }
  if (path.empty() || path.front() != '/' || path.size() >= sizeof(sockaddr_un::sun_path)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("runtime socket '{}': the path must be absolute and shorter "
                                  "than {} bytes",
                                  spec, sizeof(sockaddr_un::sun_path)));
  }
  s.path = std::string(path);
  return s;
}

const std::vector<std::string>& default_runtime_sockets() {
  static const std::vector<std::string> kDefaults = {
      "docker:/run/docker.sock",
      "podman:/run/podman/podman.sock",
      "containerd:/run/containerd/containerd.sock",
      "cri-o:/run/crio/crio.sock",
  };
  return kDefaults;
}

void add_runtime_label(RuntimeContainer& c, std::string_view key, std::string_view value) {
  if (key == "io.kubernetes.pod.name") {
    c.pod = std::string(cut(value));
  } else if (key == "io.kubernetes.pod.namespace") {
    c.k8s_ns = std::string(cut(value));
  } else if (key == "io.kubernetes.pod.uid") {
    c.pod_uid = std::string(cut(value));
  }
  if (c.labels.size() < kMaxLabels) {
    c.labels.emplace_back(cut(key), cut(value));
  }
}

Result<RuntimeContainer> parse_docker_inspect(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::kCorrupt, "container inspect: not a JSON object");
  }
  RuntimeContainer c;
  if (auto it = j.find("Name"); it != j.end() && it->is_string()) {
    std::string_view name = it->get_ref<const std::string&>();
    if (name.starts_with('/')) {
      name.remove_prefix(1);  // Docker names are paths under its root
    }
    c.name = std::string(cut(name));
  }
  const auto config = j.find("Config");
  if (config != j.end() && config->is_object()) {
    if (auto it = config->find("Image"); it != config->end() && it->is_string()) {
      c.image = std::string(cut(it->get_ref<const std::string&>()));
    }
    if (auto it = config->find("Labels"); it != config->end() && it->is_object()) {
      for (const auto& [k, v] : it->items()) {  // a JSON object is sorted by key here
        if (v.is_string()) {
          add_runtime_label(c, k, v.get_ref<const std::string&>());
        }
      }
    }
  }
  if (c.image.empty()) {
    if (auto it = j.find("Image"); it != j.end() && it->is_string()) {
      c.image = std::string(cut(it->get_ref<const std::string&>()));  // the image id
    }
  }
  return c;
}

Result<std::optional<RuntimeContainer>> find_in_storage(
    const std::filesystem::path& containers_json, std::string_view container_id) {
  constexpr std::uintmax_t kMaxFile = 64U << 20;
  std::error_code ec;
  const auto size = std::filesystem::file_size(containers_json, ec);
  if (ec) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("{}: {}", containers_json.string(), ec.message()));
  }
  if (size > kMaxFile) {
    return make_error(ErrorCode::kExhausted,
                      fmt::format("{}: {} bytes, over the limit", containers_json.string(), size));
  }
  std::ifstream in(containers_json);
  // containers/storage replaces the file by rename: a reader sees a whole one.
  const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) {
    return make_error(ErrorCode::kCorrupt,
                      fmt::format("{}: not a JSON array", containers_json.string()));
  }
  for (const auto& c : j) {
    const auto id = c.find("id");
    if (!c.is_object() || id == c.end() || !id->is_string() ||
        id->get_ref<const std::string&>() != container_id) {
      continue;
    }
    RuntimeContainer out;
    if (auto names = c.find("names");
        names != c.end() && names->is_array() && !names->empty() && names->front().is_string()) {
      out.name = std::string(cut(names->front().get_ref<const std::string&>()));
    }
    // metadata is a JSON document in a string: image-name, image-id, name.
    if (auto meta = c.find("metadata"); meta != c.end() && meta->is_string()) {
      const auto m = nlohmann::json::parse(meta->get_ref<const std::string&>(), nullptr, false);
      if (m.is_object()) {
        if (auto it = m.find("image-name"); it != m.end() && it->is_string()) {
          out.image = std::string(cut(it->get_ref<const std::string&>()));
        }
        if (auto it = m.find("name"); out.name.empty() && it != m.end() && it->is_string()) {
          out.name = std::string(cut(it->get_ref<const std::string&>()));
        }
      }
    }
    if (auto image = c.find("image"); out.image.empty() && image != c.end() && image->is_string()) {
      out.image = std::string(cut(image->get_ref<const std::string&>()));  // the image id
    }
    return out;
  }
  return std::nullopt;
}

Result<HttpReply> unix_http_get(const std::string& socket_path, std::string_view target,
                                std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: path too long", socket_path));
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    return make_error(ErrorCode::kIo, fmt::format("socket: {}", std::strerror(errno)));
  }
  // A unix socket connects at once or fails (EAGAIN: the listener's backlog is full).
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return make_error(ErrorCode::kIo,
                      fmt::format("{}: connect: {}", socket_path, std::strerror(errno)));
  }
  const std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: vigil-agent\r\n"
      "Accept: application/json\r\nConnection: close\r\n\r\n",
      target);
  std::size_t sent = 0;
  while (sent < request.size()) {
    const auto n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return make_error(ErrorCode::kIo,
                        fmt::format("{}: send: {}", socket_path, std::strerror(errno)));
    }
    if (!wait_fd(fd.get(), POLLOUT, deadline)) {
      return make_error(ErrorCode::kIo, fmt::format("{}: timed out sending", socket_path));
    }
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  parser.eager(true);
  boost::beast::flat_buffer buf;
  boost::beast::error_code ec;
  while (!parser.is_done()) {
    auto space = buf.prepare(16384);
    const auto n = read(fd.get(), space.data(), space.size());
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        return make_error(ErrorCode::kIo,
                          fmt::format("{}: read: {}", socket_path, std::strerror(errno)));
      }
      if (!wait_fd(fd.get(), POLLIN, deadline)) {
        return make_error(ErrorCode::kIo, fmt::format("{}: timed out", socket_path));
      }
      continue;
    }
    if (n == 0) {
      parser.put_eof(ec);  // an answer delimited by the end of the connection
      if (ec) {
        return make_error(ErrorCode::kCorrupt,
                          fmt::format("{}: answer cut short: {}", socket_path, ec.message()));
      }
      break;
    }
    buf.commit(static_cast<std::size_t>(n));
    while (buf.size() > 0 && !parser.is_done()) {
      const auto used = parser.put(buf.data(), ec);
      buf.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) {
        return make_error(ErrorCode::kCorrupt,
                          fmt::format("{}: bad HTTP answer: {}", socket_path, ec.message()));
      }
      if (used == 0) {
        break;
      }
    }
  }
  if (!parser.is_done()) {
    return make_error(ErrorCode::kCorrupt, fmt::format("{}: incomplete answer", socket_path));
  }
  HttpReply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  reply.body = std::move(parser.get().body());
  return reply;
}

std::unique_ptr<RuntimeClient> make_runtime_client(const RuntimeSocket& socket) {
  if (socket.api == RuntimeApi::kCri) {
    return std::make_unique<CriClient>(socket.path);
  }
  return std::make_unique<DockerClient>(socket.path);
}

}  // namespace vigil::agent
