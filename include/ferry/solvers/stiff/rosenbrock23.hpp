#pragma once
// Rosenbrock-W 2(3) of Shampine & Reichelt (1997), "The MATLAB ODE Suite", §3 (MATLAB's ode23s):
// a linearly implicit pair, L-stable, second order, with a third-order error estimate, and a
// W-method (order 2 holds for any approximation of J, so a Jacobian-free solve is fine).
// With d = 1/(2 + √2), e32 = 6 + √2, W = I − h·d·J, J = ∂f/∂x(t_n, y_n), T = h·d·∂f/∂t:
//
//   F0 = f(t_n, y_n)                      k1 = W⁻¹(F0 + T)
//   F1 = f(t_n + h/2, y_n + h/2·k1)       k2 = W⁻¹(F1 − k1) + k1
//   y_{n+1} = y_n + h·k2                  F2 = f(t_{n+1}, y_{n+1})
//   k3 = W⁻¹(F2 − e32·(k2 − F1) − 2·(k1 − F0) + T)
//   e = h/6·(k1 − 2·k2 + k3)              (local error estimate of y_{n+1})
//
// Adaptive (default): each schedule step is integrated with error control as in dopri5,
// err = RMS(e/(atol + rtol·max(|y_n|, |y_{n+1}|))), accept when err ≤ 1,
// h ← h·clamp(safety·err^(−1/3), factor_min, factor_max), no growth right after a rejection.
// F2 of an accepted step is the next F0 (FSAL). With adaptive = false it takes one step per
// schedule step (for measuring its order).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/step_control.hpp"
#include "ferry/solvers/stiff/shifted_jacobian.hpp"

namespace ferry {

template <class T = double>
struct rosenbrock23 {
  static constexpr int order = 2, evals_per_step = 3;  // F0 (FSAL), F1, F2, plus ∂f/∂t and the Jacobian's
  static constexpr bool couples_rows = true;  // one linear system (and step size) for the whole batch

  struct options {
    bool adaptive = true;
    T rtol = T(1e-6), atol = T(1e-6);
    T h_init = 0;  ///< first step as a fraction of the interval; 0 chooses 1/64
    T safety = T(0.9), factor_min = T(0.2), factor_max = T(5);
    std::size_t max_attempts = 1000000;
    bool autonomous = false;  ///< skip the ∂f/∂t difference (T = 0)
    linear_options<T> linear{};
  } opt;

  std::size_t accepted = 0, rejected = 0;  ///< attempts since reset

  rosenbrock23() = default;
  explicit rosenbrock23(options o) : opt(o) {
    detail::check_step_control("rosenbrock23", o.rtol, o.atol, o.safety, o.factor_min, o.factor_max);
    opt.linear.validate("rosenbrock23");
  }

  void reset(extent e) {
    sys_.opt = opt.linear;
    sys_.reset(e);
    for (auto* b : {&f0_, &f1_, &f2_, &k1_, &k2_, &k3_, &dt_, &y_, &y_new_, &err_}) b->resize(e);
    accepted = rejected = 0;
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const T t_end = s.next.t, span = t_end - s.cur.t;
    T t = s.cur.t, h = opt.adaptive ? span * (opt.h_init > 0 ? opt.h_init : T(1) / 64) : span;
    std::copy(x.data, x.data + x.size(), y_.data());
    p.velocity(y_.view(), s.cur, f0_.view());
    bool fresh = false, rejected_last = false;  // fresh: J and ∂f/∂t are at (t, y)
    for (std::size_t attempt = 0;; ++attempt) {
      if (attempt == opt.max_attempts)
        throw numeric_error(detail::cat("rosenbrock23: no convergence after ", attempt, " attempts at t=", t,
                                        " (rtol=", opt.rtol, ", atol=", opt.atol, ")"));
      const bool final = !opt.adaptive || std::abs(h) >= std::abs(t_end - t);
      if (final) h = t_end - t;
      const level<T> lv = p.at(t), lv_end = final ? s.next : p.at(t + h);
      if (!fresh) linearise(p, lv);
      fresh = true;
      attempt_step(p, lv, lv_end, h);
      const T err = opt.adaptive ? detail::error_norm(err_, y_, y_new_, opt.atol, opt.rtol) : T(0);
      if (err <= 1) {
        ++accepted;
        std::swap(y_, y_new_);
        std::swap(f0_, f2_);  // FSAL
        t = final ? t_end : t + h;
        fresh = false;
        if (final) break;
      } else {
        ++rejected;
      }
      h *= detail::step_factor(err, T(-1) / 3, opt.safety, opt.factor_min, opt.factor_max, rejected_last);
      rejected_last = err > 1;
    }
    std::copy(y_.data(), y_.data() + y_.size(), x.data);
  }

