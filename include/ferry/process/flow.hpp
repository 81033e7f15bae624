#pragma once
// The rectified-flow / flow-matching path (Lipman et al. 2023, "Flow Matching", the optimal-transport
// path with σ_min = 0; Liu et al. 2023, "Rectified Flow"): x_t = (1 − σ)·x0 + σ·ε, with the time
// shift of Stable Diffusion 3 (Esser et al. 2024, Eq. 23; diffusers FlowMatchEulerDiscreteScheduler):
//
//   σ(t) = s·t / (1 + (s − 1)·t),   α(t) = 1 − σ(t) = (1 − t) / (1 + (s − 1)·t)
//   σ' = s / (1 + (s − 1)·t)²,      α' = −σ'
//   λ(t) = log((1 − t)/(s·t)),      t(λ) = 1 / (1 + s·e^λ)
//
// s = 1 is the unshifted path σ = t; s > 1 spends more of [0, 1] at high noise. α is computed as
// (1 − t)/(1 + (s − 1)t), which equals 1 − σ but is exactly 0 at t = 1. t = 1 is pure noise
// (α = 0, λ = −∞) and is where flow samplers start; t = 0 is data, so sampling stops at t_min = 1e-3
// by default (diffusers' 1/num_train_timesteps) or steps to the data level with final_zero.
#include <cmath>

#include "ferry/core/error.hpp"

namespace ferry {

template <class T = double>
struct flow {
  using value_type = T;

  /// shift = 1, t ∈ [1e-3, 1].
  flow() = default;
  explicit flow(T shift, T t_min = T(1e-3)) : shift_(shift), t_min_(t_min) {
    if (!(shift > 0) || !std::isfinite(shift))
      throw config_error(detail::cat("flow: shift=", shift, " must be finite and > 0"));
    if (!(t_min > 0 && t_min < 1))
      throw config_error(detail::cat("flow: t_min=", t_min, " must lie in (0, 1); t = 0 is the data itself"));
  }

  T shift() const { return shift_; }

  T alpha(T t) const { return (1 - t) / den(t); }
  T sigma(T t) const { return shift_ * t / den(t); }
  T d_alpha(T t) const { return -d_sigma(t); }
  T d_sigma(T t) const { return shift_ / (den(t) * den(t)); }
  /// λ = log α − log σ = log(1 − t) − log(s·t): the shared denominator cancels.
  T lambda(T t) const { return std::log1p(-t) - std::log(shift_ * t); }
  T t_of_lambda(T l) const { return 1 / (1 + shift_ * std::exp(l)); }
  T t_min() const { return t_min_; }
  T t_max() const { return 1; }

 private:
  T den(T t) const { return 1 + (shift_ - 1) * t; }

  T shift_ = T(1), t_min_ = T(1e-3);
};

}  // namespace ferry
