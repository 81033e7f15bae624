#pragma once
// SEEDS-2 and SEEDS-3 (Gonzalez et al. 2023, "SEEDS: Exponential SDE Solvers for Fast High-Quality
// Sampling from Diffusion Models", data prediction, §4 and App. B; ComfyUI's sample_seeds_2 and
// sample_seeds_3). In the model's view (h = λ' − λ, ĥ = (1 + η)h, stages at λ_k = λ + r_k·h with
// levels (α_k, σ_k); e1(z) = expm1(z) = zφ1(z), e2(z) = zφ2(z)):
//
//   stage k ≥ 1  x_k = (σ_k/σ)e^{−r_k hη}·x − α_k·[e1(−r_k ĥ)·x̂0 + …] + σ_k·s_noise·n_k
//     SEEDS-2:  x_1 from x̂0 alone;  x' = (σ'/σ)e^{−hη}·x − α'·e1(−ĥ)·((1 − 1/2r)·x̂0 + (1/2r)·x̂0(x_1))     (phi_1)
//                                   or − α'·[(e1 − e2/r)(−ĥ)·x̂0 + (e2(−ĥ)/r)·x̂0(x_1)]                    (phi_2)
//     SEEDS-3:  x_1 from x̂0; x_2 with a_2 = (r2/r1)·e2(−r2 ĥ) on x̂0(x_1) and e1(−r2 ĥ) − a_2 on x̂0;
//               x' with b = e2(−ĥ)/r2 on x̂0(x_2) and e1(−ĥ) − b on x̂0
//   noise        one Brownian path over the step: n_1 = √(1 − e^{−2r_1 hη})·w_0 and, stage to stage,
//                n_{k+1} = e^{(r_k − r_{k+1})hη}·n_k + √(1 − e^{2(r_k − r_{k+1})hη})·w_k   (r_last = 1)
//
// w_k is stream k of the step (ComfyUI's k-th noise_sampler call, on (σ_{k}, σ_{k+1})). The step to
// σ = 0 returns α'·x̂0 and draws nothing; η = 0 or s_noise = 0 draws nothing (η = 0, r = 1, phi_2 is
// ComfyUI's exp_heun_2_x0). ComfyUI offsets a first σ of 1 on flows: offset_first_sigma<seeds>.
// Orders 2 and 3 at η = 0 (Stages evaluations per step).
#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/noise_scale.hpp"
#include "ferry/solvers/detail/phi.hpp"

namespace ferry {

/// SEEDS-2's last stage: x̂0 lerped by 1/2r (phi_1) or the φ2 weights (phi_2).
enum class seeds_solver_type { phi_1, phi_2 };

inline seeds_solver_type parse_seeds_solver_type(std::string_view s) {
  if (s == "phi_1") return seeds_solver_type::phi_1;
  if (s == "phi_2") return seeds_solver_type::phi_2;
  throw config_error(detail::cat("seeds-2: solver_type \"", detail::escape(s), "\" is unknown; expected phi_1 or phi_2"));
}

template <int Stages, class T = double>
struct seeds {
  static_assert(Stages == 2 || Stages == 3, "SEEDS has 2 or 3 stages");
  static constexpr int order = Stages, evals_per_step = Stages;  ///< order: at η = 0
  static constexpr bool stochastic = true;
  static constexpr bool noise_checked_per_step = true;  // η = 0 draws nothing

  struct options {
    T eta = 1, s_noise = 1;
    T r = T(0.5);                       ///< SEEDS-2's stage, λ + r·h
    T r_1 = T(1) / 3, r_2 = T(2) / 3;   ///< SEEDS-3's stages
    seeds_solver_type solver_type = seeds_solver_type::phi_1;  ///< SEEDS-2 only
  } opt;

  /// Whether a run with these options draws noise (η > 0 and s_noise > 0).
  bool draws_noise() const { return opt.eta > 0 && opt.s_noise > 0; }

  seeds() = default;
  explicit seeds(options o) : opt(o) {
    const char* name = Stages == 2 ? "seeds-2" : "seeds-3";
    detail::check_eta_s_noise(name, opt.eta, opt.s_noise);
    if (Stages == 2 && !(opt.r > 0 && opt.r <= 1))
      throw config_error(detail::cat(name, ": r = ", opt.r, "; expected 0 < r <= 1"));
    if (Stages == 3 && !(opt.r_1 > 0 && opt.r_1 < opt.r_2 && opt.r_2 <= 1))
      throw config_error(detail::cat(name, ": r_1 = ", opt.r_1, ", r_2 = ", opt.r_2, "; expected 0 < r_1 < r_2 <= 1"));
  }

