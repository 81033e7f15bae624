#pragma once
// Runs a diffusers scheduler configuration with ferry's solvers: the class and its keys pick the
// solver policy and options, the grid gives the schedule, and the sample is the one diffusers'
// `for t in timesteps: x = scheduler.step(model(x, t), t, x)` loop produces.
//
//   DDIMScheduler (η = 0)            → ddim, landing on prev_timestep = t − N/n (schedule landings)
//   DPMSolverMultistepScheduler      → dpmpp_multistep<solver_order> (dpmsolver++ | dpmsolver),
//                                      dpmpp_multistep_sde<solver_order> (sde-dpmsolver++)
//   UniPCMultistepScheduler          → unipc<solver_order>
//   DEISMultistepScheduler           → deis<solver_order>
//   EulerDiscreteScheduler           → euler in σ̃ (ode_time::sigma)
//   HeunDiscreteScheduler            → heun in σ̃
//   LMSDiscreteScheduler             → lms<4> (diffusers' step(order = 4))
//   FlowMatchEulerDiscreteScheduler  → euler in the flow time σ: x ← x + (σ_next − σ)·v
//   DDIMScheduler, step(eta > 0)     → ddim_eta (sde/ddim_eta.hpp)
//   DDPMScheduler                    → ddpm (variance_type fixed_small | fixed_large)
//   EulerAncestralDiscreteScheduler  → euler_ancestral in σ̃ (η = 1)
//   LCMScheduler                     → lcm (boundary condition c_skip, c_out of timestep·timestep_scaling)
//   TCDScheduler, step(eta = γ)      → tcd, landing its consistency step on floor((1 − γ)·t_prev)
//
// The state is kept in the model's own view x = α·x0 + σ·ε; diffusers' Euler/Heun/LMS keep
// x̃ = x/α, which only changes the initial scale (initial_scale) — both end at σ = 0 where α = 1.
// thresholding / clip_sample become pf_ode's data transform.
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/diffusers_deis.hpp"
#include "ferry/compat/diffusers_timesteps.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/models/thresholding.hpp"
#include "ferry/process/discrete_vp.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/runtime/registry.hpp"

namespace ferry::compat {

/// The schedule of a diffusers grid: the model's levels, and DDIM's landings where they differ
/// (run toward noise for an inverse scheduler's grid, `dir = direction::invert`).
inline schedule<double> to_schedule(const diffusers_grid& g, direction dir = direction::sample) {
  if (g.steps() == 0) throw config_error("diffusers grid: no steps");
  schedule<double> s;
  s.dir = dir;
  s.points = g.cur;
  s.points.push_back(g.next.back());
  for (std::size_t i = 0; i + 1 < g.steps(); ++i)
    if (g.next[i].alpha != g.cur[i + 1].alpha || g.next[i].sigma != g.cur[i + 1].sigma) {
      s.landings = g.next;
      break;
    }
  if (g.kind == scheduler_class::flow_euler)  // flow time t = σ: x = (1 − t)·x0 + t·ε, α' = −1, σ' = 1
    for (auto& l : s.points) l = level<double>::make(l.alpha, l.sigma, l.sigma, -1.0, 1.0);
  s.validate();
  return s;
}

/// Levels in scalar type T, converted from the double ones (a float32 run's grid).
template <class T>
std::vector<level<T>> levels_as(const std::vector<level<double>>& v) {
  std::vector<level<T>> out;
  out.reserve(v.size());
  for (const auto& l : v) out.push_back({T(l.t), T(l.alpha), T(l.sigma), T(l.lambda), T(l.d_alpha), T(l.d_sigma)});
  return out;
}

/// The schedule of a diffusers grid in the run's scalar type T.
template <class T>
schedule<T> schedule_as(const diffusers_grid& g) {
  schedule<double> s = to_schedule(g);
  if constexpr (std::is_same_v<T, double>) {
    return s;
  } else {
    return {levels_as<T>(s.points), levels_as<T>(s.landings)};
  }
}

/// x_start = initial_scale · z for unit noise z, in the model's view: diffusers multiplies z by
/// init_noise_sigma in its own state, which is x̃ = x/α for Euler, Heun and LMS.
inline double initial_scale(const diffusers_config& c, const diffusers_grid& g) {
  switch (c.kind) {
    case scheduler_class::euler:
    case scheduler_class::euler_ancestral:
    case scheduler_class::heun:
    case scheduler_class::lms: return g.init_noise_sigma * g.cur.front().alpha;
    default: return g.init_noise_sigma;
  }
}

/// diffusers' DPMSolverMultistep and UniPC convert the model's output with α_t, σ_t computed in float32
/// from their float32 σ̃ (the grid's levels for those classes), while the model itself answers for the
/// exact level of that σ̃. Where α is tiny this mismatch is amplified ~1/α times (x̂0 = (x − σ_t·ε̂)/α_t);
/// this adaptor reproduces it: the solver's level stays float32-rounded, the model sees the exact one.
template <class Model, class T = double>
struct exact_level_model {
  Model& inner;
  prediction predicts = inner.predicts;
  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) {
    // The float32 σ̃ is recovered exactly: σ_f/α_f = σ̃·(1 + δ) with |δ| ≤ 2⁻²⁴ rounds back to σ̃.
    const T sigma_edm = lv.sigma == 0 ? T(0) : T(static_cast<float>(lv.sigma / lv.alpha));
    inner(x, lv.sigma == 0 ? lv : vp_level_from_edm_sigma(sigma_edm, lv.t), out);
  }
};

