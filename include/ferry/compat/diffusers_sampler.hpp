#pragma once
// Runs a diffusers scheduler configuration with ferry's solvers: the class and its keys pick the
// solver policy and options, the grid gives the schedule, and the sample is the one diffusers'
// `for t in timesteps: x = scheduler.step(model(x, t), t, x)` loop produces.
//
//   DDIMScheduler (η = 0)            → ddim, landing on prev_timestep = t − N/n (schedule landings)
//   DDIMScheduler, step(eta > 0)     → ddim_eta (sde/ddim_eta.hpp)
//   CogVideoXDDIMScheduler           → ddim on its SNR-shifted ᾱ (no clipping, no thresholding)
//   DPMSolverMultistepScheduler      → dpmpp_multistep<solver_order> (dpmsolver++ | dpmsolver),
//                                      dpmpp_multistep_sde<solver_order> (sde-dpmsolver++)
//   DPMSolverSinglestepScheduler     → dpm_singlestep (orders 1–3 as set_timesteps' order list)
//   UniPCMultistepScheduler          → unipc<solver_order>
//   DEISMultistepScheduler           → deis<solver_order>
//   SASolverScheduler                → sa_solver (diffusers_sa_solver: its orders, τ(t), a draw every call)
//   PNDMScheduler                    → pndm (PLMS; pseudo Runge–Kutta warm-up unless skip_prk_steps)
//   IPNDMScheduler                   → ipndm (diffusers_ipndm) on its own (α, β) table
//   EulerDiscreteScheduler           → euler in σ̃ (ode_time::sigma)
//   HeunDiscreteScheduler            → heun in σ̃
//   LMSDiscreteScheduler             → lms<4> (diffusers' step(order = 4))
//   KDPM2DiscreteScheduler           → dpm_2 (DPM-2, k-diffusion's sample_dpm_2)
//   KDPM2AncestralDiscreteScheduler  → dpm_2 ancestral (η = 1), drawing in its second call
//   DPMSolverSDEScheduler            → dpmpp_sde (η = 1, r = ½, step(s_noise=…)), ferry's keyed Brownian tree
//   DDPMScheduler                    → ddpm (variance_type fixed_small | fixed_large)
//   DDPMWuerstchenScheduler          → ddpm (fixed_small) on its cosine ᾱ, no noise on the step to t = 0
//   EulerAncestralDiscreteScheduler  → euler_ancestral in σ̃ (η = 1)
//   LCMScheduler                     → lcm (boundary condition c_skip, c_out of timestep·timestep_scaling)
//   TCDScheduler, step(eta = γ)      → tcd, landing its consistency step on floor((1 − γ)·t_prev)
//   FlowMatchEulerDiscreteScheduler  → euler in the flow time σ: x ← x + (σ_next − σ)·v;
//                                      stochastic_sampling: x ← (1 − σ_next)·x̂0 + σ_next·z
//   FlowMatchHeunDiscreteScheduler   → heun in the flow time σ (its last step one Euler step)
//   EDMEulerScheduler                → euler in the EDM σ (x = x0 + σ·ε), the model answering x̂0
//   EDMDPMSolverMultistepScheduler   → dpmpp_multistep / dpmpp_multistep_sde in the EDM σ
//   CosineDPMSolverMultistepScheduler → dpmpp_multistep_sde<solver_order> (cosine: η = 1, Brownian tree) in the EDM σ
//
// The state is kept in the model's own view x = α·x0 + σ·ε; diffusers' Euler-type classes (Euler,
// Heun, LMS, KDPM2, KDPM2Ancestral, DPMSolverSDE) keep x̃ = x/α, which only changes the initial scale
// (initial_scale) and, for a grid that ends above σ = 0, the final one (final_scale).
// thresholding / clip_sample become pf_ode's data transform.
//
// Step noise. With injected draws the convention of diffusers' reference runs holds: step() call i
// uses W[i] for its one draw. Where a ferry step makes two step() calls (KDPM2Ancestral draws in the
// second, DPMSolverSDE in both) the (S, N, D) array is read as ferry's (step, stream) pairs
// (calls_as_streams). A seeded generator (keyed Philox or torch's, runtime_noise) is asked for a
// draw wherever diffusers' step() draws, in the same order, so that torch's generator spent by
// ferry gives the arrays a diffusers pipeline's `generator` gives its step() calls. The Brownian trees
// of DPMSolverSDE and CosineDPMSolverMultistep are torchsde's in diffusers, not the generator's:
// ferry keys its own tree by the seed (random/brownian_tree.hpp) and takes nothing from torch's.
#include <cmath>
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
#include "ferry/random/noise.hpp"
#include "ferry/runtime/registry.hpp"
#include "ferry/solvers/ode/dpm_singlestep.hpp"
#include "ferry/solvers/ode/ipndm.hpp"
#include "ferry/solvers/ode/pndm.hpp"
#include "ferry/solvers/sde/ddpm.hpp"
#include "ferry/solvers/sde/dpm_2.hpp"
#include "ferry/solvers/sde/dpmpp_multistep_sde.hpp"
#include "ferry/solvers/sde/dpmpp_sde.hpp"
#include "ferry/solvers/sde/sa_solver.hpp"

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

