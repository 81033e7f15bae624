#pragma once
// Gradient estimation (Permenter & Yuan 2024, "Interpreting and Improving Diffusion Models from an
// Optimization Perspective", Alg. 2; ComfyUI's sample_gradient_estimation): Euler steps whose slope
// extrapolates the last two, read as estimates of a gradient. In ComfyUI's view of the state
// (detail/comfy_view.hpp), d_i = (x − x̂0(x, σ_i))/σ_i and h = σ_{i+1} − σ_i:
//
//   x' = x + h·d_i                                          (the first step)
//   x' = x + h·(d_i + (γ − 1)·(d_i − d_{i−1})) = x + h·(γ·d_i − (γ − 1)·d_{i−1})      (later steps)
//   x' = x̂0                                                 (the step to σ = 0)
//
// γ = ge_gamma (2: the paper's choice; 1 is Euler). One evaluation per step. The slope of the
// previous step is kept in the view's units (d = x/(α·σ̃) − x̂0/σ̃ in the EDM view).
#include <cmath>
#include <utility>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"

namespace ferry {

template <class T = double>
struct gradient_estimation {
  static constexpr int order = 1, evals_per_step = 1;

  struct options {
    T ge_gamma = 2;         ///< γ: the weight of the slope extrapolation
    bool flow_view = true;  ///< on a flow, ComfyUI's CONST view
  } opt;

  gradient_estimation() = default;
  explicit gradient_estimation(options o) : opt(o) {
    if (!std::isfinite(opt.ge_gamma)) throw config_error(detail::cat("gradient-estimation: ge_gamma = ", opt.ge_gamma, "; expected a finite value"));
  }

  void check(const schedule<T>& s) const {
    for (std::size_t i = 0; i < s.steps(); ++i)
      if (!detail::comfy_view<T>::of(s.step(i), opt.flow_view).flow) return detail::require_positive_alpha(s, "gradient-estimation");
  }
  void reset(extent e) {
    x0_.resize(e), d_.resize(e), d_prev_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const auto v = detail::comfy_view<T>::of(s, opt.flow_view);
    const T sigma = v.sigma(s.cur), a = v.scale(s.cur), a1 = v.scale(s.next), h = v.sigma(s.next) - sigma;
    p.data(x, s.cur, x0_.view());
    simd::lincomb<T, 2>(d_.view().span(), {1 / (a * sigma), -1 / sigma}, {x.data, x0_.data()});  // d_i
    if (s.next.sigma == 0) simd::lincomb<T, 1>(x.span(), {s.next.alpha}, {x0_.data()});          // x' = x̂0
    else if (s.first()) simd::lincomb<T, 2>(x.span(), {a1 / a, a1 * h}, {x.data, d_.data()});     // Euler
    else
      simd::lincomb<T, 3>(x.span(), {a1 / a, a1 * h * opt.ge_gamma, -a1 * h * (opt.ge_gamma - 1)},
                          {x.data, d_.data(), d_prev_.data()});                                   // γ·d_i − (γ − 1)·d_{i−1}
    std::swap(d_, d_prev_);
  }

 private:
  batch<T> x0_, d_, d_prev_;
};

}  // namespace ferry
