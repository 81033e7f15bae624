#pragma once
// DPM-Solver++(2S) ancestral (k-diffusion sample_dpmpp_2s_ancestral): each step is a deterministic
// DPM-Solver++(2S) step (Lu et al. 2022b, Alg. 1, r = ½; ode/dpmpp_2s.hpp) to σ̃_down, then fresh
// noise of standard deviation σ̃_up (the ancestral split, detail/ancestral.hpp, in σ̃ = σ/α):
//   (σ̃_down, σ̃_up) = get_ancestral_step(σ̃_cur, σ̃_next, η)
//   x_down = DPM-Solver++(2S)(x, cur → down)                  (two model evaluations)
//   x_next = x_down + s_noise·α_next·σ̃_up·z                   (k-diffusion adds nothing when σ_next = 0)
// With σ̃_down = 0 the 2S step is first order and lands on α_next·x̂0 (k-diffusion's Euler step).
#include <cmath>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/ancestral.hpp"
#include "ferry/solvers/ode/dpmpp_2s.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

struct dpmpp_2s_ancestral_options {
  double eta = 1;      ///< scale of σ̃_up (0: the deterministic dpmpp_2s)
  double s_noise = 1;  ///< scale of the added noise
};

template <class T = double>
struct dpmpp_2s_ancestral {
  static constexpr int order = 2, evals_per_step = 2;  ///< order: of the η = 0 limit
  static constexpr bool stochastic = true;
  dpmpp_2s_ancestral_options opt{};

  dpmpp_2s_ancestral() = default;
  explicit dpmpp_2s_ancestral(dpmpp_2s_ancestral_options o) : opt(o) { check_options(); }

  void check(const schedule<T>& s) const {
    check_options();
    detail::require_positive_alpha(s, "dpmpp-2s-ancestral");
  }

  void reset(extent e) {
    two_s_.reset(e);
    z_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const auto [down, up] = detail::get_ancestral_step(s.cur.sigma_edm(), s.next.sigma_edm(), T(opt.eta));
    two_s_.step(p, {s.cur, detail::down_level(s.next, down), s.index, s.count}, x);  // to σ̃_down
    if (s.next.sigma > 0 && up > 0) {
      p.normal(s.index, 0, z_.view());
      simd::lincomb<T, 2>(x.span(), {T(1), T(opt.s_noise) * s.next.alpha * up}, {x.data, z_.data()});
    }
  }

 private:
  void check_options() const { detail::check_eta_s_noise("dpmpp-2s-ancestral", opt.eta, opt.s_noise); }

  dpmpp_2s<T> two_s_;
  batch<T> z_;
};

}  // namespace ferry
