#pragma once
// Multistep DPM-Solver: DPM-Solver++(1/2M/3M) on the data prediction (Lu et al. 2022b, "DPM-Solver++",
// Alg. 2 and App. B) and DPM-Solver(1/2/3) on the noise prediction (Lu et al. 2022a, Eq. 3.7–3.9 in
// multistep form). diffusers: DPMSolverMultistepScheduler (algorithm_type dpmsolver++ | dpmsolver,
// solver_type midpoint | heun); k-diffusion: sample_dpmpp_2m, sample_dpmpp_3m_sde with eta = 0.
//
// With h = λ_next − λ_cur, the model outputs m0 (now), m1, m2 (previous steps) at λ_cur, λ_1, λ_2,
//   r0 = (λ_cur − λ_1)/h,  r1 = (λ_1 − λ_2)/h,  D1_0 = (m0 − m1)/r0,  D1_1 = (m1 − m2)/r1,
//   order 2:  D1 = D1_0;   order 3:  D1 = D1_0 + r0/(r0+r1)·(D1_0 − D1_1),  D2 = (D1_0 − D1_1)/(r0+r1)
// data (dpmsolver++, z = −h):  x_next = (σ_next/σ_cur)·x + α_next·[hφ1(z)·m0 + c2·D1 + hφ3(z)·D2]
// noise (dpmsolver,  z = +h):  x_next = (α_next/α_cur)·x − σ_next·[hφ1(z)·m0 + c2·D1 + hφ3(z)·D2]
// with c2 = hφ1(z)/2 for the midpoint type and c2 = hφ2(z) for the heun type; hφ1(−h) = −expm1(−h).
//
// Order rules (diffusers 58eb52c, DPMSolverMultistepScheduler.step): the order warms up 1, 2, 3;
// the last step is first order when euler_at_final, or lower_order_final with fewer than 15 steps,
// and the second-to-last is at most second order in that case. A step that lands on σ = 0 (λ = ∞)
// is always first order and lands on α_next·x̂0 (diffusers' final_sigmas_type "zero", k-diffusion's
// "denoising step"). k-diffusion has no lower-order rule: k_diffusion_2m()/k_diffusion_3m() below;
// sample_dpmpp_3m_sde warms up with the heun-type φ₂ (hence solver_type heun there).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string_view>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/solvers/detail/phi.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

/// What the solver integrates: the data prediction (DPM-Solver++) or the noise prediction (DPM-Solver).
enum class dpm_algorithm { dpmsolver_pp, dpmsolver };
/// How the second-order term is formed (diffusers' solver_type).
enum class dpm_solver_type { midpoint, heun };

/// Parses diffusers' algorithm_type: dpmsolver++ | dpmsolver.
inline dpm_algorithm parse_dpm_algorithm(std::string_view s) {
  if (s == "dpmsolver++") return dpm_algorithm::dpmsolver_pp;
  if (s == "dpmsolver") return dpm_algorithm::dpmsolver;
  throw config_error(detail::cat("algorithm_type \"", s, "\" is not an ODE DPM-Solver; expected dpmsolver++ or dpmsolver"));
}
/// Parses diffusers' solver_type: midpoint | heun.
inline dpm_solver_type parse_dpm_solver_type(std::string_view s) {
  if (s == "midpoint") return dpm_solver_type::midpoint;
  if (s == "heun") return dpm_solver_type::heun;
  throw config_error(detail::cat("solver_type \"", s, "\" is unknown; expected midpoint or heun"));
}

/// diffusers DPMSolverMultistepScheduler option names; the defaults are diffusers' defaults.
struct dpmpp_multistep_options {
  dpm_algorithm algorithm_type = dpm_algorithm::dpmsolver_pp;
  dpm_solver_type solver_type = dpm_solver_type::midpoint;
  bool lower_order_final = true;  ///< lower orders in the last two steps of runs with < 15 steps
  bool euler_at_final = false;    ///< first order in the last step
  /// Order 3: weight D2 ≈ h²·x̂0''/2 by 2hφ3, as the Taylor expansion of the exact solution requires
  /// (x̂0'' enters as h³φ3·x̂0''). diffusers and k-diffusion weight it by hφ3, which leaves an O(h³) local
  /// error: their 3M converges at order 2. false (the default) reproduces the peers.
  bool taylor_d2 = false;

  /// k-diffusion sample_dpmpp_2m: midpoint, no lower-order rule.
  static constexpr dpmpp_multistep_options k_diffusion_2m() {
    return {dpm_algorithm::dpmsolver_pp, dpm_solver_type::midpoint, false, false};
  }
  /// k-diffusion sample_dpmpp_3m_sde(eta = 0): heun-type warm-up, no lower-order rule.
  static constexpr dpmpp_multistep_options k_diffusion_3m() {
    return {dpm_algorithm::dpmsolver_pp, dpm_solver_type::heun, false, false};
  }
};

