#include "vigil/collector/image_profiles.h"

#include <fmt/format.h>

#include <algorithm>

#include "vigil/log.h"
#include "vigil/metrics_server.h"

namespace vigil::collector {
namespace {

constexpr std::string_view kIndicator = "container-shell-novel";

bool well_formed(const v1::ImageProfile& p) {
  return valid_profile_key(p.image()) && p.shells_size() <= static_cast<int>(kMaxProfileShells) &&
         std::ranges::all_of(p.shells(), [](const std::string& s) { return valid_shell_name(s); });
}

}  // namespace

void to_proto(const ImageProfileRecord& rec, v1::ImageProfile& out) {
  out.Clear();
  out.set_image(rec.image);
  out.set_first_seen_ns(rec.first_seen_ns);
  for (const auto& s : rec.shells) {
    out.add_shells(s);
  }
}

ImageProfileRecord from_proto(const v1::ImageProfile& p) {
  ImageProfileRecord rec;
  rec.image = p.image();
  rec.first_seen_ns = p.first_seen_ns();
  rec.shells.assign(p.shells().begin(), p.shells().end());
  std::ranges::sort(rec.shells);
  rec.shells.erase(std::ranges::unique(rec.shells).begin(), rec.shells.end());
  return rec;
}

ImageProfileManager::ImageProfileManager(Store& store, ImageProfileLink link,
                                         ImageProfileOptions options)
    : store_(store), link_(std::move(link)), options_(options) {}

Result<void> ImageProfileManager::init() {
  std::lock_guard lock(mu_);
  for (const auto& p : store_.image_profiles()) {
    if (well_formed(p)) {
      profiles_[p.image()] = from_proto(p);
    }
  }
  return {};
}

void ImageProfileManager::merge_locked(const ImageProfileRecord& rec, Pending& pending) {
  if (auto p = pending.find(rec.image); p != pending.end()) {
    merge_profile(p->second, rec);
    return;
  }
  auto it = profiles_.find(rec.image);
  ImageProfileRecord next;
  if (it != profiles_.end()) {
    next = it->second;
    if (!merge_profile(next, rec)) {
      return;
    }
  } else if (profiles_.size() + pending.size() >= options_.max_images) {
    ++stats_.over_max;  // counted, and the agents keep it locally
    return;
  } else {
    next.image = rec.image;
    merge_profile(next, rec);
  }
  pending.emplace(rec.image, std::move(next));
}

Result<std::size_t> ImageProfileManager::persist(const Pending& pending) {
  if (pending.empty()) {
    return 0;
  }
  std::vector<v1::ImageProfile> records;
  records.reserve(pending.size());
  for (const auto& [key, rec] : pending) {
    to_proto(rec, records.emplace_back());
  }
  if (auto r = store_.put_image_profiles(records); !r) {
    ++stats_.store_errors;
    return std::unexpected(r.error());
  }
  for (const auto& [key, rec] : pending) {
    profiles_[key] = rec;
    dirty_.insert(key);
  }
  stats_.changes += pending.size();
  return pending.size();
}

Result<std::size_t> ImageProfileManager::observe(const v1::ImageObservations& observations,
                                                 std::uint64_t now_ns) {
  ++stats_.observations;
  if (static_cast<std::size_t>(observations.profiles_size()) > kMaxProfilesPerMessage) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} image profiles in one message (at most {})",
                                  observations.profiles_size(), kMaxProfilesPerMessage));
  }
  // A first sighting more than a day ahead of the collector's clock is a
  // broken clock: taken as now, so it cannot hold an image's window open.
  const std::uint64_t latest = now_ns + 86'400'000'000'000ULL;
  std::lock_guard lock(mu_);
  Pending pending;
  for (const auto& p : observations.profiles()) {
    if (!well_formed(p)) {
      ++stats_.profiles_refused;
      continue;
    }
    auto rec = from_proto(p);
    if (rec.first_seen_ns == 0 || rec.first_seen_ns > latest) {
      rec.first_seen_ns = now_ns;
    }
    merge_locked(rec, pending);
  }
  return persist(pending);
}

