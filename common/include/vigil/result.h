// Errors as values: expected failures travel as Result<T>, never as exceptions.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace vigil {

enum class ErrorCode {
  kInvalidArgument,  // bad input from a user, a file or the wire
  kNotFound,
  kPermission,   // not root / missing capability
  kUnsupported,  // the kernel or machine lacks a feature
  kIo,
  kKernel,     // a bpf() / libbpf call failed
  kCorrupt,    // malformed bytes
  kExhausted,  // a limit was reached (rate, connections); retry later
  kInternal,
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

[[nodiscard]] inline std::unexpected<Error> make_error(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

[[nodiscard]] const char* to_string(ErrorCode code);

// The one greppable place where a failure is deliberately ignored.
template <typename T>
void ignore_error(const Result<T>& /*result*/, const char* /*why*/) {}

}  // namespace vigil