 private:
  // J at (t, y) for W, and ∂f/∂t ≈ (f(t + δ, y) − f(t, y))/δ into dt_.
  template <class Problem>
  void linearise(Problem& p, const level<T>& lv) {
    sys_.linearise(p, lv, y_.view(), f0_.view());
    if (opt.autonomous) {
      std::fill(dt_.data(), dt_.data() + dt_.size(), T(0));
      return;
    }
    const T delta = std::sqrt(std::numeric_limits<T>::epsilon()) * std::max(T(1), std::abs(lv.t));
    p.velocity(y_.view(), p.at(lv.t + delta), dt_.view());
    simd::lincomb<T, 2>(dt_.view().span(), {1 / delta, -1 / delta}, {dt_.data(), f0_.data()});
  }

  template <class Problem>
  void attempt_step(Problem& p, const level<T>& lv, const level<T>& lv_end, T h) {
    constexpr T d = 1 / (2 + std::numbers::sqrt2_v<T>), e32 = 6 + std::numbers::sqrt2_v<T>;
    const T gamma = h * d, hd = h * d;
    const level<T> mid = p.at(lv.t + h / 2);
    simd::lincomb<T, 2>(k1_.view().span(), {T(1), hd}, {f0_.data(), dt_.data()});        // F0 + T
    sys_.solve(p, gamma, k1_.view());                                                      // k1 = W⁻¹(F0 + T)
    simd::lincomb<T, 2>(y_new_.view().span(), {T(1), h / 2}, {y_.data(), k1_.data()});
    p.velocity(y_new_.view(), mid, f1_.view());                                            // F1
    simd::lincomb<T, 2>(k2_.view().span(), {T(1), T(-1)}, {f1_.data(), k1_.data()});
    sys_.solve(p, gamma, k2_.view());
    simd::lincomb<T, 2>(k2_.view().span(), {T(1), T(1)}, {k2_.data(), k1_.data()});       // k2 = W⁻¹(F1 − k1) + k1
    simd::lincomb<T, 2>(y_new_.view().span(), {T(1), h}, {y_.data(), k2_.data()});        // y_{n+1} = y_n + h·k2
    p.velocity(y_new_.view(), lv_end, f2_.view());                                         // F2
    if (!opt.adaptive) return;
    // k3 = W⁻¹(F2 − e32·(k2 − F1) − 2·(k1 − F0) + T)
    simd::lincomb<T, 6>(k3_.view().span(), {T(1), -e32, e32, T(-2), T(2), hd},
                        {f2_.data(), k2_.data(), f1_.data(), k1_.data(), f0_.data(), dt_.data()});
    sys_.solve(p, gamma, k3_.view());
    simd::lincomb<T, 3>(err_.view().span(), {h / 6, -h / 3, h / 6}, {k1_.data(), k2_.data(), k3_.data()});
  }

  detail::shifted_jacobian<T> sys_;
  batch<T> f0_, f1_, f2_, k1_, k2_, k3_, dt_, y_, y_new_, err_;
};

}  // namespace ferry
