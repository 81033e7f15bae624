// Adjoint sensitivities: the fields' Jacobian products against finite differences, continuous
// adjoint gradients against central differences of the solution, discretise-then-optimise against
// forward-mode (dual-number) derivatives of the same discrete map, and O(1) memory in the steps.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <functional>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "ferry/adjoint/adjoint_gradient.hpp"
#include "ferry/adjoint/affine_field.hpp"
#include "ferry/adjoint/cnf.hpp"
#include "ferry/adjoint/discrete_adjoint.hpp"
#include "ferry/adjoint/mlp_field.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/solvers/integrate.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/solvers/ode/heun.hpp"
#include "ferry/solvers/ode/rk4.hpp"
#include "ferry/driver/pf_ode.hpp"

namespace test_adjoint {

using namespace ferry;

namespace {

// Deterministic pseudo-random fill in [−scale, scale] (a hash of the index; no RNG state).
void fill(std::span<double> v, double scale, double seed) {
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * std::sin(12.9898 * double(i + 1) + 78.233 * seed);
}

batch<double> start(std::size_t n, std::size_t d, double seed = 0.7) {
  batch<double> x(n, d);
  fill(x.view().span(), 1.0, seed);
  return x;
}

// L(x) = Σ sin(x) + ½ Σ x²:  ∂L/∂x = cos(x) + x.
double smooth_loss(const_batch_view<double> x, batch_view<double> g) {
  double l = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    l += std::sin(x.data[i]) + 0.5 * x.data[i] * x.data[i];
    g.data[i] = std::cos(x.data[i]) + x.data[i];
  }
  return l;
}
double smooth_loss_value(const_batch_view<double> x) {
  batch<double> g(x.shape());
  return smooth_loss(x, g.view());
}

double rel_err(std::span<const double> a, std::span<const double> b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
  return std::sqrt(num / den);
}

// The one central-difference gradient of the file: of a scalar value(x) in every entry of x, and
// (value at x with θ perturbed in place) in every entry of θ:  ∂v/∂u ≈ (v(u + ε) − v(u − ε))/2ε.
template <class V>
std::vector<double> central_gradient(V&& value, const batch<double>& x, double eps = 1e-6) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    batch<double> p = x, m = x;
    p.data()[i] += eps;
    m.data()[i] -= eps;
    g[i] = (value(p) - value(m)) / (2 * eps);
  }
  return g;
}
template <class V>
std::vector<double> central_gradient(V&& value, const batch<double>& x, std::span<double> theta, double eps = 1e-6) {
  std::vector<double> g(theta.size());
  for (std::size_t j = 0; j < theta.size(); ++j) {
    const double keep = theta[j];
    theta[j] = keep + eps;
    const double vp = value(x);
    theta[j] = keep - eps;
    const double vm = value(x);
    theta[j] = keep;
    g[j] = (vp - vm) / (2 * eps);
  }
  return g;
}

// Central differences of L(x(t1)) in x0 and in θ, with a fine fixed-step RK4 (error ~1e-12).
template <class F>
void fd_gradient(F& f, std::span<double> theta, double t1, const batch<double>& x0, std::vector<double>& gx,
                 std::vector<double>& gt, std::size_t steps = 400) {
  auto value = [&](const batch<double>& x) {
    batch<double> y = x;
    rk4<double> s;
    integrate(f, s, 0.0, t1, steps, y.view());
    return smooth_loss_value(y.view());
  };
  gx = central_gradient(value, x0);
  gt = central_gradient(value, x0, theta);
}

