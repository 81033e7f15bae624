#pragma once
// Vectorised kernels over a vocabulary: softmax and Gumbel-perturbed log-weights.
//
// Gumbel-max (Gumbel 1954; Maddison et al. 2014): with u_j ~ U(0, 1) independent,
//   argmax_j [log w_j − log(−log u_j)] ~ Categorical(w / Σw),
// so a categorical draw needs neither a normalised w nor a cumulative sum. As in lincomb, a
// partial last batch is padded and run through the same vector body, so an entry's bits do not
// depend on where it sits in the array, nor on the ISA path (simd/kernels.hpp). Double by
// default; the float32 variant exists for comparison (its u rounds to 1 near 1 − 2⁻²⁵, which
// truncates the Gumbel tail). In double the draw is the equivalent exponential race
// (race_argmin), which needs a logarithm only for the few entries that can still win.
// The kernel calls are templates (`template <class = void>`) so that a program compiles a kernel
// only where it calls it.
#include <concepts>
#include <cstddef>
#include <limits>

#include "ferry/simd/kernels.hpp"

namespace ferry::simd {

/// x ← softmax(x) over n entries: exp(x − max x), normalised.
template <class = void>
void softmax(double* x, std::size_t n) {
#ifdef FERRY_SIMD_DISPATCH
  kernels().softmax(x, n);
#else
  kernel::softmax<xsimd::default_arch>(x, n);
#endif
}

/// out_j = log w_j − log(−log u_j) in double (w_j = 0 gives −∞).
template <class = void>
void gumbel_scores(const double* w, const double* u, double* out, std::size_t n) {
#ifdef FERRY_SIMD_DISPATCH
  kernels().f64.gumbel_scores(w, u, out, n);
#else
  kernel::gumbel_scores<double, xsimd::default_arch>(w, u, out, n);
#endif
}

/// The same in float32: w and u are rounded to float first (u may round to 1, giving +∞).
template <class = void>
void gumbel_scores(const float* w, const float* u, float* out, std::size_t n) {
#ifdef FERRY_SIMD_DISPATCH
  kernels().f32.gumbel_scores(w, u, out, n);
#else
  kernel::gumbel_scores<float, xsimd::default_arch>(w, u, out, n);
#endif
}

/// The exponential race (the Gumbel-max draw without its logarithms of w): with E_j = −log u_j
/// ~ Exp(1) independent, argmin_j E_j / w_j ~ Categorical(w / Σw), since log(w_j / E_j) is
/// log w_j + Gumbel. Returns the first index of the smallest key E_j / w_j among the entries with
/// w_j > 0 and skip(j) false; n if there is none (or if every key overflows, which only weights
/// below ~10⁻³⁰⁷ can do: the caller falls back to the log form then).
/// Lazy: since −log u ≥ 1 − u, a batch whose bound (1 − u)(1 − 2⁻²⁰) ≥ best·w in every lane cannot
/// win and costs no logarithm (the 2⁻²⁰ margin covers the rounding of the bound, of best·w and of
/// log), so the result is that of computing every key, whatever the register width; about ln n
/// batches per call take the log. This form runs the build's own arch (a header-only build; with
/// dispatch, kernel::race_argmin<Arch> of simd/kernel/categorical.hpp); the one below dispatches.
#ifndef FERRY_SIMD_DISPATCH
template <class Skip>
  requires std::predicate<Skip, std::size_t>
std::size_t race_argmin(const double* w, const double* u, std::size_t n, Skip skip) {
  return kernel::race_argmin<xsimd::default_arch>(w, u, n, skip);
}
#endif

/// race_argmin with skip(j) = (j == exclude) (exclude ≥ n: none), on the dispatched path.
template <class = void>
std::size_t race_argmin(const double* w, const double* u, std::size_t n, std::size_t exclude) {
#ifdef FERRY_SIMD_DISPATCH
  return kernels().race_argmin(w, u, n, exclude);
#else
  return kernel::race_argmin<xsimd::default_arch>(w, u, n, kernel::skip_index<xsimd::default_arch>{exclude});
#endif
}

/// The first index of the largest entry above −∞ among those with skip(j) false; n if there is none.
template <class T, class Skip>
std::size_t argmax_where(const T* s, std::size_t n, Skip skip) {
  std::size_t best = n;
  T v = -std::numeric_limits<T>::infinity();
  for (std::size_t j = 0; j < n; ++j)
    if (!skip(j) && s[j] > v) v = s[best = j];
  return best;
}

}  // namespace ferry::simd
