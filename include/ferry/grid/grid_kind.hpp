#pragma once
// The spacings a time grid can have, named as on the command line.
#include <initializer_list>
#include <string_view>

#include "ferry/core/error.hpp"

namespace ferry {

enum class grid_kind {
  uniform,         ///< uniform in t (DPM-Solver "time_uniform")
  uniform_logsnr,  ///< uniform in λ = log(α/σ) (DPM-Solver "logSNR")
  quadratic,       ///< uniform in √t (DDIM "quad", DPM-Solver "time_quadratic")
  karras,          ///< Karras et al. 2022, Eq. 5, in σ̃ = σ/α (k-diffusion get_sigmas_karras)
  exponential,     ///< uniform in log σ̃ (k-diffusion get_sigmas_exponential)
  custom,          ///< the caller's list of t
};

constexpr std::string_view to_string(grid_kind k) {
  switch (k) {
    case grid_kind::uniform: return "uniform";
    case grid_kind::uniform_logsnr: return "uniform-logsnr";
    case grid_kind::quadratic: return "quadratic";
    case grid_kind::karras: return "karras";
    case grid_kind::exponential: return "exponential";
    case grid_kind::custom: return "custom";
  }
  return "?";
}

/// Parses uniform | uniform-logsnr | quadratic | karras | exponential | custom.
inline grid_kind parse_grid_kind(std::string_view s) {
  for (const grid_kind k : {grid_kind::uniform, grid_kind::uniform_logsnr, grid_kind::quadratic, grid_kind::karras,
                            grid_kind::exponential, grid_kind::custom})
    if (s == to_string(k)) return k;
  throw config_error(detail::cat("grid kind \"", detail::escape(s), "\" is unknown",
                                 detail::did_you_mean(s, {"uniform", "uniform-logsnr", "quadratic", "karras", "exponential", "custom"}),
                                 "; expected uniform, uniform-logsnr, quadratic, karras, exponential or custom"));
}

}  // namespace ferry
