#pragma once
// SA-Solver: stochastic Adams predictor–corrector (Xue et al. 2023, "SA-Solver: Stochastic Adams Solver
// for Fast Sampling of Diffusion Models", Alg. 1; predictor Eq. 15, corrector Eq. 18, data prediction
// and noise prediction forms of §4). ComfyUI a125cd8: sample_sa_solver / sample_sa_solver_pece
// (comfy/k_diffusion/sa_solver.py); diffusers 58eb52c: SASolverScheduler.
//
// With λ = log(α/σ), h = λ' − λ, τ the step's stochasticity, m = 1 + τ², and the newest k outputs at
// λ_j (Lagrange basis ℓ_j through them), a step from x at λ to λ' is
//   data (x̂0):  x' = (σ'/σ)·e^{−τ²h}·x + Σ_j b_j·x̂0_j + s_noise·σ'·√(1 − e^{−2τ²h})·z,
//               b_j = α'·m·∫_λ^{λ'} e^{m(u − λ')}·ℓ_j(u) du
//   noise (ε̂):  x' = (α'/α)·x − Σ_j m·σ'·∫_λ^{λ'} e^{λ' − u}·ℓ_j(u) du·ε̂_j + s_noise·τ·σ'·√(e^{2h} − 1)·z
// (both integrals by detail::lagrange_exp_integral; diffusers' noise form keeps e^{−u} without τ, as here).
// simple_order_2 (ComfyUI's option; diffusers always, in data prediction): at k = 2 the weights are
// the paper's App. D ones, predictor b_1 = α'·m·h²/(2(λ_1 − λ)) on the older output, corrector
// b_new = α'·m·h/2 on the new one, the other weight α'(1 − e^{−mh}) minus it.
// Step i: evaluate x̂0 (or ε̂) at the predicted state; the corrector (order ck, the new output among
// its nodes) redoes the previous step from the state before it, adding the same noise the predictor
// drew (no new draw); use_pece evaluates the corrected state again; the predictor (order pk) then
// steps to λ', drawing z as step i, stream 0, where τ > 0 (or on every step, draw_every_step: diffusers
// draws in every step() call and multiplies by τ = 0, which a seeded generator's sequence shows). A step
// to σ = 0 lands on x̂0.
//
// τ = eta on the interval sde_end_sigma ≤ v ≤ sde_start_sigma, else 0, where v is (tau_variable)
//   sigma_next: ComfyUI's σ of the landing level (its view, detail/comfy_view.hpp: the flow σ on a flow,
//               σ/α otherwise); ComfyUI's default interval is percent_to_sigma(0.2) … (0.8) of the model
//               (comfy_sa_solver_interval)
//   timestep:   diffusers' timestep t of the current level (the default τ(t) = 1 on 200 ≤ t ≤ 800)
// Orders (step i of N; M = max(predictor_order, corrector_order)):
//   comfy:      pk = min(p, i + 1), ck = min(c, i + 1), none at i = 0 or (σ' = 0 without PECE); when the
//               schedule ends at σ = 0 and lower_order_final, pk ≤ N − 1 − i and ck ≤ N − i
//   diffusers:  pk = min(p, i + 1), ck = min(c, i + 1) but none at i = 0; lower_order_final: pk ≤ N − i,
//               ck ≤ N − i + 2
// ComfyUI's sa_solver offsets a first σ of 1 on flows: offset_first_sigma<sa_solver> (offset_first_sigma.hpp).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/grid/comfy.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/solvers/detail/lagrange.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

enum class sa_tau_variable { sigma_next, timestep };
enum class sa_order_rule { comfy, diffusers };

