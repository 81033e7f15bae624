#pragma once
// Continuous adjoint sensitivities (Chen et al. 2018, "Neural Ordinary Differential Equations",
// Alg. 1; Pontryagin's adjoint method). For dx/dt = f(t, x, θ) on [t0, t1] and a scalar loss
// L(x(t1)), the adjoint a(t) = ∂L/∂x(t) and a_θ(t) obey, backwards from t1,
//
//   da/dt = −aᵀ ∂f/∂x,     da_θ/dt = −aᵀ ∂f/∂θ,     a(t1) = ∂L/∂x(t1),   a_θ(t1) = 0,
//
// and ∂L/∂x(t0) = a(t0), ∂L/∂θ = a_θ(t0). x is integrated backwards alongside, from x(t1), so nothing
// of the forward trajectory is stored: memory is O(1) in the number of steps. The augmented state
// [x, a, a_θ] is one row of 2·N·D + P values, and any ODE policy steps it (integrate() with the
// caller's policy, forwards and then backwards with the same number of steps).
#include <algorithm>
#include <cstddef>
#include <span>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/field_problem.hpp"
#include "ferry/solvers/integrate.hpp"

namespace ferry {

namespace detail {

// The augmented field of Chen et al. Alg. 1 on the flat state [x (N×D), a (N×D), a_θ (P)].
template <class T, differentiable_field<T> F>
class adjoint_system {
 public:
  adjoint_system(F& f, extent e) : f_(f), e_(e), n_(e.size()), p_(f.parameter_count()) {}
  std::size_t size() const { return 2 * n_ + p_; }
  void reset(extent) {
    if constexpr (requires { f_.reset(e_); }) f_.reset(e_);
  }

  void operator()(T t, const_batch_view<T> s, batch_view<T> ds) {
    const const_batch_view<T> x(s.data, e_), a(s.data + n_, e_);
    f_(t, x, batch_view<T>(ds.data, e_));                                          // dx/dt = f
    f_.vjp(t, x, a, batch_view<T>(ds.data + n_, e_), std::span<T>(ds.data + 2 * n_, p_));
    for (std::size_t i = n_; i < 2 * n_ + p_; ++i) ds.data[i] = -ds.data[i];       // da/dt, da_θ/dt
  }

 private:
  F& f_;
  extent e_;
  std::size_t n_, p_;
};

}  // namespace detail

/// What one adjoint_gradient call did.
template <class T>
struct adjoint_stats {
  T loss{};
  std::size_t forward_nfe = 0, backward_nfe = 0;  ///< field calls (backward: each also a vjp)
};

/// ∂L/∂x(t0) into grad_x0 and ∂L/∂θ into grad_theta (size f.parameter_count()) for
/// x(t1) = flow of f from x0, where loss(x1, dl_dx1) returns L(x1) and writes ∂L/∂x1.
/// `solver` is any ODE policy for plain vector fields; it is used `steps` steps each way.
template <class Solver, class T, differentiable_field<T> F, class Loss>
adjoint_stats<T> adjoint_gradient(F& f, Solver& solver, T t0, T t1, std::size_t steps, const_batch_view<T> x0,
                                  Loss&& loss, batch_view<T> grad_x0, std::span<T> grad_theta) {
  require_same_shape(x0.shape(), grad_x0.shape(), "adjoint_gradient: grad_x0");
  const std::size_t n = x0.size(), p = f.parameter_count();
  if (grad_theta.size() != p)
    throw shape_error(detail::cat("adjoint_gradient: grad_theta has ", grad_theta.size(), " entries, the field has ", p,
                                  " parameters"));
  detail::adjoint_system<T, F> aug(f, x0.shape());
  batch<T> state(1, aug.size());
  batch_view<T> x(state.data(), x0.shape()), a(state.data() + n, x0.shape());
  std::copy(x0.data, x0.data + n, x.data);
  adjoint_stats<T> st;
  st.forward_nfe = integrate(f, solver, t0, t1, steps, x).nfe;                    // x(t1)
  st.loss = loss(const_batch_view<T>(x), a);                                       // a(t1) = ∂L/∂x(t1)
  std::fill(state.data() + 2 * n, state.data() + 2 * n + p, T(0));                // a_θ(t1) = 0
  st.backward_nfe = integrate(aug, solver, t1, t0, steps, state.view()).nfe;      // back to t0
  std::copy(a.data, a.data + n, grad_x0.data);
  std::copy(state.data() + 2 * n, state.data() + 2 * n + p, grad_theta.data());
  return st;
}

}  // namespace ferry
