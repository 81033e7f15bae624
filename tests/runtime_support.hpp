#pragma once
// Tests run solvers the way programs do: through the run-time boundary (runtime/problem.hpp), whose
// one instantiation per policy and scalar type lives in the runtime library. A test that sweeps
// solvers then compiles none of them, and what it checks is the code every program runs.
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "ferry/runtime/registry.hpp"

namespace ferry_test {

/// `solver` (any policy of runtime/policies.hpp) on the PF-ODE of (process, model) with `noise`,
/// over sched, updating x (observer: any step observer, or none).
template <class Solver, class P, class M, class T = typename P::value_type>
ferry::sample_stats run_erased(Solver& solver, const P& process, M& model, const ferry::schedule<T>& sched, ferry::batch_view<T> x,
                               std::type_identity_t<ferry::runtime_noise<T>> noise = {}, ferry::sample_options opt = {},
                               std::type_identity_t<ferry::observer_ref<T>> observer = {}) {
  const ferry::any_process<T> p(process);
  ferry::model_ref<T> m(model);
  ferry::runtime_problem<T> problem(p, m, {}, std::move(noise));
  return ferry::run_policy(solver, problem, sched, x, observer, opt);
}

/// The solver named in s (the registry), likewise.
template <class P, class M, class T = typename P::value_type>
ferry::sample_stats run_named(const ferry::solver_settings& s, const P& process, M& model, const ferry::schedule<T>& sched,
                              ferry::batch_view<T> x, std::type_identity_t<ferry::runtime_noise<T>> noise = {},
                              ferry::sample_options opt = {}) {
  return ferry::with_solver<T>(s, [&](auto solver) { return run_erased(solver, process, model, sched, x, noise, opt); });
}

/// The settings a sweep over solver_names runs `name` with: the defaults, and SA-Solver's noise
/// interval (ComfyUI takes it from a model's σ table; a sweep on EDM has none) as SD1's.
inline ferry::solver_settings sweep_settings(std::string_view name) {
  ferry::solver_settings s{.name = std::string(name)};
  if (name.rfind("sa-solver", 0) == 0) s.sde_start_sigma = 5.0924, s.sde_end_sigma = 0.5712;
  return s;
}

/// Noise sources as the boundary takes them.
inline ferry::runtime_noise<double> keyed(std::uint64_t seed, std::uint64_t first_row = 0) { return {{seed, first_row}, {}, {}}; }
template <class T>
ferry::runtime_noise<T> injected(const ferry::injected_noise<T>& w) {
  return {{}, w, {}};
}

}  // namespace ferry_test
