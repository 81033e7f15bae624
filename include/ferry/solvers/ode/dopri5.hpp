#pragma once
// Dormand–Prince 5(4) (Dormand & Prince 1980; Hairer, Nørsett & Wanner, Solving ODEs I, §II.5):
// seven stages, FSAL, fifth-order solution with an embedded fourth-order error estimate.
// Each schedule step [cur, next] is integrated adaptively in the chosen ode_time.
//
// Error control (Hairer's convention, as scipy's solve_ivp and diffrax use it):
//   e = h Σ (b_i − b̂_i) k_i,   err = √(mean_i (e_i / (atol + rtol·max(|z_i|, |z_new_i|)))²)
//   accept when err ≤ 1;  h ← h · clamp(safety · err^(−1/5), factor_min, factor_max)
// (an integral controller: diffrax's PIDController with pcoeff = 0, icoeff = 1).
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "ferry/core/error.hpp"
#include "ferry/solvers/detail/step_control.hpp"
#include "ferry/solvers/ode/explicit_rk.hpp"

namespace ferry {

inline constexpr butcher_tableau<7> dopri5_tableau{
    .c = {0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1},
    .a = {{{0, 0, 0, 0, 0, 0, 0},
           {1. / 5, 0, 0, 0, 0, 0, 0},
           {3. / 40, 9. / 40, 0, 0, 0, 0, 0},
           {44. / 45, -56. / 15, 32. / 9, 0, 0, 0, 0},
           {19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729, 0, 0, 0},
           {9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656, 0, 0},
           {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84, 0}}},
    .b = {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84, 0},
    // b − b̂, with b̂ = (5179/57600, 0, 7571/16695, 393/640, −92097/339200, 187/2100, 1/40)
    .b_err = {35. / 384 - 5179. / 57600, 0, 500. / 1113 - 7571. / 16695, 125. / 192 - 393. / 640,
              -2187. / 6784 + 92097. / 339200, 11. / 84 - 187. / 2100, -1. / 40},
    .order = 5,
    .error_order = 4,
    .fsal = true};

template <class T = double>
struct dopri5 {
  static constexpr std::size_t stages = 7;
  static constexpr int order = 5, evals_per_step = 6;  // per accepted or rejected attempt, thanks to FSAL
  static constexpr bool couples_rows = true;  // one step size for the whole batch
  static_assert(is_consistent(dopri5_tableau), "Dormand–Prince tableau is inconsistent");

  struct options {
    T rtol = T(1e-5), atol = T(1e-5);
    ode_time time = ode_time::native;
    T h_init = 0;  ///< first step as a fraction of the interval; 0 chooses 1/64
    T safety = T(0.9), factor_min = T(0.2), factor_max = T(10);
    std::size_t max_attempts = 100000;
  } opt;

  /// Accepted and rejected attempts since reset.
  std::size_t accepted = 0, rejected = 0;

  dopri5() = default;
  explicit dopri5(options o) : opt(o) {
    detail::check_step_control("dopri5", o.rtol, o.atol, o.safety, o.factor_min, o.factor_max);
  }

  void reset(extent e) {
    for (auto& k : k_) k.resize(e);
    y_.resize(e);
    z_.resize(e);
    z_new_.resize(e);
    err_.resize(e);
    accepted = rejected = 0;
  }

  void check(const schedule<T>& s) const {
    if (opt.time != ode_time::native) detail::require_positive_alpha(s, "dopri5 in sigma or lambda time");
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    if (s.next.sigma == 0) return land_on_data(p, s, x, y_);
    const detail::ode_frame<T> f{opt.time};
    const T tau_end = f.tau(s.next), span = tau_end - f.tau(s.cur);
    T tau = f.tau(s.cur), h = span * (opt.h_init > 0 ? opt.h_init : T(1) / 64);
    simd::lincomb<T, 1>(z_.view().span(), {1 / f.scale(s.cur)}, {x.data});  // z = x/s: the frame's state
    f.derivative(p, x, s.cur, k_[0].view());
    bool rejected_last = false;
    for (std::size_t attempt = 0;; ++attempt) {
      if (attempt == opt.max_attempts)
        throw numeric_error(detail::cat("dopri5: no convergence after ", attempt, " attempts at tau=", tau,
                                        " (rtol=", opt.rtol, ", atol=", opt.atol, ")"));
      const bool final = std::abs(h) >= std::abs(tau_end - tau);
      if (final) h = tau_end - tau;
      try_step(p, f, tau, h, s.next, final);
      const T err = detail::error_norm(err_, z_, z_new_, opt.atol, opt.rtol);
      if (err <= 1) {
        ++accepted;
        std::swap(z_, z_new_);
        std::swap(k_[0], k_[6]);  // FSAL: the last stage is the next step's first
        tau += h;
        if (final) break;
      } else {
        ++rejected;
      }
      h *= detail::step_factor(err, T(-0.2), opt.safety, opt.factor_min, opt.factor_max, rejected_last);
      rejected_last = err > 1;
    }
    simd::lincomb<T, 1>(x.span(), {f.scale(s.next)}, {z_.data()});
  }

 private:
  // Stages 2..7 from k_[0] at (tau, z_); z_new_ = z + h Σ b_i k_i, err_ = h Σ (b_i − b̂_i) k_i.
  template <class Problem>
  void try_step(Problem& p, const detail::ode_frame<T>& f, T tau, T h, const level<T>& end, bool final) {
    detail::for_each_index(std::make_index_sequence<stages - 1>{}, [&](auto I) {
      constexpr std::size_t i = I + 1;
      const bool at_end = final && dopri5_tableau.c[i] == 1;  // land on the schedule's exact level
      const level<T> lv = at_end ? end : f.level_at(p, tau + T(dopri5_tableau.c[i]) * h);
      const T si = f.scale(lv);
      std::array<T, stages> c{};
      for (std::size_t j = 0; j < i; ++j) c[j] = si * h * T(dopri5_tableau.a[i][j]);
      detail::rk_combine<i>(y_.view(), si, z_.data(), c, k_);  // model-view Y_i = s_i (z + h Σ a_ij k_j)
      f.derivative(p, y_.view(), lv, k_[i].view());
    });
    std::array<T, stages> b{}, e{};
    for (std::size_t j = 0; j < stages; ++j) b[j] = h * T(dopri5_tableau.b[j]), e[j] = h * T(dopri5_tableau.b_err[j]);
    detail::rk_combine<stages>(z_new_.view(), T(1), z_.data(), b, k_);
    detail::rk_combine<stages>(err_.view(), T(0), z_.data(), e, k_);
  }

  std::array<batch<T>, stages> k_;
  batch<T> y_, z_, z_new_, err_;
};

}  // namespace ferry
