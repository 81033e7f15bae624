#pragma once
// Euler ancestral (k-diffusion sample_euler_ancestral; diffusers EulerAncestralDiscreteScheduler):
// in the EDM view x̃ = x/α with σ̃ = σ/α and D = x̂0,
//
//   σ̃_up = min(σ̃', η·√(σ̃'²(σ̃² − σ̃'²)/σ̃²)),   σ̃_down = √(σ̃'² − σ̃_up²)
//   x̃' = x̃ + (σ̃_down − σ̃)·(x̃ − D)/σ̃ + s_noise·σ̃_up·z
//
// an Euler step of the PF-ODE down to σ̃_down, then noise up to σ̃'. Times α' this is the ancestral
// update (ancestral.hpp) with ε̂ = (x − αx̂0)/σ; with η = 1 it equals DDPM's fixed_small posterior.
// The step to σ̃' = 0 lands on x̂0 and draws nothing. On a flow (flow_view, the default) it is
// ComfyUI's sample_euler_ancestral_RF, which ComfyUI takes on CONST models: the split of σ' is the
// rectified-flow one (x ← (σ_down/σ)x + (1 − σ_down/σ)x̂0, then x ← (α'/α_down)x + s_noise·σ_renoise·z,
// σ_down = σ'(1 + (σ'/σ − 1)η); detail/ancestral.hpp).
#include "ferry/solvers/sde/ancestral.hpp"

namespace ferry {

/// The ancestral policy configured as Euler ancestral.
template <class T = double>
ancestral<T> euler_ancestral(T eta = 1, T s_noise = 1, bool flow_view = true) {
  return ancestral<T>({.eta = eta, .s_noise = s_noise, .variance = ancestral_variance::posterior,
                       .epsilon = epsilon_source::state, .no_noise_at_t0 = false, .flow_view = flow_view});
}

}  // namespace ferry
