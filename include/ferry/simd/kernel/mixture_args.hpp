#pragma once
// The mixture kernel's arguments and scratch size (kernel/mixture.hpp holds the kernel): a light
// header, so that the dispatch table (simd/kernels.hpp) declares the kernel without its body.
#include <cstddef>

namespace ferry::simd::kernel {

/// One call's mixture and level: K components in D dimensions, the per-level constants, and a
/// scratch of mixture_lanes_scratch(K, D) elements (any alignment) for the lane arrays.
template <class T>
struct mixture_args {
  std::size_t K = 0, D = 0;
  const T* inv_c = nullptr;  ///< K·D
  const T* shift = nullptr;  ///< K·D
  const T* am = nullptr;     ///< K·D: αμ_k
  const T* kappa = nullptr;  ///< K
  const T* mu = nullptr;     ///< K·D: μ_k
  const T* u = nullptr;      ///< K·D·D eigenvectors, column-major per component (U_k(q, j) = u[(k·D + j)·D + q]); null: diagonal
  T ca = 0, cb = 1;
  bool score = false;  ///< f = ∇log p (true) or x̂0 (false)
  T* scratch = nullptr;
};

/// The largest lane count any architecture uses (a 64-byte register).
template <class T>
inline constexpr std::size_t max_lanes = 64 / sizeof(T);

/// Scratch elements the kernel needs, for every architecture: (4D + K·D + K)·L + L (alignment).
template <class T>
constexpr std::size_t mixture_lanes_scratch(std::size_t K, std::size_t D) {
  return (4 * D + K * D + K) * max_lanes<T> + max_lanes<T>;
}

}  // namespace ferry::simd::kernel
