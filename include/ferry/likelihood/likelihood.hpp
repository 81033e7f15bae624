#pragma once
// log p_0(x) through the probability-flow ODE (Song et al. 2021, §4.3 and App. D.2; Chen et al.
// 2018; Grathwohl et al. 2019, FFJORD). Along the PF-ODE dx/dt = v(t, x) (driver/pf_ode.hpp) the
// density obeys the instantaneous change of variables d log p_t(x(t))/dt = −div v(t, x(t)), so
// integrating the augmented state [x, ℓ] from t_min (the data) to T (the noise),
//
//   dx/dt = v(t, x),   dℓ/dt = div v(t, x),   ℓ(t_min) = 0,
//   log p_0(x) ≈ log p_T(x_T) + ℓ(T),           log p_T ≈ log N(x_T; 0, σ_T²·I).
//
// Two approximations remain besides the solver's tolerance: p_{t_min} stands for p_0 (t_min = 1e-5
// by default, as Song et al.), and the prior N(0, σ_T²·I) ignores the data's share α_T·x0 of x_T.
// That is exact for flow (α_T = 0 at t = 1); for VP (α_T ≈ 6.6e-3 for vp-linear, 8.4e-3 for
// vp-cosine) and VE (σ_T = 50, α = 1) it leaves the bias log N(x_T; 0, σ_T²) − log p_T(x_T), which
// prior_bias() reports when p_T is known (docs/likelihood.md gives measured values).
//
// The augmented problem is stepped by the one driver, ferry::sample, from t_min up to T. The
// driver's schedule check asks λ to increase along a run; a run toward noise has λ decreasing, so
// its levels carry −λ (toward_noise_level). Native-time Runge–Kutta steppers read t, α, σ, α', σ'
// only, and the augmented problem hands the model the process's own levels. Any Runge–Kutta policy
// in native time works: dopri5 (default,
// adaptive; its error norm covers ℓ too, as FFJORD's), rk4, heun, midpoint, euler. Solvers that ask
// for x̂0 or ε̂ (DDIM, DPM-Solver, UniPC, DEIS) have no meaning on ℓ and do not compile here.
// The divergence is exact_divergence (2D evaluations) or hutchinson_divergence (2K) from
// likelihood/divergence.hpp. Works for any prediction kind, flow-matching velocity models included.
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <span>
#include <type_traits>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/likelihood/divergence.hpp"
#include "ferry/solvers/ode/explicit_rk.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

/// The PF-ODE augmented with ℓ: rows [x, ℓ] of width D + 1, for Runge–Kutta steppers in native time.
template <class Inner, class Divergence>
class augmented_pf_ode {
 public:
  using T = typename Inner::value_type;
  using value_type = T;

  augmented_pf_ode(Inner& inner, Divergence& div) : inner_(inner), div_(div) {}

  void reset(extent e) {
    if (e.cols < 2) throw shape_error(detail::cat("augmented_pf_ode: state has ", e.cols, " columns; expected D + 1 >= 2"));
    const extent xe{e.rows, e.cols - 1};
    inner_.reset(xe);
    div_.reset(xe);
    x_.resize(xe);
    v_.resize(xe);
    d_.resize(e.rows);
  }
  std::size_t nfe() const { return inner_.nfe(); }
  const auto& process() const { return inner_.process(); }
  level<T> at(T t) const { return inner_.at(t); }

  /// [dx/dt, dℓ/dt] = [v, div v] at the level lv (whose λ is not read: see toward_noise_level).
  void velocity(const_batch_view<T> y, const level<T>& at_t, batch_view<T> k) {
    const level<T> lv = inner_.at(at_t.t);  // the process's own level, λ included, for the model
    const std::size_t n = y.rows, d = y.cols - 1;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d; ++j) x_.view()(i, j) = y(i, j);
    inner_.velocity(x_.view(), lv, v_.view());
    div_([&](const_batch_view<T> x, batch_view<T> out) { inner_.velocity(x, lv, out); }, x_.view(), std::span<T>(d_));
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < d; ++j) k(i, j) = v_.view()(i, j);
      k(i, d) = d_[i];
    }
  }
  void operator()(T t, const_batch_view<T> y, batch_view<T> k) { velocity(y, at(t), k); }
  // x̂0 and ε̂ have no meaning on ℓ: Runge–Kutta steppers ask for them only in σ or λ time (which
  // log_likelihood refuses up front) or when landing on σ = 0 (never, toward noise).
  void epsilon(const_batch_view<T>, const level<T>&, batch_view<T>) { refuse(); }
  void data(const_batch_view<T>, const level<T>&, batch_view<T>) { refuse(); }

 private:
  [[noreturn]] static void refuse() {
    throw config_error("augmented_pf_ode: only Runge-Kutta steppers in native time integrate the likelihood ODE");
  }

  Inner& inner_;
  Divergence& div_;
  batch<T> x_, v_;
  std::vector<T> d_;
};

