#pragma once
// DEIS (Zhang & Chen 2023, "Fast Sampling of Diffusion Models with Exponential Integrator"): Adams–
// Bashforth on ε̂ in the EDM view, x̃ = x/α, ρ = σ/α, dx̃/dρ = ε̂, with the last k outputs interpolated
// by a Lagrange polynomial in a time variable τ(ρ) and integrated over the step:
//   x̃_next = x̃ + Σ_j c_j·ε̂_j,   c_j = ∫_{ρ_cur}^{ρ_next} ℓ_j(τ(ρ)) dρ,   ℓ_j through the outputs' τ_j
// Two variants, by deis_options::mode:
//
// logrho: ρAB-DEIS, τ = log ρ (Eq. 15 and App. on log-ρ). diffusers DEISMultistepScheduler (algorithm_type
//   deis, solver_type logrho). With v = log(ρ/ρ_cur) = λ_cur − λ the integrals are exact:
//   x_next = α_next·(x/α_cur + Σ_j c_j·ε̂_j),  c_j = ρ_cur·∫_0^{v_next} ℓ_j(v)·e^v dv  (diffusers: ind_fn)
//   Order 1 is DDIM; the integral stays finite for ρ_next = 0, so a step to σ = 0 keeps its order.
//   Orders: warm-up min(Order, i + 1); lower_order_final with fewer than 15 steps makes the last step
//   first order and the one before at most second (diffusers 58eb52c). diffusers computes these
//   coefficients from float32 tensors (ind_fn differences cancel: up to ~3e-4 in samples at order 3);
//   ferry::compat reproduces that through deis_options::coefficients (compat/diffusers_deis.hpp).
//
// tab: tAB-DEIS, τ = the time t of a VP-SDE (Eq. 14 in t). ComfyUI a125cd8 sample_deis (deis_mode "tab",
//   comfy/k_diffusion/deis.py, from diff-sampler's get_deis_coeff_list). ρ ↦ t is edm2t with the fixed
//   σ_min = 0.002, σ_max = 80, ε_s = 10⁻³ (not the model's):
//     β_d = 2(log(σ_min² + 1)/ε_s − log(σ_max² + 1))/(ε_s − 1),  β_0 = log(σ_max² + 1) − β_d/2,  β_1 = β_0 + β_d
//     t(ρ) = (√(β_0² + 2β_d·log(ρ² + 1)) − β_0)/β_d,   ᾱ(t) = exp(−t²(β_1 − β_0)/2 − β_0·t)
//   and c_j = ∫ ℓ_j(t)·(dρ/dt) dt with dρ/dt = −½(log ᾱ)'/√(ᾱ(1 − ᾱ)), summed as ComfyUI does, not exactly:
//     c_j = Δt/N·Σ_{n<N} f(τ_n)·ℓ_j(τ_n),  τ_n = linspace(t_cur, t_next, N) (both ends), Δt = t_next − t_cur
//   with N = tab_points = 10000 (Δt/N with N points is ComfyUI's rule; the exact integrals move its
//   samples by ~5e-5). Order 1 (the first step, and every step to σ = 0, where dρ/dt is infinite) is
//   Euler in ρ: the step to σ = 0 lands on D. No lower-order rule. ComfyUI steps a flow (CONST) model's
//   own state in the flow σ; tab mode does the same on a step that runs on a flow (detail/comfy_view.hpp).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/solvers/detail/lagrange.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"

