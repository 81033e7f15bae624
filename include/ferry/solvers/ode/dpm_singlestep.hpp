#pragma once
// Single-step DPM-Solver (Lu et al. 2022a, "DPM-Solver", Alg. 1–2: DPM-Solver-2/3 on the noise
// prediction) and DPM-Solver++ (Lu et al. 2022b, Alg. 1: on the data prediction), with the grid's own
// levels as the intermediate points. diffusers 58eb52c: DPMSolverSinglestepScheduler (algorithm_type
// dpmsolver++ | dpmsolver | sde-dpmsolver++, solver_type midpoint | heun, get_order_list).
//
// The steps run in groups of orders 1, 2, …, K: a group starts at level s_0 from state x_g (its order-1
// step), and its order-k step lands on λ' from x_g with the group's k outputs m_0 (oldest, at s_0) …:
//   h = λ' − λ_{s0},  r_j = (λ_{sj} − λ_{s0})/h,  with (data | noise | SDE, ĥ = 2h):
//   A = σ'/σ_g | α'/α_g | (σ'/σ_g)e^{−h},  scale = α' | −σ' | α',  z = −h | h | −ĥ,  c_k = scale·|z|·φ_k(z)
//   order 1:  x' = A·x_g + c_1·m_0
//   order 2:  x' = A·x_g + c_1·m_0 + c·(m_1 − m_0)/r_1,       c = c_1/2 (midpoint) or c_2 (heun)
//   order 3, midpoint:  x' = A·x_g + c_1·m_0 + c_2·D1_2
//   order 3, heun:      x' = A·x_g + c_1·m_0 + c_2·D1 + c_3·D2
//     D1_1 = (m_1 − m_0)/r_1, D1_2 = (m_2 − m_0)/r_2, D1 = (r_2·D1_1 − r_1·D1_2)/(r_2 − r_1),
//     D2 = 2(D1_2 − D1_1)/(r_2 − r_1)
//   SDE: + σ'·√(1 − e^{−2h})·z (every step draws, step i stream 0; none where σ' = 0). diffusers' SDE heun
//   order 3 weights D2 by ĥφ3(−ĥ) − 1 (the flipped ½ of its multistep SDE): diffusers_d2.
// Order list (get_order_list, n steps, order K): 1, 2, …, K repeated; with lower_order_final (forced
// where n is not a multiple of K, as diffusers' set_timesteps does) a full-order last step becomes
// first order; a step to σ = 0 is first order (lands on α'·x̂0). diffusers also turns lower_order_final
// on for final_sigmas_type "zero": compat passes that in.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/solvers/detail/phi.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"

namespace ferry {

/// diffusers DPMSolverSinglestepScheduler option names; defaults are diffusers' with final_sigmas_type zero.
struct dpm_singlestep_options {
  int solver_order = 2;                                       ///< K: 1, 2 or 3
  dpm_algorithm algorithm_type = dpm_algorithm::dpmsolver_pp;  ///< data (dpmsolver++) or noise (dpmsolver)
  dpm_solver_type solver_type = dpm_solver_type::midpoint;
  bool sde = false;                ///< sde-dpmsolver++ (data prediction, η = 1)
  bool lower_order_final = true;   ///< see the order list
  bool diffusers_d2 = false;       ///< SDE heun order 3: diffusers' D2 weight ĥφ3(−ĥ) − 1
};

/// get_order_list: the order of step i of n.
inline int dpm_singlestep_order(int order, std::size_t n, std::size_t i, bool lower_order_final) {
  const int k = int(i % std::size_t(order)) + 1;
  const bool lof = lower_order_final || n % std::size_t(order) != 0;
  return lof && i + 1 == n && k == order && order > 1 ? 1 : k;
}

template <class T = double>
struct dpm_singlestep {
  static constexpr int order = 3, evals_per_step = 1;  ///< order: of solver_order 3
  static constexpr bool stochastic = true;
  static constexpr bool noise_checked_per_step = true;  // only the SDE variant draws
  dpm_singlestep_options opt{};

  /// Whether a run with these options draws noise (sde-dpmsolver++ only).
  bool draws_noise() const { return opt.sde; }

  dpm_singlestep() = default;
  explicit dpm_singlestep(dpm_singlestep_options o) : opt(o) { check_options(); }

