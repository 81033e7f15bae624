#pragma once
// DDIM with η > 0 (Song, Meng & Ermon 2021, Eq. 12 and 16; diffusers DDIMScheduler.step(eta)):
//
//   σ_t(η) = η·√(β̃·σ'²/σ²) = η·√((1 − ᾱ')/(1 − ᾱ))·√(1 − ᾱ/ᾱ')  (VP)
//   x_{t'} = α'·x̂0 + √(σ'² − σ_t(η)²)·ε̂ + σ_t(η)·z
//
// the ancestral update with ε̂ the model's own (untransformed, as diffusers uses it beside a clipped
// x̂0). η = 0 is ode/ddim.hpp's deterministic DDIM, η = 1 the DDPM posterior. The landing level
// (diffusers' prev_timestep = t − N/n) comes from the schedule's landings.
#include "ferry/solvers/sde/ancestral.hpp"

namespace ferry {

/// The ancestral policy configured as DDIM with η > 0.
template <class T = double>
ancestral<T> ddim_eta(T eta = 1) {
  return ancestral<T>({.eta = eta, .s_noise = 1, .variance = ancestral_variance::posterior, .epsilon = epsilon_source::model,
                       .no_noise_at_t0 = false, .flow_view = false});
}

}  // namespace ferry
