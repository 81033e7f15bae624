#pragma once
// Vectorised kernels over a vocabulary: softmax and Gumbel-perturbed log-weights.
//
// Gumbel-max (Gumbel 1954; Maddison et al. 2014): with u_j ~ U(0, 1) independent,
//   argmax_j [log w_j − log(−log u_j)] ~ Categorical(w / Σw),
// so a categorical draw needs neither a normalised w nor a cumulative sum. As in lincomb, a
// partial last batch is padded and run through the same vector body, so an entry's bits do not
// depend on where it sits in the array. Double by default; the float32 variant exists for
// comparison (its u rounds to 1 near 1 − 2⁻²⁵, which truncates the Gumbel tail). In double the
// draw is the equivalent exponential race (race_argmin), which needs a logarithm only for the
// few entries that can still win.
#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <xsimd/xsimd.hpp>

namespace ferry::simd {

namespace detail {
// Runs body(in_ptrs, out, i) on full batches of B and once more on a padded copy of the tail.
template <class B, std::size_t K, class Out, class Body>
void padded_loop(const std::array<const typename B::value_type*, K>& in, const std::array<typename B::value_type, K>& pad,
                 Out* out, std::size_t n, Body body) {
  using V = typename B::value_type;
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) body(in, out, i);
  if (i == n) return;
  alignas(64) V lane[K][B::size];
  alignas(64) Out res[B::size];
  std::array<const V*, K> src;
  for (std::size_t k = 0; k < K; ++k) {
    std::fill(lane[k], lane[k] + B::size, pad[k]);
    std::copy(in[k] + i, in[k] + n, lane[k]);
    src[k] = lane[k];
  }
  body(src, res, 0);
  std::copy(res, res + (n - i), out + i);
}
}  // namespace detail

/// x ← softmax(x) over n entries: exp(x − max x), normalised.
inline void softmax(double* x, std::size_t n) {
  using B = xsimd::batch<double>;
  if (n == 0) return;
  const double m = *std::max_element(x, x + n);
  detail::padded_loop<B, 1>({x}, {m}, x, n, [&](const std::array<const double*, 1>& in, double* out, std::size_t i) {
    xsimd::exp(B::load_unaligned(in[0] + i) - B(m)).store_unaligned(out + i);
  });
  double z = 0;
  for (std::size_t j = 0; j < n; ++j) z += x[j];
  for (std::size_t j = 0; j < n; ++j) x[j] /= z;
}

/// out_j = log w_j − log(−log u_j) in double (w_j = 0 gives −∞).
inline void gumbel_scores(const double* w, const double* u, double* out, std::size_t n) {
  using B = xsimd::batch<double>;
  detail::padded_loop<B, 2>({w, u}, {1.0, 0.5}, out, n, [](const std::array<const double*, 2>& in, double* o, std::size_t i) {
    const B g = -xsimd::log(-xsimd::log(B::load_unaligned(in[1] + i)));
    (xsimd::log(B::load_unaligned(in[0] + i)) + g).store_unaligned(o + i);
  });
}

/// The same in float32: w and u are rounded to float first (u may round to 1, giving +∞).
inline void gumbel_scores(const float* w, const float* u, float* out, std::size_t n) {
  using B = xsimd::batch<float>;
  detail::padded_loop<B, 2>({w, u}, {1.0f, 0.5f}, out, n, [](const std::array<const float*, 2>& in, float* o, std::size_t i) {
    const B g = -xsimd::log(-xsimd::log(B::load_unaligned(in[1] + i)));
    (xsimd::log(B::load_unaligned(in[0] + i)) + g).store_unaligned(o + i);
  });
}

/// The exponential race (the Gumbel-max draw without its logarithms of w): with E_j = −log u_j
/// ~ Exp(1) independent, argmin_j E_j / w_j ~ Categorical(w / Σw), since log(w_j / E_j) is
/// log w_j + Gumbel. Returns the first index of the smallest key E_j / w_j among the entries with
/// w_j > 0 and skip(j) false; n if there is none (or if every key overflows, which only weights
/// below ~10⁻³⁰⁷ can do: the caller falls back to the log form then).
/// Lazy: since −log u ≥ 1 − u, a batch whose bound (1 − u)(1 − 2⁻²⁰) ≥ best·w in every lane cannot
/// win and costs no logarithm (the 2⁻²⁰ margin covers the rounding of the bound, of best·w and of
/// log), so the result is that of computing every key; about ln n batches per call take the log.
template <class Skip>
std::size_t race_argmin(const double* w, const double* u, std::size_t n, Skip skip) {
  using B = xsimd::batch<double>;
  constexpr double margin = 1 - 0x1p-20;
  double best = std::numeric_limits<double>::infinity();
  std::size_t arg = n;
  auto lanes = [&](const double* wb, const double* ub, std::size_t first, std::size_t count) {
    alignas(64) double key[B::size];
    (-xsimd::log(B::load_unaligned(ub)) / B::load_unaligned(wb)).store_aligned(key);
    for (std::size_t q = 0; q < count; ++q)
      if (wb[q] > 0 && key[q] < best && !skip(first + q)) best = key[q], arg = first + q;
  };
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) {
    const B wv = B::load_unaligned(w + i), bound = (B(1.0) - B::load_unaligned(u + i)) * B(margin);
    if (xsimd::any(bound < B(best) * wv)) lanes(w + i, u + i, i, B::size);
  }
  if (i < n) {  // the padded tail runs the same body
    alignas(64) double wt[B::size] = {}, ut[B::size];
    std::fill(ut, ut + B::size, 0.5);
    std::copy(w + i, w + n, wt);
    std::copy(u + i, u + n, ut);
    lanes(wt, ut, i, n - i);
  }
  return arg;
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
