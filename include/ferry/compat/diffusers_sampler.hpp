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
//   FlowMatchEuler stochastic_sampling → multistep consistency, x ← (1 − σ_next)·x̂0 + σ_next·z
//   FlowMatchHeunDiscreteScheduler   → heun in the flow time σ (its last step one Euler step)
//   EDMEulerScheduler                → euler in the EDM σ (x = x0 + σ·ε), the model answering x̂0
//   EDMDPMSolverMultistepScheduler   → dpmpp_multistep / dpmpp_multistep_sde in the EDM σ
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
#include "ferry/simd/lincomb.hpp"
#include "ferry/process/discrete_vp.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/ddim.hpp"
#include "ferry/solvers/ode/deis.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/solvers/ode/euler.hpp"
#include "ferry/solvers/ode/heun.hpp"
#include "ferry/solvers/ode/lms.hpp"
#include "ferry/solvers/ode/unipc.hpp"
#include "ferry/solvers/registry.hpp"
#include "ferry/solvers/sde/consistency.hpp"
#include "ferry/solvers/sde/ddim_eta.hpp"
#include "ferry/solvers/sde/ddpm.hpp"
#include "ferry/solvers/sde/euler_ancestral.hpp"
#include "ferry/solvers/sde/dpmpp_multistep_sde.hpp"

namespace ferry::compat {

/// The schedule of a diffusers grid: the model's levels, and DDIM's landings where they differ
/// (run toward noise for an inverse scheduler's grid, `dir = direction::invert`).
inline schedule<double> to_schedule(const diffusers_grid& g, direction dir = direction::sample) {
  if (g.steps() == 0) throw config_error("diffusers grid: no steps");
  schedule<double> s;
  s.dir = dir;
  s.zero_length_end = true;  // final_sigmas_type "sigma_min" on a grid already at σ_min: diffusers' zero-length last step
  s.points = g.cur;
  s.points.push_back(g.next.back());
  for (std::size_t i = 0; i + 1 < g.steps(); ++i)
    if (g.next[i].alpha != g.cur[i + 1].alpha || g.next[i].sigma != g.cur[i + 1].sigma) {
      s.landings = g.next;
      break;
    }
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
    return {levels_as<T>(s.points), levels_as<T>(s.landings), s.dir, s.zero_length_end};
  }
}

/// x_start = initial_scale · z for unit noise z, in the model's view: diffusers multiplies z by
/// init_noise_sigma in its own state, which is x̃ = x/α for Euler, Heun and LMS.
inline double initial_scale(const diffusers_config& c, const diffusers_grid& g) {
  switch (c.kind) {
    case scheduler_class::euler:
    case scheduler_class::euler_ancestral:
    case scheduler_class::heun:
    case scheduler_class::lms:
    case scheduler_class::kdpm2:
    case scheduler_class::kdpm2_ancestral:
    case scheduler_class::dpm_sde: return g.init_noise_sigma * g.cur.front().alpha;
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
  bool vp = true;  ///< false: flow or EDM levels, which diffusers converts exactly (passed through)
  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) {
    if (!vp) return inner(x, lv, out);
    // The float32 σ̃ is recovered exactly: σ_f/α_f = σ̃·(1 + δ) with |δ| ≤ 2⁻²⁴ rounds back to σ̃.
    const T sigma_edm = lv.sigma == 0 ? T(0) : T(static_cast<float>(lv.sigma / lv.alpha));
    inner(x, lv.sigma == 0 ? lv : vp_level_from_edm_sigma(sigma_edm, lv.t), out);
  }
};

/// x_out = final_scale·x after the run: diffusers' Euler-type classes return their own x̃ = x/α, which
/// differs from the model's view when the grid ends above σ = 0 (final_sigmas_type "sigma_min").
inline double final_scale(const diffusers_config& c, const diffusers_grid& g) {
  switch (c.kind) {
    case scheduler_class::euler:
    case scheduler_class::euler_ancestral:
    case scheduler_class::heun:
    case scheduler_class::lms:
    case scheduler_class::kdpm2:
    case scheduler_class::kdpm2_ancestral:
    case scheduler_class::dpm_sde: return g.next.empty() ? 1.0 : 1 / g.next.back().alpha;
    default: return 1;
  }
}

/// Keyword arguments of a diffusers scheduler's step(): DDIM's eta (0 unless given) and TCD's eta
/// (the paper's γ).
struct step_kwargs {
  std::optional<double> eta{};
};

