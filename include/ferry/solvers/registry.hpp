#pragma once
// Solvers by name, for programs that choose them at run time (the CLI, config files):
// with_solver(settings, f) builds the named policy and calls f(solver) with it.
//
//   euler heun midpoint rk4 dopri5     explicit Runge–Kutta on the PF-ODE (time: native | sigma | lambda)
//   ddim dpmpp-1 dpmpp-2m dpmpp-3m     exponential integrators in λ (DPM-Solver++ in data prediction)
//   dpmpp-2s unipc deis lms            single-step, predictor–corrector and linear multistep
//   ddpm euler-ancestral               ancestral samplers (sde/ancestral.hpp); ddim with eta > 0 is one too
//   lcm tcd                            multistep consistency sampling (sde/consistency.hpp)
//   euler, heun with s_churn > 0       Karras et al.'s churn around the ODE step (sde/edm_churn.hpp)
//   euler-maruyama pc-langevin flow-sde  the reverse-time SDE family (sde/euler_maruyama.hpp)
//   dpmpp-sde dpmpp-2m-sde dpmpp-3m-sde dpmpp-2s-ancestral   DPM-Solver on the reverse SDE (eta, s_noise, solver_type)
//
// Multistep solvers default to k-diffusion's conventions (no lower-order rule except the step to
// σ = 0); `diffusers_rules` switches to diffusers' lower_order_final behaviour.
#include <array>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/core/error.hpp"
#include "ferry/solvers/ode/ddim.hpp"
#include "ferry/solvers/ode/deis.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/solvers/ode/dpmpp_2s.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/solvers/ode/euler.hpp"
#include "ferry/solvers/ode/heun.hpp"
#include "ferry/solvers/ode/lms.hpp"
#include "ferry/solvers/ode/midpoint.hpp"
#include "ferry/solvers/ode/rk4.hpp"
#include "ferry/solvers/ode/unipc.hpp"
#include "ferry/solvers/sde/consistency.hpp"
#include "ferry/solvers/sde/ddim_eta.hpp"
#include "ferry/solvers/sde/ddpm.hpp"
#include "ferry/solvers/sde/edm_churn.hpp"
#include "ferry/solvers/sde/euler_ancestral.hpp"
#include "ferry/solvers/sde/euler_maruyama.hpp"
#include "ferry/solvers/sde/flow_sde.hpp"
#include "ferry/solvers/sde/pc_langevin.hpp"
#include "ferry/solvers/sde/dpmpp_2s_ancestral.hpp"
#include "ferry/solvers/sde/dpmpp_multistep_sde.hpp"
#include "ferry/solvers/sde/dpmpp_sde.hpp"

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

/// Calls f(Solver<order, T> with options opt) for an order chosen at run time (1 to 3): the
/// one dispatch of the multistep families, for the registry and for diffusers' solver_order.
template <template <int, class> class Solver, class T = double, class Options, class F>
decltype(auto) with_order(int order, const Options& opt, F&& f) {
  auto make = [&opt]<int O>() {
    Solver<O, T> solver;
    solver.opt = opt;
    return solver;
  };
  switch (order) {
    case 1: return f(make.template operator()<1>());
    case 2: return f(make.template operator()<2>());
    case 3: return f(make.template operator()<3>());
  }
  throw config_error(detail::cat("solver order ", order, " is not available; expected 1, 2 or 3"));
}

