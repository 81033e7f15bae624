#pragma once
// The Gaussian-mixture oracle's batch kernel for one xsimd architecture (models/gaussian_mixture.hpp
// holds the model, its per-level constants and the public calls). Vectorised ACROSS rows: lane l
// holds row i + l, a partial last block runs zero-padded through the same body, so a row's bits do
// not depend on where it sits (nor on the lane count: every lane computes the same operations).
// Templates on Arch only (see kernel/lincomb.hpp); no fused multiply–add.
//
// Per level (computed by the caller): c_kj = α²s_kj + σ² (eigenvalues of C_k), inv_c = 1/c,
// shift = αs/c, am = αμ, κ_k = log w_k − ½(Σ_j log c_kj + D log 2π). Per row and component:
//   e = U_kᵀ(x − αμ_k),  lp_k = κ_k − ½ Σ_j e_j² inv_c_kj,  r_k = exp(lp_k − max) / Σ exp(· − max),
//   x̂0 = Σ_k r_k (μ_k + U_k(shift_k ⊙ e)),   ∇log p = −Σ_k r_k U_k(inv_c_k ⊙ e),
// and out = ca·x + cb·f (f = x̂0 or ∇log p; out = f when ca = 0, cb = 1).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <xsimd/xsimd.hpp>

#include "ferry/simd/kernel/mixture_args.hpp"

