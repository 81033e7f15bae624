#pragma once
// The trapezoidal rule (Crank–Nicolson): x_{n+1} = x_n + h/2·(f(t_n, x_n) + f(t_{n+1}, x_{n+1}))
// (Hairer & Wanner, Solving ODEs II, §IV.3; A-stable, order 2, not L-stable: stiff components
// alternate in sign instead of decaying). Newton on y − c − (h/2)·f(t_{n+1}, y) = 0 with
// c = x_n + (h/2)·f(t_n, x_n) and (I − (h/2)·J)·δ = −G(y).
#include <algorithm>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/stiff/implicit_options.hpp"
#include "ferry/solvers/stiff/newton_stage.hpp"

namespace ferry {

template <class T = double>
struct trapezoidal : detail::newton_stage<T> {
  static constexpr int order = 2, evals_per_step = 2;  // f(t_n, x_n), then one per Newton iteration

  trapezoidal() = default;
  explicit trapezoidal(implicit_options<T> o) : detail::newton_stage<T>(o, "trapezoidal") {}

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const T h = s.next.t - s.cur.t;
    p.velocity(x, s.cur, this->fy_.view());
    simd::lincomb<T, 2>(this->c_.view().span(), {T(1), h / 2}, {x.data, this->fy_.data()});  // c = x_n + (h/2)·f(t_n, x_n)
    this->solve(p, s.next, h / 2, x, "trapezoidal");
  }
};

}  // namespace ferry
