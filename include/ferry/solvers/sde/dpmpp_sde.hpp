#pragma once
// DPM-Solver++ (stochastic), k-diffusion sample_dpmpp_sde: two ancestral DPM-Solver++(1) stages per
// step, in the EDM view σ̃ = σ/α, with the noise from a virtual Brownian tree W on [σ̃_min, σ̃_max]
// (the schedule's positive levels; random/brownian_tree.hpp) keyed by the run's seed and rows.
// With h = λ_next − λ_cur, λ_s = λ_cur + r·h (r = ½), σ̃_s = e^{−λ_s}, x̃ = x/α:
//   z(a, b)  = (W(b) − W(a))/√|b − a|                                   (k-diffusion BrownianTreeNoiseSampler)
//   (d1, u1) = get_ancestral_step(σ̃_cur, σ̃_s, η)                           (detail/ancestral.hpp)
//   x̃_s      = (d1/σ̃_cur)·x̃ − expm1(λ_cur + log d1)·x̂0 + s_noise·u1·z(σ̃_cur, σ̃_s)
//   (d2, u2) = get_ancestral_step(σ̃_cur, σ̃_next, η),  D = (1 − 1/2r)·x̂0 + (1/2r)·x̂0(x_s, s)
//   x̃_next   = (d2/σ̃_cur)·x̃ − expm1(λ_cur + log d2)·D + s_noise·u2·z(σ̃_cur, σ̃_next)
// (Lu et al. 2022b, DPM-Solver++ Alg. 1 with r, made ancestral). Both increments start at σ̃_cur, as
// k-diffusion's: they are correlated, as the Brownian path makes them. A step to σ = 0 lands on x̂0
// (k-diffusion's Euler step). The state stays in the model's view: x = α·x̃ at every level.
//
// The tree needs the seed and the global rows of the state; with keyed noise (keyed_noise, or a
// keyed runtime_noise) it is keyed by them. Any other noise source (injected step noise) gives the two
// increments of step i as its streams 0 and 1, z(σ̃, σ̃_s) = W[i, 0] and z(σ̃, σ̃_next) = W[i, 1]: what
// ComfyUI's sample_dpmpp_sde does with an injected noise_sampler, and diffusers' DPMSolverSDEScheduler
// (same update: its two step() calls are stage 1 and stage 2, r = ½, η = 1, s_noise = step(s_noise=…))
// with its Brownian-tree sampler replaced by one normal array per call (call 2i → stream 0, 2i + 1 →
// stream 1 of step i). Those two draws are independent, not the tree's correlated increments.
#include <algorithm>
#include <cstdint>
#include <cmath>
#include <limits>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/random/brownian_tree.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/ancestral.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

struct dpmpp_sde_options {
  double eta = 1;             ///< scale of the ancestral noise (0: deterministic DPM-Solver++(2S))
  double s_noise = 1;         ///< scale of the added noise
  double r = 0.5;             ///< intermediate point λ_cur + r·h, 0 < r ≤ 1
  double tree_tol = 1e-6;     ///< Brownian tree leaf width relative to σ̃_max − σ̃_min
};

template <class T = double>
struct dpmpp_sde {
  static constexpr int order = 2, evals_per_step = 2;  ///< order: of the η = 0 limit
  static constexpr bool stochastic = true;
  dpmpp_sde_options opt{};

  dpmpp_sde() = default;
  explicit dpmpp_sde(dpmpp_sde_options o) : opt(o) { check_options(); }

  /// Validates the options and spans the Brownian tree over the schedule's positive σ̃ (the driver
  /// calls this before a run).
  void check(const schedule<T>& s) {
    check_options();
    detail::require_positive_alpha(s, "dpmpp-sde");
    T lo = std::numeric_limits<T>::infinity(), hi = 0;
    for (const auto& l : s.points)
      if (l.sigma > 0) lo = std::min(lo, l.sigma_edm()), hi = std::max(hi, l.sigma_edm());
    if (!(lo < hi)) throw config_error("dpmpp-sde: the Brownian tree needs two distinct positive noise levels in the schedule");
    tree_ = random::brownian_tree<T>(0, 0, lo, hi, T(opt.tree_tol));
    spanned_ = true;
  }

