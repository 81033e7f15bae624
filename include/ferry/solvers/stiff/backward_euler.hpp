#pragma once
// Backward (implicit) Euler: x_{n+1} = x_n + h·f(t_{n+1}, x_{n+1})  (Hairer & Wanner, Solving ODEs II,
// §IV.3; L-stable, order 1). The stage is solved by Newton's method on
// y − x_n − h·f(t_{n+1}, y) = 0 with (I − h·J)·δ = −G(y), J from the problem's jvp/vjp or differences.
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/solvers/schedule.hpp"
#include "ferry/solvers/stiff/implicit_options.hpp"
#include "ferry/solvers/stiff/shifted_jacobian.hpp"

namespace ferry {

template <class T = double>
struct backward_euler {
  static constexpr int order = 1, evals_per_step = 1;  // per Newton iteration, plus the Jacobian's
  static constexpr bool couples_rows = true;  // one linear system (and step size) for the whole batch

  implicit_options<T> opt;
  std::size_t newton_iterations = 0;  ///< since reset

  backward_euler() = default;
  explicit backward_euler(implicit_options<T> o) : opt(o) { opt.validate("backward_euler"); }

  void reset(extent e) {
    sys_.opt = opt.linear;
    sys_.reset(e);
    c_.resize(e);
    fy_.resize(e);
    r_.resize(e);
    newton_iterations = 0;
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const T h = s.next.t - s.cur.t;
    std::copy(x.data, x.data + x.size(), c_.data());  // c = x_n; the Newton start is y = x_n
    newton_iterations += detail::newton_solve<T>(p, sys_, s.next, h, c_.view(), x, fy_.view(), r_.view(),
                                                 opt.newton_tol, opt.newton_max_iter, "backward_euler");
  }

 private:
  detail::shifted_jacobian<T> sys_;
  batch<T> c_, fy_, r_;
};

}  // namespace ferry
