#pragma once
// One explicit Runge–Kutta stepper for every tableau (Boost.Odeint's generic_rk, diffrax's
// AbstractERK), integrating the probability-flow ODE of a pf_ode problem in one of two times:
//
//   ode_time::native — the process's own time t, state x:   dx/dt = α'·x̂0 + σ'·ε̂   (Song et al. 2021)
//   ode_time::sigma  — the EDM noise level σ̃ = σ/α, state x̃ = x/α:   dx̃/dσ̃ = ε̂   (Karras et al. 2022,
//                      Eq. 4 with s = 1: what k-diffusion and diffusers' Euler/Heun integrate)
//   ode_time::lambda — λ = log(α/σ) = −log σ̃, state x̃:   dx̃/dλ = −σ̃·ε̂   (the variable of DPM-Solver
//                      and k-diffusion's sample_dpm_adaptive; the mixture's ODE is nearly uniform in it)
//
// A step over [τ_cur, τ_next] with h = τ_next − τ_cur and state scale s(τ) (1 native, α sigma):
//   Y_i = s_i·(x/s_cur + h Σ_{j<i} a_ij k_j),   k_i = f(τ_cur + c_i h, Y_i)
//   x_next = s_next·(x/s_cur + h Σ_i b_i k_i)
// A step that lands on σ = 0 is one Euler step in σ̃, which lands exactly on the data prediction:
// x_next = α_next·x̂0 (k-diffusion's rule; it avoids evaluating the model at σ = 0).
#include <array>
#include <cmath>
#include <cstddef>
#include <utility>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/ode/butcher_tableau.hpp"
#include "ferry/solvers/ode/ode_time.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

namespace detail {

// Position τ, state scale and derivative of the PF-ODE in the chosen time variable.
template <class T>
struct ode_frame {
  ode_time time;
  T tau(const level<T>& lv) const {
    switch (time) {
      case ode_time::native: return lv.t;
      case ode_time::sigma: return lv.sigma / lv.alpha;
      case ode_time::lambda: return lv.lambda;
    }
    return lv.t;
  }
  T scale(const level<T>& lv) const { return time == ode_time::native ? T(1) : lv.alpha; }

  // The level at τ: schedule ends are exact; inner stages ask the process.
  template <class Problem>
  level<T> level_at(Problem& p, T tau) const {
    if constexpr (!requires { p.process(); }) return p.at(tau);  // a plain vector field: native time only
    else switch (time) {
      case ode_time::native: return p.at(tau);
      case ode_time::sigma: return p.at(p.process().t_of_lambda(-std::log(tau)));
      case ode_time::lambda: return p.at(p.process().t_of_lambda(tau));
    }
    return p.at(tau);
  }
  // k = dx/dτ at the model-view state y (k is in the frame's variables).
  template <class Problem>
  void derivative(Problem& p, const_batch_view<T> y, const level<T>& lv, batch_view<T> k) const {
    if constexpr (!requires { p.epsilon(y, lv, k); }) p.velocity(y, lv, k);  // a plain vector field
    else switch (time) {
      case ode_time::native: p.velocity(y, lv, k); break;
      case ode_time::sigma: p.epsilon(y, lv, k); break;  // dx̃/dσ̃ = ε̂ is view-invariant
      case ode_time::lambda:                              // dx̃/dλ = −σ̃·ε̂
        p.epsilon(y, lv, k);
        simd::lincomb<T, 1>(k.span(), {-lv.sigma / lv.alpha}, {k.data});
        break;
    }
  }
};

// out = c_x·x + Σ_{j<N} c_k[j]·k[j] in one fused pass.
template <std::size_t N, class T, std::size_t S>
void rk_combine(batch_view<T> out, T cx, const T* x, const std::array<T, S>& ck, const std::array<batch<T>, S>& k) {
  std::array<T, N + 1> c;
  std::array<const T*, N + 1> in;
  c[0] = cx;
  in[0] = x;
  for (std::size_t j = 0; j < N; ++j) c[j + 1] = ck[j], in[j + 1] = k[j].data();
  simd::lincomb<T, N + 1>(out.span(), c, in);
}

template <std::size_t... I, class F>
void for_each_index(std::index_sequence<I...>, F&& f) {
  (f(std::integral_constant<std::size_t, I>{}), ...);
}

}  // namespace detail

/// x_next = α_next·x̂0(x; cur): the σ → 0 landing shared by every ODE solver.
template <class Problem, class T>
void land_on_data(Problem& p, const step_span<T>& s, batch_view<T> x, batch<T>& scratch) {
  if constexpr (requires { p.data(x, s.cur, scratch.view()); }) {
    p.data(x, s.cur, scratch.view());
    simd::lincomb<T, 1>(x.span(), {s.next.alpha}, {scratch.data()});
  } else {
    throw config_error("land_on_data: this problem has no data prediction to land on at sigma = 0");
  }
}

/// Explicit Runge–Kutta method given by a Butcher tableau.
template <const auto& Tab, class T = double>
struct explicit_rk {
  static constexpr std::size_t stages = Tab.stages;
  static constexpr int order = Tab.order, evals_per_step = int(stages);
  static_assert(is_consistent(Tab), "Butcher tableau: need Σ_j a_ij = c_i, Σ b_i = 1 and a strictly lower triangular");

  struct options {
    ode_time time = ode_time::native;
  } opt;

  explicit_rk() = default;
  explicit explicit_rk(options o) : opt(o) {}

  void reset(extent e) {
    for (auto& k : k_) k.resize(e);
    y_.resize(e);
  }
  void check(const schedule<T>& s) const {
    if (opt.time != ode_time::native) detail::require_positive_alpha(s, "a Runge-Kutta solver in sigma or lambda time");
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    if (s.next.sigma == 0) return land_on_data(p, s, x, y_);
    const detail::ode_frame<T> f{opt.time};
    const T tau0 = f.tau(s.cur), h = f.tau(s.next) - tau0, inv_s0 = 1 / f.scale(s.cur);
    detail::for_each_index(std::make_index_sequence<stages>{}, [&](auto I) {
      constexpr std::size_t i = I;
      const level<T> lv = Tab.c[i] == 0 ? s.cur : Tab.c[i] == 1 ? s.next : f.level_at(p, tau0 + T(Tab.c[i]) * h);
      const T si = f.scale(lv);
      if constexpr (i == 0) {
        f.derivative(p, x, lv, k_[0].view());                            // k_1 = f(τ, x)
      } else {
        std::array<T, stages> c{};
        for (std::size_t j = 0; j < i; ++j) c[j] = si * h * T(Tab.a[i][j]);
        detail::rk_combine<i>(y_.view(), si * inv_s0, x.data, c, k_);   // Y_i = s_i(x/s_0 + h Σ a_ij k_j)
        f.derivative(p, y_.view(), lv, k_[i].view());                    // k_i = f(τ + c_i h, Y_i)
      }
    });
    const T sn = f.scale(s.next);
    std::array<T, stages> c{};
    for (std::size_t j = 0; j < stages; ++j) c[j] = sn * h * T(Tab.b[j]);
    detail::rk_combine<stages>(x, sn * inv_s0, x.data, c, k_);           // x ← s_n(x/s_0 + h Σ b_i k_i)
  }

 private:
  std::array<batch<T>, stages> k_;
  batch<T> y_;
};

}  // namespace ferry
