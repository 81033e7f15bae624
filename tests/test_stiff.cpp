// Implicit steppers (backward Euler, trapezoidal, Rosenbrock-W 2(3)) on stiff problems: measured
// orders, step counts against explicit methods at equal error, and the two linear solvers.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "ferry/solvers/integrate.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/solvers/ode/rk4.hpp"
#include "ferry/solvers/stiff/backward_euler.hpp"
#include "ferry/solvers/stiff/rosenbrock23.hpp"
#include "ferry/solvers/stiff/trapezoidal.hpp"

namespace test_stiff {

using namespace ferry;

namespace {

// A stiff linear system of Prothero–Robinson type, x' = A(x − g(t)) + g'(t), with
// A = Q·diag(−1, −κ)·Qᵀ (Q a rotation by 0.3) and g(t) = (sin t, cos 2t): the exact solution from
// x(0) = g(0) + Q·(1, fast) is x(t) = g(t) + Q·(e^{−t}, fast·e^{−κt}). It has a jvp (J = A).
struct stiff_linear {
  double kappa = 1e5, fast = 0;
  std::size_t evals = 0;
  double a(int i, int j) const {
    const double c = std::cos(0.3), s = std::sin(0.3);
    const double q[2][2] = {{c, -s}, {s, c}}, d[2] = {-1.0, -kappa};
    return q[i][0] * d[0] * q[j][0] + q[i][1] * d[1] * q[j][1];
  }
  void operator()(double t, const_batch_view<double> x, batch_view<double> dx) {
    ++evals;
    const double g[2] = {std::sin(t), std::cos(2 * t)}, dg[2] = {std::cos(t), -2 * std::sin(2 * t)};
    for (std::size_t r = 0; r < x.rows; ++r)
      for (int i = 0; i < 2; ++i)
        dx(r, std::size_t(i)) = a(i, 0) * (x(r, 0) - g[0]) + a(i, 1) * (x(r, 1) - g[1]) + dg[i];
  }
  void jvp(double, const_batch_view<double> x, const_batch_view<double> v, batch_view<double> out) const {
    for (std::size_t r = 0; r < x.rows; ++r)
      for (int i = 0; i < 2; ++i) out(r, std::size_t(i)) = a(i, 0) * v(r, 0) + a(i, 1) * v(r, 1);
  }
  batch<double> start() const {
    const auto e = exact(0);
    batch<double> x(1, 2);
    x(0, 0) = e[0];
    x(0, 1) = e[1];
    return x;
  }
  std::array<double, 2> exact(double t) const {
    const double c = std::cos(0.3), s = std::sin(0.3);
    const double w0 = std::exp(-t), w1 = fast * std::exp(-kappa * t);
    return {std::sin(t) + c * w0 - s * w1, std::cos(2 * t) + s * w0 + c * w1};
  }
};

// Van der Pol with μ = 1000 (Hairer & Wanner II, §IV.1): x1' = x2, x2' = μ(1 − x1²)x2 − x1.
template <bool WithJvp>
struct van_der_pol {
  double mu = 1000;
  void operator()(double, const_batch_view<double> x, batch_view<double> dx) const {
    for (std::size_t r = 0; r < x.rows; ++r) {
      dx(r, 0) = x(r, 1);
      dx(r, 1) = mu * (1 - x(r, 0) * x(r, 0)) * x(r, 1) - x(r, 0);
    }
  }
  void jvp(double, const_batch_view<double> x, const_batch_view<double> v, batch_view<double> out) const
    requires WithJvp
  {
    for (std::size_t r = 0; r < x.rows; ++r) {
      out(r, 0) = v(r, 1);
      out(r, 1) = (-2 * mu * x(r, 0) * x(r, 1) - 1) * v(r, 0) + mu * (1 - x(r, 0) * x(r, 0)) * v(r, 1);
    }
  }
};

template <class Solver>
double linear_error(std::size_t n, Solver solver = {}, double fast = 0, double t1 = 1.0) {
  stiff_linear f{.fast = fast};
  batch<double> x = f.start();
  integrate(f, solver, 0.0, t1, n, x.view());
  const auto e = f.exact(t1);
  return std::max(std::abs(x(0, 0) - e[0]), std::abs(x(0, 1) - e[1]));
}

template <class Solver>
double measured_order(std::size_t n, Solver solver = {}) {
  return std::log2(linear_error(n, solver) / linear_error(2 * n, solver));
}

rosenbrock23<double> fixed_rosenbrock() { return rosenbrock23<double>({.adaptive = false}); }

}  // namespace

TEST_CASE("implicit steppers converge at their order on a stiff linear system (kappa = 1e5)", "[stiff]") {
  // Steps h = 1/64 … 1/128 have h·κ ≈ 1000: far outside every explicit method's stability region.
  const double be = measured_order<backward_euler<double>>(64);
  const double tr = measured_order<trapezoidal<double>>(64);
  const double ros = measured_order(64, fixed_rosenbrock());
  INFO("orders: backward Euler " << be << ", trapezoidal " << tr << ", rosenbrock23 " << ros);
  CHECK(be == Approx(1).margin(0.1));
  CHECK(tr == Approx(2).margin(0.1));
  CHECK(ros == Approx(2).margin(0.2));
}

TEST_CASE("a fast transient is damped by the L-stable steppers and not by the trapezoidal rule", "[stiff]") {
  // Stability functions at h·κ = 3125: backward Euler 1/(1 + hκ) and Rosenbrock-W 2(3) → 0, while
  // the trapezoidal rule's (1 − hκ/2)/(1 + hκ/2) → −1 keeps the transient alive.
  const double be = linear_error<backward_euler<double>>(32, {}, 1.0);
  const double ros = linear_error(32, fixed_rosenbrock(), 1.0);
  const double tr = linear_error<trapezoidal<double>>(32, {}, 1.0);
  INFO("errors with a unit fast transient: backward Euler " << be << ", rosenbrock23 " << ros << ", trapezoidal " << tr);
  CHECK(be < 1e-2);
  CHECK(ros < 1e-3);
  CHECK(tr > 0.5);
}

TEST_CASE("on the stiff linear system RK4 needs over 100x the steps of the implicit methods at equal error", "[stiff]") {
  for (auto [name, err, n_implicit] : {std::tuple{"trapezoidal", linear_error<trapezoidal<double>>(32), 32},
                                       std::tuple{"backward Euler", linear_error<backward_euler<double>>(32), 32},
                                       std::tuple{"rosenbrock23", linear_error(32, fixed_rosenbrock()), 32}}) {
    // RK4 is stable only for h·κ < 2.79, so it needs at least ~3.6e4 steps on [0, 1].
    std::size_t n = 1024;
    while (!(linear_error<rk4<double>>(n) <= err)) n *= 2;
    std::size_t lo = n / 2;
    while (n - lo > n / 64) {  // bisect to 1.5 %
      const std::size_t mid = (lo + n) / 2;
      (linear_error<rk4<double>>(mid) <= err ? n : lo) = mid;
    }
    INFO(name << ": error " << err << " in " << n_implicit << " steps; RK4 needs " << n);
    CHECK(double(n) >= 100.0 * n_implicit);
  }
}

TEST_CASE("Van der Pol mu = 1000: rosenbrock23 against dopri5 at equal error", "[stiff]") {
  const double t1 = 100;  // along the slow branch x1 = 2 → 1.9, where J has an eigenvalue ≈ −3000
  auto run_ros = [&](double tol, std::size_t& steps) {
    van_der_pol<true> f;
    rosenbrock23<double> s({.rtol = tol, .atol = tol, .autonomous = true});
    batch<double> x(1, 2);
    x(0, 0) = 2;
    integrate(f, s, 0.0, t1, 1, x.view());
    steps = s.accepted + s.rejected;
    return x;
  };
  std::size_t ref_steps = 0, ros_steps = 0;
  const batch<double> ref = run_ros(1e-11, ref_steps);
  const batch<double> ros = run_ros(1e-5, ros_steps);
  const double ros_err = std::max(std::abs(ros(0, 0) - ref(0, 0)), std::abs(ros(0, 1) - ref(0, 1)));
  std::size_t dp_steps = 0;
  double dp_err = 0, tol = 1e-3;
  for (; tol >= 1e-9; tol /= 10) {
    van_der_pol<true> f;
    dopri5<double> s({.rtol = tol, .atol = tol, .max_attempts = 10000000});
    batch<double> x(1, 2);
    x(0, 0) = 2;
    integrate(f, s, 0.0, t1, 1, x.view());
    dp_steps = s.accepted + s.rejected;
    dp_err = std::max(std::abs(x(0, 0) - ref(0, 0)), std::abs(x(0, 1) - ref(0, 1)));
    if (dp_err <= ros_err) break;
  }
  INFO("rosenbrock23 rtol 1e-5: " << ros_steps << " attempts, error " << ros_err << " (reference " << ref_steps
                                  << " attempts); dopri5 rtol " << tol << ": " << dp_steps << " attempts, error " << dp_err);
  CHECK(dp_err <= ros_err);
  CHECK(double(dp_steps) >= 100.0 * double(ros_steps));
  CHECK(ros_err < 1e-3);
}

TEST_CASE("the Jacobian from jvp, from finite differences and the Krylov solve give the same steps", "[stiff]") {
  auto run = [](auto f, linear_options<double> lin) {
    rosenbrock23<double> s({.rtol = 1e-7, .atol = 1e-7, .autonomous = true, .linear = lin});
    batch<double> x(1, 2);
    x(0, 0) = 2;
    integrate(f, s, 0.0, 20.0, 1, x.view());
    return x;
  };
  const batch<double> a = run(van_der_pol<true>{}, {.method = linear_solver::dense});
  const batch<double> b = run(van_der_pol<false>{}, {.method = linear_solver::dense});
  const batch<double> c = run(van_der_pol<true>{}, {.method = linear_solver::krylov});
  const batch<double> d = run(van_der_pol<false>{}, {.method = linear_solver::krylov});
  for (const auto* y : {&b, &c, &d}) {
    CHECK(std::abs((*y)(0, 0) - a(0, 0)) < 1e-6);
    CHECK(std::abs((*y)(0, 1) - a(0, 1)) < 1e-6);
  }
}

namespace {
// The 1-D heat equation u_t = u_xx on (0, 1), u = 0 at both ends, n interior points (second
// differences): stiffness ratio ≈ 4n²/π², exact mode sin(πx) decays as e^{−π²t}·(discrete factor).
struct heat {
  std::size_t n = 200;
  void operator()(double, const_batch_view<double> u, batch_view<double> du) const {
    const double inv_h2 = double((n + 1) * (n + 1));
    for (std::size_t i = 0; i < n; ++i) {
      const double l = i > 0 ? u.data[i - 1] : 0, r = i + 1 < n ? u.data[i + 1] : 0;
      du.data[i] = (l - 2 * u.data[i] + r) * inv_h2;
    }
  }
};
}  // namespace

TEST_CASE("Jacobian-free GMRES solves a 200-unknown heat equation like the dense LU", "[stiff]") {
  auto run = [](linear_solver m) {
    heat f;
    batch<double> u(1, f.n);
    for (std::size_t i = 0; i < f.n; ++i) u.data()[i] = std::sin(M_PI * double(i + 1) / double(f.n + 1));
    backward_euler<double> s({.linear = {.method = m}});
    integrate(f, s, 0.0, 0.1, 20, u.view());
    return u;
  };
  const batch<double> dense = run(linear_solver::dense), krylov = run(linear_solver::krylov);
  double diff = 0;
  for (std::size_t i = 0; i < dense.size(); ++i) diff = std::max(diff, std::abs(dense.data()[i] - krylov.data()[i]));
  INFO("max |dense - krylov| = " << diff);
  CHECK(diff < 1e-9);
  // Backward Euler damps the mode by (1 + h·μ)^−20 with μ = 4(n+1)² sin²(π/(2(n+1))).
  const double mu = 4.0 * 201 * 201 * std::pow(std::sin(M_PI / 402), 2), h = 0.1 / 20;
  CHECK(dense.data()[100] == Approx(std::sin(M_PI * 101 / 201) * std::pow(1 + h * mu, -20)).epsilon(1e-9));
}

TEST_CASE("implicit steppers do not allocate inside a step", "[stiff]") {
  stiff_linear f;
  field_problem<double, stiff_linear> p(f);
  batch<double> x = f.start();
  backward_euler<double> be;
  trapezoidal<double> tr;
  rosenbrock23<double> ros;
  be.reset(x.shape());
  tr.reset(x.shape());
  ros.reset(x.shape());
  const step_span<double> s{field_level(0.0), field_level(0.01), 0, 1};
  ferry_test::count_allocations count;
  be.step(p, s, x.view());
  tr.step(p, s, x.view());
  ros.step(p, s, x.view());
  CHECK(count.count() == 0);
}

}  // namespace test_stiff
