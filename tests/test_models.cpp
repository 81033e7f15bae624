// The exact Gaussian-mixture oracle against independent numerics: finite differences,
// Monte-Carlo posterior means, numerical integration.
#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "catch.hpp"
#include "ferry/core/eigen.hpp"
#include "ferry/models/gaussian_mixture.hpp"

namespace test_models {

using namespace ferry;
using gmm = gaussian_mixture<double>;

namespace {
gmm reference_mixture() { return gmm::load(FERRY_TEST_DATA "/diffusion/gmm.json"); }

// A rotated full-covariance mixture in 3-D.
gmm full_mixture() {
  Eigen::Matrix3d a;
  a << 0.5, 0.1, 0.0, 0.1, 0.3, 0.05, 0.0, 0.05, 0.2;
  Eigen::Matrix3d b;
  b << 0.2, -0.08, 0.02, -0.08, 0.4, 0.0, 0.02, 0.0, 0.1;
  return gmm::full({0.4, 0.6}, {Eigen::Vector3d(1, 0, -1), Eigen::Vector3d(-0.5, 1, 0.5)}, {a, b});
}

// Central finite-difference gradient of log p_t.
std::vector<double> fd_gradient(const gmm& g, std::vector<double> x, double a, double s) {
  std::vector<double> grad(x.size());
  const double h = 1e-5;
  for (std::size_t j = 0; j < x.size(); ++j) {
    const double keep = x[j];
    x[j] = keep + h;
    const double up = g.log_prob(x.data(), a, s);
    x[j] = keep - h;
    const double down = g.log_prob(x.data(), a, s);
    x[j] = keep;
    grad[j] = (up - down) / (2 * h);
  }
  return grad;
}
}  // namespace

TEST_CASE("gmm score equals the finite-difference gradient of log p_t", "[models]") {
  for (const gmm& g : {reference_mixture(), full_mixture()}) {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> n;
    for (auto [a, s] : {std::pair{1.0, 0.05}, {0.8, 0.6}, {0.1, 0.995}, {1.0, 0.0}}) {
      batch<double> x(5, g.dim()), score(5, g.dim());
      for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = n(rng);
      g.score(x.view(), a, s, score.view());
      for (std::size_t i = 0; i < x.rows(); ++i) {
        const auto row = x.view().row(i);
        const auto fd = fd_gradient(g, std::vector<double>(row.begin(), row.end()), a, s);
        for (std::size_t j = 0; j < g.dim(); ++j) CHECK(score(i, j) == Approx(fd[j]).epsilon(1e-6).margin(1e-5));
      }
    }
  }
}

TEST_CASE("gmm posterior mean equals a Monte-Carlo estimate of E[x0 | x_t]", "[models]") {
  // Self-normalised importance sampling with the prior as proposal: E[x0|x] ≈ Σ w_i x0_i / Σ w_i,
  // w_i = N(x; a·x0_i, s²). 4·10⁵ draws give ~1e-2 accuracy at a moderate noise level.
  const gmm g = reference_mixture();
  const double a = 0.8, s = 0.6;
  std::mt19937_64 rng(11);
  batch<double> x0(400000, 2);
  g.sample(rng, x0.view());
  for (const auto& point : {std::vector<double>{0.3, -0.2}, {-0.9, 0.4}, {1.0, 1.0}}) {
    double wsum = 0, m0 = 0, m1 = 0;
    for (std::size_t i = 0; i < x0.rows(); ++i) {
      const double d0 = point[0] - a * x0(i, 0), d1 = point[1] - a * x0(i, 1);
      const double w = std::exp(-(d0 * d0 + d1 * d1) / (2 * s * s));
      wsum += w, m0 += w * x0(i, 0), m1 += w * x0(i, 1);
    }
    batch<double> xb(1, 2), mean(1, 2);
    xb(0, 0) = point[0], xb(0, 1) = point[1];
    g.posterior_mean(xb.view(), a, s, mean.view());
    CHECK(mean(0, 0) == Approx(m0 / wsum).margin(1.5e-2));
    CHECK(mean(0, 1) == Approx(m1 / wsum).margin(1.5e-2));
  }
}

TEST_CASE("gmm log p_0 integrates to one over the plane", "[models]") {
  const gmm g = reference_mixture();
  const double lo = -3.5, hi = 3.5;
  const int n = 1400;
  const double h = (hi - lo) / n;
  double total = 0;
  for (int i = 0; i <= n; ++i)
    for (int j = 0; j <= n; ++j) {
      const double p[2] = {lo + i * h, lo + j * h};
      const double w = (i == 0 || i == n ? 0.5 : 1.0) * (j == 0 || j == n ? 0.5 : 1.0);
      total += w * std::exp(g.log_prob(p, 1.0, 0.0));
    }
  CHECK(total * h * h == Approx(1.0).epsilon(1e-6));
}

TEST_CASE("gmm full covariance with diagonal matrices equals the diagonal mixture", "[models]") {
  const gmm diag = reference_mixture();
  std::vector<Eigen::VectorXd> means;
  std::vector<Eigen::MatrixXd> covs;
  const std::vector<std::vector<double>> m = {{-1, -1}, {1, -1}, {0, 1.2}, {-1.2, 0.6}, {1.1, 0.9}};
  const std::vector<std::vector<double>> sd = {{0.15, 0.15}, {0.1, 0.3}, {0.3, 0.08}, {0.05, 0.05}, {0.2, 0.2}};
  for (std::size_t k = 0; k < 5; ++k) {
    means.push_back(Eigen::Vector2d(m[k][0], m[k][1]));
    Eigen::MatrixXd c = Eigen::MatrixXd::Zero(2, 2);
    c(0, 0) = sd[k][0] * sd[k][0], c(1, 1) = sd[k][1] * sd[k][1];
    covs.push_back(c);
  }
  const gmm full = gmm::full({0.3, 0.25, 0.2, 0.15, 0.1}, means, covs);
  batch<double> x(3, 2), a(3, 2), b(3, 2);
  const double pts[] = {0.1, 0.2, -1.0, 0.5, 0.9, -0.9};
  std::copy(pts, pts + 6, x.data());
  diag.posterior_mean(x.view(), 0.7, 0.5, a.view());
  full.posterior_mean(x.view(), 0.7, 0.5, b.view());
  for (std::size_t i = 0; i < 6; ++i) CHECK(a.data()[i] == Approx(b.data()[i]).epsilon(1e-12));
  CHECK(diag.log_prob(pts, 0.7, 0.5) == Approx(full.log_prob(pts, 0.7, 0.5)).epsilon(1e-12));
}

TEST_CASE("gmm answers every prediction kind consistently", "[models]") {
  gmm g = reference_mixture();
  batch<double> x(4, 2), data(4, 2), out(4, 2);
  for (std::size_t i = 0; i < 8; ++i) x.data()[i] = 0.3 * double(i) - 1.0;
  const level<double> lv = level<double>::make(0.6, 0.8, 0.5, -1.0, 1.0);
  g(x.view(), lv, data.view());
  for (prediction k : {prediction::epsilon, prediction::v, prediction::score, prediction::velocity}) {
    g.predicts = k;
    g(x.view(), lv, out.view());
    convert<double>(k, prediction::data, lv, x.view(), out.view(), out.view());
    for (std::size_t i = 0; i < 8; ++i) CHECK(out.data()[i] == Approx(data.data()[i]).epsilon(1e-12));
  }
  // The score kind equals the analytic score.
  g.predicts = prediction::score;
  batch<double> s(4, 2);
  g(x.view(), lv, out.view());
  g.score(x.view(), 0.6, 0.8, s.view());
  for (std::size_t i = 0; i < 8; ++i) CHECK(out.data()[i] == Approx(s.data()[i]).epsilon(1e-12));
}

TEST_CASE("gmm exact sampling has the mixture's mean and covariance", "[models]") {
  const gmm g = full_mixture();
  std::mt19937_64 rng(5);
  batch<double> x(200000, 3);
  g.sample(rng, x.view());
  const Eigen::RowVector3d mean = x.view().eigen().colwise().mean();
  const Eigen::RowVector3d expect = 0.4 * Eigen::RowVector3d(1, 0, -1) + 0.6 * Eigen::RowVector3d(-0.5, 1, 0.5);
  for (int j = 0; j < 3; ++j) CHECK(mean(j) == Approx(expect(j)).margin(1e-2));
}

TEST_CASE("gmm rejects malformed mixtures with a message naming the problem", "[models]") {
  using nlohmann::json;
  CHECK_THROWS_WITH(gmm::from_json(json{{"means", {{0.0}}}, {"stds", {{1.0}}}}, "m.json"), "m.json: missing key \"weights\"");
  CHECK_THROWS_AS(gmm::from_json(json{{"weights", {0.5, 0.5}}, {"means", {{0.0}}}, {"stds", {{1.0}}}}), config_error);
  CHECK_THROWS_AS(gmm::from_json(json{{"weights", {1.0}}, {"means", {{0.0}}}, {"stds", {{-1.0}}}}), config_error);
  CHECK_THROWS_AS(gmm::from_json(json{{"weights", {1.0}}, {"means", {{0.0}}}}), config_error);
  CHECK_THROWS_AS(gmm::from_json(json{{"weights", {1.0}}, {"means", {{0.0, 1.0}}}, {"covs", {{{1.0, 0.5}, {0.2, 1.0}}}}}),
                  config_error);
  CHECK_THROWS_AS(gmm::load("/nonexistent/gmm.json"), io_error);
  const gmm g = reference_mixture();
  batch<double> x(2, 3), out(2, 3);
  CHECK_THROWS_AS(g(x.view(), level<double>::make(1, 0.5), out.view()), shape_error);
}

}  // namespace test_models
