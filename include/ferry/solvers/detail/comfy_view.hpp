#pragma once
// The (σ, x) that k-diffusion-style samplers work in, as ComfyUI's two model samplings hand them
// a state (comfy/model_sampling.py):
//
//   EPS   (SD-style; α = 1)        x = x0 + σ·ε            → here: σ̃ = σ/α, x̃ = x/α (the EDM view)
//   CONST (rectified flow, SD3)    x = (1 − σ)·x0 + σ·ε    → here: the flow σ and x themselves
//
// In both views the probability-flow ODE reads dx/dσ = (x − x̂0)/σ (k-diffusion's to_d): on a flow
// (x − x̂0)/σ = ε̂ − x̂0 is the flow velocity. So one σ-space sampler (Euler, DPM-2, Heun++ …) runs
// in either view; ComfyUI's samplers take the CONST view on a flow model.
//
// The rule: a step runs on a flow when both its levels satisfy α + σ = 1 (to 64 ulps) and it
// starts below the data level (α < 1). That holds for every level of ferry's flow process and of
// levels_at_sigmas on it, never on EDM/VE (α = 1, σ > 0) or on VP (α² + σ² = 1) except where σ is
// below 64 ulps, where the two views coincide. `flow_view = false` in a policy's options keeps the
// EDM view on flows too (k-diffusion's own behaviour).
#include <cmath>
#include <limits>

#include "ferry/core/batch.hpp"
#include "ferry/core/level.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/simd/lincomb.hpp"

namespace ferry::detail {

/// α + σ = 1: a level of x = (1 − σ)·x0 + σ·ε (the data level α = 1, σ = 0 included).
template <class T>
bool is_flow_level(const level<T>& l) {
  return std::abs(l.alpha + l.sigma - 1) <= 64 * std::numeric_limits<T>::epsilon();
}

/// Whether step s runs on a flow (see the rule above).
template <class T>
bool on_flow(const step_span<T>& s) {
  return s.cur.alpha < 1 && is_flow_level(s.cur) && is_flow_level(s.next);
}

/// ComfyUI's view of a step's states: σ_c and the scale x = scale·x_c.
template <class T>
struct comfy_view {
  bool flow = false;  ///< CONST (flow σ, x) or EPS (σ/α, x/α)

  /// The view of step s: CONST where it runs on a flow and flow_view is set, else EPS.
  static comfy_view of(const step_span<T>& s, bool flow_view) { return {flow_view && on_flow(s)}; }

  T sigma(const level<T>& l) const { return flow ? l.sigma : l.sigma / l.alpha; }
  T scale(const level<T>& l) const { return flow ? T(1) : l.alpha; }

  /// The process's level whose σ in this view is s > 0, with α, σ, λ set from s itself (as
  /// levels_at_sigmas does) where the process is a flow or has α = 1.
  template <class Problem>
  level<T> at(Problem& p, T s) const {
    const T lambda = flow ? std::log((1 - s) / s) : -std::log(s);  // ComfyUI's sigma_to_half_log_snr
    level<T> lv = p.at(p.process().t_of_lambda(lambda));
    if (flow) lv.alpha = 1 - s, lv.sigma = s, lv.lambda = lambda;
    else if (lv.alpha == 1) lv.sigma = s, lv.lambda = lambda;
    return lv;
  }

  /// k-diffusion's to_d in this view, d = (x_c − x̂0)/σ_c: (x − x̂0)/σ on a flow (the velocity),
  /// ε̂ otherwise; x0 is scratch. What ComfyUI's linear multistep samplers (iPNDM, tAB-DEIS) store.
  template <class Problem>
  void derivative(Problem& p, const level<T>& l, batch_view<T> x, batch<T>& x0, batch<T>& d) const {
    if (flow) {
      p.data(x, l, x0.view());
      simd::lincomb<T, 2>(d.view().span(), {1 / l.sigma, -1 / l.sigma}, {x.data, x0.data()});
    } else {
      p.epsilon(x, l, d.view());
    }
  }
};

}  // namespace ferry::detail
