#pragma once
// The one fused kernel every state update goes through: out = Σ_k c_k · in_k.
//
// The vector body runs over full SIMD batches; the tail is copied into zero-padded lanes and runs
// the same body, so an element's bits do not depend on where a chunk ends (the same seed and
// inputs give the same bits for any split of the rows across threads).
#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <utility>
#include <xsimd/xsimd.hpp>

namespace ferry::simd {

/// out[i] = Σ_k c[k]·in[k][i]. `out` may alias any in[k]. Accumulates left to right with fma.
template <class T, std::size_t K, class Arch = xsimd::default_arch>
void lincomb(std::span<T> out, const std::array<T, K>& c, const std::array<const T*, K>& in) {
  static_assert(K >= 1, "lincomb needs at least one term");
  using B = xsimd::batch<T, Arch>;
  std::array<B, K> cb;  // broadcasts hoisted out of the loop
  for (std::size_t k = 0; k < K; ++k) cb[k] = B(c[k]);
  // acc = c0·in0, then acc = fma(c_k, in_k, acc) for k = 1 … K−1, unrolled at compile time.
  auto body = [&cb]<std::size_t... I>(std::index_sequence<I...>, const T* const* src, T* dst, std::size_t i) {
    B acc = cb[0] * B::load_unaligned(src[0] + i);
    ((acc = xsimd::fma(cb[I + 1], B::load_unaligned(src[I + 1] + i), acc)), ...);
    acc.store_unaligned(dst + i);
  };
  constexpr auto rest = std::make_index_sequence<K - 1>{};
  // A local copy of the pointers: SIMD stores may alias anything, and the caller's array would be
  // reloaded after every store.
  const std::array<const T*, K> src = in;
  const std::size_t n = out.size();
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) body(rest, src.data(), out.data(), i);
  if (i == n) return;
  alignas(64) T lane[K][B::size] = {};
  alignas(64) T res[B::size];
  std::array<const T*, K> tail;
  for (std::size_t k = 0; k < K; ++k) {
    std::copy(in[k] + i, in[k] + n, lane[k]);
    tail[k] = lane[k];
  }
  body(rest, tail.data(), res, 0);
  std::copy(res, res + (n - i), out.data() + i);
}

/// Σ_i x[i]² — used for norms in step-size control; a fixed lane order keeps it reproducible.
template <class T, class Arch = xsimd::default_arch>
T sum_squares(std::span<const T> x) {
  using B = xsimd::batch<T, Arch>;
  B acc(T(0));
  std::size_t i = 0;
  for (; i + B::size <= x.size(); i += B::size) {
    const B v = B::load_unaligned(x.data() + i);
    acc = xsimd::fma(v, v, acc);
  }
  T s = xsimd::hadd(acc);
  for (; i < x.size(); ++i) s += x[i] * x[i];
  return s;
}

}  // namespace ferry::simd
