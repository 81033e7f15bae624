// Solver overhead per step: a full sampling run with a model that costs almost nothing (the exact
// denoiser of a centred Gaussian), so the time is the solvers' own lincomb work and bookkeeping.
#include <benchmark/benchmark.h>

#include <random>

#include "ferry/grid/grid.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/runtime/registry.hpp"

namespace {

// D(x; σ) = s²/(s² + σ²)·x for x0 ~ N(0, s² I).
struct gaussian_denoiser {
  static constexpr ferry::prediction predicts = ferry::prediction::data;
  double s2 = 0.25;
  void operator()(ferry::const_batch_view<double> x, const ferry::level<double>& lv, ferry::batch_view<double> out) const {
    const double c = lv.alpha * s2 / (lv.alpha * lv.alpha * s2 + lv.sigma * lv.sigma);
    for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = c * x.data[i];
  }
};

void bm_solver(benchmark::State& st, const char* name) {
  const std::size_t rows = std::size_t(st.range(0)), cols = 64, steps = 20;
  const ferry::edm<double> process;
  const auto sched = ferry::make_schedule(ferry::make_grid(process, {.kind = ferry::grid_kind::karras, .steps = steps}));
  gaussian_denoiser model;
  ferry::batch<double> z(rows, cols), x(rows, cols);
  std::mt19937_64 rng(0);
  std::normal_distribution<double> normal;
  for (double& v : z.view().span()) v = 80 * normal(rng);
  std::size_t nfe = 0;
  // Through the run-time boundary, as the CLI runs it: one indirect call per model evaluation.
  const ferry::any_process<double> p(process);
  ferry::model_ref<double> m(model);
  for (auto _ : st) {
    std::copy(z.data(), z.data() + z.size(), x.data());
    ferry::runtime_problem<double> problem(p, m);
    nfe = ferry::run_solver<double>({.name = name}, problem, sched, x.view()).nfe;
    benchmark::DoNotOptimize(x.data());
  }
  st.counters["nfe"] = double(nfe);
  st.SetItemsProcessed(std::int64_t(st.iterations()) * std::int64_t(rows * steps));  // sample-steps
}

// The Gaussian-mixture oracle itself: the cost of one exact model evaluation.
void bm_gmm_posterior_mean(benchmark::State& st) {
  using vec = Eigen::VectorXd;
  const std::size_t rows = std::size_t(st.range(0));
  std::vector<double> w(8, 1.0 / 8);
  std::vector<vec> means, stds;
  for (int k = 0; k < 8; ++k) means.push_back(vec::Constant(16, k - 3.5)), stds.push_back(vec::Constant(16, 0.3));
  const auto g = ferry::gaussian_mixture<double>::diagonal(w, means, stds);
  ferry::batch<double> x(rows, 16), out(rows, 16);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(double(i));
  for (auto _ : st) {
    g(x.view(), ferry::level<double>::make(0.8, 0.6), out.view());
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(std::int64_t(st.iterations()) * std::int64_t(rows));
}

}  // namespace

BENCHMARK_CAPTURE(bm_solver, euler, "euler")->Arg(4096);
BENCHMARK_CAPTURE(bm_solver, heun, "heun")->Arg(4096);
BENCHMARK_CAPTURE(bm_solver, rk4, "rk4")->Arg(4096);
BENCHMARK_CAPTURE(bm_solver, ddim, "ddim")->Arg(4096);
BENCHMARK_CAPTURE(bm_solver, dpmpp_2m, "dpmpp-2m")->Arg(4096);
BENCHMARK_CAPTURE(bm_solver, dpmpp_3m, "dpmpp-3m")->Arg(4096);
BENCHMARK_CAPTURE(bm_solver, unipc, "unipc")->Arg(4096);
BENCHMARK_CAPTURE(bm_solver, deis, "deis")->Arg(4096);
BENCHMARK_CAPTURE(bm_solver, lms, "lms")->Arg(4096);
BENCHMARK(bm_gmm_posterior_mean)->Arg(1024);
