#pragma once
// The one fused kernel every state update goes through: out = Σ_k c_k · in_k.
//
// The vector body runs over full SIMD batches; the tail is copied into zero-padded lanes and runs
// the same body, so an element's bits do not depend on where a chunk ends (the same seed and
// inputs give the same bits for any split of the rows across threads), nor on the ISA path: every
// lane computes c0·in0 + c1·in1 + … left to right, with no fused multiply–add (simd/kernels.hpp).
#include <array>
#include <cstddef>
#include <span>
#include <type_traits>

#include "ferry/simd/kernels.hpp"

namespace ferry::simd {

namespace detail {
template <class T>
inline constexpr bool dispatched_type = std::is_same_v<T, float> || std::is_same_v<T, double>;
}

/// out[i] = Σ_k c[k]·in[k][i], accumulated left to right. `out` may alias any in[k].
template <class T, std::size_t K>
void lincomb(std::span<T> out, const std::array<T, K>& c, const std::array<const T*, K>& in) {
#ifdef FERRY_SIMD_DISPATCH
  static_assert(detail::dispatched_type<T>, "with FERRY_SIMD_DISPATCH the kernels take float and double");
  static_assert(K <= max_lincomb_terms, "with FERRY_SIMD_DISPATCH a lincomb takes at most max_lincomb_terms terms");
  kernels().of<T>().lincomb[K - 1](out.data(), out.size(), c.data(), in.data());
#else
  kernel::lincomb<T, K, xsimd::default_arch>(out.data(), out.size(), c.data(), in.data());
#endif
}

/// Σ_i x[i]², summed in the same order on every ISA (kernel::sum_squares): used for norms.
template <class T>
T sum_squares(std::span<const T> x) {
#ifdef FERRY_SIMD_DISPATCH
  static_assert(detail::dispatched_type<T>, "with FERRY_SIMD_DISPATCH the kernels take float and double");
  return kernels().of<T>().sum_squares(x.data(), x.size());
#else
  return kernel::sum_squares<T, xsimd::default_arch>(x.data(), x.size());
#endif
}

/// The index of the first NaN or ±∞ in x (x.size() if every entry is finite): the driver's check
/// of the state after each step, vectorised.
template <class T>
std::size_t find_nonfinite(std::span<const T> x) {
#ifdef FERRY_SIMD_DISPATCH
  static_assert(detail::dispatched_type<T>, "with FERRY_SIMD_DISPATCH the kernels take float and double");
  return kernels().of<T>().find_nonfinite(x.data(), x.size());
#else
  return kernel::find_nonfinite<T, xsimd::default_arch>(x.data(), x.size());
#endif
}

}  // namespace ferry::simd
