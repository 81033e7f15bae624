// gaussian_mixture<float>, compiled once for every program that links ferry_kernels (which defines
// FERRY_EXTERN_GAUSSIAN_MIXTURE, so that their translation units do not compile it again); one TU
// per scalar type, so that a parallel build compiles the two at once. Its batch calls go through
// the kernel table (FERRY_SIMD_DISPATCH).
#include "ferry/models/gaussian_mixture.hpp"

template class ferry::gaussian_mixture<float>;
