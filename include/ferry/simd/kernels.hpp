#pragma once
// Run-time dispatch of the hot kernels (the pattern of xsimd's arch dispatching and simdjson's
// implementations): each kernel is a template on the xsimd architecture (simd/kernel/*.hpp); a
// program that dispatches compiles a table of them once per ISA, each table in its own translation
// unit built with that ISA's flags and -ffp-contract=off (src/simd/kernels_<isa>.cpp, cmake/
// ferry_isa.cmake), and picks one table per process from the CPU, or from FERRY_ISA
// (src/simd/dispatch.cpp). One indirect call per kernel call: per lincomb of a row chunk, per
// mixture call, per 64 Philox blocks... never per element.
//
// The public calls (simd::lincomb, random::fill_normal, gaussian_mixture's batch calls,
// simd::softmax...) go through the table when FERRY_SIMD_DISPATCH is defined (the ferry_kernels
// library defines it for its users), and otherwise run the kernel of the build's own xsimd arch,
// inlined: a header-only program keeps the kernels of whatever -m flags it is built with.
//
// With dispatch the headers see only the table's declaration (this header without xsimd: a program
// that dispatches parses no kernel body outside the per-ISA units, simd/kernel_table.hpp); without
// it they include the kernels and call them on the build's arch.
#include <cstddef>
#include <cstdint>

#include "ferry/simd/isa.hpp"
#include "ferry/simd/kernel/mixture_args.hpp"

#ifndef FERRY_SIMD_DISPATCH
#include <xsimd/xsimd.hpp>

#include "ferry/simd/kernel/categorical.hpp"
#include "ferry/simd/kernel/lincomb.hpp"
#include "ferry/simd/kernel/mixture.hpp"
#include "ferry/simd/kernel/random.hpp"
#endif

namespace ferry::simd {

/// lincomb arities a table holds (1 … max_lincomb_terms); larger ones run the build's own arch.
inline constexpr std::size_t max_lincomb_terms = 12;

/// One scalar type's kernels.
template <class T>
struct typed_kernels {
  void (*lincomb[max_lincomb_terms])(T* out, std::size_t n, const T* c, const T* const* in);
  T (*sum_squares)(const T* x, std::size_t n);
  std::size_t (*find_nonfinite)(const T* x, std::size_t n);
  void (*mixture_rows)(const kernel::mixture_args<T>& a, const T* x, std::size_t rows, T* out);
  void (*gumbel_scores)(const T* w, const T* u, T* out, std::size_t n);
  void (*fill_normal)(std::uint64_t seed, T* out, std::size_t rows, std::size_t cols, std::uint64_t first_row,
                      std::uint32_t step, std::uint32_t stream);
};

/// Every dispatched kernel of one ISA.
struct kernel_table {
  isa id;
  typed_kernels<double> f64;
  typed_kernels<float> f32;
  void (*philox)(std::uint64_t seed, const std::uint32_t* c0, const std::uint32_t* c1, std::uint32_t step,
                 std::uint32_t stream, std::uint32_t* r0, std::uint32_t* r1, std::uint32_t* r2, std::uint32_t* r3,
                 std::size_t n);
  void (*box_muller)(const double* u1, const double* u2, double* z0, double* z1, std::size_t n);
  void (*fill_uniform)(std::uint64_t seed, double* out, std::size_t n, std::uint32_t row, std::uint32_t step,
                       std::uint32_t stream, std::uint64_t first);
  void (*softmax)(double* x, std::size_t n);
  std::size_t (*race_argmin)(const double* w, const double* u, std::size_t n, std::size_t exclude);

  template <class T>
  const typed_kernels<T>& of() const {
    if constexpr (sizeof(T) == sizeof(float))
      return f32;
    else
      return f64;
  }
};

#ifdef FERRY_SIMD_DISPATCH
/// The table in use: chosen once per process (before main), from FERRY_ISA when it is set, else
/// the widest ISA the CPU has. Defined in src/simd/dispatch.cpp (the ferry_kernels library).
const kernel_table& kernels();
/// The table of ISA i, or nullptr when this CPU cannot run it.
const kernel_table* kernels_for(isa i);
/// Switches every later kernel call of the process to ISA i (as simdjson lets a program set its
/// active implementation): for tests and benchmarks that compare paths in one run. Not while
/// other threads run kernels. Throws config_error when the CPU cannot run i.
void use_isa(isa i);
#endif

/// The instruction set the kernels run on: with dispatch the path in use ("sse2", "avx2",
/// "avx512"); header-only, the build's xsimd arch ("sse2", "fma3<avx2>", "avx512bw", "neon64"...).
inline const char* active_isa_name() {
#ifdef FERRY_SIMD_DISPATCH
  return isa_name(kernels().id).data();
#else
  return xsimd::default_arch::name();
#endif
}

}  // namespace ferry::simd
