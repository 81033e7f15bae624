#pragma once
// The discrete variance-preserving process of DDPM (Ho et al. 2020, Eq. 4):
//
//   x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε,   ᾱ_t = Π_{s ≤ t} (1 − β_s),   t = 0 … N−1 (a training timestep)
//
// with a continuous extension between the integer timesteps: log σ̃ (σ̃ = σ/α = √((1−ᾱ)/ᾱ), the
// EDM / k-diffusion sigma) is interpolated linearly in t. That is the interpolation diffusers'
// `_sigma_to_t` inverts and the one ComfyUI's `ModelSamplingDiscrete.sigma(t)` evaluates, so
// t_of_lambda(lambda(t)) = t and a Karras grid maps to the same fractional timesteps the peers compute.
// λ = log α − log σ = −log σ̃.
//
// One process, two ways its peers round the table (two factories, not two types: the interpolation,
// the level and every solver are the same; only the table's arithmetic differs):
//   diffusers(...)  diffusers' float32 table: β, ᾱ = cumprod(1 − β) and σ̃ all in float32 torch
//                   (the grids and samples of `--scheduler-config` runs, bit for bit);
//   comfy(...)      the table of the model's own training code (LDM's make_beta_schedule, which
//                   ComfyUI's ModelSamplingDiscrete runs): β and ᾱ in float64, σ̃ = √((1 − ᾱ)/ᾱ)
//                   then stored in float32 (`sigmas.float()`), log σ̃ computed in float64 and stored
//                   in float32 (`sigmas.log().float()`). For SD's scaled_linear 0.00085–0.012 it has
//                   σ̃_min = 0.029167158529162407, σ̃_max = 14.614641189575195; diffusers' table differs
//                   from it by up to 1.3e-5 relative. This is the native `discrete-vp` process.
// The process keeps three tables: ᾱ, the σ̃ table as its peer stores it (sigma_edm(k), which
// ComfyUI's table-indexing schedulers read), and the log σ̃ table the interpolation runs on.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/compat/float32.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/linspace.hpp"

namespace ferry {

/// diffusers' `beta_schedule` values (`exp` is HeunDiscreteScheduler's extra alpha_transform_type).
enum class beta_schedule { linear, scaled_linear, squaredcos_cap_v2, exp };

constexpr std::string_view to_string(beta_schedule s) {
  switch (s) {
    case beta_schedule::linear: return "linear";
    case beta_schedule::scaled_linear: return "scaled_linear";
    case beta_schedule::squaredcos_cap_v2: return "squaredcos_cap_v2";
    case beta_schedule::exp: return "exp";
  }
  return "?";
}

/// Parses linear | scaled_linear | squaredcos_cap_v2 | exp (diffusers' names).
inline beta_schedule parse_beta_schedule(std::string_view s) {
  for (const beta_schedule b : {beta_schedule::linear, beta_schedule::scaled_linear, beta_schedule::squaredcos_cap_v2, beta_schedule::exp})
    if (s == to_string(b)) return b;
  throw config_error(detail::cat("beta_schedule \"", detail::escape(s), "\" is unknown",
                                 detail::did_you_mean(s, {"linear", "scaled_linear", "squaredcos_cap_v2", "exp"}),
                                 "; expected linear, scaled_linear, squaredcos_cap_v2 or exp"));
}

namespace detail {

/// betas_for_alpha_bar of diffusers and LDM (Nichol & Dhariwal 2021, Eq. 17 for "cosine"), in Python
/// floats: β_i = min(1 − ᾱ((i+1)/N)/ᾱ(i/N), max_beta).
inline std::vector<double> betas_for_alpha_bar(std::size_t n, beta_schedule kind, double max_beta = 0.999) {
  const double pi = 3.141592653589793;
  auto alpha_bar = [&](double t) {
    if (kind == beta_schedule::exp) return std::exp(t * -12.0);
    const double c = std::cos((t + 0.008) / 1.008 * pi / 2);  // evaluated left to right as in Python
    return c * c;
  };
  std::vector<double> betas(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t1 = double(i) / double(n), t2 = double(i + 1) / double(n);
    betas[i] = std::min(1 - alpha_bar(t2) / alpha_bar(t1), max_beta);
  }
  return betas;
}

/// diffusers' rescale_zero_terminal_snr (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample
/// Steps are Flawed", Alg. 1) in float32: shift √ᾱ so its last entry is 0, scale so its first is kept,
/// and recover β. The last β becomes exactly 1 (ᾱ_{N−1} = 0).
inline std::vector<float> rescale_zero_terminal_snr(std::span<const float> betas) {
  const std::size_t n = betas.size();
  std::vector<float> alphas(n);
  for (std::size_t i = 0; i < n; ++i) alphas[i] = f32_sub(1.0f, betas[i]);
  std::vector<float> s = torch_cumprod_f32(alphas);
  for (float& v : s) v = f32_sqrt(v);
  const float s0 = s.front(), s_last = s.back();
  const float scale = f32_div(s0, f32_sub(s0, s_last));
  for (float& v : s) v = f32_mul(f32_sub(v, s_last), scale);
  std::vector<float> out(n);
  float prev = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float abar = f32_mul(s[i], s[i]);
    out[i] = f32_sub(1.0f, i == 0 ? abar : f32_div(abar, prev));
    prev = abar;
  }
  return out;
}

}  // namespace detail

