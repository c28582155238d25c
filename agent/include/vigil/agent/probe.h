// A probe family (process, network, memory, file) as the agent sees it: loaded
// and attached with per-hook status, a ring buffer to read, counters to report.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vigil/abi.h"
#include "vigil/agent/hook_plan.h"
#include "vigil/result.h"

namespace vigil::agent {

struct ProbeOptions {
  std::uint32_t ringbuf_bytes = 4U << 20;
  std::uint32_t agent_tgid = 0;     // never report this process
  bool raw_events = false;          // no in-kernel de-duplication or rate limits
  std::uint32_t wakeup_min_us = 0;  // ring buffer wakeups at most this often; 0 = every record
  // Polled wakeups (bpf/maps.bpf.h): a record may wake the reader at most once
  // per 250 us, past ringbuf_bytes / 8 unread, or when rare and alert-grade;
  // the reader polls. false = libbpf's wakeup per record. Ignored when
  // wakeup_min_us > 0.
  bool polled_wakeups = true;
  std::vector<std::string> ignore_comms;
  std::vector<std::string> ignore_exec_prefixes;
  std::string btf_path;                     // empty: the running kernel's
  std::vector<std::string> disabled_modes;  // hook variants never tried, e.g. "tp_btf"
  // File family: locations whose changes are reported, files whose reads are
  // reported (credential stores), and sensitive names matched anywhere.
  std::vector<std::string> file_watch_prefixes;
  std::vector<std::string> file_read_paths;
  std::vector<std::string> file_watch_names;
  // Network family: interfaces for XDP ("all" = every non-loopback interface
  // that is up), enforcement, and the static blocklist ("addr" or "addr/ttl_s").
  std::vector<std::string> xdp_ifaces;
  bool xdp_enforce = false;
  std::vector<std::string> xdp_blocklist;
};

using KernelStats = std::array<std::uint64_t, VIGIL_STAT_MAX>;

class Probe {
 public:
  virtual ~Probe() = default;
  [[nodiscard]] virtual const std::string& family() const = 0;
  // Loads and attaches every hook the kernel allows. An error means nothing of
  // this family could be attached; partial success is visible in status().
  [[nodiscard]] virtual Result<void> start(const ProbeOptions& options) = 0;
  [[nodiscard]] virtual const std::vector<HookStatus>& status() const = 0;
  // The family's ring buffer map fd (owned by the probe), -1 when not loaded.
  [[nodiscard]] virtual int ring_fd() const = 0;
  // Sum over CPUs of the family's kernel counters (VIGIL_STAT_*).
  [[nodiscard]] virtual Result<KernelStats> read_stats() const = 0;
  // Name of a counter slot in JSON stats, nullptr if unused. Slots below
  // VIGIL_STAT_FAMILY_BASE mean the same in every family; the rest are the
  // family's own (each BPF object has its own stats map).
  [[nodiscard]] virtual const char* stat_name(std::size_t slot) const {
    return common_stat_name(slot);
  }
  // Detaches every hook but keeps maps (ring buffer, counters) readable, so
  // the agent can drain what is left and read final counters that match.
  virtual void detach() = 0;
  // Detaches and unloads; safe to call twice.
  virtual void stop() = 0;

  [[nodiscard]] static const char* common_stat_name(std::size_t slot);
};

}  // namespace vigil::agent