/// ComfyUI's sample_sa_solver arguments (defaults) and diffusers' SASolverScheduler as options.
struct sa_solver_options {
  int predictor_order = 3;       ///< 1 … 4 (diffusers: 2)
  int corrector_order = 4;       ///< 1 … 4 (diffusers: 2)
  bool use_pece = false;         ///< evaluate the corrected state again (sa_solver_pece)
  bool simple_order_2 = false;   ///< App. D weights at order 2 (diffusers: on in data prediction)
  bool predict_x0 = true;        ///< data prediction (diffusers algorithm_type data_prediction | noise_prediction)
  bool lower_order_final = true; ///< lower orders towards the end (see the order rules)
  double eta = 1;                ///< τ inside the interval
  double s_noise = 1;            ///< scale of the added noise
  double sde_start_sigma = std::numeric_limits<double>::quiet_NaN();  ///< upper end of τ's interval
  double sde_end_sigma = std::numeric_limits<double>::quiet_NaN();    ///< lower end of τ's interval
  sa_tau_variable tau_variable = sa_tau_variable::sigma_next;
  sa_order_rule order_rule = sa_order_rule::comfy;
  bool flow_view = true;  ///< τ of sigma_next on a flow: ComfyUI's CONST σ (the flow σ); false: σ/α
  bool draw_every_step = false;  ///< ask for step i's normal array where τ = 0 too (diffusers' step() draws on every call)
};

template <class T = double>
struct sa_solver {
  static constexpr int order = 3, evals_per_step = 1;  ///< of the defaults with τ = 0; PECE adds one evaluation per step
  static constexpr bool stochastic = true;
  static constexpr bool noise_checked_per_step = true;  // τ = 0 everywhere draws nothing
  sa_solver_options opt{};

  /// Whether a run with these options may draw noise (η > 0 and s_noise > 0; τ then picks the steps).
  bool draws_noise() const { return opt.eta > 0 && opt.s_noise > 0; }

  sa_solver() = default;
  explicit sa_solver(sa_solver_options o) : opt(o) { check_options(); }

  /// Validates the options and notes whether the schedule ends at σ = 0 (ComfyUI's lower-order rule).
  void check(const schedule<T>& s) {
    check_options();
    detail::require_positive_alpha(s, "sa-solver");  // λ = −∞ at α = 0 (on a flow from σ = 1: offset_first_sigma<sa_solver>)
    ends_at_zero_ = !s.points.empty() && s.points.back().sigma == 0;
  }

  void reset(extent e) {
    hist_.reset(e);
    x_prev_.resize(e), noise_.resize(e);
    tau_prev_ = 0, noise_added_ = false;
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const level<T>& cur = s.cur;
    batch<T>& m = hist_.push(cur);
    evaluate(p, x, cur, m);
    const auto [pk, ck] = orders(s);
    if (ck > 0) {  // corrector: the previous step again, from x_prev_, with the new output
      update(x, x_prev_.data(), hist_.at(1), cur, ck, tau_prev_, true);
      if (opt.use_pece) evaluate(p, x, cur, m);
    }
    if (s.next.sigma == 0) {  // the denoising step: x' = α'·x̂0
      if (opt.predict_x0)
        simd::lincomb<T, 1>(x.span(), {s.next.alpha}, {m.data()});
      else
        simd::lincomb<T, 2>(x.span(), {s.next.alpha / cur.alpha, -s.next.alpha * cur.sigma / cur.alpha}, {x.data, m.data()});
      return;
    }
    const T tau = tau_of(s);
    const T h = s.next.lambda - cur.lambda;
    const T noise = T(opt.s_noise) * (opt.predict_x0 ? s.next.sigma * std::sqrt(-std::expm1(-2 * tau * tau * h))
                                                     : tau * s.next.sigma * std::sqrt(std::expm1(2 * h)));
    if constexpr (!detail::has_noise<Problem>)
      if (noise > 0) throw config_error(detail::cat("sa-solver: step ", s.index + 1, " adds noise; give the problem a noise source (a seed)"));
    simd::lincomb<T, 1>(x_prev_.view().span(), {T(1)}, {x.data});
    update(x, x_prev_.data(), cur, s.next, pk, tau, false);
    tau_prev_ = tau, noise_added_ = false;
    if constexpr (detail::has_noise<Problem>) {
      if (noise > 0 || opt.draw_every_step) p.normal(s.index, 0, noise_.view());  // a seeded generator advances as diffusers' does
      if (noise > 0) {
        simd::lincomb<T, 1>(noise_.view().span(), {noise}, {noise_.data()});  // the scaled draw, kept for the corrector
        simd::lincomb<T, 2>(x.span(), {T(1), T(1)}, {x.data, noise_.data()});
        noise_added_ = true;
      }
    }
  }

