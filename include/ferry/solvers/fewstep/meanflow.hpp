#pragma once
// One-step and few-step sampling with an average-velocity model (Geng, Deng, Bai, Kolter & He 2025,
// "Mean Flows for One-step Generative Modeling", Eq. 3 and Alg. 2): the model gives
//
//   u(z_t, r, t) = 1/(t − r) ∫_r^t v(z_τ, τ) dτ,      the displacement per unit time over [r, t]
//
// in the process's own time, and each step is exact for an exact u:
//
//   z_r = z_t − (t − r)·u(z_t, r, t)
//
// The model is reached through the problem (pf_ode::average_velocity counts it as one evaluation),
// so the concept below is what a model needs for this solver. Order: exact for an exact u at any
// step count; the accuracy of a learned u depends on its training, not on the step count.
#include <array>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

/// A model that also gives the average velocity u(z, r, t) over [r, t] (r the less noisy level).
template <class U, class T>
concept average_velocity_model =
    model<U, T> && requires(U& u, const_batch_view<T> z, const level<T>& r, const level<T>& t, batch_view<T> out) {
      u.average_velocity(z, r, t, out);
    };

template <class T = double>
struct meanflow {
  static constexpr int order = 1, evals_per_step = 1;

  void reset(extent e) { u_.resize(e); }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    p.average_velocity(x, s.next, s.cur, u_.view());                           // u(z_t, r, t)
    simd::lincomb<T, 2>(x.span(), {T(1), -(s.cur.t - s.next.t)}, {x.data, u_.data()});  // z_r = z_t − (t − r)·u
  }

 private:
  batch<T> u_;
};

}  // namespace ferry