/// PNDM's schedule: one ferry step per PNDM step, the pndm policy making a step's Runge–Kutta or
/// first PLMS calls itself. Its points are the steps' starts — the first call of each Runge–Kutta
/// step, the first PLMS call, then every PLMS call after the second — and the data level below them
/// all; step i lands where the transfer of its last call ends (the next point for the Runge–Kutta
/// steps and the pseudo improved Euler step, t − δ for every later step, final_alpha_cumprod's level
/// below t = 0). One step alone (skip_prk_steps, steps = 1) is a single DDIM-like transfer: to_schedule.
inline schedule<double> pndm_schedule(const diffusers_grid& g) {
  std::vector<std::size_t> first, last;  // per ferry step: the call it starts with, the call whose transfer ends it
  if (g.prk_calls > 0) {
    for (std::size_t k = 0; k < g.prk_calls; k += 4) first.push_back(k), last.push_back(k + 3);
    for (std::size_t k = g.prk_calls; k < g.steps(); ++k) first.push_back(k), last.push_back(k);
  } else {
    first.push_back(0), last.push_back(1);  // counter 0 and 1: the pseudo improved Euler step to t_{n−2}
    for (std::size_t k = 2; k < g.steps(); ++k) first.push_back(k), last.push_back(k);
  }
  schedule<double> s;
  for (std::size_t k : first) s.points.push_back(g.cur[k]);
  s.points.push_back(level<double>::make(1, 0));  // never a landing: set_alpha_to_one false lands on ᾱ_0 instead
  for (std::size_t k : last) s.landings.push_back(g.next[k]);
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

/// A schedule in scalar type T.
template <class T>
schedule<T> schedule_as(const schedule<double>& s) {
  if constexpr (std::is_same_v<T, double>) {
    return s;
  } else {
    return {levels_as<T>(s.points), levels_as<T>(s.landings), s.dir, s.zero_length_end};
  }
}

/// The schedule of a diffusers grid in the run's scalar type T.
template <class T>
schedule<T> schedule_as(const diffusers_grid& g) {
  return schedule_as<T>(to_schedule(g));
}

/// The schedule a class's run steps through: the grid's (to_schedule), PNDM's steps (pndm_schedule),
/// and for SASolver levels whose time is the class's timestep, the argument of its τ function
/// (its flow-sigma levels otherwise carry t = σ; the solver asks the process for no level).
inline schedule<double> class_schedule(const diffusers_config& c, const diffusers_grid& g) {
  if (c.kind == scheduler_class::pndm && g.steps() > 1) return pndm_schedule(g);
  schedule<double> s = to_schedule(g);
  if (c.kind == scheduler_class::sa_solver)
    for (std::size_t i = 0; i < g.steps(); ++i) s.points[i].t = g.model_timesteps[i];
  return s;
}

/// Whether the class steps its own state x̃ = x/α (the k-diffusion-style classes) rather than x.
inline bool steps_scaled_state(scheduler_class k) {
  switch (k) {
    case scheduler_class::euler:
    case scheduler_class::euler_ancestral:
    case scheduler_class::heun:
    case scheduler_class::lms:
    case scheduler_class::kdpm2:
    case scheduler_class::kdpm2_ancestral:
    case scheduler_class::dpm_sde: return true;
    default: return false;
  }
}

/// x_start = initial_scale · z for unit noise z, in the model's view: diffusers multiplies z by
/// init_noise_sigma in its own state, which is x̃ = x/α for Euler, Heun and LMS.
inline double initial_scale(const diffusers_config& c, const diffusers_grid& g) {
  return steps_scaled_state(c.kind) ? g.init_noise_sigma * g.cur.front().alpha : g.init_noise_sigma;
}

/// diffusers' DPM-Solver (multistep and single-step), UniPC and SA-Solver convert the model's output
/// with α_t, σ_t computed in float32 from their float32 σ̃ (the grid's levels for those classes),
/// while the model itself answers for the exact level of that σ̃. Where α is tiny this mismatch is
/// amplified ~1/α times (x̂0 = (x − σ_t·ε̂)/α_t); this adaptor reproduces it: the solver's level stays
/// float32-rounded, the model sees the exact one.
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

/// A network trained for an EDM class (EDMEuler, EDMDPMSolverMultistep, CosineDPMSolverMultistep) as the
/// model compat::sample runs it with, which answers x̂0: diffusers' precondition_outputs,
///   x̂0 = c_skip·x + c_out·F,  c_skip = σ_d²/(σ² + σ_d²),  c_out = σ·σ_d/√(σ² + σ_d²)  (negated for v_prediction),
/// with σ_d = sigma_data and F the network's raw output at the state x (EDM levels: α = 1, σ = lv.sigma).
/// diffusers' pipelines give the network c_in·x, c_in = 1/√(σ² + σ_d²), and c_noise (the grid's
/// timesteps): the network callable applies those itself. The exact mixture needs no such wrapping: it
/// answers x̂0 (model_prediction).
template <class Network, class T = double>
struct edm_network {
  Network& net;             ///< answers F: net(x, level, out)
  T sigma_data = T(0.5);
  bool v_prediction = false;
  prediction predicts = prediction::data;
  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) {
    net(x, lv, out);
    const T s = lv.sigma, d2 = s * s + sigma_data * sigma_data;
    const T c_skip = sigma_data * sigma_data / d2, c_out = (v_prediction ? -s : s) * sigma_data / std::sqrt(d2);
    simd::lincomb<T, 2>(out.span(), {c_skip, c_out}, {x.data, out.data});
  }
};

