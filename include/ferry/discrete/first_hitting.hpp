#pragma once
// The first-hitting sampler of masked diffusion (Zheng et al. 2024, "Masked Diffusion Models are
// Secretly Time-Agnostic Masked Models and Exploit Inaccurate Categorical Sampling", §4, FHS).
// Given n masked positions at time t, each unmasks (in reverse time) independently with
// P(still masked at s) = (1 − α_s)/(1 − α_t), so the first of them unmasks at the s with
//
//   α_s = 1 − (1 − α_t)·u^{1/n},     u ~ U(0, 1),
//
// at a masked position chosen uniformly, with its token drawn from p(x0^ℓ | x_t). One event per
// token: exactly n steps and n model calls, no time discretisation — with an exact model the
// output follows the data law exactly. Event e of a block starting at lo keys its draws with
// step = lo + e: coin stream → u, position stream → which mask, token stream → the token.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "ferry/discrete/categorical.hpp"
#include "ferry/discrete/denoiser.hpp"
#include "ferry/discrete/schedule.hpp"

namespace ferry::discrete {

struct first_hitting {
  static constexpr const char* name = "first-hitting";
  static constexpr bool masked_only = true;
  static constexpr bool event_driven = true;
  void validate() const {}
  template <class Ctx>
  void reset(Ctx& ctx) {
    t_.assign(ctx.rows(), 1.0);
    masks_.assign(ctx.rows(), 0);
  }

  template <class Ctx>
  void run_block(Ctx& ctx, token_view x, std::size_t lo, std::size_t hi) {
    const int mask = ctx.kernel().mask();
    const alpha_schedule& sched = ctx.process().schedule;
    std::fill(t_.begin(), t_.end(), 1.0);  // every block starts from pure noise
    std::size_t most = 0;
    for (std::size_t i = 0; i < x.rows; ++i) {
      masks_[i] = std::size_t(std::count(x.row(i).begin() + std::ptrdiff_t(lo), x.row(i).begin() + std::ptrdiff_t(hi), mask));
      most = std::max(most, masks_[i]);
    }
    for (std::size_t e = 0; e < most; ++e) {
      const auto event = std::uint32_t(lo + e);
      for (std::size_t i = 0; i < x.rows; ++i) {
        if (e >= masks_[i]) continue;
        const std::size_t remaining = masks_[i] - e;
        const double alpha_t = ctx.level(t_[i]).alpha;
        const double u = ctx.uniform(i, event, draw_stream::coin, 0);
        const double alpha_s = 1 - (1 - alpha_t) * std::pow(u, 1 / double(remaining));
        t_[i] = std::clamp(sched.t_of_alpha(alpha_s), 0.0, t_[i]);
        ctx.posterior_row(x, i, ctx.level(t_[i]));
        auto pick = std::size_t(ctx.uniform(i, event, draw_stream::position, 0) * double(remaining));
        std::size_t l = lo;
        for (;; ++l)  // the pick-th masked position of the block
          if (x(i, l) == mask && pick-- == 0) break;
        x(i, l) = std::int32_t(ctx.draw(ctx.pi(i, l), i, event, draw_stream::token, l));
        ctx.changed(i);
      }
    }
  }

 private:
  std::vector<double> t_;
  std::vector<std::size_t> masks_;  // masks of each row's block when it starts
};

}  // namespace ferry::discrete
