#pragma once
// The spacings a time grid can have, named as on the command line: ferry's own rules and ComfyUI's
// schedulers (its SCHEDULER_NAMES, the Align-Your-Steps and GITS nodes, k-diffusion's polyexponential
// and vp), the latter with ComfyUI's names, `_` written `-`.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "ferry/core/error.hpp"

namespace ferry {

enum class grid_kind {
  uniform,           ///< uniform in t (DPM-Solver "time_uniform")
  uniform_logsnr,    ///< uniform in λ = log(α/σ) (DPM-Solver "logSNR")
  quadratic,         ///< uniform in √t (DDIM "quad", DPM-Solver "time_quadratic")
  karras,            ///< Karras et al. 2022, Eq. 5, in σ̃ = σ/α (k-diffusion get_sigmas_karras)
  exponential,       ///< uniform in log σ̃ (k-diffusion get_sigmas_exponential)
  custom,            ///< the caller's list of t
  simple,            ///< ComfyUI simple_scheduler: every (N/steps)-th entry of the σ table
  sgm_uniform,       ///< ComfyUI normal_scheduler(sgm=True): uniform in the timestep, steps + 1 points less the last
  normal,            ///< ComfyUI normal_scheduler: uniform in the timestep
  ddim_uniform,      ///< ComfyUI ddim_scheduler: table entries 1, 1 + ⌊N/steps⌋, …
  beta,              ///< ComfyUI beta_scheduler (Lee et al. 2024): timesteps at Beta(α, β) quantiles
  linear_quadratic,  ///< ComfyUI linear_quadratic_schedule (Mochi): linear, then quadratic in 1 − σ/σ_max
  kl_optimal,        ///< ComfyUI kl_optimal_scheduler: uniform in atan σ
  ays_sd1,           ///< Align Your Steps (Sabour et al. 2024), SD 1.5's 10-step levels, log-linear interpolation
  ays_sdxl,          ///< Align Your Steps, SDXL's levels
  gits,              ///< GITS (Chen et al. 2024): the searched levels for `coeff`, log-linear beyond 20 steps
  polyexponential,   ///< k-diffusion get_sigmas_polyexponential: log σ polynomial (ρ) in the ramp
  vp,                ///< k-diffusion get_sigmas_vp: the VP SDE's σ̃ at uniform t
};

inline constexpr std::array<grid_kind, 18> all_grid_kinds{
    grid_kind::uniform,  grid_kind::uniform_logsnr, grid_kind::quadratic,       grid_kind::karras,
    grid_kind::exponential, grid_kind::custom,   grid_kind::simple,          grid_kind::sgm_uniform,
    grid_kind::normal,   grid_kind::ddim_uniform,   grid_kind::beta,            grid_kind::linear_quadratic,
    grid_kind::kl_optimal, grid_kind::ays_sd1,      grid_kind::ays_sdxl,        grid_kind::gits,
    grid_kind::polyexponential, grid_kind::vp};

constexpr std::string_view to_string(grid_kind k) {
  switch (k) {
    case grid_kind::uniform: return "uniform";
    case grid_kind::uniform_logsnr: return "uniform-logsnr";
    case grid_kind::quadratic: return "quadratic";
    case grid_kind::karras: return "karras";
    case grid_kind::exponential: return "exponential";
    case grid_kind::custom: return "custom";
    case grid_kind::simple: return "simple";
    case grid_kind::sgm_uniform: return "sgm-uniform";
    case grid_kind::normal: return "normal";
    case grid_kind::ddim_uniform: return "ddim-uniform";
    case grid_kind::beta: return "beta";
    case grid_kind::linear_quadratic: return "linear-quadratic";
    case grid_kind::kl_optimal: return "kl-optimal";
    case grid_kind::ays_sd1: return "ays-sd1";
    case grid_kind::ays_sdxl: return "ays-sdxl";
    case grid_kind::gits: return "gits";
    case grid_kind::polyexponential: return "polyexponential";
    case grid_kind::vp: return "vp";
  }
  return "?";
}

/// Parses the names above (uniform, uniform-logsnr, …, karras, …, simple, sgm-uniform, …, vp); an
/// unknown name is a config_error listing them, with a suggestion for a typo.
inline grid_kind parse_grid_kind(std::string_view s) {
  std::array<std::string_view, all_grid_kinds.size()> names{};
  std::string list;
  for (std::size_t i = 0; i < all_grid_kinds.size(); ++i) {
    names[i] = to_string(all_grid_kinds[i]);
    if (s == names[i]) return all_grid_kinds[i];
    list += i == 0 ? "" : i + 1 == names.size() ? " or " : ", ";
    list += names[i];
  }
  throw config_error(detail::cat("grid kind \"", detail::escape(s), "\" is unknown", detail::did_you_mean(s, names),
                                 "; expected ", list));
}

}  // namespace ferry
