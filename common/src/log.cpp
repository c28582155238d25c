#include "vigil/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <chrono>
#include <ctime>
#include <string>

namespace vigil::log {
namespace {

void append_escaped(spdlog::memory_buf_t& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (u < 0x20) {
          const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
          out.append(esc, esc + sizeof(esc));
        } else {
          out.push_back(c);
        }
    }
  }
}

// One JSON object per line; timestamps in UTC with milliseconds.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since = msg.time.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
    const std::time_t t = secs.count();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[40];
    const auto n = std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    dest.append(std::string_view(R"({"ts":")"));
    dest.append(ts, ts + n);
    fmt::format_to(std::back_inserter(dest), ".{:03d}Z\",\"level\":\"", ms);
    const auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    dest.append(std::string_view(R"(","logger":")"));
    append_escaped(dest, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    dest.append(std::string_view(R"(","msg":")"));
    append_escaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(std::string_view("\"}\n"));
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

bool valid_level(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  return parsed != spdlog::level::off || level == "off";
}

bool valid_format(std::string_view format) { return format == "text" || format == "json"; }

Result<void> validate_logging(std::string_view level, std::string_view format) {
  if (!valid_level(level)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("log_level '{}' must be one of trace, debug, info, warn, "
                                  "error, critical, off",
                                  level));
  }
  if (!valid_format(format)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("log_format '{}' must be text or json", format));
  }
  return {};
}

bool set_level(std::string_view level) {
  if (!valid_level(level)) {
    return false;
  }
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  return true;
}

std::unique_ptr<spdlog::formatter> make_json_formatter() {
  return std::make_unique<JsonFormatter>();
}

void init(std::string_view level, std::string_view format) {
  auto logger = spdlog::get("vigil");
  if (!logger) {
    logger = spdlog::stderr_color_mt("vigil");
  }
  if (format == "json") {
    logger->set_formatter(make_json_formatter());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_default_logger(logger);
  if (!set_level(level)) {
    spdlog::set_level(spdlog::level::info);
  }
}

}  // namespace vigil::log
