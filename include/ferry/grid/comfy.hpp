#pragma once
// ComfyUI's schedulers (comfy/samplers.py SCHEDULER_HANDLERS, the Align-Your-Steps and GITS nodes)
// and k-diffusion's polyexponential and vp grids, as σ lists: high noise first, in the σ of the
// model's sampling (σ̃ = σ/α for an ε/VP model, the flow σ on a flow), ending in 0. grid.hpp turns
// a list into levels (levels_at_sigmas) and picks the rule for a grid_kind.
//
// The table-indexing rules read ComfyUI's model sampling of the process (comfy_sampling below):
// its σ table s_0 < … < s_{N−1} and two maps between σ and the training timestep,
//   discrete_vp (ModelSamplingDiscrete):  timestep(σ) = argmin_k |log σ − ℓ_k|,
//                                         sigma(t) = exp((1 − w)·ℓ_⌊t⌋ + w·ℓ_⌈t⌉), w = t − ⌊t⌋, in float32
//   flow (ModelSamplingDiscreteFlow):     timestep(σ) = N·σ,  sigma(t) = shift(t/N),  shift(x) = S·x/(1 + (S − 1)x)
// (ℓ the float32 log σ table). On a flow timestep(σ) does not invert sigma(t) for S ≠ 1 — ComfyUI's
// own defect, reproduced: `normal` ends at shift(shift(1/N)).
//
//   simple           σ_i = s_{N−1−⌊i·N/steps⌋}, i < steps, then 0                      (simple_scheduler)
//   ddim-uniform     s_1, s_{1+c}, s_{1+2c}, … (c = max(⌊N/steps⌋, 1)) reversed, then 0  (ddim_scheduler)
//   normal           σ_i = sigma(τ_i), τ = linspace(timestep(s_{N−1}), timestep(s_0), steps), then 0
//   sgm-uniform      the same with linspace(…, steps + 1) less its last point          (normal_scheduler, sgm=True)
//   beta             τ_i = rint(N_1·F⁻¹(1 − i/steps; α, β)), N_1 = N − 1, F the Beta(α, β) CDF; σ_i = s_{τ_i},
//                    a τ equal to the one before it dropped (so fewer than `steps` steps), then 0
//                    (beta_scheduler, Lee et al. 2024)
//   linear-quadratic σ_i = s_max·(1 − x_i): x_i = i·θ/L for i < L = ⌊steps/2⌋, then the quadratic through
//                    (L, θ) with matching slope reaching 1 at i = steps; θ = 0.025 (linear_quadratic_schedule, Mochi)
//   kl-optimal       σ_i = tan((1 − u_i)·atan σ_max + u_i·atan σ_min), u_i = i/(steps − 1), in float32, then 0
//                    (kl_optimal_scheduler; A1111 PR 15608)
//   karras           σ_i = (σ_max^{1/ρ} + i/(n−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, then 0         (get_sigmas_karras)
//   exponential      log σ_i = linspace(log σ_max, log σ_min, n), then 0                   (get_sigmas_exponential)
//   polyexponential  σ_i = exp(r_i^ρ·(log σ_max − log σ_min) + log σ_min), r = linspace(1, 0, n), then 0
//                    (get_sigmas_polyexponential)
//   vp               σ_i = √(expm1(β_d·t_i²/2 + β_min·t_i)), t = linspace(1, ε_s, n), then 0  (get_sigmas_vp)
//   ays-sd1/-sdxl    the 10-step levels, log-linearly interpolated to steps + 1 when steps ≠ 10, last one
//                    set to 0 (AlignYourStepsScheduler)
//   gits             the coefficient's row of `steps` levels for steps ≤ 20, else its 20-step row log-linearly
//                    interpolated to steps + 1, last one set to 0 (GITSScheduler)
// with "log-linear interpolation" numpy's interp of log σ over linspace(0, 1) (loglinear_interp).
// karras, exponential, kl-optimal take σ_min, σ_max from the table (from the options when given);
// polyexponential, vp, AYS and GITS do not read the process at all (no range check: vp reaches
// σ ≈ 152 with its defaults). Where ComfyUI returns a float32 tensor (every rule but karras,
// exponential, polyexponential and vp) the list is rounded to float32 as it is.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "ferry/compat/float32.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/linspace.hpp"
#include "ferry/grid/beta_ppf.hpp"
#include "ferry/grid/comfy_tables.hpp"
#include "ferry/process/discrete_vp.hpp"
#include "ferry/process/flow.hpp"