  void check(const schedule<T>& s) const {
    check_options();
    detail::require_positive_alpha(s, "dpm-singlestep");  // a group's step spans h = λ' − λ_{s0} from its start
  }

  void reset(extent e) {
    hist_.reset(e);
    x_group_.resize(e), z_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const bool data = opt.sde || opt.algorithm_type == dpm_algorithm::dpmsolver_pp;
    batch<T>& m = hist_.push(s.cur);
    if (data)
      p.data(x, s.cur, m.view());
    else
      p.epsilon(x, s.cur, m.view());
    int k = s.next.sigma == 0 ? 1 : dpm_singlestep_order(opt.solver_order, s.count, s.index, opt.lower_order_final);
    k = std::min(k, int(hist_.size()));
    if (k == 1) simd::lincomb<T, 1>(x_group_.view().span(), {T(1)}, {x.data});
    const bool sde = opt.sde && s.next.sigma > 0;
    if constexpr (!detail::has_noise<Problem>)
      if (sde) throw config_error("dpm-singlestep: sde-dpmsolver++ draws noise at every step; give the problem a noise source (a seed)");

    const level<T>& g = hist_.at(std::size_t(k - 1));  // the group's start
    const T h = s.next.lambda - g.lambda;
    T a, scale, z;
    if (!data) a = s.next.alpha / g.alpha, scale = -s.next.sigma, z = h;
    else if (sde) a = s.next.sigma / g.sigma * std::exp(-h), scale = s.next.alpha, z = -2 * h;
    else a = s.next.sigma / g.sigma, scale = s.next.alpha, z = -h;
    // c_1 = scale·|z|·φ_1(z) = scale·(e^z − 1)·sign(z); its limit −α'σ_g/α_g for the noise form at σ' = 0
    const T c1 = !data && s.next.sigma == 0 ? -s.next.alpha * g.sigma / g.alpha : scale * (z < 0 ? -std::expm1(z) : std::expm1(z));
    const T c2 = k > 1 ? scale * std::abs(z) * detail::phi(2, z) : T(0);
    const T c3 = k > 2 ? scale * (std::abs(z) * detail::phi(3, z) - (sde && opt.diffusers_d2 ? 1 : 0)) : T(0);

    const batch<T>& m0 = hist_[std::size_t(k - 1)];  // oldest of the group
    detail::terms<T, 5> u;
    u.add(a, x_group_);
    if (k == 1) {
      u.add(c1, m0);
    } else if (k == 2) {  // c_1·m_0 + c·(m_1 − m_0)/r_1
      const T r1 = (hist_.at(0).lambda - g.lambda) / h, c = opt.solver_type == dpm_solver_type::midpoint ? c1 / 2 : c2;
      u.add(c1 - c / r1, m0), u.add(c / r1, hist_[0]);
    } else {
      const T r1 = (hist_.at(1).lambda - g.lambda) / h, r2 = (hist_.at(0).lambda - g.lambda) / h;
      // weights of D1_1 = (m_1 − m_0)/r_1 and D1_2 = (m_2 − m_0)/r_2
      const T w1 = opt.solver_type == dpm_solver_type::midpoint ? T(0) : (c2 * r2 - 2 * c3) / (r2 - r1);
      const T w2 = opt.solver_type == dpm_solver_type::midpoint ? c2 : (2 * c3 - c2 * r1) / (r2 - r1);
      u.add(c1 - w1 / r1 - w2 / r2, m0), u.add(w1 / r1, hist_[1]), u.add(w2 / r2, hist_[0]);
    }
    if constexpr (detail::has_noise<Problem>) {
      if (sde) {
        p.normal(s.index, 0, z_.view());
        u.add(s.next.sigma * std::sqrt(-std::expm1(-2 * h)), z_);  // + σ'·√(1 − e^{−2h})·z
      }
    }
    detail::combine(x, u);
  }

 private:
  void check_options() const {
    if (opt.solver_order < 1 || opt.solver_order > 3)
      throw config_error(detail::cat("dpm-singlestep: solver_order = ", opt.solver_order, "; expected 1, 2 or 3"));
    if (opt.sde && opt.algorithm_type != dpm_algorithm::dpmsolver_pp)
      throw config_error("dpm-singlestep: sde-dpmsolver++ integrates the data prediction; algorithm_type must be dpmsolver++");
  }

  detail::history<T, 3> hist_;
  batch<T> x_group_, z_;
};

}  // namespace ferry