// Checks aᵀ(∂f/∂x) and aᵀ(∂f/∂θ) of a field against central differences of a·f.
template <class F>
void check_vjp(F& f, std::span<double> theta, double t, const batch<double>& x) {
  batch<double> a = start(x.rows(), x.cols(), 2.1), ax(x.shape()), fx(x.shape());
  std::vector<double> at(theta.size());
  f.vjp(t, x.view(), a.view(), ax.view(), at);
  auto dot = [&](const batch<double>& y) {
    f(t, y.view(), fx.view());
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += a.data()[i] * fx.data()[i];
    return s;
  };
  const std::vector<double> fx_x = central_gradient(dot, x), fx_theta = central_gradient(dot, x, theta);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(ax.data()[i] == Approx(fx_x[i]).margin(1e-7));
  for (std::size_t j = 0; j < theta.size(); ++j) CHECK(at[j] == Approx(fx_theta[j]).margin(1e-7));
}

affine_field<double> make_affine() {
  affine_field<double> f(3);
  fill(f.parameters(), 0.6, 1.3);
  return f;
}
mlp_field<double> make_mlp(std::size_t hidden = 8) {
  mlp_field<double> f(2, hidden);
  fill(f.parameters(), 0.8, 2.9);
  return f;
}

template <class F>
void check_adjoint_against_fd(F& f, double t1, std::size_t rows) {
  const batch<double> x0 = start(rows, f.dim());
  std::vector<double> fd_x, fd_t;
  fd_gradient(f, f.parameters(), t1, x0, fd_x, fd_t);
  batch<double> gx(x0.shape());
  std::vector<double> gt(f.parameter_count());
  {
    rk4<double> s;
    adjoint_gradient(f, s, 0.0, t1, 400, x0.view(), smooth_loss, gx.view(), std::span<double>(gt));
    const double ex = rel_err(gx.view().span(), fd_x), et = rel_err(gt, fd_t);
    INFO("rk4 adjoint vs central differences: x0 " << ex << ", theta " << et);
    CHECK(ex <= 1e-5);
    CHECK(et <= 1e-5);
  }
  {
    dopri5<double> s({.rtol = 1e-11, .atol = 1e-11});
    const auto st = adjoint_gradient(f, s, 0.0, t1, 1, x0.view(), smooth_loss, gx.view(), std::span<double>(gt));
    const double ex = rel_err(gx.view().span(), fd_x), et = rel_err(gt, fd_t);
    INFO("dopri5 (1e-11) adjoint vs central differences: x0 " << ex << ", theta " << et << "; nfe " << st.forward_nfe
                                                                  << " + " << st.backward_nfe);
    CHECK(ex <= 1e-5);
    CHECK(et <= 1e-5);
  }
}

}  // namespace

TEST_CASE("affine and MLP fields: jvp and vjp against central differences", "[adjoint]") {
  auto affine = make_affine();
  check_vjp(affine, affine.parameters(), 0.4, start(4, 3));
  auto mlp = make_mlp();
  check_vjp(mlp, mlp.parameters(), 0.4, start(5, 2));
  // jvp = transpose of vjp: e_iᵀ(J v) = (Jᵀ e_i)·v.
  const batch<double> x = start(3, 2), v = start(3, 2, 4.4);
  batch<double> jv(x.shape()), e(x.shape()), jte(x.shape());
  mlp.jvp(0.3, x.view(), v.view(), jv.view());
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::fill(e.data(), e.data() + e.size(), 0.0);
    e.data()[i] = 1;
    mlp.vjp(0.3, x.view(), e.view(), jte.view(), {});
    double s = 0;
    for (std::size_t k = 0; k < x.size(); ++k) s += jte.data()[k] * v.data()[k];
    CHECK(jv.data()[i] == Approx(s).margin(1e-13));
  }
}