/// Calls f(solver) with the policy named in s, in scalar type T (double by default; float too).
template <class T = double, class F>
decltype(auto) with_solver(const solver_settings& s, F&& f) {
  const std::string_view n = s.name;
  const churn_options churn{.s_churn = s.s_churn, .s_tmin = s.s_tmin, .s_tmax = s.s_tmax, .s_noise = s.s_noise};
  if (n == "euler" && s.s_churn > 0) return f(edm_churn<euler<T>, T>(euler<T>({.time = s.time}), churn));
  if (n == "heun" && s.s_churn > 0) return f(edm_churn<heun<T>, T>(heun<T>({.time = s.time}), churn));
  if (n == "euler") return f(euler<T>({.time = s.time}));
  if (n == "heun") return f(heun<T>({.time = s.time}));
  if (n == "midpoint") return f(midpoint<T>({.time = s.time}));
  if (n == "rk4") return f(rk4<T>({.time = s.time}));
  if (n == "dopri5") return f(dopri5<T>({.rtol = T(s.rtol), .atol = T(s.atol), .time = s.time}));
  if (n == "ddim" && s.eta.value_or(0) > 0) return f(ddim_eta<T>(*s.eta));
  if (n == "ddim") return f(ddim<T>{});
  if (n == "ddpm") return f(ddpm<T>());
  if (n == "euler-ancestral") return f(euler_ancestral<T>(s.eta.value_or(1), s.s_noise));
  if (n == "lcm") return f(lcm<T>());
  if (n == "tcd") return f(tcd<T>(s.eta.value_or(0.3)));
  if (n == "euler-maruyama") return f(euler_maruyama<T>({.eta = T(s.eta.value_or(1))}));
  if (n == "flow-sde") return f(flow_sde<T>(s.eta.value_or(1)));
  if (n == "pc-langevin")
    return f(pc_langevin<T>({.snr = T(s.snr), .langevin_steps = s.langevin_steps, .eta = T(s.eta.value_or(1))}));
  if (n == "dpmpp-1" || n == "dpmpp-2m" || n == "dpmpp-3m") {
    dpmpp_multistep_options o = n == "dpmpp-3m" ? dpmpp_multistep_options::k_diffusion_3m()
                                                : dpmpp_multistep_options::k_diffusion_2m();
    if (s.diffusers_rules) o = dpmpp_multistep_options{};
    o.taylor_d2 = s.taylor_3m;
    return with_order<dpmpp_multistep, T>(n == "dpmpp-1" ? 1 : n == "dpmpp-2m" ? 2 : 3, o, f);
  }
  if (n == "dpmpp-2s") return f(dpmpp_2s<T>{});
  if (n == "dpmpp-2m-sde" || n == "dpmpp-3m-sde") {
    dpmpp_sde_multistep_options o = n == "dpmpp-3m-sde" ? dpmpp_sde_multistep_options::k_diffusion_3m()
                                                        : dpmpp_sde_multistep_options::k_diffusion_2m(parse_dpm_solver_type(s.solver_type));
    o.lower_order_final = s.diffusers_rules;
    o.eta = s.eta.value_or(1);
    o.s_noise = s.s_noise;
    return with_order<dpmpp_multistep_sde, T>(n == "dpmpp-2m-sde" ? 2 : 3, o, f);
  }
  if (n == "dpmpp-2s-ancestral") return f(dpmpp_2s_ancestral<T>({.eta = s.eta.value_or(1), .s_noise = s.s_noise}));
  if (n == "dpmpp-sde") return f(dpmpp_sde<T>({.eta = s.eta.value_or(1), .s_noise = s.s_noise}));
  if (n == "unipc") {
    unipc_options o;
    o.lower_order_final = s.diffusers_rules;
    return with_order<unipc, T>(detail::order_or(s, 2, 3), o, f);
  }
  if (n == "deis") {
    deis_options o;
    o.lower_order_final = s.diffusers_rules;
    return with_order<deis, T>(detail::order_or(s, 2, 3), o, f);
  }
  if (n == "lms") {
    switch (detail::order_or(s, 4, 4)) {
      case 1: return f(lms<1, T>{});
      case 2: return f(lms<2, T>{});
      case 3: return f(lms<3, T>{});
      default: return f(lms<4, T>{});
    }
  }
  std::string names;
  for (auto v : solver_names) names += (names.empty() ? "" : ", ") + std::string(v);
  throw config_error(detail::cat("solver \"", detail::escape(n), "\" is unknown", detail::did_you_mean(n, solver_names),
                                 "; expected one of ", names));
}

}  // namespace ferry
