// Shared test helpers: ASSERT_OK for Result<T>, temp dirs, the privileged-test gate.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "vigil/result.h"

#define ASSERT_OK(expr)                                                             \
  do {                                                                              \
    const auto& vigil_r_ = (expr);                                                  \
    ASSERT_TRUE(vigil_r_.has_value()) << #expr << ": " << vigil_r_.error().message; \
  } while (0)

#define EXPECT_OK(expr)                                                             \
  do {                                                                              \
    const auto& vigil_r_ = (expr);                                                  \
    EXPECT_TRUE(vigil_r_.has_value()) << #expr << ": " << vigil_r_.error().message; \
  } while (0)

// Privileged tests may skip only when not root and CI is unset; under CI a
// missing privilege is a failure, never a silent skip.
#define REQUIRE_ROOT_OR_SKIP()                                      \
  do {                                                              \
    if (::geteuid() != 0) {                                         \
      if (std::getenv("CI") != nullptr) {                           \
        FAIL() << "privileged test not run as root under CI";       \
      }                                                             \
      GTEST_SKIP() << "needs root (set CI to make this a failure)"; \
    }                                                               \
  } while (0)

namespace vigil::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vigil-test-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (made != nullptr) {
      path_ = made;
    }
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace vigil::test
