#pragma once
// DPM-2 and DPM-2 ancestral (k-diffusion's sample_dpm_2 / sample_dpm_2_ancestral, "inspired by
// DPM-Solver-2 (Lu et al. 2022, Alg. 1, r = ½) and Karras et al. 2022, Alg. 2"; ComfyUI's dpm_2,
// dpm_2_ancestral and sample_dpm_2_ancestral_RF; diffusers' KDPM2DiscreteScheduler and
// KDPM2AncestralDiscreteScheduler). In ComfyUI's view of the state (detail/comfy_view.hpp: σ̃, x̃ =
// x/α; on a flow the flow σ and x), with d(x, σ) = (x − x̂0(x, σ))/σ:
//
//   split    σ_down, and the landing x' = k·x_down + s_noise·σ_up·z:
//              EDM view  (σ_down, σ_up) = get_ancestral_step(σ, σ', η), k = 1
//              flow      σ_down = σ'(1 + (σ'/σ − 1)η), k = α'/α_down, σ_up = √(σ'² − (kσ_down)²)  (_RF)
//   σ_mid  = exp(½(log σ + log σ_down))                       (geometric mean: the λ-midpoint)
//   u      = x + (σ_mid − σ)·d(x, σ)                          (Euler to σ_mid)
//   x_down = x + (σ_down − σ)·d(u, σ_mid)                     (DPM-Solver-2 in σ)
//
// η = 0 is DPM-2 (σ_down = σ', no noise). A step with σ_down = 0 is one Euler step, x_down = x̂0, and
// adds no noise (as the peers). In the EDM view x' = α'·x̃' (the noise enters as α'·σ_up·z). Churn
// (sample_dpm_2's s_churn) is edm_churn<dpm_2>. Order 2 at η = 0; two evaluations per step (one on the
// step to σ_down = 0); the noise is stream 0 of the step, drawn only where η > 0.
#include <cmath>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/ancestral.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

template <class T = double>
struct dpm_2 {
  static constexpr int order = 2, evals_per_step = 2;
  static constexpr bool stochastic = true;
  static constexpr bool noise_checked_per_step = true;  // η = 0 draws nothing

  struct options {
    T eta = 0;              ///< 0: DPM-2; 1: DPM-2 ancestral
    T s_noise = 1;          ///< scale of the added noise
    bool flow_view = true;  ///< on a flow, ComfyUI's CONST view (and its _RF split)
  } opt;

  /// Whether a run with these options draws noise (η > 0 and s_noise > 0).
  bool draws_noise() const { return opt.eta > 0 && opt.s_noise > 0; }

  dpm_2() = default;
  explicit dpm_2(options o) : opt(o) { detail::check_eta_s_noise("dpm-2", opt.eta, opt.s_noise); }

  void reset(extent e) {
    x0_.resize(e), u_.resize(e), z_.resize(e);
  }
  void check(const schedule<T>& s) const {
    for (std::size_t i = 0; i < s.steps(); ++i)
      if (!detail::comfy_view<T>::of(s.step(i), opt.flow_view).flow) return detail::require_positive_alpha(s, "dpm-2");
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const auto v = detail::comfy_view<T>::of(s, opt.flow_view);
    const T sigma = v.sigma(s.cur), a = v.scale(s.cur), sigma_next = v.sigma(s.next);
    T down = sigma_next, k = 1, up = 0;
    if (sigma_next > 0 && opt.eta > 0) {
      if (v.flow) {
        const auto rf = detail::get_ancestral_step_rf(sigma, sigma_next, opt.eta);
        down = rf.down, k = rf.scale, up = rf.renoise;
      } else {
        const auto split = detail::get_ancestral_step(sigma, sigma_next, opt.eta);
        down = split.down, up = split.up;
      }
    }
    const T lift = v.scale(s.next) * k;  // x' = lift·x̃_down + noise·z
    const T noise = down > 0 ? v.scale(s.next) * opt.s_noise * up : T(0);
    if constexpr (!detail::has_noise<Problem>)
      if (noise > 0) throw config_error("dpm-2 with eta > 0 draws noise; give the problem a noise source (a seed)");
    p.data(x, s.cur, x0_.view());
    detail::terms<T, 4> t;
    if (down == 0) {
      t.add(lift, x0_);                                                            // Euler to σ_down = 0: x̂0
    } else {
      const T mid_sigma = std::exp(std::log(down) - (std::log(down) - std::log(sigma)) / 2);
      const level<T> mid = v.at(p, mid_sigma);
      const T sm = v.scale(mid), r = mid_sigma / sigma;
      simd::lincomb<T, 2>(u_.view().span(), {sm * r / a, sm * (1 - r)}, {x.data, x0_.data()});   // u = x + (σ_mid − σ)·d
      p.data(u_.view(), mid, x0_.view());
      const T c = lift * (down - sigma) / mid_sigma;
      t.add(lift / a, x.data), t.add(c / sm, u_), t.add(-c, x0_);                 // x + (σ_down − σ)·d(u, σ_mid)
    }
    if constexpr (detail::has_noise<Problem>) {
      if (noise > 0) {
        p.normal(s.index, 0, z_.view());
        t.add(noise, z_);                                                          // + s_noise·σ_up·z
      }
    }
    detail::combine(x, t);
  }

 private:
  batch<T> x0_, u_, z_;
};

/// DPM-2 itself (ComfyUI's dpm_2, diffusers' KDPM2DiscreteScheduler) is dpm_2<T>{}; DPM-2 ancestral (ComfyUI's dpm_2_ancestral with its _RF branch, diffusers' KDPM2AncestralDiscreteScheduler).
template <class T = double>
dpm_2<T> dpm_2_ancestral(T eta = 1, T s_noise = 1) {
  return dpm_2<T>({.eta = eta, .s_noise = s_noise, .flow_view = true});
}

}  // namespace ferry
