#pragma once
// The Beta(a, b) distribution's CDF and quantile (scipy.stats.beta.cdf / .ppf), for the schedules
// that place their steps at Beta quantiles: ComfyUI's beta_scheduler and diffusers' use_beta_sigmas
// (Lee et al. 2024, "Beta Sampling is All You Need"). A leaf.
//
//   cdf:  I_x(a, b) = x^a (1 − x)^b / (a·B(a, b)) · 1/K,   K = 1 + d₁/(1 + d₂/(1 + …))
//         d_{2m+1} = −(a + m)(a + b + m)·x / ((a + 2m)(a + 2m + 1)),   d_{2m} = m(b − m)·x / ((a + 2m − 1)(a + 2m))
//         (the continued fraction of Abramowitz & Stegun 26.5.8, by the modified Lentz method), and
//         I_x(a, b) = 1 − I_{1−x}(b, a) for x above the mean-ish point (a + 1)/(a + b + 2), where it converges fast;
//   ppf:  the x with I_x(a, b) = p, by bisection to the last bit (I_x is increasing in x).
// Accurate to ~1e-15 for 0 < a, b ≤ 50 (ComfyUI's range), which is what rounding timesteps needs.
#include <cmath>
#include <limits>

namespace ferry::detail {

/// I_x(a, b), the regularized incomplete beta function, for a, b in (0, 50] and x in [0, 1].
inline double beta_cdf(double x, double a, double b) {
  if (!(x > 0)) return 0;
  if (!(x < 1)) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - beta_cdf(1 - x, b, a);
  const double log_beta = std::log(std::tgamma(a) * std::tgamma(b) / std::tgamma(a + b));
  const double front = std::exp(a * std::log(x) + b * std::log1p(-x) - log_beta) / a;
  constexpr double tiny = 1e-300, eps = std::numeric_limits<double>::epsilon();
  double f = 1, c = 1, d = 0;  // modified Lentz: f = b₀ + a₁/(b₁ + a₂/(b₂ + …)), b_j = 1
  for (int j = 1; j < 2000; ++j) {
    const int m = j / 2;
    const double dj = j % 2 == 1 ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                                 : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
    d = 1 + dj * d;
    c = 1 + dj / c;
    d = 1 / (std::abs(d) < tiny ? tiny : d);
    c = std::abs(c) < tiny ? tiny : c;
    f *= c * d;
    if (std::abs(c * d - 1) <= eps) break;
  }
  return front / f;
}

/// The p-quantile of Beta(a, b): the smallest double x in [0, 1] up to rounding with I_x(a, b) ≥ p.
inline double beta_ppf(double p, double a, double b) {
  if (!(p > 0)) return 0;
  if (!(p < 1)) return 1;
  double lo = 0, hi = 1;
  for (;;) {
    const double mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) return beta_cdf(hi, a, b) - p <= p - beta_cdf(lo, a, b) ? hi : lo;
    (beta_cdf(mid, a, b) < p ? lo : hi) = mid;
  }
}

}  // namespace ferry::detail