/// diffusers' float32 β table for a named schedule (the `beta_schedule` branch of every scheduler's
/// __init__): linear = linspace(β_start, β_end); scaled_linear = linspace(√β_start, √β_end)²;
/// squaredcos_cap_v2 / exp = betas_for_alpha_bar. rescale_zero_snr applies rescale_zero_terminal_snr.
inline std::vector<float> diffusers_betas(beta_schedule s, std::size_t n, double beta_start, double beta_end,
                                          bool rescale_zero_snr = false) {
  if (n < 2) throw config_error(detail::cat("discrete_vp: num_train_timesteps=", n, " must be at least 2"));
  std::vector<float> b;
  switch (s) {
    case beta_schedule::linear: b = detail::torch_linspace_f32(beta_start, beta_end, n); break;
    case beta_schedule::scaled_linear:
      b = detail::torch_linspace_f32(std::sqrt(beta_start), std::sqrt(beta_end), n);
      for (float& v : b) v = detail::f32_mul(v, v);
      break;
    case beta_schedule::squaredcos_cap_v2:
    case beta_schedule::exp:
      for (const double v : detail::betas_for_alpha_bar(n, s)) b.push_back(static_cast<float>(v));
      break;
  }
  return rescale_zero_snr ? detail::rescale_zero_terminal_snr(b) : b;
}

/// ᾱ = cumprod(1 − β) exactly as diffusers' float32 torch computes it.
inline std::vector<float> diffusers_alphas_cumprod(std::span<const float> betas) {
  std::vector<float> a(betas.size());
  for (std::size_t i = 0; i < betas.size(); ++i) a[i] = detail::f32_sub(1.0f, betas[i]);
  return detail::torch_cumprod_f32(a);
}

/// diffusers' float32 EDM sigma of one ᾱ: ((1 − ᾱ)/ᾱ) ** 0.5, each operation rounded to float.
inline float diffusers_sigma_f32(float alpha_cumprod) {
  return detail::f32_sqrt(detail::f32_div(detail::f32_sub(1.0f, alpha_cumprod), alpha_cumprod));
}

