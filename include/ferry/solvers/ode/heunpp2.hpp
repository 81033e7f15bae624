#pragma once
// Heun++ (ComfyUI's sample_heunpp2, from Carzit's sd-webui-samplers-scheduler): a Heun step whose
// slope is a σ-weighted mix of the slopes at the step's start, its end and one step further. In
// ComfyUI's view of the state (detail/comfy_view.hpp), with d(x, σ) = (x − x̂0(x, σ))/σ,
// h = σ_{i+1} − σ_i and σ_0 the first σ of the run:
//
//   x_2 = x + h·d(x, σ_i)                            x_3 = x_2 + (σ_{i+2} − σ_{i+1})·d(x_2, σ_{i+1})
//   Heun++ (σ_{i+2} is not the last σ):    x' = x + h·(w1·d + w2·d_2 + w3·d_3),
//                                          w2 = σ_{i+1}/(3σ_0), w3 = σ_{i+2}/(3σ_0), w1 = 1 − w2 − w3
//   weighted Heun (σ_{i+2} is the last):   x' = x + h·(w1·d + w2·d_2),  w2 = σ_{i+1}/(2σ_0), w1 = 1 − w2
//   the last step:                         x' = x + h·d  (= x̂0 when it lands on σ = 0)
//
// with d_2 = d(x_2, σ_{i+1}), d_3 = d(x_3, σ_{i+2}). It reads σ_0 and σ_{i+2} from the schedule it
// is checked against (ferry::sample calls check). The weights do not tend to Heun's (½, ½) as the
// step shrinks, so the method is first order (measured: docs/samplers.md). Churn (s_churn, s_tmin,
// s_tmax, s_noise) is edm_churn<heunpp2>: the step then starts at the raised σ̂, σ_0 stays the list's.
// Three evaluations per step (two before the last, one in it).
#include <cstddef>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"

namespace ferry {

template <class T = double>
struct heunpp2 {
  static constexpr int order = 1, evals_per_step = 3;

  struct options {
    bool flow_view = true;  ///< on a flow, ComfyUI's CONST view
  } opt;

  heunpp2() = default;
  explicit heunpp2(options o) : opt(o) {}

  /// Keeps the schedule's levels (σ_0, σ_{i+2}); α > 0 where the EDM view divides by it.
  void check(const schedule<T>& s) {
    for (std::size_t i = 0; i < s.steps(); ++i)
      if (!detail::comfy_view<T>::of(s.step(i), opt.flow_view).flow) {
        detail::require_positive_alpha(s, "heunpp2");
        break;
      }
    points_ = s.points;
  }
  void reset(extent e) {
    for (auto* b : {&x0_, &x2_, &x0_2_, &x3_, &x0_3_}) b->resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    if (s.first() && points_.size() != s.count + 1)
      throw config_error("heunpp2 reads the schedule's levels: call check(schedule) before stepping (ferry::sample does)");
    const auto v = detail::comfy_view<T>::of(s, opt.flow_view);
    const T sigma = v.sigma(s.cur), a = v.scale(s.cur), sigma1 = v.sigma(s.next), a1 = v.scale(s.next);
    const T h = sigma1 - sigma;
    p.data(x, s.cur, x0_.view());
    detail::terms<T, 7> t;
    t.add(a1 / a, x.data);
    // x' = a1·(x/a + h·Σ_k w_k·d_k) with d_k = x_k/(a_k·σ_k) − x̂0_k/σ_k (x_k in the model's scale a_k)
    auto slope = [&](T w, const T* xk, T ak, T sk, const batch<T>& x0k) {
      t.add(a1 * h * w / (ak * sk), xk), t.add(-a1 * h * w / sk, x0k);
    };
    if (s.last()) {
      slope(1, x.data, a, sigma, x0_);                                                          // Euler
      return detail::combine(x, t);
    }
    simd::lincomb<T, 2>(x2_.view().span(), {a1 / a * (1 + h / sigma), -a1 * h / sigma}, {x.data, x0_.data()});  // x_2
    p.data(x2_.view(), s.next, x0_2_.view());
    const T sigma0 = v.sigma(points_.front());
    if (s.index + 2 == s.count) {                                                                // weighted Heun
      const T w2 = sigma1 / (2 * sigma0);
      slope(1 - w2, x.data, a, sigma, x0_), slope(w2, x2_.data(), a1, sigma1, x0_2_);
      return detail::combine(x, t);
    }
    const level<T>& l2 = points_[s.index + 2];
    const T sigma2 = v.sigma(l2), a2 = v.scale(l2), h2 = sigma2 - sigma1;
    simd::lincomb<T, 2>(x3_.view().span(), {a2 / a1 * (1 + h2 / sigma1), -a2 * h2 / sigma1}, {x2_.data(), x0_2_.data()});  // x_3
    p.data(x3_.view(), l2, x0_3_.view());
    const T w2 = sigma1 / (3 * sigma0), w3 = sigma2 / (3 * sigma0);                               // Heun++
    slope(1 - w2 - w3, x.data, a, sigma, x0_), slope(w2, x2_.data(), a1, sigma1, x0_2_), slope(w3, x3_.data(), a2, sigma2, x0_3_);
    detail::combine(x, t);
  }

 private:
  std::vector<level<T>> points_;
  batch<T> x0_, x2_, x0_2_, x3_, x0_3_;
};

}  // namespace ferry