/// Keyword arguments of a diffusers scheduler's step(): DDIM's eta (0 unless given) and TCD's eta
/// (the paper's γ).
struct step_kwargs {
  std::optional<double> eta{};
};

/// The run of a diffusers class, compiled once per scalar type: the model, the observer and the
/// noise arrive type-erased (one indirect call per batch evaluation and per step), the process and
/// the x̂0 transform are chosen from the config, and the policy is built from the class and its keys
/// and run through its one instantiation (runtime/policies.hpp). `noise` empty: no noise source
/// (a stochastic class is then refused). Explicitly instantiated in the runtime library.
template <class T>
sample_stats sample_erased(const diffusers_config& c, const diffusers_grid& g, model_ref<T> model, batch_view<T> x,
                           observer_ref<T> observer, std::optional<runtime_noise<T>> noise, const sample_options& options,
                           const step_kwargs& kwargs) {
  const schedule<T> s = schedule_as<T>(g);
  const bool flow_class = c.kind == scheduler_class::flow_euler;
  const any_process<T> process = flow_class ? any_process<T>(flow<T>()) : any_process<T>(discrete_vp<T>(diffusers_alphas_cumprod(config_betas(c))));
  any_transform<T> transform;
  if (c.thresholding && !flow_class && c.kind != scheduler_class::tcd)  // TCDScheduler.step ignores clip_sample and thresholding
    transform = dynamic_thresholding<T>(T(c.dynamic_thresholding_ratio), T(c.sample_max_value));
  else if (c.clip_sample && !flow_class && c.kind != scheduler_class::tcd)
    transform = clip_sample<T>(T(c.clip_sample_range));
  // DPM-Solver and UniPC convert the model's output at diffusers' float32 levels; the model answers
  // at the exact ones (exact_level_model).
  exact_level_model<model_ref<T>, T> exact{model};
  const bool float32_levels = c.kind == scheduler_class::dpm_multistep || c.kind == scheduler_class::unipc;
  model_ref<T> m = float32_levels ? model_ref<T>(exact) : model;
  runtime_problem<T> problem(process, m, std::move(transform), noise.value_or(runtime_noise<T>{}));
  auto run = [&](auto solver) { return run_policy(solver, problem, s, x, observer, options); };
  auto stochastic = [&](auto solver) {
    if (!noise)
      throw config_error(ferry::detail::cat("diffusers: ", class_name(c.kind), " draws noise at every step; give it a noise source (a seed or ",
                                            "injected step noise)"));
    return run(std::move(solver));
  };
  switch (c.kind) {
    case scheduler_class::flow_euler: return run(euler<T>{});
    case scheduler_class::ddim:
      if (kwargs.eta.value_or(0) > 0) return stochastic(ddim_eta<T>(T(*kwargs.eta)));
      return run(ddim<T>{});
    case scheduler_class::ddpm:
      return stochastic(ddpm<T>(c.variance_fixed_large ? ddpm_variance::fixed_large : ddpm_variance::fixed_small));
    case scheduler_class::euler_ancestral: return stochastic(euler_ancestral<T>());
    case scheduler_class::lcm: return stochastic(lcm<T>({.sigma_data = 0.5, .timestep_scaling = c.timestep_scaling}));
    case scheduler_class::tcd: {
      const double gamma = kwargs.eta.value_or(0.3);
      return stochastic(tcd<T>(T(gamma), levels_as<T>(compat::detail::tcd_s_levels(c, g, gamma))));
    }
    case scheduler_class::dpm_multistep: {
      if (c.algorithm_type == algorithm::sde_dpmsolver_pp) {  // SDE-DPM-Solver++: η = 1, diffusers' D2 weight
        dpmpp_sde_multistep_options o;
        o.solver_type = c.solver_type == solver_kind::heun ? dpm_solver_type::heun : dpm_solver_type::midpoint;
        o.lower_order_final = c.lower_order_final;
        o.euler_at_final = c.euler_at_final;
        o.diffusers_d2 = true;
        if (!noise) throw config_error("diffusers: algorithm_type \"sde-dpmsolver++\" is stochastic and needs a noise source");
        return with_order<dpmpp_multistep_sde, T>(c.solver_order, o, run);
      }
      dpmpp_multistep_options o;
      o.algorithm_type = c.algorithm_type == algorithm::dpmsolver ? dpm_algorithm::dpmsolver : dpm_algorithm::dpmsolver_pp;
      o.solver_type = c.solver_type == solver_kind::heun ? dpm_solver_type::heun : dpm_solver_type::midpoint;
      o.lower_order_final = c.lower_order_final;
      o.euler_at_final = c.euler_at_final;
      return with_order<dpmpp_multistep, T>(c.solver_order, o, run);
    }
    case scheduler_class::unipc: {
      unipc_options o;
      o.solver_type = c.solver_type == solver_kind::bh1 ? unipc_bh::bh1 : unipc_bh::bh2;
      o.predict_x0 = c.predict_x0;
      o.lower_order_final = c.lower_order_final;
      for (long long i : c.disable_corrector)
        if (i >= 0) o.disable_corrector.push_back(std::size_t(i));
      return with_order<unipc, T>(c.solver_order, o, run);
    }
    case scheduler_class::deis: {
      deis_options o;
      o.lower_order_final = c.lower_order_final;
      o.coefficients = diffusers_deis_coefficients;  // diffusers' float32 ind_fn cancels: up to ~3e-4 in samples otherwise
      return with_order<deis, T>(c.solver_order, o, run);
    }
    case scheduler_class::euler: return run(euler<T>({.time = ode_time::sigma}));
    case scheduler_class::heun: return run(heun<T>({.time = ode_time::sigma}));
    case scheduler_class::lms: return run(lms<4, T>{});
  }
  throw config_error(ferry::detail::cat("diffusers: ", class_name(c.kind), " has no sampler"));
}

