#pragma once
// What the multistep-sampler tests share (test_comfy_multistep.cpp, test_diffusers2_multistep.cpp):
// allocation counts of bare steps, keyed runs for thread-count invariance, and convergence slopes
// against the exact PF-ODE endpoint (a 4th-order run with many steps) on a Gaussian mixture. Runs go
// through the run-time boundary (runtime_support.hpp): the policies are the runtime library's.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "runtime_support.hpp"
#include "test_support.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/solvers/ode/unipc.hpp"

namespace ferry_test {

using ferry::batch;
using ferry::level;

/// An allocation-free model: data N(μ, s²) per dimension, E[x0 | x] = μ + α·s²/(α²s² + σ²)·(x − α·μ).
struct gaussian_data {
  static constexpr ferry::prediction predicts = ferry::prediction::data;
  double mu = 0.3, s = 0.5;
  void operator()(ferry::const_batch_view<double> x, const level<double>& lv, ferry::batch_view<double> out) const {
    const double k = lv.alpha * s * s / (lv.alpha * lv.alpha * s * s + lv.sigma * lv.sigma);
    for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = mu + k * (x.data[i] - lv.alpha * mu);
  }
};

/// EDM levels uniform in λ = −log σ from smax to smin, then optionally σ = 0.
inline std::vector<level<double>> uniform_lambda(int n, double smax, double smin, bool to_zero = false) {
  std::vector<level<double>> lv;
  const double l0 = -std::log(smax), l1 = -std::log(smin);
  for (int i = 0; i <= n; ++i) lv.push_back(level<double>::make(1, std::exp(-(l0 + (l1 - l0) * i / n))));
  if (to_zero) lv.push_back(level<double>::make(1, 0));
  return lv;
}

/// Allocations made by the bare steps of a 12-step run (EDM, σ 80 → 0.05 → 0, keyed noise), after reset.
template <class Solver>
std::size_t step_allocations(Solver solver) {
  gaussian_data model;
  const ferry::edm<double> process;
  ferry::pf_ode<ferry::edm<double>, gaussian_data, ferry::no_transform, ferry::keyed_noise> problem(process, model, {}, ferry::keyed_noise{7, 0});
  const auto sched = ferry::make_schedule(uniform_lambda(12, 80, 0.05, true));
  batch<double> x(8, 2);
  ferry::random::fill_normal(std::uint64_t(7), x.view(), 0, ferry::random::initial_noise_step);
  if constexpr (requires { solver.check(sched); }) solver.check(sched);
  problem.reset(x.shape());
  solver.reset(x.shape());
  count_allocations counter;
  for (std::size_t i = 0; i < sched.steps(); ++i) solver.step(problem, sched.step(i), x.view());
  return counter.count();
}

inline bool same_bytes(const batch<double>& a, const batch<double>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

/// A keyed run of `rows` samples of the mixture at `gmm_path`: EDM levels uniform in λ, σ 80 → 0.05 → 0.
template <class Solver>
batch<double> keyed_run(const std::string& gmm_path, Solver solver, std::size_t rows, int steps, std::uint64_t seed,
                        ferry::sample_options opt = {}) {
  auto model = ferry::gaussian_mixture<double>::load(gmm_path);
  const ferry::edm<double> process;
  batch<double> x(rows, model.dim());
  ferry::random::fill_normal(seed, x.view(), 0, ferry::random::initial_noise_step);
  for (double& v : x.view().span()) v *= 80;
  run_erased(solver, process, model, ferry::make_schedule(uniform_lambda(steps, 80, 0.05, true)), x.view(), keyed(seed), opt);
  return x;
}

/// The same bytes for 1 and 2 threads and several chunk sizes, and different bytes for another seed.
template <class Solver>
void check_thread_invariance(const std::string& gmm_path, const char* name, Solver solver) {
  INFO(name);
  const std::size_t n = 50;
  const batch<double> whole = keyed_run(gmm_path, solver, n, 10, 11);
  for (std::size_t chunk : {std::size_t(1), std::size_t(7), n})
    for (int threads : {1, 2}) {
      INFO("chunk_rows " << chunk << ", threads " << threads);
      CHECK(same_bytes(keyed_run(gmm_path, solver, n, 10, 11, {.threads = threads, .chunk_rows = chunk}), whole));
    }
  CHECK(!same_bytes(keyed_run(gmm_path, solver, n, 10, 12), whole));
}

/// Convergence on the PF-ODE of the mixture at `gmm_path` (EDM, σ 80 → 0.05 uniform in λ, 64 samples):
/// errors at σ = 0.05 against the endpoint of a 4th-order UniPC run with 16384 steps, and the slopes.
struct convergence {
  std::string gmm_path;
  double smax = 80, smin = 0.05;
  batch<double> x_start, endpoint;

  explicit convergence(std::string path) : gmm_path(std::move(path)) {
    auto model = ferry::gaussian_mixture<double>::load(gmm_path);
    x_start = batch<double>(64, model.dim());
    ferry::random::fill_normal(std::uint64_t(2024), x_start.view(), 0, ferry::random::initial_noise_step);
    for (double& v : x_start.view().span()) v *= smax;
    ferry::unipc<3> fine;
    fine.opt.lower_order_final = false;
    endpoint = run(fine, 16384);
  }
  template <class Solver>
  batch<double> run(Solver solver, int n) const {
    auto model = ferry::gaussian_mixture<double>::load(gmm_path);
    const ferry::edm<double> process;
    batch<double> x = x_start;
    run_erased(solver, process, model, ferry::make_schedule(uniform_lambda(n, smax, smin)), x.view());
    return x;
  }
  /// Prints errors and slopes for n in ns; returns the mean of the last two slopes.
  template <class Solver>
  double order(const char* name, Solver solver, const std::vector<int>& ns) const {
    std::vector<double> e;
    for (int n : ns) e.push_back(max_abs_diff(run(solver, n), endpoint));
    std::printf("  %-22s errors:", name);
    for (double v : e) std::printf(" %.2e", v);
    std::printf("  slopes:");
    std::vector<double> s;
    for (std::size_t i = 0; i + 1 < e.size(); ++i) s.push_back(std::log2(e[i] / e[i + 1])), std::printf(" %.2f", s.back());
    std::printf("\n");
    return (s[s.size() - 2] + s.back()) / 2;
  }
};

}  // namespace ferry_test
