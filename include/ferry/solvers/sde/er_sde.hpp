#pragma once
// ER-SDE-Solver-3 (Cui et al. 2023, "Elucidating the solution space of extended reverse-time SDEs for
// diffusion models", VP form, Alg. 1–3 with Eq. 18–20; ComfyUI's sample_er_sde). With λ = σ/α (the
// paper's λ: here the EDM σ̃), a noise scale function φ(λ) (ComfyUI's noise_scaler, default
// λ·(e^{λ^0.3} + 10)), r = φ(λ')/φ(λ), Δλ = λ' − λ and the divided differences of x̂0 in λ:
//
//   x' = (α'/α)·r·x + α'(1 − r)·x̂0                                               (stage 1)
//      + α'·(Δλ + S_1·φ(λ'))·D1,             D1 = (x̂0 − x̂0_prev)/(λ − λ_prev)      (stage 2)
//      + α'·(Δλ²/2 + S_2·φ(λ'))·D2,          D2 = (D1 − D1_prev)/((λ − λ_prev2)/2)  (stage 3)
//      + α'·s_noise·√(λ'² − λ²r²)·z
//   S_1 = ∫_{λ'}^{λ} dτ/φ(τ),  S_2 = ∫_{λ'}^{λ} (τ − λ)/φ(τ) dτ
//
// The integrals are ComfyUI's: left Riemann sums over 200 points τ_k = λ' + k·(λ − λ')/200, which
// ComfyUI evaluates in float32 (its point grid is torch.arange(…, dtype=float32), and the sums stay
// float32); float32_quadrature = true repeats that, false sums in T. The stage at step i is
// min(max_stage, i + 1). The step to σ = 0 returns α'·x̂0 and draws nothing; z is stream 0.
// ComfyUI offsets a first σ of 1 on flows: offset_first_sigma<er_sde>. One evaluation per step.
#include <cmath>
#include <utility>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

/// ER-SDE's default noise scale function φ(λ) = λ·(e^{λ^0.3} + 10) (ComfyUI's default_er_sde_noise_scaler).
template <class T>
T er_sde_noise_scaler(T lambda) {
  return lambda * (std::exp(std::pow(lambda, T(0.3))) + 10);
}

template <class T = double>
struct er_sde {
  static constexpr int order = 1, evals_per_step = 1;  ///< order: strong, of an SDE solver with noise
  static constexpr bool stochastic = true;
  static constexpr bool noise_checked_per_step = true;  // s_noise = 0 draws nothing

  struct options {
    T s_noise = 1;
    int max_stage = 3;                             ///< 1, 2 or 3
    T (*noise_scaler)(T) = &er_sde_noise_scaler<T>;  ///< φ(λ), positive and increasing
    bool float32_quadrature = true;                ///< ComfyUI's float32 Riemann sums
  } opt;

  /// Whether a run with these options draws noise (s_noise > 0).
  bool draws_noise() const { return opt.s_noise > 0; }

  er_sde() = default;
  explicit er_sde(options o) : opt(o) {
    detail::check_noise_scale("er-sde", "s_noise", opt.s_noise);
    if (opt.max_stage < 1 || opt.max_stage > 3) throw config_error(detail::cat("er-sde: max_stage = ", opt.max_stage, "; expected 1, 2 or 3"));
    if (!opt.noise_scaler) throw config_error("er-sde: noise_scaler is null");
  }

  void check(const schedule<T>& s) const { detail::require_positive_alpha(s, "er-sde (it works with lambda = sigma/alpha)"); }
  void reset(extent e) {
    for (auto* b : {&x0_, &x0_prev_, &d1_, &d1_prev_, &z_}) b->resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    p.data(x, s.cur, x0_.view());
    if (s.next.sigma == 0) {
      simd::lincomb<T, 1>(x.span(), {s.next.alpha}, {x0_.data()});  // x' = α'·x̂0
    } else {
      const T ls = s.cur.sigma_edm(), lt = s.next.sigma_edm(), as = s.cur.alpha, at = s.next.alpha;
      T (*const phi)(T) = opt.noise_scaler;
      const T r = phi(lt) / phi(ls), dl = lt - ls;
      const int stage = std::min<int>(opt.max_stage, int(s.index) + 1);
      detail::terms<T, 6> t;
      t.add(at / as * r, x.data), t.add(at * (1 - r), x0_);                                   // stage 1
      if (stage >= 2) {
        const auto [s1, s2] = sums(ls, lt);
        const T c1 = 1 / (ls - lambda_prev_[0]);
        simd::lincomb<T, 2>(d1_.view().span(), {c1, -c1}, {x0_.data(), x0_prev_.data()});  // D1
        t.add(at * (dl + s1 * phi(lt)), d1_);                                                 // stage 2
        if (stage >= 3) {
          const T c2 = at * (dl * dl / 2 + s2 * phi(lt)) * 2 / (ls - lambda_prev_[1]);
          t.add(c2, d1_), t.add(-c2, d1_prev_);                                               // stage 3
        }
      }
      const T noise = at * opt.s_noise * std::sqrt(std::max(T(0), lt * lt - ls * ls * r * r));
      if constexpr (!detail::has_noise<Problem>)
        if (noise > 0) throw config_error("er-sde draws noise; give the problem a noise source (a seed)");
      if constexpr (detail::has_noise<Problem>) {
        if (noise > 0) {
          p.normal(s.index, 0, z_.view());
          t.add(noise, z_);
        }
      }
      detail::combine(x, t);
      if (stage >= 2) std::swap(d1_, d1_prev_);
    }
    std::swap(x0_, x0_prev_);
    lambda_prev_[1] = lambda_prev_[0], lambda_prev_[0] = s.cur.sigma_edm();
  }

 private:
  struct integrals {
    T s1, s2;
  };
  // S_1 and S_2 as ComfyUI sums them (see above).
  integrals sums(T ls, T lt) const {
    const T step = -(lt - ls) / 200;
    if (opt.float32_quadrature) {
      const float step_f = float(step), lt_f = float(lt), ls_f = float(ls);
      double a = 0, b = 0;  // torch sums float32 in a cascade: about the exact sum, rounded once
      for (int k = 0; k < 200; ++k) {
        const float pos = lt_f + float(k) * step_f, scaled = pos * (std::exp(std::pow(pos, 0.3f)) + 10.0f);
        a += double(1.0f / scaled);
        b += double((pos - ls_f) / scaled);
      }
      return {T(float(a)) * step, T(float(b)) * step};
    }
    T a = 0, b = 0;
    for (int k = 0; k < 200; ++k) {
      const T pos = lt + T(k) * step, scaled = opt.noise_scaler(pos);
      a += 1 / scaled, b += (pos - ls) / scaled;
    }
    return {a * step, b * step};
  }

  batch<T> x0_, x0_prev_, d1_, d1_prev_, z_;
  T lambda_prev_[2] = {};
};

}  // namespace ferry
