#pragma once
// iPNDM: Adams–Bashforth in σ on d = (x − D)/σ (Zhang & Chen 2023, "Fast Sampling of Diffusion Models
// with Exponential Integrator", iPNDM of App. and Eq. 9; Zhou et al. 2024 diff-sampler's iPNDM and
// iPNDM-v). ComfyUI a125cd8: sample_ipndm, sample_ipndm_v (max_order 4); diffusers 58eb52c:
// IPNDMScheduler (ets = ε̂, the same fixed combination, and _get_prev_sample).
//
// In ComfyUI's view of the level (detail/comfy_view.hpp: y = x/c at noise s; EDM y = x/α, s = σ/α;
// on a flow, y = x and s = the flow σ), with d_j the newest k = min(max_order, i + 1) outputs (d_0 the current):
//   y_next = y + (s' − s)·Σ_j w_j·d_j
// steps = uniform (iPNDM):  w = Adams–Bashforth on equal steps, ∫_0^1 ℓ_j through 0, −1, −2, −3
//                           ({1; 3/2, −1/2; 23/12, −16/12, 5/12; 55/24, −59/24, 37/24, −9/24})
// steps = variable (iPNDM-v, ComfyUI/diff-sampler as written): with h = s' − s, h_m = s_{m−1} − s_m,
//   order 2  w = (1 + h/2h_1, −h/2h_1)                                    (exact variable-step AB2)
//   order 3  q = h/(3(h + h_1))·h(h + h_1)/(h_1(h_1 + h_2)), τ = (1 − q)/2,
//            w = (1 + h/2h_1 + τ, −h/2h_1 − (1 + h_1/h_2)·τ, τ·h_1/h_2)
//   order 4  τ_2 = [(1 − h/3(h + h_1))/2 + (1 − h/2(h + h_1))·h/6(h + h_1 + h_2)]·h(h + h_1)(h + h_1 + h_2)/(h_1(h_1 + h_2)(h_1 + h_2 + h_3)),
//            g = h_1(h_1 + h_2)/(h_2(h_2 + h_3)),
//            w = (… + τ_2, … − (1 + h_1/h_2 + g)·τ_2, … + (h_1/h_2 + g(1 + h_2/h_3))·τ_2, −g·τ_2·h_1/h_2)
//   The exact AB3 weight needs τ = (1 − h/(3(h + h_1)))·h(h + h_1)/(2h_1(h_1 + h_2)); the source groups
//   it as 1 − (…)·(…), so iPNDM-v's orders 3 and 4 are not the variable-step Adams–Bashforth ones.
// steps = lagrange: the exact variable-step AB weights ∫_s^{s'} ℓ_j/(s' − s) (LMS's, lms.hpp).
// In the model's view (σ = c·s), x_next = (c'/c)·x + (σ' − c'·σ/c)·Σ_j w_j·d_j, where 1/c is
// 1/max(c, 10⁻⁸) as diffusers' _get_prev_sample divides by max(α, 1e-8), so its first step from pure
// noise (α = 0, where d = ε̂ = x) stays finite.
// denoise_final (ComfyUI): a step to σ = 0 is first order, i.e. lands on D. diffusers' IPNDM applies
// its combination on that step too (denoise_final = false).
#include <algorithm>
#include <array>
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

/// Which Adams–Bashforth weights iPNDM uses (see the header comment).
enum class ipndm_steps { uniform, variable, lagrange };

/// ComfyUI's sample_ipndm / sample_ipndm_v arguments and diffusers' variant.
struct ipndm_options {
  int max_order = 4;                          ///< 1 … 4 (ComfyUI's max_order)
  ipndm_steps steps = ipndm_steps::uniform;   ///< uniform: ipndm; variable: ipndm_v as ComfyUI writes it
  bool denoise_final = true;                  ///< a step to σ = 0 lands on D (ComfyUI); false: diffusers' IPNDMScheduler
  bool flow_view = true;                      ///< on a flow, ComfyUI's CONST view (false: x/α at σ/α, diffusers)
};