namespace ferry::detail {

/// A value as the float32 tensor ComfyUI returns holds it.
inline double f32(double x) { return static_cast<float>(x); }

/// ComfyUI's model sampling of a process with a discrete σ table (see the top of this file), in double.
struct comfy_sampling {
  std::vector<double> sigmas;     ///< model_sampling.sigmas, increasing
  std::vector<float> log_sigmas;  ///< ModelSamplingDiscrete.log_sigmas (empty on a flow)
  double shift = 1;               ///< ModelSamplingDiscreteFlow's shift

  bool flow() const { return log_sigmas.empty(); }
  double sigma_min() const { return sigmas.front(); }
  double sigma_max() const { return sigmas.back(); }
  double timestep(double s) const {
    const double n = double(sigmas.size());
    if (flow()) return s * n;
    const double l = std::log(s);
    std::size_t best = 0;  // torch.argmin: the first of equal distances
    for (std::size_t k = 1; k < log_sigmas.size(); ++k)
      if (std::abs(l - double(log_sigmas[k])) < std::abs(l - double(log_sigmas[best]))) best = k;
    return double(best);
  }
  double sigma(double t) const {
    const double n = double(sigmas.size());
    if (flow()) {
      const double x = t / n;
      return shift == 1 ? x : shift * x / (1 + (shift - 1) * x);  // time_snr_shift
    }
    // t.float() clamped to [0, N − 1], then (1 − w)·ℓ_lo + w·ℓ_hi and exp, each op in float32
    const float tf = std::clamp(static_cast<float>(t), 0.0f, static_cast<float>(n - 1));
    const float lo = std::floor(tf), w = tf - lo;
    const auto i = static_cast<std::size_t>(lo), j = static_cast<std::size_t>(std::ceil(tf));
    const float l = f32_add(f32_mul(f32_sub(1.0f, w), log_sigmas[i]), f32_mul(w, log_sigmas[j]));
    return f32(std::exp(double(l)));
  }
};

/// Whether a process has a discrete σ table: discrete_vp, and a flow with num_train_timesteps.
template <class P>
bool has_sigma_table(const P& p) {
  using T = typename P::value_type;
  if constexpr (std::is_same_v<P, discrete_vp<T>>) return true;
  else if constexpr (std::is_same_v<P, flow<T>>) return p.num_train_timesteps() > 0;
  else return (void)p, false;
}

/// The model sampling of a process with a discrete σ table; none for other processes.
template <class P>
std::optional<comfy_sampling> comfy_model_sampling(const P& p) {
  using T = typename P::value_type;
  comfy_sampling ms;
  if constexpr (std::is_same_v<P, discrete_vp<T>>) {
    for (std::size_t k = 0; k < p.num_train_timesteps(); ++k) {
      ms.sigmas.push_back(double(p.sigma_edm(k)));
      ms.log_sigmas.push_back(static_cast<float>(p.log_sigma_edm(T(k))));
    }
    return ms;
  } else if constexpr (std::is_same_v<P, flow<T>>) {
    if (p.num_train_timesteps() == 0) return std::nullopt;
    ms.shift = double(p.shift());
    for (std::size_t k = 0; k < p.num_train_timesteps(); ++k) ms.sigmas.push_back(double(p.table_sigma(k)));
    return ms;
  } else {
    (void)p;
    return std::nullopt;
  }
}

// ---- the table-indexing rules ----

inline std::vector<double> simple_sigmas(const comfy_sampling& ms, std::size_t steps) {
  const std::size_t n = ms.sigmas.size();
  const double ss = double(n) / double(steps);
  std::vector<double> out;
  for (std::size_t i = 0; i < steps; ++i) out.push_back(f32(ms.sigmas[n - 1 - static_cast<std::size_t>(double(i) * ss)]));
  out.push_back(0);
  return out;
}

inline std::vector<double> ddim_uniform_sigmas(const comfy_sampling& ms, std::size_t steps) {
  const std::size_t n = ms.sigmas.size();
  std::vector<double> out;
  const bool zero_terminal = std::abs(ms.sigmas[1]) <= 1e-5;  // a zero-SNR table's second entry
  if (zero_terminal) ++steps;
  const std::size_t c = std::max<std::size_t>(n / steps, 1);
  for (std::size_t x = 1; x < n; x += c) out.push_back(f32(ms.sigmas[x]));
  if (!zero_terminal) out.insert(out.begin(), 0.0);
  std::reverse(out.begin(), out.end());
  return out;
}

inline std::vector<double> normal_sigmas(const comfy_sampling& ms, std::size_t steps, bool sgm) {
  const double start = ms.timestep(ms.sigma_max()), end = ms.timestep(ms.sigma_min());
  bool zero = true;
  std::size_t n = sgm ? steps + 1 : steps;
  if (!sgm && std::abs(ms.sigma(end)) <= 1e-5) ++n, zero = false;  // the table reaches σ = 0
  std::vector<double> out;
  for (std::size_t i = 0; i < (sgm ? steps : n); ++i) out.push_back(f32(ms.sigma(linspace_at(start, end, n, i))));
  if (zero) out.push_back(0);
  return out;
}

inline std::vector<double> beta_sigmas(const comfy_sampling& ms, std::size_t steps, double a, double b) {
  const double last = double(ms.sigmas.size() - 1);
  std::vector<double> out;
  double prev = -1;
  for (std::size_t i = 0; i < steps; ++i) {
    const double p = 1 - numpy_linspace_at(0.0, 1.0, steps, i, false);
    const double t = std::nearbyint(beta_ppf(p, a, b) * last);  // numpy.rint: half to even
    if (t != prev) out.push_back(f32(ms.sigmas[static_cast<std::size_t>(t)]));  // duplicates dropped
    prev = t;
  }
  out.push_back(0);
  return out;
}

inline std::vector<double> linear_quadratic_sigmas(double sigma_max, std::size_t steps) {
  constexpr double threshold = 0.025;
  std::vector<double> x;  // 1 − σ/σ_max, from 0 to 1
  if (steps == 1) {
    x = {0.0, 1.0};
  } else {
    const std::size_t lin = steps / 2, quad = steps - lin;
    const double diff = double(lin) - threshold * double(steps);
    const double qc = diff / (double(lin) * double(quad * quad));
    const double lc = threshold / double(lin) - 2 * diff / double(quad * quad);
    const double c = qc * double(lin * lin);
    for (std::size_t i = 0; i < lin; ++i) x.push_back(double(i) * threshold / double(lin));
    for (std::size_t i = lin; i < steps; ++i) x.push_back(qc * double(i * i) + lc * double(i) + c);
    x.push_back(1.0);
  }
  std::vector<double> out;
  for (const double v : x) out.push_back(f32_mul(static_cast<float>(1.0 - v), static_cast<float>(sigma_max)));
  return out;
}

// ---- the (n, σ_min, σ_max) rules; n points, then 0 when `zero` ----

inline std::vector<double> kl_optimal_sigmas(std::size_t n, double sigma_min, double sigma_max, bool zero) {
  const float a_min = static_cast<float>(std::atan(sigma_min)), a_max = static_cast<float>(std::atan(sigma_max));
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) {
    const float u = f32_div(static_cast<float>(i), static_cast<float>(n - 1));
    const float arg = f32_add(f32_mul(u, a_min), f32_mul(f32_sub(1.0f, u), a_max));
    out.push_back(f32(std::tan(double(arg))));
  }
  if (zero) out.push_back(0);
  return out;
}

