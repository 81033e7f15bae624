// The sse2 path's kernel table: every dispatched kernel instantiated for xsimd::sse2. Compiled for
// baseline x86-64 (-mno-avx, in case the build's flags say more) and -ffp-contract=off
// (cmake/ferry_isa.cmake). Only kernel templates on the arch are compiled here (simd/kernels.hpp).
#include "ferry/simd/kernel_table.hpp"

#if !XSIMD_WITH_SSE2
#error "src/simd/kernels_sse2.cpp needs SSE2 (any x86-64)"
#endif

namespace ferry::simd::detail {
extern const kernel_table table_sse2;
constinit const kernel_table table_sse2 = make_kernel_table<xsimd::sse2>(isa::sse2);
}  // namespace ferry::simd::detail
