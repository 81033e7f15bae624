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

struct euler {
  static constexpr const char* name = "euler";
  static constexpr bool masked_only = false;
  void validate() const {}
  template <class Ctx>
  void reset(Ctx&) {}

  template <class Ctx>
  void step(Ctx& ctx, const step_info& st, token_view x) {
    const noise_level lv = ctx.level(st.t);
    ctx.posterior(x, lv);
    if (st.last) return detail::denoise(ctx, x, st);
    detail::leap(ctx, x, st, lv, st.t - st.s, jump_rule::euler, false, draw_stream::coin, draw_stream::token);
  }
};

}  // namespace ferry::discrete