/// A level of a run toward noise: the same t, α, σ, α', σ' with λ negated, so that the schedule of
/// t_min → T passes the driver's check (λ increasing along a run). Only native-time Runge–Kutta
/// steppers, which never read λ, may step such a schedule.
template <class T>
level<T> toward_noise_level(level<T> lv) {
  lv.lambda = -lv.lambda;
  return lv;
}

template <class T = double>
struct likelihood_options {
  T t_min = T(1e-5);                                   ///< where the data sits (p_{t_min} ≈ p_0)
  T t_max = std::numeric_limits<T>::quiet_NaN();       ///< where the prior sits; NaN: the process's t_max()
  std::size_t steps = 1;                               ///< schedule intervals, uniform in t (1 suits dopri5)
};

template <class T = double>
struct likelihood_stats {
  std::size_t steps = 0, nfe = 0;  ///< schedule steps; model evaluations per row (divergence included)
  level<T> start, end;             ///< the levels at t_min and at T
};

/// log N(x; 0, σ²·I) of one row.
template <class T>
T log_normal_prior(std::span<const T> x, T sigma) {
  T q = 0;
  for (T v : x) q += v * v;
  return -T(0.5) * q / (sigma * sigma) - T(x.size()) * (std::log(sigma) + T(0.5) * std::log(2 * std::numbers::pi_v<T>));
}

/// log p_0 of each row of x into logp (nats), optionally the endpoints x_T into x_end (N×D).
template <class Solver, noise_process P, class M, class Divergence, class T = typename P::value_type>
  requires model<M, T>
likelihood_stats<T> log_likelihood(M& model, const P& process, Solver& solver, Divergence& div,
                                   std::type_identity_t<const_batch_view<T>> x, std::type_identity_t<std::span<T>> logp,
                                   likelihood_options<T> opt = {}, std::type_identity_t<batch_view<T>> x_end = {}) {
  if (logp.size() != x.rows) throw shape_error(detail::cat("log_likelihood: ", logp.size(), " outputs for ", x.rows, " rows"));
  if (x_end.data && x_end.shape() != x.shape())
    throw shape_error(detail::cat("log_likelihood: x_end is ", x_end.rows, "x", x_end.cols, ", expected ", x.rows, "x", x.cols));
  const T t_max = std::isnan(opt.t_max) ? process.t_max() : opt.t_max;
  if (!(opt.t_min > 0) || !(opt.t_min < t_max) || !(t_max <= process.t_max()))
    throw config_error(detail::cat("log_likelihood: need 0 < t_min < t_max <= ", process.t_max(), ", got t_min=", opt.t_min,
                                   ", t_max=", t_max));
  if (opt.steps < 1) throw config_error("log_likelihood: steps must be at least 1");
  if constexpr (requires { solver.opt.time; })
    if (solver.opt.time != ode_time::native)
      throw config_error("log_likelihood: the solver must integrate in native time (ode_time::native)");
  std::vector<level<T>> levels;
  for (std::size_t i = 0; i <= opt.steps; ++i)
    levels.push_back(level_at(process, i == opt.steps ? t_max : opt.t_min + (t_max - opt.t_min) * T(i) / T(opt.steps)));
  for (auto& lv : levels) lv = toward_noise_level(lv);
  const schedule<T> sched = make_schedule(std::move(levels));

  const std::size_t n = x.rows, d = x.cols;
  batch<T> y(n, d + 1);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j) y.view()(i, j) = x(i, j);
    y.view()(i, d) = 0;
  }
  pf_ode<P, M> inner(process, model);
  augmented_pf_ode<pf_ode<P, M>, Divergence> problem(inner, div);
  const sample_stats st = ferry::sample(problem, sched, solver, y.view());
  const T sigma_T = sched.points.back().sigma;
  const level<T> start = level_at(process, opt.t_min), end = level_at(process, t_max);
  for (std::size_t i = 0; i < n; ++i) {
    const auto row = y.view().row(i);
    logp[i] = log_normal_prior<T>(std::span<const T>(row.data(), d), sigma_T) + row[d];
    if (x_end.data)
      for (std::size_t j = 0; j < d; ++j) x_end(i, j) = row[j];
  }
  return {st.steps, st.nfe, start, end};
}

/// The prior's bias at one endpoint: log N(x_T; 0, σ_T²·I) − log p_T(x_T), for a model whose
/// marginal p_T is known (log_prob_T(x) = log p_T(x), e.g. gaussian_mixture::log_prob at α_T, σ_T).
template <class T, class LogProb>
T prior_bias(std::span<const T> x_T, T sigma_T, LogProb&& log_prob_T) {
  return log_normal_prior<T>(x_T, sigma_T) - log_prob_T(x_T);
}

}  // namespace ferry
