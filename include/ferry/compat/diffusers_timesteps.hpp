#pragma once
// ferry::compat::set_timesteps: the `timesteps` and `sigmas` a diffusers scheduler holds after
// `set_timesteps(steps)`, reproduced to the bit (diffusers commit 58eb52c). diffusers builds them in a
// mix of float32 torch and float64/float32 numpy; every cast below sits where diffusers makes it, and
// the numpy and torch primitives are emulated exactly (np.linspace, np.arange with a float step,
// np.interp, np.round = round-half-even, astype(int64) = truncation, numpy's SIMD float32 log, torch's
// float32 tables; the float32 primitives are compat/float32.hpp).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/float32.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/process/discrete_vp.hpp"

namespace ferry::compat {

/// One diffusers schedule after set_timesteps, and the levels a sampler steps between.
struct diffusers_grid {
  scheduler_class kind{};
  /// The class's `self.timesteps` (Heun's interleaved list; fractional for Euler/Heun/LMS Karras grids).
  std::vector<double> timesteps;
  /// The class's `self.sigmas` (σ̃ = σ/α for VP classes, the flow σ for flow matching), including its
  /// appended final sigma; Heun's interleaved list. Empty for DDIM, which has none.
  std::vector<double> sigmas;
  /// `init_noise_sigma`: the scale of the initial noise.
  double init_noise_sigma = 1;

  /// Per sampler step i (steps() of them): the timestep the model sees and the levels the step starts
  /// from (cur) and lands on (next), in the VP view x = α·x0 + σ·ε (flow: α = 1 − σ). For every class
  /// but DDIM, next[i] is cur[i + 1]. Heun's steps are its de-interleaved intervals (2 model calls each
  /// but the last, which goes to σ = 0 with one).
  std::vector<double> model_timesteps;
  std::vector<level<double>> cur, next;

  /// DDIM only: prev_timestep = timestep − N // steps for every step (whatever the spacing), the ᾱ of
  /// each end (ᾱ[prev] or final_alpha_cumprod when prev < 0), and final_alpha_cumprod itself.
  std::vector<long long> prev_timesteps;
  std::vector<double> alphas_cumprod, alphas_cumprod_prev;
  double final_alpha_cumprod = 1;