namespace detail {

/// iPNDM-v's weights w_0 … w_{k−1} from h = s' − s and the previous steps h_1, h_2, h_3 (diff-sampler's
/// formulas with their grouping, as ComfyUI runs them; see the header comment).
template <class T>
std::array<T, 4> ipndm_v_weights(int k, T h, T h1, T h2, T h3) {
  if (k == 1) return {T(1)};
  const T r = h / h1;
  if (k == 2) return {1 + r / 2, -r / 2};
  const T tau = (1 - h / (3 * (h + h1)) * (h * (h + h1)) / (h1 * (h1 + h2))) / 2;
  if (k == 3) return {1 + r / 2 + tau, -r / 2 - (1 + h1 / h2) * tau, tau * h1 / h2};
  const T tau2 = ((1 - h / (3 * (h + h1))) / 2 + (1 - h / (2 * (h + h1))) * h / (6 * (h + h1 + h2))) *
                 (h * (h + h1) * (h + h1 + h2)) / (h1 * (h1 + h2) * (h1 + h2 + h3));
  const T g = h1 * (h1 + h2) / (h2 * (h2 + h3));
  return {1 + r / 2 + tau + tau2, -r / 2 - (1 + h1 / h2) * tau - (1 + h1 / h2 + g) * tau2,
          tau * h1 / h2 + (h1 / h2 + g * (1 + h2 / h3)) * tau2, -tau2 * g * h1 / h2};
}

}  // namespace detail

template <class T = double>
struct ipndm {
  static constexpr int order = 4, evals_per_step = 1;  ///< order: of the uniform AB4 (measured: docs/samplers.md)
  ipndm_options opt{};

  ipndm() = default;
  explicit ipndm(ipndm_options o) : opt(o) { check_options(); }

  void check(const schedule<T>&) const { check_options(); }

  void reset(extent e) {
    hist_.reset(e);
    x0_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const auto v = detail::comfy_view<T>::of(s, opt.flow_view);
    batch<T>& d = hist_.push(s.cur);
    v.derivative(p, s.cur, x, x0_, d);  // d = (x − D)/σ on a flow, ε̂ otherwise
    int k = std::min(opt.max_order, int(hist_.size()));
    if (opt.denoise_final && s.next.sigma == 0) k = 1;

    const auto w = weights(k, v.sigma(s.cur), v.sigma(s.next), [&](std::size_t j) { return v.sigma(hist_.at(j)); });
    const T c_next = v.scale(s.next), inv_c = 1 / std::max(v.scale(s.cur), T(1e-8));
    detail::terms<T, 5> u;
    u.add(c_next * inv_c, x.data);                                                        // (c'/c)·x
    for (int j = 0; j < k; ++j) u.add((s.next.sigma - c_next * s.cur.sigma * inv_c) * w[std::size_t(j)], hist_[std::size_t(j)]);  // + c'(s' − s)·w_j·d_j
    detail::combine(x, u);
  }

 private:
  void check_options() const {
    if (opt.max_order < 1 || opt.max_order > 4)
      throw config_error(detail::cat("ipndm: max_order = ", opt.max_order, "; expected 1, 2, 3 or 4"));
  }

  // w_j for order k, from the view σ's s → s' and the outputs' σ's sigma_of(j).
  template <class SigmaOf>
  std::array<T, 4> weights(int k, T s, T s_next, SigmaOf sigma_of) const {
    std::array<T, 4> nodes{}, w{};
    const auto kk = std::size_t(k);
    switch (opt.steps) {
      case ipndm_steps::uniform: return detail::adams_bashforth_weights<T>(kk);
      case ipndm_steps::lagrange:
        for (std::size_t j = 0; j < kk; ++j) nodes[j] = sigma_of(j);
        for (std::size_t j = 0; j < kk; ++j) w[j] = detail::lagrange_integral(nodes, kk, j, s, s_next) / (s_next - s);
        return w;
      case ipndm_steps::variable: break;
    }
    const auto gap = [&](std::size_t m) { return m < kk ? sigma_of(m - 1) - sigma_of(m) : T(1); };  // h_m
    return detail::ipndm_v_weights(k, s_next - s, gap(1), gap(2), gap(3));
  }

  detail::history<T, 4> hist_;
  batch<T> x0_;
};

/// ComfyUI's ipndm_v: iPNDM with its variable-step coefficients.
template <class T = double>
ipndm<T> ipndm_v() {
  return ipndm<T>({.max_order = 4, .steps = ipndm_steps::variable, .denoise_final = true, .flow_view = true});
}
/// diffusers' IPNDMScheduler: uniform coefficients, the combination also on the step to σ = 0.
template <class T = double>
ipndm<T> diffusers_ipndm() {
  return ipndm<T>({.max_order = 4, .steps = ipndm_steps::uniform, .denoise_final = false, .flow_view = false});
}

}  // namespace ferry
