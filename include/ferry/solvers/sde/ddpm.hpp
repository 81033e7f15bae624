#pragma once
// DDPM ancestral sampling (Ho et al. 2020, Alg. 2; diffusers DDPMScheduler): the posterior
// q(x_{t'} | x_t, x̂0) of Eq. 6–7, written for any process with β̃ = σ² − (α/α')²σ'² (β_t for VP):
//
//   x_{t'} = (α'·β̃/σ²)·x̂0 + ((α/α')·σ'²/σ²)·x_t + σ_t·z
//   σ_t² = β̃·σ'²/σ²  (variance_type fixed_small)   or   β̃  (fixed_large)
//
// This is the ancestral update with η = 1 and ε̂ taken from the state (ancestral.hpp), so a clipped
// x̂0 enters as diffusers' DDPMScheduler.step uses it. As there, the step from timestep 0 adds no
// noise (`t > 0`; Ho et al.'s "z = 0 if t = 1"); other processes never start a step at t = 0.
#include "ferry/solvers/sde/ancestral.hpp"

namespace ferry {

/// DDPMScheduler's `variance_type` values ferry implements.
enum class ddpm_variance { fixed_small, fixed_large };

/// The ancestral policy configured as DDPM.
template <class T = double>
ancestral<T> ddpm(ddpm_variance v = ddpm_variance::fixed_small) {
  return ancestral<T>({.eta = 1,
                       .s_noise = 1,
                       .variance = v == ddpm_variance::fixed_large ? ancestral_variance::transition : ancestral_variance::posterior,
                       .epsilon = epsilon_source::state,
                       .no_noise_at_t0 = true,
                       .flow_view = false});
}

}  // namespace ferry
