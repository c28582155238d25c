// Counts every global operator new in the binary that links alloc_counter.cpp
// (the benchmarks and the allocation test): the hot paths must not allocate.
#pragma once

#include <cstdint>

namespace vigil::test {

// Allocations (operator new, every thread) since the process started.
[[nodiscard]] std::uint64_t allocations();

}  // namespace vigil::test
