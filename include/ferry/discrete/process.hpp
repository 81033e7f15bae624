#pragma once
// A discrete diffusion process: a forward kernel over V tokens and its schedule α(t).
#include "ferry/discrete/denoiser.hpp"
#include "ferry/discrete/kernel.hpp"
#include "ferry/discrete/schedule.hpp"

namespace ferry::discrete {

struct process {
  discrete::kernel kernel;
  alpha_schedule schedule;

  /// The level at time t; t = 0 is the data (α = 1 for every schedule).
  noise_level level(double t) const { return {t, t == 0 ? 1.0 : schedule.alpha(t), schedule.d_alpha(t)}; }
};

}  // namespace ferry::discrete
