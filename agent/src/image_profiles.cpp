#include "vigil/agent/image_profiles.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>

namespace vigil::agent {
namespace {

constexpr std::size_t kMaxUnprofiled = 4096;
constexpr std::uint64_t kNsPerS = 1'000'000'000ULL;

bool contains(const std::vector<std::string>& sorted, std::string_view s) {
  const auto at = std::ranges::lower_bound(sorted, s);
  return at != sorted.end() && *at == s;
}

}  // namespace

const std::string& ImageProfiles::key_of(const std::shared_ptr<const ContainerInfo>& c) {
  // The container table shares one ContainerInfo per container and replaces
  // it when the runtime tells more (name, image): pointer equality is "same
  // container, same facts", and holding it keeps the address from reuse.
  if (c != last_container_) {
    last_container_ = c;
    last_key_ = image_profile_key(c->image, c->name);
  }
  return last_key_;
}

ImageProfiles::Entry& ImageProfiles::entry(const std::string& key) {
  auto it = images_.find(key);
  if (it != images_.end()) {
    return it->second;
  }
  if (images_.size() >= std::max<std::size_t>(1, config_.max_images)) {
    // The least recently seen here goes first; profiles known only from the
    // fleet (never seen here) before any. An evicted image seen again starts
    // a fresh window here: a blind spot, never a false alert.
    auto victim = std::ranges::min_element(images_, [](const auto& a, const auto& b) {
      return a.second.last_seen_ns < b.second.last_seen_ns;
    });
    images_.erase(victim);
    ++stats_.evicted;
  }
  auto& e = images_[key];
  e.rec.image = key;
  return e;
}

ImageProfiles::Verdict ImageProfiles::observe(const Event& e) {
  if (e.type != EventType::kExec || !e.container) {
    return Verdict::kNone;
  }
  const std::string_view shell = profile_shell_name(e.exe, e.args);
  const std::string& key = key_of(e.container);
  if (key.empty()) {
    if (shell.empty()) {
      return Verdict::kNone;
    }
    // No image and no name: nothing to learn from or compare with. The first
    // shell of each kind per container is reported at a low severity.
    ++stats_.shells_seen;
    ++stats_.unprofiled;
    if (unprofiled_.size() >= kMaxUnprofiled) {
      unprofiled_.clear();
    }
    buf_.assign(e.container->id);
    buf_.push_back('>');
    buf_.append(shell);
    return unprofiled_.insert(buf_).second ? Verdict::kUnprofiled : Verdict::kHeld;
  }
  auto& img = entry(key);
  const std::uint64_t ts = e.ts_ns;
  if (img.rec.first_seen_ns == 0 || !img.local) {
    // The first sighting here: the fleet learns when the image started
    // running (the earliest sighting anywhere starts its window).
    if (img.rec.first_seen_ns == 0 || ts < img.rec.first_seen_ns) {
      img.rec.first_seen_ns = ts;
    }
    img.local = true;
    img.dirty = true;
    changed_ = true;
  }
  img.last_seen_ns = std::max(img.last_seen_ns, ts);
  if (shell.empty()) {
    return Verdict::kNone;
  }
  ++stats_.shells_seen;
  if (contains(img.rec.shells, shell)) {
    return Verdict::kKnown;
  }
  if (ts < img.rec.first_seen_ns + config_.learning_window_s * kNsPerS) {
    if (img.rec.shells.size() >= kMaxProfileShells) {
      ++stats_.shells_dropped;  // judged again next time, and novel after the window
      return Verdict::kLearned;
    }
    img.rec.shells.insert(std::ranges::lower_bound(img.rec.shells, shell), std::string(shell));
    img.dirty = true;
    changed_ = true;
    ++stats_.learned;
    return Verdict::kLearned;
  }
  auto raised = std::ranges::find(img.raised, shell, &std::pair<std::string, std::uint64_t>::first);
  if (raised != img.raised.end()) {
    if (ts < raised->second + config_.realert_s * kNsPerS) {
      ++stats_.held;
      return Verdict::kHeld;
    }
    raised->second = ts;
  } else {
    if (img.raised.size() >= kMaxProfileShells) {
      img.raised.erase(
          std::ranges::min_element(img.raised, {}, &std::pair<std::string, std::uint64_t>::second));
    }
    img.raised.emplace_back(shell, ts);
  }
  ++stats_.novel;
  return Verdict::kNovel;
}

void ImageProfiles::merge(const ImageProfileRecord& fleet) {
  if (!valid_profile_key(fleet.image) ||
      !std::ranges::all_of(fleet.shells, [](const auto& s) { return valid_shell_name(s); })) {
    ++stats_.fleet_refused;
    return;
  }
  auto& img = entry(fleet.image);
  std::size_t dropped = 0;
  if (merge_profile(img.rec, fleet, &dropped)) {
    ++stats_.fleet_merged;
  }
  stats_.shells_dropped += dropped;
  // A shell the fleet knows now (learned elsewhere, or labelled benign) is
  // no longer held here: it is simply known.
  std::erase_if(img.raised, [&](const auto& r) { return contains(img.rec.shells, r.first); });
}

std::size_t ImageProfiles::take_changes(std::vector<ImageProfileRecord>& out, std::size_t max) {
  std::size_t n = 0;
  for (auto& [key, img] : images_) {
    if (!img.dirty) {
      continue;
    }
    if (n >= max) {
      return n;  // more next time
    }
    out.push_back(img.rec);
    img.dirty = false;
    ++n;
  }
  changed_ = false;
  return n;
}

void ImageProfiles::resend_all() {
  for (auto& [key, img] : images_) {
    img.dirty = img.dirty || img.local;
    changed_ = changed_ || img.dirty;
  }
}

const ImageProfileRecord* ImageProfiles::find(std::string_view key) const {
  auto it = images_.find(std::string(key));
  return it == images_.end() ? nullptr : &it->second.rec;
}

Result<void> ImageProfiles::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return {};  // none yet
  }
  std::vector<std::pair<ImageProfileRecord, bool>> loaded;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    auto bad = [&] {
      return make_error(ErrorCode::kCorrupt, fmt::format("{}:{}: not image<TAB>first_seen_ns<TAB>"
                                                         "L|-<TAB>shells",
                                                         path.string(), n));
    };
    std::array<std::string_view, 4> f;
    std::string_view rest = line;
    for (std::size_t i = 0; i < f.size(); ++i) {
      const auto tab = rest.find('\t');
      if ((tab == std::string_view::npos) != (i == f.size() - 1)) {
        return bad();
      }
      f[i] = rest.substr(0, tab);
      rest = tab == std::string_view::npos ? std::string_view{} : rest.substr(tab + 1);
    }
    ImageProfileRecord rec;
    rec.image = std::string(f[0]);
    if (!valid_profile_key(rec.image) ||
        std::from_chars(f[1].data(), f[1].data() + f[1].size(), rec.first_seen_ns).ec !=
            std::errc{} ||
        (f[2] != "L" && f[2] != "-")) {
      return bad();
    }
    while (!f[3].empty()) {
      const auto comma = f[3].find(',');
      const auto s = f[3].substr(0, comma);
      if (!valid_shell_name(s)) {
        return bad();
      }
      rec.shells.emplace_back(s);
      f[3] = comma == std::string_view::npos ? std::string_view{} : f[3].substr(comma + 1);
    }
    std::ranges::sort(rec.shells);
    loaded.emplace_back(std::move(rec), f[2] == "L");
  }
  for (auto& [rec, local] : loaded) {
    auto& img = entry(rec.image);
    merge_profile(img.rec, rec, &stats_.shells_dropped);
    // Known here before: sent again on the first connect, but its window and
    // its first sighting stay what they were.
    img.local = img.local || local;
    img.dirty = img.dirty || local;
    changed_ = changed_ || img.dirty;
  }
  return {};
}

Result<void> ImageProfiles::save(const std::filesystem::path& path) const {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "# image profiles (docs/detections.md, container-shell-novel): "
           "image, first_seen_ns, L = seen on this host, shells\n";
    for (const auto& [key, img] : images_) {
      out << key << '\t' << img.rec.first_seen_ns << '\t' << (img.local ? 'L' : '-') << '\t';
      for (std::size_t i = 0; i < img.rec.shells.size(); ++i) {
        out << (i == 0 ? "" : ",") << img.rec.shells[i];
      }
      out << '\n';
    }
    if (!out.flush()) {
      return make_error(ErrorCode::kIo, fmt::format("cannot write {}", tmp));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("rename {}: {}", tmp, ec.message()));
  }
  return {};
}

}  // namespace vigil::agent
