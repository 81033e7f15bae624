// Convergence of Euler–Maruyama on an Ornstein–Uhlenbeck SDE with a known solution, driven by
// matched Brownian paths from the virtual Brownian tree (the same path at every step count).
//
// The SDE: data N(0, 1) under a VP process with constant β = b has p_t = N(0, 1) for every t, the
// score is −x, and the reverse SDE of the η-family (euler_maruyama.hpp) in reverse time τ = t1 − t is
//
//   dX = −θ·X dτ + ς dB_τ,   θ = η²·b/2,   ς = η·√b
//   X_T = e^{−θT}·X_0 + ς·∫_0^T e^{−θ(T−u)} dB_u = e^{−θT}·X_0 + ς·(B_T − θ·∫_0^T e^{−θ(T−u)}·B_u du)
//
// (integration by parts), where the Riemann integral of the tree's path is taken by Simpson's rule on
// 2¹² intervals (error ~ T/m·ς·θ ≈ 1e-4, well below the EM errors measured).
#include <cmath>
#include <vector>

#include "catch.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/brownian_tree.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/sde/euler_maruyama.hpp"
#include "test_support.hpp"

namespace test_sde_order {

using namespace ferry;

namespace {

constexpr std::size_t paths = FERRY_TEST_SANITIZED ? 256 : 2000;

constexpr double b = 2, t1 = 1, t_end = 0.2, T = t1 - t_end, eta = 1;
constexpr double theta = eta * eta * b / 2, varsigma = 1.4142135623730951 * eta;  // η·√b

/// Step i's normal array: (B(τ_{i+1}) − B(τ_i))/√(τ_{i+1} − τ_i) of the tree over τ ∈ [0, T].
struct tree_increments {
  static constexpr bool active = true;
  random::brownian_tree<double>* tree;
  const std::vector<double>* tau;
  batch<double>* tmp;
  tree_increments for_rows(std::uint64_t) const { return *this; }  // one chunk
  void normal(std::size_t step, std::uint32_t, batch_view<double> out) const {
    const double a = (*tau)[step], c = (*tau)[step + 1];
    tree->increment(a, c, out, tmp->view());
    simd::lincomb<double, 1>(out.span(), {1 / std::sqrt(c - a)}, {out.data});
  }
};

struct ou_run {
  batch<double> x0, exact;
  random::brownian_tree<double> tree{7, 0, 0.0, T, 1e-7};

  ou_run() : x0(paths, 1), exact(paths, 1) {
    random::fill_normal(3, x0.view(), 0, 0);
    tree.reset(x0.shape());
    // Simpson's rule for I = ∫_0^T e^{−θ(T−u)}·B_u du.
    constexpr std::size_t m = 4096;
    batch<double> w(paths, 1), integral(paths, 1);
    for (std::size_t j = 0; j <= m; ++j) {
      const double u = T * double(j) / m, weight = (j == 0 || j == m ? 1 : j % 2 ? 4 : 2) * T / (3 * m);
      tree.value(u, w.view());
      simd::lincomb<double, 2>(integral.view().span(), {1, weight * std::exp(-theta * (T - u))}, {integral.data(), w.data()});
    }
    tree.value(T, w.view());
    simd::lincomb<double, 3>(exact.view().span(), {std::exp(-theta * T), varsigma, -varsigma * theta},
                             {x0.data(), w.data(), integral.data()});
  }

  /// X_N by Euler–Maruyama with N uniform steps in t from t1 down to t_end.
  batch<double> euler_maruyama_at(std::size_t n) {
    const vp_linear<double> process(b, b);
    using vec = Eigen::VectorXd;
    auto model = gaussian_mixture<double>::diagonal({1.0}, {vec::Zero(1)}, {vec::Ones(1)});
    std::vector<level<double>> levels;
    std::vector<double> tau;
    for (std::size_t i = 0; i <= n; ++i) {
      const double t = t1 - T * double(i) / double(n);
      levels.push_back(level_at(process, t));
      tau.push_back(t1 - t);
    }
    batch<double> tmp(paths, 1), x = x0;
    tree_increments noise{&tree, &tau, &tmp};
    pf_ode<vp_linear<double>, gaussian_mixture<double>, no_transform, tree_increments> problem(process, model, {}, noise);
    euler_maruyama<double> em({.eta = eta});
    const schedule<double> sched = make_schedule(levels);
    ferry::sample(problem, sched, em, x.view());
    return x;
  }
};

/// Least-squares slope of log e against log h (h = T/N).
double slope(const std::vector<double>& n, const std::vector<double>& e) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double k = double(n.size());
  for (std::size_t i = 0; i < n.size(); ++i) {
    const double x = std::log(1 / n[i]), y = std::log(e[i]);
    sx += x, sy += y, sxx += x * x, sxy += x * y;
  }
  return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

}  // namespace

TEST_CASE("Euler-Maruyama converges strongly and weakly at order 1 on an OU SDE with matched Brownian paths", "[sde][order]") {
  ou_run run;
  const std::vector<double> steps = {4, 8, 16, 32, 64};
  std::vector<double> strong, weak;
  for (double n : steps) {
    const batch<double> x = run.euler_maruyama_at(std::size_t(n));
    double abs_err = 0, sq_diff = 0;
    for (std::size_t r = 0; r < paths; ++r) {
      abs_err += std::abs(x.data()[r] - run.exact.data()[r]);
      sq_diff += x.data()[r] * x.data()[r] - run.exact.data()[r] * run.exact.data()[r];
    }
    strong.push_back(abs_err / paths);                // E|X_N − X_T|
    weak.push_back(std::abs(sq_diff / paths));        // |E[X_N²] − E[X_T²]| on the same paths
  }
  const double strong_slope = slope(steps, strong), weak_slope = slope(steps, weak);
  INFO("strong errors " << strong[0] << " ... " << strong.back() << ", slope " << strong_slope);
  INFO("weak errors " << weak[0] << " ... " << weak.back() << ", slope " << weak_slope);
  WARN("Euler-Maruyama on OU: strong slope " << strong_slope << ", weak slope " << weak_slope);
  // The noise is additive (g does not depend on x, as for every diffusion process), so Euler–Maruyama
  // is Milstein's scheme and converges strongly at order 1, not the 1/2 of multiplicative noise
  // (Kloeden & Platen 1992, Thm 10.2.2 and §10.3); its weak order is 1 (Thm 14.1.5). Bands of ±0.15
  // leave room for the Monte-Carlo noise of 2000 paths (the errors' relative standard error is ~3%).
  CHECK(strong_slope == Approx(1.0).margin(0.15));
  CHECK(weak_slope == Approx(1.0).margin(0.15));
  // The strong error must be the EM error, not the reference's quadrature error.
  CHECK(strong.back() > 20 * 1e-4);
}

}  // namespace test_sde_order
