#pragma once
// Few-step solvers need a distilled model; the mixture's exact one is its PF-ODE flow map (dopri5
// at --rtol/--atol, at most 1e-10, so float64 only): the consistency function to the grid's last
// level, or the average velocity. In their own TU (sample_fewstep.cpp): they are no registry
// policies, since they run only on such models.
#include "ferry/driver/driver.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/runtime/any_process.hpp"
#include "ferry/runtime/observer_ref.hpp"
#include "sample_args.hpp"

namespace ferry::cli {

/// `--solver consistency | meanflow` over `sched` on the process, from x.
sample_stats run_fewstep(const sample_args& o, const any_process<double>& process, const gaussian_mixture<double>& model,
                         const schedule<double>& sched, batch_view<double> x, observer_ref<double> observer,
                         const runtime_noise<double>& noise, const sample_options& run);

}  // namespace ferry::cli
