#pragma once
// SDE-DPM-Solver++(1/2M/3M): multistep DPM-Solver++ on the reverse SDE (Lu et al. 2022b,
// "DPM-Solver++", arXiv:2211.01095; the η family as in k-diffusion). diffusers:
// DPMSolverMultistepScheduler with algorithm_type sde-dpmsolver++ (solver_order 1, 2, 3; midpoint |
// heun); k-diffusion: sample_dpmpp_2m_sde (solver_type), sample_dpmpp_3m_sde.
//
// The reverse SDE with the data prediction held polynomial in λ solves exactly (variation of
// constants). With h = λ_next − λ_cur and ĥ = (1 + η)·h (η = 0: the PF-ODE, η = 1: the reverse SDE):
//   x_next = (σ_next/σ_cur)·e^{−ηh}·x + α_next·[ĥφ1(−ĥ)·m0 + c2·D1 + c3·D2] + s_noise·σ_next·√(1 − e^{−2ηh})·z
// with ĥφ1(−ĥ) = 1 − e^{−ĥ}, m0, D1, D2 the data predictions and divided differences of the ODE
// solver (ode/dpmpp_multistep.hpp, whose history and coefficient code this shares), c2 = ĥφ1/2
// (midpoint, order 2) or ĥφ2(−ĥ) (heun; always at order 3) and c3 = ĥφ3(−ĥ). η = 0 is exactly
// dpmpp_multistep. z is the step's normal array (p.normal(step, 0)); a step to σ = 0 lands on x̂0
// and draws nothing.
//
// Peers: k-diffusion and diffusers give the same update at orders 1 and 2 (diffusers has η = 1);
// they differ in the order rules (options) and at order 3, where diffusers 58eb52c weights D2 by
// ĥφ3(−ĥ) − 1 (its "(1 − e^{−2h} − 2h)/(2h)² − 0.5" has the sign of the ½ flipped relative to its
// own ODE branch): D2 = O(h²), so its 3M SDE makes an O(h²) local error and converges at order 1.
// diffusers_d2 = true reproduces it (compat sets it); the default follows k-diffusion.
//
// brownian_tree: z = (W(σ̃') − W(σ̃))/√|σ̃' − σ̃| from ferry's keyed Brownian tree (detail/brownian_noise.hpp)
// where the noise is keyed, step i's array where it is injected: diffusers' CosineDPMSolverMultistepScheduler
// (its BrownianTreeNoiseSampler), which is this policy at order 2 on its EDM grid with η = 1.
#include <cmath>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/solvers/detail/brownian_noise.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/solvers/detail/phi.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

/// Options of SDE-DPM-Solver++; the defaults are diffusers' (sde-dpmsolver++) with η = s_noise = 1.
struct dpmpp_sde_multistep_options {
  dpm_solver_type solver_type = dpm_solver_type::midpoint;
  bool lower_order_final = true;  ///< lower orders in the last two steps of runs with < 15 steps
  bool euler_at_final = false;    ///< first order in the last step
  bool diffusers_d2 = false;      ///< order 3: diffusers' D2 weight ĥφ3(−ĥ) − 1 (see above)
  double eta = 1;                 ///< 0: PF-ODE, 1: reverse SDE
  double s_noise = 1;             ///< scale of the injected noise
  bool brownian_tree = false;     ///< z from a keyed Brownian tree in σ̃ (diffusers' CosineDPMSolverMultistep)
  double tree_tol = 1e-6;         ///< Brownian tree leaf width relative to the σ̃ range

  /// k-diffusion sample_dpmpp_2m_sde: no lower-order rule.
  static constexpr dpmpp_sde_multistep_options k_diffusion_2m(dpm_solver_type type = dpm_solver_type::midpoint) {
    return {type, false, false, false, 1, 1, false, 1e-6};
  }
  /// k-diffusion sample_dpmpp_3m_sde: heun-type warm-up, no lower-order rule.
  static constexpr dpmpp_sde_multistep_options k_diffusion_3m() { return {dpm_solver_type::heun, false, false, false, 1, 1, false, 1e-6}; }
  /// diffusers' CosineDPMSolverMultistepScheduler (its Brownian-tree noise, η = 1).
  static constexpr dpmpp_sde_multistep_options cosine(dpm_solver_type type = dpm_solver_type::midpoint, bool lower_order_final = true,
                                                      bool euler_at_final = false) {
    return {type, lower_order_final, euler_at_final, false, 1, 1, true, 1e-6};
  }
};

