#pragma once
// Continuous normalizing flows (Chen et al. 2018, §4; Grathwohl et al. 2019, FFJORD): data x at
// t = 0 flows to z(1) under dz/dt = f(t, z), and the instantaneous change of variables
//
//   d log p(z(t))/dt = −tr ∂f/∂z     gives     log p_data(x) = log N(z(1); 0, I) + ℓ(1),
//   with ℓ(0) = 0 and dℓ/dt = tr ∂f/∂z (exact) or εᵀ(∂f/∂z)ε (Hutchinson, one probe ε per row
//   held for the whole solve, so the backward pass sees the same estimator).
//
// cnf_field turns a field with divergence / divergence_vjp (mlp_field) into a differentiable field
// on rows [z, ℓ] of width D + 1, so adjoint_gradient trains it: the loss
// L = −(1/N) Σ_i log p(x_i) has ∂L/∂z_i(1) = z_i(1)/N and ∂L/∂ℓ_i(1) = −1/N.
#include <cmath>
#include <cstddef>
#include <numbers>
#include <span>
#include <type_traits>
#include <vector>

#include "ferry/adjoint/adjoint_gradient.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/field_problem.hpp"
#include "ferry/solvers/integrate.hpp"

namespace ferry {

/// A field that gives its divergence (exact, or Hutchinson with a probe) and that divergence's vjp.
template <class F, class T>
concept divergence_field =
    differentiable_field<F, T> && requires(F& f, T t, const_batch_view<T> x, std::span<T> d, std::span<const T> al,
                                           batch_view<T> ax, std::span<T> at) {
      f.divergence(t, x, x, d);
      f.divergence_vjp(t, x, x, al, ax, at);
    };

/// The augmented CNF dynamics on N×(D+1) rows [z, ℓ]: dz/dt = f(t, z), dℓ/dt = div f(t, z).
template <class T, divergence_field<T> F>
class cnf_field {
 public:
  explicit cnf_field(F& f) : f_(f) {}

  /// Hutchinson probes (one row per sample, held until changed); an empty view means exact traces.
  void set_probe(const_batch_view<T> probe) { probe_ = probe; }
  std::size_t parameter_count() const { return f_.parameter_count(); }
  F& field() { return f_; }

  void operator()(T t, const_batch_view<T> s, batch_view<T> ds) {
    split(s);
    f_(t, z_.view(), dz_.view());
    f_.divergence(t, z_.view(), probe_, std::span<T>(div_));
    join(dz_.view(), div_.data(), ds);
  }
  void vjp(T t, const_batch_view<T> s, const_batch_view<T> a, batch_view<T> a_s, std::span<T> a_theta) {
    split(s);
    const std::size_t d = z_.cols();
    for (std::size_t i = 0; i < z_.rows(); ++i) {
      for (std::size_t j = 0; j < d; ++j) az_(i, j) = a(i, j);
      alpha_[i] = a(i, d);
    }
    f_.vjp(t, z_.view(), az_.view(), dz_.view(), a_theta);                                    // aᵀ∂f
    f_.divergence_vjp(t, z_.view(), probe_, std::span<const T>(alpha_), dz_.view(), a_theta);  // + α ∂div
    std::fill(div_.begin(), div_.end(), T(0));                                                // nothing depends on ℓ
    join(dz_.view(), div_.data(), a_s);
  }

 private:
  void split(const_batch_view<T> s) {
    const extent e{s.rows, s.cols - 1};
    if (z_.shape() != e) {
      for (batch<T>* b : {&z_, &dz_, &az_}) b->resize(e);
      div_.resize(e.rows);
      alpha_.resize(e.rows);
    }
    for (std::size_t i = 0; i < e.rows; ++i)
      for (std::size_t j = 0; j < e.cols; ++j) z_(i, j) = s(i, j);
  }
  static void join(const_batch_view<T> z, const T* last, batch_view<T> out) {
    for (std::size_t i = 0; i < z.rows; ++i) {
      for (std::size_t j = 0; j < z.cols; ++j) out(i, j) = z(i, j);
      out(i, z.cols) = last[i];
    }
  }

  F& f_;
  const_batch_view<T> probe_{};
  batch<T> z_, dz_, az_;
  std::vector<T> div_, alpha_;
};

/// log p(x) of each row of x under the flow (data at t = 0, N(0, I) at t = 1), `steps` steps of
/// `solver` (the field's probe, if set, gives Hutchinson estimates).
template <class Solver, class T, divergence_field<T> F>
void cnf_log_likelihood(cnf_field<T, F>& g, Solver& solver, std::size_t steps, std::type_identity_t<const_batch_view<T>> x,
                        std::span<T> log_p) {
  const std::size_t n = x.rows, d = x.cols;
  if (log_p.size() != n) throw shape_error(detail::cat("cnf_log_likelihood: ", log_p.size(), " outputs for ", n, " rows"));
  batch<T> s(n, d + 1);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) s(i, j) = x(i, j);
  integrate(g, solver, T(0), T(1), steps, s.view());
  const T half_log_2pi = T(0.5) * std::log(2 * std::numbers::pi_v<T>);
  for (std::size_t i = 0; i < n; ++i) {
    T lp = s(i, d);
    for (std::size_t j = 0; j < d; ++j) lp -= T(0.5) * s(i, j) * s(i, j) + half_log_2pi;
    log_p[i] = lp;
  }
}

/// The mean negative log-likelihood of the rows of x and its gradient in the field's parameters,
/// by the continuous adjoint (the same solver and steps both ways).
template <class Solver, class T, divergence_field<T> F>
adjoint_stats<T> cnf_nll_gradient(cnf_field<T, F>& g, Solver& solver, std::size_t steps,
                                  std::type_identity_t<const_batch_view<T>> x,
                                  std::span<T> grad_theta) {
  const std::size_t n = x.rows, d = x.cols;
  batch<T> s(n, d + 1), grad_s(n, d + 1);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) s(i, j) = x(i, j);
  const T half_log_2pi = T(0.5) * std::log(2 * std::numbers::pi_v<T>), inv_n = T(1) / T(n);
  auto nll = [&](const_batch_view<T> s1, batch_view<T> a1) {  // L = −(1/N) Σ [log N(z1) + ℓ1]
    T l = 0;
    for (std::size_t i = 0; i < n; ++i) {
      l -= s1(i, d);
      a1(i, d) = -inv_n;
      for (std::size_t j = 0; j < d; ++j) {
        l += T(0.5) * s1(i, j) * s1(i, j) + half_log_2pi;
        a1(i, j) = s1(i, j) * inv_n;
      }
    }
    return l * inv_n;
  };
  return adjoint_gradient(g, solver, T(0), T(1), steps, const_batch_view<T>(s.view()), nll, grad_s.view(), grad_theta);
}

}  // namespace ferry
