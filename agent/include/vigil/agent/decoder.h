// Turns raw ring buffer records into typed events. Every record is untrusted
// bytes: sizes, the ABI version and string bounds are checked, and a bad record
// is counted and rejected, never read past.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "vigil/event.h"
#include "vigil/result.h"

namespace vigil::agent {

enum class DecodeFault : std::uint8_t {
  kShort,         // smaller than the header or than its type's record
  kBadVersion,    // ABI version this agent does not speak
  kUnknownType,   // type outside the known range
  kSizeMismatch,  // header size disagrees with the buffer or the type
  kBadLength,     // an inner length field exceeds its array
  kCount_,
};

struct DecodeStats {
  std::uint64_t decoded = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(DecodeFault::kCount_)> faults{};
  [[nodiscard]] std::uint64_t errors() const;
};

[[nodiscard]] const char* to_string(DecodeFault fault);

class Decoder {
 public:
  // `boot_to_unix_ns` is added to kernel CLOCK_BOOTTIME stamps to get unix time.
  explicit Decoder(std::int64_t boot_to_unix_ns = 0) : boot_to_unix_ns_(boot_to_unix_ns) {}
  // The wall clock moved (NTP, an operator): stamps from now on use `boot_to_unix_ns`.
  void set_boot_to_unix_ns(std::int64_t boot_to_unix_ns) { boot_to_unix_ns_ = boot_to_unix_ns; }

  // Decodes one record into `out` (reusing its buffers). On failure `out` is
  // unspecified and the fault is counted.
  [[nodiscard]] Result<void> decode(std::span<const std::byte> record, Event& out);

  [[nodiscard]] const DecodeStats& stats() const { return stats_; }

 private:
  Result<void> fail(DecodeFault fault, std::string message);

  // Payloads of re-decoded events, kept (at most kMax of each type) so that a
  // record of one type decoded into an event that held another does not lose
  // and re-allocate string buffers: harvest() what the event held, take() what
  // the record needs.
  template <typename Variant>
  class Spares;
  template <typename... Ts>
  class Spares<std::variant<Ts...>> {
   public:
    static constexpr std::size_t kMax = 64;
    Spares() { (std::get<std::vector<Ts>>(stacks_).reserve(kMax), ...); }
    void harvest(std::variant<Ts...>& v) {
      std::visit(
          [this](auto& held) {
            auto& stack = std::get<std::vector<std::decay_t<decltype(held)>>>(stacks_);
            if (stack.size() < kMax) {
              stack.push_back(std::move(held));
            }
          },
          v);
    }
    // A T whose string members keep a spare's buffers; every other member is
    // value-initialised. `strings` names T's string members.
    template <typename T, typename... Members>
    T take(Members... strings) {
      auto& stack = std::get<std::vector<T>>(stacks_);
      if (stack.empty()) {
        return T{};
      }
      T spare = std::move(stack.back());
      stack.pop_back();
      T fresh{};
      ((fresh.*strings = std::move(spare.*strings), (fresh.*strings).clear()), ...);
      return fresh;
    }

   private:
    std::tuple<std::vector<Ts>...> stacks_;
  };

  std::int64_t boot_to_unix_ns_;
  DecodeStats stats_;
  std::string scratch_;  // escaping of strings joined from several parts
  Spares<EventData> spares_;
};

// CLOCK_REALTIME - CLOCK_BOOTTIME now, in ns.
[[nodiscard]] std::int64_t boot_to_unix_offset_ns();

// Names from the kernel (paths, argv, comm) are bytes, and JSON, Sigma and
// protobuf want valid UTF-8. The decoder turns every such string, once, into a
// lossless UTF-8 form (docs/events.md, "Names that are not UTF-8"): a string
// that is valid UTF-8 and does not contain "\x" is kept as is; any other has
// each byte that is not part of valid UTF-8 written as \xHH (upper-case hex)
// and each backslash doubled. The two forms cannot be confused: only the second
// contains "\x".
[[nodiscard]] bool needs_escape(std::string_view raw);
[[nodiscard]] bool valid_utf8(std::string_view s);
void append_escaped(std::string_view raw, std::string& out);
[[nodiscard]] std::string escape_name(std::string_view raw);
// The raw bytes back; nullopt if `name` is not a form escape_name produces.
[[nodiscard]] std::optional<std::string> unescape_name(std::string_view name);

// One side of a file event's path: how to resolve it (VIGIL_BASE_*) and the
// kernel's dentry names (leaf or base directory first).
struct PathBase {
  std::uint32_t base = 0;
  std::span<const std::string_view> comps;
  bool truncated = false;  // deeper than the comps kept
};

// Builds absolute paths for a file event from the kernel's dentry names and
// the paths as passed (d.arg_path, d.new_path): each side relative to its own
// base, then normalised lexically ("//", "/./", "/../").
void resolve_file_paths(const PathBase& path, const PathBase& new_path, FileData& d);

// Splits a NUL-separated argv blob into arguments (a trailing partial one
// kept), each escaped like escape_name; `append` adds to what `out` holds.
void split_args(std::span<const char> blob, ArgList& out, bool append = false);

}  // namespace vigil::agent
