#pragma once
// The pieces the CTMC samplers share: one leap of every position in a block over τ with frozen
// rates, and the final denoising step onto the data.
//
// Reverse rates (Campbell et al. 2022, Prop. 1: R̂_t(x, y) = R_t(y, x)·p_t(y)/p_t(x)), per position:
//   masked, from m:  R̂(m → j) = −α'_t/(1 − α_t)·π_j
//   uniform:         R̂(x → j) = σ̄'_t/V·s_j,      σ̄' = −α'_t/α_t, s the concrete score (reverse.hpp)
// A corrector leap (Campbell et al. §4.2) adds the forward rates, R̂ + R, whose chain leaves p_t
// invariant: masked v → m at σ̄'_t, uniform x → j at σ̄'_t/V. Given tokens never move.
#include <cstddef>
#include <cstdint>

#include "ferry/discrete/categorical.hpp"
#include "ferry/discrete/denoiser.hpp"
#include "ferry/discrete/kernel.hpp"
#include "ferry/discrete/reverse.hpp"
#include "ferry/discrete/step_info.hpp"

namespace ferry::discrete::detail {
using ferry::detail::cat;  // discrete headers write detail::cat from namespace ferry::discrete

/// One leap of length τ at level lv over positions [st.lo, st.hi); π must be current.
template <class Ctx>
void leap(Ctx& ctx, token_view x, const step_info& st, const noise_level& lv, double tau, jump_rule rule, bool corrector,
          std::uint32_t coin, std::uint32_t token) {
  const kernel& k = ctx.kernel();
  const double unmask_rate = -lv.d_alpha / (1 - lv.alpha);  // masked: Σ_j R̂(m → j), Σπ = 1
  const double forward_rate = -lv.d_alpha / lv.alpha;       // σ̄'_t
  for (std::size_t i = 0; i < x.rows; ++i)
    for (std::size_t l = st.lo; l < st.hi; ++l) {
      const int xl = x(i, l);
      if (ctx.given(i, l)) continue;
      if (k.masked()) {
        if (xl == k.mask()) {
          ctx.jump(x, i, l, move_probability(rule, tau * unmask_rate), ctx.pi(i, l), st.index, coin, token);
        } else if (corrector && ctx.uniform(i, st.index, coin, l) < move_probability(rule, tau * forward_rate)) {
          x(i, l) = k.mask();  // the forward rate's only target
          ctx.changed(i);
        }
        continue;
      }
      const std::span<double> s = ctx.scratch();
      uniform_ratios(ctx.pi(i, l), xl, lv.alpha, s);
      double total = 0;
      for (std::size_t j = 0; j < s.size(); ++j) {
        if (corrector) s[j] += 1;  // R̂ + R ∝ s_j + 1
        if (int(j) != xl) total += s[j];
      }
      ctx.jump(x, i, l, move_probability(rule, tau * forward_rate / double(s.size()) * total), s, st.index, coin, token);
    }
}

/// The last step onto t = 0: every noised position (masked: every mask; uniform: every position
/// not given) is drawn from π = p(x0 | x_t) (SEDD's final denoising step; MDLM's last ancestral step).
template <class Ctx>
void denoise(Ctx& ctx, token_view x, const step_info& st) {
  const kernel& k = ctx.kernel();
  for (std::size_t i = 0; i < x.rows; ++i)
    for (std::size_t l = st.lo; l < st.hi; ++l) {
      if ((k.masked() && x(i, l) != k.mask()) || ctx.given(i, l)) continue;
      x(i, l) = std::int32_t(ctx.draw(ctx.pi(i, l), i, st.index, draw_stream::token, l));
      ctx.changed(i);
    }
}

/// The frozen-rate samplers (Euler and τ-leaping; the rule decides P(move)): every position leaps
/// from t to s with its rates frozen at t, and the last step (s = 0) denoises.
template <jump_rule Rule>
struct frozen_rate_sampler {
  static constexpr const char* name = Rule == jump_rule::euler ? "euler" : "tau-leaping";
  static constexpr bool masked_only = false;
  void validate() const {}
  template <class Ctx>
  void reset(Ctx&) {}

  template <class Ctx>
  void step(Ctx& ctx, const step_info& st, token_view x) {
    const noise_level lv = ctx.level(st.t);
    ctx.posterior(x, lv);
    if (st.last) return denoise(ctx, x, st);
    leap(ctx, x, st, lv, st.t - st.s, Rule, false, draw_stream::coin, draw_stream::token);
  }
};

}  // namespace ferry::discrete::detail
