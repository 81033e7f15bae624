#pragma once
// The bodies of lincomb and sum_squares for one xsimd architecture (see simd/lincomb.hpp for the
// public calls). Kernel bodies are templates on Arch and call only Arch-templated code and plain
// loops, so a translation unit compiled for AVX-512 defines no function another TU could share
// (simd/kernels.hpp); they never fuse a multiply and an add.
#include <cstddef>
#include <utility>
#include <xsimd/xsimd.hpp>

namespace ferry::simd::kernel {

/// out[i] = Σ_k c[k]·in[k][i], accumulated left to right: acc = c0·in0, acc = acc + c_k·in_k.
/// `out` may alias any in[k]. A partial last batch runs the same body on zero-padded lanes.
template <class T, std::size_t K, class Arch>
void lincomb(T* out, std::size_t n, const T* c, const T* const* in) {
  static_assert(K >= 1, "lincomb needs at least one term");
  using B = xsimd::batch<T, Arch>;
  B cb[K];  // broadcasts hoisted out of the loop
  const T* src[K];  // a local copy of the pointers: stores may alias anything
  for (std::size_t k = 0; k < K; ++k) cb[k] = B(c[k]), src[k] = in[k];
  auto body = [&cb]<std::size_t... I>(std::index_sequence<I...>, const T* const* s, T* dst, std::size_t i) {
    B acc = cb[0] * B::load_unaligned(s[0] + i);
    ((acc = cb[I + 1] * B::load_unaligned(s[I + 1] + i) + acc), ...);
    acc.store_unaligned(dst + i);
  };
  constexpr auto rest = std::make_index_sequence<K - 1>{};
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) body(rest, src, out, i);
  if (i == n) return;
  alignas(64) T lane[K][B::size] = {};
  alignas(64) T res[B::size];
  const T* tail[K];
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t j = i; j < n; ++j) lane[k][j - i] = src[k][j];
    tail[k] = lane[k];
  }
  body(rest, tail, res, 0);
  for (std::size_t j = i; j < n; ++j) out[j] = res[j - i];
}

/// Σ_i x[i]² in the baseline's order on every ISA: the order of a 16-byte register of xsimd lanes
/// (2 doubles, 4 floats). Lane l sums x[i]² for i ≡ l in order, the lanes are then added as
/// xsimd's SSE2 hadd adds them (a0 + a1; (a0 + a2) + (a1 + a3)), then the tail in order. A sum's
/// bits depend on its lane count, so this reduction keeps the baseline's count on every path (it
/// sums one row of a state, not a hot loop); written in scalars so that it stays Arch's own code.
template <class T, class Arch>
T sum_squares(const T* x, std::size_t n) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "sum_squares: float or double");
  constexpr std::size_t L = 16 / sizeof(T);
  T acc[L] = {};
  std::size_t i = 0;
  for (; i + L <= n; i += L)
    for (std::size_t l = 0; l < L; ++l) acc[l] = x[i + l] * x[i + l] + acc[l];
  T s = L == 2 ? acc[0] + acc[1] : (acc[0] + acc[L / 2]) + (acc[1] + acc[L - 1]);
  for (; i < n; ++i) s += x[i] * x[i];
  return s;
}

/// The index of the first x[i] that is NaN or ±∞ (n if none): x − x is 0 exactly for finite x and
/// NaN otherwise. Four batches per test, then the exact index found in order. (xsimd 8.1's `!=` is
/// unordered on SSE2 and ordered on AVX, so the kernels compare with `==` only.)
template <class T, class Arch>
std::size_t find_nonfinite(const T* x, std::size_t n) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t step = 4 * B::size;
  const B zero(T(0));
  std::size_t i = 0;
  for (; i + step <= n; i += step) {
    const B a = B::load_unaligned(x + i), b = B::load_unaligned(x + i + B::size), c = B::load_unaligned(x + i + 2 * B::size),
            d = B::load_unaligned(x + i + 3 * B::size);
    if (!xsimd::all(((a - a) + (b - b)) + ((c - c) + (d - d)) == zero)) break;  // == is ordered on every arch
  }
  for (; i < n; ++i)
    if (!(x[i] - x[i] == T(0))) return i;
  return n;
}

}  // namespace ferry::simd::kernel
