#pragma once
// DPM-Solver++(2S), the single-step second-order solver on the data prediction (Lu et al. 2022b,
// "DPM-Solver++", Alg. 1 with r = ½). k-diffusion: sample_dpmpp_2s_ancestral with eta = 0; the same
// update as diffusers' DPMSolverSinglestepScheduler order 2 (singlestep_dpm_solver_second_order_update)
// when its intermediate grid point sits at λ_cur + r·h.
//
//   h = λ_next − λ_cur,  λ_s = λ_cur + r·h
//   u      = (σ_s/σ_cur)·x − α_s·expm1(−r·h)·x̂0(x, cur)                   (DPM-Solver++(1) to λ_s)
//   D1     = (x̂0(u, s) − x̂0(x, cur))/r
//   x_next = (σ_next/σ_cur)·x − α_next·expm1(−h)·x̂0(x, cur) + c2·D1,  c2 = −½·α_next·expm1(−h) (midpoint)
//                                                                      or α_next·h·φ2(−h)       (heun)
// With r = ½ and midpoint this is k-diffusion's x_next = (σ_next/σ_cur)·x − α_next·expm1(−h)·x̂0(u, s).
// The intermediate level comes from the problem's process (p.at(t_of_lambda(λ_s))), so the schedule's
// levels must be the process's own. A step to σ = 0 is first order: x_next = α_next·x̂0 (k-diffusion's
// Euler step to σ_down = 0); so is a step from pure noise (α = 0, λ = −∞), whose λ-midpoint does not
// exist. Order 2, two model evaluations per step.
//
// step_through(p, s, mid, x) is the midpoint form (r = ½) through a midpoint level the caller picks:
//   u = (σ_m/σ)·x − α_m·expm1(λ − λ_m)·x̂0,   x_next = (σ_next/σ)·x − α_next·expm1(−h)·x̂0(u, mid)
// which stays finite from pure noise (λ = −∞: expm1 = −1); ComfyUI's sample_dpmpp_2s_ancestral_RF
// takes its midpoint from there (dpmpp_2s_ancestral.hpp).
#include <cmath>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/phi.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

struct dpmpp_2s_options {
  double r = 0.5;                                       ///< intermediate point λ_cur + r·h, 0 < r ≤ 1
  dpm_solver_type solver_type = dpm_solver_type::midpoint;
};

template <class T = double>
struct dpmpp_2s {
  static constexpr int order = 2, evals_per_step = 2;
  dpmpp_2s_options opt{};

  dpmpp_2s() = default;
  explicit dpmpp_2s(dpmpp_2s_options o) : opt(o) {
    if (!(o.r > 0 && o.r <= 1))
      throw config_error(detail::cat("dpmpp_2s: r = ", o.r, "; the intermediate point needs 0 < r <= 1"));
  }

  void reset(extent e) {
    x0_.resize(e);
    x0_s_.resize(e);
    u_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    p.data(x, s.cur, x0_.view());
    const T h = s.next.lambda - s.cur.lambda;
    const T a = s.next.sigma / s.cur.sigma, c1 = -s.next.alpha * std::expm1(-h);
    if (!std::isfinite(h)) {  // from pure noise (λ = −∞) or to data (λ = ∞): no midpoint in λ, first order
      simd::lincomb<T, 2>(x.span(), {a, c1}, {x.data, x0_.data()});
      return;
    }
    const T r = T(opt.r);
    const level<T> mid = p.at(p.process().t_of_lambda(s.cur.lambda + r * h));
    simd::lincomb<T, 2>(u_.view().span(), {mid.sigma / s.cur.sigma, -mid.alpha * std::expm1(-r * h)},
                        {x.data, x0_.data()});  // DPM-Solver++(1) to λ_s
    p.data(u_.view(), mid, x0_s_.view());
    const T c2 = opt.solver_type == dpm_solver_type::midpoint ? c1 / 2 : s.next.alpha * h * detail::phi(2, -h);
    simd::lincomb<T, 3>(x.span(), {a, c1 - c2 / r, c2 / r}, {x.data, x0_.data(), x0_s_.data()});  // Alg. 1
  }

  /// The midpoint form through the level `mid` (see above).
  template <class Problem>
  void step_through(Problem& p, const step_span<T>& s, const level<T>& mid, batch_view<T> x) {
    p.data(x, s.cur, x0_.view());
    simd::lincomb<T, 2>(u_.view().span(), {mid.sigma / s.cur.sigma, -mid.alpha * std::expm1(s.cur.lambda - mid.lambda)},
                        {x.data, x0_.data()});  // DPM-Solver++(1) to the midpoint
    p.data(u_.view(), mid, x0_s_.view());
    simd::lincomb<T, 2>(x.span(), {s.next.sigma / s.cur.sigma, -s.next.alpha * std::expm1(s.cur.lambda - s.next.lambda)},
                        {x.data, x0_s_.data()});
  }

 private:
  batch<T> x0_, x0_s_, u_;
};

}  // namespace ferry