TEST_CASE("MLP divergence: exact trace, Hutchinson estimate and their gradients", "[adjoint]") {
  auto f = make_mlp(6);
  const batch<double> x = start(4, 2), probe = start(4, 2, 5.5);
  std::vector<double> div(4), div_h(4);
  f.divergence(0.2, x.view(), {}, div);
  f.divergence(0.2, x.view(), probe.view(), div_h);
  // The trace from the jvp's columns, and εᵀJε from one jvp.
  batch<double> e(x.shape()), je(x.shape());
  for (std::size_t r = 0; r < 4; ++r) {
    double tr = 0;
    for (std::size_t j = 0; j < 2; ++j) {
      std::fill(e.data(), e.data() + e.size(), 0.0);
      e(r, j) = 1;
      f.jvp(0.2, x.view(), e.view(), je.view());
      tr += je(r, j);
    }
    CHECK(div[r] == Approx(tr).epsilon(1e-13));
  }
  f.jvp(0.2, x.view(), probe.view(), je.view());
  for (std::size_t r = 0; r < 4; ++r) CHECK(div_h[r] == Approx(probe(r, 0) * je(r, 0) + probe(r, 1) * je(r, 1)).epsilon(1e-13));
  // ∇ of Σ α_i div_i in x and θ against central differences, for both estimators.
  const std::vector<double> alpha = {0.3, -1.2, 0.7, 2.0};
  for (const bool hutch : {false, true}) {
    const const_batch_view<double> pr = hutch ? const_batch_view<double>(probe.view()) : const_batch_view<double>{};
    batch<double> gx(x.shape());
    std::vector<double> gt(f.parameter_count(), 0.0);
    f.divergence_vjp(0.2, x.view(), pr, alpha, gx.view(), gt);
    auto value = [&](const batch<double>& y) {
      std::vector<double> d(4);
      f.divergence(0.2, y.view(), pr, d);
      double s = 0;
      for (std::size_t i = 0; i < 4; ++i) s += alpha[i] * d[i];
      return s;
    };
    const std::vector<double> fd_x = central_gradient(value, x), fd_theta = central_gradient(value, x, f.parameters());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(gx.data()[i] == Approx(fd_x[i]).margin(1e-7));
    for (std::size_t j = 0; j < fd_theta.size(); ++j) CHECK(gt[j] == Approx(fd_theta[j]).margin(1e-7));
  }
}

TEST_CASE("Gaussian-mixture vjp: Hessian of log p_t and the model's Jacobian for every prediction kind", "[adjoint]") {
  using gmm = gaussian_mixture<double>;
  const gmm diag = gmm::load(FERRY_TEST_DATA "/diffusion/gmm.json");
  Eigen::MatrixXd c0(2, 2), c1(2, 2);
  c0 << 0.3, 0.1, 0.1, 0.2;
  c1 << 0.05, -0.02, -0.02, 0.4;
  const gmm full = gmm::full({0.3, 0.7}, {Eigen::Vector2d(1, -0.5), Eigen::Vector2d(-1, 1)}, {c0, c1});
  const batch<double> x = start(5, 2), a = start(5, 2, 3.3);
  const double eps = 1e-6;
  for (const gmm* g0 : {&diag, &full})
    for (const auto lv : {level<double>::make(0.8, 0.6), level<double>::make(1.0, 0.05), level<double>::make(0.0, 1.0)}) {
      gmm g = *g0;
      // Hessian-vector product against differences of the score.
      if (lv.alpha > 0) {
        batch<double> hv(x.shape()), sp(x.shape()), sm(x.shape());
        g.score_hessian_product(x.view(), lv.alpha, lv.sigma, a.view(), hv.view());
        batch<double> xp = x, xm = x;
        for (std::size_t i = 0; i < x.size(); ++i) xp.data()[i] += eps * a.data()[i], xm.data()[i] -= eps * a.data()[i];
        g.score(xp.view(), lv.alpha, lv.sigma, sp.view());
        g.score(xm.view(), lv.alpha, lv.sigma, sm.view());
        for (std::size_t i = 0; i < x.size(); ++i)
          CHECK(hv.data()[i] == Approx((sp.data()[i] - sm.data()[i]) / (2 * eps)).epsilon(1e-6).margin(1e-6));
      }
      for (const prediction kind : {prediction::data, prediction::epsilon, prediction::v, prediction::score}) {
        if (lv.alpha == 0 && kind != prediction::data && kind != prediction::v) continue;
        g.predicts = kind;
        {
          batch<double> vj(x.shape()), out(x.shape());
          g.vjp(x.view(), lv, a.view(), vj.view());
          auto a_dot_model = [&](const batch<double>& y) {  // aᵀ m(y)
            g(y.view(), lv, out.view());
            double s = 0;
            for (std::size_t k = 0; k < y.size(); ++k) s += a.data()[k] * out.data()[k];
            return s;
          };
          const std::vector<double> fd = central_gradient(a_dot_model, x);
          for (std::size_t i = 0; i < x.size(); ++i) CHECK(vj.data()[i] == Approx(fd[i]).epsilon(1e-6).margin(1e-6));
        }
      }
    }
}

