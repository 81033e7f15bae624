// Picks the kernel table once per process (simd/kernels.hpp): FERRY_ISA=sse2|avx2|avx512 when it is
// set, else the widest path the CPU (and its operating system) supports. Compiled for baseline
// x86-64, like the code that calls it.
//
// The choice is made before main (and at the latest on the first kernel call), so a FERRY_ISA this
// CPU cannot run, or a name that is not an ISA, ends the program there: one line on stderr and exit
// code 2, as any bad input to the CLI (docs/errors.md) — a program never runs on a path other than
// the one it was asked for.
#ifndef FERRY_SIMD_DISPATCH
#define FERRY_SIMD_DISPATCH 1
#endif
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ferry/core/error.hpp"
#include "ferry/simd/kernels.hpp"

namespace ferry::simd {

namespace detail {
extern const kernel_table table_sse2, table_avx2, table_avx512;

inline bool cpu_runs(isa i) {
  __builtin_cpu_init();  // libgcc / compiler-rt check the CPUID bits and the OS's saved register state
  switch (i) {
    case isa::sse2: return __builtin_cpu_supports("sse2");
    case isa::avx2: return __builtin_cpu_supports("avx2");
    case isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
  }
  return false;
}

inline const kernel_table& table(isa i) {
  switch (i) {
    case isa::avx512: return table_avx512;
    case isa::avx2: return table_avx2;
    default: return table_sse2;
  }
}

[[noreturn]] inline void refuse(const std::string& what) {
  std::fprintf(stderr, "ferry: %s\n", ferry::detail::escape(what).c_str());
  std::exit(2);
}

inline const kernel_table& choose() {
  std::string runs;  // the paths this CPU can run, widest last
  for (isa i : all_isas)
    if (cpu_runs(i)) runs += std::string(runs.empty() ? "" : ", ") + std::string(isa_name(i));
  const char* forced = std::getenv("FERRY_ISA");
  if (forced && *forced) {
    const auto i = parse_isa(forced);
    if (!i) refuse(ferry::detail::cat("FERRY_ISA=", forced, ": not an instruction set; expected one of sse2, avx2, avx512"));
    if (!cpu_runs(*i))
      refuse(ferry::detail::cat("FERRY_ISA=", forced, ": this CPU cannot run the ", forced,
                                *i == isa::avx512 ? " path (it needs AVX-512 F, DQ, VL and BW)" : " path",
                                "; expected one of ", runs));
    return table(*i);
  }
  for (isa i : {isa::avx512, isa::avx2})
    if (cpu_runs(i)) return table(i);
  return table_sse2;
}

const kernel_table& initial() {
  static const kernel_table& t = choose();
  return t;
}

std::atomic<const kernel_table*> active{nullptr};

// Resolved during static initialisation, so that a refused FERRY_ISA stops the program before it
// does anything; kernels() also resolves it when called earlier, from another static initialiser.
[[maybe_unused]] const bool chosen_at_start = (kernels(), true);
}  // namespace detail

const kernel_table& kernels() {
  if (const kernel_table* t = detail::active.load(std::memory_order_acquire)) return *t;
  const kernel_table* expected = nullptr;
  detail::active.compare_exchange_strong(expected, &detail::initial(), std::memory_order_acq_rel);
  return *detail::active.load(std::memory_order_acquire);
}

const kernel_table* kernels_for(isa i) { return detail::cpu_runs(i) ? &detail::table(i) : nullptr; }

void use_isa(isa i) {
  if (!detail::cpu_runs(i))
    throw config_error(ferry::detail::cat("simd::use_isa: this CPU cannot run the ", isa_name(i), " path"));
  detail::active.store(&detail::table(i), std::memory_order_release);
}

}  // namespace ferry::simd
