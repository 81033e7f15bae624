#pragma once
// The one check of a stochastic sampler's noise scales (η, s_noise, s_churn): finite and ≥ 0.
#include <cmath>

#include "ferry/core/error.hpp"

namespace ferry::detail {

/// Throws config_error "<solver>: <name> = <v>; expected a finite value >= 0" unless 0 ≤ v < ∞.
template <class T>
void check_noise_scale(const char* solver, const char* name, T v) {
  if (!(v >= 0) || !std::isfinite(v)) throw config_error(cat(solver, ": ", name, " = ", v, "; expected a finite value >= 0"));
}

/// η and s_noise together, the pair most stochastic samplers take.
template <class T>
void check_eta_s_noise(const char* solver, T eta, T s_noise) {
  check_noise_scale(solver, "eta", eta);
  check_noise_scale(solver, "s_noise", s_noise);
}

}  // namespace ferry::detail
