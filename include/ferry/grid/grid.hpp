#pragma once
// Time grids: the levels of a noise process at which a sampler evaluates its model, from high noise
// to low. ferry's own rules are each a formula in one variable — t, √t, λ, σ̃^{1/ρ} or log σ̃ with
// σ̃ = σ/α the EDM noise level — mapped back to the process's time and filled with level_at:
//
//   uniform         t_i = linspace(t_hi, t_lo, n)
//   uniform-logsnr  λ_i = linspace(λ_hi, λ_lo, n),          t_i = t(λ_i)
//   quadratic       √t_i = linspace(√t_hi, √t_lo, n)        (DDIM "quad", Song et al. 2021a, App. D.2)
//   karras          σ̃_i = (σ̃_hi^{1/ρ} + i/(n−1)·(σ̃_lo^{1/ρ} − σ̃_hi^{1/ρ}))^ρ   (Karras et al. 2022, Eq. 5)
//   exponential     log σ̃_i = linspace(log σ̃_hi, log σ̃_lo, n)
//   custom          the caller's t_i
//
// with σ̃ mapped to t by t(−log σ̃) (the identity for ferry::edm, so karras there is k-diffusion's
// get_sigmas_karras). n = steps when final_zero appends the data level, n = steps + 1 otherwise.
// linspace is torch.linspace's: the first half counts up from the start, the second half down from
// the end, so both ends are exact and the points match k-diffusion's ramp.
//
// ComfyUI's schedulers (simple … vp, grid/comfy.hpp) are σ lists, and so are karras and exponential
// on a process with a discrete σ table (discrete_vp, a flow with num_train_timesteps), where ComfyUI
// takes σ_min and σ_max from the table; their levels are levels_at_sigmas of the list.
// grid_sigmas gives any grid as the σ list a peer prints (`ferry info --json`).
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/core/linspace.hpp"
#include "ferry/grid/comfy.hpp"
#include "ferry/grid/grid_kind.hpp"
#include "ferry/grid/grid_spec.hpp"
#include "ferry/grid/sigma_list.hpp"
#include "ferry/process/discrete_vp.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/ve.hpp"
#include "ferry/process/vp_cosine.hpp"
#include "ferry/process/vp_linear.hpp"

