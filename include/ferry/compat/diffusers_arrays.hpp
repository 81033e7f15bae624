#pragma once
// The NumPy / torch / SciPy array primitives diffusers' set_timesteps uses, reproduced to the bit
// where they are deterministic IEEE arithmetic (diffusers commit 58eb52c, NumPy 1.x, torch's CPU AVX2
// kernels): np.linspace, np.arange with a float step, np.interp at an index, np.round (half to even),
// torch.linspace in float64, diffusers' _sigma_to_t under NumPy 1.x casting, the Karras /
// exponential / beta σ conversions (scipy.stats.beta.ppf to double precision). The float32
// primitives are compat/float32.hpp.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "ferry/compat/float32.hpp"

namespace ferry::compat::detail {

using ferry::detail::mul_rn;

/// np.linspace(start, stop, num) in float64: start + i·step with step = (stop − start)/(num − 1),
/// the last entry set to stop.
inline std::vector<double> np_linspace(double start, double stop, std::size_t num) {
  std::vector<double> y(num);
  if (num == 0) return y;
  if (num == 1) { y[0] = start; return y; }
  const double div = double(num - 1), delta = stop - start, step = delta / div;
  for (std::size_t i = 0; i < num; ++i)
    y[i] = step == 0 ? mul_rn(double(i) / div, delta) + start : mul_rn(double(i), step) + start;
  y[num - 1] = stop;
  return y;
}

/// np.arange(start, stop, step) for float arguments: length ceil((stop − start)/step); entry 0 is
/// start, entry 1 start + step, and entry i ≥ 2 is start + i·delta with delta = (start + step) − start
/// (numpy's DOUBLE_fill), which is not always step.
inline std::vector<double> np_arange(double start, double stop, double step) {
  const double len_d = std::ceil((stop - start) / step);
  const auto len = len_d > 0 ? static_cast<std::size_t>(len_d) : std::size_t(0);
  std::vector<double> y(len);
  if (len == 0) return y;
  y[0] = start;
  if (len == 1) return y;
  y[1] = start + step;
  const double delta = y[1] - start;
  for (std::size_t i = 2; i < len; ++i) y[i] = start + mul_rn(double(i), delta);
  return y;
}

/// np.round: half to even (the default rounding mode of nearbyint).
inline double np_round(double x) { return std::nearbyint(x); }

/// np.interp(x, arange(len(fp)), fp) in float64, with numpy's rules: exact fp[j] at a knot, the end
/// values outside, slope·(x − j) + fp[j] inside.
inline double np_interp_index(double x, const std::vector<double>& fp) {
  const std::size_t n = fp.size();
  if (!(x > 0)) return fp.front();  // x ≤ xp[0] (numpy gives left = fp[0]; NaN never occurs here)
  if (x >= double(n - 1)) return fp.back();
  const auto j = static_cast<std::size_t>(std::floor(x));
  if (double(j) == x) return fp[j];
  const double slope = (fp[j + 1] - fp[j]) / 1.0;
  return mul_rn(slope, x - double(j)) + fp[j];
}

/// torch.linspace(start, end, n, dtype=float64) on CPU with AVX2 kernels: step = (end − start)/(n − 1);
/// the first half counts up from start, the second half down from end; two 4-lane vectors per pass,
/// each lane base + j·step with base = fma(step, idx, start) (or from end), the tail the fused scalar
/// formula (the float64 twin of ferry::detail::torch_linspace_f32).
inline std::vector<double> torch_linspace_f64(double start, double end, std::size_t n) {
  std::vector<double> out(n);
  if (n == 0) return out;
  if (n == 1) { out[0] = start; return out; }
  const auto steps = static_cast<long long>(n);
  const double step = (end - start) / double(steps - 1);
  const long long halfway = steps / 2;
  auto scalar_at = [&](long long idx) {
    return idx < halfway ? std::fma(step, double(idx), start) : std::fma(-step, double(steps - idx - 1), end);
  };
  constexpr long long lanes = 4;
  const long long vec_end = steps - steps % (2 * lanes);
  for (long long k = 0; k < vec_end; k += lanes) {
    const double base = scalar_at(k);
    for (long long j = 0; j < lanes; ++j) out[static_cast<std::size_t>(k + j)] = base + mul_rn(double(j), step);
  }
  for (long long k = vec_end; k < steps; ++k) out[static_cast<std::size_t>(k)] = scalar_at(k);
  return out;
}

inline std::vector<double> reversed(std::vector<double> v) {
  std::reverse(v.begin(), v.end());
  return v;
}

inline double f32(double x) { return static_cast<float>(x); }

/// diffusers' `_sigma_to_t(sigma, log_sigmas)`: the fractional index where log σ falls in the float32
/// log σ̃ table, linear between neighbours (w clipped to [0, 1]). Evaluated with NumPy 1.x's
/// value-based casting, which the reference grids carry: a float64 scalar meeting a float32 array is
/// cast to float32, so the distances, the weight w and 1 − w are float32, and only
/// (1 − w)·low + w·high is float64. (NumPy 2's NEP 50 keeps w in float64; that moves fractional
/// Karras timesteps by a few float32 ulp.) `f32_result` keeps the last line in float32 too, as it is
/// where the σ comes in as a float32 torch tensor (KDPM2's interpolated sigmas).
inline double sigma_to_t(double sigma, const std::vector<float>& log_sigmas, bool f32_result = false) {
  const float log_sigma = static_cast<float>(std::log(std::max(sigma, 1e-10)));
  const std::size_t n = log_sigmas.size();
  // low_idx = argmax(cumsum(log σ − log_sigmas ≥ 0)): the first index where the running count of
  // non-negative distances reaches its total (0 when there is none), clipped to n − 2.
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) total += log_sigma >= log_sigmas[i] ? 1 : 0;
  std::size_t low = 0;
  for (std::size_t i = 0, run = 0; i < n; ++i) {
    run += log_sigma >= log_sigmas[i] ? 1 : 0;
    if (run == total) { low = i; break; }
  }
  low = std::min(low, n - 2);
  const std::size_t high = low + 1;
  const float lo = log_sigmas[low], hi = log_sigmas[high];
  const float w = std::clamp(f32_div(f32_sub(lo, log_sigma), f32_sub(lo, hi)), 0.0f, 1.0f);
  if (f32_result) return f32_add(f32_mul(f32_sub(1.0f, w), float(low)), f32_mul(w, float(high)));
  return mul_rn(double(f32_sub(1.0f, w)), double(low)) + mul_rn(double(w), double(high));
}

