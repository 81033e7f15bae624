// The README's example: a model, a noise process and a solver policy, composed and run.
// It includes what it uses (<ferry/ferry.hpp> would include the whole library: a slower compile).
#include <ferry/driver/driver.hpp>
#include <ferry/grid/grid.hpp>
#include <ferry/models/gaussian_mixture.hpp>
#include <ferry/process/vp_linear.hpp>
#include <ferry/solvers/ode/dpmpp_multistep.hpp>

#include <cstdio>
#include <random>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s GMM.json\n", argv[0]);
    return 2;
  }
  auto model = ferry::gaussian_mixture<double>::load(argv[1]);   // any model: a concept, not a base class
  model.predicts = ferry::prediction::epsilon;                      // it answers ε̂; solvers convert
  const ferry::vp_linear<double> process;                           // VP, VE, EDM, flow, diffusers β tables
  const auto sched = ferry::make_schedule(
      ferry::make_grid(process, {.kind = ferry::grid_kind::uniform_logsnr, .steps = 20}));
  ferry::dpmpp_2m<double> solver;                                   // a solver policy

  ferry::batch<double> x(1000, model.dim());                        // N × D, row-major, aligned
  std::mt19937_64 rng(0);
  std::normal_distribution<double> normal;
  for (double& v : x.view().span()) v = sched.points.front().sigma * normal(rng);

  const auto stats = ferry::sample(model, process, sched, solver, x.view(), [](const ferry::step_report<double>& r) {
    if (r.index + 1 == r.count) std::printf("%zu steps, %zu model evaluations\n", r.count, r.nfe);
  });
  double mean_nll = 0;
  for (std::size_t i = 0; i < x.rows(); ++i) mean_nll -= model.log_prob(x.view().row(i).data(), 1.0, 0.0);
  std::printf("mean -log p0 of the samples: %.4f (NFE %zu)\n", mean_nll / double(x.rows()), stats.nfe);
  return 0;
}
