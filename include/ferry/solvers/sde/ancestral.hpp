#pragma once
// Ancestral sampling: one deterministic step down to a lower noise level, then fresh noise up to the
// landing level. DDPM (Ho et al. 2020, Eq. 6–7), DDIM with η > 0 (Song, Meng & Ermon 2021, Eq. 12)
// and Euler ancestral (k-diffusion's sample_euler_ancestral) are all this one update:
//
//   x_next = α'·x̂0 + σ_down·ε̂ + σ_up·z,        z ~ N(0, I)         (primes: the landing level)
//
// with the split of σ' = σ_next computed as k-diffusion's get_ancestral_step (detail/ancestral.hpp), in the model's view
// (σ̃ = σ/α; r = σ̃'/σ̃ = σ'α/(σα'), finite at α = 0):
//
//   σ_up = min(σ', η·σ'·√(1 − r²)),   σ_down = √(σ'² − σ_up²)
//
// σ_up² = η²·σ'²(1 − r²) is the DDPM posterior variance β̃·σ'²/σ² (β̃ = σ² − (α/α')²σ'², the
// transition variance from the landing level up to the current one) and DDIM's σ_t(η)², so η = 1 is
// the DDPM posterior and η = 0 is deterministic DDIM. DDPM's `fixed_large` keeps σ_down and uses the
// transition variance instead: σ_up = √β̃ (Ho et al.'s σ_t² = β_t). s_noise scales σ_up alone
// (k-diffusion). Where ε̂ comes from:
//   epsilon_source::state  ε̂ = (x − α·x̂0)/σ after any x̂0 transform (diffusers DDPM, Euler ancestral):
//                          x_next = (σ_down/σ)·x + (α' − σ_down·α/σ)·x̂0 + σ_up·z
//   epsilon_source::model  the model's untransformed ε̂ beside the transformed x̂0 (diffusers DDIM)
// Without a transform both are the same update. Step i draws its one normal array as step i (stream
// 0), only where σ_up > 0. Order 1 (strong 1/2 in general), one model evaluation per step.
// no_noise_at_t0 / no_noise_to_t0 drop the noise of the step from / to timestep t = 0 (DDPM's last
// step starts at t = 0; DDPMWuerstchen's lands there, on ᾱ(0) = 0.9999, and adds none).
//
// flow_view (ComfyUI's sample_euler_ancestral_RF, taken on CONST models): on a step that runs on a
// flow (detail/comfy_view.hpp), the split is the rectified-flow one of detail/ancestral.hpp: the
// deterministic step lands on the flow level σ_down = σ'(1 + (σ'/σ − 1)η), which the forward process
// takes to σ': (σ_down, σ_up) = (α'σ_down/α_down, √(σ'² − (α'σ_down/α_down)²)) in the model's scale.
#include <algorithm>
#include <cmath>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/solvers/detail/ancestral.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

/// The variance of the fresh noise: the posterior's (η-scaled) or the forward transition's.
enum class ancestral_variance {
  posterior,   ///< σ_up² = η²σ'²(1 − r²): DDPM fixed_small, DDIM η, Euler ancestral
  transition,  ///< σ_up² = σ² − (α/α')²σ'²: DDPM fixed_large (β_t)
};
/// Where the step's ε̂ comes from when x̂0 is transformed (clipping, thresholding).
enum class epsilon_source { state, model };

template <class T = double>
struct ancestral {
  static constexpr int order = 1, evals_per_step = 1;
  static constexpr bool stochastic = true;

  struct options {
    T eta = 1;      ///< η: 0 deterministic DDIM, 1 the DDPM posterior
    T s_noise = 1;  ///< scale of the added noise (k-diffusion)
    ancestral_variance variance = ancestral_variance::posterior;
    epsilon_source epsilon = epsilon_source::state;
    bool no_noise_at_t0 = false;  ///< diffusers DDPM: no noise on the step from timestep 0 (Ho et al.'s t = 1)
    bool flow_view = false;       ///< on a flow, ComfyUI's rectified-flow split (its _RF branch)
    bool no_noise_to_t0 = false;  ///< diffusers DDPMWuerstchen: no noise on the step that lands at t = 0 (its ᾱ(0) < 1)
  } opt;

  ancestral() = default;
  explicit ancestral(options o) : opt(o) { detail::check_eta_s_noise("ancestral sampler", opt.eta, opt.s_noise); }

  void reset(extent e) {
    x0_.resize(e);
    z_.resize(e);
    if (opt.epsilon == epsilon_source::model) eps_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const auto [down, up_posterior] =
        opt.flow_view && detail::on_flow(s) && s.next.sigma > 0
            ? detail::get_ancestral_step_rf(s.cur.sigma, s.next.sigma, opt.eta).model_scale()
            : detail::get_ancestral_step(s.cur, s.next, opt.eta);
    T up = opt.variance == ancestral_variance::posterior
               ? up_posterior
               : std::sqrt(std::max(T(0), s.cur.sigma * s.cur.sigma - sq(s.cur.alpha / s.next.alpha * s.next.sigma)));
    if ((opt.no_noise_at_t0 && s.cur.t == 0) || (opt.no_noise_to_t0 && s.next.t == 0)) up = 0;
    up *= opt.s_noise;
    detail::terms<T, 3> t;
    if (opt.epsilon == epsilon_source::model) {
      p.data_and_epsilon(x, s.cur, x0_.view(), eps_.view());
      t.add(s.next.alpha, x0_), t.add(down, eps_);                                     // α'x̂0 + σ_down·ε̂
    } else {
      p.data(x, s.cur, x0_.view());
      const T k = down / s.cur.sigma;
      t.add(k, x.data), t.add(s.next.alpha - k * s.cur.alpha, x0_);                    // ε̂ = (x − αx̂0)/σ
    }
    if (up > 0) {
      p.normal(s.index, 0, z_.view());
      t.add(up, z_);                                                                   // + σ_up·z
    }
    detail::combine(x, t);
  }

 private:
  static T sq(T v) { return v * v; }
  batch<T> x0_, eps_, z_;
};

}  // namespace ferry
