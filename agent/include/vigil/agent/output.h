// Line-oriented outputs (events, alerts): stdout or an append-only file,
// buffered, flushed at the end of every ring buffer drain.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "vigil/agent/config.h"
#include "vigil/event.h"
#include "vigil/result.h"

namespace vigil::agent {

class LineSink {
 public:
  // "-" is stdout; anything else is a file opened for append (created 0640).
  [[nodiscard]] static Result<std::unique_ptr<LineSink>> open(const std::string& target);
  ~LineSink();
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;

  void write_line(std::string_view line);
  void flush();
  [[nodiscard]] std::uint64_t lines() const { return lines_; }
  [[nodiscard]] std::uint64_t write_errors() const { return write_errors_; }

 private:
  LineSink(std::FILE* f, bool owned) : file_(f), owned_(owned) {}
  std::FILE* file_;
  bool owned_;
  std::uint64_t lines_ = 0;
  std::uint64_t write_errors_ = 0;
};

class EventWriter {
 public:
  EventWriter(std::unique_ptr<LineSink> sink, OutputFormat format)
      : sink_(std::move(sink)), format_(format) {}
  void write(const Event& event);
  void flush() { sink_->flush(); }
  [[nodiscard]] const LineSink& sink() const { return *sink_; }

 private:
  std::unique_ptr<LineSink> sink_;
  OutputFormat format_;
  std::string buf_;
};

}  // namespace vigil::agent