TEST_CASE("continuous adjoint gradients match central differences (affine field)", "[adjoint]") {
  auto f = make_affine();
  check_adjoint_against_fd(f, 1.0, 4);
}

TEST_CASE("continuous adjoint gradients match central differences (MLP field)", "[adjoint]") {
  auto f = make_mlp();
  check_adjoint_against_fd(f, 1.0, 6);
}

TEST_CASE("the PF-ODE of the Gaussian mixture is differentiable: adjoint against central differences", "[adjoint]") {
  using gmm = gaussian_mixture<double>;
  gmm g = gmm::load(FERRY_TEST_DATA "/diffusion/gmm.json");
  g.predicts = prediction::epsilon;
  const vp_linear<double> proc;
  pf_ode<vp_linear<double>, gmm> ode(proc, g);
  static_assert(differentiable_field<decltype(ode), double>);
  // From t = 0.9 down to t = 0.05 (the sampling direction), with a tight DOPRI5 both ways.
  const batch<double> x0 = start(4, 2);
  batch<double> gx(x0.shape());
  std::vector<double> none;
  dopri5<double> s({.rtol = 1e-11, .atol = 1e-11});
  adjoint_gradient(ode, s, 0.9, 0.05, 1, x0.view(), smooth_loss, gx.view(), std::span<double>(none));
  const std::vector<double> fd = central_gradient(
      [&](const batch<double>& x) {
        batch<double> y = x;
        rk4<double> r;
        integrate(ode, r, 0.9, 0.05, 600, y.view());
        return smooth_loss_value(y.view());
      },
      x0);
  const double e = rel_err(gx.view().span(), fd);
  INFO("PF-ODE adjoint vs central differences: " << e);
  CHECK(e <= 1e-5);
}

namespace {

// Forward-mode reference: dual numbers through the same Runge–Kutta map, in scalar code.
struct dual {
  double v = 0, d = 0;
};
dual operator+(dual a, dual b) { return {a.v + b.v, a.d + b.d}; }
dual operator*(dual a, dual b) { return {a.v * b.v, a.d * b.v + a.v * b.d}; }
dual operator*(double a, dual b) { return {a * b.v, a * b.d}; }
dual tanh(dual a) {
  const double t = std::tanh(a.v);
  return {t, (1 - t * t) * a.d};
}

// f for the MLP of make_mlp (D = 2) in dual numbers: θ layout as mlp_field.
void mlp_dual(const std::vector<dual>& th, std::size_t hidden, double t, const dual* x, dual* out) {
  const std::size_t d = 2, H = hidden;
  for (std::size_t j = 0; j < d; ++j) out[j] = th[2 * H * d + 2 * H + j];
  for (std::size_t h = 0; h < H; ++h) {
    dual z = th[h * d + 0] * x[0] + th[h * d + 1] * x[1] + t * th[H * d + h] + th[H * d + H + h];
    const dual a = tanh(z);
    for (std::size_t j = 0; j < d; ++j) out[j] = out[j] + th[H * d + 2 * H + j * H + h] * a;
  }
}

// n steps of the tableau on rows × 2 dual state; returns L = Σ sin(x) + ½x² with its derivative.
template <const auto& Tab>
dual dual_map(const std::vector<dual>& th, std::size_t hidden, std::vector<dual> x, std::size_t rows, double t1,
              std::size_t n) {
  const double h = t1 / double(n);
  constexpr std::size_t S = Tab.stages;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = double(i) * h;
    for (std::size_t r = 0; r < rows; ++r) {
      std::array<std::array<dual, 2>, S> k{};
      for (std::size_t s = 0; s < S; ++s) {
        dual y[2] = {x[2 * r], x[2 * r + 1]};
        for (std::size_t j = 0; j < s; ++j)
          for (int c = 0; c < 2; ++c) y[c] = y[c] + (h * Tab.a[s][j]) * k[j][std::size_t(c)];
        mlp_dual(th, hidden, t + Tab.c[s] * h, y, k[s].data());
      }
      for (std::size_t s = 0; s < S; ++s)
        for (int c = 0; c < 2; ++c) x[2 * r + std::size_t(c)] = x[2 * r + std::size_t(c)] + (h * Tab.b[s]) * k[s][std::size_t(c)];
    }
  }
  dual l;
  for (const dual& v : x) {
    const dual s{std::sin(v.v), std::cos(v.v) * v.d};
    l = l + s + 0.5 * (v * v);
  }
  return l;
}

