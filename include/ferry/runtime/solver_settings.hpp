#pragma once
// The settings of a solver chosen by name (runtime/registry.hpp builds the policy): the names, and
// every option a command line or a config can set, with k-diffusion's and diffusers' names. Light
// on purpose: a command that only parses options includes this, not the solvers.
#include <array>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/core/error.hpp"
#include "ferry/solvers/ode/ode_time.hpp"

namespace ferry {

/// Every name with_solver builds (runtime/registry.hpp), in the order the demo and the docs list them:
/// the deterministic samplers, then those that draw noise (with their default options).
inline constexpr std::array<std::string_view, 45> solver_names = {
    "euler", "heun", "midpoint", "rk4", "dopri5", "ddim", "dpmpp-1", "dpmpp-2m", "dpmpp-3m", "dpmpp-2s", "dpm-singlestep",
    "unipc", "uni-pc", "uni-pc-bh2", "deis", "lms", "ipndm", "ipndm-v", "pndm", "res-multistep",
    "dpm-2", "kdpm2", "heunpp2", "dpm-fast", "dpm-adaptive", "gradient-estimation",
    "ddpm", "euler-ancestral", "lcm", "tcd", "euler-maruyama", "pc-langevin", "flow-sde",
    "dpmpp-sde", "dpmpp-2m-sde", "dpmpp-3m-sde", "dpmpp-2s-ancestral", "dpm-2-ancestral", "kdpm2-ancestral", "seeds-2", "seeds-3",
    "er-sde", "res-multistep-ancestral", "sa-solver", "sa-solver-pece"};

/// The options of every solver by its peers' names (k-diffusion's and ComfyUI's keyword arguments,
/// diffusers' config keys). Unset optionals take each solver's own default.
struct solver_settings {
  std::string name = "euler";
  ode_time time = ode_time::native;  ///< Runge–Kutta family: the time variable
  std::optional<double> rtol{}, atol{};  ///< dopri5 (default 1e-5 each), dpm-adaptive (0.05, 0.0078)
  int order = 0;                     ///< unipc, deis logrho, dpm-singlestep (1–3, default 2), lms (1–4, default 4), dpm-adaptive (2–3, default 3); 0 = default
  bool diffusers_rules = false;      ///< lower_order_final as diffusers (multistep solvers)
  bool taylor_3m = false;            ///< dpmpp-3m with the third-order D2 weight (taylor_d2)
  std::size_t nfe = 0;               ///< dpm-fast: the model evaluations of the run (ComfyUI: its sigma list's length - 1)
  // Stochastic samplers (k-diffusion's keyword arguments, Karras et al. 2022 Alg. 2, Song et al. 2021):
  std::optional<double> eta{};       ///< noise scale; unset: 1 for ancestral/SDE samplers and sa-solver, 0 for ddim, dpm-fast, dpm-adaptive, res-multistep
  double s_noise = 1;                ///< extra scale of every injected normal
  double s_churn = 0, s_tmin = 0;    ///< churn (euler, heun, dpm-2, heunpp2): γ = min(S_churn/n, √2 − 1) on σ ∈ [S_tmin, S_tmax]
  double s_tmax = std::numeric_limits<double>::infinity();
  double snr = 0.16;                 ///< pc-langevin: the corrector's signal-to-noise ratio r
  int langevin_steps = 1;            ///< pc-langevin: corrector steps per predictor step
  std::string langevin_step = "expected";  ///< pc-langevin: expected | per-sample (the corrector's step size)
  std::optional<std::string> solver_type{};  ///< dpmpp-2m-sde/3m-sde, dpm-singlestep: midpoint | heun (midpoint); seeds-2: phi_1 | phi_2 (phi_1)
  std::optional<double> r{};         ///< seeds-2 (0.5), dpmpp-sde (0.5): the intermediate stage's share of the step
  double r_1 = 1.0 / 3, r_2 = 2.0 / 3;  ///< seeds-3's stages
  int max_stage = 3;                 ///< er-sde: 1, 2 or 3
  double ge_gamma = 2;               ///< gradient-estimation: γ
  double h_init = 0.05, pcoeff = 0, icoeff = 1, dcoeff = 0, accept_safety = 0.81;  ///< dpm-adaptive's PID step control
  // ComfyUI's multistep samplers (their keyword arguments) and diffusers' PNDM / single-step DPM-Solver:
  int max_order = 0;                 ///< ipndm, ipndm-v (1–4, default 4), deis (tab 1–4, default 3; logrho 1–3, default 2); 0 = default
  std::string deis_mode = "tab";     ///< deis: tab (ComfyUI's tAB-DEIS) | logrho (ρAB-DEIS, diffusers' DEISMultistepScheduler)
  int predictor_order = 3, corrector_order = 4;  ///< sa-solver, sa-solver-pece: 1 to 4
  bool use_pece = false;             ///< sa-solver: evaluate the corrected state again (sa-solver-pece sets it)
  bool simple_order_2 = false;       ///< sa-solver: the paper's App. D weights at order 2
  /// sa-solver: τ = eta on sde_end_sigma <= σ <= sde_start_sigma (ComfyUI's σ of the landing level). Unset: the
  /// process gives them (comfy_sa_solver_interval: percent_to_sigma(0.2), (0.8) on discrete-vp and flow).
  std::optional<double> sde_start_sigma{}, sde_end_sigma{};
  bool skip_prk_steps = false;       ///< pndm: PLMS from the first step (diffusers' skip_prk_steps)
  std::string algorithm_type = "dpmsolver++";  ///< dpm-singlestep: dpmsolver++ | dpmsolver | sde-dpmsolver++
};

namespace detail {
inline int order_or(const solver_settings& s, int fallback, int max) {
  const int o = s.order == 0 ? fallback : s.order;
  if (o < 1 || o > max)
    throw config_error(detail::cat("solver ", s.name, ": order ", s.order, " is not available; expected 1 to ", max));
  return o;
}
/// ComfyUI's max_order (ipndm, ipndm-v, deis), from 1 to max; deis also takes `order` for it (not both).
inline int max_order_or(const solver_settings& s, int fallback, int max) {
  if (s.max_order != 0 && s.order != 0 && s.max_order != s.order)
    throw config_error(detail::cat("solver ", s.name, ": max_order ", s.max_order, " and order ", s.order, " disagree; give one"));
  const int given = s.max_order != 0 ? s.max_order : s.order, o = given == 0 ? fallback : given;
  if (o < 1 || o > max)
    throw config_error(detail::cat("solver ", s.name, ": max_order ", given, " is not available; expected 1 to ", max));
  return o;
}
}  // namespace detail

}  // namespace ferry
