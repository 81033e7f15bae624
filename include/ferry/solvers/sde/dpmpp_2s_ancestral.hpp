#pragma once
// DPM-Solver++(2S) ancestral (k-diffusion sample_dpmpp_2s_ancestral): each step is a deterministic
// DPM-Solver++(2S) step (Lu et al. 2022b, Alg. 1, r = ½; ode/dpmpp_2s.hpp) to σ̃_down, then fresh
// noise of standard deviation σ̃_up (the ancestral split, detail/ancestral.hpp, in σ̃ = σ/α):
//   (σ̃_down, σ̃_up) = get_ancestral_step(σ̃_cur, σ̃_next, η)
//   x_down = DPM-Solver++(2S)(x, cur → down)                  (two model evaluations)
//   x_next = x_down + s_noise·α_next·σ̃_up·z                   (k-diffusion adds nothing when σ_next = 0)
// With σ̃_down = 0 the 2S step is first order and lands on α_next·x̂0 (k-diffusion's Euler step).
//
// On a flow (flow_view; ComfyUI's sample_dpmpp_2s_ancestral_RF, taken on CONST models) the split is
// the rectified-flow one (detail/ancestral.hpp) and the midpoint is ComfyUI's:
//   σ_down = σ'(1 + (σ'/σ − 1)η);  σ_s = 0.9999 if σ = 1 exactly, else 1/(e^{λ_s} + 1),
//   λ_s = (λ + λ_down)/2 with λ = log((1 − σ)/σ)
//   x_down = dpmpp_2s::step_through(x, σ → σ_down via σ_s)           (two model evaluations)
//   x_next = (α'/α_down)·x_down + s_noise·σ_renoise·z                  (where η > 0)
#include <cmath>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/ancestral.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"
#include "ferry/solvers/ode/dpmpp_2s.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

struct dpmpp_2s_ancestral_options {
  double eta = 1;          ///< scale of σ̃_up (0: the deterministic dpmpp_2s)
  double s_noise = 1;      ///< scale of the added noise
  bool flow_view = true;   ///< on a flow, ComfyUI's rectified-flow branch
};

template <class T = double>
struct dpmpp_2s_ancestral {
  static constexpr int order = 2, evals_per_step = 2;  ///< order: of the η = 0 limit
  static constexpr bool stochastic = true;
  dpmpp_2s_ancestral_options opt{};

  dpmpp_2s_ancestral() = default;
  explicit dpmpp_2s_ancestral(dpmpp_2s_ancestral_options o) : opt(o) { check_options(); }

  /// Options, and α > 0 where a step starts off a flow (the EDM view divides by α).
  void check(const schedule<T>& s) const {
    check_options();
    for (std::size_t i = 0; i < s.steps(); ++i)
      if (!(opt.flow_view && detail::on_flow(s.step(i))) && !(s.points[i].alpha > 0))
        detail::require_positive_alpha(s, "dpmpp-2s-ancestral");
  }

  void reset(extent e) {
    two_s_.reset(e);
    z_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    if (opt.flow_view && detail::on_flow(s) && s.next.sigma > 0) return step_rf(p, s, x);
    const auto [down, up] = detail::get_ancestral_step(s.cur.sigma_edm(), s.next.sigma_edm(), T(opt.eta));
    two_s_.step(p, {s.cur, detail::down_level(s.next, down), s.index, s.count}, x);  // to σ̃_down
    if (s.next.sigma > 0 && up > 0) {
      p.normal(s.index, 0, z_.view());
      simd::lincomb<T, 2>(x.span(), {T(1), T(opt.s_noise) * s.next.alpha * up}, {x.data, z_.data()});
    }
  }

 private:
  template <class Problem>
  void step_rf(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const detail::comfy_view<T> v{true};
    const auto split = detail::get_ancestral_step_rf(s.cur.sigma, s.next.sigma, T(opt.eta));
    const level<T> down = v.at(p, split.down);
    const T sigma_s = s.cur.sigma == 1 ? T(0.9999) : 1 / (std::exp((s.cur.lambda + down.lambda) / 2) + 1);
    two_s_.step_through(p, {s.cur, down, s.index, s.count}, v.at(p, sigma_s), x);
    if (opt.eta > 0) {
      p.normal(s.index, 0, z_.view());
      simd::lincomb<T, 2>(x.span(), {split.scale, T(opt.s_noise) * split.renoise}, {x.data, z_.data()});
    }
  }
  void check_options() const { detail::check_eta_s_noise("dpmpp-2s-ancestral", opt.eta, opt.s_noise); }

  dpmpp_2s<T> two_s_;
  batch<T> z_;
};

}  // namespace ferry