template <const auto& Tab>
void check_discrete_adjoint() {
  auto f = make_mlp(5);
  const std::size_t rows = 3, n = 17;
  const double t1 = 1.2;
  const batch<double> x0 = start(rows, 2);
  batch<double> gx(x0.shape());
  std::vector<double> gt(f.parameter_count());
  discrete_adjoint<Tab> dto(1);
  const double l = dto.gradient(f, 0.0, t1, n, x0.view(), smooth_loss, gx.view(), std::span<double>(gt));
  // The loss equals integrate()'s with explicit_rk<Tab>.
  batch<double> y = x0;
  explicit_rk<Tab> solver;
  integrate(f, solver, 0.0, t1, n, y.view());
  CHECK(l == smooth_loss_value(y.view()));
  // Every component of the gradient against one forward-mode sweep.
  const auto th = f.parameters();
  double worst = 0;
  for (std::size_t k = 0; k < x0.size() + th.size(); ++k) {
    std::vector<dual> dth(th.size()), dx(x0.size());
    for (std::size_t j = 0; j < th.size(); ++j) dth[j] = {th[j], k == x0.size() + j ? 1.0 : 0.0};
    for (std::size_t j = 0; j < x0.size(); ++j) dx[j] = {x0.data()[j], k == j ? 1.0 : 0.0};
    const dual r = dual_map<Tab>(dth, 5, dx, rows, t1, n);
    const double g = k < x0.size() ? gx.data()[k] : gt[k - x0.size()];
    worst = std::max(worst, std::abs(g - r.d) / std::max(1.0, std::abs(r.d)));
  }
  INFO("max |DTO - forward mode| (relative to max(1, |g|)): " << worst);
  CHECK(worst < 1e-10);
  // Checkpointing every k steps recomputes the same states: the same gradient, bit for bit.
  for (std::size_t every : {2, 5, 17, 100}) {
    batch<double> gx2(x0.shape());
    std::vector<double> gt2(f.parameter_count());
    discrete_adjoint<Tab> d2(every);
    d2.gradient(f, 0.0, t1, n, x0.view(), smooth_loss, gx2.view(), std::span<double>(gt2));
    CHECK(std::equal(gt.begin(), gt.end(), gt2.begin()));
    CHECK(std::equal(gx.data(), gx.data() + gx.size(), gx2.data()));
    // Forward n steps, then per segment its k − 1 recomputed steps and k reverse steps.
    if (every == 5) CHECK(d2.evaluations == (n + (n - (n - 1) / 5 - 1) + n) * Tab.stages);
  }
}

}  // namespace

TEST_CASE("discretise-then-optimise is the exact gradient of the discrete solver map", "[adjoint]") {
  check_discrete_adjoint<rk4_tableau>();
  check_discrete_adjoint<heun_tableau>();
  check_discrete_adjoint<dopri5_tableau>();  // its fifth-order solution at fixed steps
}

