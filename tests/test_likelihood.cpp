// log p_0 through the PF-ODE (likelihood/) against the mixture's closed form, the prior's bias on
// VP and VE, the unbiasedness of Hutchinson's estimator, and `ferry likelihood` end to end.
#include <cmath>
#include <random>
#include <vector>

#include "catch.hpp"
#include "ferry/likelihood/divergence.hpp"
#include "ferry/likelihood/likelihood.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/ve.hpp"
#include "ferry/process/vp_cosine.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/solvers/ode/rk4.hpp"
#ifdef FERRY_CLI_PATH
#include <string>

#include "cli_runner.hpp"
#include "ferry/io/npy.hpp"
#endif

namespace test_likelihood {

using namespace ferry;

namespace {
using vec = Eigen::VectorXd;
using mat = Eigen::MatrixXd;

gaussian_mixture<double> mixture_2d() {
  return gaussian_mixture<double>::diagonal({0.3, 0.7}, {vec::Constant(2, -1.5), (vec(2) << 2., 1.).finished()},
                                            {vec::Constant(2, 0.5), (vec(2) << 0.8, 0.4).finished()});
}
// A full-covariance 3-D mixture, for a second shape.
gaussian_mixture<double> mixture_3d() {
  mat c0(3, 3), c1(3, 3);
  c0 << 0.5, 0.2, 0.0, 0.2, 0.4, 0.1, 0.0, 0.1, 0.3;
  c1 << 0.3, -0.1, 0.05, -0.1, 0.6, 0.0, 0.05, 0.0, 0.2;
  return gaussian_mixture<double>::full({0.5, 0.5}, {(vec(3) << 1., -1., 0.5).finished(), (vec(3) << -1., 0.5, -0.5).finished()},
                                        {c0, c1});
}

batch<double> draws(const gaussian_mixture<double>& g, std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  batch<double> x(n, g.dim());
  g.sample(rng, x.view());
  return x;
}

struct errors {
  double mean = 0, worst = 0;       // (log p − closed form)/D: mean and worst |·| over rows
  double bias_mean = 0;              // the prior's bias /D, mean over rows
  double corrected_mean = 0, corrected_worst = 0;  // after subtracting each row's prior bias
};

// Exact-divergence log p with dopri5 (rtol = atol = 1e-6, t_min = 1e-5) against log p_0.
template <class P>
errors measure(gaussian_mixture<double>& g, const P& process, const batch<double>& x) {
  dopri5<double> solver({.rtol = 1e-6, .atol = 1e-6});
  exact_divergence<double> div;
  std::vector<double> logp(x.rows());
  batch<double> x_end(x.shape());
  const auto st = log_likelihood(g, process, solver, div, x.view(), std::span<double>(logp), {}, x_end.view());
  const double d = double(x.cols());
  errors e;
  for (std::size_t i = 0; i < x.rows(); ++i) {
    const double exact = g.log_prob(x.view().row(i).data(), 1.0, 0.0);
    const double bias = prior_bias<double>(std::span<const double>(x_end.view().row(i).data(), x.cols()), st.end.sigma,
                                           [&](std::span<const double> v) { return g.log_prob(v.data(), st.end.alpha, st.end.sigma); });
    const double err = (logp[i] - exact) / d, corrected = (logp[i] - bias - exact) / d;
    e.mean += err / double(x.rows());
    e.worst = std::max(e.worst, std::abs(err));
    e.bias_mean += bias / d / double(x.rows());
    e.corrected_mean += corrected / double(x.rows());
    e.corrected_worst = std::max(e.corrected_worst, std::abs(corrected));
  }
  return e;
}
}  // namespace

TEST_CASE("flow: exact-divergence log p matches the mixture within 1e-3 nats/dim", "[likelihood]") {
  auto g = mixture_2d();
  const auto x = draws(g, 64, 1);
  SECTION("data-prediction model") {
    const errors e = measure(g, flow<double>{}, x);
    CHECK(std::abs(e.mean) < 1e-3);
    CHECK(e.worst < 2e-3);
    CHECK(std::abs(e.bias_mean) < 1e-12);  // α_T = 0: the prior is exact
  }
  SECTION("flow-matching velocity model, full covariance in 3-D") {
    auto g3 = mixture_3d();
    g3.predicts = prediction::velocity;
    const errors e = measure(g3, flow<double>{}, draws(g3, 48, 2));
    CHECK(std::abs(e.mean) < 1e-3);
    CHECK(e.worst < 2e-3);
  }
  SECTION("a fixed-step policy (rk4, 200 steps) through the same driver") {
    rk4<double> solver;
    exact_divergence<double> div;
    std::vector<double> logp(x.rows());
    const auto st = log_likelihood(g, flow<double>{}, solver, div, x.view(), std::span<double>(logp), {.steps = 200});
    CHECK(st.steps == 200);
    CHECK(st.nfe == 200 * 4 * (1 + 2 * 2));  // each stage: v and 2D central differences
    double mean = 0;
    for (std::size_t i = 0; i < x.rows(); ++i) mean += (logp[i] - g.log_prob(x.view().row(i).data(), 1.0, 0.0)) / 2;
    CHECK(std::abs(mean / double(x.rows())) < 1e-3);
  }
}

TEST_CASE("VP and VE: log p is off by the prior's bias alone", "[likelihood]") {
  // The prior N(0, σ_T²) drops α_T·x0 from x_T: the error is log N(x_T; 0, σ_T²) − log p_T(x_T),
  // computed per row from the mixture's exact p_T. Measured (64 points, D = 2, nats/dim):
  // vp-linear −5.0e-4, vp-cosine −6.4e-4, ve −1.6e-3; what remains after it is < 1e-5.
  auto g = mixture_2d();
  const auto x = draws(g, 64, 3);
  auto check = [](const errors& e, double bias_lo, double bias_hi) {
    CHECK(e.bias_mean > bias_lo);
    CHECK(e.bias_mean < bias_hi);
    CHECK(std::abs(e.mean - e.bias_mean) < 1e-3);
    CHECK(std::abs(e.corrected_mean) < 1e-3);
    CHECK(e.corrected_worst < 2e-3);
  };
  SECTION("vp-linear") { check(measure(g, vp_linear<double>{}, x), -2e-3, -1e-4); }
  SECTION("vp-cosine") { check(measure(g, vp_cosine<double>{}, x), -2e-3, -1e-4); }
  SECTION("ve") { check(measure(g, ve<double>{}, x), -5e-3, -5e-4); }
}

TEST_CASE("Hutchinson's estimate is unbiased: its mean over probes is within 3 standard errors", "[likelihood]") {
  // Each of 4 points is repeated R times; every row draws its own probe (keyed by its global row),
  // so the R rows of a point are R independent estimates of its log p.
  auto g = mixture_2d();
  const auto pts = draws(g, 4, 4);
  const std::size_t reps = 64, n = pts.rows() * reps;
  batch<double> x(n, 2);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < 2; ++j) x.view()(i, j) = pts.view()(i / reps, j);
  for (const probe_kind kind : {probe_kind::rademacher, probe_kind::gaussian}) {
    dopri5<double> solver({.rtol = 1e-6, .atol = 1e-6});
    hutchinson_divergence<double> div(1, kind, 2026);
    std::vector<double> logp(n);
    log_likelihood(g, flow<double>{}, solver, div, x.view(), std::span<double>(logp));
    double pooled = 0, pooled_var = 0;
    for (std::size_t p = 0; p < pts.rows(); ++p) {
      const double exact = g.log_prob(pts.view().row(p).data(), 1.0, 0.0);
      double m = 0, m2 = 0;
      for (std::size_t r = 0; r < reps; ++r) m += logp[p * reps + r] - exact;
      m /= double(reps);
      for (std::size_t r = 0; r < reps; ++r) m2 += std::pow(logp[p * reps + r] - exact - m, 2);
      const double se = std::sqrt(m2 / double(reps - 1) / double(reps));
      INFO("probes " << (kind == probe_kind::rademacher ? "rademacher" : "gaussian") << ", point " << p << ": mean error " << m
                     << " +- " << se);
      CHECK(se > 1e-3);  // the estimate does vary with the probe
      CHECK(std::abs(m) < 3 * se);
      pooled += m / double(pts.rows());
      pooled_var += se * se / double(pts.rows() * pts.rows());
    }
    CHECK(std::abs(pooled) < 3 * std::sqrt(pooled_var));
  }
}