inline std::vector<double> karras_sigmas(std::size_t n, double sigma_min, double sigma_max, double rho, bool zero) {
  const double min_inv_rho = std::pow(sigma_min, 1 / rho), max_inv_rho = std::pow(sigma_max, 1 / rho);
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(std::pow(max_inv_rho + linspace_at(0.0, 1.0, n, i) * (min_inv_rho - max_inv_rho), rho));
  if (zero) out.push_back(0);
  return out;
}

inline std::vector<double> exponential_sigmas(std::size_t n, double sigma_min, double sigma_max, bool zero) {
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(std::exp(linspace_at(std::log(sigma_max), std::log(sigma_min), n, i)));
  if (zero) out.push_back(0);
  return out;
}

inline std::vector<double> polyexponential_sigmas(std::size_t n, double sigma_min, double sigma_max, double rho, bool zero) {
  const double lmin = std::log(sigma_min), lmax = std::log(sigma_max);
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(std::exp(std::pow(linspace_at(1.0, 0.0, n, i), rho) * (lmax - lmin) + lmin));
  if (zero) out.push_back(0);
  return out;
}

inline std::vector<double> vp_sigmas(std::size_t n, double beta_d, double beta_min, double eps_s, bool zero) {
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = linspace_at(1.0, eps_s, n, i);
    out.push_back(std::sqrt(std::expm1(beta_d * (t * t) / 2 + beta_min * t)));
  }
  if (zero) out.push_back(0);
  return out;
}

