// Classifier-free guidance (models/guidance.hpp) on a conditional mixture: each component is a
// class, the conditional oracle is that component alone and the unconditional one the mixture.
#include <cmath>
#include <random>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/models/guidance.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/heun.hpp"

namespace test_guidance {

using namespace ferry;

namespace {
using vec = Eigen::VectorXd;

// Three overlapping classes in 2-D.
const std::vector<double> weights = {0.4, 0.35, 0.25};
const std::vector<vec> means = {(vec(2) << -1., 0.).finished(), (vec(2) << 1., 0.).finished(), (vec(2) << 0., 1.5).finished()};
const std::vector<vec> stds = {vec::Constant(2, 0.7), vec::Constant(2, 0.6), vec::Constant(2, 0.8)};

gaussian_mixture<double> unconditional() { return gaussian_mixture<double>::diagonal(weights, means, stds); }
gaussian_mixture<double> conditional(std::size_t k) { return gaussian_mixture<double>::diagonal({1.0}, {means[k]}, {stds[k]}); }

// x from unit noise through 24 Heun steps of the VP PF-ODE (uniform-logsnr grid).
template <class M>
batch<double> sample_with(M& model, std::size_t n, int threads = 1) {
  const vp_linear<double> process;
  const schedule<double> sched = make_schedule(make_grid(process, grid_spec<double>{.kind = grid_kind::uniform_logsnr, .steps = 24}));
  batch<double> x(n, 2);
  random::fill_normal(7, x.view(), 0, 0, random::streams::step_noise);
  for (double& v : x.view().span()) v *= sched.points.front().sigma;
  heun<double> solver;
  ferry::sample(model, process, sched, solver, x.view(), no_observer{}, {.threads = threads});
  return x;
}

// Share of samples whose most responsible component (under the unconditional p_0) is class k.
double mass_on(const batch<double>& x, std::size_t k) {
  std::size_t hits = 0;
  for (std::size_t i = 0; i < x.rows(); ++i) {
    double best = -1e300;
    std::size_t arg = 0;
    for (std::size_t c = 0; c < weights.size(); ++c) {
      const double lp = std::log(weights[c]) + conditional(c).log_prob(x.view().row(i).data(), 1.0, 0.0);
      if (lp > best) best = lp, arg = c;
    }
    hits += arg == k;
  }
  return double(hits) / double(x.rows());
}
}  // namespace

TEST_CASE("guidance: w = 1 is conditional and w = 0 unconditional sampling, bit for bit", "[guidance]") {
  auto u = unconditional();
  auto c = conditional(2);
  const batch<double> xc = sample_with(c, 64), xu = sample_with(u, 64);
  classifier_free_guidance<gaussian_mixture<double>, gaussian_mixture<double>> g1(c, u, {.scale = 1}), g0(c, u, {.scale = 0});
  const batch<double> y1 = sample_with(g1, 64), y0 = sample_with(g0, 64);
  CHECK(std::equal(xc.data(), xc.data() + xc.size(), y1.data()));
  CHECK(std::equal(xu.data(), xu.data() + xu.size(), y0.data()));
  // Ho & Salimans' ω = 0 is w = 1.
  CHECK(guidance_options<double>::from_strength(0).scale == 1);
}

TEST_CASE("guidance: the mass on the conditioned class grows with w", "[guidance]") {
  auto u = unconditional();
  auto c = conditional(2);
  std::vector<double> mass;
  for (double w : {0.0, 0.5, 1.0, 2.0, 4.0}) {
    classifier_free_guidance<gaussian_mixture<double>, gaussian_mixture<double>> g(c, u, {.scale = w});
    mass.push_back(mass_on(sample_with(g, 1024), 2));
  }
  INFO("mass on class 2 for w = 0, 0.5, 1, 2, 4: " << mass[0] << " " << mass[1] << " " << mass[2] << " " << mass[3] << " " << mass[4]);
  CHECK(std::abs(mass[0] - 0.25) < 0.05);  // w = 0: the class weight (± ~3.5 binomial SE at n = 1024)
  for (std::size_t i = 1; i < mass.size(); ++i) CHECK(mass[i] > mass[i - 1]);
}

TEST_CASE("guidance: the output is the closed-form combination of the two exact predictions", "[guidance]") {
  const vp_linear<double> process;
  auto u = unconditional();
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> t_of(0.01, 0.99), x_of(-3, 3);
  for (prediction kind : {prediction::epsilon, prediction::data, prediction::v, prediction::velocity}) {
    auto c = conditional(1);
    c.predicts = kind;
    u.predicts = prediction::data;  // a different kind: converted to c's
    const double w = 3.5;
    classifier_free_guidance<gaussian_mixture<double>, gaussian_mixture<double>> g(c, u, {.scale = w});
    for (int trial = 0; trial < 20; ++trial) {
      const level<double> lv = level_at(process, t_of(rng));
      batch<double> x(1, 2), out(1, 2), pc(1, 2), pu(1, 2);
      x.view()(0, 0) = x_of(rng), x.view()(0, 1) = x_of(rng);
      g(x.view(), lv, out.view());
      c(x.view(), lv, pc.view());
      // p_u in c's kind, from the exact posterior mean: a·x + b·x̂0.
      u.posterior_mean(x.view(), lv.alpha, lv.sigma, pu.view());
      const affine<double> a = conversion(prediction::data, kind, lv);
      for (std::size_t j = 0; j < 2; ++j) {
        const double pu_j = a.a * x.view()(0, j) + a.b * pu.view()(0, j);
        const double expect = pu_j + w * (pc.view()(0, j) - pu_j);
        CHECK(out.view()(0, j) == Approx(expect).epsilon(1e-12).margin(1e-12));
      }
    }
  }
}

TEST_CASE("guidance: rescale, interval and option checks", "[guidance]") {
  const vp_linear<double> process;
  auto u = unconditional();
  auto c = conditional(0);
  c.predicts = u.predicts = prediction::epsilon;
  const level<double> lv = level_at(process, 0.5);
  batch<double> x(3, 2), out(3, 2), pc(3, 2), plain(3, 2);
  random::fill_normal(1, x.view(), 0, 0);
  c(x.view(), lv, pc.view());
  classifier_free_guidance<gaussian_mixture<double>, gaussian_mixture<double>> g(c, u, {.scale = 5}),
      r(c, u, {.scale = 5, .rescale = 0.7});
  g(x.view(), lv, plain.view());
  r(x.view(), lv, out.view());
  for (std::size_t i = 0; i < 3; ++i) {
    auto sd = [](std::span<const double> p) { const double m = (p[0] + p[1]) / 2; return std::sqrt((p[0] - m) * (p[0] - m) + (p[1] - m) * (p[1] - m)); };
    const double f = 0.7 * sd(pc.view().row(i)) / sd(plain.view().row(i)) + 0.3;  // Lin et al. Alg. 2
    for (std::size_t j = 0; j < 2; ++j) CHECK(out.view()(i, j) == Approx(f * plain.view()(i, j)).epsilon(1e-12));
  }
  // Outside the interval the conditional model answers alone.
  const double s = lv.sigma / lv.alpha;
  classifier_free_guidance<gaussian_mixture<double>, gaussian_mixture<double>> high(c, u, {.scale = 5, .interval_low = 2 * s}),
      inside(c, u, {.scale = 5, .interval_low = s / 2, .interval_high = 2 * s});
  high(x.view(), lv, out.view());
  CHECK(std::equal(out.data(), out.data() + out.size(), pc.data()));
  inside(x.view(), lv, out.view());
  CHECK(std::equal(out.data(), out.data() + out.size(), plain.data()));
  CHECK_THROWS_AS((classifier_free_guidance<gaussian_mixture<double>, gaussian_mixture<double>>(c, u, {.rescale = 1.5})), config_error);
  CHECK_THROWS_AS((classifier_free_guidance<gaussian_mixture<double>, gaussian_mixture<double>>(c, u, {.interval_low = 2, .interval_high = 1})),
                  config_error);
}

TEST_CASE("guidance: per-thread scratch, the same bits on any thread count, no allocation once warm", "[guidance]") {
  auto u = unconditional();
  auto c = conditional(1);
  classifier_free_guidance<gaussian_mixture<double>, gaussian_mixture<double>> g(c, u, {.scale = 3, .rescale = 0.5});
  const batch<double> one = sample_with(g, 301), two = sample_with(g, 301, 2), three = sample_with(g, 301, 3);
  CHECK(std::equal(one.data(), one.data() + one.size(), two.data()));
  CHECK(std::equal(one.data(), one.data() + one.size(), three.data()));
  // Nested adaptors each hold their own scratch slot: guiding with a guided model as the
  // conditional one is the closed form of the closed form.
  classifier_free_guidance<decltype(g), gaussian_mixture<double>> gg(g, u, {.scale = 2});
  const level<double> lv = level_at(vp_linear<double>{}, 0.4);
  batch<double> x(5, 2), outer(5, 2), inner(5, 2), pu(5, 2);
  random::fill_normal(3, x.view(), 0, 0);
  gg(x.view(), lv, outer.view());
  g(x.view(), lv, inner.view());
  u(x.view(), lv, pu.view());
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(outer.data()[i] == Approx(pu.data()[i] + 2 * (inner.data()[i] - pu.data()[i])).epsilon(1e-12));
  ferry_test::count_allocations counter;
  gg(x.view(), lv, outer.view());
  CHECK(counter.count() == 0);
}

}  // namespace test_guidance
