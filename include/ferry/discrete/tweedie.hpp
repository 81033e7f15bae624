#pragma once
// The analytic ("Tweedie τ-leaping") sampler of SEDD (Lou et al. 2024, §4.2, Eq. 19), either
// kernel: each position moves to its exact one-step reverse law given the current π,
//
//   p(x_s^ℓ = j | x_t) = Σ_v π_v·q(x_s = j | x_t, x0 = v)        (reverse.hpp)
//
// masked:  a masked position unmasks with (α_s − α_t)/(1 − α_t) to j ∝ π_j (MDLM's step);
// uniform: stay with p_x, else move to j ≠ x ∝ p_j.
// Exact per position; the only error is that positions move independently within a step.
// NFE = K (per block).
#include "ferry/discrete/detail/leap.hpp"

namespace ferry::discrete {

struct tweedie {
  static constexpr const char* name = "tweedie";
  static constexpr bool masked_only = false;
  void validate() const {}
  template <class Ctx>
  void reset(Ctx&) {}

  template <class Ctx>
  void step(Ctx& ctx, const step_info& st, token_view x) {
    const noise_level lt = ctx.level(st.t), ls = ctx.level(st.s);
    ctx.posterior(x, lt);
    if (st.last) return detail::denoise(ctx, x, st);
    const kernel& k = ctx.kernel();
    const double unmask = (ls.alpha - lt.alpha) / (1 - lt.alpha);
    for (std::size_t i = 0; i < x.rows; ++i)
      for (std::size_t l = st.lo; l < st.hi; ++l) {
        const int xl = x(i, l);
        if (ctx.given(i, l)) continue;
        if (k.masked()) {
          if (xl == k.mask()) ctx.jump(x, i, l, unmask, ctx.pi(i, l), st.index);
          continue;
        }
        const std::span<double> p = ctx.scratch();
        uniform_tweedie(ctx.pi(i, l), xl, lt.alpha, ls.alpha, p);
        double total = 0;
        for (double v : p) total += v;
        ctx.jump(x, i, l, 1 - p[std::size_t(xl)] / total, p, st.index);
      }
  }
};

}  // namespace ferry::discrete