  void reset(extent e) {
    tree_.reset(e);
    x0_.resize(e), x0_s_.resize(e), x_s_.resize(e), w_cur_.resize(e), z_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    if (s.first()) {  // key the tree by the seed and the global rows of this chunk, or draw streams 0, 1
      const keyed_noise* key = ferry::keyed_source(p.noise());
      use_tree_ = key != nullptr;
      if (use_tree_ && !spanned_) throw config_error("dpmpp-sde: call check(schedule) before stepping (ferry::sample does)");
      if (use_tree_) tree_.rekey(key->seed, key->first_row);
    }
    p.data(x, s.cur, x0_.view());
    if (s.next.sigma == 0) {  // to the data: x_next = α_next·x̂0
      simd::lincomb<T, 1>(x.span(), {s.next.alpha}, {x0_.data()});
      return;
    }
    const T eta = T(opt.eta), s_noise = T(opt.s_noise), r = T(opt.r), fac = 1 / (2 * r);
    const T sigma = s.cur.sigma_edm(), h = s.next.lambda - s.cur.lambda, lambda_s = s.cur.lambda + r * h;
    const level<T> mid = p.at(p.process().t_of_lambda(lambda_s));
    if (use_tree_) tree_.value(sigma, w_cur_.view());

    // stage 1, to σ̃_s:  x_s = α_s·[(d1/σ̃)·x/α − expm1(λ + log d1)·x̂0 + s_noise·u1·z]
    const auto [d1, u1] = detail::get_ancestral_step(sigma, std::exp(-lambda_s), eta);
    increment(p, s.index, 0, sigma, std::exp(-lambda_s));
    simd::lincomb<T, 3>(x_s_.view().span(),
                        {mid.alpha * d1 / s.cur.sigma, -mid.alpha * std::expm1(s.cur.lambda + std::log(d1)), mid.alpha * s_noise * u1},
                        {x.data, x0_.data(), z_.data()});
    p.data(x_s_.view(), mid, x0_s_.view());

    // stage 2, to σ̃_next:  x_next = α_next·[(d2/σ̃)·x/α − expm1(λ + log d2)·((1 − fac)·x̂0 + fac·x̂0_s) + s_noise·u2·z]
    const auto [d2, u2] = detail::get_ancestral_step(sigma, s.next.sigma_edm(), eta);
    increment(p, s.index, 1, sigma, s.next.sigma_edm());
    const T a = s.next.alpha, c = -a * std::expm1(s.cur.lambda + std::log(d2));
    simd::lincomb<T, 4>(x.span(), {a * d2 / s.cur.sigma, c * (1 - fac), c * fac, a * s_noise * u2},
                        {x.data, x0_.data(), x0_s_.data(), z_.data()});
  }

 private:
  void check_options() const {
    detail::check_eta_s_noise("dpmpp-sde", opt.eta, opt.s_noise);
    if (!(opt.r > 0 && opt.r <= 1)) throw config_error(detail::cat("dpmpp-sde: r = ", opt.r, "; expected 0 < r <= 1"));
    if (!(opt.tree_tol > 0 && opt.tree_tol < 1))
      throw config_error(detail::cat("dpmpp-sde: tree_tol = ", opt.tree_tol, "; expected 0 < tree_tol < 1"));
  }
  // z_ = (W(b) − W(a))/√|b − a| with W(a) in w_cur_, or stream k of the step.
  template <class Problem>
  void increment(Problem& p, std::size_t step, std::uint32_t k, T a, T b) {
    if (!use_tree_) return p.normal(step, k, z_.view());
    tree_.value(b, z_.view());
    const T inv = 1 / std::sqrt(std::abs(b - a));
    simd::lincomb<T, 2>(z_.view().span(), {inv, -inv}, {z_.data(), w_cur_.data()});
  }

  random::brownian_tree<T> tree_;
  bool spanned_ = false, use_tree_ = false;
  batch<T> x0_, x0_s_, x_s_, w_cur_, z_;
};

}  // namespace ferry
