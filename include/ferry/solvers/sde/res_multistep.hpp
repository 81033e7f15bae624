#pragma once
// RES multistep: the second-order exponential multistep method of Zhang et al. 2023 ("Improved Order
// Analysis and Design of Exponential Integrator for Diffusion Models", arXiv:2308.02157, the 2-step
// RES of §4 in data prediction), made ancestral with η. ComfyUI a125cd8: res_multistep (η = 0:
// sample_res_multistep; sample_res_multistep_ancestral with η = 1, s_noise = 1).
//
// In ComfyUI's view (detail/comfy_view.hpp: y = x/c at noise s, on every model sampling with
// t = −log s — ComfyUI has no CONST branch here, so a flow's σ is used as an EDM σ), with D = x̂0:
//   (s↓, s↑) = get_ancestral_step(s, s', η)                                   (k-diffusion's split)
//   first step, or s↓ = 0:  y' = y + (s↓ − s)·(y − D)/s                       (Euler)
//   otherwise, with t = −log s, t↓ = −log s↓, h = t↓ − t, the previous output D_1 taken at t_1 and the
//   previous step's t↓_1,   c_2 = (t_1 − t↓_1)/h,  b_2 = φ_2(−h)/c_2,  b_1 = φ_1(−h) − b_2:
//                           y' = e^{−h}·y + h·(b_1·D + b_2·D_1)
//   then, where s' > 0:     y' += s_noise·s↑·z
// and x_next = c'·y'. With η = 0 (s↓ = s', t↓_1 = t) this is the exponential AB2 of RES; c_2 is
// −h_1/h there. One model evaluation, one draw (step i, stream 0) where s↑ > 0.
#include <cmath>
#include <utility>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/ancestral.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"
#include "ferry/solvers/detail/phi.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"

namespace ferry {

/// ComfyUI's res_multistep arguments (eta 0: res_multistep; eta 1: res_multistep_ancestral).
struct res_multistep_options {
  double eta = 0;      ///< ancestral noise: 0 deterministic, 1 the full ancestral step
  double s_noise = 1;  ///< scale of the added noise
  bool flow_view = true;  ///< on a flow, ComfyUI's CONST view (the flow's own state and σ); false: x/α at σ/α
};

template <class T = double>
struct res_multistep {
  static constexpr int order = 2, evals_per_step = 1;  ///< order: of η = 0
  static constexpr bool stochastic = true;
  static constexpr bool noise_checked_per_step = true;  // η = 0 draws nothing
  res_multistep_options opt{};

  /// Whether a run with these options draws noise (η > 0 and s_noise > 0).
  bool draws_noise() const { return opt.eta > 0 && opt.s_noise > 0; }

  res_multistep() = default;
  explicit res_multistep(res_multistep_options o) : opt(o) { check_options(); }

  void check(const schedule<T>&) const { check_options(); }

  void reset(extent e) {
    x0_.resize(e), x0_prev_.resize(e), z_.resize(e);
    has_prev_ = false;
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const auto v = detail::comfy_view<T>::of(s, opt.flow_view);
    const T sigma = v.sigma(s.cur), sigma_next = v.sigma(s.next), c = v.scale(s.cur), c_next = v.scale(s.next);
    const auto [down, up] = detail::get_ancestral_step(sigma, sigma_next, T(opt.eta));
    const T noise = sigma_next > 0 ? T(opt.s_noise) * up : T(0);
    if constexpr (!detail::has_noise<Problem>)
      if (noise > 0)
        throw config_error(detail::cat("res-multistep: step ", s.index + 1, " adds noise (eta ", opt.eta,
                                       "); give the problem a noise source (a seed)"));
    p.data(x, s.cur, x0_.view());
    detail::terms<T, 4> u;
    if (down == 0 || !has_prev_) {  // Euler: y' = (s↓/s)·y + (1 − s↓/s)·D
      u.add(c_next * down / sigma / c, x.data);
      u.add(c_next * (1 - down / sigma), x0_);
    } else {  // RES 2-step: y' = e^{−h}·y + h·(b_1·D + b_2·D_1)
      const T t = -std::log(sigma), h = -std::log(down) - t;
      const T c2 = (-std::log(sigma_prev_) + std::log(down_prev_)) / h;
      const T b2 = detail::phi(2, -h) / c2, b1 = detail::phi(1, -h) - b2;
      u.add(c_next * std::exp(-h) / c, x.data);
      u.add(c_next * h * b1, x0_);
      u.add(c_next * h * b2, x0_prev_);
    }
    if constexpr (detail::has_noise<Problem>) {
      if (noise > 0) {
        p.normal(s.index, 0, z_.view());
        u.add(c_next * noise, z_);  // + s_noise·s↑·z
      }
    }
    detail::combine(x, u);
    std::swap(x0_, x0_prev_);
    sigma_prev_ = sigma, down_prev_ = down, has_prev_ = true;
  }

 private:
  void check_options() const { detail::check_eta_s_noise("res-multistep", opt.eta, opt.s_noise); }

  batch<T> x0_, x0_prev_, z_;
  T sigma_prev_ = 0, down_prev_ = 0;
  bool has_prev_ = false;
};

/// ComfyUI's res_multistep_ancestral (η = 1, s_noise = 1 by default).
template <class T = double>
res_multistep<T> res_multistep_ancestral(double eta = 1, double s_noise = 1) {
  return res_multistep<T>({.eta = eta, .s_noise = s_noise});
}

}  // namespace ferry
