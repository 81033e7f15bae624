#pragma once
// What a time grid should look like: its spacing, its number of steps, its range, whether it ends at
// the data itself, and the options of ComfyUI's schedulers. make_grid (grid/grid.hpp) turns it into
// levels of a noise process, grid_sigmas into the σ list a peer prints.
#include <cstddef>
#include <optional>
#include <vector>

#include "ferry/grid/grid_kind.hpp"

namespace ferry {

/// The range is resolved end by end: the high end is t_max if given, else t(sigma_max) if given,
/// else the process's own sigma_max (EDM, VE) mapped to t, else the process's t_max(); the low end
/// likewise. sigma_* are EDM noise levels σ̃ = σ/α, mapped to t through t_of_lambda(−log σ̃).
/// Giving both t_max and sigma_max (or both t_min and sigma_min) is an error. ComfyUI's schedulers
/// (grid/comfy.hpp) read σ's in the σ-list convention instead (σ̃, and the flow σ on a flow).
///
/// Every option the kind does not read must be unset (an error names it), except rho, which the
/// uniform, uniform-logsnr, quadratic, exponential and custom kinds ignore.
template <class T = double>
struct grid_spec {
  grid_kind kind = grid_kind::uniform;
  /// Solver steps. For custom, 0 means "as many as the list gives".
  std::size_t steps = 0;
  /// Karras et al.'s ρ (Eq. 5), 7 when unset; polyexponential's ρ, 1 when unset. Must be > 0.
  std::optional<T> rho{};
  std::optional<T> t_min{}, t_max{};          ///< range in the process's time
  std::optional<T> sigma_min{}, sigma_max{};  ///< range in σ̃ (ComfyUI's kinds: their σ_min, σ_max)
  /// Append the data level (α = 1, σ = 0, λ = +∞) after `steps` points (k-diffusion's append_zero);
  /// when false the grid has steps + 1 points ending at the low end of the range. Unset: true for
  /// karras and exponential (k-diffusion), false for uniform, uniform-logsnr, quadratic
  /// (DPM-Solver's get_time_steps, which ends at t_min) and custom (the list as given). ComfyUI's
  /// kinds end at 0; only the k-diffusion-style ones (kl-optimal, polyexponential, vp) can drop it.
  std::optional<bool> final_zero{};
  /// The times of a custom grid, from high noise to low (strictly decreasing t).
  std::vector<T> times{};
  /// beta: the Beta(α, β) distribution whose quantiles pick the timesteps (0.6, 0.6), each in (0, 50].
  std::optional<T> alpha{}, beta{};
  /// gits: the coefficient of its searched levels, 0.80 … 1.50 in steps of 0.05 (1.20).
  std::optional<T> coeff{};
  /// vp: get_sigmas_vp's β_d (19.9), β_min (0.1) and ε_s (1e-3, the last t).
  std::optional<T> beta_d{}, beta_min{}, eps_s{};
};

/// The final_zero a spec resolves to.
template <class T>
bool resolved_final_zero(const grid_spec<T>& spec) {
  if (spec.final_zero) return *spec.final_zero;
  return spec.kind != grid_kind::uniform && spec.kind != grid_kind::uniform_logsnr && spec.kind != grid_kind::quadratic &&
         spec.kind != grid_kind::custom;
}

}  // namespace ferry