template <int Order, class T = double>
struct dpmpp_multistep_sde {
  static_assert(Order >= 1 && Order <= 3, "SDE-DPM-Solver++ multistep has orders 1, 2 and 3");
  static constexpr int order = Order, evals_per_step = 1;  ///< order: of the η = 0 limit
  static constexpr bool stochastic = true;
  dpmpp_sde_multistep_options opt{};

  dpmpp_multistep_sde() = default;
  explicit dpmpp_multistep_sde(dpmpp_sde_multistep_options o) : opt(o) { check_options(); }

  /// eta and s_noise must be finite and ≥ 0; spans the Brownian tree (the driver calls this before a run).
  void check(const schedule<T>& s) {
    check_options();
    if (opt.brownian_tree) tree_.span(s, T(opt.tree_tol), "dpmpp-sde multistep");
  }

  void reset(extent e) {
    hist_.reset(e);
    z_.resize(e);
    if (opt.brownian_tree) tree_.reset(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    batch<T>& m0 = hist_.push(s.cur);
    p.data(x, s.cur, m0.view());
    const int k = detail::multistep_order(Order, hist_.size(), s, opt.lower_order_final,
                                          s.next.sigma == 0 || (s.last() && opt.euler_at_final));
    detail::terms<T, Order + 2> u;
    if (s.next.sigma == 0) {  // the denoising step: x_next = α_next·x̂0
      u.add(s.next.alpha, m0);
      detail::combine(x, u);
      return;
    }
    const T h = s.next.lambda - s.cur.lambda, eta = T(opt.eta), eta_h = eta * h, h_hat = h + eta_h;
    const T scale = s.next.alpha, c1 = -scale * std::expm1(-h_hat);
    const T c3 = k == 3 ? scale * (h_hat * detail::phi(3, -h_hat) - (opt.diffusers_d2 ? 1 : 0)) : T(0);
    u.add(s.next.sigma / s.cur.sigma * std::exp(-eta_h), x.data);  // (σ_next/σ_cur)·e^{−ηh}·x
    detail::add_dpm_history(u, hist_, k, h, -h_hat, scale, c1, c3, opt.solver_type);
    if (eta_h > 0) {  // + s_noise·σ_next·√(1 − e^{−2ηh})·z
      if (opt.brownian_tree)
        tree_.draw(p, s, z_.view());
      else
        p.normal(s.index, 0, z_.view());
      u.add(T(opt.s_noise) * s.next.sigma * std::sqrt(-std::expm1(-2 * eta_h)), z_);
    }
    detail::combine(x, u);
  }

 private:
  void check_options() const {
    detail::check_eta_s_noise("dpmpp-sde multistep", opt.eta, opt.s_noise);
    if (!(opt.tree_tol > 0 && opt.tree_tol < 1))
      throw config_error(detail::cat("dpmpp-sde multistep: tree_tol = ", opt.tree_tol, "; expected 0 < tree_tol < 1"));
  }

  detail::history<T, std::size_t(Order)> hist_;
  batch<T> z_;
  detail::brownian_step_noise<T> tree_;
};

/// SDE-DPM-Solver++(2M) (k_diffusion_2m() for sample_dpmpp_2m_sde).
template <class T = double>
using dpmpp_2m_sde = dpmpp_multistep_sde<2, T>;
/// SDE-DPM-Solver++(3M) (k_diffusion_3m() for sample_dpmpp_3m_sde).
template <class T = double>
using dpmpp_3m_sde = dpmpp_multistep_sde<3, T>;

}  // namespace ferry
