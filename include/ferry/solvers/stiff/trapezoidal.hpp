#pragma once
// The trapezoidal rule (Crank–Nicolson): x_{n+1} = x_n + h/2·(f(t_n, x_n) + f(t_{n+1}, x_{n+1}))
// (Hairer & Wanner, Solving ODEs II, §IV.3; A-stable, order 2, not L-stable: stiff components
// alternate in sign instead of decaying). Newton on y − c − (h/2)·f(t_{n+1}, y) = 0 with
// c = x_n + (h/2)·f(t_n, x_n) and (I − (h/2)·J)·δ = −G(y).
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/schedule.hpp"
#include "ferry/solvers/stiff/implicit_options.hpp"
#include "ferry/solvers/stiff/shifted_jacobian.hpp"

namespace ferry {

template <class T = double>
struct trapezoidal {
  static constexpr int order = 2, evals_per_step = 2;  // f(t_n, x_n), then one per Newton iteration
  static constexpr bool couples_rows = true;  // one linear system (and step size) for the whole batch

  implicit_options<T> opt;
  std::size_t newton_iterations = 0;  ///< since reset

  trapezoidal() = default;
  explicit trapezoidal(implicit_options<T> o) : opt(o) { opt.validate("trapezoidal"); }

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
    p.velocity(x, s.cur, fy_.view());
    simd::lincomb<T, 2>(c_.view().span(), {T(1), h / 2}, {x.data, fy_.data()});  // c = x_n + (h/2)·f(t_n, x_n)
    newton_iterations += detail::newton_solve<T>(p, sys_, s.next, h / 2, c_.view(), x, fy_.view(), r_.view(),
                                                 opt.newton_tol, opt.newton_max_iter, "trapezoidal");
  }

 private:
  detail::shifted_jacobian<T> sys_;
  batch<T> c_, fy_, r_;
};

}  // namespace ferry