Result<bool> ImageProfileManager::on_label(const v1::Alert& alert, std::string_view label,
                                           std::uint64_t now_ns) {
  if (label != "benign" || std::ranges::none_of(alert.indicators(), [](const auto& h) {
        return h.id() == kIndicator;
      })) {
    return false;
  }
  const auto& e = alert.event();
  const std::vector<std::string> args(e.exec().args().begin(), e.exec().args().end());
  const auto shell = profile_shell_name(e.exe(), args);
  ImageProfileRecord rec;
  rec.image = image_profile_key(e.container().image(), e.container().name());
  if (rec.image.empty() || shell.empty()) {
    return false;  // not an event the agents could have profiled
  }
  rec.first_seen_ns = e.ts_ns() != 0 ? std::min(e.ts_ns(), now_ns) : now_ns;
  rec.shells.emplace_back(shell);
  std::lock_guard lock(mu_);
  Pending pending;
  merge_locked(rec, pending);
  auto n = persist(pending);
  if (!n) {
    return std::unexpected(n.error());
  }
  if (*n > 0) {
    ++stats_.learned_from_labels;
    VLOG_INFO("image profiles: {} learned '{}' from a benign label on alert {}", rec.image, shell,
              alert.id());
  }
  return *n > 0;
}

void ImageProfileManager::on_hello(const std::string& agent_id) {
  std::vector<v1::ImageProfiles> messages;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, rec] : profiles_) {
      if (messages.empty() ||
          static_cast<std::size_t>(messages.back().profiles_size()) >= kMaxProfilesPerMessage) {
        messages.emplace_back();
      }
      to_proto(rec, *messages.back().add_profiles());
    }
  }
  for (const auto& m : messages) {
    if (!link_.send(agent_id, m)) {
      return;  // gone again: the next hello sends everything
    }
  }
}

void ImageProfileManager::tick(std::chrono::steady_clock::time_point now) {
  std::vector<v1::ImageProfiles> messages;
  {
    std::lock_guard lock(mu_);
    if (dirty_.empty() || now - last_broadcast_ < options_.debounce) {
      return;
    }
    for (const auto& key : dirty_) {
      auto it = profiles_.find(key);
      if (it == profiles_.end()) {
        continue;
      }
      if (messages.empty() ||
          static_cast<std::size_t>(messages.back().profiles_size()) >= kMaxProfilesPerMessage) {
        messages.emplace_back();
      }
      to_proto(it->second, *messages.back().add_profiles());
    }
    dirty_.clear();
    last_broadcast_ = now;
  }
  ++stats_.broadcasts;
  // An agent not connected now gets everything at its next hello.
  for (const auto& id : link_.connected()) {
    for (const auto& m : messages) {
      if (!link_.send(id, m)) {
        break;
      }
    }
  }
}

std::optional<ImageProfileRecord> ImageProfileManager::get(const std::string& image) const {
  std::lock_guard lock(mu_);
  auto it = profiles_.find(image);
  if (it == profiles_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::size_t ImageProfileManager::size() const {
  std::lock_guard lock(mu_);
  return profiles_.size();
}

void append_image_profile_metrics(const ImageProfileManager& profiles, std::string& out) {
  const auto& s = profiles.stats();
  metric(out, "vigil_collector_image_profiles", "gauge",
         "Container image profiles the fleet knows (container-shell-novel).",
         static_cast<double>(profiles.size()));
  metric(out, "vigil_collector_image_profile_changes_total", "counter",
         "Image profile changes merged from agents' observations and benign labels.",
         static_cast<double>(s.changes.load()));
  metric(out, "vigil_collector_image_profile_labels_total", "counter",
         "Shells added to an image's profile by a benign label on container-shell-novel.",
         static_cast<double>(s.learned_from_labels.load()));
  metric(out, "vigil_collector_image_profiles_refused_total", "counter",
         "Malformed image profile records skipped, and new images over image_profiles_max.",
         static_cast<double>(s.profiles_refused.load() + s.over_max.load()));
}

}  // namespace vigil::collector
