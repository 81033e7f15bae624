#pragma once
// DDIM with η = 0 (Song, Meng & Ermon 2021, Eq. 12 with σ_t = 0): the deterministic step
//   x_next = α_next·x̂0 + σ_next·ε̂
// with x̂0 and ε̂ from one model evaluation. Without a data transform this is
//   (σ_next/σ_cur)·x + (α_next − σ_next·α_cur/σ_cur)·x̂0,
// DPM-Solver++(1) (−α_next·expm1(−h) = α_next − σ_next·α_cur/σ_cur) and DPM-Solver(1). With clipping
// or dynamic thresholding, x̂0 is transformed and ε̂ is not — diffusers' DDIMScheduler.step, which we
// follow (DPM-Solver derives ε̂ from the transformed x̂0 instead). The landing level (t − T/n, or
// set_alpha_to_one) comes from the schedule's landings. Order 1, one model evaluation per step.
#include <array>

#include "ferry/core/batch.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

template <class T = double>
struct ddim {
  static constexpr int order = 1, evals_per_step = 1;

  void reset(extent e) {
    x0_.resize(e);
    eps_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    p.data_and_epsilon(x, s.cur, x0_.view(), eps_.view());
    simd::lincomb<T, 2>(x.span(), {s.next.alpha, s.next.sigma}, {x0_.data(), eps_.data()});  // Eq. 12, η = 0
  }

 private:
  batch<T> x0_, eps_;
};

}  // namespace ferry
