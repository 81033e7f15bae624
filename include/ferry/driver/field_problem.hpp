#pragma once
// A plain vector field dx/dt = f(t, x) as a problem that ferry's ODE policies can step: the same
// interface pf_ode offers them in native time (at, velocity, nfe), with levels that carry only t.
// It forwards the field's Jacobian products (jvp, vjp) when the field has them, which the implicit
// steppers and the adjoint use.
#include <cstddef>
#include <span>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/level.hpp"

namespace ferry {

/// A vector field that also gives its vector–Jacobian product in x and in its parameters θ (a
/// flat span of parameter_count() values):
///   a_x = aᵀ ∂f/∂x (row by row),   a_theta = Σ_rows aᵀ ∂f/∂θ   (skipped when a_theta is empty).
template <class F, class T>
concept differentiable_field =
    vector_field<F, T> && requires(F& f, T t, const_batch_view<T> x, const_batch_view<T> a, batch_view<T> a_x,
                                   std::span<T> a_theta) {
      { f.parameter_count() } -> std::convertible_to<std::size_t>;
      f.vjp(t, x, a, a_x, a_theta);
    };

/// A field that gives its Jacobian–vector product (∂f/∂x)·v row by row.
template <class F, class T>
concept jvp_field = vector_field<F, T> && requires(F& f, T t, const_batch_view<T> x, const_batch_view<T> v,
                                                    batch_view<T> out) { f.jvp(t, x, v, out); };

/// The level of a plain ODE at time t: only t matters (σ = 1 so no step is a landing on data).
template <class T>
level<T> field_level(T t) {
  return {t, T(1), T(1), T(0), T(0), T(0)};
}

template <class T, vector_field<T> F>
class field_problem {
 public:
  using value_type = T;
  explicit field_problem(F& f) : f_(f) {}

  /// Zeroes the count, and sizes the field's own buffers when it has reset(extent) (pf_ode does).
  void reset(extent e) {
    nfe_ = 0;
    if constexpr (requires { f_.reset(e); }) f_.reset(e);
  }
  std::size_t nfe() const { return nfe_; }
  level<T> at(T t) const { return field_level(t); }
  F& field() { return f_; }

  /// dx/dt at the level's time.
  void velocity(const_batch_view<T> x, const level<T>& lv, batch_view<T> dxdt) {
    ++nfe_;
    f_(lv.t, x, dxdt);
  }
  void operator()(T t, const_batch_view<T> x, batch_view<T> dxdt) { velocity(x, at(t), dxdt); }

  /// (∂f/∂x)·v, when the field has it.
  void jvp(const_batch_view<T> x, const level<T>& lv, const_batch_view<T> v, batch_view<T> out)
    requires jvp_field<F, T>
  {
    f_.jvp(lv.t, x, v, out);
  }
  /// aᵀ ∂f/∂x, when the field has a vjp.
  void vjp(const_batch_view<T> x, const level<T>& lv, const_batch_view<T> a, batch_view<T> out)
    requires differentiable_field<F, T>
  {
    f_.vjp(lv.t, x, a, out, std::span<T>{});
  }

 private:
  F& f_;
  std::size_t nfe_ = 0;
};

}  // namespace ferry
