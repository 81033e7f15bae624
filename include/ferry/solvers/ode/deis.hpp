#pragma once
// DEIS, ρAB-DEIS with Lagrange interpolation in log ρ (Zhang & Chen 2023, "Fast Sampling of Diffusion
// Models with Exponential Integrator", Eq. 15 and App. on log-ρ). diffusers: DEISMultistepScheduler
// (algorithm_type deis, solver_type logrho).
//
// In the EDM view x̃ = x/α, ρ = σ/α the PF-ODE is dx̃/dρ = ε̂. Interpolating ε̂ through the last k
// outputs by a polynomial in log ρ and integrating exactly over [ρ_cur, ρ_next]:
//   x_next = α_next·( x/α_cur + Σ_j c_j·ε̂_j ),   c_j = ∫_{ρ_cur}^{ρ_next} ℓ_j(log ρ) dρ
//                                                     = ρ_cur·∫_0^{v_next} ℓ_j(v)·e^v dv,  v = log(ρ/ρ_cur) = λ_cur − λ
// (diffusers writes the same integrals as closed forms, ind_fn). Order 1 is DDIM. The integral stays
// finite for ρ_next = 0, so a step to σ = 0 keeps its order (diffusers' DEIS never lands on σ = 0).
// Orders: warm-up min(Order, i + 1); lower_order_final with fewer than 15 steps makes the last step
// first order and the second-to-last at most second order (diffusers 58eb52c).
//
// diffusers computes these coefficients from float32 tensors: α = 1/√(σ̃²+1), σ = σ̃·α, ρ = σ/α from
// its float32 σ̃ table, order 1 as the DDIM form with λ = log α − log σ, orders 2 and 3 as ind_fn with
// NumPy float32 logs. ind_fn(ρ_next) − ind_fn(ρ_cur) cancels, which turns float32 rounding into
// sample differences of up to ~3e-4 at order 3 on 20–50 step grids. float32_coefficients reproduces
// that arithmetic; the default keeps the exact double integrals.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/process/discrete_vp.hpp"
#include "ferry/solvers/detail/lagrange.hpp"
#include "ferry/solvers/schedule.hpp"

namespace ferry {

/// diffusers DEISMultistepScheduler option names and defaults.
struct deis_options {
  bool lower_order_final = true;  ///< lower orders in the last two steps of runs with < 15 steps
  /// Round the step coefficients as diffusers does (float32 α, σ, ρ, logs and ind_fn from the float32
  /// σ̃ = σ/α of each level) instead of the exact double integrals. Only for reproducing diffusers'
  /// samples; a step to σ = 0 (NaN in diffusers) keeps the exact coefficients.
  bool float32_coefficients = false;
  /// The float32 log of ρ in orders 2 and 3 when float32_coefficients is set: diffusers calls NumPy's
  /// (SIMD, up to 3.8 ulp off; ferry::compat passes its emulation). Correctly rounded by default.
  float (*float32_log)(float) = detail::log_f32_rn;
};

namespace detail {

/// A level as diffusers' DEIS sees it: its float32 σ̃, then α = 1/√(σ̃²+1), σ = σ̃·α, ρ = σ/α in float32.
struct deis_f32_level {
  float alpha, sigma, rho;
};

template <class T>
deis_f32_level deis_f32(const level<T>& l) {
  const auto tilde = static_cast<float>(double(l.sigma) / double(l.alpha));  // exactly the float32 table entry
  const float alpha = f32_div(1.0f, f32_sqrt(f32_add(f32_mul(tilde, tilde), 1.0f)));
  const float sigma = f32_mul(tilde, alpha);
  return {alpha, sigma, f32_div(sigma, alpha)};
}

}  // namespace detail

template <int Order, class T = double>
struct deis {
  static_assert(Order >= 1 && Order <= 3, "DEIS is implemented for orders 1, 2 and 3");
  static constexpr int order = Order, evals_per_step = 1;
  deis_options opt{};

  void reset(extent e) { hist_.reset(e); }

  void check(const schedule<T>& s) const { detail::require_positive_alpha(s, "deis"); }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    p.epsilon(x, s.cur, hist_.push(s.cur).view());

    const int k = detail::multistep_order(Order, hist_.size(), s, opt.lower_order_final);

    detail::terms<T, Order + 1> u;
    if (opt.float32_coefficients && s.next.sigma > 0) {
      add_float32_terms(u, s, k, x);
    } else {
      std::array<T, Order> v{};  // nodes log(ρ_j/ρ_cur)
      for (int j = 0; j < k; ++j) v[j] = s.cur.lambda - hist_.at(std::size_t(j)).lambda;
      const T v_next = s.cur.lambda - s.next.lambda;  // −∞ when σ_next = 0
      const T scale = s.next.alpha * (s.cur.sigma / s.cur.alpha);  // α_next·ρ_cur
      u.add(s.next.alpha / s.cur.alpha, x.data);
      for (int j = 0; j < k; ++j)
        u.add(scale * detail::lagrange_exp_integral(v, std::size_t(k), std::size_t(j), v_next), hist_[std::size_t(j)]);
    }
    detail::combine(x, u);
  }

 private:
  // diffusers' float32 coefficients, applied to the double state as its float64 tensors are.
  //   order 1:  x_next = (α_next/α_cur)·x − σ_next·(e^h − 1)·ε̂_0,  h = λ_next − λ_cur (torch float32 log/exp,
  //             taken correctly rounded here; torch's may differ by an ulp)
  //   order k:  x_next = α_next·(x/α_cur + Σ_j c_j·ε̂_j),  c_j = ind_fn differences in float32
  void add_float32_terms(detail::terms<T, Order + 1>& u, const step_span<T>& s, int k, batch_view<T> x) const {
    using detail::f32_mul;
    using detail::f32_sub;
    const detail::deis_f32_level nx = detail::deis_f32(s.next), cu = detail::deis_f32(s.cur);
    if (k == 1) {
      auto lambda = [](const detail::deis_f32_level& l) { return f32_sub(detail::log_f32_rn(l.alpha), detail::log_f32_rn(l.sigma)); };
      const float h = f32_sub(lambda(nx), lambda(cu));
      const float e_h_minus_1 = f32_sub(static_cast<float>(std::exp(double(h))), 1.0f);
      u.add(T(detail::f32_div(nx.alpha, cu.alpha)), x.data);
      u.add(-T(f32_mul(nx.sigma, e_h_minus_1)), hist_[0]);
      return;
    }
    std::array<float, 3> rho{};
    for (int j = 0; j < k; ++j) rho[std::size_t(j)] = detail::deis_f32(hist_.at(std::size_t(j))).rho;
    u.add(T(nx.alpha) / T(cu.alpha), x.data);
    for (int j = 0; j < k; ++j)
      u.add(T(nx.alpha) * T(detail::lagrange_log_integral_f32(rho, std::size_t(k), std::size_t(j), nx.rho, opt.float32_log)),
            hist_[std::size_t(j)]);
  }

  detail::history<T, std::size_t(Order)> hist_;
};

}  // namespace ferry
