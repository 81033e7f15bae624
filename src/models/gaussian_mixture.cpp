// gaussian_mixture<float> and <double>, compiled once for every program that links ferry_kernels
// (which defines FERRY_EXTERN_GAUSSIAN_MIXTURE, so that their translation units do not compile
// them again). Its batch calls go through the kernel table (FERRY_SIMD_DISPATCH).
#include "ferry/models/gaussian_mixture.hpp"

template class ferry::gaussian_mixture<float>;
template class ferry::gaussian_mixture<double>;
