#pragma once
// ferry::compat::diffusers_grid: what a diffusers scheduler holds after set_timesteps (its timesteps
// and sigmas) and where each step() call evaluates the model, as levels a ferry schedule is made of;
// and the pieces the classes' grids share (σ̃ tables, timestep spacings, levels, flow shifts).
// compat/diffusers_timesteps.hpp builds the grid of each class.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ferry/compat/diffusers_arrays.hpp"
#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/float32.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/process/discrete_vp.hpp"

namespace ferry::compat {

/// Which state the grid's levels describe, and so which process and time a sampler runs in:
///   vp    x = α·x0 + σ·ε with the class's ᾱ (α = 1/√(1 + σ̃²) for the σ̃ classes); t a timestep
///   flow  x = (1 − σ)·x0 + σ·ε, t = σ, α' = −1, σ' = 1 (flow matching, use_flow_sigmas)
///   edm   x = x0 + σ·ε (α = 1), t = σ (EDMEuler, EDMDPMSolverMultistep, CosineDPMSolverMultistep)
enum class grid_space { vp, flow, edm };

/// What set_timesteps takes beside the step count: FLUX's and LTX's pipelines pass `mu` (dynamic
/// shifting) and their own `sigmas` (FlowMatchEuler: the σ before shifting, no final 0; EulerDiscrete:
/// the full σ list including its last entry; EDMEuler: the ramp in [0, 1] its σ schedule maps;
/// UniPC with use_flow_sigmas: the flow σ before shifting).
struct timestep_args {
  std::optional<double> mu;
  std::optional<std::vector<double>> sigmas;
};

/// One diffusers schedule after set_timesteps, and the levels a sampler steps between.
struct diffusers_grid {
  scheduler_class kind{};
  grid_space space = grid_space::vp;
  /// The class's `self.timesteps` (the interleaved lists of the two-call classes; PNDM's Runge–Kutta
  /// calls; DDPMWuerstchen's steps + 1 entries ending at 0; EDM's c_noise).
  std::vector<double> timesteps;
  /// The class's `self.sigmas` (σ̃ = σ/α for VP classes, the flow σ, EDM's σ), including its appended
  /// final sigma; the interleaved lists of the two-call classes. Empty for the classes that have none
  /// (DDIM, DDPM, LCM, TCD, PNDM, IPNDM, CogVideoXDDIM, DDPMWuerstchen).
  std::vector<double> sigmas;
  /// `init_noise_sigma`: the scale of the initial noise in the class's own state.
  double init_noise_sigma = 1;
  /// Messages about set_timesteps' arguments that diffusers ignores (mu without dynamic shifting).
  std::vector<std::string> warnings;

  /// Per sampler step i (steps() of them): the timestep the model is told and the levels the step
  /// starts from (cur) and lands on (next), in the state of `space`. next[i] is cur[i + 1] except
  /// where a class lands elsewhere (DDIM's and CogVideoX's prev_timestep, PNDM). The two-call classes
  /// (Heun, FlowMatchHeun, KDPM2, KDPM2Ancestral, DPMSolverSDE) have one step per interval, two calls
  /// each but the last; PNDM has one step per call.
  std::vector<double> model_timesteps;
  std::vector<level<double>> cur, next;
  /// KDPM2, KDPM2Ancestral, DPMSolverSDE: the level of each step's second model call (KDPM2:
  /// √(σ·σ_next) in float32; KDPM2Ancestral: √(σ·σ_down); DPMSolverSDE: the float32
  /// exp(−(t + (t_next − t)/2)), t = −log σ) and the timestep it is told. Empty for a step with one call.
  std::vector<std::optional<level<double>>> mid;
  std::vector<double> mid_timesteps;

  /// DDIM, CogVideoXDDIM, PNDM: prev_timestep of every call, the ᾱ of each end (ᾱ[prev] or
  /// final_alpha_cumprod when prev < 0), and final_alpha_cumprod itself.
  std::vector<long long> prev_timesteps;
  std::vector<double> alphas_cumprod, alphas_cumprod_prev;
  double final_alpha_cumprod = 1;
  /// PNDM: the number of pseudo-Runge–Kutta calls before PLMS (12, or 0 with skip_prk_steps).
  std::size_t prk_calls = 0;

  /// DPMSolverSinglestep: the order of each step (get_order_list), and lower_order_final as
  /// set_timesteps leaves it (it turns it on when final_sigmas_type is zero or steps % order ≠ 0).
  std::vector<int> orders;
  bool lower_order_final = true;
  /// SASolver: τ of every step, its default tau_func at the step's timestep (1 for 200 ≤ t ≤ 800).
  std::vector<double> tau;