  void reset(extent e) {
    for (auto& b : x0_) b.resize(e);
    for (auto& b : w_) b.resize(e);
    u_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    p.data(x, s.cur, x0_[0].view());
    if (s.next.sigma == 0) return simd::lincomb<T, 1>(x.span(), {s.next.alpha}, {x0_[0].data()});  // x' = α'·x̂0
    const bool noisy = opt.eta > 0 && opt.s_noise > 0;
    if constexpr (!detail::has_noise<Problem>)
      if (noisy) throw config_error("seeds with eta > 0 draws noise; give the problem a noise source (a seed)");
    const T h = s.next.lambda - s.cur.lambda, he = h * opt.eta, hh = h + he;  // hη, ĥ
    const std::array<T, 3> r = Stages == 2 ? std::array<T, 3>{opt.r, 1, 1} : std::array<T, 3>{opt.r_1, opt.r_2, 1};
    auto e1 = [](T z) { return std::expm1(z); };
    auto e2 = [](T z) { return z * detail::phi(2, z); };
    // n_k = Σ_j c[k][j]·w_j, the stage noises along one Brownian path
    std::array<std::array<T, 3>, 3> c{};
    T r_prev = 0;
    for (int k = 0; k < Stages; ++k) {
      const T decay = std::exp((r_prev - r[k]) * he);
      for (int j = 0; j < k; ++j) c[k][j] = k > 0 ? c[k - 1][j] * decay : T(0);
      c[k][k] = std::sqrt(-std::expm1(2 * (r_prev - r[k]) * he));
      r_prev = r[k];
    }
    if constexpr (detail::has_noise<Problem>)
      if (noisy)
        for (int k = 0; k < Stages; ++k) p.normal(s.index, std::uint32_t(k), w_[k].view());
    // Stage k lands at λ + r_k·h (the last at λ'): x_k = (σ_k/σ)e^{−r_k hη}·x − α_k·Σ_j b_j·x̂0_j + σ_k·s_noise·n_k.
    auto land = [&](int k, const level<T>& lv, batch_view<T> out, std::array<T, 3> b) {
      detail::terms<T, 7> t;
      t.add(lv.sigma / s.cur.sigma * std::exp(-r[k] * he), x.data);
      for (int j = 0; j < Stages; ++j)
        if (b[j] != 0) t.add(-lv.alpha * b[j], x0_[j]);
      if (noisy)
        for (int j = 0; j <= k; ++j) t.add(lv.sigma * opt.s_noise * c[k][j], w_[j]);
      detail::combine(out, t);
    };
    auto stage_level = [&](int k) { return p.at(p.process().t_of_lambda(s.cur.lambda + r[k] * h)); };
    const level<T> l1 = stage_level(0);
    land(0, l1, u_.view(), {e1(-r[0] * hh), 0, 0});
    p.data(u_.view(), l1, x0_[1].view());
    if constexpr (Stages == 2) {
      const T fac = 1 / (2 * opt.r), b2 = e2(-hh) / opt.r;
      if (opt.solver_type == seeds_solver_type::phi_1) land(1, s.next, x, {e1(-hh) * (1 - fac), e1(-hh) * fac, 0});
      else land(1, s.next, x, {e1(-hh) - b2, b2, 0});
    } else {
      const level<T> l2 = stage_level(1);
      const T a2 = r[1] / r[0] * e2(-r[1] * hh);
      land(1, l2, u_.view(), {e1(-r[1] * hh) - a2, a2, 0});
      p.data(u_.view(), l2, x0_[2].view());
      const T b3 = e2(-hh) / r[1];
      land(2, s.next, x, {e1(-hh) - b3, 0, b3});
    }
  }

 private:
  std::array<batch<T>, Stages> x0_, w_;
  batch<T> u_;
};

/// SEEDS-2 (ComfyUI's seeds_2) and SEEDS-3 (seeds_3).
template <class T = double>
using seeds_2 = seeds<2, T>;
template <class T = double>
using seeds_3 = seeds<3, T>;

}  // namespace ferry
