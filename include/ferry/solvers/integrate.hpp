#pragma once
// ferry::integrate — an ODE policy over [t0, t1] on a plain vector field, in n equal steps
// (forwards or backwards in time). The sampling driver walks a noise schedule; this walks time,
// for the fields of training (adjoint systems, continuous normalizing flows, stiff test problems).
// An adaptive policy (dopri5, rosenbrock23) integrates each of the n steps adaptively.
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/solvers/ode/explicit_rk.hpp"
#include "ferry/driver/field_problem.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

/// Steps taken and field evaluations made by one integrate() call.
struct integrate_stats {
  std::size_t steps = 0, nfe = 0;
};

/// x ← x(t1) from x = x(t0) under dx/dt = f(t, x), with `steps` equal steps of the policy.
template <class Solver, class F, class T>
  requires vector_field<F, T>
integrate_stats integrate(F& f, Solver& solver, T t0, T t1, std::size_t steps, batch_view<T> x) {
  static_assert(solver_policy<Solver>, "ferry::integrate: the solver must declare order, evals_per_step and reset(extent)");
  if (steps == 0) throw config_error("integrate: steps is 0; need at least 1");
  if constexpr (requires { solver.opt.time; })
    if (solver.opt.time != ode_time::native)
      throw config_error("integrate: a plain vector field has only its own time; use ode_time::native");
  field_problem<T, F> problem(f);
  problem.reset(x.shape());
  solver.reset(x.shape());
  const T h = (t1 - t0) / T(steps);
  for (std::size_t i = 0; i < steps; ++i) {
    const T a = t0 + T(i) * h, b = i + 1 == steps ? t1 : t0 + T(i + 1) * h;
    solver.step(problem, step_span<T>{field_level(a), field_level(b), i, steps}, x);
  }
  return {steps, problem.nfe()};
}

}  // namespace ferry
