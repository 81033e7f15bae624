#pragma once
// τ-leaping on the reverse CTMC (Campbell et al. 2022, §4.1), either kernel. Every position of x_t
// leaps from t to s = t − τ independently with its rates frozen at t, its Poisson clocks run for τ:
//
//   total rate Λ = Σ_{j ≠ x} R̂_t(x → j)        (detail/leap.hpp)
//   P(move) = τΛ·e^{−τΛ}                         exactly one clock rings (two or more: the token stays)
//   target j ∝ R̂_t(x → j)
//
// The last step (s = 0) is the denoising step: noised positions are drawn from p(x0 | x_t).
// NFE = K (per block).
#include "ferry/discrete/detail/leap.hpp"

namespace ferry::discrete {

using tau_leaping = detail::frozen_rate_sampler<jump_rule::tau_leaping>;

}  // namespace ferry::discrete