/// The EDM network adaptor with the config's sigma_data and prediction_type.
template <class T = double, class Network>
edm_network<Network, T> edm_preconditioned(const diffusers_config& c, Network& net) {
  using sc = scheduler_class;
  if (c.kind != sc::edm_euler && c.kind != sc::edm_dpm_multistep && c.kind != sc::cosine_dpm_multistep)
    throw config_error(ferry::detail::cat("edm_preconditioned: ", class_name(c.kind), " is not an EDM class (its model answers ",
                                          to_string(model_prediction(c)), ")"));
  return {net, T(c.sigma_data), c.prediction_type == prediction::v};
}

/// x_out = final_scale·x after the run: diffusers' Euler-type classes return their own x̃ = x/α, which
/// differs from the model's view when the grid ends above σ = 0 (final_sigmas_type "sigma_min").
inline double final_scale(const diffusers_config& c, const diffusers_grid& g) {
  return !steps_scaled_state(c.kind) || g.next.empty() ? 1.0 : 1 / g.next.back().alpha;
}

/// Keyword arguments of a diffusers scheduler's step(): DDIM's eta (0 unless given), TCD's eta (the
/// paper's γ, 0.3 unless given) and DPMSolverSDE's s_noise (1 unless given). Another class given one
/// is refused, as its step() would raise.
struct step_kwargs {
  std::optional<double> eta{};
  std::optional<double> s_noise{};
};

