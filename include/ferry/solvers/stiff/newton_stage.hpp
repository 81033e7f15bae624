#pragma once
// The implicit stage backward Euler and the trapezoidal rule share: y = c + γ·f(t, y) solved by
// Newton's method on the shifted Jacobian (I − γJ) (Hairer & Wanner, Solving ODEs II, §IV.8).
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/solvers/stiff/implicit_options.hpp"
#include "ferry/solvers/stiff/shifted_jacobian.hpp"

namespace ferry::detail {

/// The one implicit stage of backward Euler and the trapezoidal rule: their options, Newton count
/// and workspaces, and solve(), which finds y = c + γ·f(t, y) by Newton's method from y = the
/// initial value in y (c in c_, set by the step), the Jacobian refreshed every iteration:
/// δ = (I − γJ)⁻¹(c + γ·f(y) − y), y ← y + δ, until max_i |δ_i|/(1 + |y_i|) ≤ tol; numeric_error
/// past max_iter.
template <class T>
struct newton_stage {
  static constexpr bool couples_rows = true;  // one linear system (and step size) for the whole batch
  implicit_options<T> opt;
  std::size_t newton_iterations = 0;  ///< since reset

  newton_stage() = default;
  newton_stage(implicit_options<T> o, const char* who) : opt(o) { opt.validate(who); }

  void reset(extent e) {
    sys_.opt = opt.linear;
    sys_.reset(e);
    c_.resize(e);
    fy_.resize(e);
    r_.resize(e);
    newton_iterations = 0;
  }

 protected:
  template <class Problem>
  void solve(Problem& p, const level<T>& lv, T gamma, batch_view<T> y, const char* who) {
    for (std::size_t it = 1; it <= opt.newton_max_iter; ++it) {
      p.velocity(y, lv, fy_.view());
      for (std::size_t i = 0; i < y.size(); ++i) r_.data()[i] = c_.data()[i] + gamma * fy_.data()[i] - y.data[i];
      sys_.linearise(p, lv, y, fy_.view());
      sys_.solve(p, gamma, r_.view());
      T worst = 0;
      for (std::size_t i = 0; i < y.size(); ++i) {
        y.data[i] += r_.data()[i];
        worst = std::max(worst, std::abs(r_.data()[i]) / (1 + std::abs(y.data[i])));
      }
      if (!std::isfinite(worst)) break;
      if (worst <= opt.newton_tol) {
        newton_iterations += it;
        return;
      }
    }
    throw numeric_error(detail::cat(who, ": Newton's method did not converge in ", opt.newton_max_iter,
                                    " iterations at t=", lv.t, " (gamma=", gamma, "); take smaller steps"));
  }

  shifted_jacobian<T> sys_;
  batch<T> c_, fy_, r_;  // c, f(y), the Newton residual and step
};

}  // namespace ferry::detail
