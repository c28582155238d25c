#include "vigil/agent/skeleton.h"

#include <vector>

#include "vigil/abi.h"

namespace vigil::agent {

Result<KernelStats> read_percpu_stats(bpf_map* stats_map) {
  KernelStats total{};
  if (stats_map == nullptr) {
    return make_error(ErrorCode::kInternal, "stats map not loaded");
  }
  const int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) {
    return make_error(ErrorCode::kKernel, "cannot count possible CPUs");
  }
  std::vector<std::uint64_t> values(static_cast<std::size_t>(ncpus));
  for (std::uint32_t slot = 0; slot < VIGIL_STAT_MAX; ++slot) {
    if (bpf_map__lookup_elem(stats_map, &slot, sizeof(slot), values.data(),
                             values.size() * sizeof(std::uint64_t), 0) != 0) {
      return make_error(ErrorCode::kKernel,
                        fmt::format("read stats slot {}: {}", slot, std::strerror(errno)));
    }
    for (auto v : values) {
      total[slot] += v;
    }
  }
  return total;
}

Result<void> fill_filters(bpf_map* ignore_comm, bpf_map* ignore_exec_prefix,
                          const ProbeOptions& options) {
  if (ignore_comm != nullptr) {
    for (const auto& c : options.ignore_comms) {
      char key[VIGIL_COMM_LEN] = {};
      std::memcpy(key, c.data(), std::min(c.size(), sizeof(key) - 1));
      const std::uint32_t value = VIGIL_FILTER_ALL;
      if (bpf_map__update_elem(ignore_comm, key, sizeof(key), &value, sizeof(value), BPF_ANY) !=
          0) {
        return make_error(ErrorCode::kKernel,
                          fmt::format("ignore_comm '{}': {}", c, std::strerror(errno)));
      }
    }
  }
  if (ignore_exec_prefix != nullptr) {
    for (const auto& p : options.ignore_exec_prefixes) {
      vigil_path_key key{};
      const std::size_t len = std::min(p.size(), sizeof(key.path));
      key.prefixlen = static_cast<std::uint32_t>(len * 8);
      std::memcpy(key.path, p.data(), len);
      const std::uint32_t value = VIGIL_FILTER_ALL;
      if (bpf_map__update_elem(ignore_exec_prefix, &key, sizeof(key), &value, sizeof(value),
                               BPF_ANY) != 0) {
        return make_error(ErrorCode::kKernel,
                          fmt::format("ignore_exec_prefix '{}': {}", p, std::strerror(errno)));
      }
    }
  }
  return {};
}

}  // namespace vigil::agent
