#pragma once
// Noise schedules of discrete diffusion: α(t) is the probability that a token still holds its data
// value at time t (masked: not yet masked; uniform: not yet resampled), with α(0) = 1 (data) and
// α(1) = 0 or ε (noise). The forward rate is σ̄'(t) = −α'(t)/α(t), where α = exp(−σ̄) (SEDD's
// total noise σ̄, Lou et al. 2024, §3).
//
//   linear      α = 1 − t                               α' = −1             (MDLM, Sahoo et al. 2024; MD4, Shi et al. 2024)
//   cosine      α = cos(πt/2)                           α' = −(π/2)·sin(πt/2)   (MaskGIT, Chang et al. 2022)
//   loglinear   σ̄ = −log(1 − (1 − ε)t), α = 1 − (1−ε)t  α' = −(1 − ε)        (SEDD, ε = 1e−3)
//   geometric   σ̄ = σ_min·((σ_max/σ_min)^t − 1)         α = exp(−σ̄), α' = −α·σ̄'  (SEDD's geometric σ̄
//               shifted by σ_min so that α(0) = 1 exactly; σ̄' = σ_min·r^t·log r is SEDD's rate unchanged)
//
// t_of_alpha is the exact inverse, used by the first-hitting sampler to turn a drawn α into a time.
#include <cmath>
#include <numbers>
#include <string>
#include <string_view>

#include "ferry/core/error.hpp"

namespace ferry::discrete {

enum class schedule_kind { linear, cosine, loglinear, geometric };

inline schedule_kind parse_schedule_kind(std::string_view name) {
  if (name == "linear") return schedule_kind::linear;
  if (name == "cosine") return schedule_kind::cosine;
  if (name == "loglinear") return schedule_kind::loglinear;
  if (name == "geometric") return schedule_kind::geometric;
  throw config_error(detail::cat("schedule \"", ferry::detail::escape(name), "\" is unknown",
                                 ferry::detail::did_you_mean(name, {"linear", "cosine", "loglinear", "geometric"}),
                                 "; expected linear, cosine, loglinear or geometric"));
}

/// α(t) on t ∈ [0, 1] with its derivative and inverse.
struct alpha_schedule {
  schedule_kind kind = schedule_kind::linear;
  double eps = 1e-3;                        ///< loglinear: α(1) = ε
  double sigma_min = 1e-4, sigma_max = 20;  ///< geometric: SEDD's defaults

  alpha_schedule() = default;
  explicit alpha_schedule(schedule_kind k, double eps_ = 1e-3, double sigma_min_ = 1e-4, double sigma_max_ = 20)
      : kind(k), eps(eps_), sigma_min(sigma_min_), sigma_max(sigma_max_) {
    if (!(eps >= 0 && eps < 1)) throw config_error(detail::cat("alpha_schedule: eps = ", eps, "; expected 0 <= eps < 1"));
    if (!(sigma_min > 0 && sigma_max > sigma_min && std::isfinite(sigma_max)))
      throw config_error(detail::cat("alpha_schedule: sigma_min = ", sigma_min, ", sigma_max = ", sigma_max,
                                     "; expected 0 < sigma_min < sigma_max, finite"));
  }

  double alpha(double t) const {
    switch (kind) {
      case schedule_kind::linear: return 1 - t;
      case schedule_kind::cosine: return t >= 1 ? 0.0 : std::cos(std::numbers::pi / 2 * t);
      case schedule_kind::loglinear: return 1 - (1 - eps) * t;
      case schedule_kind::geometric: return std::exp(-sigma_bar(t));
    }
    return 0;
  }

  double d_alpha(double t) const {
    switch (kind) {
      case schedule_kind::linear: return -1;
      case schedule_kind::cosine: return -std::numbers::pi / 2 * std::sin(std::numbers::pi / 2 * t);
      case schedule_kind::loglinear: return -(1 - eps);
      case schedule_kind::geometric: {
        const double r = std::log(sigma_max / sigma_min);
        return -alpha(t) * sigma_min * std::exp(r * t) * r;
      }
    }
    return 0;
  }

  /// The t with α(t) = a, for a in [α(1), 1].
  double t_of_alpha(double a) const {
    switch (kind) {
      case schedule_kind::linear: return 1 - a;
      case schedule_kind::cosine: return 2 / std::numbers::pi * std::acos(a);
      case schedule_kind::loglinear: return (1 - a) / (1 - eps);
      case schedule_kind::geometric: return std::log1p(-std::log(a) / sigma_min) / std::log(sigma_max / sigma_min);
    }
    return 0;
  }

 private:
  double sigma_bar(double t) const { return sigma_min * std::expm1(std::log(sigma_max / sigma_min) * t); }
};

}  // namespace ferry::discrete