namespace ferry {

namespace detail {

// A process may carry a default sampling range in σ̃ (EDM: data members, VE: accessors).
template <class P>
concept sigma_range_fields = requires(const P& p) {
  { p.sigma_min } -> std::convertible_to<typename P::value_type>;
  { p.sigma_max } -> std::convertible_to<typename P::value_type>;
};
template <class P>
concept sigma_range_methods = requires(const P& p) {
  { p.sigma_min() } -> std::convertible_to<typename P::value_type>;
  { p.sigma_max() } -> std::convertible_to<typename P::value_type>;
};

template <noise_process P>
std::optional<typename P::value_type> process_sigma(const P& p, bool high) {
  if constexpr (sigma_range_fields<P>) return high ? p.sigma_max : p.sigma_min;
  else if constexpr (sigma_range_methods<P>) return high ? p.sigma_max() : p.sigma_min();
  else return std::nullopt;
}

// One end of a grid's range, in the three variables the spacings use.
template <class T>
struct grid_end {
  T t, lambda, sigma_edm;
};

// Resolves one end from (spec t, spec σ̃, process σ̃, process t), in that order.
template <noise_process P>
grid_end<typename P::value_type> resolve_end(const P& p, const grid_spec<typename P::value_type>& spec, bool high) {
  using T = typename P::value_type;
  const char* t_key = high ? "t_max" : "t_min";
  const char* s_key = high ? "sigma_max" : "sigma_min";
  const std::optional<T>& t_opt = high ? spec.t_max : spec.t_min;
  const std::optional<T>& s_opt = high ? spec.sigma_max : spec.sigma_min;
  if (t_opt && s_opt)
    throw config_error(cat("grid: give ", t_key, " or ", s_key, ", not both (got ", t_key, "=", *t_opt, ", ", s_key,
                           "=", *s_opt, ")"));
  const T lo = p.t_min(), hi = p.t_max();
  if (t_opt) {
    const T t = *t_opt;
    if (!std::isfinite(t) || t < lo || t > hi)
      throw config_error(cat("grid: ", t_key, "=", t, " is outside the process's time range [", lo, ", ", hi, "]"));
    return {t, p.lambda(t), p.sigma(t) / p.alpha(t)};
  }
  const std::optional<T> s = s_opt ? s_opt : process_sigma(p, high);
  if (s) {
    if (!std::isfinite(*s) || !(*s > 0))
      throw config_error(cat("grid: ", s_key, "=", *s, " must be finite and > 0"));
    T t = t_of_sigma_edm(p, *s);
    // A σ̃ at the very end of the process's range may map a few ulps outside it.
    const T tol = 64 * std::numeric_limits<T>::epsilon();
    if (t < lo && t >= lo - tol * (1 + std::abs(lo))) t = lo;
    if (t > hi && t <= hi + tol * (1 + std::abs(hi))) t = hi;
    if (!(t >= lo && t <= hi))
      throw config_error(cat("grid: ", s_key, "=", *s, " maps to t=", t, ", outside the process's time range [", lo,
                             ", ", hi, "]"));
    return {t, -std::log(*s), *s};
  }
  const T t = high ? hi : lo;
  if (!std::isfinite(t))
    throw config_error(cat("grid: the process's ", t_key, " is ", t, "; set ", t_key, " or ", s_key));
  return {t, p.lambda(t), p.sigma(t) / p.alpha(t)};
}

template <class T>
void check_spec(const grid_spec<T>& spec) {
  if (spec.kind != grid_kind::custom && spec.steps < 1)
    throw config_error(cat("grid: steps=", spec.steps, "; need at least 1"));
  if (spec.rho && (!(*spec.rho > 0) || !std::isfinite(*spec.rho)))
    throw config_error(cat("grid: rho=", *spec.rho, " must be finite and > 0"));
  if (spec.kind != grid_kind::custom && !spec.times.empty())
    throw config_error(cat("grid: ", spec.times.size(), " custom times given but the kind is ", to_string(spec.kind),
                           "; use kind custom"));
  if (spec.sigma_min && spec.sigma_max && !(*spec.sigma_min < *spec.sigma_max))
    throw config_error(cat("grid: sigma_min=", *spec.sigma_min, " must be below sigma_max=", *spec.sigma_max));
  if (spec.t_min && spec.t_max && !(*spec.t_min < *spec.t_max))
    throw config_error(cat("grid: t_min=", *spec.t_min, " must be below t_max=", *spec.t_max));
  // ComfyUI's options: only their own kind reads them, each within the peer's range.
  const std::string_view kind = to_string(spec.kind);
  auto own = [&](const std::optional<T>& v, const char* key, grid_kind owner) {
    if (v && spec.kind != owner)
      throw config_error(cat("grid: ", key, " is an option of ", to_string(owner), ", not of ", kind));
  };
  own(spec.alpha, "alpha", grid_kind::beta), own(spec.beta, "beta", grid_kind::beta), own(spec.coeff, "coeff", grid_kind::gits);
  own(spec.beta_d, "beta_d", grid_kind::vp), own(spec.beta_min, "beta_min", grid_kind::vp), own(spec.eps_s, "eps_s", grid_kind::vp);
  for (const auto& [v, key] : {std::pair{spec.alpha, "alpha"}, std::pair{spec.beta, "beta"}})
    if (v && !(*v > 0 && *v <= 50)) throw config_error(cat("grid: ", key, "=", *v, " must lie in (0, 50]"));
  for (const auto& [v, key] : {std::pair{spec.beta_d, "beta_d"}, std::pair{spec.beta_min, "beta_min"}})
    if (v && !(*v >= 0 && std::isfinite(*v))) throw config_error(cat("grid: ", key, "=", *v, " must be finite and >= 0"));
  if (spec.eps_s && !(*spec.eps_s > 0 && *spec.eps_s < 1))
    throw config_error(cat("grid: eps_s=", *spec.eps_s, " must lie in (0, 1)"));
  if (spec.coeff) gits_coefficient_index(double(*spec.coeff));
}

// The name of a process in messages.
template <noise_process P>
std::string process_name(const P& p) {
  using T = typename P::value_type;
  if constexpr (std::is_same_v<P, edm<T>>) return "edm";
  else if constexpr (std::is_same_v<P, ve<T>>) return "ve";
  else if constexpr (std::is_same_v<P, vp_linear<T>>) return "vp_linear";
  else if constexpr (std::is_same_v<P, vp_cosine<T>>) return "vp_cosine";
  else if constexpr (std::is_same_v<P, discrete_vp<T>>) return "discrete_vp";
  else if constexpr (std::is_same_v<P, flow<T>>) return p.num_train_timesteps() ? "flow" : "flow without num_train_timesteps";
  else return "this process";
}

// ComfyUI's kinds are σ lists; karras and exponential are too on a process with a discrete σ table.
constexpr bool comfy_kind(grid_kind k) {
  return k != grid_kind::uniform && k != grid_kind::uniform_logsnr && k != grid_kind::quadratic && k != grid_kind::karras &&
         k != grid_kind::exponential && k != grid_kind::custom;
}
template <noise_process P>
bool is_sigma_list(const P& p, grid_kind k) {
  return comfy_kind(k) || ((k == grid_kind::karras || k == grid_kind::exponential) && has_sigma_table(p));
}

// The σ list of a σ-list kind (see grid/comfy.hpp).
template <noise_process P>
std::vector<typename P::value_type> comfy_sigmas(const P& p, const grid_spec<typename P::value_type>& spec) {
  using T = typename P::value_type;
  const grid_kind k = spec.kind;
  const std::string_view kind = to_string(k);
  const bool reads_range = k == grid_kind::karras || k == grid_kind::exponential || k == grid_kind::kl_optimal ||
                           k == grid_kind::polyexponential;
  if (spec.t_min || spec.t_max)
    throw config_error(cat("grid: ", kind, " on ", process_name(p), " is a sigma list; t_min and t_max must be unset"));
  if (!reads_range && (spec.sigma_min || spec.sigma_max))
    throw config_error(cat("grid: ", kind, " takes no sigma_min or sigma_max", k == grid_kind::vp ? " (its range is beta_d, beta_min, eps_s)" : ""));
  const bool zero = resolved_final_zero(spec);
  if (!zero && !reads_range && k != grid_kind::vp)
    throw config_error(cat("grid: ", kind, " always ends at sigma = 0 (ComfyUI's list); final_zero=false is not available"));
  if ((k == grid_kind::kl_optimal || k == grid_kind::gits) && spec.steps < 2)
    throw config_error(cat("grid: ", kind, " needs steps >= 2, got ", spec.steps,
                           k == grid_kind::gits ? " (GITS's table starts at 2 steps)" : " (ComfyUI's kl_optimal_scheduler divides by steps - 1)"));
  const std::size_t n = zero ? spec.steps : spec.steps + 1;  // points before the final 0
  const std::optional<comfy_sampling> ms = comfy_model_sampling(p);
  auto table = [&]() -> const comfy_sampling& {
    if (!ms)
      throw config_error(cat("grid: ", kind, " needs a discrete sigma table (discrete_vp, or flow with num_train_timesteps), but the process is ",
                             process_name(p)));
    return *ms;
  };
  // The model sampling's σ_min / σ_max: the table's ends, else the process's own range (edm, ve).
  auto model_sigma = [&](bool high) -> double {
    if (ms) return high ? ms->sigma_max() : ms->sigma_min();
    if (const std::optional<T> s = process_sigma(p, high)) return double(*s);
    throw config_error(cat("grid: ", kind, " needs sigma_min and sigma_max, or a process with a sigma range (discrete_vp, flow with num_train_timesteps, edm, ve); the process is ",
                           process_name(p)));
  };
  auto range = [&](double fallback_min, double fallback_max, bool from_model) {
    const double lo = spec.sigma_min ? double(*spec.sigma_min) : from_model ? model_sigma(false) : fallback_min;
    const double hi = spec.sigma_max ? double(*spec.sigma_max) : from_model ? model_sigma(true) : fallback_max;
    if (!(lo > 0 && lo < hi && std::isfinite(hi)))
      throw config_error(cat("grid: ", kind, " needs 0 < sigma_min < sigma_max < inf, got sigma_min=", lo, ", sigma_max=", hi));
    return std::pair{lo, hi};
  };
  std::vector<double> s;
  switch (k) {
    case grid_kind::simple: s = simple_sigmas(table(), spec.steps); break;
    case grid_kind::sgm_uniform: s = normal_sigmas(table(), spec.steps, true); break;
    case grid_kind::normal: s = normal_sigmas(table(), spec.steps, false); break;
    case grid_kind::ddim_uniform: s = ddim_uniform_sigmas(table(), spec.steps); break;
    case grid_kind::beta:
      s = beta_sigmas(table(), spec.steps, double(spec.alpha.value_or(T(0.6))), double(spec.beta.value_or(T(0.6))));
      break;
    case grid_kind::linear_quadratic: s = linear_quadratic_sigmas(model_sigma(true), spec.steps); break;
    case grid_kind::kl_optimal: {
      const auto [lo, hi] = range(0, 0, true);
      s = kl_optimal_sigmas(n, lo, hi, zero);
      break;
    }
    case grid_kind::karras: {
      const auto [lo, hi] = range(0, 0, true);
      s = karras_sigmas(n, lo, hi, double(spec.rho.value_or(T(7))), zero);
      break;
    }
    case grid_kind::exponential: {
      const auto [lo, hi] = range(0, 0, true);
      s = exponential_sigmas(n, lo, hi, zero);
      break;
    }
    case grid_kind::polyexponential: {  // the PolyexponentialScheduler node's defaults
      const auto [lo, hi] = range(0.0291675, 14.614642, false);
      s = polyexponential_sigmas(n, lo, hi, double(spec.rho.value_or(T(1))), zero);
      break;
    }
    case grid_kind::vp: {  // the VPScheduler node's defaults
      const double beta_d = double(spec.beta_d.value_or(T(19.9))), beta_min = double(spec.beta_min.value_or(T(0.1)));
      if (!(beta_d + beta_min > 0)) throw config_error("grid: vp needs beta_d + beta_min > 0 (every sigma is 0 otherwise)");
      s = vp_sigmas(n, beta_d, beta_min, double(spec.eps_s.value_or(T(1e-3))), zero);
      break;
    }
    case grid_kind::ays_sd1: s = ays_sigmas(false, spec.steps); break;
    case grid_kind::ays_sdxl: s = ays_sigmas(true, spec.steps); break;
    case grid_kind::gits: s = gits_sigmas(gits_coefficient_index(double(spec.coeff.value_or(T(1.2)))), spec.steps); break;
    default: throw config_error(cat("grid: ", kind, " is not a sigma list"));
  }
  return std::vector<T>(s.begin(), s.end());
}

// The n times of a generated (non-custom) grid, high noise first.
template <noise_process P>
std::vector<typename P::value_type> spaced_times(const P& p, const grid_spec<typename P::value_type>& spec,
                                                 std::size_t n) {
  using T = typename P::value_type;
  const grid_end<T> hi = resolve_end(p, spec, true), lo = resolve_end(p, spec, false);
  if (!(lo.t < hi.t))
    throw config_error(cat("grid: the range is empty: its low end t=", lo.t, " (sigma/alpha=", lo.sigma_edm,
                           ") is not below its high end t=", hi.t, " (sigma/alpha=", hi.sigma_edm, ")"));
  const bool in_sigma = spec.kind == grid_kind::uniform_logsnr || spec.kind == grid_kind::karras ||
                        spec.kind == grid_kind::exponential;
  for (const grid_end<T>* e : {&hi, &lo})
    if (in_sigma && !(std::isfinite(e->lambda) && e->sigma_edm > 0 && std::isfinite(e->sigma_edm)))
      throw config_error(cat("grid: ", to_string(spec.kind), " spacing needs a finite log-SNR at both ends, but t=",
                             e->t, " has sigma/alpha=", e->sigma_edm, "; set ", e == &hi ? "sigma_max or t_max" : "sigma_min or t_min"));
  if (spec.kind == grid_kind::quadratic && lo.t < 0)
    throw config_error(cat("grid: quadratic spacing needs t >= 0, but the low end is t=", lo.t));

  const bool snap_ends = spec.kind != grid_kind::karras && spec.kind != grid_kind::exponential;
  std::vector<T> ts(n);
  const T t_lo = p.t_min(), t_hi = p.t_max();
  for (std::size_t i = 0; i < n; ++i) {
    T t{};
    switch (spec.kind) {
      case grid_kind::uniform: t = linspace_at(hi.t, lo.t, n, i); break;
      case grid_kind::uniform_logsnr: t = p.t_of_lambda(linspace_at(hi.lambda, lo.lambda, n, i)); break;
      case grid_kind::quadratic: {
        const T r = linspace_at(std::sqrt(hi.t), std::sqrt(lo.t), n, i);
        t = r * r;
        break;
      }
      case grid_kind::karras: {
        // k-diffusion get_sigmas_karras: ramp = linspace(0, 1, n), σ = (max^{1/ρ} + ramp·(min^{1/ρ} − max^{1/ρ}))^ρ
        const T rho = spec.rho.value_or(T(7));
        const T max_inv_rho = std::pow(hi.sigma_edm, 1 / rho), min_inv_rho = std::pow(lo.sigma_edm, 1 / rho);
        const T ramp = linspace_at(T(0), T(1), n, i);
        t = t_of_sigma_edm(p, std::pow(max_inv_rho + ramp * (min_inv_rho - max_inv_rho), rho));
        break;
      }
      case grid_kind::exponential:
        t = t_of_sigma_edm(p, std::exp(linspace_at(std::log(hi.sigma_edm), std::log(lo.sigma_edm), n, i)));
        break;
      default: break;  // custom and the σ lists never get here
    }
    // t- and λ-spacings end exactly on the range; σ̃-spacings keep their σ̃ (k-diffusion parity) and
    // are only kept inside the process's range, which rounding in t(λ) may leave by an ulp.
    if (snap_ends && i == 0) t = hi.t;
    if (snap_ends && i + 1 == n && n > 1) t = lo.t;
    ts[i] = std::min(std::max(t, t_lo), t_hi);
  }
  return ts;
}

template <noise_process P>
std::vector<typename P::value_type> custom_times(const P& p, const grid_spec<typename P::value_type>& spec,
                                                 bool final_zero) {
  using T = typename P::value_type;
  const std::vector<T>& ts = spec.times;
  const std::size_t need = final_zero ? 1 : 2;
  if (ts.size() < need)
    throw config_error(cat("grid: custom needs at least ", need, " times", final_zero ? "" : " without final_zero",
                           ", got ", ts.size()));
  const std::size_t steps = final_zero ? ts.size() : ts.size() - 1;
  if (spec.steps != 0 && spec.steps != steps)
    throw config_error(cat("grid: steps=", spec.steps, " but the ", ts.size(), " custom times give ", steps,
                           " steps", final_zero ? " with final_zero" : "", "; set steps to 0 or ", steps));
  if (spec.t_min || spec.t_max || spec.sigma_min || spec.sigma_max)
    throw config_error("grid: custom times carry their own range; t_min, t_max, sigma_min and sigma_max must be unset");
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (!std::isfinite(ts[i]) || ts[i] < p.t_min() || ts[i] > p.t_max())
      throw config_error(cat("grid: custom time ", i, " is t=", ts[i], ", outside the process's time range [",
                             p.t_min(), ", ", p.t_max(), "]"));
    if (i > 0 && !(ts[i] < ts[i - 1]))
      throw config_error(cat("grid: custom times must decrease strictly (high noise first), but time ", i, " (t=",
                             ts[i], ") ", ts[i] == ts[i - 1] ? "repeats" : "is above", " time ", i - 1, " (t=",
                             ts[i - 1], ")"));
  }
  return ts;
}

// Every level finite (λ may be −∞ at pure noise, +∞ at the data level) and noise strictly decreasing.
template <class T>
void check_levels(const std::vector<level<T>>& lv) {
  for (std::size_t i = 0; i < lv.size(); ++i) {
    const level<T>& l = lv[i];
    if (!std::isfinite(l.t) || !std::isfinite(l.alpha) || !std::isfinite(l.sigma) || std::isnan(l.lambda))
      throw config_error(cat("grid: level ", i, " is not finite (t=", l.t, ", alpha=", l.alpha, ", sigma=", l.sigma,
                             ", lambda=", l.lambda, ")"));
    if (i > 0 && !(l.lambda > lv[i - 1].lambda))
      throw config_error(cat("grid: noise must decrease strictly, but level ", i, " (t=", l.t, ", lambda=", l.lambda,
                             ") is not below level ", i - 1, " (t=", lv[i - 1].t, ", lambda=", lv[i - 1].lambda,
                             "); too many steps for the range?"));
  }
}

}  // namespace detail

