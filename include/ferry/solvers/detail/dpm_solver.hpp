#pragma once
// The stages of single-step DPM-Solver in noise prediction (Lu et al. 2022, "DPM-Solver", Alg. 1
// (DPM-Solver-2, r1) and Alg. 2 (DPM-Solver-3, r1, r2)), as k-diffusion's DPMSolver class writes them
// for dpm_fast and dpm_adaptive: in ComfyUI's view of the state (detail/comfy_view.hpp) with time
// t = −log σ, step h = t' − t and ε = (x − x̂0)/σ,
//
//   DPM-Solver-1   x' = x − σ'·(e^h − 1)·ε
//   stage 1        u1 = x − σ_1·(e^{r1 h} − 1)·ε,                                σ_1 = e^{−(t + r1 h)}
//   DPM-Solver-2   x' = x − σ'·(e^h − 1)·ε − σ'/(2r1)·(e^h − 1)·(ε(u1) − ε)
//   stage 2        u2 = x − σ_2·(e^{r2 h} − 1)·ε − σ_2·(r2/r1)·((e^{r2 h} − 1)/(r2 h) − 1)·(ε(u1) − ε)
//   DPM-Solver-3   x' = x − σ'·(e^h − 1)·ε − (σ'/r2)·((e^h − 1)/h − 1)·(ε(u2) − ε)
//
// eps[k] holds ε at t, at u1 and at u2 (in the view's units); states go in and out in the model's
// scale at their levels (x = scale·x_view), so the same code runs on EDM, VP and flow views.
#include <array>
#include <cmath>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"

namespace ferry::detail {

template <class T>
struct dpm_solver_stages {
  std::array<batch<T>, 3> eps;
  batch<T> u, x0;

  void reset(extent e) {
    for (auto& b : eps) b.resize(e);
    u.resize(e), x0.resize(e);
  }

  /// eps[k] = ε of the state y (model scale) at level lv: one model evaluation.
  template <class Problem>
  void epsilon(Problem& p, const comfy_view<T>& v, const_batch_view<T> y, const level<T>& lv, std::size_t k) {
    const T sigma = v.sigma(lv);
    p.data(y, lv, x0.view());
    simd::lincomb<T, 2>(eps[k].view().span(), {1 / (v.scale(lv) * sigma), -1 / sigma}, {y.data, x0.data()});
  }
  /// Stage 1 from x (model scale a at time t): u1, then eps[1] = ε(u1).
  template <class Problem>
  void stage1(Problem& p, const comfy_view<T>& v, const T* x, T a, T t, T h, T r1) {
    const T sigma1 = std::exp(-(t + r1 * h));
    const level<T> l1 = v.at(p, sigma1);
    const T s1 = v.scale(l1);
    simd::lincomb<T, 2>(u.view().span(), {s1 / a, -s1 * sigma1 * std::expm1(r1 * h)}, {x, eps[0].data()});
    epsilon(p, v, u.view(), l1, 1);
  }
  /// Stage 2 (after stage 1): u2, then eps[2] = ε(u2).
  template <class Problem>
  void stage2(Problem& p, const comfy_view<T>& v, const T* x, T a, T t, T h, T r1, T r2) {
    const T sigma2 = std::exp(-(t + r2 * h));
    const level<T> l2 = v.at(p, sigma2);
    const T s2 = v.scale(l2), c = s2 * sigma2 * (r2 / r1) * (std::expm1(r2 * h) / (r2 * h) - 1);
    simd::lincomb<T, 3>(u.view().span(), {s2 / a, -s2 * sigma2 * std::expm1(r2 * h) + c, -c}, {x, eps[0].data(), eps[1].data()});
    epsilon(p, v, u.view(), l2, 2);
  }
  /// out = DPM-Solver-`order` from x (model scale a) to σ' = e^{−(t + h)}, in the model scale s_out
  /// (the stages it needs must have run); out may be x.
  void finish(int order, batch_view<T> out, const T* x, T a, T h, T sigma_next, T s_out, T r1, T r2) const {
    const T e = std::expm1(h), c1 = -s_out * sigma_next * e;
    if (order == 1) return simd::lincomb<T, 2>(out.span(), {s_out / a, c1}, {x, eps[0].data()});
    const T c = order == 2 ? s_out * sigma_next / (2 * r1) * e : s_out * sigma_next / r2 * (e / h - 1);
    simd::lincomb<T, 3>(out.span(), {s_out / a, c1 + c, -c}, {x, eps[0].data(), eps[order == 2 ? 1 : 2].data()});
  }
};

}  // namespace ferry::detail