/// The float64 β table of LDM's make_beta_schedule (comfy/ldm/modules/diffusionmodules/util.py), named
/// with diffusers' words: scaled_linear = linspace(√β_start, √β_end, N)² (LDM's "linear"), linear =
/// linspace(β_start, β_end, N) (LDM's "sqrt_linear"), squaredcos_cap_v2 = betas_for_alpha_bar; all in
/// float64. `exp` is diffusers' only, not one of these.
inline std::vector<double> float64_betas(beta_schedule s, std::size_t n, double beta_start, double beta_end) {
  if (n < 2) throw config_error(detail::cat("discrete_vp: num_train_timesteps=", n, " must be at least 2"));
  if (s == beta_schedule::exp)
    throw config_error("discrete_vp: beta_schedule exp is diffusers' HeunDiscreteScheduler table, not a training "
                       "table; expected linear, scaled_linear or squaredcos_cap_v2");
  if (s == beta_schedule::squaredcos_cap_v2) return detail::betas_for_alpha_bar(n, s);
  for (const auto& [key, v] : {std::pair{"beta_start", beta_start}, std::pair{"beta_end", beta_end}})
    if (!(v > 0 && v < 1))
      throw config_error(detail::cat("discrete_vp: ", key, "=", v, " must lie in (0, 1)"));
  std::vector<double> b(n);
  const bool sq = s == beta_schedule::scaled_linear;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = sq ? detail::linspace_at(std::sqrt(beta_start), std::sqrt(beta_end), n, i)
                        : detail::linspace_at(beta_start, beta_end, n, i);
    b[i] = sq ? v * v : v;
  }
  return b;
}

/// The discrete VP process of a β table, continuous in the training timestep t ∈ [0, N−1].
template <class T = double>
class discrete_vp {
 public:
  using value_type = T;

  /// From diffusers' ᾱ table (float32 values). ᾱ must decrease from below 1 to above 0; a terminal
  /// ᾱ = 0 (zero terminal SNR) is replaced by 2⁻²⁴ when clamp_zero_terminal is set, as diffusers'
  /// DPMSolverMultistep, UniPC and EulerDiscrete schedulers do.
  explicit discrete_vp(std::vector<float> alphas_cumprod, bool clamp_zero_terminal = true) {
    if (clamp_zero_terminal && !alphas_cumprod.empty() && alphas_cumprod.back() == 0.0f) alphas_cumprod.back() = 0x1p-24f;
    check_table(std::span<const float>(alphas_cumprod));
    for (const float a_f : alphas_cumprod) {
      const double a = a_f;
      abar_.push_back(T(a));
      sigma_.push_back(T(diffusers_sigma_f32(a_f)));
      log_sigma_.push_back(T(0.5 * (std::log1p(-a) - std::log(a))));  // log σ̃ = ½·log((1 − ᾱ)/ᾱ)
    }
  }

  /// diffusers' float32 table of a named schedule with N training timesteps.
  static discrete_vp diffusers(beta_schedule s, std::size_t n, double beta_start, double beta_end,
                               bool rescale_zero_snr = false) {
    return discrete_vp(diffusers_alphas_cumprod(diffusers_betas(s, n, beta_start, beta_end, rescale_zero_snr)));
  }

  /// The model's own table as ComfyUI's ModelSamplingDiscrete builds it (see the top of this file);
  /// the defaults are SD 1.x/2.x/XL's.
  static discrete_vp comfy(beta_schedule s = beta_schedule::scaled_linear, std::size_t n = 1000,
                           double beta_start = 0.00085, double beta_end = 0.012) {
    const std::vector<double> betas = float64_betas(s, n, beta_start, beta_end);
    std::vector<double> abar(n);
    double acc = 1;
    for (std::size_t i = 0; i < n; ++i) abar[i] = acc *= 1 - betas[i];  // torch.cumprod in float64
    check_table(std::span<const double>(abar));
    discrete_vp p;
    for (std::size_t k = 0; k < n; ++k) {
      const double a = abar[k], s64 = std::sqrt((1 - a) / a);
      if (!std::isfinite(static_cast<float>(s64)))
        throw domain_error(detail::cat("discrete_vp: sigma[", k, "] = ", s64, " overflows the float32 table (alphas_cumprod = ", a,
                                       "); lower beta_end"));
      p.abar_.push_back(T(a));
      p.sigma_.push_back(T(static_cast<float>(s64)));
      p.log_sigma_.push_back(T(static_cast<float>(std::log(s64))));
    }
    return p;
  }

