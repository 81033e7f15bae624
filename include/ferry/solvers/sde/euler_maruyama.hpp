#pragma once
// Euler–Maruyama on the η-family of reverse-time SDEs that share the process's marginals p_t
// (Song et al. 2021, Eq. 6 and 13; Karras et al. 2022, Eq. 6): with the PF-ODE velocity
// v = f·x − ½g_f²·∇log p = α'·x̂0 + σ'·ε̂ and a diffusion g,
//
//   dx = [v − (η²/2)·g²·∇log p_t(x)] dt + η·g dW̄          (t decreasing, ∇log p = −ε̂/σ)
//
// η = 0 is the PF-ODE, η = 1 with g = g_f the reverse SDE of Anderson (1982). With g = g_f this is
//   dx = [f·x − (1 + η²)/2 · g_f²·∇log p] dt + η·g_f dW̄.
// The diffusion is the process's forward one, g_f² = 2σσ' − 2(α'/α)σ² (needs α > 0 where a step
// starts), or dσ²/dt = 2σσ' (finite at α = 0; the flow-matching SDE, flow_sde.hpp).
// One step over h = t' − t < 0, with ε̂ = (x − α·x̂0)/σ and z ~ N(0, I) (step i's normal array):
//
//   x' = x + h·(α'·x̂0 + σ'·ε̂ + η²·g²/(2σ)·ε̂) + η·g·√(−h)·z
//      = (1 + k)·x + (h·α' − k·α)·x̂0 + η·g·√(−h)·z,      k = h·(σ' + η²·g²/(2σ))/σ
//
// A step that lands on σ = 0 is the denoising step x' = α'·x̂0 (Tweedie), without noise. Strong
// order 1/2 in general (1 for additive noise, which every g here is), weak order 1; one evaluation.
#include <algorithm>
#include <cmath>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/ode/explicit_rk.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

/// The diffusion g of the reverse-time SDE family.
enum class sde_diffusion {
  forward,     ///< g² = 2σσ' − 2(α'/α)σ², the process's forward SDE
  sigma_rate,  ///< g² = dσ²/dt = 2σσ'
};

template <class T = double>
struct euler_maruyama {
  static constexpr int order = 1, evals_per_step = 1;
  static constexpr bool stochastic = true;

  struct options {
    T eta = 1;  ///< 0: PF-ODE, 1: reverse SDE
    sde_diffusion diffusion = sde_diffusion::forward;
  } opt;

  euler_maruyama() = default;
  explicit euler_maruyama(options o) : opt(o) { detail::check_noise_scale("euler-maruyama", "eta", opt.eta); }

  void reset(extent e) {
    x0_.resize(e);
    z_.resize(e);
  }
  void check(const schedule<T>& s) const {
    if (opt.diffusion == sde_diffusion::forward && opt.eta > 0)
      detail::require_positive_alpha(s, "euler-maruyama's forward diffusion g^2 = 2 sigma sigma' - 2 (alpha'/alpha) sigma^2");
  }

  /// g² at a level.
  T g2(const level<T>& l) const {
    const T rate = 2 * l.sigma * l.d_sigma;
    return opt.diffusion == sde_diffusion::forward ? rate - 2 * (l.d_alpha / l.alpha) * l.sigma * l.sigma : rate;
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    if (s.next.sigma == 0) return land_on_data(p, s, x, x0_);
    const level<T>& c = s.cur;
    const T h = s.next.t - c.t, g2c = g2(c);
    const T k = h * (c.d_sigma + opt.eta * opt.eta * g2c / (2 * c.sigma)) / c.sigma;
    p.data(x, c, x0_.view());
    detail::terms<T, 3> t;
    t.add(1 + k, x.data), t.add(h * c.d_alpha - k * c.alpha, x0_);   // x + h·(drift)
    const T noise = opt.eta * std::sqrt(std::max(T(0), g2c) * -h);
    if (noise > 0) {
      p.normal(s.index, 0, z_.view());
      t.add(noise, z_);                                                // + η·g·√(−h)·z
    }
    detail::combine(x, t);
  }

 private:
  batch<T> x0_, z_;
};

}  // namespace ferry
