#pragma once
// The variance-preserving SDE with a linear β (Song et al. 2021, "Score-Based Generative Modeling
// through SDEs", Eq. 11 and App. B; the continuous limit of DDPM's linear β table):
//
//   β(t) = β_min + t·(β_max − β_min),     B(t) = ∫₀ᵗ β = β_min·t + ½·t²·(β_max − β_min)
//   α(t) = exp(−½·B(t)),                  σ(t) = √(1 − α²) = √(−expm1(−B))
//   λ(t) = log α − log σ = −½·B − ½·log(−expm1(−B))
//   α' = −½·β·α,                          σ' = ½·β·α²/σ
//
// Drift and diffusion of dx = −½β(t)·x dt + √β(t) dW follow from α, σ (ferry::drift/diffusion).
// t = 0 is data (σ = 0, λ = +∞); the process is sampled on [t_min, 1] with t_min = 1e-3 by default
// (Song et al.'s sampling eps for VP; k-diffusion get_sigmas_vp's eps_s), since λ(0) is infinite.
#include <cmath>
#include <limits>

#include "ferry/core/error.hpp"

namespace ferry {

template <class T = double>
struct vp_linear {
  using value_type = T;

  /// β_min = 0.1, β_max = 20, t_min = 1e-3 (Song et al. 2021).
  vp_linear() = default;
  vp_linear(T beta_min, T beta_max, T t_min = T(1e-3)) : beta_min_(beta_min), beta_max_(beta_max), t_min_(t_min) {
    if (!std::isfinite(beta_min) || !(beta_min >= 0))
      throw config_error(detail::cat("vp_linear: beta_min=", beta_min, " must be finite and >= 0"));
    if (!std::isfinite(beta_max) || !(beta_max >= beta_min) || !(beta_max > 0))
      throw config_error(detail::cat("vp_linear: beta_max=", beta_max, " must be finite, > 0 and >= beta_min=", beta_min));
    if (!(t_min > 0 && t_min < 1))
      throw config_error(detail::cat("vp_linear: t_min=", t_min, " must lie in (0, 1); t = 0 is the data itself"));
  }

  T beta_min() const { return beta_min_; }
  T beta_max() const { return beta_max_; }
  /// β(t) = β_min + t·(β_max − β_min).
  T beta(T t) const { return beta_min_ + t * (beta_max_ - beta_min_); }
  /// B(t) = ∫₀ᵗ β(s) ds, so α = exp(−B/2) and σ² = 1 − exp(−B).
  T integral_beta(T t) const { return t * (beta_min_ + T(0.5) * t * (beta_max_ - beta_min_)); }

  T alpha(T t) const { return std::exp(T(-0.5) * integral_beta(t)); }
  T sigma(T t) const { return std::sqrt(-std::expm1(-integral_beta(t))); }
  T d_alpha(T t) const { return T(-0.5) * beta(t) * alpha(t); }
  T d_sigma(T t) const {
    const T a = alpha(t);
    return T(0.5) * beta(t) * a * a / sigma(t);
  }
  T lambda(T t) const {
    const T b = integral_beta(t);
    return T(-0.5) * b - T(0.5) * log1mexp(b);
  }
  /// Inverse of λ: σ̃² = σ²/α² = e^B − 1 = e^{−2λ}, so B = log1p(e^{−2λ}), then the root t ≥ 0 of
  /// ½(β_max − β_min)t² + β_min·t − B = 0, written t = 2B / (β_min + √(β_min² + 2(β_max − β_min)B))
  /// to avoid cancellation.
  T t_of_lambda(T l) const {
    const T b = -2 * l > 0 ? -2 * l + std::log1p(std::exp(2 * l)) : std::log1p(std::exp(-2 * l));
    if (b == 0) return 0;
    if (std::isinf(b)) return std::numeric_limits<T>::infinity();
    const T d = beta_max_ - beta_min_;
    return 2 * b / (beta_min_ + std::sqrt(beta_min_ * beta_min_ + 2 * d * b));
  }
  T t_min() const { return t_min_; }
  T t_max() const { return 1; }

 private:
  // log(1 − e^{−b}) for b > 0, accurate for small and large b (Mächler 2012, "log1mexp").
  static T log1mexp(T b) { return b < T(0.6931471805599453) ? std::log(-std::expm1(-b)) : std::log1p(-std::exp(-b)); }

  T beta_min_ = T(0.1), beta_max_ = T(20), t_min_ = T(1e-3);
};

}  // namespace ferry
