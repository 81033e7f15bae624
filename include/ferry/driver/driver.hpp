#pragma once
// ferry::sample — the one sampling loop. It resets the solver (so multistep history never leaks
// from one run into the next), walks the schedule, calls the observer after each step and stops
// with a numeric_error naming the step and σ if the state stops being finite.
//
// Rows are independent samples, so a run splits into row chunks that run concurrently (OpenMP,
// static schedule), each with its own copy of the solver and problem.for_rows(first row): every
// row sees the same arithmetic and the same keyed noise whatever the chunking, and the result is
// bitwise the same for any thread count or chunk size. Solvers whose steps couple rows (adaptive
// step control on a batch norm: `static constexpr bool couples_rows = true`) run as one chunk.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/row_chunks.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"

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

/// Whether an observer watches this run: no_observer never does; one with `bool active() const`
/// can be switched off at run time (so one instantiation serves recorded and chunked runs).
template <class Observer>
bool watching(const Observer& o) {
  if constexpr (std::is_same_v<Observer, no_observer>) return false;
  else if constexpr (requires { o.active(); }) return bool(o.active());
  else return true;
}

struct sample_options {
  bool check_finite = true;    ///< throw numeric_error on NaN/Inf after a step
  int threads = 1;             ///< threads over row chunks (OpenMP; a serial build runs them in turn)
  std::size_t chunk_rows = 0;  ///< rows per chunk; 0: the rows split evenly over the threads
};

struct sample_stats {
  std::size_t steps = 0, nfe = 0;
};

namespace detail {

template <class Solver, class Problem, class T, class Observer>
sample_stats sample_serial(Problem& problem, const schedule<T>& sched, Solver& solver, batch_view<T> x, Observer& observer,
                           const sample_options& opt, std::size_t first_row) {
  problem.reset(x.shape());
  solver.reset(x.shape());
  const std::size_t n = sched.steps();
  for (std::size_t i = 0; i < n; ++i) {
    const step_span<T> s = sched.step(i);
    solver.step(problem, s, x);
    if (opt.check_finite) {
      const auto bad = std::find_if(x.data, x.data + x.size(), [](T v) { return !std::isfinite(v); });
      if (bad != x.data + x.size())
        throw numeric_error(cat("sample: the state is not finite after step ", i + 1, " of ", n, " (sigma ", s.cur.sigma,
                                " -> ", s.next.sigma, ", alpha ", s.cur.alpha, " -> ", s.next.alpha, "), first at sample ",
                                first_row + std::size_t(bad - x.data) / std::max<std::size_t>(x.cols, 1)));
    }
    observer(step_report<T>{i, n, s.cur, s.next, problem.nfe(), x});
  }
  return {n, problem.nfe()};
}

/// Stochastic solvers declare `static constexpr bool stochastic = true`; problems carry a noise
/// source (has_noise, pf_ode.hpp). A solver whose steps draw only on some grids (multistep
/// consistency: not on a one-step run) declares `noise_checked_per_step` and refuses in the step.
template <class Solver>
inline constexpr bool is_stochastic = [] {
  if constexpr (requires { Solver::stochastic; }) return bool(Solver::stochastic);
  return false;
}();
template <class Solver>
inline constexpr bool noise_checked_per_step = requires { Solver::noise_checked_per_step; };

template <class Solver, class Problem, class T, class Observer>
sample_stats sample_chunks(Problem& problem, const schedule<T>& sched, Solver& solver, batch_view<T> x, Observer& observer,
                           sample_options opt);

}  // namespace detail

/// Runs `solver` over `sched` on the problem (a pf_ode or anything with reset/nfe and the
/// calls the solver makes), updating x in place. With opt.threads > 1 or opt.chunk_rows set, the
/// rows run in chunks (the problem must offer for_rows, and the observer must not be watching:
/// it would see partial states); stats.nfe is then the evaluations of one chunk, i.e. per sample.
template <class Solver, class Problem, class T, class Observer = no_observer>
sample_stats sample(Problem& problem, const schedule<T>& sched, Solver& solver, batch_view<T> x,
                    Observer&& observer = {}, sample_options opt = {}) {
  static_assert(solver_policy<Solver>, "ferry::sample: the solver must declare order, evals_per_step and reset(extent)");
  if constexpr (detail::is_stochastic<Solver> && !detail::has_noise<Problem> && !detail::noise_checked_per_step<Solver>) {
    // Checked at run time so that programs choosing solvers by name (with_solver) still compile
    // with a deterministic problem.
    throw config_error("sample: this solver draws noise at every step; give the problem a noise source (keyed_noise or injected_noise)");
  } else {
    return detail::sample_chunks(problem, sched, solver, x, observer, opt);
  }
}

namespace detail {
template <class Solver, class Problem, class T, class Observer>
sample_stats sample_chunks(Problem& problem, const schedule<T>& sched, Solver& solver, batch_view<T> x, Observer& observer,
                           sample_options opt) {
  sched.validate();
  if constexpr (requires { solver.check(sched); }) solver.check(sched);  // schedule-dependent limits
  if (opt.threads < 1) throw config_error(detail::cat("sample: threads must be at least 1, got ", opt.threads));
  const std::size_t rows = x.rows;
  std::size_t chunk = opt.chunk_rows ? opt.chunk_rows : (rows + std::size_t(opt.threads) - 1) / std::size_t(opt.threads);
  if constexpr (requires { Solver::couples_rows; }) {
    if (Solver::couples_rows) chunk = rows;
  }
  chunk = std::max<std::size_t>(chunk, 1);
  if (chunk >= rows) return detail::sample_serial(problem, sched, solver, x, observer, opt, 0);

  if (watching(observer))
    throw config_error("sample: an observer sees the whole state after each step; run it with one chunk (threads = 1)");
  if constexpr (!requires { problem.for_rows(std::size_t(0)); }) {
    throw config_error("sample: this problem cannot be split into row chunks (it has no for_rows); use threads = 1");
  } else {
    std::vector<sample_stats> stats(row_chunk_count(rows, chunk));
    for_row_chunks(rows, chunk, opt.threads, [&](std::size_t first, std::size_t count) {
      auto p = problem.for_rows(first);
      Solver s = solver;
      no_observer none;
      stats[first / chunk] = detail::sample_serial(p, sched, s, x.rows_slice(first, count), none, opt, first);
    });
    return stats.front();
  }
}
}  // namespace detail

/// Convenience: the PF-ODE of `process` driven by `model`, over the levels of a grid.
template <class Solver, noise_process P, class M, class T, class Observer = no_observer>
  requires model<M, T> && std::is_same_v<T, typename P::value_type>
sample_stats sample(M& model, const P& process, const schedule<T>& sched, Solver& solver, batch_view<T> x,
                    Observer&& observer = {}, sample_options opt = {}) {
  pf_ode<P, M> problem(process, model);
  return sample(problem, sched, solver, x, std::forward<Observer>(observer), opt);
}

}  // namespace ferry
