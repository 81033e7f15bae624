#pragma once
// ComfyUI's offset_first_sigma_for_snr (comfy/k_diffusion/sampling.py), once for every sampler
// that calls it (dpmpp_sde, dpmpp_2m_sde, dpmpp_3m_sde, er_sde, seeds_2, seeds_3, sa_solver): on a
// rectified flow a run that starts at pure noise (σ_0 ≥ 1, where λ = log((1 − σ)/σ) = −∞) takes its
// first step from the flow level at t = 1 − percent instead,
//
//   σ_0 ← σ(1 − percent) = s·(1 − p)/(1 + (s − 1)(1 − p))      (percent_to_sigma, shift s; p = 1e-4)
//
// while the state stays σ_0·z: the first model call and every coefficient of that step (and the
// history later steps keep of it) use the offset level. A wrapper around any policy; it changes
// nothing off a flow (detail/comfy_view.hpp's rule) or below σ = 1.
#include <cmath>
#include <utility>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"

namespace ferry {

namespace detail {
// A wrapper re-declares the properties the driver reads from the policy it wraps.
template <class S>
struct stochastic_trait {};
template <class S>
  requires requires { S::stochastic; }
struct stochastic_trait<S> {
  static constexpr bool stochastic = S::stochastic;
};
template <class S>
struct noise_checked_trait {};
template <class S>
  requires requires { S::noise_checked_per_step; }
struct noise_checked_trait<S> {
  static constexpr bool noise_checked_per_step = S::noise_checked_per_step;
};
template <class S>
struct couples_rows_trait {};
template <class S>
  requires requires { S::couples_rows; }
struct couples_rows_trait<S> {
  static constexpr bool couples_rows = S::couples_rows;
};
template <class S>
struct forwarded_traits : stochastic_trait<S>, noise_checked_trait<S>, couples_rows_trait<S> {};
}  // namespace detail

template <class Solver>
struct offset_first_sigma : detail::forwarded_traits<Solver> {
  static constexpr int order = Solver::order, evals_per_step = Solver::evals_per_step;

  Solver inner;
  double percent = 1e-4;  ///< ComfyUI's percent_offset

  offset_first_sigma() = default;
  explicit offset_first_sigma(Solver s, double percent_offset = 1e-4) : inner(std::move(s)), percent(percent_offset) {
    if (!(percent > 0 && percent < 1))
      throw config_error(detail::cat("offset_first_sigma: percent_offset = ", percent, "; expected 0 < percent_offset < 1"));
  }

  void reset(extent e) { inner.reset(e); }
  /// Whether the inner policy draws noise with its options (stochastic policies without the query always do).
  bool draws_noise() const {
    if constexpr (requires { inner.draws_noise(); }) return inner.draws_noise();
    else if constexpr (requires { Solver::stochastic; }) return bool(Solver::stochastic);
    else return false;
  }
  /// The inner policy checks the schedule as it will run it, with the offset first level. The
  /// check has no process, so it takes the flow's shift s from the second level (σ = s·t/(1 + (s − 1)t)
  /// ⇒ s = σ(1 − t)/(t(1 − σ))); the step itself asks the process, so the two agree to rounding.
  template <class T>
  void check(const schedule<T>& s) {
    if constexpr (requires { inner.check(s); }) {
      if (s.steps() < 1 || !applies(s.step(0))) return inner.check(s);
      schedule<T> o = s;
      const level<T>& l = s.points[1];
      if (l.t > 0 && l.t < 1 && l.sigma > 0) {
        const T shift = l.sigma * (1 - l.t) / (l.t * (1 - l.sigma)), t = T(1 - percent);
        o.points[0] = flow_level<T>(shift * t / (1 + (shift - 1) * t), t);
      }
      inner.check(o);
    }
  }

  template <class Problem, class T>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    if (!s.first() || !applies(s)) return inner.step(p, s, x);
    step_span<T> o = s;
    const level<T> at = p.at(T(1 - percent));  // the flow's σ(1 − p): ComfyUI's time_snr_shift, same operations
    o.cur = flow_level<T>(at.sigma, at.t, at.d_alpha, at.d_sigma);
    inner.step(p, o, x);
  }

 private:
  template <class T>
  static bool applies(const step_span<T>& s) { return detail::on_flow(s) && s.cur.sigma >= 1; }
  template <class T>
  static level<T> flow_level(T sigma, T t, T d_alpha = 0, T d_sigma = 0) {
    return level<T>::make(1 - sigma, sigma, t, d_alpha, d_sigma);  // α = 1 − σ, λ = log((1 − σ)/σ)
  }
};

/// `solver` with ComfyUI's first-σ offset on flows.
template <class Solver>
offset_first_sigma<Solver> with_first_sigma_offset(Solver solver, double percent_offset = 1e-4) {
  return offset_first_sigma<Solver>(std::move(solver), percent_offset);
}

}  // namespace ferry
