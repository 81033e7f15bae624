// The avx2 path's kernel table: every dispatched kernel instantiated for xsimd::avx2. Compiled with
// -mavx2 and -ffp-contract=off (cmake/ferry_isa.cmake): no fused multiply–add, so its bits are
// the sse2 path's. Only kernel templates on the arch are compiled here (simd/kernels.hpp).
#include "ferry/simd/kernel_table.hpp"

#if !XSIMD_WITH_AVX2
#error "src/simd/kernels_avx2.cpp needs the avx2 flags: -mavx2"
#endif

namespace ferry::simd::detail {
extern const kernel_table table_avx2;
constinit const kernel_table table_avx2 = make_kernel_table<xsimd::avx2>(isa::avx2);
}  // namespace ferry::simd::detail
