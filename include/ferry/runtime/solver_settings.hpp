#pragma once
// The settings of a solver chosen by name (runtime/registry.hpp builds the policy): the names, and
// every option a command line or a config can set, with k-diffusion's and diffusers' names. Light
// on purpose: a command that only parses options includes this, not the solvers.
#include <array>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/core/error.hpp"
#include "ferry/solvers/ode/ode_time.hpp"

namespace ferry {

inline constexpr std::array<std::string_view, 24> solver_names = {
    "euler", "heun", "midpoint", "rk4", "dopri5", "ddim", "dpmpp-1", "dpmpp-2m", "dpmpp-3m", "dpmpp-2s", "unipc", "deis", "lms",
    "ddpm", "euler-ancestral", "lcm", "tcd", "euler-maruyama", "pc-langevin", "flow-sde",
    "dpmpp-sde", "dpmpp-2m-sde", "dpmpp-3m-sde", "dpmpp-2s-ancestral"};

struct solver_settings {
  std::string name = "euler";
  ode_time time = ode_time::native;  ///< Runge–Kutta family: the time variable
  double rtol = 1e-5, atol = 1e-5;   ///< dopri5
  int order = 0;                     ///< unipc / deis (1–3, default 2), lms (1–4, default 4); 0 = default
  bool diffusers_rules = false;      ///< lower_order_final as diffusers (multistep solvers)
  bool taylor_3m = false;            ///< dpmpp-3m with the third-order D2 weight (taylor_d2)
  // Stochastic samplers (k-diffusion's keyword arguments, Karras et al. 2022 Alg. 2, Song et al. 2021):
  std::optional<double> eta{};       ///< noise scale; unset: 1 for ancestral/SDE samplers, 0 for ddim
  double s_noise = 1;                ///< extra scale of every injected normal
  double s_churn = 0, s_tmin = 0;    ///< churn (euler, heun): γ = min(S_churn/n, √2 − 1) on σ ∈ [S_tmin, S_tmax]
  double s_tmax = std::numeric_limits<double>::infinity();
  double snr = 0.16;                 ///< pc-langevin: the corrector's signal-to-noise ratio r
  int langevin_steps = 1;            ///< pc-langevin: corrector steps per predictor step
  std::string solver_type = "midpoint";  ///< dpmpp-2m-sde/3m-sde: midpoint | heun
};

namespace detail {
inline int order_or(const solver_settings& s, int fallback, int max) {
  const int o = s.order == 0 ? fallback : s.order;
  if (o < 1 || o > max)
    throw config_error(detail::cat("solver ", s.name, ": order ", s.order, " is not available; expected 1 to ", max));
  return o;
}
}  // namespace detail

}  // namespace ferry
