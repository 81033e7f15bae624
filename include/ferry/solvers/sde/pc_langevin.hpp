#pragma once
// Predictor–corrector sampling (Song et al. 2021, Alg. 2–3 with the Langevin corrector of Alg. 4–5,
// as score_sde's pc_sampler orders them): at each level t_i first `langevin_steps` corrector steps,
//
//   g = ∇log p_{t_i}(x) = −ε̂/σ,   z ~ N(0, I),   x ← x + ε·g + √(2ε)·z
//
// then the Euler–Maruyama predictor on the reverse SDE (η = 1) to t_{i+1} (euler_maruyama.hpp).
// Alg. 4–5 set the step from the signal-to-noise ratio r = snr as ε = 2a·(r‖z‖/‖g‖)², a = (α_i/α_{i+1})²
// (1 for VE, 1 − β_i for VP). Taken per sample that is biased in few dimensions, two ways: the noise
// added is ‖z‖·z (covariance (D + 2)·I instead of D·I), and a step that depends on x through ‖g(x)‖
// makes the corrector's invariant law p/ε ∝ p·‖g‖² rather than p (measured on a 4-D three-component
// mixture, VP-linear, 500 steps, r = 0.16: component masses off by 0.06 and spreads by 74%; with ‖z‖²
// replaced by D alone still 48%). So the default step takes both norms at their expectations,
//
//   ε = 2a·r²·E‖z‖²/E‖g‖² = 2a·r²·σ²      (E‖z‖² = D, E‖g‖² = E‖ε̂‖²/σ² ≤ D/σ², equality where ε̂ ≈ ε)
//
// the same for every row (rows stay independent) and for every x, so each corrector step is an
// unadjusted Langevin step at a fixed step size whose bias is O(r²) (same mixture: masses 0.004,
// means 0.004, spreads 1.3%, at the level of the predictor alone). `per_sample` keeps Alg. 4 as
// written. score_sde averages the norms over the batch, which also gives one step for all rows but
// makes every sample depend on the others; it estimates the same expectations, so it is not kept.
// Corrector step j draws stream j + 1 of the step, the predictor stream 0 (injected noise needs K ≥
// langevin_steps + 1 arrays per step). evals_per_step counts the default langevin_steps = 1.
#include <cmath>
#include <string_view>
#include <cstdint>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/sde/euler_maruyama.hpp"

namespace ferry {

/// How the Langevin corrector sets its step from the signal-to-noise ratio r.
enum class langevin_step {
  expected,    ///< ε = 2a·r²·σ²: both norms at their expectations (the default)
  per_sample,  ///< ε = 2a·(r‖z‖/‖g‖)² with the row's own norms (Alg. 4 as written; biased in few dimensions)
};

/// Parses expected | per-sample.
inline langevin_step parse_langevin_step(std::string_view s) {
  if (s == "expected") return langevin_step::expected;
  if (s == "per-sample") return langevin_step::per_sample;
  throw config_error(detail::cat("pc-langevin: step \"", detail::escape(s), "\" is unknown",
                                 detail::did_you_mean(s, {"expected", "per-sample"}), "; expected expected or per-sample"));
}

template <class T = double>
struct pc_langevin {
  static constexpr int order = 1, evals_per_step = 2;
  static constexpr bool stochastic = true;

  struct options {
    T snr = T(0.16);         ///< r, the corrector's signal-to-noise ratio
    int langevin_steps = 1;  ///< corrector steps per level
    T eta = 1;               ///< the predictor's η
    langevin_step step = langevin_step::expected;
  } opt;

  pc_langevin() = default;
  explicit pc_langevin(options o) : opt(o), predictor_({.eta = o.eta, .diffusion = sde_diffusion::forward}) {
    if (!(opt.snr >= 0) || !std::isfinite(opt.snr)) throw config_error(detail::cat("pc-langevin: snr=", opt.snr, " must be >= 0"));
    if (opt.langevin_steps < 0) throw config_error(detail::cat("pc-langevin: langevin_steps=", opt.langevin_steps, " must be >= 0"));
  }

  void reset(extent e) {
    predictor_.reset(e);
    eps_.resize(e);
    z_.resize(e);
  }
  void check(const schedule<T>& s) const { predictor_.check(s); }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const level<T>& c = s.cur;
    const T a = (c.alpha / s.next.alpha) * (c.alpha / s.next.alpha), base = 2 * a * opt.snr * opt.snr * c.sigma * c.sigma;
    for (int j = 0; j < opt.langevin_steps; ++j) {
      p.epsilon(x, c, eps_.view());
      p.normal(s.index, std::uint32_t(j + 1), z_.view());
      if (opt.step == langevin_step::expected) {  // x ← x − (ε/σ)·ε̂ + √(2ε)·z, one ε for all rows
        simd::lincomb<T, 3>(x.span(), {T(1), -base / c.sigma, std::sqrt(2 * base)}, {x.data, eps_.data(), z_.data()});
        continue;
      }
      for (std::size_t r = 0; r < x.rows; ++r) {  // ‖g‖ = ‖ε̂‖/σ, so Alg. 4's ε = 2a·(r·σ·‖z‖/‖ε̂‖)²
        const T e2 = simd::sum_squares<T>(eps_.view().row(r)), z2 = simd::sum_squares<T>(z_.view().row(r));
        const T step = e2 > 0 ? base * z2 / e2 : T(0);
        simd::lincomb<T, 3>(x.row(r), {T(1), -step / c.sigma, std::sqrt(2 * step)},
                            {x.row(r).data(), eps_.view().row(r).data(), z_.view().row(r).data()});
      }
    }
    predictor_.step(p, s, x);
  }

 private:
  euler_maruyama<T> predictor_{{.eta = 1, .diffusion = sde_diffusion::forward}};
  batch<T> eps_, z_;
};

}  // namespace ferry
