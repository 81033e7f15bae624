#pragma once
// Euler on the reverse CTMC (Campbell et al. 2022, "A Continuous Time Framework for Discrete
// Denoising Models", §4.1; SEDD's Euler sampler, Lou et al. 2024, Alg. 2), either kernel. Every
// position of x_t leaps from t to s = t − τ independently with its rates frozen at t:
//
//   total rate Λ = Σ_{j ≠ x} R̂_t(x → j)        (detail/leap.hpp)
//   P(move) = min(1, τΛ)                         the first-order step, clipped to a probability
//   target j ∝ R̂_t(x → j)
//
// The last step (s = 0) is the denoising step: noised positions are drawn from p(x0 | x_t).
// NFE = K (per block).
#include "ferry/discrete/detail/leap.hpp"

namespace ferry::discrete {

using euler = detail::frozen_rate_sampler<jump_rule::euler>;

}  // namespace ferry::discrete
