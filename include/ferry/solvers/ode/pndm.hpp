#pragma once
// PNDM: pseudo numerical methods for diffusion models (Liu et al. 2022, "Pseudo Numerical Methods for
// Diffusion Models on Manifolds"): the transfer φ(x, e, t → t') of Eq. 9, which is DDIM's step with ε̂
// replaced by e, driven by the linear multistep (PLMS, Eq. 12) or Runge–Kutta (PRK, Eq. 13) combination
// of ε̂'s. diffusers 58eb52c: PNDMScheduler (step_prk, step_plms, _get_prev_sample).
//
//   φ(x, e, t → t') = (α'/α)·x + (σ' − α'·σ/α)·e                   (_get_prev_sample, written cancellation-free there)
// with δ = ⌊N/n⌋ (N training timesteps of the process's table, n steps), e_j the ε̂ kept from previous steps (newest first):
//   PLMS:  x' = φ(x, Σ_j w_j·e_j, t → t − δ),  w = Adams–Bashforth on equal steps, k = min(4, count)
//   skip_prk_steps, first step (pseudo improved Euler, 2 evaluations; e_1 is not kept):
//          e_0 = ε̂(x, t),  e_1 = ε̂(φ(x, e_0, t → t − δ), t_1),  x' = φ(x, (e_0 + e_1)/2, t_1 + δ → t_1)
//   otherwise the first three steps are pseudo RK4 (4 evaluations each, e_1 kept), t_1 the next grid
//   timestep and δ₂ = ⌊δ/2⌋:
//          e_1 = ε̂(x, t),  e_2 = ε̂(φ(x, e_1, t → t − δ₂), t_1 + δ₂),  e_3 = ε̂(φ(x, e_2, t → t_1 + δ₂), t_1 + δ₂),
//          e_4 = ε̂(φ(x, e_3, t → t_1), t_1),  x' = φ(x, (e_1 + 2e_2 + 2e_3 + e_4)/6, t → t_1)
// These are diffusers' timesteps as it computes them (the first half step lands at t − δ₂ while the
// model is told t_1 + δ₂, one timestep apart when δ is odd). The levels off the schedule come from the
// process (p.at), whose time must be the diffusers timestep (discrete_vp). The schedule: the points are
// the n distinct grid timesteps (descending) and an end below them; step i lands at t_1 (the next
// point) for the RK steps and the first skip_prk_steps step, else at t − δ, or where t − δ < 0 at
// final_alpha_cumprod's level (ᾱ_0, or the data level with set_alpha_to_one). With leading spacing
// t − δ is the next point; with linspace and trailing spacing it may not be, and diffusers transfers to
// t − δ all the same (schedule landings).
// These integer-timestep rules apply with num_train_timesteps = N > 0 (diffusers' config value; the
// process time must then be the diffusers timestep: discrete_vp). With N = 0 (the default) the same
// methods run on any grid: the half steps at the level halfway in λ, the first PLMS step from t to t_1
// with e_1 at t_1 (what diffusers does where t − δ = t_1). diffusers' set_timesteps fails for the RK
// warm-up with fewer than 4 steps; so does check() with N > 0.
// With a v-prediction model diffusers combines the raw v outputs and converts the combination to ε at
// the transfer's start (ε = (α·v + σ·x)/(α² + σ²) with that level's α, σ and state): combine = v.
#include <algorithm>
#include <array>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/solvers/detail/lagrange.hpp"

namespace ferry {

/// diffusers PNDMScheduler option names and defaults.
struct pndm_options {
  bool skip_prk_steps = false;               ///< PLMS from the first step (else three pseudo-RK4 steps first)
  prediction combine = prediction::epsilon;  ///< the model output that is combined: diffusers' prediction_type (epsilon | v)
  std::size_t num_train_timesteps = 0;       ///< N > 0: diffusers' integer-timestep rules, δ = ⌊N/n⌋; 0: any grid
};

template <class T = double>
struct pndm {
  static constexpr int order = 4, evals_per_step = 1;  ///< PLMS; PRK steps take 4 evaluations, the first PLMS step 2
  pndm_options opt{};

  pndm() = default;
  explicit pndm(pndm_options o) : opt(o) { check_options(); }

  void check(const schedule<T>& s) const {
    check_options();
    detail::require_positive_alpha(s, "pndm");
    if (opt.num_train_timesteps > 0 && !opt.skip_prk_steps && s.steps() < 4)
      throw config_error(detail::cat("pndm: the Runge-Kutta warm-up (skip_prk_steps = false) needs at least 4 steps, got ", s.steps()));
  }