// The instantiation the runtime library compiles once per type (cmake/ferry_runtime.cmake).
#define FERRY_COMPAT_SAMPLE_ERASED(T)                                                                                   \
  sample_stats sample_erased<T>(const diffusers_config&, const diffusers_grid&, model_ref<T>, batch_view<T>, observer_ref<T>, \
                                std::optional<runtime_noise<T>>, const sample_options&, const step_kwargs&)
#ifdef FERRY_RUNTIME_LIBRARY
extern template FERRY_COMPAT_SAMPLE_ERASED(double);
extern template FERRY_COMPAT_SAMPLE_ERASED(float);
#endif

namespace detail {
/// Any noise source as the run's runtime_noise, or none.
template <class T, class Noise>
std::optional<runtime_noise<T>> erase_noise(const Noise& n) {
  if constexpr (!Noise::active) return std::nullopt;
  else if constexpr (std::is_same_v<Noise, runtime_noise<T>>) return n;
  else if constexpr (std::is_same_v<Noise, keyed_noise>) return runtime_noise<T>{n, {}};
  else return runtime_noise<T>{{}, n};  // injected_noise<T>
}
}  // namespace detail

/// Samples x in place with the scheduler `c` over the grid `g`; x must hold initial_scale(c, g)·z.
/// The model answers in its declared prediction kind (set it to c.prediction_type for a model
/// trained with that configuration). Stochastic classes draw from `noise` (keyed_noise,
/// injected_noise or runtime_noise); `kwargs` are step()'s keyword arguments (DDIM's and TCD's eta).
/// The state's scalar type T (double or float) is the run's: grid levels, process, solver and transform.
template <class Model, class T, class Observer = no_observer, class Noise = no_noise>
sample_stats sample(const diffusers_config& c, const diffusers_grid& g, Model& model, batch_view<T> x,
                    Observer&& observer = {}, Noise noise = {}, sample_options options = {}, step_kwargs kwargs = {}) {
  return sample_erased<T>(c, g, model_ref<T>(model), x, observer_ref<T>(observer), detail::erase_noise<T>(noise), options, kwargs);
}

}  // namespace ferry::compat
