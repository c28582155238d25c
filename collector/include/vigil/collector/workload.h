// Workloads: events and alerts by container, image, Kubernetes pod and
// namespace (docs/api.md, "Workload filters"). The filters of QueryEvents,
// QueryAlerts and WatchAlerts, and the keys the fleet report groups by.
#pragma once

#include <string>
#include <string_view>

#include "vigil/v1/event.pb.h"

namespace vigil::collector {

struct WorkloadFilter {
  std::string container;  // an id, a prefix of one, or a container name
  std::string image;      // with or without its tag or digest
  std::string pod;        // a pod name, "namespace/pod" or a pod uid
  std::string k8s_ns;

  // Any request with the four fields (QueryEvents, QueryAlerts, WatchAlerts).
  template <typename Request>
  [[nodiscard]] static WorkloadFilter of(const Request& req) {
    return {req.container(), req.image(), req.pod(), req.k8s_ns()};
  }
  [[nodiscard]] bool empty() const {
    return container.empty() && image.empty() && pod.empty() && k8s_ns.empty();
  }
  // True when every set filter matches the event's container. An event
  // without one (the host's, or a fleet alert's) matches only an empty filter.
  [[nodiscard]] bool matches(const v1::Event& event) const;
};

// "namespace/pod" (the namespace left out when not known); the pod uid when
// the name is not known (kubelet's cgroup layout alone); "" outside a pod.
[[nodiscard]] std::string pod_key(const v1::Container& c);
// "registry:5000/app:1.2@sha256:..." -> "registry:5000/app" (what `image`
// filters also accept).
[[nodiscard]] std::string_view image_repository(std::string_view image);

}  // namespace vigil::collector
