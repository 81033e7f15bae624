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

struct tau_leaping {
  static constexpr const char* name = "tau-leaping";
  static constexpr bool masked_only = false;
  void validate() const {}
  template <class Ctx>
  void reset(Ctx&) {}

  template <class Ctx>
  void step(Ctx& ctx, const step_info& st, token_view x) {
    const noise_level lv = ctx.level(st.t);
    ctx.posterior(x, lv);
    if (st.last) return detail::denoise(ctx, x, st);
    detail::leap(ctx, x, st, lv, st.t - st.s, jump_rule::tau_leaping, false, draw_stream::coin, draw_stream::token);
  }
};

}  // namespace ferry::discrete
