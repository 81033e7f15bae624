#pragma once
// DPM-Solver-fast (Lu et al. 2022, "DPM-Solver", §3.4 and App. D.1; k-diffusion's sample_dpm_fast,
// ComfyUI's dpm_fast): singlestep DPM-Solver-3/2/1 (detail/dpm_solver.hpp) on M + 1 levels uniform in
// t = −log σ, with a budget of N model evaluations spent as
//
//   M = ⌊N/3⌋ + 1 steps,  orders 3, …, 3, 2, 1 when 3 | N, else 3, …, 3, N mod 3.
//
// ComfyUI gives it a σ list of N + 1 entries and uses only σ_max = σ_0, σ_min = the last nonzero σ and
// N: comfy_dpm_fast_sigmas() makes the levels it visits and comfy_dpm_fast() the policy. Its run ends
// at σ_min, without a step to σ = 0 (ComfyUI's behaviour, kept under its name); a schedule of this
// policy that does end at σ = 0 takes that last step as x' = α'·x̂0. nfe = 0 means third order on every
// step. eta > 0 makes each step ancestral as k-diffusion's: (σ_d, σ_u) = get_ancestral_step(σ, σ', η),
// the DPM-Solver step lands on max(σ_d, σ_end) and s_noise·√(σ'² − that²)·z is added (stream 0).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/ancestral.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"
#include "ferry/solvers/detail/dpm_solver.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"

namespace ferry {

template <class T = double>
struct dpm_fast {
  static constexpr int order = 3, evals_per_step = 3;
  static constexpr bool stochastic = true;
  static constexpr bool noise_checked_per_step = true;  // η = 0 (the default) draws nothing

  struct options {
    std::size_t nfe = 0;    ///< N, the model evaluations of the run (0: 3 per step)
    T eta = 0;              ///< ancestral noise (k-diffusion's eta)
    T s_noise = 1;          ///< scale of that noise
    bool flow_view = true;  ///< on a flow, ComfyUI's CONST view
  } opt;

  /// Whether a run with these options draws noise (η > 0 and s_noise > 0).
  bool draws_noise() const { return opt.eta > 0 && opt.s_noise > 0; }

  dpm_fast() = default;
  explicit dpm_fast(options o) : opt(o) { detail::check_eta_s_noise("dpm-fast", opt.eta, opt.s_noise); }

  /// N must fit the schedule (⌊N/3⌋ + 1 steps); keeps the run's last σ (the ancestral landing bound).
  void check(const schedule<T>& s) {
    if (opt.nfe != 0 && opt.nfe / 3 + 1 != s.steps())
      throw config_error(detail::cat("dpm-fast: nfe = ", opt.nfe, " makes ", opt.nfe / 3 + 1, " steps, but the schedule has ", s.steps()));
    for (std::size_t i = 0; i < s.steps(); ++i)
      if (!detail::comfy_view<T>::of(s.step(i), opt.flow_view).flow) {
        detail::require_positive_alpha(s, "dpm-fast");
        break;
      }
    end_ = s.points.back();
  }
  void reset(extent e) {
    st_.reset(e);
    z_.resize(e);
  }

  /// The DPM-Solver order of step i of m.
  int order_of(std::size_t i, std::size_t m) const {
    if (opt.nfe == 0) return 3;
    if (opt.nfe % 3 == 0) return i + 2 < m ? 3 : i + 2 == m ? 2 : 1;
    return i + 1 < m ? 3 : int(opt.nfe % 3);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const auto v = detail::comfy_view<T>::of(s, opt.flow_view);
    const T sigma = v.sigma(s.cur), a = v.scale(s.cur), sigma_next = v.sigma(s.next), a_next = v.scale(s.next);
    if (sigma_next == 0) {  // a schedule that ends at the data: x' = α'·x̂0
      p.data(x, s.cur, st_.x0.view());
      return simd::lincomb<T, 1>(x.span(), {s.next.alpha}, {st_.x0.data()});
    }
    T down = sigma_next, up = 0;
    if (opt.eta > 0) {  // k-diffusion: land on max(σ_d, σ_end), renoise to σ'
      down = std::max(v.sigma(end_), detail::get_ancestral_step(sigma, sigma_next, opt.eta).down);
      up = std::sqrt(std::max(T(0), sigma_next * sigma_next - down * down));
    }
    if constexpr (!detail::has_noise<Problem>)
      if (up > 0) throw config_error("dpm-fast with eta > 0 draws noise; give the problem a noise source (a seed)");
    const int k = order_of(s.index, s.count);
    const T t = -std::log(sigma), h = -std::log(down) - t, r1 = k == 2 ? T(0.5) : T(1) / 3, r2 = T(2) / 3;
    st_.epsilon(p, v, x, s.cur, 0);
    if (k >= 2) st_.stage1(p, v, x.data, a, t, h, r1);
    if (k >= 3) st_.stage2(p, v, x.data, a, t, h, r1, r2);
    st_.finish(k, x, x.data, a, h, down, a_next, r1, r2);
    if constexpr (detail::has_noise<Problem>) {
      if (up > 0) {
        p.normal(s.index, 0, z_.view());
        simd::lincomb<T, 2>(x.span(), {T(1), a_next * up * opt.s_noise}, {x.data, z_.data()});
      }
    }
  }

 private:
  detail::dpm_solver_stages<T> st_;
  batch<T> z_;
  level<T> end_{};
};

/// The σ's ComfyUI's dpm_fast visits for a σ list it is given: M + 1 = ⌊N/3⌋ + 2 levels e^{−t},
/// t = linspace(−log σ_0, −log σ_min, M + 1) with σ_min the last nonzero entry and N = len − 1.
template <class T>
std::vector<T> comfy_dpm_fast_sigmas(std::span<const T> sigmas) {
  if (sigmas.size() < 2 || !(sigmas.front() > 0))
    throw config_error(detail::cat("dpm-fast: needs a sigma list of at least 2 entries starting above 0, got ", sigmas.size()));
  const T lo = sigmas.back() > 0 ? sigmas.back() : sigmas[sigmas.size() - 2];
  if (!(lo > 0) || !(lo < sigmas.front()))
    throw config_error(detail::cat("dpm-fast: sigma_min = ", lo, " must lie in (0, sigma_max = ", sigmas.front(), ")"));
  const std::size_t m = (sigmas.size() - 1) / 3 + 1;
  std::vector<T> out(m + 1);
  for (std::size_t i = 0; i <= m; ++i) out[i] = std::exp(-detail::linspace_at(-std::log(sigmas.front()), -std::log(lo), m + 1, i));
  return out;
}

/// ComfyUI's dpm_fast for a σ list it is given (run it over comfy_dpm_fast_sigmas(sigmas)).
template <class T = double>
dpm_fast<T> comfy_dpm_fast(std::span<const T> sigmas, T eta = 0, T s_noise = 1) {
  return dpm_fast<T>({.nfe = sigmas.size() - 1, .eta = eta, .s_noise = s_noise, .flow_view = true});
}

}  // namespace ferry
