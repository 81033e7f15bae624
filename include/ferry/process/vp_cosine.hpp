#pragma once
// The cosine variance-preserving process (Nichol & Dhariwal 2021, "Improved DDPM", Eq. 17):
//
//   ᾱ(t) = f(t)/f(0),  f(t) = cos²(φ(t)),  φ(t) = (t + s)/(1 + s)·π/2,  s = 0.008
//   α = √ᾱ = cos φ / cos φ₀,   σ = √(1 − ᾱ)
//
// Written with k = π/(2(1+s)), φ₀ = s·k and c₀ = cos φ₀ so that both ends stay accurate:
//   α(t)  = sin((1 − t)·k) / c₀                         (exactly 0 at t = 1)
//   σ(t)² = sin((t + 2s)·k)·sin(t·k) / c₀²              (cos²φ₀ − cos²φ = sin(φ+φ₀)·sin(φ−φ₀); exactly 0 at t = 0)
//   λ(t)  = log sin((1 − t)k) − ½·log(sin((t + 2s)k)·sin(tk))
//   α' = −k·cos((1 − t)k)/c₀,   σ' = −α·α'/σ
//
// α(1) = 0 makes λ(1) = −∞, so the process is sampled on [t_min, t_max] = [1e-3, 0.9946] by default,
// the range DPM-Solver uses for this schedule (Lu et al. 2022, NoiseScheduleVP); the formulas hold on
// all of [0, 1].
#include <cmath>
#include <limits>
#include <numbers>

#include "ferry/core/error.hpp"

namespace ferry {

template <class T = double>
struct vp_cosine {
  using value_type = T;

  /// s = 0.008, t ∈ [1e-3, 0.9946].
  vp_cosine() = default;
  explicit vp_cosine(T s, T t_min = T(1e-3), T t_max = T(0.9946)) : s_(s), t_min_(t_min), t_max_(t_max) {
    if (!std::isfinite(s) || !(s >= 0))
      throw config_error(detail::cat("vp_cosine: s=", s, " must be finite and >= 0"));
    if (!(t_min > 0 && t_min < t_max && t_max < 1))
      throw config_error(detail::cat("vp_cosine: need 0 < t_min < t_max < 1, got t_min=", t_min, ", t_max=", t_max,
                                     " (alpha vanishes at t = 1, sigma at t = 0)"));
  }

  T s() const { return s_; }

  T alpha(T t) const { return std::sin((1 - t) * k()) / std::cos(s_ * k()); }
  T sigma(T t) const { return std::sqrt(std::sin((t + 2 * s_) * k()) * std::sin(t * k())) / std::cos(s_ * k()); }
  T d_alpha(T t) const { return -k() * std::cos((1 - t) * k()) / std::cos(s_ * k()); }
  T d_sigma(T t) const { return -alpha(t) * d_alpha(t) / sigma(t); }
  T lambda(T t) const {
    return std::log(std::sin((1 - t) * k())) - T(0.5) * std::log(std::sin((t + 2 * s_) * k()) * std::sin(t * k()));
  }
  /// Inverse of λ in closed form. From λ: α² = 1/(1 + e^{−2λ}), σ² = 1/(1 + e^{2λ}). With cos φ = c₀α
  /// and sin φ = S = √(s₀² + c₀²σ²) (s₀ = sin φ₀), the angle u = φ − φ₀ = t·k has
  ///   sin u = c₀σ² / (S + s₀α),   cos u = c₀²α + s₀S,
  /// both free of cancellation, so t = atan2(sin u, cos u)/k is accurate near 0 and near 1.
  T t_of_lambda(T l) const {
    if (l == std::numeric_limits<T>::infinity()) return 0;
    const T a2 = l >= 0 ? 1 / (1 + std::exp(-2 * l)) : std::exp(2 * l) / (1 + std::exp(2 * l));
    const T s2 = l >= 0 ? std::exp(-2 * l) / (1 + std::exp(-2 * l)) : 1 / (1 + std::exp(2 * l));
    const T a = std::sqrt(a2), c0 = std::cos(s_ * k()), s0 = std::sin(s_ * k());
    const T big_s = std::sqrt(s0 * s0 + c0 * c0 * s2);
    return std::atan2(c0 * s2 / (big_s + s0 * a), c0 * c0 * a + s0 * big_s) / k();
  }
  T t_min() const { return t_min_; }
  T t_max() const { return t_max_; }

 private:
  T k() const { return std::numbers::pi_v<T> / (2 * (1 + s_)); }

  T s_ = T(0.008), t_min_ = T(1e-3), t_max_ = T(0.9946);
};

}  // namespace ferry
