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
// sample differences of up to ~3e-4 at order 3 on 20–50 step grids. ferry::compat reproduces that
// arithmetic through deis_options::coefficients (compat/diffusers_deis.hpp); the default keeps the
// exact double integrals.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/solvers/detail/lagrange.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

/// The nodes of one DEIS step, for a coefficient rule other than the exact integrals: the step's
/// levels and the levels of the k newest outputs (newest first).
struct deis_nodes {
  level<double> cur, next;
  std::array<level<double>, 3> hist;
  int k;
};
/// Writes the weight of x into c[0] and that of ε̂_j into c[1 + j] (j < k), or returns false to
/// keep the exact integrals for this step.
using deis_coefficient_fn = bool (*)(const deis_nodes&, std::array<double, 4>& c);

/// diffusers DEISMultistepScheduler option names and defaults.
struct deis_options {
  bool lower_order_final = true;  ///< lower orders in the last two steps of runs with < 15 steps
  /// Replaces the exact double integrals: ferry::compat sets diffusers' float32 arithmetic here
  /// (compat/diffusers_deis.hpp), which its samples carry. Null: the exact integrals.
  deis_coefficient_fn coefficients = nullptr;
};

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
    std::array<double, 4> c{};
    if (opt.coefficients && opt.coefficients(nodes(s, k), c)) {
      u.add(T(c[0]), x.data);
      for (int j = 0; j < k; ++j) u.add(T(c[std::size_t(j) + 1]), hist_[std::size_t(j)]);
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
  deis_nodes nodes(const step_span<T>& s, int k) const {
    auto wide = [](const level<T>& l) {
      return level<double>{double(l.t), double(l.alpha), double(l.sigma), double(l.lambda), double(l.d_alpha), double(l.d_sigma)};
    };
    deis_nodes n{wide(s.cur), wide(s.next), {}, k};
    for (int j = 0; j < k; ++j) n.hist[std::size_t(j)] = wide(hist_.at(std::size_t(j)));
    return n;
  }

  detail::history<T, std::size_t(Order)> hist_;
};

}  // namespace ferry