namespace ferry::simd::kernel {

namespace detail {
// Any mixture: the block's rows, residuals and log-probabilities in the scratch arrays.
template <class T, bool Score, class Arch>
void mixture_rows_generic(const mixture_args<T>& a, const T* x, std::size_t rows, T* out) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t L = B::size;
  constexpr T inf = std::numeric_limits<T>::infinity();
  const std::size_t K = a.K, D = a.D;
  T* base = a.scratch + (L - std::size_t(reinterpret_cast<std::uintptr_t>(a.scratch) / sizeof(T)) % L) % L;
  T* xl = base;           // D·L: the block's rows, one batch per dimension
  T* acc = xl + D * L;    // D·L: the result
  T* e = acc + D * L;     // K·D·L: residuals in eigen-coordinates
  T* lp = e + K * D * L;  // K·L: log-probabilities, then unnormalised responsibilities
  T* tail_in = lp + K * L;
  T* tail_out = tail_in + D * L;
  const B half(T(0.5)), bca(a.ca), bcb(a.cb), lo = xsimd::constants::minlog<B>();
  const bool plain = a.ca == T(0) && a.cb == T(1);
  const bool full = a.u != nullptr;
  auto block = [&](const T* src, T* dst) {  // L rows, row-major at src/dst
    for (std::size_t l = 0; l < L; ++l)
      for (std::size_t j = 0; j < D; ++j) xl[j * L + l] = src[l * D + j];
    B m(-inf);
    for (std::size_t k = 0; k < K; ++k) {
      T* ek = e + k * D * L;
      const T* amk = a.am + k * D;
      if (full) {
        const T* U = a.u + k * D * D;
        for (std::size_t j = 0; j < D; ++j) {  // e_j = Σ_q U_qj (x_q − αμ_kq)
          B v(T(0));
          for (std::size_t q = 0; q < D; ++q) v = B(U[j * D + q]) * (B::load_aligned(xl + q * L) - B(amk[q])) + v;
          v.store_aligned(ek + j * L);
        }
      } else {
        for (std::size_t j = 0; j < D; ++j) (B::load_aligned(xl + j * L) - B(amk[j])).store_aligned(ek + j * L);
      }
      B quad(T(0));
      for (std::size_t j = 0; j < D; ++j) {
        const B v = B::load_aligned(ek + j * L);
        quad = (v * v) * B(a.inv_c[k * D + j]) + quad;
      }
      const B l = B(a.kappa[k]) - half * quad;
      l.store_aligned(lp + k * L);
      m = xsimd::max(m, l);
    }
    B total(T(0));
    for (std::size_t k = 0; k < K; ++k) {
      const B w = xsimd::exp(xsimd::max(lo, B::load_aligned(lp + k * L) - m));  // as softmax: no −∞ into exp
      w.store_aligned(lp + k * L);
      total += w;
    }
    const B inv_total = B(T(1)) / total;
    for (std::size_t j = 0; j < D; ++j) B(T(0)).store_aligned(acc + j * L);
    for (std::size_t k = 0; k < K; ++k) {
      const B r = B::load_aligned(lp + k * L) * inv_total;
      const T* ek = e + k * D * L;
      const T* coef = (Score ? a.inv_c : a.shift) + k * D;
      for (std::size_t j = 0; j < D; ++j) {
        B v(T(0));  // (U_k (coef ⊙ e))_j, or coef_j e_j for a diagonal mixture
        if (full) {
          const T* U = a.u + k * D * D;
          for (std::size_t q = 0; q < D; ++q) v = B(U[q * D + j] * coef[q]) * B::load_aligned(ek + q * L) + v;
        } else {
          v = B(coef[j]) * B::load_aligned(ek + j * L);
        }
        const B s = B::load_aligned(acc + j * L);
        if constexpr (Score)
          ((-r) * v + s).store_aligned(acc + j * L);  // s − r·v
        else
          (r * (v + B(a.mu[k * D + j])) + s).store_aligned(acc + j * L);
      }
    }
    for (std::size_t j = 0; j < D; ++j) {
      const B f = B::load_aligned(acc + j * L);
      (plain ? f : bca * B::load_aligned(xl + j * L) + bcb * f).store_aligned(acc + j * L);
    }
    for (std::size_t l = 0; l < L; ++l)
      for (std::size_t j = 0; j < D; ++j) dst[l * D + j] = acc[j * L + l];
  };
  std::size_t i = 0;
  for (; i + L <= rows; i += L) block(x + i * D, out + i * D);
  if (i == rows) return;
  for (std::size_t j = 0; j < D * L; ++j) tail_in[j] = T(0);  // the tail: zero-padded lanes through the same body
  for (std::size_t j = 0; j < (rows - i) * D; ++j) tail_in[j] = x[i * D + j];
  block(tail_in, tail_out);
  for (std::size_t j = 0; j < (rows - i) * D; ++j) out[i * D + j] = tail_out[j];
}

// A diagonal mixture in N = 1 … 4 dimensions: the same operations in the same order as the generic
// body (so the same bits), with the block's coordinates and the result in registers and the
// residual x_j − αμ_kj taken again where the generic body stores and reloads it. The constants
// come in as plain pointers (locals no store can alias).
template <class T, bool Score, class Arch, std::size_t N>
inline void diagonal_block(const T* src, T* dst, std::size_t K, const T* inv_c, const T* coef, const T* am,
                           const T* kappa, const T* mu, T ca, T cb, T* lp) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t L = B::size;
  alignas(64) T lane[N * L];
  for (std::size_t l = 0; l < L; ++l)
    for (std::size_t j = 0; j < N; ++j) lane[j * L + l] = src[l * N + j];
  B xv[N];
  for (std::size_t j = 0; j < N; ++j) xv[j] = B::load_aligned(lane + j * L);
  B m(-std::numeric_limits<T>::infinity());
  for (std::size_t k = 0; k < K; ++k) {
    B quad(T(0));
    for (std::size_t j = 0; j < N; ++j) {
      const B v = xv[j] - B(am[k * N + j]);
      quad = (v * v) * B(inv_c[k * N + j]) + quad;
    }
    const B l = B(kappa[k]) - B(T(0.5)) * quad;
    l.store_aligned(lp + k * L);
    m = xsimd::max(m, l);
  }
  B total(T(0));
  const B lo = xsimd::constants::minlog<B>();
  for (std::size_t k = 0; k < K; ++k) {
    const B w = xsimd::exp(xsimd::max(lo, B::load_aligned(lp + k * L) - m));  // as softmax: no −∞ into exp
    w.store_aligned(lp + k * L);
    total += w;
  }
  const B inv_total = B(T(1)) / total;
  B acc[N];
  for (std::size_t j = 0; j < N; ++j) acc[j] = B(T(0));
  for (std::size_t k = 0; k < K; ++k) {
    const B r = B::load_aligned(lp + k * L) * inv_total;
    for (std::size_t j = 0; j < N; ++j) {
      const B v = B(coef[k * N + j]) * (xv[j] - B(am[k * N + j]));
      if constexpr (Score)
        acc[j] = (-r) * v + acc[j];
      else
        acc[j] = r * (v + B(mu[k * N + j])) + acc[j];
    }
  }
  const bool plain = ca == T(0) && cb == T(1);
  for (std::size_t j = 0; j < N; ++j)
    (plain ? acc[j] : B(ca) * xv[j] + B(cb) * acc[j]).store_aligned(lane + j * L);
  for (std::size_t l = 0; l < L; ++l)
    for (std::size_t j = 0; j < N; ++j) dst[l * N + j] = lane[j * L + l];
}

