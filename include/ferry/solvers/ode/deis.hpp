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
#include <algorithm>
#include <array>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/solvers/detail/lagrange.hpp"
#include "ferry/solvers/schedule.hpp"

namespace ferry {

/// diffusers DEISMultistepScheduler option names and defaults.
struct deis_options {
  bool lower_order_final = true;  ///< lower orders in the last two steps of runs with < 15 steps
};

template <int Order, class T = double>
struct deis {
  static_assert(Order >= 1 && Order <= 3, "DEIS is implemented for orders 1, 2 and 3");
  static constexpr int order = Order, evals_per_step = 1;
  deis_options opt{};

  void reset(extent e) { hist_.reset(e); }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    p.epsilon(x, s.cur, hist_.push(s.cur).view());

    const bool short_run = opt.lower_order_final && s.count < 15;
    int k = std::min(Order, int(hist_.size()));
    if (short_run && s.last()) k = 1;
    if (short_run && s.remaining() == 1) k = std::min(k, 2);

    std::array<T, Order> v{};  // nodes log(ρ_j/ρ_cur)
    for (int j = 0; j < k; ++j) v[j] = s.cur.lambda - hist_.at(std::size_t(j)).lambda;
    const T v_next = s.cur.lambda - s.next.lambda;  // −∞ when σ_next = 0
    const T scale = s.next.alpha * (s.cur.sigma / s.cur.alpha);  // α_next·ρ_cur

    detail::terms<T, Order + 1> u;
    u.add(s.next.alpha / s.cur.alpha, x.data);
    for (int j = 0; j < k; ++j)
      u.add(scale * detail::lagrange_exp_integral(v, std::size_t(k), std::size_t(j), v_next), hist_[std::size_t(j)]);
    detail::combine(x, u);
  }

 private:
  detail::history<T, std::size_t(Order)> hist_;
};

}  // namespace ferry