namespace detail {

/// What a run needs besides the solver and the problem's parts: the noise of stochastic classes,
/// the driver's options (threads, chunks) and diffusers' step() keyword arguments.
template <class Noise>
struct run_context {
  Noise noise;
  sample_options options;
  step_kwargs kwargs;
};

template <class Solver, class Process, class Model, class Transform, class T, class Observer, class Noise>
sample_stats run(Solver solver, const Process& process, Model& model, Transform transform, const schedule<T>& s,
                 batch_view<T> x, Observer& observer, const run_context<Noise>& ctx) {
  pf_ode<Process, Model, Transform, Noise> problem(process, model, std::move(transform), ctx.noise);
  return ferry::sample(problem, s, solver, x, observer, ctx.options);
}

/// A stochastic class: it needs a noise source (keyed_noise, injected_noise or runtime_noise).
template <class Solver, class Process, class Model, class Transform, class T, class Observer, class Noise>
sample_stats run_stochastic(Solver solver, const diffusers_config& c, const Process& process, Model& model, Transform transform,
                            const schedule<T>& s, batch_view<T> x, Observer& observer, const run_context<Noise>& ctx) {
  if constexpr (Noise::active) {
    return run(std::move(solver), process, model, std::move(transform), s, x, observer, ctx);
  } else {
    throw config_error(ferry::detail::cat("diffusers: ", class_name(c.kind), " draws noise at every step; give it a noise source (a seed or ",
                                          "injected step noise)"));
  }
}

template <template <int, class> class Solver, class T, class Options, class... Args>
sample_stats run_order(int order, const Options& opt, Args&&... args) {  // args: run()'s after the solver
  return with_order<Solver, T>(order, opt, [&](auto solver) { return run(std::move(solver), args...); });
}

/// FlowMatchEuler's stochastic_sampling as a consistency map: denoise to x̂0 (c_skip = 0, c_out = 1, the
/// data level), then the forward process to the next level: x ← (1 − σ_next)·x̂0 + σ_next·z.
struct flow_renoise {
  template <class Problem, class T>
  consistency_map<T> operator()(Problem&, const step_span<T>&) const {
    return {T(0), T(1), level<T>::make(T(1), T(0), T(0))};
  }
};

template <class Process, class Model, class Transform, class T, class Observer, class Noise>
sample_stats run_class(const diffusers_config& c, const diffusers_grid& g, const Process& process, Model& user_model, Transform transform,
                       const schedule<T>& s, batch_view<T> x, Observer& obs, const run_context<Noise>& ctx) {
  exact_level_model<Model, T> model{user_model, user_model.predicts, g.space == grid_space::vp};  // DPM and UniPC levels are float32-rounded (see above)
  switch (c.kind) {
    case scheduler_class::ddim:
      if (ctx.kwargs.eta.value_or(0) > 0) return run_stochastic(ddim_eta<T>(T(*ctx.kwargs.eta)), c, process, user_model, std::move(transform), s, x, obs, ctx);
      return run(ddim<T>{}, process, user_model, std::move(transform), s, x, obs, ctx);
    case scheduler_class::ddpm:
      return run_stochastic(ddpm<T>(c.variance_fixed_large ? ddpm_variance::fixed_large : ddpm_variance::fixed_small), c, process,
                            user_model, std::move(transform), s, x, obs, ctx);
    case scheduler_class::euler_ancestral:
      return run_stochastic(euler_ancestral<T>(), c, process, user_model, std::move(transform), s, x, obs, ctx);
    case scheduler_class::lcm:
      return run_stochastic(lcm<T>({.sigma_data = 0.5, .timestep_scaling = c.timestep_scaling}), c, process, user_model,
                            std::move(transform), s, x, obs, ctx);
    case scheduler_class::tcd: {
      // TCDScheduler.step ignores clip_sample and thresholding.
      const double gamma = ctx.kwargs.eta.value_or(0.3);
      return run_stochastic(tcd<T>(T(gamma), levels_as<T>(compat::detail::tcd_s_levels(c, g, gamma))), c, process, user_model, no_transform{}, s,
                            x, obs, ctx);
    }
    case scheduler_class::edm_dpm_multistep:
    case scheduler_class::dpm_multistep: {
      if (c.algorithm_type == algorithm::sde_dpmsolver_pp) {  // SDE-DPM-Solver++: η = 1, diffusers' D2 weight
        if constexpr (Noise::active) {
          dpmpp_sde_multistep_options o;
          o.solver_type = c.solver_type == solver_kind::heun ? dpm_solver_type::heun : dpm_solver_type::midpoint;
          o.lower_order_final = c.lower_order_final;
          o.euler_at_final = c.euler_at_final;
          o.diffusers_d2 = true;
          return run_order<dpmpp_multistep_sde, T>(c.solver_order, o, process, model, std::move(transform), s, x, obs, ctx);
        } else {
          throw config_error("diffusers: algorithm_type \"sde-dpmsolver++\" is stochastic and needs a noise source");
        }
      }
      dpmpp_multistep_options o;
      o.algorithm_type = c.algorithm_type == algorithm::dpmsolver ? dpm_algorithm::dpmsolver : dpm_algorithm::dpmsolver_pp;
      o.solver_type = c.solver_type == solver_kind::heun ? dpm_solver_type::heun : dpm_solver_type::midpoint;
      o.lower_order_final = c.lower_order_final;
      o.euler_at_final = c.euler_at_final;
      return run_order<dpmpp_multistep, T>(c.solver_order, o, process, model, std::move(transform), s, x, obs, ctx);
    }
    case scheduler_class::unipc: {
      unipc_options o;
      o.solver_type = c.solver_type == solver_kind::bh1 ? unipc_bh::bh1 : unipc_bh::bh2;
      o.predict_x0 = c.predict_x0;
      o.lower_order_final = c.lower_order_final;
      for (long long i : c.disable_corrector)
        if (i >= 0) o.disable_corrector.push_back(std::size_t(i));
      return run_order<unipc, T>(c.solver_order, o, process, model, std::move(transform), s, x, obs, ctx);
    }
    case scheduler_class::deis: {
      deis_options o;
      o.lower_order_final = c.lower_order_final;
      o.coefficients = diffusers_deis_coefficients;  // diffusers' float32 ind_fn cancels: up to ~3e-4 in samples otherwise
      return run_order<deis, T>(c.solver_order, o, process, user_model, std::move(transform), s, x, obs, ctx);
    }
    case scheduler_class::euler:
      return run(euler<T>({.time = ode_time::sigma}), process, user_model, std::move(transform), s, x, obs, ctx);
    case scheduler_class::heun:
      return run(heun<T>({.time = ode_time::sigma}), process, user_model, std::move(transform), s, x, obs, ctx);
    case scheduler_class::lms: return run(lms<4, T>{}, process, user_model, std::move(transform), s, x, obs, ctx);
    case scheduler_class::edm_euler:
      return run(euler<T>({.time = ode_time::sigma}), process, user_model, std::move(transform), s, x, obs, ctx);
    case scheduler_class::flow_heun:
      return run(heun<T>({.time = ode_time::native}), process, user_model, std::move(transform), s, x, obs, ctx);
    case scheduler_class::flow_euler:
      if (c.stochastic_sampling)  // x ← (1 − σ_next)·x̂0 + σ_next·z: denoise, then the forward process to the next level
        return run_stochastic(multistep_consistency<flow_renoise, T>(flow_renoise{}), c, process, user_model, std::move(transform), s, x, obs, ctx);
      return run(euler<T>{}, process, user_model, std::move(transform), s, x, obs, ctx);
    default: break;
  }
  throw config_error(ferry::detail::cat("diffusers: ", class_name(c.kind), " has no sampling run in compat::sample yet (its grid: compat::set_timesteps)"));
}

/// The run on the process of the grid's space, with the class's data transform.
template <class Process, class Model, class T, class Observer, class Noise>
sample_stats run_space(const diffusers_config& c, const diffusers_grid& g, const Process& process, Model& model, const schedule<T>& s,
                       batch_view<T> x, Observer& observer, const run_context<Noise>& ctx) {
  if (c.thresholding)
    return run_class(c, g, process, model, dynamic_thresholding<T>(T(c.dynamic_thresholding_ratio), T(c.sample_max_value)), s, x,
                             observer, ctx);
  if (c.clip_sample) return run_class(c, g, process, model, clip_sample<T>(T(c.clip_sample_range)), s, x, observer, ctx);
  return run_class(c, g, process, model, no_transform{}, s, x, observer, ctx);
}

}  // namespace detail

