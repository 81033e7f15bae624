// Few-step samplers with exact oracles: one-step consistency and MeanFlow sampling land on the
// PF-ODE endpoint; MeanFlow stays exact at any step count; multistep consistency sampling draws
// the boundary marginal at every step count; the c_skip/c_out parameterisation meets its boundary.
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>
#include <tuple>

#include "catch.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/models/consistency_function.hpp"
#include "ferry/models/flow_map.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/ve.hpp"
#include "ferry/process/vp_cosine.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/fewstep/consistency.hpp"
#include "ferry/solvers/fewstep/meanflow.hpp"
#include "test_support.hpp"

namespace test_fewstep {

#if FERRY_TEST_SANITIZED
constexpr std::size_t mc_rows = 1000;
#else
constexpr std::size_t mc_rows = 8000;
#endif

using namespace ferry;
using ferry_test::max_abs_diff;
using gmm = gaussian_mixture<double>;

namespace {

gmm mixture_2d() {
  using v = gmm::vec;
  return gmm::diagonal({0.2, 0.5, 0.3}, {v{{-1.5, 0.5}}, v{{1.0, 1.0}}, v{{0.3, -1.2}}},
                       {v{{0.3, 0.4}}, v{{0.5, 0.25}}, v{{0.2, 0.6}}});
}

batch<double> unit_noise(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  batch<double> z(rows, cols);
  random::fill_normal(seed, z.view(), 0, 0);
  return z;
}

// x_T = σ_0·z at the grid's first level, then dopri5 at rtol = atol = 1e-10 over `sched`.
template <class P>
batch<double> ode_endpoint(const P& p, const schedule<double>& sched, const batch<double>& z) {
  gmm g = mixture_2d();
  batch<double> x = z;
  for (double& v : x.view().span()) v *= sched.points.front().sigma;
  dopri5<double> solver({.rtol = 1e-10, .atol = 1e-10});
  ferry::sample(g, p, sched, solver, x.view());
  return x;
}

template <class P>
schedule<double> uniform_grid(const P& p, std::size_t steps) {
  return make_schedule(make_grid(p, grid_spec<double>{.kind = grid_kind::uniform, .steps = steps}));
}

template <class P>
std::tuple<double, double> one_step_errors(const P& p) {
  const schedule<double> one = uniform_grid(p, 1), fine = uniform_grid(p, 16);  // same ends, another path
  const batch<double> z = unit_noise(32, 2, 7), ref = ode_endpoint(p, fine, z);
  pf_ode_flow_map<P, gmm> flow(p, mixture_2d());

  flow_map_consistency<P, gmm> f(flow, one.points.back());
  batch<double> x = z;
  for (double& v : x.view().span()) v *= one.points.front().sigma;
  batch<double> y = x;
  consistency_sampling<double> cs;
  const auto st = ferry::sample(f, p, one, cs, x.view());
  CHECK(st.nfe == 1);

  flow_map_average_velocity<P, gmm> u(flow);
  meanflow<double> mf;
  const auto st2 = ferry::sample(u, p, one, mf, y.view());
  CHECK(st2.nfe == 1);
  return {max_abs_diff(x, ref), max_abs_diff(y, ref)};
}

template <class P>
void check_one_step(const P& p, const char* name) {
  const auto [consistency, mean_flow] = one_step_errors(p);
  std::printf("[fewstep] one step vs ODE endpoint, %-9s consistency %.2e  meanflow %.2e\n", name, consistency, mean_flow);
  INFO(name);
  CHECK(consistency < 1e-6);
  CHECK(mean_flow < 1e-6);
}

}  // namespace

TEST_CASE("one-step consistency and MeanFlow sampling with flow-map oracles land on the ODE endpoint", "[fewstep]") {
  check_one_step(vp_linear<double>{}, "vp-linear");
  check_one_step(vp_cosine<double>{}, "vp-cosine");
  check_one_step(ve<double>{}, "ve");
  check_one_step(edm<double>{}, "edm");
  check_one_step(flow<double>{}, "flow");
}

TEST_CASE("the flow-map oracle to sigma = 0 matches the ODE run down to a tiny sigma", "[fewstep]") {
  const edm<double> p;
  // Karras grid ending at σ = 0: the reference integrates to σ = 1e-4 and denoises there (O(1e-8) off).
  const schedule<double> one = make_schedule(make_grid(p, grid_spec<double>{.kind = grid_kind::karras, .steps = 1}));
  grid_spec<double> fine_spec{.kind = grid_kind::karras, .steps = 24};
  fine_spec.sigma_min = 1e-4;
  const schedule<double> fine = make_schedule(make_grid(p, fine_spec));
  REQUIRE(one.points.back().sigma == 0);
  const batch<double> z = unit_noise(32, 2, 11), ref = ode_endpoint(p, fine, z);
  batch<double> x = z;
  for (double& v : x.view().span()) v *= one.points.front().sigma;
  flow_map_consistency<edm<double>, gmm> f(pf_ode_flow_map<edm<double>, gmm>(p, mixture_2d()), one.points.back());
  consistency_sampling<double> cs;
  ferry::sample(f, p, one, cs, x.view());
  const double d = max_abs_diff(x, ref);
  std::printf("[fewstep] one step to sigma = 0 (edm, karras) vs ODE to 1e-4: %.2e\n", d);
  CHECK(d < 1e-6);
}

TEST_CASE("MeanFlow sampling with the exact average velocity is exact at every step count", "[fewstep]") {
  const vp_linear<double> p;
  const batch<double> z = unit_noise(16, 2, 3), ref = ode_endpoint(p, uniform_grid(p, 16), z);
  flow_map_average_velocity<vp_linear<double>, gmm> u(pf_ode_flow_map<vp_linear<double>, gmm>(p, mixture_2d()));
  for (std::size_t k : {1, 2, 4, 8}) {
    const schedule<double> s = uniform_grid(p, k);
    batch<double> x = z;
    for (double& v : x.view().span()) v *= s.points.front().sigma;
    meanflow<double> mf;
    const auto st = ferry::sample(u, p, s, mf, x.view());
    const double d = max_abs_diff(x, ref);
    std::printf("[fewstep] meanflow K=%zu vs ODE endpoint: %.2e (NFE %zu)\n", k, d, st.nfe);
    CHECK(st.nfe == k);
    CHECK(d < 1e-6);
  }
}

TEST_CASE("multistep consistency sampling draws the boundary marginal at every step count", "[fewstep]") {
  // 1-D mixture: p_ε = Σ w_k N(α_ε μ_k, α_ε² s_k² + σ_ε²). With an exact consistency function every
  // step maps a draw of p_t to a draw of p_ε, and the forward transition re-noises it exactly, so
  // the K-step samples are exact draws for every K. Checked through the CDF at five points: each
  // |F̂(q) − F(q)| within 5 binomial standard errors √(F(1 − F)/N).
  using v = gmm::vec;
  const gmm g = gmm::diagonal({0.3, 0.7}, {v{{-1.2}}, v{{1.0}}}, {v{{0.3}}, v{{0.4}}});
  const vp_linear<double> p;
  for (std::size_t k : {1, 2, 4}) {
    const schedule<double> s = uniform_grid(p, k);
    const level<double> eps = s.points.back();
    flow_map_consistency<vp_linear<double>, gmm> f(
        pf_ode_flow_map<vp_linear<double>, gmm>(p, g, {.rtol = 1e-7, .atol = 1e-7}), eps);
    pf_ode<vp_linear<double>, decltype(f), no_transform, keyed_noise> problem(p, f, {}, keyed_noise{42});
    batch<double> x = unit_noise(mc_rows, 1, 5);
    for (double& xv : x.view().span()) xv *= s.points.front().sigma;
    consistency_sampling<double> cs;
    ferry::sample(problem, s, cs, x.view());
    double worst = 0;  // in standard errors
    for (double q : {-1.5, -0.8, 0.0, 0.8, 1.4}) {
      double F = 0;
      for (std::size_t c = 0; c < g.components(); ++c) {
        const double m = eps.alpha * g.mean(c)[0], sd = std::sqrt(std::pow(eps.alpha * (c == 0 ? 0.3 : 0.4), 2) + eps.sigma * eps.sigma);
        F += g.weights()[c] * 0.5 * std::erfc(-(q - m) / (sd * std::numbers::sqrt2));
      }
      double below = 0;
      for (double xv : x.view().span()) below += xv <= q;
      worst = std::max(worst, std::abs(below / double(mc_rows) - F) / std::sqrt(F * (1 - F) / double(mc_rows)));
    }
    std::printf("[fewstep] multistep consistency K=%zu, N=%zu: worst CDF deviation %.2f standard errors\n", k, mc_rows, worst);
    CHECK(worst < 5);
  }
}

TEST_CASE("multistep consistency sampling refuses a problem without a noise source", "[fewstep]") {
  const vp_linear<double> p;
  const schedule<double> s = uniform_grid(p, 2);
  flow_map_consistency<vp_linear<double>, gmm> f(pf_ode_flow_map<vp_linear<double>, gmm>(p, mixture_2d()), s.points.back());
  batch<double> x = unit_noise(4, 2, 1);
  const batch<double> before = x;
  consistency_sampling<double> cs;
  CHECK_CONFIG_ERROR(ferry::sample(f, p, s, cs, x.view()), "noise source");
  CHECK(max_abs_diff(x, before) == 0);
}

TEST_CASE("the c_skip / c_out parameterisation meets the boundary condition exactly", "[fewstep]") {
  const vp_linear<double> p;
  const level<double> eps = level_at(p, 1e-3), mid = level_at(p, 0.4);
  struct affine_net {  // an arbitrary F_θ
    void operator()(const_batch_view<double> x, const level<double>&, batch_view<double> out) const {
      for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = 3 * x.data[i] - 1;
    }
  };
  parameterised_consistency<affine_net> f(affine_net{}, {.sigma_data = 0.5, .boundary = eps});
  static_assert(consistency_function<decltype(f), double>);
  const batch<double> x = unit_noise(8, 3, 2);
  batch<double> out(8, 3);
  f(x.view(), eps, out.view());
  CHECK(max_abs_diff(out, x) < 1e-15);  // f(x, ε) = x
  // Song et al. App. C at σ̃ = σ/α: c_skip = σ_d²/((σ̃ − σ̃_ε)² + σ_d²), c_out = σ_d(σ̃ − σ̃_ε)/√(σ_d² + σ̃²)
  const double st = mid.sigma / mid.alpha, se = eps.sigma / eps.alpha;
  CHECK(f.scalings().skip(mid) == Approx(0.25 / ((st - se) * (st - se) + 0.25)).epsilon(1e-14));
  CHECK(f.scalings().out(mid) == Approx(0.5 * (st - se) / std::sqrt(0.25 + st * st)).epsilon(1e-14));
  f(x.view(), mid, out.view());
  const double skip = f.scalings().skip(mid), cout = f.scalings().out(mid);
  CHECK(out(3, 1) == Approx(eps.alpha * (skip * x(3, 1) / mid.alpha + cout * (3 * x(3, 1) - 1))).epsilon(1e-13));
}

}  // namespace test_fewstep