  std::size_t num_train_timesteps() const { return abar_.size(); }
  /// ᾱ_t for t = 0 … N−1 (diffusers: its float32 values; comfy: float64), held in T.
  const std::vector<T>& alphas_cumprod() const { return abar_; }
  /// The σ̃ table entry at an integer timestep, as the peer stores it (float32 values in both).
  T sigma_edm(std::size_t timestep) const {
    if (timestep >= sigma_.size())
      throw domain_error(detail::cat("discrete_vp::sigma_edm: timestep ", timestep, " is outside [0, ", sigma_.size() - 1, "]"));
    return sigma_[timestep];
  }

  /// log σ̃(t), piecewise linear between the integer timesteps (the log table's entry at them).
  T log_sigma_edm(T t) const {
    const auto [k, u] = locate(t);
    return u == 0 ? log_sigma_[k] : log_sigma_[k] + u * (log_sigma_[k + 1] - log_sigma_[k]);
  }
  // α = 1/√(1 + σ̃²) = √ᾱ and σ = σ̃·α = √(1 − ᾱ) at the integer timesteps.
  T alpha(T t) const { return alpha_of(log_sigma_edm(t)); }
  T sigma(T t) const {
    const T l = log_sigma_edm(t);
    return std::exp(l) * alpha_of(l);
  }
  // With ℓ = log σ̃: dα/dℓ = −α·σ², dσ/dℓ = σ·α², and dℓ/dt is the slope of the current segment.
  T d_alpha(T t) const {
    const T l = log_sigma_edm(t), a = alpha_of(l), s = std::exp(l) * a;
    return -a * s * s * slope(t);
  }
  T d_sigma(T t) const {
    const T l = log_sigma_edm(t), a = alpha_of(l), s = std::exp(l) * a;
    return s * a * a * slope(t);
  }
  T lambda(T t) const { return -log_sigma_edm(t); }
  /// The inverse of lambda on [0, N−1] (clamped outside): diffusers' `_sigma_to_t` in exact arithmetic.
  T t_of_lambda(T lam) const {
    const T l = -lam;
    if (!(l > log_sigma_.front())) return 0;
    if (!(l < log_sigma_.back())) return T(log_sigma_.size() - 1);
    const auto hi = std::upper_bound(log_sigma_.begin(), log_sigma_.end(), l);
    const auto k = static_cast<std::size_t>(hi - log_sigma_.begin()) - 1;
    return T(k) + (l - log_sigma_[k]) / (log_sigma_[k + 1] - log_sigma_[k]);
  }
  T t_min() const { return 0; }
  T t_max() const { return T(abar_.size() - 1); }

 private:
  discrete_vp() = default;

  // ᾱ must lie in (0, 1) and must not increase.
  template <class A>
  static void check_table(std::span<const A> a) {
    if (a.size() < 2) throw config_error(detail::cat("discrete_vp: the alphas_cumprod table has ", a.size(), " entries; need at least 2"));
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!(a[i] > 0 && a[i] < 1))
        throw domain_error(detail::cat("discrete_vp: alphas_cumprod[", i, "] = ", double(a[i]), " must lie in (0, 1)"));
      if (i > 0 && !(a[i] <= a[i - 1]))
        throw domain_error(detail::cat("discrete_vp: alphas_cumprod must not increase, but [", i, "] = ", double(a[i]), " > [",
                                       i - 1, "] = ", double(a[i - 1])));
    }
  }

  struct place { std::size_t k; T u; };
  // Segment k and offset u ∈ [0, 1) of t (u = 1 only at t = N−1, which lies on the last segment).
  place locate(T t) const {
    const std::size_t last = abar_.size() - 1;
    if (!(t > 0)) return {0, T(0)};
    if (!(t < T(last))) return {last, T(0)};
    const auto k = static_cast<std::size_t>(std::floor(t));
    return {k, t - T(k)};
  }
  T slope(T t) const {
    std::size_t k = locate(t).k;
    if (k + 1 >= log_sigma_.size()) k = log_sigma_.size() - 2;
    return log_sigma_[k + 1] - log_sigma_[k];
  }
  static T alpha_of(T l) { return 1 / std::sqrt(1 + std::exp(2 * l)); }

  std::vector<T> abar_, sigma_, log_sigma_;
};

}  // namespace ferry
