// Wall-clock time as vigil stores it: unix nanoseconds.
#pragma once

#include <chrono>
#include <cstdint>

namespace vigil {

[[nodiscard]] inline std::uint64_t unix_now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace vigil
