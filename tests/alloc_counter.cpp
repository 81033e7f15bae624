// Counts allocations while enabled, for the "no allocation inside a step" tests: by replacing the
// global allocation functions, or, under AddressSanitizer (which owns operator new), through its
// malloc hook, which sees every allocation.
#include "alloc_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

#include "sanitized.hpp"


namespace {
std::atomic<bool> enabled{false};
std::atomic<std::size_t> counted{0};
}  // namespace

namespace ferry_test {
std::size_t allocations() { return counted.load(); }
count_allocations::count_allocations() {
  counted = 0;
  enabled = true;
}
count_allocations::~count_allocations() { enabled = false; }
}  // namespace ferry_test

#if FERRY_TEST_SANITIZED
#include <sanitizer/allocator_interface.h>
#include <sanitizer/common_interface_defs.h>

namespace {
// FERRY_ALLOC_TRACE=1 prints the stack of every counted allocation (to find the one that leaked in).
const bool trace = std::getenv("FERRY_ALLOC_TRACE") != nullptr;
void on_malloc(const volatile void*, std::size_t) {
  if (!enabled.load(std::memory_order_relaxed)) return;
  counted.fetch_add(1, std::memory_order_relaxed);
  if (trace) {
    enabled = false;  // the printer allocates
    __sanitizer_print_stack_trace();
    enabled = true;
  }
}
void on_free(const volatile void*) {}
const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}  // namespace

#else
namespace {

void* allocate(std::size_t n, std::size_t align) {
  if (enabled.load(std::memory_order_relaxed)) counted.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align) : std::malloc(n);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return allocate(n, 0); }
void* operator new[](std::size_t n) { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, std::size_t(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, std::size_t(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#endif