namespace detail {

inline void check_step_kwargs(const diffusers_config& c, const step_kwargs& k) {
  using sc = scheduler_class;
  if (k.eta && c.kind != sc::ddim && c.kind != sc::tcd)
    throw config_error(ferry::detail::cat("diffusers: ", class_name(c.kind), ".step takes no eta (DDIMScheduler's and TCDScheduler's step do)"));
  if (k.s_noise && c.kind != sc::dpm_sde)
    throw config_error(ferry::detail::cat("diffusers: ", class_name(c.kind), ".step takes no s_noise (DPMSolverSDEScheduler's step does)"));
}

/// diffusers' step-noise convention, step() call i uses W[i], as ferry's (step, stream) pairs for the
/// classes whose ferry step makes two step() calls: KDPM2Ancestral draws in the second call of step i
/// (call 2i + 1 → stream 0), DPMSolverSDE in both (calls 2i, 2i + 1 → streams 0, 1). The last step
/// (to σ = 0, one call) draws nothing. An array given as (S, K, N, D) with K > 1 is ferry's own pairs.
template <class T>
void calls_as_streams(const diffusers_config& c, const diffusers_grid& g, runtime_noise<T>& n) {
  using sc = scheduler_class;
  injected_noise<T>& w = n.injected;
  if (!n.is_injected() || w.draws != 1 || (c.kind != sc::kdpm2_ancestral && c.kind != sc::dpm_sde)) return;
  const std::size_t needed = 2 * (g.steps() - 1);  // calls 0 … 2·steps − 3 (KDPM2Ancestral: the odd ones) draw
  if (w.steps < needed)
    throw shape_error(ferry::detail::cat(class_name(c.kind), ": the injected step noise has ", w.steps, " arrays, one per step() call; its ",
                                         2 * g.steps() - 1, " calls draw up to call ", needed - 1, ", so it needs at least ", needed));
  if (c.kind == sc::kdpm2_ancestral) w.w += w.rows * w.cols;  // stream 0 of step i is call 2i + 1
  w.steps /= 2;                                                 // (stream 1 of the shifted file's last pair is never asked for)
  w.draws = 2;
}

/// EDMDPMSolverMultistepScheduler's third-order update has no sde-dpmsolver++ branch: diffusers raises
/// (UnboundLocalError) at the first step that takes it. Whether a run of n steps reaches one
/// (diffusers' order rule: steps 0 and 1 lower their order; lower_order_final lowers the last two of
/// runs under 15 steps, euler_at_final and a final σ of 0 the last).
inline bool edm_sde_reaches_third_order(const diffusers_config& c, std::size_t n) {
  if (c.solver_order < 3 || c.algorithm_type != algorithm::sde_dpmsolver_pp) return false;
  for (std::size_t i = 2; i < n; ++i) {
    const bool lower_final = i + 1 == n && (c.euler_at_final || (c.lower_order_final && n < 15) || c.final_sigmas_type == final_sigmas::zero);
    const bool lower_second = i + 2 == n && c.lower_order_final && n < 15;
    if (!lower_final && !lower_second) return true;
  }
  return false;
}

}  // namespace detail