TEST_CASE("the adjoint's memory does not grow with the number of steps", "[adjoint]") {
  auto f = make_mlp(16);
  const batch<double> x0 = start(32, 2);
  batch<double> gx(x0.shape());
  std::vector<double> gt(f.parameter_count());
  auto allocations = [&](std::size_t steps) {
    rk4<double> s;
    ferry_test::count_allocations count;
    adjoint_gradient(f, s, 0.0, 1.0, steps, x0.view(), smooth_loss, gx.view(), std::span<double>(gt));
    return count.count();
  };
  allocations(4);  // sizes the field's workspace for this batch
  const std::size_t few = allocations(10), many = allocations(1000);
  INFO("allocations: " << few << " for 10 steps, " << many << " for 1000");
  CHECK(few == many);
  CHECK(few <= 16);
  // Checkpointed discretise-then-optimise holds ⌈n/k⌉ + k states: allocations grow only with those.
  discrete_adjoint<rk4_tableau> dto(32);
  auto dto_allocations = [&](std::size_t steps) {
    ferry_test::count_allocations count;
    dto.gradient(f, 0.0, 1.0, steps, x0.view(), smooth_loss, gx.view(), std::span<double>(gt));
    return count.count();
  };
  dto_allocations(1024);
  CHECK(dto_allocations(1024) == 0);  // workspace kept from the call before
}

TEST_CASE("CNF log-likelihood: a constant field shifts the base density exactly", "[adjoint][cnf]") {
  mlp_field<double> f(2, 3);  // W = 0: f = b2, so z(1) = x + b2 and the trace is 0
  auto th = f.parameters();
  std::fill(th.begin(), th.end(), 0.0);
  th[th.size() - 2] = 0.5;
  th[th.size() - 1] = -1.0;
  cnf_field<double, mlp_field<double>> g(f);
  const batch<double> x = start(4, 2);
  std::vector<double> lp(4);
  rk4<double> s;
  cnf_log_likelihood(g, s, 3, x.view(), std::span<double>(lp));
  for (std::size_t i = 0; i < 4; ++i) {
    const double a = x(i, 0) + 0.5, b = x(i, 1) - 1.0;
    CHECK(lp[i] == Approx(-0.5 * (a * a + b * b) - std::log(2 * M_PI)).epsilon(1e-13));
  }
}

TEST_CASE("CNF negative log-likelihood gradient: adjoint against central differences, exact and Hutchinson", "[adjoint][cnf]") {
  auto f = make_mlp(4);
  cnf_field<double, mlp_field<double>> g(f);
  const batch<double> x = start(5, 2), probe = start(5, 2, 6.6);
  for (const bool hutch : {false, true}) {
    g.set_probe(hutch ? const_batch_view<double>(probe.view()) : const_batch_view<double>{});
    std::vector<double> adj(f.parameter_count()), fd(f.parameter_count());
    dopri5<double> tight({.rtol = 1e-11, .atol = 1e-11});
    const auto st = cnf_nll_gradient(g, tight, 1, x.view(), std::span<double>(adj));
    auto nll = [&] {
      rk4<double> s;
      std::vector<double> lp(5);
      cnf_log_likelihood(g, s, 300, x.view(), std::span<double>(lp));
      double acc = 0;
      for (double v : lp) acc -= v;
      return acc / 5;
    };
    CHECK(st.loss == Approx(nll()).epsilon(1e-9));
    auto th = f.parameters();
    for (std::size_t j = 0; j < th.size(); ++j) {
      const double keep = th[j];
      th[j] = keep + 1e-6;
      const double up = nll();
      th[j] = keep - 1e-6;
      const double down = nll();
      th[j] = keep;
      fd[j] = (up - down) / 2e-6;
    }
    const double e = rel_err(adj, fd);
    INFO((hutch ? "Hutchinson" : "exact") << " trace: CNF adjoint vs central differences " << e);
    CHECK(e <= 1e-5);
  }
}

}  // namespace test_adjoint
