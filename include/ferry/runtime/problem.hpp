#pragma once
// The run-time boundary. A program that chooses its process, model, transform, noise and solver from
// its input (the CLI, the demo, tests and benchmarks that sweep solvers) meets the library through
// one problem type per scalar type,
//
//   runtime_problem<T> = pf_ode<any_process<T>, model_ref<T>, any_transform<T>, runtime_noise<T>>
//
// and runs a policy on it with run_policy. Every policy of the registry is explicitly instantiated
// once per scalar type on this problem (runtime/policies.hpp), in TUs of its own that every program
// of the repo links (cmake/ferry_runtime.cmake), so a program that names twenty solvers compiles
// none of them. Behind the boundary a model evaluation of a whole row chunk is one indirect call and
// a level a few: the loop, the solver and the kernels stay fully inlined. The templated path — a
// user's own model and process in ferry::sample — is untouched and gives the same bits.
#include "ferry/driver/driver.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/runtime/any_process.hpp"
#include "ferry/runtime/any_transform.hpp"
#include "ferry/runtime/model_ref.hpp"
#include "ferry/runtime/observer_ref.hpp"
#include "ferry/solvers/inversion.hpp"

namespace ferry {

template <class T>
using runtime_problem = pf_ode<any_process<T>, model_ref<T>, any_transform<T>, runtime_noise<T>>;

/// Runs `solver` on the problem over the schedule: ferry::invert when the schedule runs toward
/// noise (direction::invert), ferry::sample otherwise. What the registry instantiates per policy.
template <class Solver, class T>
sample_stats run_policy(Solver& solver, runtime_problem<T>& problem, const schedule<T>& sched, batch_view<T> x,
                        observer_ref<T> observer, const sample_options& options) {
  if (sched.dir == direction::invert) return ferry::invert(problem, sched, solver, x, observer, options);
  return ferry::sample(problem, sched, solver, x, observer, options);
}

}  // namespace ferry
