#include "vigil/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace vigil::log {

bool set_level(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return false;
  }
  spdlog::set_level(parsed);
  return true;
}

void init(std::string_view level) {
  auto logger = spdlog::stderr_color_mt("vigil");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  if (!set_level(level)) {
    spdlog::set_level(spdlog::level::info);
  }
}

}  // namespace vigil::log
