#include "vigil/agent/output.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vigil/event_format.h"

namespace vigil::agent {

namespace {

Result<std::FILE*> open_append(const std::string& target) {
  const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return make_error(ErrorCode::kIo,
                      fmt::format("cannot open {} for writing: {}", target, std::strerror(errno)));
  }
  std::FILE* f = fdopen(fd, "a");
  if (f == nullptr) {
    ::close(fd);
    return make_error(ErrorCode::kIo, fmt::format("fdopen {}: {}", target, std::strerror(errno)));
  }
  return f;
}

}  // namespace

Result<std::unique_ptr<LineSink>> LineSink::open(const std::string& target) {
  if (target == "-") {
    return std::unique_ptr<LineSink>(new LineSink(stdout, false, target));
  }
  auto f = open_append(target);
  if (!f) {
    return std::unexpected(f.error());
  }
  return std::unique_ptr<LineSink>(new LineSink(*f, true, target));
}

Result<void> LineSink::reopen() {
  if (!owned_) {
    return {};
  }
  flush();
  auto f = open_append(target_);
  if (!f) {
    ++write_errors_;
    return std::unexpected(f.error());
  }
  std::fclose(file_);
  file_ = *f;
  return {};
}

LineSink::~LineSink() {
  flush();
  if (owned_) {
    std::fclose(file_);
  }
}

void LineSink::write_line(std::string_view line) {
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
      std::fputc('\n', file_) == EOF) {
    ++write_errors_;
    std::clearerr(file_);
    return;
  }
  ++lines_;
}

void LineSink::flush() {
  if (std::fflush(file_) != 0) {
    ++write_errors_;
    std::clearerr(file_);
  }
}

void EventWriter::write(const Event& event) {
  buf_.clear();
  if (format_ == OutputFormat::kJson) {
    append_json(event, buf_);
  } else {
    append_text(event, buf_);
  }
  sink_->write_line(buf_);
}

}  // namespace vigil::agent