/// The levels of `p` on the grid `spec`, from high noise to low: steps + 1 levels, the last one the
/// data level when final_zero holds (ComfyUI's beta may give fewer: it drops repeated timesteps).
/// Throws config_error naming the bad field.
template <noise_process P>
std::vector<level<typename P::value_type>> make_grid(const P& p, const grid_spec<typename P::value_type>& spec) {
  using T = typename P::value_type;
  detail::check_spec(spec);
  std::vector<level<T>> out;
  if (detail::is_sigma_list(p, spec.kind)) {
    const std::vector<T> s = detail::comfy_sigmas(p, spec);
    try {
      out = levels_at_sigmas(p, std::span<const T>(s));
    } catch (const config_error& e) {
      throw config_error(detail::cat("grid: ", to_string(spec.kind), " on ", detail::process_name(p), ": ", e.what()));
    }
  } else {
    const bool zero = resolved_final_zero(spec);
    const std::vector<T> ts = spec.kind == grid_kind::custom ? detail::custom_times(p, spec, zero)
                                                             : detail::spaced_times(p, spec, zero ? spec.steps : spec.steps + 1);
    out.reserve(ts.size() + 1);
    for (const T t : ts) out.push_back(level_at(p, t));
    if (zero) out.push_back(data_level(p));
  }
  detail::check_levels(out);
  return out;
}

/// The grid `spec` on `p` as the list of σ's a peer prints (what `ferry info --json` shows): high
/// noise first, each the σ of the process's state (sigma_of_level: σ on edm and ve, the flow σ on a
/// flow, σ̃ = σ/α otherwise), with the final 0 where the grid ends at the data. ComfyUI's kinds give
/// ComfyUI's list itself (its float32 rounding and its final 0 included, vp's σ̃ beyond a table too).
template <noise_process P>
std::vector<typename P::value_type> grid_sigmas(const P& p, const grid_spec<typename P::value_type>& spec) {
  using T = typename P::value_type;
  detail::check_spec(spec);
  if (detail::is_sigma_list(p, spec.kind)) return detail::comfy_sigmas(p, spec);
  std::vector<T> out;
  for (const level<T>& lv : make_grid(p, spec)) out.push_back(sigma_of_level(p, lv));
  return out;
}

}  // namespace ferry
