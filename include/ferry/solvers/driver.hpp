#pragma once
// ferry::sample — the one sampling loop. It resets the solver (so multistep history never leaks
// from one run into the next), walks the schedule, calls the observer after each step and stops
// with a numeric_error naming the step and σ if the state stops being finite.
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/solvers/pf_ode.hpp"
#include "ferry/solvers/schedule.hpp"

namespace ferry {

/// What the observer sees after each step.
template <class T>
struct step_report {
  std::size_t index;         ///< 0-based step just taken
  std::size_t count;         ///< steps in the run
  level<T> from, to;         ///< the step's start and landing levels
  std::size_t nfe;           ///< model evaluations so far
  const_batch_view<T> x;     ///< the state after the step
};

struct no_observer {
  template <class R>
  void operator()(const R&) const {}
};

struct sample_options {
  bool check_finite = true;  ///< throw numeric_error on NaN/Inf after a step
};

struct sample_stats {
  std::size_t steps = 0, nfe = 0;
};

/// Runs `solver` over `sched` on the problem (an pf_ode or anything with reset/nfe and the
/// calls the solver makes), updating x in place.
template <class Solver, class Problem, class T, class Observer = no_observer>
sample_stats sample(Problem& problem, const schedule<T>& sched, Solver& solver, batch_view<T> x,
                    Observer&& observer = {}, sample_options opt = {}) {
  static_assert(solver_policy<Solver>, "ferry::sample: the solver must declare order, evals_per_step and reset(extent)");
  sched.validate();
  if constexpr (requires { solver.check(sched); }) solver.check(sched);  // schedule-dependent limits
  problem.reset(x.shape());
  solver.reset(x.shape());
  const std::size_t n = sched.steps();
  for (std::size_t i = 0; i < n; ++i) {
    const step_span<T> s = sched.step(i);
    solver.step(problem, s, x);
    if (opt.check_finite) {
      for (const T v : x.span())
        if (!std::isfinite(v))
          throw numeric_error(detail::cat("sample: the state is not finite after step ", i + 1, " of ", n, " (sigma ",
                                          s.cur.sigma, " -> ", s.next.sigma, ", alpha ", s.cur.alpha, " -> ",
                                          s.next.alpha, ")"));
    }
    observer(step_report<T>{i, n, s.cur, s.next, problem.nfe(), x});
  }
  return {n, problem.nfe()};
}

/// Convenience: the PF-ODE of `process` driven by `model`, over the levels of a grid.
template <class Solver, noise_process P, class M, class T, class Observer = no_observer>
  requires model<M, T> && std::is_same_v<T, typename P::value_type>
sample_stats sample(M& model, const P& process, const schedule<T>& sched, Solver& solver, batch_view<T> x,
                    Observer&& observer = {}, sample_options opt = {}) {
  pf_ode<P, M> problem(process, model);
  return sample(problem, sched, solver, x, std::forward<Observer>(observer), opt);
}

}  // namespace ferry
