#pragma once
// diffusers' DDIMInverseScheduler (schedulers/scheduling_ddim_inverse.py, diffusers commit 58eb52c)
// as pipelines use it: `DDIMInverseScheduler.from_config(pipe.scheduler.config)`, then
//   for t in inverse.timesteps: x = inverse.step(unet(x, t), t, x)
// (pix2pix-zero, DiffEdit). With N = num_train_timesteps, n steps and r = N // n:
//
//   set_timesteps   leading:  t_i = round(i·r) + steps_offset,                     i = 0 … n−1
//                   trailing: t_i = round(arange(N, 0, −N/n)[::-1]) − 1   (N/n a float)
//                   linspace: not supported (diffusers raises)
//   step(ε̂, t, x)   the state is at s = min(t − r, N − 1): ᾱ_s = alphas_cumprod[s], or
//                   initial_alpha_cumprod when s < 0 (1 if set_alpha_to_one, else alphas_cumprod[0]);
//                   x̂0 = (x − √(1−ᾱ_s)·ε̂)/√ᾱ_s (clamped to ±clip_sample_range if clip_sample),
//                   x ← √ᾱ_t·x̂0 + √(1−ᾱ_t)·ε̂                               (DDIM, Eq. 12, η = 0, s → t)
//
// The model is evaluated at the step's *landing* timestep t while the state is at s: inversion
// one step ahead. ferry runs it as its own DDIM step (x ← α_t·x̂0 + σ_t·ε̂, ε̂ untransformed as
// in DDIMScheduler) over the schedule s_0 → t_0, s_1 → t_1, … in direction::invert, with the
// model adaptor ddim_inverse_model answering at ᾱ_t where the solver asks at ᾱ_s; the prediction
// is converted to x̂0 and ε̂ with ᾱ_s, as diffusers does. The config is read as DDIMScheduler's
// (from_config keeps the keys the inverse class takes; thresholding is not one of them).
#include <cmath>
#include <type_traits>
#include <cstddef>
#include <vector>

#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/compat/diffusers_timesteps.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/models/thresholding.hpp"
#include "ferry/process/discrete_vp.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/inversion.hpp"
#include "ferry/solvers/ode/ddim.hpp"