  void reset(extent e) {
    ets_.reset(e);
    e_.resize(e), xs_.resize(e), sum_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const std::size_t n_train = opt.num_train_timesteps;
    batch<T>& e0 = ets_.push(s.cur);
    p.evaluate(x, s.cur, opt.combine, e0.view());
    if (!opt.skip_prk_steps && s.index < 3) return prk(p, s, x, n_train);
    if (opt.skip_prk_steps && s.first()) {  // pseudo improved Euler
      const bool grid = n_train == 0;
      const T delta = T(grid ? 0 : n_train / s.count);
      transfer(xs_.view(), x, s.cur, grid ? s.next : at(p, s.cur, s.cur.t - delta), e0.data());
      p.evaluate(xs_.view(), s.next, opt.combine, e_.view());
      simd::lincomb<T, 2>(e_.view().span(), {T(0.5), T(0.5)}, {e0.data(), e_.data()});
      return transfer(x, x, grid ? s.cur : at(p, s.cur, s.next.t + delta), s.next, e_.data());
    }
    const std::size_t k = std::min<std::size_t>(4, ets_.size());
    const auto w = detail::adams_bashforth_weights<T>(k);
    detail::terms<T, 4> u;
    for (std::size_t j = 0; j < k; ++j) u.add(w[j], ets_[j]);
    detail::combine(e_.view(), u);
    transfer(x, x, s.cur, s.next, e_.data());
  }

 private:
  template <class Problem>
  void prk(Problem& p, const step_span<T>& s, batch_view<T> x, std::size_t n_train) {
    const T half = T((n_train / s.count) / 2);
    const level<T> a = n_train == 0 ? p.at(p.process().t_of_lambda((s.cur.lambda + s.next.lambda) / 2)) : at(p, s.cur, s.cur.t - half);
    const level<T> b = n_train == 0 ? a : p.at(s.next.t + half);
    const T* e1 = ets_[0].data();
    transfer(xs_.view(), x, s.cur, a, e1);                  // to t − δ with e_1
    p.evaluate(xs_.view(), b, opt.combine, e_.view());     // e_2, told t' + δ
    simd::lincomb<T, 2>(sum_.view().span(), {T(1), T(2)}, {e1, e_.data()});
    transfer(xs_.view(), x, s.cur, b, e_.data());           // to t' + δ with e_2
    p.evaluate(xs_.view(), b, opt.combine, e_.view());     // e_3
    simd::lincomb<T, 2>(sum_.view().span(), {T(1), T(2)}, {sum_.data(), e_.data()});
    transfer(xs_.view(), x, s.cur, s.next, e_.data());      // to t' with e_3
    p.evaluate(xs_.view(), s.next, opt.combine, e_.view());  // e_4
    simd::lincomb<T, 2>(e_.view().span(), {T(1) / 6, T(1) / 6}, {sum_.data(), e_.data()});
    transfer(x, x, s.cur, s.next, e_.data());
  }

  // The process's level at timestep t; `cur` itself where t is its timestep.
  template <class Problem>
  static level<T> at(Problem& p, const level<T>& cur, T t) {
    return t == cur.t ? cur : p.at(t);
  }

  // out = φ(x, ε, from → to) = (α'/α)·x + (σ' − α'σ/α)·ε   (PNDM Eq. 9), ε = e or, for combine = v,
  // (α·e + σ·x)/(α² + σ²); out may alias x.
  void transfer(batch_view<T> out, const_batch_view<T> x, const level<T>& from, const level<T>& to, const T* e) const {
    const T r = to.alpha / from.alpha, c = to.sigma - r * from.sigma;
    if (opt.combine == prediction::v) {
      const T n = from.alpha * from.alpha + from.sigma * from.sigma;
      simd::lincomb<T, 2>(out.span(), {r + c * from.sigma / n, c * from.alpha / n}, {x.data, e});
    } else {
      simd::lincomb<T, 2>(out.span(), {r, c}, {x.data, e});
    }
  }

  void check_options() const {
    if (opt.combine != prediction::epsilon && opt.combine != prediction::v)
      throw config_error(detail::cat("pndm: combine = ", to_string(opt.combine), "; diffusers' PNDM combines epsilon or v outputs"));
  }

  detail::history<T, 4> ets_;  // the ε̂ of each step's start (PRK: its first stage)
  batch<T> e_, xs_, sum_;
};

}  // namespace ferry
