#pragma once
// The variance-exploding SDE (Song et al. 2021, "Score-Based Generative Modeling through SDEs",
// Eq. 9 and App. C; the continuous limit of NCSN):
//
//   σ(t) = σ_min·(σ_max/σ_min)^t = exp(log σ_min + t·L),   L = log σ_max − log σ_min
//   α = 1,   σ' = σ·L,   λ = −log σ = −log σ_min − t·L,   t(λ) = (−λ − log σ_min)/L
//
// dx = √(dσ²/dt) dW: no drift, g² = 2σσ' = 2σ²L. σ(0) = σ_min > 0, so λ is finite on all of
// [t_min, t_max] = [0, 1]; the data level (σ = 0) lies outside the process and a grid with
// final_zero places it at t = 0 as well.
#include <cmath>

#include "ferry/core/error.hpp"

namespace ferry {

template <class T = double>
struct ve {
  using value_type = T;

  /// σ_min = 0.01, σ_max = 50 (Song et al. 2021, CIFAR-10).
  ve() = default;
  ve(T sigma_min, T sigma_max) : sigma_min_(sigma_min), sigma_max_(sigma_max) {
    if (!(sigma_min > 0) || !(sigma_max > sigma_min) || !std::isfinite(sigma_max))
      throw config_error(detail::cat("ve: need 0 < sigma_min < sigma_max < inf, got sigma_min=", sigma_min,
                                     ", sigma_max=", sigma_max));
  }

  T sigma_min() const { return sigma_min_; }
  T sigma_max() const { return sigma_max_; }

  T alpha(T) const { return 1; }
  T sigma(T t) const { return std::exp(std::log(sigma_min_) + t * log_ratio()); }
  T d_alpha(T) const { return 0; }
  T d_sigma(T t) const { return sigma(t) * log_ratio(); }
  T lambda(T t) const { return -std::log(sigma_min_) - t * log_ratio(); }
  T t_of_lambda(T l) const { return (-l - std::log(sigma_min_)) / log_ratio(); }
  T t_min() const { return 0; }
  T t_max() const { return 1; }

 private:
  T log_ratio() const { return std::log(sigma_max_) - std::log(sigma_min_); }

  T sigma_min_ = T(0.01), sigma_max_ = T(50);
};

}  // namespace ferry
