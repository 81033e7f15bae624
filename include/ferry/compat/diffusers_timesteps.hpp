#pragma once
// ferry::compat::set_timesteps: the `timesteps` and `sigmas` a diffusers scheduler holds after
// `set_timesteps(steps)` (or `set_timesteps(sigmas=…, mu=…)`), reproduced to the bit (diffusers commit
// 58eb52c), with the levels each step() call goes between (compat/diffusers_grid.hpp). diffusers
// builds the grids in a mix of float32 torch and float64/float32 numpy; every cast below sits where
// diffusers makes it, and the numpy and torch primitives are emulated exactly, torch's float32 exp, log,
// sin, cos, atan and atan2 included (SLEEF's kernels, compat/sleef_f32.hpp). One exception: float32 pow of a
// tensor (EDMDPM's and cosine DPM's Karras σ), which torch takes from SLEEF for blocks of 16 and ferry
// from the C library (equal on every reference grid).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include "ferry/compat/diffusers_arrays.hpp"
#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/diffusers_grid.hpp"
#include "ferry/compat/float32.hpp"
#include "ferry/compat/sleef_f32.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/process/discrete_vp.hpp"

namespace ferry::compat {

namespace detail {

// ---- DDIM, CogVideoXDDIM, DDPM, LCM, TCD, PNDM: integer timesteps on the ᾱ table ------------------

inline diffusers_grid ddim_like_grid(const diffusers_config& c, std::size_t steps, const std::vector<double>& abar) {
  diffusers_grid g;
  const double final_abar = c.set_alpha_to_one ? 1.0 : abar.front();
  g.timesteps = spaced_timesteps(c, steps, c.num_train_timesteps, false);
  const auto stride = static_cast<long long>(c.num_train_timesteps / steps);
  g.final_alpha_cumprod = final_abar;
  auto abar_at = [&](long long t) -> double {
    if (t < 0) return final_abar;
    if (t >= static_cast<long long>(abar.size()))
      throw config_error(ferry::detail::cat(class_name(c.kind), ".set_timesteps: timestep ", t, " lies past num_train_timesteps = ",
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
    g.cur.push_back(abar_level(a, tv));
    g.next.push_back(abar_level(a_prev, double(prev)));
  }
  return g;
}

inline std::vector<double> as_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

inline diffusers_grid ddim_grid(const diffusers_config& c, std::size_t steps) {
  return ddim_like_grid(c, steps, as_double(diffusers_alphas_cumprod(config_betas(c))));
}

/// CogVideoXDDIMScheduler's ᾱ: the β table in its own dtype (scaled_linear in float64, as its
/// __init__ asks torch.linspace for float64; the others float32), cumprod, the SD3-style SNR shift
/// ᾱ ← ᾱ/(s + (1 − s)·ᾱ), then the zero-terminal-SNR rescale applied to ᾱ itself (it ends at 0).
inline std::vector<double> cogvideox_alphas_cumprod(const diffusers_config& c) {
  const bool f64 = c.trained_betas.empty() && c.betas == beta_schedule::scaled_linear;
  std::vector<double> abar;
  const double s = c.snr_shift_scale;
  if (f64) {
    std::vector<double> b = torch_linspace_f64(std::sqrt(c.beta_start), std::sqrt(c.beta_end), c.num_train_timesteps);
    double acc = 1;
    for (double v : b) {
      acc *= 1 - v * v;
      abar.push_back(acc);
    }
    for (double& a : abar) a = a / (s + mul_rn(1 - s, a));
    if (c.rescale_betas_zero_snr) {
      std::vector<double> r(abar.size());
      for (std::size_t i = 0; i < r.size(); ++i) r[i] = std::sqrt(abar[i]);
      const double r0 = r.front(), rT = r.back(), scale = r0 / (r0 - rT);
      for (std::size_t i = 0; i < r.size(); ++i) abar[i] = mul_rn(r[i] - rT, scale) * mul_rn(r[i] - rT, scale);
    }
    return abar;
  }
  std::vector<float> b;
  if (!c.trained_betas.empty())
    for (double x : c.trained_betas) b.push_back(static_cast<float>(x));
  else
    b = diffusers_betas(c.betas, c.num_train_timesteps, c.beta_start, c.beta_end);
  std::vector<float> a = diffusers_alphas_cumprod(b);
  for (float& v : a) v = f32_div(v, f32_add(static_cast<float>(s), f32_mul(static_cast<float>(1 - s), v)));
  if (c.rescale_betas_zero_snr) {
    std::vector<float> r(a.size());
    for (std::size_t i = 0; i < r.size(); ++i) r[i] = f32_sqrt(a[i]);
    const float r0 = r.front(), rT = r.back(), scale = f32_div(r0, f32_sub(r0, rT));
    for (std::size_t i = 0; i < r.size(); ++i) {
      const float v = f32_mul(f32_sub(r[i], rT), scale);
      a[i] = f32_mul(v, v);
    }
  }
  return as_double(a);
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
    return abar_level(abar[static_cast<std::size_t>(t)], tv);
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
    throw config_error(ferry::detail::cat(class_name(c.kind), ".set_timesteps: steps = ", steps, " exceeds original_inference_steps = ", orig));
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
  auto at = [&](double tv) { return abar_level(abar[static_cast<std::size_t>(tv)], tv); };
  for (std::size_t i = 0; i < g.timesteps.size(); ++i) {
    g.model_timesteps.push_back(g.timesteps[i]);
    g.cur.push_back(at(g.timesteps[i]));
    if (i + 1 < g.timesteps.size()) g.next.push_back(at(g.timesteps[i + 1]));
    else g.next.push_back(c.kind == scheduler_class::tcd ? at(0) : level<double>::make(1, 0, -1));
  }
  return g;
}

/// PNDMScheduler (Liu et al. 2022, F-PNDM): its ascending `_timesteps` by spacing; with skip_prk_steps
/// the PLMS list [t_{n−1}, t_{n−2}, t_{n−2}, t_{n−3}, …, t_0] (steps + 1 calls), else twelve
/// pseudo-Runge–Kutta calls over the top three intervals (half steps at t − δ//2) and PLMS after
/// (steps + 9 calls). Per call i: cur/next are the ends of the transfer _get_prev_sample makes (a
/// Runge–Kutta call transfers from the start of its step), alphas_cumprod/_prev their ᾱ; the model is
/// evaluated at the level of model_timesteps[i], the timestep the call is told.
inline diffusers_grid pndm_grid(const diffusers_config& c, std::size_t steps) {
  diffusers_grid g;
  const std::vector<float> abar_f = diffusers_alphas_cumprod(config_betas(c));
  const long long n_train = static_cast<long long>(c.num_train_timesteps), delta = n_train / static_cast<long long>(steps);
  std::vector<long long> ts;  // ascending
  switch (c.spacing) {
    case timestep_spacing::linspace:
      for (double v : np_linspace(0, double(n_train - 1), steps)) ts.push_back(static_cast<long long>(np_round(v)));
      break;
    case timestep_spacing::leading:
      for (std::size_t i = 0; i < steps; ++i) ts.push_back(static_cast<long long>(i) * delta + c.steps_offset);
      break;
    case timestep_spacing::trailing: {
      const std::vector<double> a = np_arange(double(n_train), 0, -(double(n_train) / double(steps)));
      for (auto it = a.rbegin(); it != a.rend(); ++it) ts.push_back(static_cast<long long>(np_round(*it)) - 1);
      break;
    }
  }
  std::vector<long long> calls, from, to;
  if (c.skip_prk_steps) {
    // concat(_t[:-1], _t[-2:-1], _t[-1:])[::-1]; the second call (counter 1) transfers from t + δ to t.
    std::vector<long long> plms(ts.begin(), ts.end() - 1);
    if (ts.size() >= 2) plms.push_back(ts[ts.size() - 2]);
    plms.push_back(ts.back());
    std::reverse(plms.begin(), plms.end());
    for (std::size_t k = 0; k < plms.size(); ++k) {
      calls.push_back(plms[k]);
      from.push_back(k == 1 ? plms[k] + delta : plms[k]);
      to.push_back(k == 1 ? plms[k] : plms[k] - delta);
    }
  } else {
    if (steps < 4) throw config_error(ferry::detail::cat("PNDMScheduler.set_timesteps: steps = ", steps,
                                                         "; its Runge-Kutta warm-up needs at least 4 (or skip_prk_steps: true)"));
    const long long half = delta / 2;
    std::vector<long long> prk8;  // _t[-4:].repeat(2) + tile([0, δ//2], 4)
    for (std::size_t j = ts.size() - 4; j < ts.size(); ++j) { prk8.push_back(ts[j]); prk8.push_back(ts[j] + half); }
    std::vector<long long> rep;  // prk8[:-1].repeat(2)[1:-1][::-1]
    for (std::size_t j = 0; j + 1 < prk8.size(); ++j) { rep.push_back(prk8[j]); rep.push_back(prk8[j]); }
    std::vector<long long> prk(rep.begin() + 1, rep.end() - 1);
    std::reverse(prk.begin(), prk.end());
    for (std::size_t k = 0; k < prk.size(); ++k) {
      calls.push_back(prk[k]);
      from.push_back(prk[k / 4 * 4]);
      to.push_back(prk[k] - (k % 2 ? 0 : half));
    }
    g.prk_calls = prk.size();
    for (std::size_t j = ts.size() - 3; j-- > 0;) {
      calls.push_back(ts[j]);
      from.push_back(ts[j]);
      to.push_back(ts[j] - delta);
    }
  }
  g.final_alpha_cumprod = c.set_alpha_to_one ? 1.0 : double(abar_f.front());
  auto abar_at = [&](long long t) -> double {
    if (t < 0) return g.final_alpha_cumprod;
    if (t >= n_train)
      throw config_error(ferry::detail::cat("PNDMScheduler.set_timesteps: timestep ", t, " lies past num_train_timesteps = ", n_train,
                                            " (steps_offset too large)"));
    return abar_f[static_cast<std::size_t>(t)];
  };
  for (std::size_t k = 0; k < calls.size(); ++k) {
    g.timesteps.push_back(double(calls[k]));
    g.model_timesteps.push_back(double(calls[k]));
    abar_at(calls[k]);
    g.prev_timesteps.push_back(to[k]);
    g.alphas_cumprod.push_back(abar_at(from[k]));
    g.alphas_cumprod_prev.push_back(abar_at(to[k]));
    g.cur.push_back(abar_level(abar_at(from[k]), double(from[k])));
    g.next.push_back(abar_level(abar_at(to[k]), double(to[k])));
  }
  return g;
}

// ---- the σ̃ classes ------------------------------------------------------------------------------

/// σ̃ at an integer timestep list, or the class's Karras / exponential / beta σ̃ and the fractional
/// timesteps that _sigma_to_t finds for them (reads_config: the conversion takes the config's
/// sigma_min/sigma_max when set).
inline void convert_discrete(const diffusers_config& c, const sigma_table& tab, std::vector<double>& t, std::vector<double>& s,
                             bool reads_config = true) {
  if (c.sigmas == sigma_spacing::timesteps || c.sigmas == sigma_spacing::lu_lambdas) return;
  s = convert_sigmas(c, bounds_of(c, s, reads_config), t.size());
  t.clear();
  for (double v : s) t.push_back(sigma_to_t(v, tab.log_sigma));
}

// EulerDiscrete, EulerAncestralDiscrete, HeunDiscrete, LMSDiscrete: float32 timesteps, σ̃ interpolated at them.
inline diffusers_grid discrete_grid(const diffusers_config& c, std::size_t steps, const timestep_args& args) {
  using sc = scheduler_class;
  diffusers_grid g;
  const bool euler = c.kind == sc::euler || c.kind == sc::euler_ancestral, heun = c.kind == sc::heun, lms = c.kind == sc::lms;
  const sigma_table tab = make_sigma_table(c, euler);
  std::vector<double> t, s;
  if (args.sigmas) {
    // EulerDiscrete.set_timesteps(sigmas=…): the list as float32, timesteps at all but its last entry.
    for (double v : *args.sigmas) s.push_back(f32(v));
    for (std::size_t i = 0; i + 1 < s.size(); ++i) t.push_back(sigma_to_t(s[i], tab.log_sigma));
  } else {
    t = spaced_timesteps_f32(c, steps);
    if (euler && c.interpolation == sigma_interpolation::log_linear) {
      // torch.linspace(log σ̃_max, log σ̃_min, steps + 1).exp() in float32: one entry more than the
      // timesteps, so the appended final sigma is never reached (diffusers' quirk, kept).
      const std::vector<float> ls = ferry::detail::torch_linspace_f32(tab.log_sigma.back(), tab.log_sigma.front(), steps + 1);
      for (float l : ls) s.push_back(ferry::detail::sleef::expf(l));
    } else {
      for (double v : t) s.push_back(np_interp_index(v, tab.sigma_d));
    }
    convert_discrete(c, tab, t, s, !lms || c.sigmas != sigma_spacing::karras);  // LMS's _convert_to_karras ignores sigma_min/max
    const double last = (euler && c.final_sigmas_type == final_sigmas::sigma_min) ? tab.sigma_d.front() : 0.0;
    s.push_back(last);
    for (double& v : s) v = f32(v);
  }
  if (euler && c.continuous_timesteps && c.prediction_type == prediction::v) {
    t.clear();  // timestep_type "continuous" with v_prediction: t = ¼·log σ̃ in float32
    for (std::size_t i = 0; i + 1 < s.size(); ++i) t.push_back(f32_mul(0.25f, ferry::detail::sleef::logf(float(s[i]))));
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
  std::vector<level<double>> lv;
  for (std::size_t i = 0; i < s.size(); ++i) lv.push_back(vp_level(s[i], i < t.size() ? t[i] : 0));
  consecutive_steps(g, t, lv);
  return g;
}

/// KDPM2Discrete, KDPM2AncestralDiscrete, DPMSolverSDE: Euler's σ̃ grid (DPMSolverSDE's timesteps in
/// float64) with a second model call inside each step but the last.
inline diffusers_grid k_grid(const diffusers_config& c, std::size_t steps) {
  using sc = scheduler_class;
  diffusers_grid g;
  const bool sde = c.kind == sc::dpm_sde, ancestral = c.kind == sc::kdpm2_ancestral;
  const sigma_table tab = make_sigma_table(c, false);
  std::vector<double> t = spaced_timesteps_f32(c, steps, sde), s;
  for (double v : t) s.push_back(np_interp_index(v, tab.sigma_d));
  if (c.sigmas != sigma_spacing::timesteps) {
    // DPMSolverSDE's _convert_to_karras takes its bounds from the σ list only; the Karras timesteps
    // of KDPM2 and KDPM2Ancestral are rounded.
    convert_discrete(c, tab, t, s, !(sde && c.sigmas == sigma_spacing::karras));
    if (!sde && c.sigmas == sigma_spacing::karras)
      for (double& v : t) v = np_round(v);
  }
  const std::size_t n = s.size();
  std::vector<float> sf;  // the float32 σ tensor with its appended 0
  for (double v : s) sf.push_back(static_cast<float>(v));
  sf.push_back(0.0f);
  g.init_noise_sigma = discrete_init_noise_sigma(c, std::vector<double>(sf.begin(), sf.end()));

  std::vector<std::optional<float>> mid_sigma(n);  // the second call's σ of step j (j → j + 1)
  if (sde) {
    // _second_order_timesteps: t = −log σ (float64), midpoints, back through _sigma_to_t; step() then
    // evaluates at the float32 exp(−(t + (t_next − t)·½)).
    for (std::size_t j = 0; j + 1 < n; ++j) {
      const double t0 = -std::log(s[j]), t1 = -std::log(s[j + 1]);
      g.mid_timesteps.push_back(sigma_to_t(std::exp(-(t0 + (t1 - t0) * 0.5)), tab.log_sigma));
      const float a = -ferry::detail::sleef::logf(sf[j]), b = -ferry::detail::sleef::logf(sf[j + 1]);
      mid_sigma[j] = ferry::detail::sleef::expf(-f32_add(a, f32_mul(f32_sub(b, a), 0.5f)));
    }
  } else {
    // σ_interpol = exp(lerp(log σ, log σ_other, ½)) in float32 torch (lerp at ½: end − (end − self)·½), with
    // σ_other = σ_{j−1} (KDPM2: the geometric midpoint of step j − 1) or σ_down of step j (KDPM2Ancestral).
    auto interpol = [](float a, float b) {
      const float la = ferry::detail::sleef::logf(a), lb = ferry::detail::sleef::logf(b);
      return ferry::detail::sleef::expf(f32_sub(lb, f32_mul(f32_sub(lb, la), 0.5f)));
    };
    for (std::size_t j = 0; j + 1 < n; ++j) {
      float m;
      if (ancestral) {
        const float s2 = f32_mul(sf[j], sf[j]), n2 = f32_mul(sf[j + 1], sf[j + 1]);
        const float up = f32_sqrt(f32_div(f32_mul(n2, f32_sub(s2, n2)), s2));
        const float down = f32_sqrt(f32_sub(n2, f32_mul(up, up)));
        m = interpol(sf[j], down);
      } else {
        m = interpol(sf[j + 1], sf[j]);
      }
      mid_sigma[j] = m;
      // _sigma_to_t of a float32 torch σ: numpy's float32 log, the interpolation in float32.
      g.mid_timesteps.push_back(sigma_to_t(m, tab.log_sigma, true));
    }
  }
  const bool t_f32 = !sde && c.sigmas == sigma_spacing::timesteps;  // the timesteps tensor's dtype (converted grids: float64)
  for (double& v : t) v = t_f32 ? f32(v) : v;
  for (double& v : g.mid_timesteps) v = t_f32 ? f32(v) : v;

  // self.sigmas: [σ0, σ1, σ1, …] — KDPM2 repeats σ[1:] (the appended 0 too), DPMSolverSDE σ[1:-1].
  g.sigmas = {sf.front()};
  for (std::size_t j = 1; j < (sde ? n : n + 1); ++j) { g.sigmas.push_back(sf[j]); g.sigmas.push_back(sf[j]); }
  g.sigmas.push_back(sf.back());
  // self.timesteps: [t0, m0, t1, m1, …, m_{n−2}, t_{n−1}].
  g.timesteps = {t.front()};
  for (std::size_t j = 1; j < n; ++j) { g.timesteps.push_back(g.mid_timesteps[j - 1]); g.timesteps.push_back(t[j]); }

  for (std::size_t j = 0; j < n; ++j) {
    g.model_timesteps.push_back(t[j]);
    g.cur.push_back(vp_level(sf[j], t[j]));
    g.next.push_back(vp_level(sf[j + 1], j + 1 < n ? t[j + 1] : 0));
    g.mid.push_back(mid_sigma[j] ? std::optional<level<double>>(vp_level(*mid_sigma[j], j + 1 < n ? g.mid_timesteps[j] : 0)) : std::nullopt);
  }
  g.mid_timesteps.push_back(0);  // the last step has one call
  return g;
}

// ---- the multistep VP classes: DPMSolverMultistep, UniPC, DEIS, SASolver, DPMSolverSinglestep ----

/// The flow_shift a DPM-Solver/DEIS set_timesteps uses: exp(μ) when dynamic shifting is on and μ given.
inline double effective_flow_shift(const diffusers_config& c, const timestep_args& args) {
  return args.mu && c.use_dynamic_shifting ? std::exp(*args.mu) : c.flow_shift;
}

inline diffusers_grid multistep_grid(const diffusers_config& c, std::size_t steps, const timestep_args& args) {
  using sc = scheduler_class;
  diffusers_grid g;
  const bool dpm = c.kind == sc::dpm_multistep, unipc = c.kind == sc::unipc, deis = c.kind == sc::deis, sa = c.kind == sc::sa_solver,
             single = c.kind == sc::dpm_singlestep;
  const sigma_table tab = make_sigma_table(c, dpm || unipc);
  const std::size_t n_train = c.num_train_timesteps;

  std::size_t last_timestep = n_train;
  if ((dpm || sa || single) && c.lambda_min_clipped > -std::numeric_limits<double>::infinity()) {
    // clipped_idx = searchsorted(flip(λ_t), lambda_min_clipped) with λ_t = log √ᾱ − log √(1 − ᾱ) in
    // float32 torch (SLEEF's log): the number of timesteps whose λ lies below the clip.
    std::size_t below = 0;
    for (float a : tab.abar) {
      const float lam = f32_sub(ferry::detail::sleef::logf(f32_sqrt(a)), ferry::detail::sleef::logf(f32_sqrt(f32_sub(1.0f, a))));
      if (double(lam) < c.lambda_min_clipped) ++below;
    }
    last_timestep = n_train - below;
  }
  diffusers_config spaced = c;
  if (single) spaced.spacing = timestep_spacing::linspace;  // DPMSolverSinglestep has no timestep_spacing
  std::vector<double> t = spaced_timesteps(spaced, steps, last_timestep, true);
  std::vector<double> s;
  // UniPC converts the σ it is given (only with use_flow_sigmas) where the others convert their table.
  const std::vector<double> flipped = reversed(unipc && args.sigmas ? *args.sigmas : tab.sigma_d);
  bool own_last = false;  // the class appends a copy of its own last σ (DEIS, SASolver) for these grids
  bool flow = false;
  switch (c.sigmas) {
    case sigma_spacing::karras:
    case sigma_spacing::exponential:
    case sigma_spacing::beta: {
      s = convert_sigmas(c, bounds_of(c, flipped, true), steps);
      if (unipc && c.use_flow_sigmas) {  // UniPC maps the converted σ̃ to flow σ = σ̃/(σ̃ + 1)
        for (double& v : s) v = v / (v + 1);
        t = s;
        for (double& v : t) v *= double(n_train);
        flow = true;
      } else {
        t.clear();
        for (double v : s) t.push_back(sigma_to_t(v, tab.log_sigma));
      }
      // Karras timesteps are rounded, except DPMSolverMultistep's with squaredcos_cap_v2 (then truncated
      // by the int64 cast); exponential and beta ones are truncated everywhere.
      if (!flow && c.sigmas == sigma_spacing::karras && !(dpm && c.betas == beta_schedule::squaredcos_cap_v2))
        for (double& v : t) v = np_round(v);
      own_last = true;
      break;
    }
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
      break;
    }
    case sigma_spacing::timesteps:
      if (c.use_flow_sigmas) {
        flow = true;
        own_last = true;
        if (unipc) {
          // UniPC: linspace(1, 1/N, steps + 1)[:-1] (or the sigmas given), shifted (dynamic: the time
          // shift with μ), stretched to shift_terminal, its first σ nudged below 1 by 1e-6.
          if (args.sigmas) s = *args.sigmas;
          else { s = np_linspace(1, 1 / double(n_train), steps + 1); s.pop_back(); }
          for (double& v : s)
            v = c.use_dynamic_shifting ? time_shift_of(c.time_shift_type, *args.mu, v, false)
                                       : mul_rn(c.flow_shift, v) / (1 + mul_rn(c.flow_shift - 1, v));
          if (c.shift_terminal) stretch_to_terminal(s, *c.shift_terminal, false);
          if (std::abs(s.front() - 1) < 1e-6) s.front() -= 1e-6;
        } else {
          s = vp_flow_sigmas(n_train, steps, effective_flow_shift(c, args));
        }
        t = s;
        for (double& v : t) v *= double(n_train);
      } else {
        for (double v : t) s.push_back(np_interp_index(v, tab.sigma_d));
      }
      break;
  }
  double last = 0;
  const bool sigma_min_last = c.final_sigmas_type == final_sigmas::sigma_min;
  if (deis || sa) last = own_last ? s.back() : tab.sigma_d.front();  // DEIS and SASolver never end at 0
  else if (unipc) last = sigma_min_last ? (own_last ? s.back() : tab.sigma_d.front()) : 0;
  else if (sigma_min_last) last = tab.sigma_d.front();  // DPM, DPMSS: σ̃ of timestep 0, whatever the grid
  s.push_back(last);
  for (double& v : s) v = f32(v);
  for (double& v : t) v = std::trunc(v);  // torch.from_numpy(timesteps).to(int64)
  g.timesteps = t;
  g.sigmas = s;
  g.space = flow ? grid_space::flow : grid_space::vp;
  std::vector<level<double>> lv;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const double ti = i < t.size() ? t[i] : 0;
    // The model sees the flow state (1 − σ)·x0 + σ·ε; DEIS rounds its own coefficients (deis_options).
    if (flow) lv.push_back(flow_level(s[i], !deis));
    else lv.push_back(deis ? vp_level(s[i], ti) : vp_level_f32(s[i], ti));
  }
  consecutive_steps(g, t, lv);

  if (sa)
    for (double ti : t) g.tau.push_back(ti >= 200 && ti <= 800 ? 1.0 : 0.0);
  if (single) {
    // set_timesteps turns lower_order_final on for an uneven step count or a final σ of 0; then
    // get_order_list.
    const int order = c.solver_order;
    g.lower_order_final = c.lower_order_final || steps % std::size_t(order) != 0 || c.final_sigmas_type == final_sigmas::zero;
    const std::size_t k = steps / std::size_t(order);
    auto repeat = [&](std::initializer_list<int> pattern, std::size_t times) {
      for (std::size_t r = 0; r < times; ++r) g.orders.insert(g.orders.end(), pattern);
    };
    if (g.lower_order_final) {
      if (order == 3) {
        if (steps % 3 == 0) { repeat({1, 2, 3}, k - 1); repeat({1, 2}, 1); repeat({1}, 1); }
        else if (steps % 3 == 1) { repeat({1, 2, 3}, k); repeat({1}, 1); }
        else { repeat({1, 2, 3}, k); repeat({1, 2}, 1); }
      } else if (order == 2) {
        if (steps % 2 == 0) { repeat({1, 2}, k - 1); repeat({1, 1}, 1); }
        else { repeat({1, 2}, k); repeat({1}, 1); }
      } else {
        repeat({1}, steps);
      }
    } else {
      repeat(order == 3 ? std::initializer_list<int>{1, 2, 3} : order == 2 ? std::initializer_list<int>{1, 2} : std::initializer_list<int>{1}, k);
    }
    if (c.final_sigmas_type == final_sigmas::zero && !g.orders.empty()) g.orders.back() = 1;
  } else {
    g.lower_order_final = c.lower_order_final;
  }
  return g;
}

// ---- flow matching ------------------------------------------------------------------------------

/// FlowMatchEulerDiscrete and FlowMatchHeunDiscrete. __init__ builds σ = t/N for t = N … 1 in float32
/// and, without dynamic shifting, shifts it once; set_timesteps spaces linearly between the (shifted)
/// σ_max and σ_min in float64 (or takes the `sigmas` given, as float32), shifts again (the double
/// shift) or time-shifts with μ, stretches to shift_terminal, converts to Karras / exponential / beta,
/// casts to float32 and appends 0 (1 with invert_sigmas, whose σ is 1 − σ).
inline diffusers_grid flow_grid(const diffusers_config& c, std::size_t steps, const timestep_args& args) {
  diffusers_grid g;
  const bool heun = c.kind == scheduler_class::flow_heun;
  const std::size_t n = c.num_train_timesteps;
  const float nf = static_cast<float>(n);
  const bool dynamic = c.use_dynamic_shifting && !heun;
  auto init_sigma = [&](std::size_t ts) {
    const float s = f32_div(static_cast<float>(ts), nf);
    if (dynamic) return s;
    return f32_div(f32_mul(static_cast<float>(c.shift), s), f32_add(1.0f, f32_mul(static_cast<float>(c.shift - 1), s)));
  };
  std::vector<double> s;
  bool in_f32 = false;
  if (args.sigmas) {
    for (double v : *args.sigmas) s.push_back(f32(v));
    in_f32 = true;  // np.array(sigmas).astype(float32): the shifts below run in float32 (NumPy 1.x)
  } else {
    const double sigma_max = init_sigma(n), sigma_min = init_sigma(1);
    s = np_linspace(sigma_max * double(n), sigma_min * double(n), steps);
    for (double& v : s) v = v / double(n);
  }
  for (double& v : s) {
    if (dynamic) v = time_shift_of(c.time_shift_type, *args.mu, v, in_f32);
    else if (in_f32) {
      const float x = float(v), sh = float(c.shift);
      v = f32_div(f32_mul(sh, x), f32_add(1.0f, f32_mul(float(c.shift - 1), x)));
    } else {
      v = mul_rn(c.shift, v) / (1 + mul_rn(c.shift - 1, v));
    }
  }
  if (c.shift_terminal && !heun) stretch_to_terminal(s, *c.shift_terminal, in_f32);
  if (c.sigmas != sigma_spacing::timesteps && !heun) s = convert_sigmas(c, bounds_of(c, s, true), s.size());
  std::vector<float> sf(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) sf[i] = static_cast<float>(s[i]);
  if (c.invert_sigmas && !heun)
    for (float& v : sf) v = f32_sub(1.0f, v);
  std::vector<double> sig, t;
  for (float v : sf) {
    sig.push_back(v);
    t.push_back(f32_mul(v, nf));
  }
  sig.push_back(c.invert_sigmas && !heun ? 1.0 : 0.0);
  g.space = grid_space::flow;
  // With invert_sigmas the list is the data weight: the flow σ of entry i is 1 − sigmas[i].
  std::vector<level<double>> lv;
  for (double v : sig) lv.push_back(flow_level(c.invert_sigmas && !heun ? 1 - v : v));
  consecutive_steps(g, t, lv);
  if (heun) {
    // self.timesteps = [t0, t1, t1, …, t_{n−1}, t_{n−1}], self.sigmas = [σ0, σ1, σ1, …, σ_{n−1}, σ_{n−1}, 0].
    g.timesteps = {t.front()};
    for (std::size_t i = 1; i < t.size(); ++i) { g.timesteps.push_back(t[i]); g.timesteps.push_back(t[i]); }
    g.sigmas = {sig.front()};
    for (std::size_t i = 1; i + 1 < sig.size(); ++i) { g.sigmas.push_back(sig[i]); g.sigmas.push_back(sig[i]); }
    g.sigmas.push_back(sig.back());
  } else {
    g.timesteps = t;
    g.sigmas = sig;
  }
  return g;
}

// ---- EDM-parametrised classes -------------------------------------------------------------------

/// EDMEuler, EDMDPMSolverMultistep, CosineDPMSolverMultistep: σ = Karras (ρ) or exponential between
/// sigma_min and sigma_max over a ramp in [0, 1] — float64 torch in EDMEuler (whose `sigmas` argument
/// is that ramp), float32 in the other two — then float32; timesteps are the network's c_noise, ¼·log σ
/// (cosine: atan(σ)/π·2) in float32; the appended last σ is 0 or σ_min (EDMEuler: its own last σ;
/// the others: the config's sigma_min). init_noise_sigma = √(σ_max² + 1).
inline diffusers_grid edm_grid(const diffusers_config& c, std::size_t steps, const timestep_args& args) {
  using sc = scheduler_class;
  diffusers_grid g;
  const bool euler = c.kind == sc::edm_euler, cosine = c.kind == sc::cosine_dpm_multistep;
  const double smin = *c.sigma_min, smax = *c.sigma_max, rho = c.rho;
  std::vector<float> sf;
  if (c.sigma_schedule == edm_schedule::exponential) {
    // torch.linspace(log σ_min, log σ_max, len(ramp)).exp().flip(0), in float32 whatever the ramp.
    const std::size_t len = args.sigmas ? args.sigmas->size() : steps;
    const std::vector<float> l = ferry::detail::torch_linspace_f32(std::log(smin), std::log(smax), len);
    for (auto it = l.rbegin(); it != l.rend(); ++it) sf.push_back(ferry::detail::sleef::expf(*it));
  } else {
    const double min_inv = std::pow(smin, 1 / rho), max_inv = std::pow(smax, 1 / rho);
    if (euler) {
      const std::vector<double> ramp = args.sigmas ? *args.sigmas : torch_linspace_f64(0, 1, steps);
      for (double r : ramp) sf.push_back(static_cast<float>(std::pow(max_inv + mul_rn(r, min_inv - max_inv), rho)));
    } else {
      const float lo = static_cast<float>(min_inv - max_inv), hi = static_cast<float>(max_inv);
      for (float r : ferry::detail::torch_linspace_f32(0, 1, steps)) sf.push_back(std::pow(f32_add(hi, f32_mul(r, lo)), static_cast<float>(rho)));
    }
  }
  for (float v : sf) {
    g.sigmas.push_back(v);
    if (cosine) g.timesteps.push_back(f32_mul(f32_div(ferry::detail::sleef::atanf(v), static_cast<float>(std::numbers::pi)), 2.0f));
    else g.timesteps.push_back(f32_mul(0.25f, ferry::detail::sleef::logf(v)));
  }
  double last = 0;
  if (c.final_sigmas_type == final_sigmas::sigma_min) last = euler ? double(sf.back()) : f32(smin);
  g.sigmas.push_back(last);
  g.space = grid_space::edm;
  g.init_noise_sigma = std::sqrt(smax * smax + 1);
  std::vector<level<double>> lv;
  for (double v : g.sigmas) lv.push_back(edm_level(v));
  // EDMDPM's and cosine DPM's appended σ_min is the config's, which the float32 ramp's last σ can
  // undercut by an ulp (diffusers then steps up by ~5e-10): the levels end on the lower one, a
  // zero-length step (the printed sigmas keep diffusers' values).
  if (lv.size() >= 2 && last > 0 && lv.back().sigma > lv[lv.size() - 2].sigma) lv.back() = lv[lv.size() - 2];
  consecutive_steps(g, g.timesteps, lv);
  return g;
}

// ---- the remaining classes ----------------------------------------------------------------------

/// IPNDMScheduler: r = linspace(1, 0, steps + 1)[:-1] then 0 (float32), β = sin(r·π/2)², α = √(1 − β²),
/// timesteps = atan2(β, α)/π·2 without the last; the state is x = α·x0 + β·ε and the model answers
/// v = α·ε − β·x0 at each (α_i, β_i).
inline diffusers_grid ipndm_grid(std::size_t steps) {
  diffusers_grid g;
  std::vector<float> r = ferry::detail::torch_linspace_f32(1, 0, steps + 1);
  r.back() = 0.0f;
  const float pi = static_cast<float>(std::numbers::pi);
  std::vector<float> beta, alpha;
  for (float v : r) {
    const float sn = ferry::detail::sleef::sinf(f32_div(f32_mul(v, static_cast<float>(std::numbers::pi)), 2.0f));
    beta.push_back(f32_mul(sn, sn));
    alpha.push_back(f32_sqrt(f32_sub(1.0f, f32_mul(beta.back(), beta.back()))));
  }
  std::vector<level<double>> lv;
  // torch.atan2 runs SLEEF on whole blocks of 16 and the C library on the rest.
  const std::size_t blocks = r.size() / 16 * 16;
  for (std::size_t i = 0; i < r.size(); ++i) {
    const float a = i < blocks ? ferry::detail::sleef::atan2f(beta[i], alpha[i]) : std::atan2(beta[i], alpha[i]);
    const float ts = f32_mul(f32_div(a, pi), 2.0f);
    if (i + 1 < r.size()) g.timesteps.push_back(ts);
    lv.push_back(level<double>::make(alpha[i], beta[i], i + 1 < r.size() ? double(ts) : 0.0));
  }
  consecutive_steps(g, g.timesteps, lv);
  return g;
}

/// DDPMWuerstchenScheduler's ᾱ(t) in float32: cos²((t^scaler + s)/(1 + s)·π/2)/cos²(s/(1 + s)·π/2),
/// clamped to [1e-4, 0.9999] (scaler > 1: 1 − (1 − t)^scaler; scaler < 1: t^scaler).
inline double wuerstchen_alpha_cumprod(const diffusers_config& c, float t) {
  const float s = static_cast<float>(c.s), pi = static_cast<float>(std::numbers::pi);
  if (c.scaler > 1) t = f32_sub(1.0f, std::pow(f32_sub(1.0f, t), static_cast<float>(c.scaler)));
  else if (c.scaler < 1) t = std::pow(t, static_cast<float>(c.scaler));
  auto cos2 = [&](float u) {
    const float k = ferry::detail::sleef::cosf(f32_mul(f32_mul(f32_div(u, f32_add(1.0f, s)), pi), 0.5f));
    return f32_mul(k, k);
  };
  const float init = cos2(s);
  return std::clamp(f32_div(cos2(f32_add(t, s)), init), 0.0001f, 0.9999f);
}

/// DDPMWuerstchenScheduler: timesteps = linspace(1, 0, steps + 1) in float32; the loop runs over all but
/// the last, each call landing on the next timestep's ᾱ (the last, ᾱ(0) clamped to 0.9999, without noise).
inline diffusers_grid wuerstchen_grid(const diffusers_config& c, std::size_t steps) {
  diffusers_grid g;
  for (float v : ferry::detail::torch_linspace_f32(1, 0, steps + 1)) g.timesteps.push_back(v);
  std::vector<level<double>> lv;
  for (double t : g.timesteps) {
    const double a = wuerstchen_alpha_cumprod(c, static_cast<float>(t));
    lv.push_back(abar_level(a, t));
    g.alphas_cumprod.push_back(a);
  }
  consecutive_steps(g, g.timesteps, lv);
  g.alphas_cumprod_prev.assign(g.alphas_cumprod.begin() + 1, g.alphas_cumprod.end());
  g.alphas_cumprod.pop_back();
  return g;
}

/// Which `set_timesteps` arguments each class takes beside the step count.
inline bool takes_sigmas(const diffusers_config& c) {
  using sc = scheduler_class;
  return c.kind == sc::flow_euler || c.kind == sc::euler || c.kind == sc::edm_euler || (c.kind == sc::unipc && c.use_flow_sigmas);
}
inline bool takes_mu(scheduler_class k) {
  using sc = scheduler_class;
  return k == sc::flow_euler || k == sc::dpm_multistep || k == sc::dpm_singlestep || k == sc::deis || k == sc::unipc;
}

/// Checks the `sigmas` argument: finite, of the class's length (EulerDiscrete's list carries its
/// last σ, the others' do not) and ordered as the class reads it (decreasing σ; EDMEuler's ramp increasing in [0, 1]).
inline void check_sigmas_arg(const diffusers_config& c, std::size_t steps, const std::vector<double>& s) {
  using ferry::detail::cat;
  const std::string_view name = class_name(c.kind);
  if (!takes_sigmas(c))
    throw config_error(cat(name, ".set_timesteps takes no sigmas", c.kind == scheduler_class::unipc ? " (only with use_flow_sigmas: true)" : "",
                           "; give the step count alone"));
  const bool euler = c.kind == scheduler_class::euler, ramp = c.kind == scheduler_class::edm_euler;
  const std::size_t want = euler ? steps + 1 : steps;
  if (s.size() != want)
    throw config_error(cat(name, ".set_timesteps: sigmas has ", s.size(), " entries; expected ", want, " for ", steps, " steps",
                           euler ? " (EulerDiscrete's list includes its final sigma)" : " (no final sigma: the class appends it)"));
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool ok = std::isfinite(s[i]) && (ramp ? s[i] >= 0 && s[i] <= 1 : s[i] >= 0) &&
                    (i == 0 || (ramp ? s[i] > s[i - 1] : s[i] < s[i - 1]));
    if (!ok)
      throw config_error(cat(name, ".set_timesteps: sigmas[", i, "] = ", s[i], "; expected ",
                             ramp ? "a ramp increasing strictly within [0, 1] (EDMEuler maps it through its sigma_schedule)"
                                  : "finite sigmas >= 0 that decrease strictly"));
  }
  if (c.kind == scheduler_class::flow_euler && !(s.front() <= 1))
    throw config_error(cat(name, ".set_timesteps: sigmas[0] = ", s.front(), "; expected flow sigmas in [0, 1]"));
}

}  // namespace detail

/// The ᾱ table a class's levels come from: diffusers' float32 cumprod of its β table (CogVideoXDDIM:
/// its SNR-shifted, possibly float64 table). Empty for the classes without a β table.
inline std::vector<double> class_alphas_cumprod(const diffusers_config& c) {
  if (c.kind == scheduler_class::cogvideox_ddim) return detail::cogvideox_alphas_cumprod(c);
  if (!has_beta_table(c.kind)) return {};
  return detail::as_double(diffusers_alphas_cumprod(config_betas(c)));
}

/// What FLUX's pipeline passes as μ for an image (or video) of `seq_len` latent tokens:
/// calculate_shift(seq_len, base_image_seq_len, max_image_seq_len, base_shift, max_shift), the line
/// through (base_len, base_shift) and (max_len, max_shift) at seq_len.
inline double calculate_shift(const diffusers_config& c, double seq_len) {
  if (!detail::find_key(detail::rule_of(c.kind), "base_image_seq_len"))
    throw config_error(ferry::detail::cat(class_name(c.kind), " has no base_image_seq_len, max_image_seq_len, base_shift, max_shift; ",
                                          "an image sequence length gives mu only for FlowMatchEulerDiscreteScheduler (give mu itself)"));
  if (!c.base_shift || !c.max_shift)
    throw config_error(ferry::detail::cat(class_name(c.kind), ": base_shift and max_shift are null; an image sequence length needs both"));
  if (c.max_image_seq_len == c.base_image_seq_len)
    throw config_error(ferry::detail::cat(class_name(c.kind), ": base_image_seq_len = max_image_seq_len = ", c.max_image_seq_len,
                                          "; expected two different lengths"));
  const double m = (*c.max_shift - *c.base_shift) / double(c.max_image_seq_len - c.base_image_seq_len);
  const double b = *c.base_shift - m * double(c.base_image_seq_len);
  return seq_len * m + b;
}

/// The grid diffusers' `<class>.from_config(c).set_timesteps(steps, …)` produces, with the levels each
/// sampler step goes between. steps must lie in [1, num_train_timesteps] (DDPMWuerstchen, IPNDM, EDM:
/// any positive count); with `args.sigmas`, steps is their count (EulerDiscrete: one less) or 0.
inline diffusers_grid set_timesteps(const diffusers_config& c, std::size_t steps, const timestep_args& args = {}) {
  using sc = scheduler_class;
  using ferry::detail::cat;
  timestep_args a = args;
  diffusers_grid g;
  if (a.sigmas) {
    if (steps == 0) steps = a.sigmas->size() - (c.kind == sc::euler && !a.sigmas->empty() ? 1 : 0);
    detail::check_sigmas_arg(c, steps, *a.sigmas);
  }
  const bool any_steps = c.kind == sc::ddpm_wuerstchen || c.kind == sc::ipndm || c.kind == sc::edm_euler ||
                         c.kind == sc::edm_dpm_multistep || c.kind == sc::cosine_dpm_multistep || c.kind == sc::flow_euler ||
                         c.kind == sc::flow_heun;
  detail::check_steps(c, steps, any_steps ? std::size_t(1) << 24 : c.num_train_timesteps);
  if (a.mu) {
    if (!std::isfinite(*a.mu)) throw config_error(cat(class_name(c.kind), ".set_timesteps: mu = ", *a.mu, "; expected a finite number"));
    const bool used = detail::takes_mu(c.kind) && c.use_dynamic_shifting;
    if (!used) {
      g.warnings.push_back(cat(class_name(c.kind), ".set_timesteps: mu = ", *a.mu, " is ignored (",
                               detail::takes_mu(c.kind) ? "use_dynamic_shifting is false" : "the class has no dynamic shifting", ")"));
      a.mu.reset();
    } else if (c.time_shift_type == time_shift::linear && !(*a.mu > 0)) {
      throw config_error(cat(class_name(c.kind), ".set_timesteps: mu = ", *a.mu, "; a linear time shift needs mu > 0"));
    }
  } else if (c.use_dynamic_shifting && (c.kind == sc::flow_euler || c.kind == sc::unipc)) {
    throw config_error(cat(class_name(c.kind), ".set_timesteps: use_dynamic_shifting is true; give mu (or an image sequence length)"));
  }
  std::vector<std::string> warnings = std::move(g.warnings);
  switch (c.kind) {
    case sc::ddim: g = detail::ddim_grid(c, steps); break;
    case sc::cogvideox_ddim: g = detail::ddim_like_grid(c, steps, detail::cogvideox_alphas_cumprod(c)); break;
    case sc::dpm_multistep:
    case sc::unipc:
    case sc::deis:
    case sc::sa_solver:
    case sc::dpm_singlestep: g = detail::multistep_grid(c, steps, a); break;
    case sc::euler:
    case sc::heun:
    case sc::lms:
    case sc::euler_ancestral: g = detail::discrete_grid(c, steps, a); break;
    case sc::kdpm2:
    case sc::kdpm2_ancestral:
    case sc::dpm_sde: g = detail::k_grid(c, steps); break;
    case sc::flow_euler:
    case sc::flow_heun: g = detail::flow_grid(c, steps, a); break;
    case sc::edm_euler:
    case sc::edm_dpm_multistep:
    case sc::cosine_dpm_multistep: g = detail::edm_grid(c, steps, a); break;
    case sc::ddpm: g = detail::ddpm_grid(c, steps); break;
    case sc::lcm:
    case sc::tcd: g = detail::consistency_grid(c, steps); break;
    case sc::pndm: g = detail::pndm_grid(c, steps); break;
    case sc::ipndm: g = detail::ipndm_grid(steps); break;
    case sc::ddpm_wuerstchen: g = detail::wuerstchen_grid(c, steps); break;
  }
  g.kind = c.kind;
  g.warnings = std::move(warnings);
  if (c.kind != sc::dpm_singlestep) g.lower_order_final = c.lower_order_final;
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
    s.push_back(detail::abar_level(abar[static_cast<std::size_t>(ts)], ts));
  }
  return s;
}

namespace detail {
// Kept for the sampler (compat/diffusers_sampler.hpp calls compat::detail::tcd_s_levels).
using compat::tcd_s_levels;
}  // namespace detail

}  // namespace ferry::compat
