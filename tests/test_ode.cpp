// Explicit Runge–Kutta solvers and DOPRI5 on the probability-flow ODE of the exact mixture.
#include <cmath>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/solvers/ode/euler.hpp"
#include "ferry/solvers/ode/heun.hpp"
#include "ferry/solvers/ode/midpoint.hpp"
#include "ferry/solvers/ode/rk4.hpp"

namespace test_ode {

using namespace ferry;

namespace {

using gmm = gaussian_mixture<double>;
const gmm& mixture() {
  static const gmm g = gmm::load(FERRY_TEST_DATA "/diffusion/gmm.json");
  return g;
}

// EDM levels uniform in log σ from σ_hi down to σ_lo (no σ = 0 end: the error is then smooth in h).
schedule<double> log_sigma_schedule(std::size_t n, double hi = 10.0, double lo = 0.1) {
  std::vector<level<double>> lv;
  for (std::size_t i = 0; i <= n; ++i) {
    const double s = std::exp(std::log(hi) + (std::log(lo) - std::log(hi)) * double(i) / double(n));
    lv.push_back(level<double>::make(1.0, s, s, 0.0, 1.0));
  }
  return make_schedule(lv);
}

batch<double> start_state(double sigma, std::size_t n = 16) {
  batch<double> x(n, 2);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = sigma * std::sin(1.7 * double(i) + 0.3);
  return x;
}

template <class Solver>
batch<double> solve(std::size_t n, Solver solver = {}) {
  gmm g = mixture();
  const edm<double> proc;
  batch<double> x = start_state(10.0);
  sample(g, proc, log_sigma_schedule(n), solver, x.view());
  return x;
}

double max_abs_diff(const batch<double>& a, const batch<double>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

const batch<double>& reference() {
  static const batch<double> r = solve<rk4<double>>(2000);
  return r;
}

template <class Solver>
double observed_order(std::size_t n) {
  const double e1 = max_abs_diff(solve<Solver>(n), reference()), e2 = max_abs_diff(solve<Solver>(2 * n), reference());
  return std::log2(e1 / e2);
}

}  // namespace

TEST_CASE("explicit RK solvers converge at their declared order on the PF-ODE", "[ode]") {
  CHECK(observed_order<euler<double>>(64) == Approx(1).margin(0.3));
  CHECK(observed_order<heun<double>>(32) == Approx(2).margin(0.3));
  CHECK(observed_order<midpoint<double>>(32) == Approx(2).margin(0.3));
  CHECK(observed_order<rk4<double>>(32) == Approx(4).margin(0.3));
}

TEST_CASE("DOPRI5 meets its tolerance with fewer evaluations than RK4 of equal error", "[ode]") {
  // Both integrate in λ = −log σ, where the fixed log-σ grid is uniform: a like-for-like race.
  gmm g = mixture();
  const edm<double> proc;
  for (double tol : {1e-6, 1e-8}) {  // at 1e-4 nine RK4 steps suffice and win (36 vs 55 NFE)
    dopri5<double> solver({.rtol = tol, .atol = tol, .time = ode_time::lambda});
    batch<double> x = start_state(10.0);
    pf_ode<edm<double>, gmm> problem(proc, g);
    const auto stats = sample(problem, log_sigma_schedule(1), solver, x.view());
    const double err = max_abs_diff(x, reference());
    INFO("tol " << tol << ": error " << err << ", nfe " << stats.nfe << ", accepted " << solver.accepted << ", rejected "
                << solver.rejected);
    CHECK(err < 20 * tol);  // global error tracks the local tolerance
    CHECK(stats.nfe == 1 + 6 * (solver.accepted + solver.rejected));
    // The cheapest fixed-step RK4 that is at least as accurate needs more evaluations.
    std::size_t n = 1;
    while (max_abs_diff(solve<rk4<double>>(n), reference()) > err) n *= 2;
    n /= 2;
    while (max_abs_diff(solve<rk4<double>>(n), reference()) > err) ++n;
    INFO("rk4 needs " << n << " steps = " << 4 * n << " evaluations");
    CHECK(stats.nfe < 4 * n);
  }
}

TEST_CASE("native time and sigma time agree on the EDM process, where they are the same ODE", "[ode]") {
  const batch<double> a = solve<heun<double>>(20, heun<double>({.time = ode_time::native}));
  const batch<double> b = solve<heun<double>>(20, heun<double>({.time = ode_time::sigma}));
  CHECK(max_abs_diff(a, b) < 1e-13);
  // In λ it is another discretisation of the same ODE: close, and converging to the same answer.
  const batch<double> c = solve<rk4<double>>(64, rk4<double>({.time = ode_time::lambda}));
  CHECK(max_abs_diff(c, reference()) < 1e-5);
}

TEST_CASE("a step that lands on sigma = 0 returns the data prediction", "[ode]") {
  gmm g = mixture();
  const edm<double> proc;
  std::vector<level<double>> lv = {level<double>::make(1, 2.0), level<double>::make(1, 0.5), level<double>{}};
  batch<double> x = start_state(2.0, 4), expect(4, 2);
  heun<double> solver;
  std::vector<std::size_t> nfe_after;
  const auto stats = sample(g, proc, make_schedule(lv), solver, x.view(),
                            [&](const step_report<double>& r) { nfe_after.push_back(r.nfe); });
  CHECK(stats.nfe == 3);  // Heun: 2 evaluations, then 1 for the final denoise
  CHECK(nfe_after == std::vector<std::size_t>{2, 3});
  // Redo the first step, then compare the landing with D(x; 0.5).
  batch<double> y = start_state(2.0, 4);
  std::vector<level<double>> first = {lv[0], lv[1]};
  sample(g, proc, make_schedule(first), solver, y.view());
  g(y.view(), lv[1], expect.view());
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(x.data()[i] == Approx(expect.data()[i]).epsilon(1e-14));
}

namespace {
// D(x) of a centred Gaussian N(0, s²): linear and allocation-free, for the allocation test.
struct gaussian_denoiser {
  static constexpr prediction predicts = prediction::data;
  double s2 = 0.25;
  void operator()(const_batch_view<double> x, const level<double>& lv, batch_view<double> out) const {
    const double c = lv.alpha * s2 / (lv.alpha * lv.alpha * s2 + lv.sigma * lv.sigma);
    for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = c * x.data[i];
  }
};
}  // namespace

TEMPLATE_TEST_CASE("ODE solver steps do not allocate", "[ode]", euler<double>, heun<double>, midpoint<double>, rk4<double>,
                   dopri5<double>) {
  gaussian_denoiser m;
  const edm<double> proc;
  batch<double> x = start_state(10.0, 33);
  TestType solver;
  std::size_t during_steps = 0;
  {
    ferry_test::count_allocations counter;
    std::size_t at_first_step = 0;
    sample(m, proc, log_sigma_schedule(8), solver, x.view(), [&](const step_report<double>& r) {
      if (r.index == 0) at_first_step = counter.count();
      during_steps = counter.count() - at_first_step;
    });
  }
  CHECK(during_steps == 0);
}

namespace {
// Returns NaN below σ = 1.
struct nan_model {
  static constexpr prediction predicts = prediction::data;
  void operator()(const_batch_view<double>, const level<double>& lv, batch_view<double> out) const {
    for (auto& v : out.span()) v = lv.sigma < 1 ? std::nan("") : 0.0;
  }
};
}  // namespace

TEST_CASE("the driver reports a non-finite state with the step and sigma", "[ode]") {
  nan_model m;
  const edm<double> proc;
  batch<double> x = start_state(10.0);
  euler<double> solver;
  CHECK_THROWS_AS(sample(m, proc, log_sigma_schedule(8), solver, x.view()), numeric_error);
  batch<double> y = start_state(10.0);
  CHECK_THROWS_WITH(sample(m, proc, log_sigma_schedule(8), solver, y.view()),
                    Catch::Contains("not finite after step 6 of 8 (sigma 0.562341325190348"));
}

}  // namespace test_ode