namespace ferry::compat {

/// DDIMInverseScheduler(**c).set_timesteps(steps), as a diffusers_grid: `timesteps` and
/// `model_timesteps` are the class's timesteps t_i (where the model is evaluated); cur[i] is the
/// level of the state, s_i = min(t_i − r, N − 1) (its t field), with ᾱ_s in alphas_cumprod[i]
/// (diffusers' alpha_prod_t) and s_i in prev_timesteps[i]; next[i] is the level of t_i, with ᾱ_t
/// in alphas_cumprod_prev[i] (diffusers' alpha_prod_t_prev); final_alpha_cumprod is
/// initial_alpha_cumprod.
inline diffusers_grid ddim_inverse_grid(const diffusers_config& c, std::size_t steps) {
  using ferry::detail::cat;
  const std::size_t n_train = c.num_train_timesteps;
  if (steps < 1 || steps > n_train)
    throw config_error(cat("DDIMInverseScheduler.set_timesteps: steps = ", steps, "; expected 1 to num_train_timesteps = ", n_train));
  diffusers_grid g;
  g.kind = c.kind;
  switch (c.spacing) {
    case timestep_spacing::leading: {
      const std::size_t ratio = n_train / steps;
      for (std::size_t i = 0; i < steps; ++i) g.timesteps.push_back(double(static_cast<long long>(i * ratio) + c.steps_offset));
      break;
    }
    case timestep_spacing::trailing: {
      // np.round(np.arange(N, 0, -N/n)[::-1]).astype(int64) - 1
      std::vector<double> t = detail::np_arange(double(n_train), 0, -(double(n_train) / double(steps)));
      for (auto it = t.rbegin(); it != t.rend(); ++it) g.timesteps.push_back(detail::np_round(*it) - 1);
      break;
    }
    case timestep_spacing::linspace:
      throw config_error("DDIMInverseScheduler: timestep_spacing \"linspace\" is not supported (diffusers raises); "
                         "expected leading or trailing");
  }
  const std::vector<float> abar = diffusers_alphas_cumprod(config_betas(c));
  const auto n = static_cast<long long>(n_train), ratio = static_cast<long long>(n_train / steps);
  g.final_alpha_cumprod = c.set_alpha_to_one ? 1.0 : double(abar.front());
  for (double tv : g.timesteps) {
    const auto t = static_cast<long long>(tv), s = std::min(t - ratio, n - 1);
    if (t < 0 || t >= n)
      throw config_error(cat("DDIMInverseScheduler.step: timestep ", t, " lies outside [0, ", n - 1, "] (steps_offset too large)"));
    const double a_s = s >= 0 ? double(abar[std::size_t(s)]) : g.final_alpha_cumprod, a_t = abar[std::size_t(t)];
    g.model_timesteps.push_back(tv);
    g.prev_timesteps.push_back(s);
    g.alphas_cumprod.push_back(a_s);
    g.alphas_cumprod_prev.push_back(a_t);
    g.cur.push_back(level<double>::make(std::sqrt(a_s), std::sqrt(1 - a_s), double(s)));
    g.next.push_back(level<double>::make(std::sqrt(a_t), std::sqrt(1 - a_t), tv));
  }
  g.init_noise_sigma = 1;
  return g;
}


/// The model as DDIMInverseScheduler's pipelines call it: asked at the state's level s_i (a cur
/// level of the grid), it answers at the step's timestep t_i (next[i]).
template <class Model>
struct ddim_inverse_model {
  Model& inner;
  const diffusers_grid* grid;
  prediction predicts = inner.predicts;
  void operator()(const_batch_view<double> x, const level<double>& lv, batch_view<double> out) {
    for (std::size_t i = 0; i < grid->steps(); ++i)
      if (grid->cur[i].t == lv.t) return inner(x, grid->next[i], out);
    throw config_error(ferry::detail::cat("ddim_inverse_model: t=", lv.t, " is no state level of the inverse grid"));
  }
};

/// The inverse loop compiled once (the model and observer type-erased); see invert below.
template <class T = double>
sample_stats invert_erased(const diffusers_config& c, const diffusers_grid& g, model_ref<T> model, batch_view<T> x,
                           observer_ref<T> observer, const sample_options& options) {
  static_assert(std::is_same_v<T, double>, "DDIMInverseScheduler runs in float64");
  const schedule<double> s = to_schedule(g, direction::invert);
  ddim_inverse_model<model_ref<double>> ahead{model, &g};
  model_ref<double> m(ahead);
  any_transform<double> transform;
  if (c.clip_sample) transform = clip_sample<double>(c.clip_sample_range);
  const any_process<double> process(discrete_vp<double>(diffusers_alphas_cumprod(config_betas(c))));
  runtime_problem<double> p(process, m, std::move(transform));
  ddim<double> solver;
  return run_policy(solver, p, s, x, observer, options);
}

#define FERRY_COMPAT_INVERT_ERASED(T) \
  sample_stats invert_erased<T>(const diffusers_config&, const diffusers_grid&, model_ref<T>, batch_view<T>, observer_ref<T>, const sample_options&)
#ifdef FERRY_RUNTIME_LIBRARY
extern template FERRY_COMPAT_INVERT_ERASED(double);
#endif

/// Inverts x in place (data → latent at the last timestep) as DDIMInverseScheduler's loop does over
/// the grid g = ddim_inverse_grid(c, steps). The model answers in its declared prediction kind.
template <class Model, class Observer = no_observer>
sample_stats invert(const diffusers_config& c, const diffusers_grid& g, Model& model, batch_view<double> x, Observer&& observer = {},
                    sample_options options = {}) {
  return invert_erased<double>(c, g, model_ref<double>(model), x, observer_ref<double>(observer), options);
}

}  // namespace ferry::compat
