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
  // Closes and reopens the file by its path (after logrotate moved it); stdout
  // is left alone. On failure the old file stays in use and the error is
  // counted in write_errors and returned.
  Result<void> reopen();
  [[nodiscard]] std::uint64_t lines() const { return lines_; }
  // Lines lost to failed writes or flushes, plus failed reopens.
  [[nodiscard]] std::uint64_t write_errors() const { return write_errors_; }

 private:
  LineSink(std::FILE* f, bool owned, std::string target)
      : file_(f), owned_(owned), target_(std::move(target)) {}
  std::FILE* file_;
  bool owned_;
  std::string target_;
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
  [[nodiscard]] LineSink& sink() { return *sink_; }

 private:
  std::unique_ptr<LineSink> sink_;
  OutputFormat format_;
  std::string buf_;
};

}  // namespace vigil::agent
