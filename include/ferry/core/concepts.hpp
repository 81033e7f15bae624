#pragma once
// The three things a user composes — a model, a noise process, a solver policy — are concepts,
// not base classes.
#include <concepts>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/core/level.hpp"
#include "ferry/core/prediction.hpp"

namespace ferry {

/// A network or oracle: writes its prediction for state x at level lv into out, and declares
/// which kind of prediction that is (a static constexpr or a runtime member).
template <class M, class T>
concept model = requires(M& m, const_batch_view<T> x, const level<T>& lv, batch_view<T> out) {
  { m.predicts } -> std::convertible_to<prediction>;
  m(x, lv, out);
};

/// A vector field dx/dt = f(t, x) written into the caller's dxdt (Boost.Odeint's system).
template <class F, class T>
concept vector_field = requires(F& f, T t, const_batch_view<T> x, batch_view<T> dxdt) { f(t, x, dxdt); };

/// A continuous noise process x_t = α(t)·x0 + σ(t)·ε on [t_min, t_max], t = t_min nearest data.
/// λ(t) = log(α/σ) is strictly decreasing in t and t_of_lambda is its inverse.
template <class P>
concept noise_process = requires(const P& p, typename P::value_type t) {
  typename P::value_type;
  { p.alpha(t) } -> std::convertible_to<typename P::value_type>;
  { p.sigma(t) } -> std::convertible_to<typename P::value_type>;
  { p.d_alpha(t) } -> std::convertible_to<typename P::value_type>;
  { p.d_sigma(t) } -> std::convertible_to<typename P::value_type>;
  { p.lambda(t) } -> std::convertible_to<typename P::value_type>;
  { p.t_of_lambda(t) } -> std::convertible_to<typename P::value_type>;
  { p.t_min() } -> std::convertible_to<typename P::value_type>;
  { p.t_max() } -> std::convertible_to<typename P::value_type>;
};

/// The level of a process at time t, derivatives included.
template <noise_process P>
level<typename P::value_type> level_at(const P& p, typename P::value_type t) {
  return {t, p.alpha(t), p.sigma(t), p.lambda(t), p.d_alpha(t), p.d_sigma(t)};
}

/// Drift coefficient f(t) of the forward SDE dx = f(t)·x dt + g(t) dW:  f = α'/α.
template <noise_process P>
typename P::value_type drift(const P& p, typename P::value_type t) {
  return p.d_alpha(t) / p.alpha(t);
}

/// Diffusion coefficient g(t):  g² = dσ²/dt − 2·f·σ² = 2σσ' − 2(α'/α)σ²  (Song et al. 2021, Eq. 5–6 with
/// Kingma et al. 2021's parameterisation).
template <noise_process P>
typename P::value_type diffusion(const P& p, typename P::value_type t) {
  using std::sqrt;
  const auto s = p.sigma(t);
  return sqrt(2 * s * p.d_sigma(t) - 2 * drift(p, t) * s * s);
}

/// A solver policy: declares its order and model evaluations per step and sizes its buffers in
/// reset() (called at the start of every sampling run, so history never leaks across runs).
template <class S>
concept solver_policy = requires(S& s, extent e) {
  { S::order } -> std::convertible_to<int>;
  { S::evals_per_step } -> std::convertible_to<int>;
  s.reset(e);
};

}  // namespace ferry