TEST_CASE("likelihood: probes are keyed by seed and global row; bad options are refused", "[likelihood]") {
  hutchinson_divergence<double> a(2, probe_kind::gaussian, 5), b(2, probe_kind::gaussian, 5, 3), c(1, probe_kind::rademacher, 9);
  a.reset({6, 2});
  b.reset({3, 2});
  c.reset({4, 3});
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 2; ++j) CHECK(b.probe(k)(i, j) == a.probe(k)(i + 3, j));  // a slice sees the same probes
  for (double v : std::span<const double>(c.probe(0).data, 12)) CHECK(std::abs(v) == 1.0);
  CHECK_THROWS_AS(hutchinson_divergence<double>(0, probe_kind::gaussian, 1), config_error);

  auto g = mixture_2d();
  const auto x = draws(g, 4, 5);
  std::vector<double> logp(4), short_out(3);
  dopri5<double> solver;
  exact_divergence<double> div;
  CHECK_THROWS_AS(log_likelihood(g, flow<double>{}, solver, div, x.view(), std::span<double>(short_out)), shape_error);
  CHECK_THROWS_AS(log_likelihood(g, flow<double>{}, solver, div, x.view(), std::span<double>(logp), {.t_min = 0}), config_error);
  CHECK_THROWS_AS(log_likelihood(g, flow<double>{}, solver, div, x.view(), std::span<double>(logp), {.t_min = 0.5, .t_max = 0.4}),
                  config_error);
  dopri5<double> sigma_time({.time = ode_time::sigma});
  CHECK_THROWS_AS(log_likelihood(g, vp_linear<double>{}, sigma_time, div, x.view(), std::span<double>(logp)), config_error);
}

