#include "vigil/collector/workload.h"

namespace vigil::collector {
namespace {

std::string_view without_digest(std::string_view image) { return image.substr(0, image.find('@')); }

bool image_matches(std::string_view image, std::string_view filter) {
  return image == filter || without_digest(image) == filter || image_repository(image) == filter;
}

bool pod_matches(const v1::Container& c, std::string_view filter) {
  if (filter.find('/') != std::string_view::npos) {
    return !c.pod().empty() && pod_key(c) == filter;
  }
  return (!c.pod().empty() && c.pod() == filter) || (!c.pod_uid().empty() && c.pod_uid() == filter);
}

}  // namespace

std::string_view image_repository(std::string_view image) {
  image = without_digest(image);
  // A tag follows the last ':' after the last '/'; a ':' before it is a
  // registry's port.
  const auto slash = image.rfind('/');
  const auto colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    image = image.substr(0, colon);
  }
  return image;
}

std::string pod_key(const v1::Container& c) {
  const std::string& pod = c.pod().empty() ? c.pod_uid() : c.pod();
  if (pod.empty()) {
    return {};
  }
  return c.k8s_ns().empty() || c.pod().empty() ? pod : c.k8s_ns() + "/" + pod;
}

bool WorkloadFilter::matches(const v1::Event& event) const {
  if (empty()) {
    return true;
  }
  if (!event.has_container()) {
    return false;
  }
  const auto& c = event.container();
  if (!container.empty() && !(!c.id().empty() && c.id().starts_with(container)) &&
      !(!c.name().empty() && c.name() == container)) {
    return false;
  }
  if (!image.empty() && (c.image().empty() || !image_matches(c.image(), image))) {
    return false;
  }
  if (!pod.empty() && !pod_matches(c, pod)) {
    return false;
  }
  return k8s_ns.empty() || c.k8s_ns() == k8s_ns;
}

}  // namespace vigil::collector
