#pragma once
// Solvers by name, for programs that choose them at run time (the CLI, config files, the demo):
// with_solver(settings, f) builds the named policy and calls f(solver) with it, and run_solver runs
// it on a runtime_problem (runtime/problem.hpp) through the policy's one instantiation per scalar
// type (runtime/policies.hpp).
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
#include "ferry/runtime/policies.hpp"
#include "ferry/runtime/solver_settings.hpp"
#include "ferry/solvers/sde/ddim_eta.hpp"
#include "ferry/solvers/sde/ddpm.hpp"
#include "ferry/solvers/sde/euler_ancestral.hpp"
#include "ferry/solvers/sde/flow_sde.hpp"

namespace ferry {

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

namespace ferry {

/// Runs the solver named in s on the problem (ferry::sample, or ferry::invert on an inversion
/// schedule) through its one instantiation per scalar type.
template <class T>
sample_stats run_solver(const solver_settings& s, runtime_problem<T>& problem, const schedule<T>& sched, batch_view<T> x,
                        observer_ref<T> observer = {}, const sample_options& options = {}) {
  return with_solver<T>(s, [&](auto solver) { return run_policy(solver, problem, sched, x, observer, options); });
}

/// Whether the solver named in s draws noise (a stochastic policy).
template <class T = double>
bool solver_is_stochastic(const solver_settings& s) {
  return with_solver<T>(s, [](auto solver) { return detail::is_stochastic<decltype(solver)>; });
}

}  // namespace ferry
