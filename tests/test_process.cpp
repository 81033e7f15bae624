// Continuous noise processes against their papers' formulas: VP identities, exact inverses of λ,
// derivatives against finite differences, drift and diffusion against closed forms.
#include <cmath>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "test_support.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/ve.hpp"
#include "ferry/process/vp_cosine.hpp"
#include "ferry/process/vp_linear.hpp"

namespace test_process {

using namespace ferry;

namespace {

// The flow with SD3's shift 3 as a default-constructible type for the template tests.
struct flow_shift3 : flow<double> {
  flow_shift3() : flow<double>(3) {}
};

// Where a process is sampled: its [t_min, t_max], or EDM's usual σ range.
template <class P>
std::pair<double, double> sample_range(const P& p) {
  if constexpr (std::is_same_v<P, edm<double>>) return {p.sigma_min, p.sigma_max};
  else return {p.t_min(), p.t_max()};
}

// n + 1 times across the range, denser near the low end where λ moves fastest.
template <class P>
std::vector<double> sample_times(const P& p, int n = 200) {
  const auto [lo, hi] = sample_range(p);
  std::vector<double> ts;
  for (int i = 0; i <= n; ++i) {
    const double u = static_cast<double>(i) / n;
    ts.push_back(lo + (hi - lo) * u * u);
  }
  return ts;
}

}  // namespace

static_assert(noise_process<vp_linear<double>> && noise_process<vp_cosine<double>> && noise_process<ve<double>> &&
              noise_process<flow<double>> && noise_process<vp_linear<float>> && noise_process<vp_cosine<float>> &&
              noise_process<ve<float>> && noise_process<flow<float>>);

TEMPLATE_TEST_CASE("lambda is strictly decreasing in t and t_of_lambda inverts it to 1e-12", "[process]",
                   vp_linear<double>, vp_cosine<double>, ve<double>, flow<double>, flow_shift3, edm<double>) {
  const TestType p{};
  double worst_t = 0, worst_l = 0, prev = std::numeric_limits<double>::infinity();
  for (const double t : sample_times(p)) {
    const double l = p.lambda(t);
    CHECK(l < prev);
    prev = l;
    if (!std::isfinite(l)) continue;  // flow's t = 1 (α = 0): λ = −∞, checked below
    worst_t = std::max(worst_t, std::abs(p.t_of_lambda(l) - t) / std::max(1.0, t));
    worst_l = std::max(worst_l, std::abs(p.lambda(p.t_of_lambda(l)) - l) / std::max(1.0, std::abs(l)));
  }
  // and from the λ side, across the process's log-SNR range. Where that range is infinite (flow at
  // t = 1) it stops at λ = −8: below, t = 1 − O(e^λ) and 1 − t keeps only ~1e-16/e^λ relative digits,
  // a limit of t as a double, not of the inverse.
  const auto [lo, hi] = sample_range(p);
  const double l_lo = std::max(p.lambda(hi), -8.0), l_hi = std::min(p.lambda(lo), 12.0);
  for (int i = 0; i <= 100; ++i) {
    const double l = l_lo + (l_hi - l_lo) * i / 100;
    const double t = p.t_of_lambda(l);
    REQUIRE(std::isfinite(t));
    worst_l = std::max(worst_l, std::abs(p.lambda(t) - l) / std::max(1.0, std::abs(l)));
  }
  INFO("worst relative round-trip error: t " << worst_t << ", lambda " << worst_l);
  CHECK(worst_t < 1e-12);
  CHECK(worst_l < 1e-12);
  CHECK(p.t_of_lambda(p.lambda(p.t_max())) == Approx(p.t_max()).epsilon(1e-12));
}

TEMPLATE_TEST_CASE("d_alpha and d_sigma match centered finite differences", "[process]", vp_linear<double>,
                   vp_cosine<double>, ve<double>, flow<double>, flow_shift3, edm<double>) {
  const TestType p{};
  for (const double t : sample_times(p, 40)) {
    const auto [lo, hi] = sample_range(p);
    const double h = 1e-6 * std::max(t, 1e-3);
    if (t - h < lo || t + h > hi) continue;
    const double fd_a = (p.alpha(t + h) - p.alpha(t - h)) / (2 * h);
    const double fd_s = (p.sigma(t + h) - p.sigma(t - h)) / (2 * h);
    INFO("t = " << t);
    CHECK(p.d_alpha(t) == Approx(fd_a).epsilon(1e-6).margin(1e-9));
    CHECK(p.d_sigma(t) == Approx(fd_s).epsilon(1e-6).margin(1e-9));
  }
}

TEMPLATE_TEST_CASE("VP processes keep alpha^2 + sigma^2 = 1", "[process]", vp_linear<double>, vp_cosine<double>) {
  const TestType p{};
  for (double t = 0; t <= 1; t += 1.0 / 128) CHECK(p.alpha(t) * p.alpha(t) + p.sigma(t) * p.sigma(t) == Approx(1).epsilon(4e-16));
}

TEST_CASE("vp_linear: alpha is exp(-t^2 (b1-b0)/4 - t b0/2) and sigma stays accurate at small t", "[process]") {
  const vp_linear<double> p;
  for (const double t : {0.001, 0.1, 0.37, 0.5, 0.9, 1.0})
    CHECK(p.alpha(t) == Approx(std::exp(-0.25 * t * t * (20 - 0.1) - 0.5 * t * 0.1)).epsilon(1e-15));
  CHECK(p.alpha(0) == 1);
  CHECK(p.sigma(0) == 0);
  CHECK(p.lambda(0) == std::numeric_limits<double>::infinity());
  // σ² = 1 − e^{−B} = B − B²/2 + B³/6 for tiny B; 1 − α² would lose every digit here.
  const double t = 1e-10, b = 0.1 * t + 0.5 * t * t * 19.9;
  CHECK(p.sigma(t) == Approx(std::sqrt(b - b * b / 2 + b * b * b / 6)).epsilon(1e-15));
  CHECK(p.lambda(t) == Approx(-0.5 * b - 0.5 * std::log(b - b * b / 2)).epsilon(1e-15));
  // λ(1) = −B(1)/2 − ½log(1 − e^{−B(1)}), B(1) = 0.1 + 19.9/2
  CHECK(p.lambda(1) == Approx(-0.5 * 10.05 - 0.5 * std::log(1 - std::exp(-10.05))).epsilon(1e-15));
}

TEST_CASE("vp_linear: drift is -beta/2 and diffusion^2 is beta (Song et al. 2021, Eq. 11)", "[process]") {
  const vp_linear<double> p(0.1, 20);
  for (double t = 0.01; t <= 1; t += 0.07) {
    const double beta = 0.1 + t * (20 - 0.1);
    CHECK(drift(p, t) == Approx(-0.5 * beta).epsilon(1e-13));
    CHECK(diffusion(p, t) * diffusion(p, t) == Approx(beta).epsilon(1e-12));
    CHECK(p.beta(t) == Approx(beta).epsilon(1e-15));
  }
}

TEST_CASE("vp_cosine: alpha^2 is Nichol & Dhariwal's f(t)/f(0), drift -beta/2, diffusion^2 beta", "[process]") {
  const vp_cosine<double> p;
  const double s = 0.008, pi = std::numbers::pi;
  const auto f = [&](double t) { return std::pow(std::cos((t + s) / (1 + s) * pi / 2), 2); };
  for (double t = 0.01; t < 0.99; t += 0.05) {
    CHECK(p.alpha(t) * p.alpha(t) == Approx(f(t) / f(0)).epsilon(1e-14));
    // β(t) = −d log ᾱ/dt = π/(1+s)·tan(φ(t))
    const double beta = pi / (1 + s) * std::tan((t + s) / (1 + s) * pi / 2);
    CHECK(drift(p, t) == Approx(-0.5 * beta).epsilon(1e-12));
    CHECK(diffusion(p, t) * diffusion(p, t) == Approx(beta).epsilon(1e-11));
  }
  // α vanishes exactly at t = 1, so λ(1) = −∞ and the default range stops at DPM-Solver's 0.9946
  CHECK(p.alpha(1) == 0);
  CHECK(p.lambda(1) == -std::numeric_limits<double>::infinity());
  CHECK(p.t_of_lambda(-std::numeric_limits<double>::infinity()) == Approx(1).epsilon(1e-15));
  CHECK(p.t_max() == 0.9946);
  CHECK(std::isfinite(p.lambda(p.t_max())));
  CHECK(p.sigma(0) == 0);
}

TEST_CASE("ve: sigma runs geometrically from sigma_min to sigma_max; g^2 = d sigma^2/dt", "[process]") {
  const ve<double> p(0.01, 50);
  CHECK(p.sigma(0) == Approx(0.01).epsilon(1e-15));
  CHECK(p.sigma(1) == Approx(50).epsilon(1e-15));
  CHECK(p.sigma(0.5) == Approx(std::sqrt(0.01 * 50)).epsilon(1e-15));
  for (double t = 0; t <= 1; t += 0.1) {
    const double s = 0.01 * std::pow(5000.0, t);
    CHECK(p.alpha(t) == 1);
    CHECK(p.lambda(t) == Approx(-std::log(s)).epsilon(1e-14));
    CHECK(drift(p, t) == 0);
    CHECK(diffusion(p, t) * diffusion(p, t) == Approx(2 * s * s * std::log(5000.0)).epsilon(1e-13));
  }
}

TEST_CASE("flow: SD3's shifted sigma, alpha = 1 - sigma, and its drift and diffusion", "[process]") {
  for (const double shift : {1.0, 3.0, 0.5}) {
    const flow<double> p(shift);
    for (double t = 0; t <= 1; t += 1.0 / 16) {
      const double s = shift * t / (1 + (shift - 1) * t);  // diffusers FlowMatchEulerDiscreteScheduler
      CHECK(p.sigma(t) == Approx(s).epsilon(1e-15));
      CHECK(p.alpha(t) == Approx(1 - s).epsilon(1e-14).margin(1e-15));
      if (t == 0 || t == 1) continue;
      // f = α'/α = −σ'/(1 − σ),  g² = 2σσ' − 2fσ² = 2σσ'/(1 − σ),  σ' = s/(1 + (s−1)t)²
      const double ds = shift / std::pow(1 + (shift - 1) * t, 2);
      CHECK(drift(p, t) == Approx(-ds / (1 - s)).epsilon(1e-13));
      CHECK(diffusion(p, t) * diffusion(p, t) == Approx(2 * s * ds / (1 - s)).epsilon(1e-13));
    }
  }
  const flow<double> plain;  // shift 1: σ = t, f = −1/(1 − t), g² = 2t/(1 − t)
  CHECK(plain.sigma(0.3) == 0.3);
  CHECK(drift(plain, 0.3) == Approx(-1 / 0.7).epsilon(1e-15));
  CHECK(diffusion(plain, 0.3) * diffusion(plain, 0.3) == Approx(0.6 / 0.7).epsilon(1e-14));
  CHECK(plain.alpha(1) == 0);
  CHECK(plain.lambda(1) == -std::numeric_limits<double>::infinity());
  CHECK(plain.t_of_lambda(-std::numeric_limits<double>::infinity()) == 1);
  CHECK(plain.t_of_lambda(std::numeric_limits<double>::infinity()) == 0);
}

TEST_CASE("processes work in float", "[process]") {
  const vp_linear<float> a;
  const vp_cosine<float> b;
  const ve<float> c;
  const flow<float> d(3.0f);
  CHECK(a.t_of_lambda(a.lambda(0.4f)) == Approx(0.4f).epsilon(1e-5));
  CHECK(b.t_of_lambda(b.lambda(0.4f)) == Approx(0.4f).epsilon(1e-5));
  CHECK(c.t_of_lambda(c.lambda(0.4f)) == Approx(0.4f).epsilon(1e-5));
  CHECK(d.t_of_lambda(d.lambda(0.4f)) == Approx(0.4f).epsilon(1e-5));
}

TEST_CASE("process constructors reject bad parameters, naming them", "[process]") {
  CHECK_CONFIG_ERROR(vp_linear<double>(-0.1, 20), "beta_min");
  CHECK_CONFIG_ERROR(vp_linear<double>(0.1, 0.05), "beta_max");
  CHECK_CONFIG_ERROR(vp_linear<double>(0.1, std::numeric_limits<double>::infinity()), "beta_max");
  CHECK_CONFIG_ERROR(vp_linear<double>(0.1, 20, 0), "t_min");
  CHECK_CONFIG_ERROR(vp_cosine<double>(-0.01), "s=");
  CHECK_CONFIG_ERROR(vp_cosine<double>(0.008, 1e-3, 1.0), "t_max");
  CHECK_CONFIG_ERROR(vp_cosine<double>(0.008, 0.5, 0.4), "t_min");
  CHECK_CONFIG_ERROR(ve<double>(0, 50), "sigma_min");
  CHECK_CONFIG_ERROR(ve<double>(1, 0.5), "sigma_max");
  CHECK_CONFIG_ERROR(flow<double>(0), "shift");
  CHECK_CONFIG_ERROR(flow<double>(-2), "shift");
  CHECK_CONFIG_ERROR(flow<double>(1, 1.5), "t_min");
  CHECK_NOTHROW(vp_linear<double>(0.5, 0.5));  // constant β: an Ornstein–Uhlenbeck process
  CHECK_NOTHROW(vp_cosine<double>(0));
}

}  // namespace test_process