 private:
  template <class Problem>
  void evaluate(Problem& p, batch_view<T> x, const level<T>& lv, batch<T>& out) {
    if (opt.predict_x0)
      p.data(x, lv, out.view());
    else
      p.epsilon(x, lv, out.view());
  }

  std::pair<int, int> orders(const step_span<T>& s) const {
    const int i = int(s.index), n = int(s.count);
    int pk = std::min(opt.predictor_order, i + 1), ck = i == 0 ? 0 : std::min(opt.corrector_order, i + 1);
    if (opt.order_rule == sa_order_rule::comfy) {
      if (s.next.sigma == 0 && !opt.use_pece) ck = 0;
      if (opt.lower_order_final && ends_at_zero_) pk = std::min(pk, n - 1 - i), ck = std::min(ck, n - i);
    } else if (opt.lower_order_final) {
      pk = std::min(pk, n - i), ck = std::min(ck, n - i + 2);
    }
    return {std::max(pk, 1), ck};
  }

  T tau_of(const step_span<T>& s) const {
    const T v = opt.tau_variable == sa_tau_variable::timestep ? s.cur.t : detail::comfy_view<T>::of(s, opt.flow_view).sigma(s.next);
    return opt.eta > 0 && T(opt.sde_start_sigma) >= v && v >= T(opt.sde_end_sigma) ? T(opt.eta) : T(0);
  }

  // out = the SA step of order k from state xs at level src to level tgt, with the k newest outputs
  // (b: 0 for the corrector, whose newest output sits at tgt; predictor outputs end at src). No noise.
  void update(batch_view<T> out, const T* xs, const level<T>& src, const level<T>& tgt, int k, T tau, bool corrector) const {
    const T h = tgt.lambda - src.lambda, mult = 1 + tau * tau;
    const auto kk = std::size_t(k);
    std::array<T, 4> nodes{}, w{};
    detail::terms<T, 6> u;  // x, four outputs, the noise
    if (opt.predict_x0) {  // b_j = −α'·∫_0^{−mh} ℓ_j(λ' + v/m)·e^v dv
      for (std::size_t j = 0; j < kk; ++j) nodes[j] = mult * (hist_.at(j).lambda - tgt.lambda);
      for (std::size_t j = 0; j < kk; ++j) w[j] = -tgt.alpha * detail::lagrange_exp_integral(nodes, kk, j, -mult * h);
      if (k == 2 && opt.simple_order_2) {  // App. D: the weight of the older (predictor) or newer (corrector) output
        const T total = -tgt.alpha * std::expm1(-mult * h);
        const std::size_t j = corrector ? 0 : 1;
        w[j] = corrector ? tgt.alpha * mult * h / 2 : tgt.alpha * mult * h * h / (2 * (hist_.at(1).lambda - src.lambda));
        w[1 - j] = total - w[j];
      }
      u.add(tgt.sigma / src.sigma * std::exp(-tau * tau * h), xs);
    } else {  // −m·σ'·∫_0^h ℓ_j(λ' − v)·e^v dv
      for (std::size_t j = 0; j < kk; ++j) nodes[j] = tgt.lambda - hist_.at(j).lambda;
      for (std::size_t j = 0; j < kk; ++j) w[j] = -mult * tgt.sigma * detail::lagrange_exp_integral(nodes, kk, j, h);
      u.add(tgt.alpha / src.alpha, xs);
    }
    for (std::size_t j = 0; j < kk; ++j) u.add(w[j], hist_[j]);
    if (corrector && noise_added_) u.add(T(1), noise_);  // the predictor's draw again
    detail::combine(out, u);
  }