template <class T, bool Score, class Arch, std::size_t N>
void mixture_rows_diagonal(const mixture_args<T>& a, const T* x, std::size_t rows, T* out) {
  constexpr std::size_t L = xsimd::batch<T, Arch>::size;
  T* lp = a.scratch + (L - std::size_t(reinterpret_cast<std::uintptr_t>(a.scratch) / sizeof(T)) % L) % L;  // K·L
  const std::size_t K = a.K;
  const T *inv_c = a.inv_c, *coef = Score ? a.inv_c : a.shift, *am = a.am, *kappa = a.kappa, *mu = a.mu;
  std::size_t i = 0;
  for (; i + L <= rows; i += L)
    diagonal_block<T, Score, Arch, N>(x + i * N, out + i * N, K, inv_c, coef, am, kappa, mu, a.ca, a.cb, lp);
  if (i == rows) return;
  alignas(64) T tail_in[N * L], tail_out[N * L];  // the tail: zero-padded lanes through the same body
  for (std::size_t j = 0; j < N * L; ++j) tail_in[j] = T(0);
  for (std::size_t j = 0; j < (rows - i) * N; ++j) tail_in[j] = x[i * N + j];
  diagonal_block<T, Score, Arch, N>(tail_in, tail_out, K, inv_c, coef, am, kappa, mu, a.ca, a.cb, lp);
  for (std::size_t j = 0; j < (rows - i) * N; ++j) out[i * N + j] = tail_out[j];
}

template <class T, bool Score, class Arch>
void mixture_rows_as(const mixture_args<T>& a, const T* x, std::size_t rows, T* out) {
  if (!a.u) switch (a.D) {
      case 1: return mixture_rows_diagonal<T, Score, Arch, 1>(a, x, rows, out);
      case 2: return mixture_rows_diagonal<T, Score, Arch, 2>(a, x, rows, out);
      case 3: return mixture_rows_diagonal<T, Score, Arch, 3>(a, x, rows, out);
      case 4: return mixture_rows_diagonal<T, Score, Arch, 4>(a, x, rows, out);
      default: break;
    }
  mixture_rows_generic<T, Score, Arch>(a, x, rows, out);
}
}  // namespace detail

/// out = ca·x + cb·f(x) for `rows` rows of D (row-major; out may alias x block by block).
template <class T, class Arch>
void mixture_rows(const mixture_args<T>& a, const T* x, std::size_t rows, T* out) {
  if (a.score)
    detail::mixture_rows_as<T, true, Arch>(a, x, rows, out);
  else
    detail::mixture_rows_as<T, false, Arch>(a, x, rows, out);
}

}  // namespace ferry::simd::kernel