namespace detail {

/// The model-output terms of an order-k multistep DPM-Solver update, added to u:
///   c1·m0 + c2·D1 + c3·D2,   c2 = scale·|z|·φ2(z)  (c1/2 for the midpoint type at order 2)
/// with m0, m1, m2 the history's outputs and D1, D2 the divided differences of the header comment,
/// whose ratios r0, r1 divide the history's λ gaps by h. z is the argument the φ's see (−h or +h for
/// the ODE, −(1+η)h for the SDE), c1 = scale·|z|·φ1(z); c3 weights D2 (order 3 only). |z| carries
/// the sign of h (copysign(z, h)): an inversion steps with h < 0 (solvers/inversion.hpp).
template <class T, std::size_t Max, std::size_t N>
void add_dpm_history(terms<T, Max>& u, const history<T, N>& hist, int k, T h, T z, T scale, T c1, T c3,
                     dpm_solver_type type) {
  if (k == 1) {
    u.add(c1, hist[0]);
    return;
  }
  if constexpr (N >= 2) {
    const T r0 = (hist.at(0).lambda - hist.at(1).lambda) / h;
    const T c2 = type == dpm_solver_type::midpoint && k == 2 ? c1 / 2 : scale * std::copysign(z, h) * phi(2, z);
    if (k == 2) {  // m0 + c2·(m0 − m1)/r0
      u.add(c1 + c2 / r0, hist[0]);
      u.add(-c2 / r0, hist[1]);
      return;
    }
    if constexpr (N >= 3) {
      // order 3: c2·D1 + c3·D2 = (c2 + q)·D1_0 − q·D1_1,  q = (c2·r0 + c3)/(r0 + r1)
      const T r1 = (hist.at(1).lambda - hist.at(2).lambda) / h;
      const T q = (c2 * r0 + c3) / (r0 + r1);
      u.add(c1 + (c2 + q) / r0, hist[0]);
      u.add(-(c2 + q) / r0 - q / r1, hist[1]);
      u.add(q / r1, hist[2]);
    }
  }
}

}  // namespace detail

template <int Order, class T = double>
struct dpmpp_multistep {
  static_assert(Order >= 1 && Order <= 3, "DPM-Solver multistep has orders 1, 2 and 3");
  static constexpr int order = Order, evals_per_step = 1;
  dpmpp_multistep_options opt{};

  void reset(extent e) { hist_.reset(e); }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const bool data = opt.algorithm_type == dpm_algorithm::dpmsolver_pp;
    batch<T>& out = hist_.push(s.cur);
    if (data)
      p.data(x, s.cur, out.view());
    else
      p.epsilon(x, s.cur, out.view());

    const int k = detail::multistep_order(Order, hist_.size(), s, opt.lower_order_final,
                                          s.next.sigma == 0 || (s.last() && opt.euler_at_final));

    const T h = s.next.lambda - s.cur.lambda;
    detail::terms<T, Order + 1> u;
    if (data) {
      // x_next = (σ_next/σ_cur)·x − α_next·expm1(−h)·m0 + …   (DPM-Solver++, Eq. 9 / Alg. 2)
      u.add(s.next.sigma / s.cur.sigma, x.data);
      add_history(u, k, h, -h, s.next.alpha, -s.next.alpha * std::expm1(-h));
    } else {
      // x_next = (α_next/α_cur)·x − σ_next·expm1(h)·m0 − …     (DPM-Solver, Eq. 3.7)
      // σ_next·expm1(h) → α_next·σ_cur/α_cur as σ_next → 0
      const T c1 = s.next.sigma == 0 ? -s.next.alpha * s.cur.sigma / s.cur.alpha : -s.next.sigma * std::expm1(h);
      u.add(s.next.alpha / s.cur.alpha, x.data);
      add_history(u, k, h, h, -s.next.sigma, c1);
    }
    detail::combine(x, u);
  }

 private:
  void add_history(detail::terms<T, Order + 1>& u, int k, T h, T z, T scale, T c1) const {
    const T c3 = k == 3 ? (opt.taylor_d2 ? 2 : 1) * scale * std::copysign(z, h) * detail::phi(3, z) : T(0);
    detail::add_dpm_history(u, hist_, k, h, z, scale, c1, c3, opt.solver_type);
  }

  detail::history<T, std::size_t(Order)> hist_;
};

/// DPM-Solver++(2M) (diffusers' default DPMSolverMultistepScheduler; k_diffusion_2m() for sample_dpmpp_2m).
template <class T = double>
using dpmpp_2m = dpmpp_multistep<2, T>;
/// DPM-Solver++(3M) (diffusers solver_order 3; k_diffusion_3m() for sample_dpmpp_3m_sde with eta = 0).
template <class T = double>
using dpmpp_3m = dpmpp_multistep<3, T>;

}  // namespace ferry
