// One logging front end. The macros check the level before any formatting so a
// disabled level costs one branch; never log per event on a hot path — count.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace vigil::log {

// Sets up the process-wide logger (stderr). Level names: trace, debug, info, warn, error, off.
void init(std::string_view level);
bool set_level(std::string_view level);

}  // namespace vigil::log

#define VIGIL_LOG_AT(lvl, ...)                             \
  do {                                                     \
    if (spdlog::default_logger_raw()->should_log(lvl)) {   \
      spdlog::default_logger_raw()->log(lvl, __VA_ARGS__); \
    }                                                      \
  } while (0)

#define VLOG_DEBUG(...) VIGIL_LOG_AT(spdlog::level::debug, __VA_ARGS__)
#define VLOG_INFO(...) VIGIL_LOG_AT(spdlog::level::info, __VA_ARGS__)
#define VLOG_WARN(...) VIGIL_LOG_AT(spdlog::level::warn, __VA_ARGS__)
#define VLOG_ERROR(...) VIGIL_LOG_AT(spdlog::level::err, __VA_ARGS__)
