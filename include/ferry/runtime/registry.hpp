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
//   dpm-2 kdpm2 heunpp2 dpm-fast dpm-adaptive gradient-estimation dpm-2-ancestral kdpm2-ancestral
//   seeds-2 seeds-3 er-sde ipndm ipndm-v deis res-multistep res-multistep-ancestral sa-solver
//   sa-solver-pece uni-pc uni-pc-bh2 lcm   ComfyUI's samplers under its names (its KSampler defaults)
//   pndm dpm-singlestep                 diffusers' PNDMScheduler and DPMSolverSinglestepScheduler on any grid
//
// Multistep solvers default to k-diffusion's conventions (no lower-order rule except the step to
// σ = 0); `diffusers_rules` switches to diffusers' lower_order_final behaviour. ComfyUI's samplers
// take its CONST view on a flow by the levels they step (solvers/detail/comfy_view.hpp), so they run
// as ComfyUI's on a flow behind the run-time boundary too; those that call ComfyUI's
// offset_first_sigma_for_snr are wrapped in offset_first_sigma (a no-op off a flow).
#include <array>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
  // Karras et al.'s churn around a deterministic step (k-diffusion's s_churn keyword) where it is set.
  auto churned = [&](auto solver) {
    using S = decltype(solver);
    return s.s_churn > 0 ? f(edm_churn<S, T>(std::move(solver), churn)) : f(std::move(solver));
  };
  // ComfyUI's offset_first_sigma_for_snr for the samplers that call it (a no-op off a flow).
  auto offset = [&](auto solver) { return f(with_first_sigma_offset(std::move(solver))); };
  const T eta = T(s.eta.value_or(1)), s_noise = T(s.s_noise);
  // ODE: explicit Runge–Kutta (native, σ or λ time), exponential integrators, multistep.
  if (n == "euler") return churned(euler<T>({.time = s.time}));
  if (n == "heun") return churned(heun<T>({.time = s.time}));
  if (n == "midpoint") return f(midpoint<T>({.time = s.time}));
  if (n == "rk4") return f(rk4<T>({.time = s.time}));
  if (n == "dopri5") return f(dopri5<T>({.rtol = T(s.rtol.value_or(1e-5)), .atol = T(s.atol.value_or(1e-5)), .time = s.time}));
  if (n == "ddim" && s.eta.value_or(0) > 0) return f(ddim_eta<T>(*s.eta));
  if (n == "ddim") return f(ddim<T>{});
  if (n == "dpmpp-1" || n == "dpmpp-2m" || n == "dpmpp-3m") {
    dpmpp_multistep_options o = n == "dpmpp-3m" ? dpmpp_multistep_options::k_diffusion_3m()
                                                : dpmpp_multistep_options::k_diffusion_2m();
    if (s.diffusers_rules) o = dpmpp_multistep_options{};
    o.taylor_d2 = s.taylor_3m;
    return with_order<dpmpp_multistep, T>(n == "dpmpp-1" ? 1 : n == "dpmpp-2m" ? 2 : 3, o, f);
  }
  if (n == "dpmpp-2s") return f(dpmpp_2s<T>{});
  if (n == "unipc") {
    unipc_options o;
    o.lower_order_final = s.diffusers_rules;
    return with_order<unipc, T>(detail::order_or(s, 2, 3), o, f);
  }
  if (n == "deis" && s.deis_mode == "logrho") {  // ρAB-DEIS (diffusers' DEISMultistepScheduler)
    deis_options o;
    o.lower_order_final = s.diffusers_rules;
    return with_order<deis, T>(detail::max_order_or(s, 2, 3), o, f);
  }
  if (n == "deis") {  // ComfyUI's deis: tAB-DEIS with its quadrature, max_order 3
    if (s.deis_mode != "tab")
      throw config_error(detail::cat("deis: deis_mode \"", detail::escape(s.deis_mode), "\" is unknown",
                                     detail::did_you_mean(s.deis_mode, {"tab", "logrho"}), "; expected tab or logrho"));
    const deis_options o{.lower_order_final = false, .coefficients = nullptr, .mode = deis_mode::tab, .tab_points = 10000, .flow_view = true};
    const int order = detail::max_order_or(s, 3, 4);
    if (order == 4) return f(deis<4, T>(o));
    return with_order<deis, T>(order, o, f);
  }
  // ComfyUI's iPNDM (Adams–Bashforth in σ), iPNDM-v and UniPC; diffusers' PNDM and single-step DPM-Solver.
  if (n == "ipndm" || n == "ipndm-v")
    return f(ipndm<T>({.max_order = detail::max_order_or(s, 4, 4), .steps = n == "ipndm" ? ipndm_steps::uniform : ipndm_steps::variable,
                       .denoise_final = true, .flow_view = true}));
  if (n == "uni-pc" || n == "uni-pc-bh2") return f(comfy_unipc<T>(n == "uni-pc" ? unipc_bh::bh1 : unipc_bh::bh2));
  if (n == "pndm") return f(pndm<T>({.skip_prk_steps = s.skip_prk_steps}));
  if (n == "dpm-singlestep") {
    const std::string_view a = s.algorithm_type;
    if (a != "dpmsolver++" && a != "dpmsolver" && a != "sde-dpmsolver++")
      throw config_error(detail::cat("dpm-singlestep: algorithm_type \"", detail::escape(a), "\" is unknown",
                                     detail::did_you_mean(a, {"dpmsolver++", "dpmsolver", "sde-dpmsolver++"}),
                                     "; expected dpmsolver++, dpmsolver or sde-dpmsolver++"));
    const bool sde = a == "sde-dpmsolver++";
    return f(dpm_singlestep<T>({.solver_order = detail::order_or(s, 2, 3),
                                .algorithm_type = a == "dpmsolver" ? dpm_algorithm::dpmsolver : dpm_algorithm::dpmsolver_pp,
                                .solver_type = parse_dpm_solver_type(s.solver_type.value_or("midpoint")), .sde = sde,
                                .lower_order_final = true, .diffusers_d2 = true}));
  }
  if (n == "res-multistep" || n == "res-multistep-ancestral")
    return f(res_multistep<T>({.eta = s.eta.value_or(n == "res-multistep" ? 0 : 1), .s_noise = s.s_noise, .flow_view = true}));
  if (n == "lms") {
    switch (detail::order_or(s, 4, 4)) {
      case 1: return f(lms<1, T>{});
      case 2: return f(lms<2, T>{});
      case 3: return f(lms<3, T>{});
      default: return f(lms<4, T>{});
    }
  }
  // ComfyUI's (k-diffusion's) single-step samplers; dpm-2 / kdpm2 take churn like euler and heun.
  if (n == "dpm-2" || n == "kdpm2") return churned(dpm_2<T>{});
  if (n == "heunpp2") return churned(heunpp2<T>{});
  if (n == "dpm-fast") return f(dpm_fast<T>({.nfe = s.nfe, .eta = T(s.eta.value_or(0)), .s_noise = s_noise}));
  if (n == "dpm-adaptive")
    return f(dpm_adaptive<T>({.order = detail::order_or(s, 3, 3), .rtol = T(s.rtol.value_or(0.05)), .atol = T(s.atol.value_or(0.0078)),
                              .h_init = T(s.h_init), .pcoeff = T(s.pcoeff), .icoeff = T(s.icoeff), .dcoeff = T(s.dcoeff),
                              .accept_safety = T(s.accept_safety), .eta = T(s.eta.value_or(0)), .s_noise = s_noise}));
  if (n == "gradient-estimation") return f(gradient_estimation<T>({.ge_gamma = T(s.ge_gamma)}));
  // Ancestral and SDE samplers.
  if (n == "ddpm") return f(ddpm<T>());
  if (n == "euler-ancestral") return f(euler_ancestral<T>(eta, s_noise));
  if (n == "lcm") return f(comfy_lcm<T>());  // ComfyUI's; diffusers' LCMScheduler is lcm<T>() through its config
  if (n == "tcd") return f(tcd<T>(T(s.eta.value_or(0.3))));
  if (n == "euler-maruyama") return f(euler_maruyama<T>({.eta = eta}));
  if (n == "flow-sde") return f(flow_sde<T>(eta));
  if (n == "pc-langevin")
    return f(pc_langevin<T>({.snr = T(s.snr), .langevin_steps = s.langevin_steps, .eta = eta,
                             .step = parse_langevin_step(s.langevin_step)}));
  if (n == "dpmpp-2m-sde" || n == "dpmpp-3m-sde") {
    dpmpp_sde_multistep_options o = n == "dpmpp-3m-sde"
                                        ? dpmpp_sde_multistep_options::k_diffusion_3m()
                                        : dpmpp_sde_multistep_options::k_diffusion_2m(parse_dpm_solver_type(s.solver_type.value_or("midpoint")));
    o.lower_order_final = s.diffusers_rules;
    o.eta = eta;
    o.s_noise = s_noise;
    if (n == "dpmpp-2m-sde") return offset(dpmpp_multistep_sde<2, T>(o));
    return offset(dpmpp_multistep_sde<3, T>(o));
  }
  if (n == "dpmpp-2s-ancestral") return f(dpmpp_2s_ancestral<T>({.eta = eta, .s_noise = s_noise}));
  if (n == "dpmpp-sde") return offset(dpmpp_sde<T>({.eta = eta, .s_noise = s_noise, .r = s.r.value_or(0.5)}));
  if (n == "dpm-2-ancestral" || n == "kdpm2-ancestral") return f(dpm_2_ancestral<T>(eta, s_noise));
  if (n == "seeds-2")
    return offset(seeds<2, T>({.eta = eta, .s_noise = s_noise, .r = T(s.r.value_or(0.5)),
                               .solver_type = parse_seeds_solver_type(s.solver_type.value_or("phi_1"))}));
  if (n == "seeds-3") return offset(seeds<3, T>({.eta = eta, .s_noise = s_noise, .r_1 = T(s.r_1), .r_2 = T(s.r_2)}));
  if (n == "er-sde") return offset(er_sde<T>({.s_noise = s_noise, .max_stage = s.max_stage}));
  if (n == "sa-solver" || n == "sa-solver-pece") {  // τ's interval: the settings' (comfy_sa_solver_interval for a process's own)
    const double unset = std::numeric_limits<double>::quiet_NaN();
    return offset(sa_solver<T>({.predictor_order = s.predictor_order, .corrector_order = s.corrector_order,
                                .use_pece = s.use_pece || n == "sa-solver-pece", .simple_order_2 = s.simple_order_2,
                                .eta = s.eta.value_or(1), .s_noise = s.s_noise,
                                .sde_start_sigma = s.sde_start_sigma.value_or(unset), .sde_end_sigma = s.sde_end_sigma.value_or(unset)}));
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

/// The σ list the solver named in s visits when a run gives it `sigmas`: ComfyUI's dpm_fast and
/// dpm_adaptive keep only its ends (and dpm_fast its length, settings.nfe = len − 1) and make their own
/// levels; every other solver visits the list itself (returned empty).
template <class T>
std::vector<T> own_sigmas(const solver_settings& s, std::span<const T> sigmas) {
  if (s.name == "dpm-fast") return comfy_dpm_fast_sigmas<T>(sigmas);
  if (s.name == "dpm-adaptive") return comfy_dpm_adaptive_sigmas<T>(sigmas);
  return {};
}

namespace detail {
/// Whether a policy draws noise with its options: a stochastic policy that can tell (draws_noise()), or its type.
template <class S>
bool draws_noise(const S& solver) {
  if constexpr (!is_stochastic<S>) return false;
  else if constexpr (requires { solver.draws_noise(); }) return solver.draws_noise();
  else return true;
}
}  // namespace detail

/// Whether the solver named in s draws noise with its settings (dpm-2 with eta 0 does not, for one).
template <class T = double>
bool solver_is_stochastic(const solver_settings& s) {
  return with_solver<T>(s, [](auto solver) { return detail::draws_noise(solver); });
}

}  // namespace ferry
