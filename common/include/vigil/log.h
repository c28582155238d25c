// One logging front end. The macros check the level before any formatting so a
// disabled level costs one branch; never log per event on a hot path — count.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

#include "vigil/result.h"

namespace vigil::log {

// Sets up the process-wide logger (stderr). Level names: trace, debug, info, warn, error, off.
// Format: "text" (human-readable lines) or "json" (one JSON object per line:
// {"ts":"2026-11-24T12:00:00.123Z","level":"info","logger":"vigil","msg":"..."}).
void init(std::string_view level, std::string_view format = "text");
bool set_level(std::string_view level);
bool valid_level(std::string_view level);
bool valid_format(std::string_view format);
// Rejects an unknown level or format, naming the config key and what is allowed.
Result<void> validate_logging(std::string_view level, std::string_view format);

// The JSON line formatter init() installs for format "json"; exposed for tests.
std::unique_ptr<spdlog::formatter> make_json_formatter();

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
