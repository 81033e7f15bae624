#pragma once
// DPM-Solver-12 and -23 with adaptive steps (Lu et al. 2022, "DPM-Solver", §3.4 and Alg. 4–5;
// k-diffusion's sample_dpm_adaptive, ComfyUI's dpm_adaptive): within each schedule step, in ComfyUI's
// view (detail/comfy_view.hpp) and t = −log σ, from s:
//
//   t = min(t_end, s + h)
//   order 3: x_low = DPM-Solver-2 (r1 = ⅓), x_high = DPM-Solver-3 (sharing ε and ε(u1));  order 2: 1 and 2 (r1 = ½)
//   δ = max(atol, rtol·max(|x_low|, |x_prev|)),   err = ‖(x_low − x_high)/δ‖₂ / √(N·D)
//   accept ⇔ the PID factor ≥ accept_safety (detail/step_control.hpp); h ← h·factor either way
//   on accepting: x_prev = x_low, x = x_high (+ s_noise·σ_u·z where η > 0), s = t
//
// until s ≥ t_end − 10⁻⁵. Each attempt evaluates the model `order` times (ε at s is evaluated again
// after a rejection, as k-diffusion's per-attempt cache does). The norm is over the whole batch, so
// every row depends on all rows (couples_rows: the driver runs it as one chunk). ComfyUI runs it from
// σ_0 to σ_min (the last nonzero σ of its list) and stops there, without a step to σ = 0: run it over
// comfy_dpm_adaptive_sigmas(sigmas) = {σ_0, σ_min}. A schedule step that does land on σ = 0 is
// x' = α'·x̂0. The controller and x_prev carry over from one schedule step to the next. eta > 0: each
// attempt lands on max(σ_d, σ_end) of get_ancestral_step(σ(s), σ(t), η) and accepted steps add
// s_noise·√(σ(t)² − that²)·z (stream k for the k-th accepted step of a schedule step).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/ancestral.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"
#include "ferry/solvers/detail/dpm_solver.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"
#include "ferry/solvers/detail/step_control.hpp"

namespace ferry {

template <class T = double>
struct dpm_adaptive {
  static constexpr int order = 3, evals_per_step = 3;  ///< per attempt (order 3)
  static constexpr bool stochastic = true;
  static constexpr bool noise_checked_per_step = true;  // η = 0 (the default) draws nothing
  static constexpr bool couples_rows = true;            // the error norm is over the whole batch

  struct options {
    int order = 3;  ///< 2 (DPM-Solver-12) or 3 (DPM-Solver-23)
    T rtol = T(0.05), atol = T(0.0078), h_init = T(0.05);
    T pcoeff = 0, icoeff = 1, dcoeff = 0, accept_safety = T(0.81);
    T eta = 0, s_noise = 1;
    bool flow_view = true;  ///< on a flow, ComfyUI's CONST view
  } opt;

  /// Whether a run with these options draws noise (η > 0 and s_noise > 0).
  bool draws_noise() const { return opt.eta > 0 && opt.s_noise > 0; }

  dpm_adaptive() = default;
  explicit dpm_adaptive(options o) : opt(o) {
    if (opt.order != 2 && opt.order != 3) throw config_error(detail::cat("dpm-adaptive: order = ", opt.order, "; expected 2 or 3"));
    if (!(opt.rtol >= 0) || !(opt.atol >= 0) || (opt.rtol == 0 && opt.atol == 0))
      throw config_error(detail::cat("dpm-adaptive: rtol = ", opt.rtol, ", atol = ", opt.atol, "; expected both >= 0 and one > 0"));
    if (!(opt.h_init > 0) || !std::isfinite(opt.h_init)) throw config_error(detail::cat("dpm-adaptive: h_init = ", opt.h_init, "; expected > 0"));
    if (!(opt.accept_safety > 0) || !std::isfinite(opt.pcoeff + opt.icoeff + opt.dcoeff))
      throw config_error("dpm-adaptive: accept_safety must be > 0 and pcoeff, icoeff, dcoeff finite");
    detail::check_eta_s_noise("dpm-adaptive", opt.eta, opt.s_noise);
  }

