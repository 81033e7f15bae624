// The avx512 path's kernel table: every dispatched kernel instantiated for xsimd::avx512dq (the
// kernels use no 8- or 16-bit lanes, and xsimd 8.1's avx512bw select does not compile at -O0).
// Compiled with -mavx512f -mavx512dq -mavx512vl -mavx512bw and -ffp-contract=off
// (cmake/ferry_isa.cmake): no fused multiply–add, so its bits are the sse2 path's. Only kernel
// templates on the arch are compiled here (simd/kernels.hpp).
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's avx512fintrin.h initialises _mm512_undefined_epi32() from itself, which its own
// -Wmaybe-uninitialized reports once inlined; a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "ferry/simd/kernel_table.hpp"

#if !XSIMD_WITH_AVX512DQ
#error "src/simd/kernels_avx512.cpp needs the avx512 flags: -mavx512f -mavx512dq -mavx512vl -mavx512bw"
#endif

namespace ferry::simd::detail {
extern const kernel_table table_avx512;
constinit const kernel_table table_avx512 = make_kernel_table<xsimd::avx512dq>(isa::avx512);
}  // namespace ferry::simd::detail
