#pragma once
// Inversion and editing with the one sampling driver.
//
// Deterministic inversion: the probability-flow ODE (Song et al. 2021, Eq. 13) run from data to
// noise — DDIM inversion (Song, Meng & Ermon 2021, §4.3; Dhariwal & Nichol 2021, App. F) with any
// ODE policy. The data x is the state at the low end of a sampling grid (what a run without
// final_zero returns), and the inversion schedule is that grid reversed (direction::invert):
// the driver, the solvers and their formulas are the sampling ones, stepping with h < 0 in t, σ̃
// or λ. Sampling the latent back over the same grid returns x up to the two runs' discretisation
// errors (tests/test_inversion.cpp measures them). A grid ending at σ = 0 cannot be inverted: the
// PF-ODE's ε̂ = (x − α·x̂0)/σ is undefined at its first level. diffusers' DDIMInverseScheduler,
// which evaluates the model one step ahead, is compat::invert (compat/diffusers_inverse.hpp).
//
// SDEdit (Meng et al. 2022, Alg. 1): noise the data to a level t0 with the forward process
//   q(x_t0 | x0):   x_t0 = α(t0)·x0 + σ(t0)·z,   z ~ N(0, I)
// with z keyed by (seed, global row, initial_noise_step) — the key of a sampling run's initial
// noise, so the draw is the same for any thread count or shard — then sample from t0. The level
// follows diffusers' StableDiffusionImg2ImgPipeline.get_timesteps: over an n-step grid, strength s
// keeps the last k = min(int(n·s), n) steps (int truncates), so the run starts at level n − k and
// the data is noised to that level (add_noise at timesteps[t_start]). At s = 1 the run starts at
// the grid's top, x = α_top·x0 + σ_top·z: on a process with α = 0 there (flow at t = 1) that is
// σ_top·z, plain sampling from the same seed bit for bit; elsewhere x0 keeps its α_top share, as
// in diffusers.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/random/philox.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

/// The inversion schedule of a sampling grid (levels from high noise to low): the same levels,
/// from the low end up. The data is the state at the grid's low end, which must have σ > 0.
template <class T>
schedule<T> make_inverse_schedule(std::vector<level<T>> levels) {
  if (levels.size() < 2) throw config_error(detail::cat("invert: the grid needs at least 2 levels, got ", levels.size()));
  if (!(levels.back().sigma > 0))
    throw config_error(detail::cat("invert: the grid ends at the data level sigma = 0 (t=", levels.back().t,
                                   "), where the PF-ODE's epsilon is undefined; use a grid without final_zero, whose low "
                                   "end is the level the data is taken at"));
  std::reverse(levels.begin(), levels.end());
  schedule<T> s{std::move(levels), {}, direction::invert};
  s.validate();
  return s;
}

/// Integrates the PF-ODE from the data x (at sched.points.front()) to the noise level at
/// sched.points.back(), in place, with a deterministic solver; the driver's options and observer
/// as in ferry::sample.
template <class Solver, class Problem, class T, class Observer = no_observer>
sample_stats invert(Problem& problem, const schedule<T>& sched, Solver& solver, batch_view<T> x, Observer&& observer = {},
                    sample_options opt = {}) {
  if (sched.dir != direction::invert)
    throw config_error("invert: the schedule runs from noise to data; build it with make_inverse_schedule");
  if constexpr (detail::is_stochastic<Solver>) {
    throw config_error("invert: this solver draws noise at every step; inversion integrates the probability-flow ODE "
                       "and needs a deterministic solver (an ODE solver, or ddim with eta = 0)");
  } else {
    try {
      return sample(problem, sched, solver, x, std::forward<Observer>(observer), opt);
    } catch (const numeric_error& e) {
      if (sched.points.back().alpha != 0) throw;
      // λ = −∞ at pure noise: exponential integrators and σ̃/λ-time steppers cannot land there.
      throw numeric_error(detail::cat(e.what(), "; the grid's top is pure noise (alpha = 0), where solvers in lambda or "
                                                "sigma/alpha cannot land: invert to t_max < 1, or use a native-time solver"));
    }
  }
}

/// How many of a sampling grid's `steps` a strength in (0, 1] keeps: diffusers' img2img
/// get_timesteps, init_timestep = min(int(steps·strength), steps). At least one step must remain.
inline std::size_t strength_steps(std::size_t steps, double strength) {
  if (!(strength > 0 && strength <= 1))
    throw config_error(detail::cat("strength ", strength, " is outside (0, 1]; 1 starts from the top of the grid"));
  const auto kept = std::min(static_cast<std::size_t>(double(steps) * strength), steps);  // Python's int(): truncation
  if (kept == 0)
    throw config_error(detail::cat("strength ", strength, " keeps no step of ", steps, " (int(steps * strength) = 0); ",
                                   "raise the strength or the steps"));
  return kept;
}

/// The last strength_steps(n, strength) steps of a sampling schedule (SDEdit's run from t0).
template <class T>
schedule<T> strength_schedule(const schedule<T>& s, double strength) {
  if (s.dir != direction::sample) throw config_error("strength_schedule: the schedule must run from noise to data");
  const std::size_t n = s.steps(), start = n - strength_steps(n, strength);
  schedule<T> out{{s.points.begin() + std::ptrdiff_t(start), s.points.end()}, {}, direction::sample};
  if (!s.landings.empty()) out.landings.assign(s.landings.begin() + std::ptrdiff_t(start), s.landings.end());
  out.validate();
  return out;
}

/// x ← α·x + σ·z at the level lv: a draw from the forward process q(x_t | x0 = x), with z keyed by
/// (seed, first_row + i, initial_noise_step) for row i. Allocates its z (once, outside any step).
template <class T>
void noise_to(const level<T>& lv, batch_view<T> x, std::uint64_t seed, std::uint64_t first_row = 0) {
  batch<T> z(x.shape());
  random::fill_normal(seed, z.view(), first_row, random::initial_noise_step);
  simd::lincomb<T, 2>(x.span(), {lv.alpha, lv.sigma}, {x.data, z.data()});
}

}  // namespace ferry
