#pragma once
// What a time grid should look like: its spacing, its number of steps, its range and whether it ends
// at the data itself. make_grid (grid/grid.hpp) turns it into levels of a noise process.
#include <cstddef>
#include <optional>
#include <vector>

#include "ferry/grid/grid_kind.hpp"

namespace ferry {

/// The range is resolved end by end: the high end is t_max if given, else t(sigma_max) if given,
/// else the process's own sigma_max (EDM, VE) mapped to t, else the process's t_max(); the low end
/// likewise. sigma_* are EDM noise levels σ̃ = σ/α, mapped to t through t_of_lambda(−log σ̃).
/// Giving both t_max and sigma_max (or both t_min and sigma_min) is an error.
template <class T = double>
struct grid_spec {
  grid_kind kind = grid_kind::uniform;
  /// Solver steps. For custom, 0 means "as many as the list gives".
  std::size_t steps = 0;
  /// Karras et al.'s ρ (Eq. 5); only the karras kind reads it, but it must be > 0 always.
  T rho = 7;
  std::optional<T> t_min{}, t_max{};          ///< range in the process's time
  std::optional<T> sigma_min{}, sigma_max{};  ///< range in the EDM noise level σ̃ = σ/α
  /// Append the data level (α = 1, σ = 0, λ = +∞) after `steps` points (k-diffusion's append_zero);
  /// when false the grid has steps + 1 points ending at the low end of the range. Unset: true for
  /// karras and exponential (k-diffusion), false for uniform, uniform-logsnr, quadratic
  /// (DPM-Solver's get_time_steps, which ends at t_min) and custom (the list as given).
  std::optional<bool> final_zero{};
  /// The times of a custom grid, from high noise to low (strictly decreasing t).
  std::vector<T> times{};
};

/// The final_zero a spec resolves to.
template <class T>
bool resolved_final_zero(const grid_spec<T>& spec) {
  if (spec.final_zero) return *spec.final_zero;
  return spec.kind == grid_kind::karras || spec.kind == grid_kind::exponential;
}

}  // namespace ferry