/// σ bounds of `_convert_to_karras` / `_exponential` / `_beta`: the config's sigma_min/sigma_max when
/// the class reads them, else the last and first of the σ list given.
struct sigma_bounds {
  double min, max;
};

/// Karras et al. 2022, Eq. 5: σ_i = (σ_max^{1/ρ} + i/(n−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ in float64,
/// over np.linspace(0, 1, n).
inline std::vector<double> karras_sigmas(sigma_bounds b, std::size_t n, double rho = 7.0) {
  const std::vector<double> ramp = np_linspace(0, 1, n);
  const double min_inv = std::pow(b.min, 1 / rho), max_inv = std::pow(b.max, 1 / rho);
  std::vector<double> s(n);
  for (std::size_t i = 0; i < n; ++i) s[i] = std::pow(max_inv + mul_rn(ramp[i], min_inv - max_inv), rho);
  return s;
}

/// exp(linspace(log σ_max, log σ_min, n)) in float64.
inline std::vector<double> exponential_sigmas(sigma_bounds b, std::size_t n) {
  std::vector<double> s = np_linspace(std::log(b.max), std::log(b.min), n);
  for (double& v : s) v = std::exp(v);
  return s;
}

// ---- scipy.stats.beta.ppf ----------------------------------------------------------------------

/// The regularized incomplete beta function I_x(a, b) by its continued fraction (modified Lentz),
/// on the side of the mean where it converges fast.
inline double ibeta(double a, double b, double x) {
  if (!(x > 0)) return 0;
  if (!(x < 1)) return 1;
  const double log_front = a * std::log(x) + b * std::log1p(-x) - (std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b));
  auto fraction = [](double a, double b, double x) {  // the continued fraction of I_x(a, b)·a/front
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (std::abs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m < 1000; ++m) {
      const double m2 = 2.0 * m;
      for (int half = 0; half < 2; ++half) {
        const double num = half == 0 ? m * (b - m) * x / ((a + m2 - 1) * (a + m2)) : -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1 + num * d;
        d = 1 / (std::abs(d) < tiny ? tiny : d);
        c = 1 + num / c;
        if (std::abs(c) < tiny) c = tiny;
        h *= d * c;
        if (half == 1 && std::abs(d * c - 1) < 1e-17) return h;
      }
    }
    return h;
  };
  if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * fraction(a, b, x) / a;
  return 1 - std::exp(log_front) * fraction(b, a, 1 - x) / b;
}

/// The inverse of I_x(a, b) in x (scipy.stats.beta.ppf(p, a, b), which SciPy computes with Boost's
/// ibeta_inv): Newton's method kept inside a shrinking bracket, to double precision. For p > ½ the
/// upper tail is solved (x = 1 − y with I_y(b, a) = 1 − p) so that x near 1 keeps its digits.
inline double beta_ppf(double p, double a, double b) {
  if (!(p > 0)) return 0;
  if (!(p < 1)) return 1;
  if (p > 0.5) return 1 - beta_ppf(1 - p, b, a);
  const double log_beta = std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
  double lo = 0, hi = 1, x = 0.5;
  // A start from the small-x expansion I_x ≈ x^a/(a·B(a, b)), clamped into the bracket.
  const double guess = std::exp((std::log(p) + std::log(a) + log_beta) / a);
  if (guess > 0 && guess < 1) x = guess;
  for (int it = 0; it < 200; ++it) {
    const double f = ibeta(a, b, x) - p;
    if (f == 0) return x;
    (f < 0 ? lo : hi) = x;
    const double pdf = std::exp((a - 1) * std::log(x) + (b - 1) * std::log1p(-x) - log_beta);
    double next = x - f / pdf;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (next == x || hi - lo <= 4 * std::numeric_limits<double>::epsilon() * x) return next;
    x = next;
  }
  return x;
}

/// diffusers' `_convert_to_beta` (Lee et al. 2024, "Beta Sampling is All You Need"): σ_min +
/// ppf(1 − i/(n−1); 0.6, 0.6)·(σ_max − σ_min) in float64, for i = 0 … n−1.
inline std::vector<double> beta_sigmas(sigma_bounds b, std::size_t n, double alpha = 0.6, double beta = 0.6) {
  const std::vector<double> ramp = np_linspace(0, 1, n);
  std::vector<double> s(n);
  for (std::size_t i = 0; i < n; ++i) s[i] = b.min + mul_rn(beta_ppf(1 - ramp[i], alpha, beta), b.max - b.min);
  return s;
}

}  // namespace ferry::compat::detail
