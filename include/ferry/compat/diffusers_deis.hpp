#pragma once
// DEIS as diffusers' DEISMultistepScheduler computes its coefficients (commit 58eb52c): from float32
// tensors, α = 1/√(σ̃² + 1), σ = σ̃·α, ρ = σ/α from the float32 σ̃ table; order 1 as the DDIM form
// with λ = log α − log σ, orders 2 and 3 through the closed-form antiderivative ind_fn with NumPy's
// float32 log. ind_fn(ρ_next) − ind_fn(ρ_cur) cancels, so this rounding moves order-3 samples by up
// to ~3e-4 from the exact integrals: compat sets diffusers_deis_coefficients as the policy's
// deis_options::coefficients.
//   order 1:  x_next = (α_next/α_cur)·x − σ_next·(e^h − 1)·ε̂_0,  h = λ_next − λ_cur (torch's float32
//             log/exp taken correctly rounded here; torch's may differ by an ulp)
//   order k:  x_next = α_next·(x/α_cur + Σ_j c_j·ε̂_j),  c_j = ind_fn differences in float32
// A step to σ = 0 (NaN in diffusers) keeps the exact integrals. With use_flow_sigmas the levels are
// flow levels, α = 1 − σ in float32.
#include <array>
#include <cmath>
#include <cstddef>

#include "ferry/compat/float32.hpp"
#include "ferry/core/level.hpp"
#include "ferry/solvers/ode/deis.hpp"

namespace ferry::compat {

namespace detail {

/// A level as diffusers' DEIS sees it: its float32 σ̃, then α = 1/√(σ̃²+1), σ = σ̃·α, ρ = σ/α in float32.
struct deis_f32_level {
  float alpha, sigma, rho;
};

inline deis_f32_level deis_f32(const level<double>& l) {
  if (l.d_alpha == -1 && l.d_sigma == 1) {  // a flow level (use_flow_sigmas): α = 1 − σ on the float32 σ
    const auto sigma = static_cast<float>(l.sigma), alpha = f32_sub(1.0f, sigma);
    return {alpha, sigma, f32_div(sigma, alpha)};
  }
  const auto tilde = static_cast<float>(l.sigma / l.alpha);  // exactly the float32 table entry
  const float alpha = f32_div(1.0f, f32_sqrt(f32_add(f32_mul(tilde, tilde), 1.0f)));
  const float sigma = f32_mul(tilde, alpha);
  return {alpha, sigma, f32_div(sigma, alpha)};
}

/// ∫_{ρ[0]}^{ρ_t} ℓ_j(log ρ) dρ through n = 2 or 3 nodes log ρ[0..n) (ρ[0] the newest, ρ_t > 0), as
/// diffusers' DEISMultistepScheduler evaluates it: its closed-form antiderivative ind_fn, every
/// operation in float32 (its ρ are float32 tensors, `log_fn` is the float32 log it uses — NumPy's), the
/// other nodes taken in its cyclic order. ind_fn(ρ_t) − ind_fn(ρ[0]) cancels, so this differs from
/// lagrange_exp_integral by far more than one float32 ulp of the result.
inline float lagrange_log_integral_f32(const std::array<float, 3>& rho, std::size_t n, std::size_t j, float rho_t,
                                       float (*log_fn)(float)) {
  const float lb = log_fn(rho[j]);
  if (n == 2) {
    const float lc = log_fn(rho[(j + 1) % 2]);
    // ∫ (log t − log c)/(log b − log c) dt = t·(−log c + log t − 1)/(log b − log c)
    auto ind = [&](float t) { return f32_div(f32_mul(t, f32_sub(f32_add(-lc, log_fn(t)), 1.0f)), f32_sub(lb, lc)); };
    return f32_sub(ind(rho_t), ind(rho[0]));
  }
  const float lc = log_fn(rho[(j + 1) % 3]), ld = log_fn(rho[(j + 2) % 3]);
  // ∫ (log t − log c)(log t − log d)/((log b − log c)(log b − log d)) dt
  //   = t·(log c·(log d − log t + 1) − log d·log t + log d + log²t − 2·log t + 2)/((log b − log c)(log b − log d)),
  // summed left to right as written.
  auto ind = [&](float t) {
    const float lt = log_fn(t);
    float u = f32_mul(lc, f32_add(f32_sub(ld, lt), 1.0f));
    u = f32_sub(u, f32_mul(ld, lt));
    u = f32_add(u, ld);
    u = f32_add(u, f32_mul(lt, lt));
    u = f32_sub(u, f32_mul(2.0f, lt));
    u = f32_add(u, 2.0f);
    return f32_div(f32_mul(t, u), f32_mul(f32_sub(lb, lc), f32_sub(lb, ld)));
  };
  return f32_sub(ind(rho_t), ind(rho[0]));
}

}  // namespace detail

/// deis_options::coefficients with diffusers' float32 arithmetic and the float32 log `Log` of ρ in
/// orders 2 and 3 (diffusers: NumPy's SIMD log, up to 3.8 ulp off, which the cancellation amplifies).
template <float (*Log)(float)>
bool deis_float32_coefficients(const deis_nodes& n, std::array<double, 4>& c) {
  using namespace detail;
  if (n.next.sigma == 0) return false;
  const deis_f32_level nx = deis_f32(n.next), cu = deis_f32(n.cur);
  if (n.k == 1) {
    auto lambda = [](const deis_f32_level& l) {
      return f32_sub(ferry::detail::log_f32_rn(l.alpha), ferry::detail::log_f32_rn(l.sigma));
    };
    const float h = f32_sub(lambda(nx), lambda(cu));
    const float e_h_minus_1 = f32_sub(static_cast<float>(std::exp(double(h))), 1.0f);
    c[0] = f32_div(nx.alpha, cu.alpha);
    c[1] = -double(f32_mul(nx.sigma, e_h_minus_1));
    return true;
  }
  std::array<float, 3> rho{};
  for (int j = 0; j < n.k; ++j) rho[std::size_t(j)] = deis_f32(n.hist[std::size_t(j)]).rho;
  c[0] = double(nx.alpha) / double(cu.alpha);
  for (int j = 0; j < n.k; ++j)
    c[std::size_t(j) + 1] = double(nx.alpha) * double(lagrange_log_integral_f32(rho, std::size_t(n.k), std::size_t(j), nx.rho, Log));
  return true;
}

/// What compat sets: diffusers' arithmetic with NumPy's log.
inline constexpr deis_coefficient_fn diffusers_deis_coefficients = deis_float32_coefficients<ferry::detail::numpy_logf>;

}  // namespace ferry::compat
