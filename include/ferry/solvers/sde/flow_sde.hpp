#pragma once
// The flow-matching SDE: Euler–Maruyama (euler_maruyama.hpp) on the η-family with the diffusion
// g² = dσ²/dt = 2σσ' instead of the forward SDE's (which is infinite at pure noise, α = 0). For the
// rectified flow x_t = (1 − t)·x0 + t·ε (σ = t, σ' = 1) and a velocity model v̂ = ε̂ − x̂0:
//
//   ε̂ = x + (1 − t)·v̂,   ∇log p_t = −ε̂/t = −(x + (1 − t)·v̂)/t,   g = √(2t)
//   dx = [v̂ − (η²/2)·g²·∇log p_t] dt + η·g dW̄ = [v̂ + η²·(x + (1 − t)·v̂)] dt + η·√(2t) dW̄
//
// The drift's score term stays finite at t = 1 and g → 0 at the data, so the sampler starts at pure
// noise. η = 0 is the flow's Euler sampler. Any other process works the same way (g² = 2σσ').
#include "ferry/solvers/sde/euler_maruyama.hpp"

namespace ferry {

/// Euler–Maruyama configured as the flow SDE.
template <class T = double>
euler_maruyama<T> flow_sde(T eta = 1) {
  return euler_maruyama<T>({.eta = eta, .diffusion = sde_diffusion::sigma_rate});
}

}  // namespace ferry