/// Samples x in place with the scheduler `c` over the grid `g`; x must hold initial_scale(c, g)·z.
/// The model answers in its declared prediction kind (set it to c.prediction_type for a model
/// trained with that configuration). Stochastic classes draw from `noise` (keyed_noise or
/// injected_noise); `kwargs` are step()'s keyword arguments (DDIM's and TCD's eta).
/// The state's scalar type T (double or float) is the run's: grid levels, process, solver and transform.
template <class Model, class T, class Observer = no_observer, class Noise = no_noise>
sample_stats sample(const diffusers_config& c, const diffusers_grid& g, Model& model, batch_view<T> x,
                    Observer&& observer = {}, Noise noise = {}, sample_options options = {}, step_kwargs kwargs = {}) {
  using sc = scheduler_class;
  switch (c.kind) {  // grids without a sampling run here yet: PNDM, the k-diffusion-style and the newer multistep classes
    case sc::pndm: case sc::kdpm2: case sc::kdpm2_ancestral: case sc::dpm_sde: case sc::dpm_singlestep: case sc::sa_solver:
    case sc::ipndm: case sc::cosine_dpm_multistep: case sc::cogvideox_ddim: case sc::ddpm_wuerstchen:
      throw config_error(ferry::detail::cat("diffusers: ", class_name(c.kind), " has no sampling run in compat::sample yet (its grid: compat::set_timesteps)"));
    default: break;
  }
  const schedule<T> s = schedule_as<T>(g);
  const detail::run_context<Noise> ctx{std::move(noise), options, kwargs};
  sample_stats st;
  if (g.space == grid_space::flow) st = detail::run_space(c, g, flow<T>(), model, s, x, observer, ctx);
  else if (g.space == grid_space::edm) st = detail::run_space(c, g, edm<T>(), model, s, x, observer, ctx);
  else st = detail::run_space(c, g, discrete_vp<T>(diffusers_alphas_cumprod(config_betas(c))), model, s, x, observer, ctx);
  if (const double out = final_scale(c, g); out != 1) simd::lincomb<T, 1>(x.span(), {T(out)}, {x.data});
  return st;
}

}  // namespace ferry::compat