  std::size_t steps() const { return model_timesteps.size(); }
};

namespace detail {

using ferry::detail::mul_rn;
using ferry::detail::numpy_logf;

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

/// The class's float32 σ̃ table ((1 − ᾱ)/ᾱ) ** 0.5, and numpy's float32 log of it.
struct sigma_table {
  std::vector<float> abar, sigma, log_sigma;
  std::vector<double> sigma_d;  // np.array(σ̃) seen as float64 by np.interp
};

inline sigma_table make_sigma_table(const diffusers_config& c, bool clamp_zero_terminal) {
  sigma_table t;
  t.abar = diffusers_alphas_cumprod(config_betas(c));
  // DPMSolverMultistep, UniPC and EulerDiscrete set ᾱ[−1] = 2⁻²⁴ after the zero-SNR rescale, so that
  // σ̃ stays finite; DDIM keeps the 0.
  if (clamp_zero_terminal && c.rescale_betas_zero_snr) t.abar.back() = 0x1p-24f;
  const std::size_t n = t.abar.size();
  t.sigma.resize(n);
  t.log_sigma.resize(n);
  t.sigma_d.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    t.sigma[i] = diffusers_sigma_f32(t.abar[i]);
    t.log_sigma[i] = numpy_logf(t.sigma[i]);
    t.sigma_d[i] = t.sigma[i];
  }
  return t;
}

/// diffusers' `_sigma_to_t(sigma, log_sigmas)`: the fractional index where log σ falls in the float32
/// log σ̃ table, linear between neighbours (w clipped to [0, 1]). Evaluated with NumPy 1.x's
/// value-based casting, which the reference grids carry: a float64 scalar meeting a float32 array is
/// cast to float32, so the distances, the weight w and 1 − w are float32, and only
/// (1 − w)·low + w·high is float64. (NumPy 2's NEP 50 keeps w in float64; that moves fractional
/// Karras timesteps by a few float32 ulp.)
inline double sigma_to_t(double sigma, const std::vector<float>& log_sigmas) {
  using ferry::detail::f32_div;
  using ferry::detail::f32_sub;
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
  return mul_rn(double(f32_sub(1.0f, w)), double(low)) + mul_rn(double(w), double(high));
}

/// σ bounds of `_convert_to_karras` / `_convert_to_exponential`: the config's sigma_min/sigma_max when
/// the class reads them, else the first and last of the σ list given.
struct sigma_bounds { double min, max; };
inline sigma_bounds bounds_of(const diffusers_config& c, const std::vector<double>& in_sigmas, bool reads_config) {
  sigma_bounds b{in_sigmas.back(), in_sigmas.front()};
  if (reads_config && c.sigma_min) b.min = *c.sigma_min;
  if (reads_config && c.sigma_max) b.max = *c.sigma_max;
  return b;
}

/// Karras et al. 2022, Eq. 5: σ_i = (σ_max^{1/ρ} + i/(n−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, ρ = 7, in float64.
inline std::vector<double> karras_sigmas(sigma_bounds b, std::size_t n) {
  const double rho = 7.0;
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

inline std::vector<double> reversed(std::vector<double> v) {
  std::reverse(v.begin(), v.end());
  return v;
}

/// The spaced integer-valued timesteps of DDIM (`plus_one` = false) and of the multistep classes
/// DPM/UniPC/DEIS (`plus_one` = true: they space steps + 1 points and drop the last), as float64.
inline std::vector<double> spaced_timesteps(const diffusers_config& c, std::size_t steps, std::size_t last_timestep,
                                            bool plus_one) {
  const std::size_t n_train = c.num_train_timesteps;
  const std::size_t pts = plus_one ? steps + 1 : steps;
  std::vector<double> t;
  switch (c.spacing) {
    case timestep_spacing::linspace: {
      t = reversed(np_linspace(0, double(last_timestep) - 1, pts));
      for (double& v : t) v = np_round(v);
      break;
    }
    case timestep_spacing::leading: {
      const std::size_t ratio = last_timestep / pts;
      t.resize(pts);
      for (std::size_t i = 0; i < pts; ++i) t[i] = double((pts - 1 - i) * ratio);
      for (double& v : t) v = double(static_cast<long long>(v) + c.steps_offset);
      break;
    }
    case timestep_spacing::trailing: {
      const double ratio = double(n_train) / double(steps);
      t = np_arange(double(last_timestep), 0, -ratio);
      for (double& v : t) v = np_round(v) - 1;
      return t;  // trailing spaces `steps` points directly
    }
  }
  if (plus_one) t.pop_back();
  return t;
}

/// Euler/Heun/LMS spacing: the same three rules in float32 (np.linspace(..., dtype=float32), or
/// rounded float64 cast to float32, then steps_offset / −1 added in float32).
inline std::vector<double> spaced_timesteps_f32(const diffusers_config& c, std::size_t steps) {
  const std::size_t n_train = c.num_train_timesteps;
  std::vector<double> t;
  switch (c.spacing) {
    case timestep_spacing::linspace:
      t = reversed(np_linspace(0, double(n_train) - 1, steps));
      for (double& v : t) v = static_cast<float>(v);
      break;
    case timestep_spacing::leading: {
      const std::size_t ratio = n_train / steps;
      t.resize(steps);
      for (std::size_t i = 0; i < steps; ++i)
        t[i] = ferry::detail::f32_add(static_cast<float>((steps - 1 - i) * ratio), static_cast<float>(c.steps_offset));
      break;
    }
    case timestep_spacing::trailing:
      t = np_arange(double(n_train), 0, -(double(n_train) / double(steps)));
      for (double& v : t) v = ferry::detail::f32_sub(static_cast<float>(np_round(v)), 1.0f);
      break;
  }
  return t;
}

inline double f32(double x) { return static_cast<float>(x); }

/// VP level of an EDM sigma (DPM-Solver's _sigma_to_alpha_sigma_t): α = 1/√(σ̃² + 1), σ = σ̃·α.
inline level<double> vp_level(double sigma_edm, double t) {
  if (sigma_edm == 0) return level<double>::make(1, 0, t);
  return vp_level_from_edm_sigma(sigma_edm, t);
}

/// The same level with α and σ rounded as diffusers computes them from its float32 σ̃ tensor
/// (_sigma_to_alpha_sigma_t in float32). It matters where α is tiny: convert_model_output divides by
/// α_t (x̂0 = (x − σ_t·ε̂)/α_t), which amplifies σ_t's float32 rounding ~1/α times (σ̃ = 2·10⁴ under a
/// cosine schedule with Karras sigmas moves 3-step samples by 4·10⁻³).
inline level<double> vp_level_f32(double sigma_edm, double t) {
  using namespace ferry::detail;
  if (sigma_edm == 0) return level<double>::make(1, 0, t);
  const float s = static_cast<float>(sigma_edm);
  const float alpha = f32_div(1.0f, f32_sqrt(f32_add(f32_mul(s, s), 1.0f)));
  return level<double>::make(alpha, f32_mul(s, alpha), t);
}

inline void check_steps(const diffusers_config& c, std::size_t steps) {
  if (steps < 1 || steps > c.num_train_timesteps)
    throw config_error(ferry::detail::cat(class_name(c.kind), ".set_timesteps: steps = ", steps, "; expected 1 to num_train_timesteps = ",
                                          c.num_train_timesteps));
}

// init_noise_sigma of Euler/Heun/LMS: max σ̃ (a float32 tensor) for linspace/trailing spacing, but
// (max² + 1) ** 0.5 in float32 for leading.
inline double discrete_init_noise_sigma(const diffusers_config& c, const std::vector<double>& sigmas) {
  const float m = static_cast<float>(*std::max_element(sigmas.begin(), sigmas.end()));
  if (c.spacing != timestep_spacing::leading) return m;
  return ferry::detail::f32_sqrt(ferry::detail::f32_add(ferry::detail::f32_mul(m, m), 1.0f));
}

// ---- the classes ------------------------------------------------------------------------------

inline diffusers_grid ddim_grid(const diffusers_config& c, std::size_t steps) {
  diffusers_grid g;
  const std::vector<float> abar = diffusers_alphas_cumprod(config_betas(c));
  const double final_abar = c.set_alpha_to_one ? 1.0 : double(abar.front());
  g.timesteps = spaced_timesteps(c, steps, c.num_train_timesteps, false);
  const auto stride = static_cast<long long>(c.num_train_timesteps / steps);
  g.final_alpha_cumprod = final_abar;
  auto abar_at = [&](long long t) -> double {
    if (t < 0) return final_abar;
    if (t >= static_cast<long long>(abar.size()))
      throw config_error(ferry::detail::cat("DDIMScheduler.set_timesteps: timestep ", t, " lies past num_train_timesteps = ",
                                            abar.size(), " (steps_offset too large)"));
    return abar[static_cast<std::size_t>(t)];
  };
  for (double tv : g.timesteps) {
    const auto t = static_cast<long long>(tv), prev = t - stride;
    const double a = abar_at(t), a_prev = abar_at(prev);
    g.model_timesteps.push_back(tv);
    g.prev_timesteps.push_back(prev);
    g.alphas_cumprod.push_back(a);
    g.alphas_cumprod_prev.push_back(a_prev);
    g.cur.push_back(level<double>::make(std::sqrt(a), std::sqrt(1 - a), tv));
    g.next.push_back(level<double>::make(std::sqrt(a_prev), std::sqrt(1 - a_prev), double(prev)));
  }
  g.init_noise_sigma = 1;
  return g;
}

// DPMSolverMultistep, UniPC, DEIS: integer timesteps, σ̃ per step, one appended final σ̃.
inline diffusers_grid multistep_grid(const diffusers_config& c, std::size_t steps) {
  using sc = scheduler_class;
  diffusers_grid g;
  const bool dpm = c.kind == sc::dpm_multistep, unipc = c.kind == sc::unipc, deis = c.kind == sc::deis;
  const sigma_table tab = make_sigma_table(c, !deis);
  const std::size_t n_train = c.num_train_timesteps;

  std::size_t last_timestep = n_train;
  if (dpm && c.lambda_min_clipped > -std::numeric_limits<double>::infinity()) {
    // clipped_idx = searchsorted(flip(λ_t), lambda_min_clipped) with λ_t = log √ᾱ − log √(1 − ᾱ) in
    // float32: the number of timesteps whose λ lies below the clip.
    std::size_t below = 0;
    for (float a : tab.abar) {
      const float lam = ferry::detail::f32_sub(static_cast<float>(std::log(double(ferry::detail::f32_sqrt(a)))),
                                               static_cast<float>(std::log(double(ferry::detail::f32_sqrt(ferry::detail::f32_sub(1.0f, a))))));
      if (double(lam) < c.lambda_min_clipped) ++below;
    }
    last_timestep = n_train - below;
  }
  std::vector<double> t = spaced_timesteps(c, steps, last_timestep, true);
  std::vector<double> s;
  const std::vector<double> flipped = reversed(tab.sigma_d);
  // Karras timesteps are rounded, except DPM with squaredcos_cap_v2 (then truncated by the int64 cast);
  // exponential ones are truncated everywhere.
  auto to_int64 = [](std::vector<double>& ts) { for (double& v : ts) v = std::trunc(v); };
  bool karras_like = false;
  switch (c.sigmas) {
    case sigma_spacing::karras:
      s = karras_sigmas(bounds_of(c, flipped, true), steps);
      t.clear();
      for (double v : s) t.push_back(sigma_to_t(v, tab.log_sigma));
      if (!(dpm && c.betas == beta_schedule::squaredcos_cap_v2))
        for (double& v : t) v = np_round(v);
      to_int64(t);
      karras_like = true;
      break;
    case sigma_spacing::exponential:
      s = exponential_sigmas(bounds_of(c, flipped, true), steps);
      t.clear();
      for (double v : s) t.push_back(sigma_to_t(v, tab.log_sigma));
      to_int64(t);
      karras_like = true;
      break;
    case sigma_spacing::lu_lambdas: {
      // Lu et al. 2022's uniform-λ grid, as diffusers writes it: linear in log σ̃ from the float32
      // log σ̃ of the last timestep to that of the first.
      const double lmin = tab.log_sigma.front(), lmax = tab.log_sigma.back();
      const std::vector<double> ramp = np_linspace(0, 1, steps);
      t.clear();
      for (double r : ramp) s.push_back(std::exp(lmax + mul_rn(r, lmin - lmax)));
      for (double v : s) t.push_back(sigma_to_t(v, tab.log_sigma));
      if (c.betas != beta_schedule::squaredcos_cap_v2)
        for (double& v : t) v = np_round(v);
      to_int64(t);
      break;
    }
    case sigma_spacing::timesteps:
      for (double v : t) s.push_back(np_interp_index(v, tab.sigma_d));
      break;
  }
  double last = 0;
  if (deis) last = karras_like ? s.back() : tab.sigma_d.front();  // DEIS always ends at σ_min
  else if (c.final_sigmas_type == final_sigmas::sigma_min)
    last = (unipc && karras_like) ? s.back() : tab.sigma_d.front();
  s.push_back(last);
  for (double& v : s) v = f32(v);
  g.timesteps = t;
  g.sigmas = s;
  for (std::size_t i = 0; i < t.size(); ++i) {
    g.model_timesteps.push_back(t[i]);
    const auto lv = deis ? vp_level : vp_level_f32;  // DEIS rounds its own coefficients (deis_options)
    g.cur.push_back(lv(s[i], t[i]));
    g.next.push_back(lv(s[i + 1], i + 1 < t.size() ? t[i + 1] : 0));
  }
  g.init_noise_sigma = 1;
  return g;
}

// EulerDiscrete, HeunDiscrete, LMSDiscrete: float32 timesteps, σ̃ interpolated at them.
inline diffusers_grid discrete_grid(const diffusers_config& c, std::size_t steps) {
  using sc = scheduler_class;
  diffusers_grid g;
  // EulerAncestralDiscrete builds its grid as EulerDiscrete does with default options.
  const bool euler = c.kind == sc::euler || c.kind == sc::euler_ancestral, heun = c.kind == sc::heun, lms = c.kind == sc::lms;
  const sigma_table tab = make_sigma_table(c, euler);
  std::vector<double> t = spaced_timesteps_f32(c, steps);
  std::vector<double> s;
  if (euler && c.interpolation == sigma_interpolation::log_linear) {
    // torch.linspace(log σ̃_max, log σ̃_min, steps + 1).exp() in float32: one entry more than the
    // timesteps, so the appended final sigma is never reached (diffusers' quirk, kept).
    const std::vector<float> ls = ferry::detail::torch_linspace_f32(tab.log_sigma.back(), tab.log_sigma.front(), steps + 1);
    for (float l : ls) s.push_back(f32(std::exp(double(l))));
  } else {
    for (double v : t) s.push_back(np_interp_index(v, tab.sigma_d));
  }
  if (c.sigmas == sigma_spacing::karras) {
    s = karras_sigmas(bounds_of(c, s, !lms), steps);  // LMS's _convert_to_karras ignores sigma_min/max
    t.clear();
    for (double v : s) t.push_back(sigma_to_t(v, tab.log_sigma));
  } else if (c.sigmas == sigma_spacing::exponential) {
    s = exponential_sigmas(bounds_of(c, s, true), steps);
    t.clear();
    for (double v : s) t.push_back(sigma_to_t(v, tab.log_sigma));
  }
  const double last = (euler && c.final_sigmas_type == final_sigmas::sigma_min) ? tab.sigma_d.front() : 0.0;
  s.push_back(last);
  for (double& v : s) v = f32(v);
  if (euler && c.continuous_timesteps && c.prediction_type == prediction::v) {
    t.clear();  // timestep_type "continuous" with v_prediction: t = ¼·log σ̃ in float32
    for (std::size_t i = 0; i + 1 < s.size(); ++i) t.push_back(f32(0.25 * double(f32(std::log(s[i])))));
  } else {
    for (double& v : t) v = f32(v);
  }
  g.init_noise_sigma = discrete_init_noise_sigma(c, s);

  if (heun) {
    // self.sigmas = [σ0, σ1, σ1, …, σ_{n−1}, σ_{n−1}, 0], self.timesteps = [t0, t1, t1, …, t_{n−1}, t_{n−1}].
    g.sigmas = {s.front()};
    g.timesteps = {t.front()};
    for (std::size_t i = 1; i + 1 < s.size(); ++i) { g.sigmas.push_back(s[i]); g.sigmas.push_back(s[i]); }
    g.sigmas.push_back(s.back());
    for (std::size_t i = 1; i < t.size(); ++i) { g.timesteps.push_back(t[i]); g.timesteps.push_back(t[i]); }
  } else {
    g.sigmas = s;
    g.timesteps = t;
  }
  const std::size_t n_steps = t.size();
  for (std::size_t i = 0; i < n_steps; ++i) {
    g.model_timesteps.push_back(t[i]);
    g.cur.push_back(vp_level(s[i], t[i]));
    g.next.push_back(vp_level(s[i + 1], i + 1 < n_steps ? t[i + 1] : 0));
  }
  return g;
}

// DDPMScheduler: DDIM's integer spacing; each step lands on the next timestep of the list, the last one
// on ᾱ = 1 (`self.one`).
inline diffusers_grid ddpm_grid(const diffusers_config& c, std::size_t steps) {
  diffusers_grid g;
  const std::vector<float> abar = diffusers_alphas_cumprod(config_betas(c));
  g.timesteps = spaced_timesteps(c, steps, c.num_train_timesteps, false);
  auto at = [&](double tv) {
    const auto t = static_cast<long long>(tv);
    if (t < 0 || t >= static_cast<long long>(abar.size()))
      throw config_error(ferry::detail::cat("DDPMScheduler.set_timesteps: timestep ", t, " lies outside [0, ", abar.size() - 1,
                                            "] (steps_offset too large)"));
    const double a = abar[static_cast<std::size_t>(t)];
    return level<double>::make(std::sqrt(a), std::sqrt(1 - a), tv);
  };
  for (std::size_t i = 0; i < g.timesteps.size(); ++i) {
    g.model_timesteps.push_back(g.timesteps[i]);
    g.cur.push_back(at(g.timesteps[i]));
    g.next.push_back(i + 1 < g.timesteps.size() ? at(g.timesteps[i + 1]) : level<double>::make(1, 0, -1));
  }
  return g;
}

/// LCM's and TCD's timesteps: every k-th of the distillation schedule (k = N // original_inference_steps,
/// t = k·j − 1 for j = 1 … original_inference_steps), reversed, at floor(linspace(0, len, steps,
/// endpoint=False)). timestep_spacing is not read.
inline std::vector<double> consistency_timesteps(const diffusers_config& c, std::size_t steps) {
  const std::size_t orig = c.original_inference_steps;
  if (orig > c.num_train_timesteps)
    throw config_error(ferry::detail::cat(class_name(c.kind), ": original_inference_steps = ", orig, " exceeds num_train_timesteps = ",
                                          c.num_train_timesteps));
  if (steps > orig)
    throw config_error(ferry::detail::cat(class_name(c.kind), ".set_timesteps: steps = ", steps,
                                          " exceeds original_inference_steps = ", orig));
  const std::size_t k = c.num_train_timesteps / orig;
  const double step = double(orig) / double(steps);  // np.linspace(0, orig, steps, endpoint=False)
  std::vector<double> t;
  for (std::size_t i = 0; i < steps; ++i) {
    const auto idx = static_cast<std::size_t>(std::floor(mul_rn(double(i), step)));
    t.push_back(double((orig - idx) * k) - 1);  // origin[::-1][idx] = k·(orig − idx) − 1
  }
  return t;
}

// LCMScheduler lands its last step on the data (prev_sample = denoised); TCDScheduler's last step lands
// on timestep 0 (prev_timestep = 0).
inline diffusers_grid consistency_grid(const diffusers_config& c, std::size_t steps) {
  diffusers_grid g;
  const std::vector<float> abar = diffusers_alphas_cumprod(config_betas(c));
  g.timesteps = consistency_timesteps(c, steps);
  auto at = [&](double tv) {
    const double a = abar[static_cast<std::size_t>(tv)];
    return level<double>::make(std::sqrt(a), std::sqrt(1 - a), tv);
  };
  for (std::size_t i = 0; i < g.timesteps.size(); ++i) {
    g.model_timesteps.push_back(g.timesteps[i]);
    g.cur.push_back(at(g.timesteps[i]));
    if (i + 1 < g.timesteps.size()) g.next.push_back(at(g.timesteps[i + 1]));
    else g.next.push_back(c.kind == scheduler_class::tcd ? at(0) : level<double>::make(1, 0, -1));
  }
  return g;
}

/// TCD's landing levels of its consistency step: s = floor((1 − γ)·t_prev) with the product in float32
/// (torch: a long tensor times a Python float), at ᾱ_s.
inline std::vector<level<double>> tcd_s_levels(const diffusers_config& c, const diffusers_grid& g, double gamma) {
  const std::vector<float> abar = diffusers_alphas_cumprod(config_betas(c));
  std::vector<level<double>> s;
  for (std::size_t i = 0; i < g.steps(); ++i) {
    const double t_prev = i + 1 < g.steps() ? g.timesteps[i + 1] : 0.0;
    const double ts = std::floor(double(ferry::detail::f32_mul(static_cast<float>(1 - gamma), static_cast<float>(t_prev))));
    const double a = abar[static_cast<std::size_t>(ts)];
    s.push_back(level<double>::make(std::sqrt(a), std::sqrt(1 - a), ts));
  }
  return s;
}

inline diffusers_grid flow_grid(const diffusers_config& c, std::size_t steps) {
  using ferry::detail::f32_add;
  using ferry::detail::f32_div;
  using ferry::detail::f32_mul;
  using ferry::detail::f32_sub;
  diffusers_grid g;
  const std::size_t n = c.num_train_timesteps;
  const float nf = static_cast<float>(n);
  // __init__: σ = t/N for t = N … 1 in float32, shifted once: σ ← shift·σ/(1 + (shift − 1)·σ).
  auto init_sigma = [&](std::size_t ts) {
    const float s = f32_div(static_cast<float>(ts), nf);
    return f32_div(f32_mul(static_cast<float>(c.shift), s), f32_add(1.0f, f32_mul(static_cast<float>(c.shift - 1), s)));
  };
  const double sigma_max = init_sigma(n), sigma_min = init_sigma(1);
  // set_timesteps: linspace over the already shifted range in float64, shifted again (the double shift).
  std::vector<double> s = np_linspace(sigma_max * double(n), sigma_min * double(n), steps);
  for (double& v : s) v = v / double(n);
  for (double& v : s) v = mul_rn(c.shift, v) / (1 + mul_rn(c.shift - 1, v));
  if (c.shift_terminal) {
    // stretch_shift_to_terminal: 1 − (1 − σ)/((1 − σ_last)/(1 − shift_terminal))
    const double scale = (1 - s.back()) / (1 - *c.shift_terminal);
    for (double& v : s) v = 1 - (1 - v) / scale;
  }
  if (c.sigmas == sigma_spacing::karras) s = karras_sigmas(bounds_of(c, s, true), steps);
  else if (c.sigmas == sigma_spacing::exponential) s = exponential_sigmas(bounds_of(c, s, true), steps);
  std::vector<float> sf(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) sf[i] = static_cast<float>(s[i]);
  if (c.invert_sigmas)
    for (float& v : sf) v = f32_sub(1.0f, v);
  for (float v : sf) {
    g.sigmas.push_back(v);
    g.timesteps.push_back(f32_mul(v, nf));
  }
  g.sigmas.push_back(c.invert_sigmas ? 1.0 : 0.0);
  for (std::size_t i = 0; i < steps; ++i) {
    g.model_timesteps.push_back(g.timesteps[i]);
    // Rectified flow: x = (1 − σ)·x0 + σ·ε.
    g.cur.push_back(level<double>::make(1 - g.sigmas[i], g.sigmas[i], g.timesteps[i]));
    g.next.push_back(level<double>::make(1 - g.sigmas[i + 1], g.sigmas[i + 1], i + 1 < steps ? g.timesteps[i + 1] : 0));
  }
  g.init_noise_sigma = 1;
  return g;
}

}  // namespace detail

/// The grid diffusers' `<class>.from_config(c).set_timesteps(steps)` produces, with the levels each
/// sampler step goes between. steps must lie in [1, num_train_timesteps].
inline diffusers_grid set_timesteps(const diffusers_config& c, std::size_t steps) {
  using sc = scheduler_class;
  detail::check_steps(c, steps);
  diffusers_grid g;
  switch (c.kind) {
    case sc::ddim: g = detail::ddim_grid(c, steps); break;
    case sc::dpm_multistep:
    case sc::unipc:
    case sc::deis: g = detail::multistep_grid(c, steps); break;
    case sc::euler:
    case sc::heun:
    case sc::lms: g = detail::discrete_grid(c, steps); break;
    case sc::flow_euler: g = detail::flow_grid(c, steps); break;
    case sc::ddpm: g = detail::ddpm_grid(c, steps); break;
    case sc::euler_ancestral: g = detail::discrete_grid(c, steps); break;
    case sc::lcm:
    case sc::tcd: g = detail::consistency_grid(c, steps); break;
  }
  g.kind = c.kind;
  return g;
}

}  // namespace ferry::compat
