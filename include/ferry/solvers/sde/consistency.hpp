#pragma once
// Multistep consistency sampling (Song et al. 2023, "Consistency Models", Alg. 1): map the state to
// an estimate at a lower level s with the model's consistency function, then run the forward process
// from s up to the landing level:
//
//   x̂_s    = F(x, t → s) = c_skip·x + c_out·x̂0                      (the consistency function)
//   x_next = (α'/α_s)·x̂_s + √(σ'² − (α'/α_s)²σ_s²)·z                (forward transition s → next)
//
// fused into one update of x, x̂0 and z. A parametrisation gives (c_skip, c_out, s) per step:
//   lcm_boundary   LCM (Luo et al. 2023, Eq. 9; diffusers LCMScheduler): s = data, the boundary
//                  condition of a discrete timestep τ = t·timestep_scaling:
//                  c_skip = σ_d²/(τ² + σ_d²),  c_out = τ/√(τ² + σ_d²),  σ_d = 0.5;
//                  without the boundary condition (ComfyUI's sample_lcm, comfy_lcm()): c_skip = 0,
//                  c_out = 1, so x_next = α'·x̂0 + σ'·z (ComfyUI: noise_scaling(σ', z, x̂0))
//   tcd_landing    TCD's strategic stochastic sampling (Zheng et al. 2024, Eq. 11; diffusers
//                  TCDScheduler, whose `eta` is γ): s = (1 − γ)·t_next, and F is the DDIM step to s,
//                  c_skip = σ_s/σ,  c_out = α_s − σ_s·α/σ
// A consistency-model sampler supplies its own (c_skip, c_out) with s = data. The step that lands
// where it denoised to (LCM's last step to data, TCD's last step to s = t_next, every one-step
// consistency run) draws nothing, so it also runs on a problem without a noise source; a step that
// needs noise from such a problem throws config_error before it changes the state.
// One model evaluation per step; step i draws step i's normal array.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

/// F(x, t → s) = skip·x + out·x̂0, an estimate of the state at level `target`.
template <class T>
struct consistency_map {
  T skip, out;
  level<T> target;
};

/// LCM's boundary condition on a discrete timestep (diffusers get_scalings_for_boundary_condition_discrete).
struct lcm_boundary {
  double sigma_data = 0.5, timestep_scaling = 10;
  bool boundary_condition = true;  ///< false: F = x̂0 (ComfyUI's sample_lcm)
  template <class Problem, class T>
  consistency_map<T> operator()(Problem&, const step_span<T>& s) const {
    if (!boundary_condition) return {T(0), T(1), level<T>::make(T(1), T(0), T(0))};
    const T tau = s.cur.t * T(timestep_scaling), sd2 = T(sigma_data * sigma_data);
    return {sd2 / (tau * tau + sd2), tau / std::sqrt(tau * tau + sd2), level<T>::make(T(1), T(0), T(0))};
  }
};

/// TCD: the DDIM step to s = (1 − γ)·t_next, or to the levels given per step (diffusers' integer s).
template <class T>
struct tcd_landing {
  T gamma = T(0.3);
  std::vector<level<T>> s_levels;  ///< empty: the process's level at (1 − γ)·t_next
  template <class Problem>
  consistency_map<T> operator()(Problem& p, const step_span<T>& s) const {
    const level<T> target = s.index < s_levels.size() ? s_levels[s.index] : p.at((1 - gamma) * s.next.t);
    const T skip = target.sigma / s.cur.sigma;
    return {skip, target.alpha - skip * s.cur.alpha, target};
  }
};

template <class Map, class T = double>
struct multistep_consistency {
  static constexpr int order = 1, evals_per_step = 1;
  static constexpr bool stochastic = true;
  static constexpr bool noise_checked_per_step = true;  // a step landing where it denoised to draws nothing
  Map map;

  multistep_consistency() = default;
  explicit multistep_consistency(Map m) : map(std::move(m)) {}

  void reset(extent e) {
    x0_.resize(e);
    z_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const consistency_map<T> f = map(p, s);
    const T a = s.next.alpha / f.target.alpha;                                          // α'/α_s
    const T noise = std::sqrt(std::max(T(0), s.next.sigma * s.next.sigma - a * a * f.target.sigma * f.target.sigma));
    if constexpr (!detail::has_noise<Problem>)
      if (noise > 0)
        throw config_error(detail::cat("multistep consistency sampling: step ", s.index + 1, " of ", s.count,
                                       " adds noise (sigma ", noise, "); give the problem a noise source (a seed)"));
    p.data(x, s.cur, x0_.view());
    detail::terms<T, 3> t;
    t.add(a * f.skip, x.data), t.add(a * f.out, x0_);                                   // (α'/α_s)·F(x, t → s)
    if constexpr (detail::has_noise<Problem>) {
      if (noise > 0) {
        p.normal(s.index, 0, z_.view());
        t.add(noise, z_);                                                               // + √(σ'² − (α'/α_s)²σ_s²)·z
      }
    }
    detail::combine(x, t);
  }

 private:
  batch<T> x0_, z_;
};

/// Latent consistency model sampling (diffusers LCMScheduler).
template <class T = double>
multistep_consistency<lcm_boundary, T> lcm(lcm_boundary b = {}) {
  return multistep_consistency<lcm_boundary, T>(b);
}

/// ComfyUI's lcm sampler (sample_lcm): x̂0, then the forward process to the next level.
template <class T = double>
multistep_consistency<lcm_boundary, T> comfy_lcm() {
  return multistep_consistency<lcm_boundary, T>(lcm_boundary{.sigma_data = 0.5, .timestep_scaling = 10, .boundary_condition = false});
}

/// Trajectory consistency distillation sampling with γ = gamma (diffusers TCDScheduler, eta = γ).
template <class T = double>
multistep_consistency<tcd_landing<T>, T> tcd(T gamma = T(0.3), std::vector<level<T>> s_levels = {}) {
  if (!(gamma >= 0 && gamma <= 1)) throw config_error(detail::cat("tcd: gamma (eta)=", gamma, " must lie in [0, 1]"));
  return multistep_consistency<tcd_landing<T>, T>(tcd_landing<T>{gamma, std::move(s_levels)});
}

}  // namespace ferry