// ---- the searched level tables ----

/// numpy.interp(x, xp, fp) for increasing xp and x inside [xp_0, xp_last].
inline double numpy_interp(double x, std::span<const double> xp, std::span<const double> fp) {
  const std::size_t last = xp.size() - 1;
  if (!(x < xp[last])) return fp[last];
  if (!(x > xp[0])) return fp[0];
  const auto j = static_cast<std::size_t>(std::upper_bound(xp.begin(), xp.end(), x) - xp.begin()) - 1;
  if (xp[j] == x) return fp[j];
  const double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  return slope * (x - xp[j]) + fp[j];
}

/// ComfyUI's loglinear_interp: `levels` (decreasing) resampled to n points linearly in log σ over
/// numpy.linspace(0, 1).
inline std::vector<double> loglinear_interp(std::span<const double> levels, std::size_t n) {
  const std::size_t m = levels.size();
  std::vector<double> xs(m), ys(m), out(n);
  for (std::size_t i = 0; i < m; ++i) xs[i] = numpy_linspace_at(0.0, 1.0, m, i), ys[i] = std::log(levels[m - 1 - i]);
  for (std::size_t i = 0; i < n; ++i) out[n - 1 - i] = std::exp(numpy_interp(numpy_linspace_at(0.0, 1.0, n, i), xs, ys));
  return out;
}

/// steps + 1 levels: the table row itself when it has that many, else its log-linear resampling;
/// the last level set to 0, all rounded to float32.
inline std::vector<double> level_table_sigmas(std::span<const double> row, std::size_t steps) {
  std::vector<double> out = row.size() == steps + 1 ? std::vector<double>(row.begin(), row.end()) : loglinear_interp(row, steps + 1);
  out.back() = 0;
  for (double& v : out) v = f32(v);
  return out;
}

inline std::vector<double> ays_sigmas(bool sdxl, std::size_t steps) {
  return level_table_sigmas(sdxl ? std::span<const double>(ays_sdxl_levels) : std::span<const double>(ays_sd1_levels), steps);
}

// GITS' coefficient as its table's index: ComfyUI looks up round(coeff, 2) among 0.80, 0.85, …, 1.50.
inline std::size_t gits_coefficient_index(double coeff) {
  const double q = std::nearbyint(coeff * 100);
  if (!(q >= 80 && q <= 150) || std::fmod(q, 5) != 0)
    throw config_error(cat("grid: coeff=", coeff, " is not one of GITS's coefficients 0.80, 0.85, ..., 1.50"));
  return static_cast<std::size_t>(q - 80) / 5;
}

/// gits_block row of `coeff_index` (0 … 14 for 0.80 … 1.50) for 2 ≤ steps: the row of `steps` up to 20,
/// else the 20-step row resampled.
inline std::vector<double> gits_sigmas(std::size_t coeff_index, std::size_t steps) {
  const std::size_t s = std::min(steps, gits_max_steps);
  const std::span<const double> row(gits_levels[coeff_index] + gits_row_offset(s), s + 1);
  return level_table_sigmas(row, steps);
}

}  // namespace ferry::detail
