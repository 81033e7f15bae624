#pragma once
// Backward (implicit) Euler: x_{n+1} = x_n + h·f(t_{n+1}, x_{n+1})  (Hairer & Wanner, Solving ODEs II,
// §IV.3; L-stable, order 1). The stage is solved by Newton's method on
// y − x_n − h·f(t_{n+1}, y) = 0 with (I − h·J)·δ = −G(y), J from the problem's jvp/vjp or differences.
#include <algorithm>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/stiff/implicit_options.hpp"
#include "ferry/solvers/stiff/newton_stage.hpp"

namespace ferry {

template <class T = double>
struct backward_euler : detail::newton_stage<T> {
  static constexpr int order = 1, evals_per_step = 1;  // per Newton iteration, plus the Jacobian's

  backward_euler() = default;
  explicit backward_euler(implicit_options<T> o) : detail::newton_stage<T>(o, "backward_euler") {}

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const T h = s.next.t - s.cur.t;
    std::copy(x.data, x.data + x.size(), this->c_.data());  // c = x_n; the Newton start is y = x_n
    this->solve(p, s.next, h, x, "backward_euler");
  }
};

}  // namespace ferry
