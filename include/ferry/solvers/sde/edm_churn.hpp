#pragma once
// Stochastic churn (Karras et al. 2022, Alg. 2, lines 4–6; k-diffusion sample_euler / sample_heun
// with s_churn): before each step, raise the noise level by a factor 1 + γ and add the matching noise,
// then take the deterministic step of the wrapped solver from the raised level:
//
//   γ = min(S_churn/N, √2 − 1) if S_tmin ≤ σ̃ ≤ S_tmax else 0                      (N: steps in the run)
//   σ̂ = (1 + γ)·σ̃,   x̃̂ = x̃ + √(σ̂² − σ̃²)·S_noise·z                               (EDM view x̃ = x/α)
//   x_next = Solver.step(σ̂ → σ̃_next, x̂)
//
// In the model's view the raised state is x̂ = (α̂/α)·x + α̂·√(σ̂² − σ̃²)·S_noise·z, with α̂ the
// process's α at σ̂ (1 for EDM/VE). The wrapped solver is any one-step solver (euler, heun, …);
// the noise is step i's one normal array, drawn only where γ > 0 (k-diffusion draws it every step).
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

struct churn_options {
  double s_churn = 0;                                           ///< S_churn: total churn over the run
  double s_tmin = 0;                                            ///< churn only where σ̃ ≥ S_tmin
  double s_tmax = std::numeric_limits<double>::infinity();      ///< … and σ̃ ≤ S_tmax
  double s_noise = 1;                                           ///< S_noise: scale of the added noise
};

template <class Solver, class T = double>
struct edm_churn {
  static constexpr int order = Solver::order, evals_per_step = Solver::evals_per_step;
  static constexpr bool stochastic = true;

  Solver inner;
  churn_options opt;

  edm_churn(Solver s, churn_options o) : inner(std::move(s)), opt(o) {
    detail::check_noise_scale("churn", "s_churn", opt.s_churn);
    detail::check_noise_scale("churn", "s_noise", opt.s_noise);
    if (!(opt.s_tmin >= 0) || !(opt.s_tmax >= opt.s_tmin))
      throw config_error(detail::cat("churn: need 0 <= s_tmin <= s_tmax, got s_tmin=", opt.s_tmin, ", s_tmax=", opt.s_tmax));
  }

  void reset(extent e) {
    inner.reset(e);
    z_.resize(e);
  }
  void check(const schedule<T>& s) {  // non-const: the wrapped solver may keep what it checks (heunpp2)
    detail::require_positive_alpha(s, "churn (it raises sigma/alpha)");
    if constexpr (requires { inner.check(s); }) inner.check(s);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const T sigma = s.cur.sigma / s.cur.alpha;
    const T gamma = T(opt.s_tmin) <= sigma && sigma <= T(opt.s_tmax)
                        ? std::min(T(opt.s_churn) / T(s.count), std::sqrt(T(2)) - 1) : T(0);
    if (!(gamma > 0)) return inner.step(p, s, x);
    const T sigma_hat = sigma * (gamma + 1);
    const level<T> hat = p.at(p.process().t_of_lambda(-std::log(sigma_hat)));
    p.normal(s.index, 0, z_.view());
    // x̂ = (α̂/α)·x + α̂·√(σ̂² − σ̃²)·S_noise·z   (Alg. 2, line 6, in the model's view)
    simd::lincomb<T, 2>(x.span(), {hat.alpha / s.cur.alpha, hat.alpha * std::sqrt(sigma_hat * sigma_hat - sigma * sigma) * T(opt.s_noise)},
                        {x.data, z_.data()});
    step_span<T> raised = s;
    raised.cur = hat;
    inner.step(p, raised, x);
  }

 private:
  batch<T> z_;
};

}  // namespace ferry