  std::size_t steps() const { return model_timesteps.size(); }
};

/// What ferry's model must answer so that a class's step() gets the output diffusers' model gives:
/// the configured prediction_type (flow_prediction: the flow velocity ε − x0), the velocity for flow
/// matching (with invert_sigmas too: ferry's flow time is 1 − sigmas[i], so the model answers the negated
/// diffusers output x0 − ε), the data for the EDM classes (the preconditioned output
/// x̂0 = c_skip·x + c_out·F, c_out negated for v_prediction: a raw network F is wrapped that way), v for
/// IPNDM (v = α·ε − σ·x0) and ε for DDPMWuerstchen.
inline prediction model_prediction(const diffusers_config& c) {
  using sc = scheduler_class;
  switch (c.kind) {
    case sc::flow_euler:
    case sc::flow_heun: return prediction::velocity;
    case sc::edm_euler:
    case sc::edm_dpm_multistep:
    case sc::cosine_dpm_multistep: return prediction::data;
    case sc::ipndm: return prediction::v;
    case sc::ddpm_wuerstchen: return prediction::epsilon;
    default: return c.prediction_type;
  }
}

namespace detail {

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

inline sigma_bounds bounds_of(const diffusers_config& c, const std::vector<double>& in_sigmas, bool reads_config) {
  sigma_bounds b{in_sigmas.back(), in_sigmas.front()};
  if (reads_config && c.sigma_min) b.min = *c.sigma_min;
  if (reads_config && c.sigma_max) b.max = *c.sigma_max;
  return b;
}

/// The Karras / exponential / beta conversion of a σ list, or nothing for the plain grid.
inline std::vector<double> convert_sigmas(const diffusers_config& c, sigma_bounds b, std::size_t n) {
  switch (c.sigmas) {
    case sigma_spacing::karras: return karras_sigmas(b, n);
    case sigma_spacing::exponential: return exponential_sigmas(b, n);
    case sigma_spacing::beta: return beta_sigmas(b, n);
    default: return {};
  }
}

/// The spaced integer-valued timesteps of DDIM-like classes (`plus_one` = false) and of the multistep
/// classes DPM/UniPC/DEIS/SA (`plus_one` = true: they space steps + 1 points and drop the last), as float64.
inline std::vector<double> spaced_timesteps(const diffusers_config& c, std::size_t steps, std::size_t last_timestep, bool plus_one) {
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

/// Euler/Heun/LMS/KDPM2 spacing: the same three rules in float32 (np.linspace(..., dtype=float32), or
/// rounded float64 cast to float32, then steps_offset / −1 added in float32); `in_f64` keeps them in
/// float64 (DPMSolverSDE's dtype=float).
inline std::vector<double> spaced_timesteps_f32(const diffusers_config& c, std::size_t steps, bool in_f64 = false) {
  const std::size_t n_train = c.num_train_timesteps;
  std::vector<double> t;
  switch (c.spacing) {
    case timestep_spacing::linspace:
      t = reversed(np_linspace(0, double(n_train) - 1, steps));
      if (!in_f64)
        for (double& v : t) v = f32(v);
      break;
    case timestep_spacing::leading: {
      const std::size_t ratio = n_train / steps;
      t.resize(steps);
      for (std::size_t i = 0; i < steps; ++i)
        t[i] = in_f64 ? double((steps - 1 - i) * ratio) + double(c.steps_offset)
                      : f32_add(static_cast<float>((steps - 1 - i) * ratio), static_cast<float>(c.steps_offset));
      break;
    }
    case timestep_spacing::trailing:
      t = np_arange(double(n_train), 0, -(double(n_train) / double(steps)));
      for (double& v : t) v = in_f64 ? np_round(v) - 1 : f32_sub(static_cast<float>(np_round(v)), 1.0f);
      break;
  }
  return t;
}

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
  if (sigma_edm == 0) return level<double>::make(1, 0, t);
  const float s = static_cast<float>(sigma_edm);
  const float alpha = f32_div(1.0f, f32_sqrt(f32_add(f32_mul(s, s), 1.0f)));
  return level<double>::make(alpha, f32_mul(s, alpha), t);
}

/// Flow level of a flow σ: x = (1 − σ)·x0 + σ·ε in the flow time t = σ (α' = −1, σ' = 1); α = 1 − σ
/// as float32 torch computes it (`1 - sigma` on the float32 σ) when `alpha_f32`.
inline level<double> flow_level(double sigma, bool alpha_f32 = false) {
  const double alpha = alpha_f32 ? double(f32_sub(1.0f, static_cast<float>(sigma))) : 1 - sigma;
  return level<double>::make(alpha, sigma, sigma, -1.0, 1.0);
}

/// EDM level: x = x0 + σ·ε, t = σ.
inline level<double> edm_level(double sigma) { return level<double>::make(1, sigma, sigma, 0.0, 1.0); }

/// A VP level of an ᾱ: α = √ᾱ, σ = √(1 − ᾱ).
inline level<double> abar_level(double abar, double t) { return level<double>::make(std::sqrt(abar), std::sqrt(1 - abar), t); }

inline void check_steps(const diffusers_config& c, std::size_t steps, std::size_t max_steps) {
  if (steps < 1 || steps > max_steps)
    throw config_error(ferry::detail::cat(class_name(c.kind), ".set_timesteps: steps = ", steps, "; expected 1 to ", max_steps,
                                          max_steps == c.num_train_timesteps ? " (num_train_timesteps)" : ""));
}

// init_noise_sigma of Euler/Heun/LMS/KDPM2/DPMSolverSDE: max σ̃ (a float32 tensor) for linspace and
// trailing spacing, but (max² + 1) ** 0.5 in float32 for leading.
inline double discrete_init_noise_sigma(const diffusers_config& c, const std::vector<double>& sigmas) {
  const float m = static_cast<float>(*std::max_element(sigmas.begin(), sigmas.end()));
  if (c.spacing != timestep_spacing::leading) return m;
  return f32_sqrt(f32_add(f32_mul(m, m), 1.0f));
}

/// The steps of a grid whose every step goes from one level of a list to the next.
inline void consecutive_steps(diffusers_grid& g, const std::vector<double>& t, const std::vector<level<double>>& lv) {
  for (std::size_t i = 0; i + 1 < lv.size(); ++i) {
    g.model_timesteps.push_back(t[i]);
    g.cur.push_back(lv[i]);
    g.next.push_back(lv[i + 1]);
  }
}

/// Time shifting of flow σ (dynamic shifting): exponential e^μ/(e^μ + (1/σ − 1)) or linear
/// μ/(μ + (1/σ − 1)), in float64 or, on a float32 array, in float32 as NumPy 1.x evaluates the
/// Python-float expression on it.
inline double time_shift_of(time_shift kind, double mu, double s, bool in_f32) {
  const double m = kind == time_shift::exponential ? std::exp(mu) : mu;
  if (in_f32) {
    const float mf = static_cast<float>(m), sf = static_cast<float>(s);
    return f32_div(mf, f32_add(mf, f32_sub(f32_div(1.0f, sf), 1.0f)));
  }
  return m / (m + (1 / s - 1));
}

/// LTX's stretch_shift_to_terminal: 1 − (1 − σ)/((1 − σ_last)/(1 − shift_terminal)), in the array's type.
inline void stretch_to_terminal(std::vector<double>& s, double shift_terminal, bool in_f32) {
  if (in_f32) {  // a float32 array: the scale is a float64 scalar (NumPy 1.x scalar arithmetic), cast back to divide
    const auto scale = static_cast<float>(double(f32_sub(1.0f, float(s.back()))) / (1 - shift_terminal));
    for (double& v : s) v = f32_sub(1.0f, f32_div(f32_sub(1.0f, float(v)), scale));
    return;
  }
  const double scale = (1 - s.back()) / (1 - shift_terminal);
  for (double& v : s) v = 1 - (1 - v) / scale;
}

/// The VP classes' flow sigmas (use_flow_sigmas in DPMSolverMultistep/Singlestep, DEIS, SASolver):
/// flip(shift·σ/(1 + (shift − 1)·σ))[:-1] for σ = 1 − linspace(1, 1/N, steps + 1), float64.
inline std::vector<double> vp_flow_sigmas(std::size_t n_train, std::size_t steps, double flow_shift) {
  std::vector<double> a = np_linspace(1, 1 / double(n_train), steps + 1), s;
  for (double& v : a) v = 1.0 - v;
  for (double& v : a) v = mul_rn(flow_shift, v) / (1 + mul_rn(flow_shift - 1, v));
  for (std::size_t i = a.size(); i-- > 1;) s.push_back(a[i]);
  return s;
}

}  // namespace detail
}  // namespace ferry::compat
