#pragma once
// Exact ancestral sampling of masked diffusion (MDLM, Sahoo et al. 2024, Eq. 7 / §3.3; MD4, Shi et
// al. 2024, Alg. 2). From t to s, per masked position:
//
//   unmask with probability (α_s − α_t)/(1 − α_t), to x0^ℓ ~ p(x0^ℓ | x_t);  unmasked tokens stay.
//
// With caching (on by default): p(x0 | x_t) of the masked kernel does not depend on t, so a row
// whose tokens did not change keeps its last model output — with K ≫ L most steps change
// nothing, and a row needs at most (its number of unmasking steps + 1) evaluations. NFE ≤ K.
#include "ferry/discrete/detail/leap.hpp"

namespace ferry::discrete {

struct ancestral {
  static constexpr const char* name = "ancestral";
  static constexpr bool masked_only = true;
  bool cache = true;
  void validate() const {}
  template <class Ctx>
  void reset(Ctx&) {}

  template <class Ctx>
  void step(Ctx& ctx, const step_info& st, token_view x) {
    const noise_level lt = ctx.level(st.t), ls = ctx.level(st.s);
    ctx.posterior(x, lt, cache);
    const double unmask = (ls.alpha - lt.alpha) / (1 - lt.alpha);  // 1 on the last step (α_0 = 1)
    const int mask = ctx.kernel().mask();
    for (std::size_t i = 0; i < x.rows; ++i)
      for (std::size_t l = st.lo; l < st.hi; ++l)
        if (x(i, l) == mask) ctx.jump(x, i, l, unmask, ctx.pi(i, l), st.index);
  }
};

}  // namespace ferry::discrete
