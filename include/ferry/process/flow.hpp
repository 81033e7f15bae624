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
//
// A flow model trained on N discrete timesteps has a σ table, as ComfyUI's ModelSamplingDiscreteFlow
// keeps it: σ_k = σ((k + 1)/N) for k = 0 … N−1 (flow::discrete(shift, N), t_min = 1/N). ComfyUI's
// schedulers that index a table (grid/comfy.hpp) need it; the continuous flow has none.
#include <cmath>
#include <cstddef>

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

  /// The flow of a model trained on N timesteps: the σ table σ((k + 1)/N), sampled down to t_min = 1/N.
  static flow discrete(T shift, std::size_t num_train_timesteps) {
    if (num_train_timesteps < 2)
      throw config_error(detail::cat("flow: num_train_timesteps=", num_train_timesteps, " must be at least 2"));
    flow f(shift, T(1) / T(num_train_timesteps));
    f.num_train_timesteps_ = num_train_timesteps;
    return f;
  }

  T shift() const { return shift_; }
  /// N of the σ table, 0 for the continuous flow (no table).
  std::size_t num_train_timesteps() const { return num_train_timesteps_; }
  /// The table's entry k: σ((k + 1)/N), from σ(t_min) up to 1 (N = num_train_timesteps() > 0).
  T table_sigma(std::size_t k) const { return sigma(T(k + 1) / T(num_train_timesteps_)); }

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
  std::size_t num_train_timesteps_ = 0;
};

}  // namespace ferry