namespace ferry {

/// The time variable DEIS interpolates ε̂ in: log ρ (diffusers) or the VP time t (ComfyUI's "tab").
enum class deis_mode { logrho, tab };

/// The nodes of one DEIS step, for a coefficient rule other than the exact integrals: the step's
/// levels and the levels of the k newest outputs (newest first).
struct deis_nodes {
  level<double> cur, next;
  std::array<level<double>, 3> hist;
  int k;
};
/// Writes the weight of x into c[0] and that of ε̂_j into c[1 + j] (j < k), or returns false to
/// keep the exact integrals for this step.
using deis_coefficient_fn = bool (*)(const deis_nodes&, std::array<double, 4>& c);

/// diffusers DEISMultistepScheduler option names and defaults, and ComfyUI's deis_mode.
struct deis_options {
  bool lower_order_final = true;  ///< lower orders in the last two steps of runs with < 15 steps
  /// Replaces the exact double integrals in logrho mode (k ≤ 3): ferry::compat sets diffusers' float32
  /// arithmetic here (compat/diffusers_deis.hpp), which its samples carry. Null: the exact integrals.
  deis_coefficient_fn coefficients = nullptr;
  deis_mode mode = deis_mode::logrho;
  int tab_points = 10000;  ///< tab mode: ComfyUI's N points of its quadrature
  bool flow_view = true;   ///< tab mode: on a flow, ComfyUI's CONST view (the flow's own state and σ)
};

namespace detail {

/// ComfyUI's edm2t: the VP time of an EDM σ for σ_min = 0.002, σ_max = 80, ε_s = 10⁻³, and β_0, β_1.
struct deis_vp_time {
  static constexpr double sigma_min = 0.002, sigma_max = 80, eps_s = 1e-3;
  double beta_d = 2 * (std::log(sigma_min * sigma_min + 1) / eps_s - std::log(sigma_max * sigma_max + 1)) / (eps_s - 1);
  double beta_0 = std::log(sigma_max * sigma_max + 1) - 0.5 * beta_d, beta_1 = beta_d + beta_0;
  template <class T>
  T operator()(T sigma) const {
    return (std::sqrt(T(beta_0 * beta_0) + 2 * T(beta_d) * std::log(sigma * sigma + 1)) - T(beta_0)) / T(beta_d);
  }
  /// dρ/dt = −½·(log ᾱ)'/√(ᾱ(1 − ᾱ)), ᾱ = exp(−t²(β_1 − β_0)/2 − β_0·t): ComfyUI's cal_intergrand.
  template <class T>
  T drho_dt(T t) const {
    const T a = std::exp(-T(0.5) * t * t * T(beta_1 - beta_0) - t * T(beta_0));
    return T(0.5) * (t * T(beta_1 - beta_0) + T(beta_0)) / std::sqrt(a * (1 - a));
  }
};

/// tAB-DEIS weights c_j = Δt/N·Σ_n dρ/dt(τ_n)·ℓ_j(τ_n) over τ = torch.linspace(t_cur, t_next, N), for
/// the k nodes t_j (newest first).
template <class T, std::size_t N>
std::array<T, N> tab_deis_weights(const std::array<T, N>& t_nodes, std::size_t k, T t_cur, T t_next, int points) {
  const deis_vp_time vp;
  std::array<T, N> c{};
  const T step = (t_next - t_cur) / T(points - 1);
  for (int n = 0; n < points; ++n) {
    const T tau = n < points / 2 ? t_cur + T(n) * step : t_next - T(points - 1 - n) * step;  // torch's linspace
    const T f = vp.drho_dt(tau);
    for (std::size_t j = 0; j < k; ++j) c[j] += f * lagrange_basis(t_nodes, k, j, tau);
  }
  for (std::size_t j = 0; j < k; ++j) c[j] *= (t_next - t_cur) / T(points);
  return c;
}

}  // namespace detail

template <int Order, class T = double>
struct deis {
  static_assert(Order >= 1 && Order <= 4, "DEIS is implemented for orders 1 to 4");
  static constexpr int order = Order, evals_per_step = 1;
  deis_options opt{};

  deis() = default;
  explicit deis(deis_options o) : opt(o) { check_options(); }

  void reset(extent e) {
    hist_.reset(e);
    if (opt.mode == deis_mode::tab) x0_.resize(e);
  }