  void check_options() const {
    const auto bad_order = [](int o) { return o < 1 || o > 4; };
    if (bad_order(opt.predictor_order) || bad_order(opt.corrector_order))
      throw config_error(detail::cat("sa-solver: predictor_order = ", opt.predictor_order, ", corrector_order = ", opt.corrector_order,
                                     "; expected 1 to 4"));
    detail::check_eta_s_noise("sa-solver", opt.eta, opt.s_noise);
    if (opt.eta > 0 && (std::isnan(opt.sde_start_sigma) || std::isnan(opt.sde_end_sigma)))
      throw config_error("sa-solver: sde_start_sigma and sde_end_sigma are not set (ComfyUI takes them from the model's sigma table, "
                         "percent_to_sigma(0.2) and percent_to_sigma(0.8))");
    if (opt.eta > 0 && !(opt.sde_start_sigma >= opt.sde_end_sigma && opt.sde_end_sigma >= 0))
      throw config_error(detail::cat("sa-solver: sde_start_sigma = ", opt.sde_start_sigma, ", sde_end_sigma = ", opt.sde_end_sigma,
                                     "; expected sde_start_sigma >= sde_end_sigma >= 0"));
  }

  detail::history<T, 4> hist_;
  batch<T> x_prev_, noise_;
  T tau_prev_ = 0;
  bool noise_added_ = false, ends_at_zero_ = false;
};

/// diffusers' SASolverScheduler: orders 2/2 by default, τ = 1 on timesteps 200 … 800 of the current level,
/// its order rules, data prediction with the order-2 weights of App. D, or noise prediction.
template <class T = double>
sa_solver<T> diffusers_sa_solver(int predictor_order = 2, int corrector_order = 2, bool predict_x0 = true, bool lower_order_final = true) {
  return sa_solver<T>({.predictor_order = predictor_order, .corrector_order = corrector_order, .use_pece = false,
                       .simple_order_2 = predict_x0, .predict_x0 = predict_x0, .lower_order_final = lower_order_final, .eta = 1,
                       .s_noise = 1, .sde_start_sigma = 800, .sde_end_sigma = 200, .tau_variable = sa_tau_variable::timestep,
                       .order_rule = sa_order_rule::diffusers, .flow_view = false, .draw_every_step = true});
}

/// ComfyUI's percent_to_sigma of the model sampling of a process, where it has one: on a flow
/// time_snr_shift(shift, 1 − percent) (ModelSamplingDiscreteFlow; it needs no table), on a discrete
/// table the σ̃ at timestep (1 − percent)·(N − 1), log σ̃ interpolated in float32 (ModelSamplingDiscrete,
/// N = 1000: its 999). Other processes (EDM, VE, the continuous VP ones) have none: nullopt.
template <class P>
std::optional<double> comfy_percent_to_sigma(const P& process, double percent) {
  using T = typename P::value_type;
  if constexpr (std::is_same_v<P, flow<T>>) {
    return double(process.sigma(T(1 - percent)));
  } else {
    const std::optional<detail::comfy_sampling> ms = detail::comfy_model_sampling(process);
    if (!ms) return std::nullopt;
    return ms->sigma((1 - percent) * double(ms->sigmas.size() - 1));
  }
}

/// ComfyUI's default τ interval {sde_start_sigma, sde_end_sigma} = percent_to_sigma(0.2), percent_to_sigma(0.8)
/// of the model sampling (comfy_percent_to_sigma). A process without ComfyUI's model sampling (EDM, VE)
/// has no default: config_error, naming the options to give (the references use SD1's 5.0924, 0.5712).
template <class P>
std::pair<double, double> comfy_sa_solver_interval(const P& process) {
  const std::optional<double> start = comfy_percent_to_sigma(process, 0.2), end = comfy_percent_to_sigma(process, 0.8);
  if (!start || !end)
    throw config_error("sa-solver: this process has no model sigma table to take ComfyUI's noise interval from "
                       "(percent_to_sigma: discrete-vp or flow); give sde_start_sigma and sde_end_sigma");
  return {*start, *end};
}

}  // namespace ferry