#ifdef FERRY_CLI_PATH
using namespace ferry_test;

namespace {
const std::string gmm_path = reference_dir + "gmm.json";

fs::path write_draws(const scratch_dir& dir, std::size_t n) {
  const auto g = ferry::gaussian_mixture<double>::load(gmm_path);
  std::mt19937_64 rng(11);
  ferry::batch<double> x(n, g.dim());
  g.sample(rng, x.view());
  const fs::path p = dir.path / "x.npy";
  ferry::io::write_npy(p, x);
  return p;
}

std::string common(const fs::path& x, const fs::path& out) {
  return "likelihood --model gmm:" + quoted(fs::path(gmm_path)) + " --data " + quoted(x) + " --out " + quoted(out);
}
}  // namespace

// `ferry likelihood` end to end.
TEST_CASE("ferry likelihood matches the mixture's log p on flow", "[cli][likelihood]") {
  scratch_dir dir;
  const fs::path x = write_draws(dir, 16), out = dir.path / "logp.npy";
  const run_result r = run_cli(common(x, out) + " --process flow", dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("exact divergence") != std::string::npos);
  const auto g = ferry::gaussian_mixture<double>::load(gmm_path);
  const auto pts = ferry::io::read_npy(x).as_batch<double>();
  const auto logp = ferry::io::read_npy(out);
  REQUIRE(logp.shape == std::vector<std::size_t>{16});
  const auto v = logp.as<double>();
  double mean = 0, worst = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    const double e = (v[i] - g.log_prob(pts.view().row(i).data(), 1.0, 0.0)) / 2;
    mean += e / 16;
    worst = std::max(worst, std::abs(e));
  }
  CHECK(std::abs(mean) < 1e-3);
  CHECK(worst < 2e-3);

  SECTION("Hutchinson: the same seed gives the same numbers, VP notes the prior's bias") {
    const fs::path a = dir.path / "a.npy", b = dir.path / "b.npy";
    REQUIRE(run_cli(common(x, a) + " --process vp-linear --hutchinson 2 --seed 3", dir).code == 0);
    const run_result rb = run_cli(common(x, b) + " --process vp-linear --hutchinson 2 --seed 3", dir);
    REQUIRE(rb.code == 0);
    CHECK(rb.err.find("ignores alpha_T") != std::string::npos);
    CHECK(ferry::io::read_npy(a).as<double>() == ferry::io::read_npy(b).as<double>());
  }
}

// Bad input to `ferry likelihood`: the CLI error table, tests/test_cli_errors.cpp.
#endif

}  // namespace test_likelihood
