#pragma once
// Integrals of Lagrange basis polynomials: the coefficients of linear multistep methods.
//
//   ℓ_j(τ) = Π_{k≠j} (τ − τ_k)/(τ_j − τ_k)        (the basis through nodes τ_0 … τ_{n−1})
//
// LMS (k-diffusion linear_multistep_coeff, diffusers LMSDiscreteScheduler) needs ∫_a^b ℓ_j(τ) dτ;
// the peers call scipy's quad, which is exact for polynomials, so we integrate exactly too:
// Gauss–Legendre with 4 nodes is exact up to degree 7.
// DEIS (Zhang & Chen 2023, Eq. 15 with ρ-Lagrange in log ρ) needs ∫ ℓ_j(log ρ) dρ; with v = log ρ
// this is ∫ ℓ_j(v)·e^v dv, whose antiderivative is e^v·(ℓ_j − ℓ_j' + ℓ_j'' − …); SA-Solver (Xue et al.
// 2023, Eq. 15, 18) needs the same integral with v = (1 + τ²)(λ − λ'). iPNDM and PNDM use
// adams_bashforth_weights, ComfyUI's tAB-DEIS lagrange_basis.
// (diffusers writes those DEIS integrals as closed forms in float32: compat/diffusers_deis.hpp.)
#include <array>
#include <cmath>
#include <cstddef>

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

/// Adams–Bashforth weights of k equal steps, newest first: ∫_0^1 ℓ_j through the nodes 0, −1, …, −(k − 1)
/// ({1}; {3/2, −1/2}; {23/12, −16/12, 5/12}; {55/24, −59/24, 37/24, −9/24}).
template <class T, std::size_t N = 4>
std::array<T, N> adams_bashforth_weights(std::size_t k) {
  std::array<T, N> nodes{}, w{};
  for (std::size_t j = 0; j < k; ++j) nodes[j] = -T(j);
  for (std::size_t j = 0; j < k; ++j) w[j] = lagrange_integral(nodes, k, j, T(0), T(1));
  return w;
}

/// The monomial coefficients p[0..n) of ℓ_j through nodes[0..n): ℓ_j(v) = Σ_d p[d]·v^d.
template <class T, std::size_t N>
std::array<T, N> lagrange_monomials(const std::array<T, N>& nodes, std::size_t n, std::size_t j) {
  std::array<T, N> p{};
  p[0] = 1;
  std::size_t deg = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (k == j) continue;
    const T s = 1 / (nodes[j] - nodes[k]);
    for (std::size_t d = deg + 2; d-- > 0;)  // p ← p·(v − v_k)·s, degree deg + 1
      p[d] = ((d > 0 ? p[d - 1] : T(0)) - nodes[k] * p[d]) * s;
    ++deg;
  }
  return p;
}

/// ∫_0^{v1} ℓ_j(v)·e^v dv exactly, through nodes[0..n) (v1 = −∞ allowed: the integral to ρ = 0).
/// For |v1| < 1 in the scaled variable u = v/v1 (nodes v_k/v1, so the basis stays O(1) however close
/// the nodes are): v1·Σ_d P_d·∫_0^1 u^d·e^{v1·u} du with ∫_0^1 u^d e^{zu} du = Σ_m z^m/(m!(d + m + 1)).
/// Otherwise through the antiderivative e^v·(ℓ_j − ℓ_j' + ℓ_j'' − …), whose terms cancel only mildly there.
template <class T, std::size_t N>
T lagrange_exp_integral(const std::array<T, N>& nodes, std::size_t n, std::size_t j, T v1) {
  if (v1 == 0) return 0;
  const std::size_t deg = n - 1;
  if (std::abs(v1) < 1) {
    std::array<T, N> u{};
    for (std::size_t k = 0; k < n; ++k) u[k] = nodes[k] / v1;
    const std::array<T, N> p = lagrange_monomials(u, n, j);
    T sum = 0;
    for (std::size_t d = 0; d <= deg; ++d) {
      T e = 0, term = 1;  // term = z^m/m!
      for (int m = 0; m < 24; ++m, term *= v1 / T(m)) e += term / T(int(d) + m + 1);
      sum += p[d] * e;
    }
    return v1 * sum;
  }
  const std::array<T, N> p = lagrange_monomials(nodes, n, j);
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

}  // namespace ferry::detail
