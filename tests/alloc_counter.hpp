#pragma once
// Counts global operator new calls while a count_allocations scope is alive (the replacement
// operators live in alloc_counter.cpp, linked into ferry_tests once).
#include <cstddef>

namespace ferry_test {
/// Allocations seen since the innermost scope began (0 when none is active).
std::size_t allocations();
/// RAII: starts counting on construction, stops on destruction.
struct count_allocations {
  count_allocations();
  ~count_allocations();
  count_allocations(const count_allocations&) = delete;
  count_allocations& operator=(const count_allocations&) = delete;
  std::size_t count() const { return allocations(); }
};
}  // namespace ferry_test
