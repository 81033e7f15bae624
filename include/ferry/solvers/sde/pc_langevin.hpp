#pragma once
// Predictor–corrector sampling (Song et al. 2021, Alg. 2–3 with the Langevin corrector of Alg. 4–5,
// as score_sde's pc_sampler orders them): at each level t_i first `langevin_steps` corrector steps,
//
//   g = ∇log p_{t_i}(x) = −ε̂/σ,   z ~ N(0, I),   ε = 2·a_i·(r·‖z‖/‖g‖)²,   x ← x + ε·g + √(2ε)·z
//
// with the signal-to-noise ratio r = snr and a_i = (α_i/α_{i+1})² (1 for VE; ᾱ_t/ᾱ_{t'} = 1 − β_i for
// VP, Alg. 5), then the Euler–Maruyama predictor on the reverse SDE (η = 1) to t_{i+1}
// (euler_maruyama.hpp). The norms are per sample, as Alg. 4 writes them (score_sde averages them over
// the batch, which would couple the rows). Corrector step j draws stream j + 1 of the step, the
// predictor stream 0, so it needs the keyed generator (injected noise has one array per step).
// evals_per_step counts the default langevin_steps = 1.
#include <cmath>
#include <cstdint>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/sde/euler_maruyama.hpp"

namespace ferry {

template <class T = double>
struct pc_langevin {
  static constexpr int order = 1, evals_per_step = 2;
  static constexpr bool stochastic = true;

  struct options {
    T snr = T(0.16);         ///< r, the corrector's signal-to-noise ratio
    int langevin_steps = 1;  ///< corrector steps per level
    T eta = 1;               ///< the predictor's η
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
    const T a = (c.alpha / s.next.alpha) * (c.alpha / s.next.alpha);
    for (int j = 0; j < opt.langevin_steps; ++j) {
      p.epsilon(x, c, eps_.view());
      p.normal(s.index, std::uint32_t(j + 1), z_.view());
      for (std::size_t r = 0; r < x.rows; ++r) {
        // ‖g‖ = ‖ε̂‖/σ, so ε = 2a·(r·σ·‖z‖/‖ε̂‖)²;  x ← x − (ε/σ)·ε̂ + √(2ε)·z
        const T e2 = simd::sum_squares<T>(eps_.view().row(r)), z2 = simd::sum_squares<T>(z_.view().row(r));
        const T step = e2 > 0 ? 2 * a * opt.snr * opt.snr * c.sigma * c.sigma * z2 / e2 : T(0);
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
