// Per-image shell profiles (docs/detections.md, "container-shell-novel"): for
// each container image, the shells and script interpreters its containers
// ran, and when the image was first seen. During an image's learning window
// (from its first sighting anywhere in the fleet) shells are learned; after
// it, a shell the image never ran is novel and raises container-shell-novel,
// once per (image, shell) on this host per re-alert interval. What this agent
// learns goes to the collector (ImageObservations), which merges the fleet's
// profiles, adds the shells analysts label benign, and sends them back to
// every agent (ImageProfiles); merge() takes them in. Bounded: at most
// max_images profiles (the least recently seen here is evicted first), each
// of at most kMaxProfileShells shells. Agent loop only; not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "vigil/event.h"
#include "vigil/image_profile.h"
#include "vigil/result.h"

namespace vigil::agent {

struct ImageProfileConfig {
  // From an image's first sighting (fleet-wide), shells are learned for this
  // long; after it a shell the image never ran is novel. 0: nothing is learned
  // (every shell is novel until labelled benign; tests).
  std::uint64_t learning_window_s = 600;
  std::size_t max_images = 4096;
  // A novel (image, shell) raised here is not raised again on this host for
  // this long, unless the fleet's profile has learned it meanwhile.
  std::uint64_t realert_s = 3600;
};

struct ImageProfileStats {
  std::uint64_t shells_seen = 0;     // shell or interpreter execs in containers
  std::uint64_t learned = 0;         // (image, shell) pairs learned in a window here
  std::uint64_t novel = 0;           // container-shell-novel raised
  std::uint64_t held = 0;            // novel repeats within realert_s: not raised again
  std::uint64_t unprofiled = 0;      // shells in containers with no image and no name
  std::uint64_t evicted = 0;         // profiles dropped over max_images
  std::uint64_t shells_dropped = 0;  // shells over kMaxProfileShells, not kept
  std::uint64_t fleet_merged = 0;    // fleet profiles that changed what this agent knew
  std::uint64_t fleet_refused = 0;   // fleet profiles with a malformed key or shell
};

class ImageProfiles {
 public:
  enum class Verdict : std::uint8_t {
    kNone,        // not in a container, or not a shell
    kKnown,       // the image's profile has this shell
    kLearned,     // learned now, in the image's window
    kNovel,       // after the window, never run by the image: raise
    kHeld,        // novel, but raised here within realert_s (or unprofiled, seen before)
    kUnprofiled,  // a shell in a container with no profile key, first time for it
  };

  explicit ImageProfiles(ImageProfileConfig config = {}) : config_(config) {}
  void set_config(ImageProfileConfig config) { config_ = config; }
  [[nodiscard]] const ImageProfileConfig& config() const { return config_; }

  // An exec event: the image is seen (its profile made on the first sighting)
  // and a shell is learned or judged. Anything else is kNone.
  Verdict observe(const Event& e);

  // The fleet's profiles (the collector's ImageProfiles): earliest first
  // sighting and union of shells. Malformed records are skipped and counted.
  void merge(const ImageProfileRecord& fleet);

  // Profiles this agent changed since the last call, at most `max`, oldest
  // change order not kept (they merge in any order). Returns how many.
  std::size_t take_changes(std::vector<ImageProfileRecord>& out, std::size_t max);
  // Cheap: is there anything for take_changes?
  [[nodiscard]] bool has_changes() const { return changed_; }
  // Every profile this agent contributed to is sent again (a new stream: what
  // was queued on the old one may be lost; merging is idempotent).
  void resend_all();

  // STATE_DIR/image-profiles.tsv: "image<TAB>first_seen_ns<TAB>L|-<TAB>sh,bash".
  // A missing file is none; a malformed line is an error (nothing loaded).
  [[nodiscard]] Result<void> load(const std::filesystem::path& path);
  [[nodiscard]] Result<void> save(const std::filesystem::path& path) const;

  [[nodiscard]] std::size_t size() const { return images_.size(); }
  [[nodiscard]] const ImageProfileStats& stats() const { return stats_; }
  // The profile for `key` (nullptr if none); tests and stats.
  [[nodiscard]] const ImageProfileRecord* find(std::string_view key) const;

 private:
  struct Entry {
    ImageProfileRecord rec;
    std::uint64_t last_seen_ns = 0;  // seen running here; 0 = known from the fleet only
    bool local = false;              // this agent saw it (sent again after each connect)
    bool dirty = false;              // changed here since take_changes
    std::vector<std::pair<std::string, std::uint64_t>> raised;  // shell -> when raised here
  };
  Entry& entry(const std::string& key);
  const std::string& key_of(const std::shared_ptr<const ContainerInfo>& c);

  ImageProfileConfig config_;
  std::unordered_map<std::string, Entry> images_;
  // Shells seen in unprofiled containers: "container id>shell" (bounded).
  std::unordered_set<std::string> unprofiled_;
  // The last container's key: a container's execs come in runs.
  std::shared_ptr<const ContainerInfo> last_container_;
  std::string last_key_;
  std::string buf_;
  bool changed_ = false;  // some entry is dirty
  ImageProfileStats stats_;
};

}  // namespace vigil::agent