/// The process a class's run is posed on: the grid's space, and for VP grids the class's ᾱ table,
/// whose time is the diffusers timestep (PNDM, KDPM2 and DPMSolverSDE ask it for levels between the
/// grid's). IPNDM (its own α, β table), DDPMWuerstchen (its cosine ᾱ) and CogVideoXDDIM (an ᾱ that
/// ends at 0) have policies that ask for no level off the grid: a stand-in process serves them.
template <class T>
any_process<T> class_process(const diffusers_config& c, const diffusers_grid& g) {
  using sc = scheduler_class;
  if (g.space == grid_space::flow) return flow<T>();
  if (g.space == grid_space::edm || c.kind == sc::ipndm || c.kind == sc::ddpm_wuerstchen || c.kind == sc::cogvideox_ddim) return edm<T>();
  return discrete_vp<T>(diffusers_alphas_cumprod(config_betas(c)));
}

/// The run of a diffusers class, compiled once per scalar type: the model, the observer and the
/// noise arrive type-erased (one indirect call per batch evaluation and per step), the process (from
/// the grid's space) and the x̂0 transform are chosen from the config, and the policy is built from
/// the class and its keys and run through its one instantiation (runtime/policies.hpp; the policies
/// only diffusers' classes use — pndm, ipndm, dpm_singlestep, sa_solver — are instantiated in this
/// function's own TU). `noise` empty: no noise source (a stochastic class is then refused).
/// Explicitly instantiated in the runtime library.
template <class T>
sample_stats sample_erased(const diffusers_config& c, const diffusers_grid& g, model_ref<T> model, batch_view<T> x,
                           observer_ref<T> observer, std::optional<runtime_noise<T>> noise, const sample_options& options,
                           const step_kwargs& kwargs) {
  using sc = scheduler_class;
  detail::check_step_kwargs(c, kwargs);
  if (c.kind == sc::edm_dpm_multistep && detail::edm_sde_reaches_third_order(c, g.steps()))
    throw config_error(ferry::detail::cat("diffusers: EDMDPMSolverMultistepScheduler with algorithm_type \"sde-dpmsolver++\" and solver_order 3 ",
                                          "raises at its first third-order step (its third-order update has no SDE branch); ", g.steps(),
                                          " steps reach one: use solver_order 2"));
  const schedule<T> s = schedule_as<T>(class_schedule(c, g));
  const any_process<T> process = class_process<T>(c, g);
  any_transform<T> transform;
  // TCDScheduler.step ignores clip_sample and thresholding; CogVideoXDDIM's neither clips nor thresholds.
  const bool transforms = c.kind != sc::tcd && c.kind != sc::cogvideox_ddim;
  if (transforms && c.thresholding) transform = dynamic_thresholding<T>(T(c.dynamic_thresholding_ratio), T(c.sample_max_value));
  else if (transforms && c.clip_sample) transform = clip_sample<T>(T(c.clip_sample_range));
  // DPM-Solver, UniPC and SA-Solver convert the model's output at diffusers' float32 VP levels; the
  // model answers at the exact ones (exact_level_model; flow and EDM levels pass through).
  exact_level_model<model_ref<T>, T> exact{model, model.predicts, g.space == grid_space::vp};
  const bool float32_levels = c.kind == sc::dpm_multistep || c.kind == sc::edm_dpm_multistep || c.kind == sc::unipc ||
                              c.kind == sc::dpm_singlestep || c.kind == sc::sa_solver;
  model_ref<T> m = float32_levels ? model_ref<T>(exact) : model;
  if (noise) detail::calls_as_streams(c, g, *noise);
  runtime_problem<T> problem(process, m, std::move(transform), noise.value_or(runtime_noise<T>{}));
  auto run = [&](auto solver) { return run_policy(solver, problem, s, x, observer, options); };
  auto stochastic = [&](auto solver) {
    if (!noise)
      throw config_error(ferry::detail::cat("diffusers: ", class_name(c.kind), " draws noise at every step; give it a noise source (a seed or ",
                                            "injected step noise)"));
    return run(std::move(solver));
  };
  const dpm_solver_type dpm_type = c.solver_type == solver_kind::heun ? dpm_solver_type::heun : dpm_solver_type::midpoint;
  const sample_stats st = [&]() -> sample_stats {
    switch (c.kind) {
      case sc::flow_euler:
        // stochastic_sampling: x ← (1 − σ_next)·x̂0 + σ_next·z, denoise then the forward process to the next
        // level, which is ComfyUI's lcm step (the consistency step without LCM's boundary condition)
        if (c.stochastic_sampling) return stochastic(comfy_lcm<T>());
        return run(euler<T>{});
      case sc::ddim:
        if (kwargs.eta.value_or(0) > 0) return stochastic(ddim_eta<T>(T(*kwargs.eta)));
        return run(ddim<T>{});
      case sc::cogvideox_ddim: return run(ddim<T>{});
      case sc::ddpm:
        return stochastic(ddpm<T>(c.variance_fixed_large ? ddpm_variance::fixed_large : ddpm_variance::fixed_small));
      case sc::ddpm_wuerstchen: {
        ancestral<T> solver = ddpm<T>();
        solver.opt.no_noise_to_t0 = true;  // its last step lands on ᾱ(0) = 0.9999 and adds no noise
        return stochastic(solver);
      }
      case sc::euler_ancestral: return stochastic(euler_ancestral<T>());
      case sc::lcm: return stochastic(lcm<T>({.sigma_data = 0.5, .timestep_scaling = c.timestep_scaling}));
      case sc::tcd: {
        const double gamma = kwargs.eta.value_or(0.3);
        return stochastic(tcd<T>(T(gamma), levels_as<T>(compat::detail::tcd_s_levels(c, g, gamma))));
      }
      case sc::edm_dpm_multistep:
      case sc::dpm_multistep: {
        if (c.algorithm_type == algorithm::sde_dpmsolver_pp) {  // SDE-DPM-Solver++: η = 1, diffusers' D2 weight
          dpmpp_sde_multistep_options o;
          o.solver_type = dpm_type;
          o.lower_order_final = c.lower_order_final;
          o.euler_at_final = c.euler_at_final;
          o.diffusers_d2 = true;
          if (!noise) throw config_error("diffusers: algorithm_type \"sde-dpmsolver++\" is stochastic and needs a noise source");
          return with_order<dpmpp_multistep_sde, T>(c.solver_order, o, run);
        }
        dpmpp_multistep_options o;
        o.algorithm_type = c.algorithm_type == algorithm::dpmsolver ? dpm_algorithm::dpmsolver : dpm_algorithm::dpmsolver_pp;
        o.solver_type = dpm_type;
        o.lower_order_final = c.lower_order_final;
        o.euler_at_final = c.euler_at_final;
        return with_order<dpmpp_multistep, T>(c.solver_order, o, run);
      }
      case sc::cosine_dpm_multistep:  // SDE-DPM-Solver++ with its Brownian-tree noise sampler
        if (!noise) throw config_error("diffusers: CosineDPMSolverMultistepScheduler is stochastic and needs a noise source");
        return with_order<dpmpp_multistep_sde, T>(c.solver_order, dpmpp_sde_multistep_options::cosine(dpm_type, c.lower_order_final, c.euler_at_final),
                                                  run);
      case sc::dpm_singlestep: {
        // the order list set_timesteps leaves (lower_order_final forced for uneven counts and a final σ of 0)
        dpm_singlestep_options o;
        o.solver_order = c.solver_order;
        o.algorithm_type = c.algorithm_type == algorithm::dpmsolver ? dpm_algorithm::dpmsolver : dpm_algorithm::dpmsolver_pp;
        o.solver_type = dpm_type;
        o.sde = c.algorithm_type == algorithm::sde_dpmsolver_pp;
        o.lower_order_final = g.lower_order_final;
        o.diffusers_d2 = true;
        if (o.sde) return stochastic(dpm_singlestep<T>(o));
        return run(dpm_singlestep<T>(o));
      }
      case sc::sa_solver:
        return stochastic(diffusers_sa_solver<T>(c.predictor_order, c.corrector_order, c.predict_x0, c.lower_order_final));
      case sc::unipc: {
        unipc_options o;
        o.solver_type = c.solver_type == solver_kind::bh1 ? unipc_bh::bh1 : unipc_bh::bh2;
        o.predict_x0 = c.predict_x0;
        o.lower_order_final = c.lower_order_final;
        for (long long i : c.disable_corrector)
          if (i >= 0) o.disable_corrector.push_back(std::size_t(i));
        return with_order<unipc, T>(c.solver_order, o, run);
      }
      case sc::deis: {
        deis_options o;
        o.lower_order_final = c.lower_order_final;
        o.coefficients = diffusers_deis_coefficients;  // diffusers' float32 ind_fn cancels: up to ~3e-4 in samples otherwise
        return with_order<deis, T>(c.solver_order, o, run);
      }
      case sc::pndm: {
        if (g.steps() == 1) return run(ddim<T>{});  // one PLMS call: the transfer t → t − δ with its own ε̂
        const prediction combine = c.prediction_type == prediction::v ? prediction::v : prediction::epsilon;
        return run(pndm<T>({.skip_prk_steps = c.skip_prk_steps, .combine = combine, .num_train_timesteps = c.num_train_timesteps}));
      }
      case sc::ipndm: return run(diffusers_ipndm<T>());
      case sc::euler: return run(euler<T>({.time = ode_time::sigma}));
      case sc::heun: return run(heun<T>({.time = ode_time::sigma}));
      case sc::lms: return run(lms<4, T>{});
      case sc::kdpm2: return run(dpm_2<T>{});
      case sc::kdpm2_ancestral: return stochastic(dpm_2_ancestral<T>());
      case sc::dpm_sde: return stochastic(dpmpp_sde<T>({.eta = 1, .s_noise = kwargs.s_noise.value_or(1)}));
      case sc::edm_euler: return run(euler<T>({.time = ode_time::sigma}));
      case sc::flow_heun: return run(heun<T>({.time = ode_time::native}));
    }
    throw config_error(ferry::detail::cat("diffusers: ", class_name(c.kind), " has no sampler"));
  }();
  // diffusers' Euler-type classes return their own x̃ = x/α, which differs where the grid ends above σ = 0.
  if (const double out = final_scale(c, g); out != 1) simd::lincomb<T, 1>(x.span(), {T(out)}, {x.data});
  return st;
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
  else if constexpr (std::is_same_v<Noise, keyed_noise>) return runtime_noise<T>{n, {}, {}};
  else if constexpr (std::is_same_v<Noise, torch_noise<T>>) return runtime_noise<T>{{}, {}, n};
  else return runtime_noise<T>{{}, n, {}};  // injected_noise<T>
}
}  // namespace detail

/// Samples x in place with the scheduler `c` over the grid `g`; x must hold initial_scale(c, g)·z.
/// The model answers in its declared prediction kind (set it to c.prediction_type for a model
/// trained with that configuration). Stochastic classes draw from `noise` (keyed_noise,
/// injected_noise, torch_noise or runtime_noise; injected draws follow diffusers' call convention,
/// see the top of this file); `kwargs` are step()'s keyword arguments (DDIM's and TCD's eta,
/// DPMSolverSDE's s_noise).
/// The state's scalar type T (double or float) is the run's: grid levels, process, solver and transform.
template <class Model, class T, class Observer = no_observer, class Noise = no_noise>
sample_stats sample(const diffusers_config& c, const diffusers_grid& g, Model& model, batch_view<T> x,
                    Observer&& observer = {}, Noise noise = {}, sample_options options = {}, step_kwargs kwargs = {}) {
  return sample_erased<T>(c, g, model_ref<T>(model), x, observer_ref<T>(observer), detail::erase_noise<T>(noise), options, kwargs);
}

}  // namespace ferry::compat
