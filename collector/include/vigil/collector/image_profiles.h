// The fleet's image profiles (docs/detections.md, "container-shell-novel"):
// which shells and script interpreters the containers of each image ran,
// merged from every agent's ImageObservations (the earliest first sighting,
// the union of shells), plus the shells analysts labelled benign on a
// container-shell-novel alert. Kept in RocksDB (image_profiles column family)
// and sent to agents: all of them after each hello, then what changed, at
// most once per debounce interval. Agents are reached through
// ImageProfileLink so the class is testable without gRPC. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vigil/collector/store.h"
#include "vigil/image_profile.h"
#include "vigil/result.h"
#include "vigil/v1/agent.pb.h"

namespace vigil::collector {

struct ImageProfileLink {
  std::function<std::vector<std::string>()> connected;
  // Queues one message to one agent; false if it is not connected.
  std::function<bool(const std::string& agent_id, const v1::ImageProfiles& profiles)> send;
};

struct ImageProfileOptions {
  std::size_t max_images = 100'000;  // new images beyond are not kept (counted)
  // Changes reach connected agents at most this often (and within it).
  std::chrono::milliseconds debounce{1000};
};

struct ImageProfileStats {
  std::atomic<std::uint64_t> observations{0};         // ImageObservations messages
  std::atomic<std::uint64_t> profiles_refused{0};     // malformed records skipped
  std::atomic<std::uint64_t> over_max{0};             // new images not kept over max_images
  std::atomic<std::uint64_t> changes{0};              // profile changes merged (agents + labels)
  std::atomic<std::uint64_t> learned_from_labels{0};  // shells added by a benign label
  std::atomic<std::uint64_t> broadcasts{0};           // change rounds sent to the fleet
  std::atomic<std::uint64_t> store_errors{0};
};

class ImageProfileManager {
 public:
  ImageProfileManager(Store& store, ImageProfileLink link, ImageProfileOptions options = {});
  ImageProfileManager(const ImageProfileManager&) = delete;
  ImageProfileManager& operator=(const ImageProfileManager&) = delete;

  // Loads what the store holds.
  [[nodiscard]] Result<void> init();

  // One agent's observations: each record checked (a malformed one is skipped
  // and counted, the rest go on: the agent would send it again after every
  // reconnect), merged, the changed ones written in one WriteBatch and queued
  // for the next broadcast. More than kMaxProfilesPerMessage records is an
  // error (the stream is refused). Returns how many profiles changed.
  [[nodiscard]] Result<std::size_t> observe(const v1::ImageObservations& observations,
                                            std::uint64_t now_ns);

  // An analyst's label on `alert`. "benign" on an alert carrying
  // container-shell-novel: the event's shell joins its image's profile
  // fleet-wide (no agent raises it again). True when a profile changed.
  [[nodiscard]] Result<bool> on_label(const v1::Alert& alert, std::string_view label,
                                      std::uint64_t now_ns);

  // After an agent's hello: every profile, in messages of at most
  // kMaxProfilesPerMessage.
  void on_hello(const std::string& agent_id);
  // Sends what changed to every connected agent once the debounce interval
  // has passed since the previous round.
  void tick(std::chrono::steady_clock::time_point now);

  [[nodiscard]] std::optional<ImageProfileRecord> get(const std::string& image) const;
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] const ImageProfileStats& stats() const { return stats_; }

 private:
  // One write's merges (under mu_): the profiles it changed, by key.
  using Pending = std::map<std::string, ImageProfileRecord>;
  void merge_locked(const ImageProfileRecord& rec, Pending& pending);
  // Writes `pending` in one WriteBatch, then makes it current; returns how many.
  [[nodiscard]] Result<std::size_t> persist(const Pending& pending);

  Store& store_;
  ImageProfileLink link_;
  ImageProfileOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, ImageProfileRecord> profiles_;
  std::set<std::string> dirty_;  // changed since the last broadcast
  std::chrono::steady_clock::time_point last_broadcast_{};
  ImageProfileStats stats_;
};

// The ImageProfile message of a record, and back.
void to_proto(const ImageProfileRecord& rec, v1::ImageProfile& out);
[[nodiscard]] ImageProfileRecord from_proto(const v1::ImageProfile& p);

// The manager's Prometheus metrics (docs/operations.md, "Metrics").
void append_image_profile_metrics(const ImageProfileManager& profiles, std::string& out);

}  // namespace vigil::collector
