#pragma once
// Per-position reverse-time quantities of the two kernels, from π = p(x0^ℓ | x_t) (V entries).
//
// Concrete score (Lou et al. 2024, SEDD §3; Meng et al. 2022) of the uniform kernel: changing
// position ℓ from x to j changes only that factor of the forward law, so
//   s_j = p_t(x^{ℓ←j})/p_t(x) = Σ_v π_v·q_t(j|v)/q_t(x|v) = α_t·w_j + (1 − α_t)/V·Σ_v w_v,
//   w_v = π_v / q_t(x|v).
// For the masked kernel at a masked position, s_j = α_t/(1 − α_t)·π_j.
//
// Exact one-step reverse ("Tweedie τ-leaping", SEDD §4.2, Eq. 19; for the masked kernel it is
// MDLM's ancestral step): p(x_s = j | x_t) = Σ_v π_v·q(x_s = j | x_t, x0 = v) per position:
//   masked, from m:  stay m with (1 − α_s)/(1 − α_t), else j with (α_s − α_t)/(1 − α_t)·π_j
//   uniform:         p_j = q(x | j; α_t/α_s)·(α_s·w_j + (1 − α_s)/V·Σ_v w_v)
#include <cmath>
#include <cstddef>
#include <span>

namespace ferry::discrete {

/// Uniform kernel: out_j = s_j, the concrete score at a position holding x (α_t < 1).
inline void uniform_ratios(std::span<const double> pi, int x, double alpha_t, std::span<double> out) {
  const std::size_t n = pi.size();
  const double noise = (1 - alpha_t) / double(n);
  double w_sum = 0;
  for (std::size_t v = 0; v < n; ++v) w_sum += out[v] = pi[v] / (alpha_t * (int(v) == x) + noise);
  for (std::size_t v = 0; v < n; ++v) out[v] = alpha_t * out[v] + noise * w_sum;
}

/// Uniform kernel: out_j = p(x_s = j | x_t) at a position holding x, s < t; sums to 1 up to rounding.
inline void uniform_tweedie(std::span<const double> pi, int x, double alpha_t, double alpha_s, std::span<double> out) {
  const std::size_t n = pi.size();
  const double noise_t = (1 - alpha_t) / double(n), noise_s = (1 - alpha_s) / double(n);
  const double a = alpha_s > 0 ? alpha_t / alpha_s : 1.0, b = (1 - a) / double(n);  // q(x | j; α_{t|s}) = a[x = j] + b
  double w_sum = 0;
  for (std::size_t v = 0; v < n; ++v) w_sum += out[v] = pi[v] / (alpha_t * (int(v) == x) + noise_t);
  for (std::size_t j = 0; j < n; ++j) out[j] = (a * (int(j) == x) + b) * (alpha_s * out[j] + noise_s * w_sum);
}

/// How a leap of length τ turns a position's total jump rate Λ into its probability to move (τΛ = tau_rate).
enum class jump_rule {
  euler,       ///< min(1, τΛ): the first-order step, clipped (Campbell et al. 2022; SEDD's Euler)
  tau_leaping  ///< τΛ·e^{−τΛ}: Poisson clocks frozen over the leap; a position moves only when exactly one rings
};

/// P(move) in [0, 1] for τΛ ≥ 0 (τΛ = +∞ where a rate diverges, e.g. the uniform kernel at α = 0).
inline double move_probability(jump_rule rule, double tau_rate) {
  if (!(tau_rate > 0)) return 0;  // also NaN
  if (rule == jump_rule::euler) return tau_rate >= 1 ? 1.0 : tau_rate;
  return std::isinf(tau_rate) ? 0.0 : tau_rate * std::exp(-tau_rate);
}

}  // namespace ferry::discrete
