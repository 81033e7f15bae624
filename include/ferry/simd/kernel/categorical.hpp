#pragma once
// The bodies of the vocabulary kernels for one xsimd architecture (simd/categorical.hpp holds the
// public calls and the math): softmax, Gumbel scores and the lazy exponential race. Templates on
// Arch only (see kernel/lincomb.hpp). A partial last batch is padded and runs the same body.
#include <cstddef>
#include <limits>
#include <xsimd/xsimd.hpp>

namespace ferry::simd::kernel {

/// x ← softmax(x) over n entries: exp(x − max x) in one vector pass, then the sum in index order
/// and the division.
template <class Arch>
void softmax(double* x, std::size_t n) {
  using B = xsimd::batch<double, Arch>;
  if (n == 0) return;
  double m = x[0];
  for (std::size_t j = 1; j < n; ++j)
    if (m < x[j]) m = x[j];
  // exp(max(minlog, x − m)): the same value (exp is 0 from minlog down), but no −∞ reaches xsimd's
  // float-to-integer conversion (undefined behaviour for UBSan on the SSE2 and AVX2 paths).
  const B lo = xsimd::constants::minlog<B>();
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) xsimd::exp(xsimd::max(lo, B::load_unaligned(x + i) - B(m))).store_unaligned(x + i);
  if (i < n) {
    alignas(64) double lane[B::size];
    for (std::size_t j = 0; j < B::size; ++j) lane[j] = i + j < n ? x[i + j] : m;
    xsimd::exp(xsimd::max(lo, B::load_aligned(lane) - B(m))).store_aligned(lane);
    for (std::size_t j = i; j < n; ++j) x[j] = lane[j - i];
  }
  double z = 0;
  for (std::size_t j = 0; j < n; ++j) z += x[j];
  for (std::size_t j = 0; j < n; ++j) x[j] /= z;
}

/// out_j = log w_j − log(−log u_j) (w_j = 0 gives −∞), in T.
template <class T, class Arch>
void gumbel_scores(const T* w, const T* u, T* out, std::size_t n) {
  using B = xsimd::batch<T, Arch>;
  auto body = [](const T* wb, const T* ub, T* o, std::size_t i) {
    const B g = -xsimd::log(-xsimd::log(B::load_unaligned(ub + i)));
    (xsimd::log(B::load_unaligned(wb + i)) + g).store_unaligned(o + i);
  };
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) body(w, u, out, i);
  if (i == n) return;
  alignas(64) T wl[B::size], ul[B::size], o[B::size];
  for (std::size_t j = 0; j < B::size; ++j) wl[j] = i + j < n ? w[i + j] : T(1), ul[j] = i + j < n ? u[i + j] : T(0.5);
  body(wl, ul, o, 0);
  for (std::size_t j = i; j < n; ++j) out[j] = o[j - i];
}

/// The first index of the smallest key (−log u_j)/w_j among the j with w_j > 0 and skip(j) false;
/// n if there is none. Lazy: since −log u ≥ 1 − u, a batch whose bound (1 − u)(1 − 2⁻²⁰) is not
/// below best·w in any lane cannot win and takes no logarithm (simd/categorical.hpp).
template <class Arch, class Skip>
std::size_t race_argmin(const double* w, const double* u, std::size_t n, Skip skip) {
  using B = xsimd::batch<double, Arch>;
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
    alignas(64) double wt[B::size], ut[B::size];
    for (std::size_t j = 0; j < B::size; ++j) wt[j] = i + j < n ? w[i + j] : 0.0, ut[j] = i + j < n ? u[i + j] : 0.5;
    lanes(wt, ut, i, n - i);
  }
  return arg;
}

/// skip(j) = (j == exclude): the one exclusion the draws use.
template <class Arch>
struct skip_index {
  std::size_t exclude;
  bool operator()(std::size_t j) const { return j == exclude; }
};

}  // namespace ferry::simd::kernel