  void check(const schedule<T>& s) const {
    check_options();
    if (opt.mode == deis_mode::logrho) detail::require_positive_alpha(s, "deis");
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    if (opt.mode == deis_mode::tab) return step_tab(p, s, x);
    p.epsilon(x, s.cur, hist_.push(s.cur).view());

    const int k = detail::multistep_order(Order, hist_.size(), s, opt.lower_order_final);

    detail::terms<T, Order + 1> u;
    std::array<double, 4> c{};
    if (opt.coefficients && k <= 3 && opt.coefficients(nodes(s, k), c)) {
      u.add(T(c[0]), x.data);
      for (int j = 0; j < k; ++j) u.add(T(c[std::size_t(j) + 1]), hist_[std::size_t(j)]);
    } else {
      std::array<T, Order> v{};  // nodes log(ρ_j/ρ_cur)
      for (int j = 0; j < k; ++j) v[std::size_t(j)] = s.cur.lambda - hist_.at(std::size_t(j)).lambda;
      const T v_next = s.cur.lambda - s.next.lambda;  // −∞ when σ_next = 0
      const T scale = s.next.alpha * (s.cur.sigma / s.cur.alpha);  // α_next·ρ_cur
      u.add(s.next.alpha / s.cur.alpha, x.data);
      for (int j = 0; j < k; ++j)
        u.add(scale * detail::lagrange_exp_integral(v, std::size_t(k), std::size_t(j), v_next), hist_[std::size_t(j)]);
    }
    detail::combine(x, u);
  }

 private:
  // tAB-DEIS in ComfyUI's view (y = x/c at ρ): y_next = y + Σ_j c_j·d_j, d = (y − D)/ρ.
  template <class Problem>
  void step_tab(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const auto v = detail::comfy_view<T>::of(s, opt.flow_view);
    batch<T>& d = hist_.push(s.cur);
    v.derivative(p, s.cur, x, x0_, d);  // d = (x − D)/σ on a flow, ε̂ otherwise
    const int k = detail::multistep_order(Order, hist_.size(), s, opt.lower_order_final, s.next.sigma == 0);
    std::array<T, Order> c{};
    if (k == 1) {
      c[0] = v.sigma(s.next) - v.sigma(s.cur);  // Euler in ρ
    } else {
      const detail::deis_vp_time vp;
      std::array<T, Order> t{};
      for (int j = 0; j < k; ++j) t[std::size_t(j)] = vp(v.sigma(hist_.at(std::size_t(j))));
      c = detail::tab_deis_weights(t, std::size_t(k), vp(v.sigma(s.cur)), vp(v.sigma(s.next)), opt.tab_points);
    }
    detail::terms<T, Order + 1> u;
    const T c_next = v.scale(s.next);
    u.add(c_next / v.scale(s.cur), x.data);
    for (int j = 0; j < k; ++j) u.add(c_next * c[std::size_t(j)], hist_[std::size_t(j)]);  // x_next = c'·(x/c + Σ c_j·d_j)
    detail::combine(x, u);
  }

  void check_options() const {
    if (opt.mode == deis_mode::tab && opt.tab_points < 2)
      throw config_error(detail::cat("deis: tab_points = ", opt.tab_points, "; the tab quadrature needs at least 2 points"));
  }

  deis_nodes nodes(const step_span<T>& s, int k) const {
    auto wide = [](const level<T>& l) {
      return level<double>{double(l.t), double(l.alpha), double(l.sigma), double(l.lambda), double(l.d_alpha), double(l.d_sigma)};
    };
    deis_nodes n{wide(s.cur), wide(s.next), {}, k};
    for (int j = 0; j < k; ++j) n.hist[std::size_t(j)] = wide(hist_.at(std::size_t(j)));
    return n;
  }

  detail::history<T, std::size_t(Order)> hist_;
  batch<T> x0_;
};

/// ComfyUI's deis (sample_deis, deis_mode "tab", max_order 3): tAB-DEIS with ComfyUI's quadrature, no
/// lower-order rule.
template <class T = double>
deis<3, T> tab_deis() {
  return deis<3, T>({.lower_order_final = false, .coefficients = nullptr, .mode = deis_mode::tab, .tab_points = 10000,
                      .flow_view = true});
}

}  // namespace ferry
