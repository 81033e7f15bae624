#pragma once
// Integrals of Lagrange basis polynomials: the coefficients of linear multistep methods.
//
//   ℓ_j(τ) = Π_{k≠j} (τ − τ_k)/(τ_j − τ_k)        (the basis through nodes τ_0 … τ_{n−1})
//
// LMS (k-diffusion linear_multistep_coeff, diffusers LMSDiscreteScheduler) needs ∫_a^b ℓ_j(τ) dτ;
// the peers call scipy's quad, which is exact for polynomials, so we integrate exactly too:
// Gauss–Legendre with 4 nodes is exact up to degree 7.
// DEIS (Zhang & Chen 2023, Eq. 15 with ρ-Lagrange in log ρ) needs ∫ ℓ_j(log ρ) dρ; with v = log ρ
// this is ∫ ℓ_j(v)·e^v dv, whose antiderivative is e^v·(ℓ_j − ℓ_j' + ℓ_j'' − …).
// diffusers writes those DEIS integrals as closed forms (ind_fn) evaluated in float32;
// lagrange_log_integral_f32 reproduces that rounding for parity.
#include <array>
#include <cmath>
#include <cstddef>

#include "ferry/process/discrete_vp.hpp"

namespace ferry::detail {

/// ℓ_j(τ) through nodes[0..n).
template <class T, std::size_t N>
T lagrange_basis(const std::array<T, N>& nodes, std::size_t n, std::size_t j, T tau) {
  T prod = 1;
  for (std::size_t k = 0; k < n; ++k)
    if (k != j) prod *= (tau - nodes[k]) / (nodes[j] - nodes[k]);
  return prod;
}

/// ∫_a^b ℓ_j(τ) dτ, exact for n ≤ 8 nodes (4-point Gauss–Legendre).
template <class T, std::size_t N>
T lagrange_integral(const std::array<T, N>& nodes, std::size_t n, std::size_t j, T a, T b) {
  static_assert(N <= 8, "4-point Gauss-Legendre is exact only up to degree 7");
  constexpr T x[2] = {T(0.33998104358485626480), T(0.86113631159405257522)};
  constexpr T w[2] = {T(0.65214515486254614263), T(0.34785484513745385737)};
  const T mid = (a + b) / 2, half = (b - a) / 2;
  T sum = 0;
  for (int i = 0; i < 2; ++i)
    sum += w[i] * (lagrange_basis(nodes, n, j, mid - half * x[i]) + lagrange_basis(nodes, n, j, mid + half * x[i]));
  return half * sum;
}

/// ∫_0^{v1} ℓ_j(v)·e^v dv exactly, through nodes[0..n) (v1 = −∞ allowed: the integral to ρ = 0).
template <class T, std::size_t N>
T lagrange_exp_integral(const std::array<T, N>& nodes, std::size_t n, std::size_t j, T v1) {
  std::array<T, N> p{};  // monomial coefficients of ℓ_j, p[d]·v^d
  p[0] = 1;
  std::size_t deg = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (k == j) continue;
    const T s = 1 / (nodes[j] - nodes[k]);
    for (std::size_t d = deg + 2; d-- > 0;)  // p ← p·(v − v_k)·s, degree deg + 1
      p[d] = ((d > 0 ? p[d - 1] : T(0)) - nodes[k] * p[d]) * s;
    ++deg;
  }
  // Q = ℓ − ℓ' + ℓ'' − …, so that (e^v Q)' = e^v ℓ.
  std::array<T, N> q = p, der = p;
  for (std::size_t m = 1; m <= deg; ++m) {
    for (std::size_t d = 0; d + m <= deg; ++d) der[d] = der[d + 1] * T(d + 1);  // next derivative
    der[deg - m + 1] = 0;
    for (std::size_t d = 0; d + m <= deg; ++d) q[d] += (m % 2 ? -der[d] : der[d]);
  }
  auto eval = [&](T v) {
    T r = 0;
    for (std::size_t d = deg + 1; d-- > 0;) r = r * v + q[d];
    return r;
  };
  const T upper = std::isinf(v1) && v1 < 0 ? T(0) : std::exp(v1) * eval(v1);  // e^v·poly → 0 as v → −∞
  return upper - eval(T(0));
}

/// The correctly rounded float32 log.
inline float log_f32_rn(float x) { return static_cast<float>(std::log(double(x))); }

/// ∫_{ρ[0]}^{ρ_t} ℓ_j(log ρ) dρ through n = 2 or 3 nodes log ρ[0..n) (ρ[0] the newest, ρ_t > 0), as
/// diffusers' DEISMultistepScheduler evaluates it: its closed-form antiderivative ind_fn, every
/// operation in float32 (its ρ are float32 tensors, `log_fn` is the float32 log it uses — NumPy's), the
/// other nodes taken in its cyclic order. ind_fn(ρ_t) − ind_fn(ρ[0]) cancels, so this differs from
/// lagrange_exp_integral by far more than one float32 ulp of the result.
inline float lagrange_log_integral_f32(const std::array<float, 3>& rho, std::size_t n, std::size_t j, float rho_t,
                                       float (*log_fn)(float)) {
  const float lb = log_fn(rho[j]);
  if (n == 2) {
    const float lc = log_fn(rho[(j + 1) % 2]);
    // ∫ (log t − log c)/(log b − log c) dt = t·(−log c + log t − 1)/(log b − log c)
    auto ind = [&](float t) { return f32_div(f32_mul(t, f32_sub(f32_add(-lc, log_fn(t)), 1.0f)), f32_sub(lb, lc)); };
    return f32_sub(ind(rho_t), ind(rho[0]));
  }
  const float lc = log_fn(rho[(j + 1) % 3]), ld = log_fn(rho[(j + 2) % 3]);
  // ∫ (log t − log c)(log t − log d)/((log b − log c)(log b − log d)) dt
  //   = t·(log c·(log d − log t + 1) − log d·log t + log d + log²t − 2·log t + 2)/((log b − log c)(log b − log d)),
  // summed left to right as written.
  auto ind = [&](float t) {
    const float lt = log_fn(t);
    float u = f32_mul(lc, f32_add(f32_sub(ld, lt), 1.0f));
    u = f32_sub(u, f32_mul(ld, lt));
    u = f32_add(u, ld);
    u = f32_add(u, f32_mul(lt, lt));
    u = f32_sub(u, f32_mul(2.0f, lt));
    u = f32_add(u, 2.0f);
    return f32_div(f32_mul(t, u), f32_mul(f32_sub(lb, lc), f32_sub(lb, ld)));
  };
  return f32_sub(ind(rho_t), ind(rho[0]));
}

}  // namespace ferry::detail
