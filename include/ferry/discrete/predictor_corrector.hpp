#pragma once
// Predictor–corrector τ-leaping (Campbell et al. 2022, §4.2): after each τ-leaping predictor step
// from t to s, C corrector leaps at time s with the rates R̂_s + R_s (reverse plus forward), a
// chain whose stationary law is p_s, each of length τ_c = corrector_size·τ:
//
//   x ← leap(x; R̂_s + R_s, τ_c)   C times      (detail/leap.hpp, τ-leaping rule)
//
// Corrector c draws from streams corrector + 2c (token) and + 2c + 1 (coin). No corrector after
// the last (denoising) step. NFE = K + C·(K − 1) per block.
#include <cmath>
#include <cstddef>

#include "ferry/discrete/detail/leap.hpp"

namespace ferry::discrete {

struct predictor_corrector {
  static constexpr const char* name = "pc";
  static constexpr bool masked_only = false;
  std::size_t corrector_steps = 1;
  double corrector_size = 1;  ///< τ_c / τ

  void validate() const {
    if (!(corrector_size > 0) || !std::isfinite(corrector_size))
      throw config_error(detail::cat("pc: corrector step size ", corrector_size, "; expected a finite value > 0"));
  }
  template <class Ctx>
  void reset(Ctx&) {}

  template <class Ctx>
  void step(Ctx& ctx, const step_info& st, token_view x) {
    const noise_level lv = ctx.level(st.t);
    ctx.posterior(x, lv);
    if (st.last) return detail::denoise(ctx, x, st);
    const double tau = st.t - st.s;
    detail::leap(ctx, x, st, lv, tau, jump_rule::tau_leaping, false, draw_stream::coin, draw_stream::token);
    const noise_level ls = ctx.level(st.s);
    for (std::size_t c = 0; c < corrector_steps; ++c) {
      ctx.posterior(x, ls);
      const auto stream = draw_stream::corrector + 2 * std::uint32_t(c);
      detail::leap(ctx, x, st, ls, corrector_size * tau, jump_rule::tau_leaping, true, stream + 1, stream);
    }
  }
};

}  // namespace ferry::discrete