  void check(const schedule<T>& s) {
    for (std::size_t i = 0; i < s.steps(); ++i)
      if (!detail::comfy_view<T>::of(s.step(i), opt.flow_view).flow) {
        detail::require_positive_alpha(s, "dpm-adaptive");
        break;
      }
    end_ = s.points.back();
  }
  void reset(extent e) {
    st_.reset(e);
    for (auto* b : {&x_low_, &x_high_, &x_prev_, &z_}) b->resize(e);
    pid_ = detail::pid_controller<T>(opt.h_init, opt.pcoeff, opt.icoeff, opt.dcoeff, opt.eta > 0 ? T(1.5) : T(opt.order), opt.accept_safety);
    started_ = false;
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const auto v = detail::comfy_view<T>::of(s, opt.flow_view);
    if (v.sigma(s.next) == 0) {  // a schedule that ends at the data: x' = α'·x̂0
      p.data(x, s.cur, st_.x0.view());
      return simd::lincomb<T, 1>(x.span(), {s.next.alpha}, {st_.x0.data()});
    }
    if (!started_) {  // k-diffusion: x_prev = x, s = t_start
      t_ = -std::log(v.sigma(s.cur));
      simd::lincomb<T, 1>(x_prev_.view().span(), {1 / v.scale(s.cur)}, {x.data});
      started_ = true;
    }
    if constexpr (!detail::has_noise<Problem>)
      if (opt.eta > 0 && opt.s_noise > 0) throw config_error("dpm-adaptive with eta > 0 draws noise; give the problem a noise source (a seed)");
    const T t_end = -std::log(v.sigma(s.next)), lo = v.sigma(end_);
    T a = v.scale(s.cur);
    std::uint32_t accepted = 0;
    while (t_ < t_end - T(1e-5)) {
      const T t = std::min(t_end, t_ + pid_.h), sigma = std::exp(-t_), sigma_t = std::exp(-t);
      T down = sigma_t, up = 0;
      if (opt.eta > 0) {
        down = std::max(lo, detail::get_ancestral_step(sigma, sigma_t, opt.eta).down);
        up = std::sqrt(std::max(T(0), sigma_t * sigma_t - down * down));
      }
      const T h = -std::log(down) - t_, r1 = opt.order == 2 ? T(0.5) : T(1) / 3, r2 = T(2) / 3;
      st_.epsilon(p, v, x, v.at(p, sigma), 0);
      st_.stage1(p, v, x.data, a, t_, h, r1);
      if (opt.order == 3) st_.stage2(p, v, x.data, a, t_, h, r1, r2);
      st_.finish(opt.order - 1, x_low_.view(), x.data, a, h, down, T(1), r1, r2);  // in the view's units
      st_.finish(opt.order, x_high_.view(), x.data, a, h, down, T(1), r1, r2);
      if (!pid_.propose(error_norm())) continue;
      std::swap(x_prev_, x_low_);
      const level<T> at_t = v.at(p, sigma_t);
      a = v.scale(at_t);
      if constexpr (detail::has_noise<Problem>) {
        if (up > 0 && opt.s_noise > 0) {
          p.normal(s.index, accepted, z_.view());
          simd::lincomb<T, 2>(x.span(), {a, a * up * opt.s_noise}, {x_high_.data(), z_.data()});
        } else {
          simd::lincomb<T, 1>(x.span(), {a}, {x_high_.data()});
        }
      } else {
        simd::lincomb<T, 1>(x.span(), {a}, {x_high_.data()});
      }
      t_ = t, ++accepted;
    }
    const T a_next = v.scale(s.next);  // the state is at t ≥ t_end − 10⁻⁵: keep x̃, in the landing's scale
    if (a != a_next) simd::lincomb<T, 1>(x.span(), {a_next / a}, {x.data});
  }

 private:
  // ‖(x_low − x_high)/max(atol, rtol·max(|x_low|, |x_prev|))‖₂ / √(N·D)
  T error_norm() const {
    const std::size_t n = x_low_.size();
    T acc = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const T lo = x_low_.data()[i], delta = std::max(opt.atol, opt.rtol * std::max(std::abs(lo), std::abs(x_prev_.data()[i])));
      const T r = (lo - x_high_.data()[i]) / delta;
      acc += r * r;
    }
    return std::sqrt(acc) / std::sqrt(T(n));
  }

  detail::dpm_solver_stages<T> st_;
  detail::pid_controller<T> pid_;
  batch<T> x_low_, x_high_, x_prev_, z_;
  level<T> end_{};
  T t_ = 0;
  bool started_ = false;
};

/// The σ's ComfyUI's dpm_adaptive integrates between for a σ list it is given: {σ_0, σ_min}, σ_min
/// the last nonzero entry.
template <class T>
std::vector<T> comfy_dpm_adaptive_sigmas(std::span<const T> sigmas) {
  if (sigmas.size() < 2 || !(sigmas.front() > 0))
    throw config_error(detail::cat("dpm-adaptive: needs a sigma list of at least 2 entries starting above 0, got ", sigmas.size()));
  const T lo = sigmas.back() > 0 ? sigmas.back() : sigmas[sigmas.size() - 2];
  if (!(lo > 0) || !(lo < sigmas.front()))
    throw config_error(detail::cat("dpm-adaptive: sigma_min = ", lo, " must lie in (0, sigma_max = ", sigmas.front(), ")"));
  return {sigmas.front(), lo};
}

}  // namespace ferry
