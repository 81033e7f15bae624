// `ferry sample --solver consistency | meanflow` (sample_fewstep.hpp).
#include "sample_fewstep.hpp"

#include <algorithm>
#include <type_traits>

#include "ferry/models/flow_map.hpp"
#include "ferry/solvers/fewstep/consistency.hpp"
#include "ferry/solvers/fewstep/meanflow.hpp"

namespace ferry::cli {

sample_stats run_fewstep(const sample_args& o, const any_process<double>& process, const gaussian_mixture<double>& model,
                         const schedule<double>& sched, batch_view<double> x, observer_ref<double> observer,
                         const runtime_noise<double>& noise, const sample_options& run) {
  using P = any_process<double>;
  using oracle = pf_ode_flow_map<P, gaussian_mixture<double>>;
  const oracle flow(process, model, {.rtol = std::min(o.rtol, 1e-10), .atol = std::min(o.atol, 1e-10)});
  auto go = [&](auto& distilled, auto solver) {
    pf_ode<P, std::decay_t<decltype(distilled)>, no_transform, runtime_noise<double>> problem(process, distilled, {}, noise);
    return ferry::sample(problem, sched, solver, x, observer, run);
  };
  if (o.solver == "consistency") {
    flow_map_consistency<P, gaussian_mixture<double>> f(flow, sched.points.back());
    return go(f, consistency_sampling<double>{});
  }
  flow_map_average_velocity<P, gaussian_mixture<double>> u(flow);
  return go(u, meanflow<double>{});
}

}  // namespace ferry::cli
