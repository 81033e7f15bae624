#pragma once
// The discrete variance-preserving process of DDPM (Ho et al. 2020, Eq. 4):
//
//   x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε,   ᾱ_t = Π_{s ≤ t} (1 − β_s),   t = 0 … N−1 (a diffusers timestep)
//
// with the β tables built bit for bit as diffusers builds them in float32 torch (see diffusers_betas
// below), and a continuous extension between the integer timesteps: log σ̃ (σ̃ = σ/α = √((1−ᾱ)/ᾱ), the
// EDM / k-diffusion sigma) is interpolated linearly in t. That is the interpolation diffusers'
// `_sigma_to_t` inverts, so t_of_lambda(lambda(t)) = t and a Karras grid maps to the same fractional
// timesteps diffusers computes. λ = log α − log σ = −log σ̃.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "ferry/compat/float32.hpp"
#include "ferry/core/error.hpp"

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

namespace detail {

/// diffusers' betas_for_alpha_bar (Nichol & Dhariwal 2021, Eq. 17 for "cosine"): in Python floats,
/// β_i = min(1 − ᾱ((i+1)/N)/ᾱ(i/N), max_beta), then one rounding to float32.
inline std::vector<float> betas_for_alpha_bar(std::size_t n, beta_schedule kind, double max_beta = 0.999) {
  const double pi = 3.141592653589793;
  auto alpha_bar = [&](double t) {
    if (kind == beta_schedule::exp) return std::exp(t * -12.0);
    const double c = std::cos((t + 0.008) / 1.008 * pi / 2);  // evaluated left to right as in Python
    return c * c;
  };
  std::vector<float> betas(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t1 = double(i) / double(n), t2 = double(i + 1) / double(n);
    betas[i] = static_cast<float>(std::min(1 - alpha_bar(t2) / alpha_bar(t1), max_beta));
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
    case beta_schedule::exp: b = detail::betas_for_alpha_bar(n, s); break;
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

/// The discrete VP process of a β table, continuous in the training timestep t ∈ [0, N−1].
template <class T = double>
class discrete_vp {
 public:
  using value_type = T;

  /// From diffusers' ᾱ table (float32 values). ᾱ must decrease from below 1 to above 0; a terminal
  /// ᾱ = 0 (zero terminal SNR) is replaced by 2⁻²⁴ when clamp_zero_terminal is set, as diffusers'
  /// DPMSolverMultistep, UniPC and EulerDiscrete schedulers do.
  explicit discrete_vp(std::vector<float> alphas_cumprod, bool clamp_zero_terminal = true)
      : abar_f_(std::move(alphas_cumprod)) {
    const std::size_t n = abar_f_.size();
    if (n < 2) throw config_error(detail::cat("discrete_vp: the alphas_cumprod table has ", n, " entries; need at least 2"));
    if (clamp_zero_terminal && abar_f_.back() == 0.0f) abar_f_.back() = 0x1p-24f;
    abar_.resize(n);
    log_sigma_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double a = abar_f_[i];
      if (!(a > 0 && a < 1))
        throw domain_error(detail::cat("discrete_vp: alphas_cumprod[", i, "] = ", a, " must lie in (0, 1)"));
      if (i > 0 && !(a <= abar_f_[i - 1]))
        throw domain_error(detail::cat("discrete_vp: alphas_cumprod must not increase, but [", i, "] = ", a, " > [", i - 1, "] = ", abar_f_[i - 1]));
      abar_[i] = T(a);
      log_sigma_[i] = T(0.5 * (std::log1p(-a) - std::log(a)));  // log σ̃ = ½·log((1 − ᾱ)/ᾱ)
    }
  }

  /// The process of a named diffusers schedule with N training timesteps.
  static discrete_vp diffusers(beta_schedule s, std::size_t n, double beta_start, double beta_end,
                               bool rescale_zero_snr = false) {
    return discrete_vp(diffusers_alphas_cumprod(diffusers_betas(s, n, beta_start, beta_end, rescale_zero_snr)));
  }

  std::size_t num_train_timesteps() const { return abar_.size(); }
  /// ᾱ_t for t = 0 … N−1: the float32 values of diffusers' table, held in T.
  const std::vector<T>& alphas_cumprod() const { return abar_; }
  /// diffusers' float32 sigma table entry ((1 − ᾱ)/ᾱ) ** 0.5 at an integer timestep.
  T sigma_edm(std::size_t timestep) const {
    if (timestep >= abar_.size())
      throw domain_error(detail::cat("discrete_vp::sigma_edm: timestep ", timestep, " is outside [0, ", abar_.size() - 1, "]"));
    return T(diffusers_sigma_f32(abar_f_[timestep]));
  }

  /// log σ̃(t), piecewise linear between the integer timesteps (exact at them).
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

  std::vector<float> abar_f_;
  std::vector<T> abar_, log_sigma_;
};

}  // namespace ferry
