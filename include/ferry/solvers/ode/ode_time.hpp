#pragma once
// The time variable the explicit Runge–Kutta solvers integrate the PF-ODE in (solvers/ode/explicit_rk.hpp).
#include <string_view>

#include "ferry/core/error.hpp"

namespace ferry {

/// The time variable an explicit ODE solver integrates in.
enum class ode_time {
  native,  ///< the process's time t (Song et al.'s PF-ODE)
  sigma,   ///< the EDM noise level σ̃ = σ/α on x̃ = x/α (k-diffusion, diffusers Euler/Heun)
  lambda,  ///< half log-SNR λ = −log σ̃ on x̃ = x/α
};

inline ode_time parse_ode_time(std::string_view s) {
  if (s == "native" || s == "t") return ode_time::native;
  if (s == "sigma" || s == "edm") return ode_time::sigma;
  if (s == "lambda" || s == "logsnr") return ode_time::lambda;
  throw config_error(detail::cat("ode time \"", detail::escape(s), "\" is unknown",
                                 detail::did_you_mean(s, {"native", "sigma", "lambda"}), "; expected native, sigma or lambda"));
}

}  // namespace ferry
