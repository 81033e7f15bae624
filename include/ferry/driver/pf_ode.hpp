#pragma once
// The probability-flow ODE of a noise process driven by a model (diffrax's "term"): it evaluates
// the model, converts whatever the model predicts into what a solver asks for, applies an
// optional transform of the data prediction (clipping, dynamic thresholding), and counts NFE.
//
//   PF-ODE (Song et al. 2021, Eq. 13):  dx/dt = f(t)·x − ½·g(t)²·∇log p_t(x)
//   with f = α'/α and ½g² = σσ' − (α'/α)σ², and ∇log p_t = −ε̂/σ, this is
//   dx/dt = (α'/α)·x + (σ' − σ·α'/α)·ε̂ = α'·x̂0 + σ'·ε̂      (the flow velocity of the same level)
//
// With a transform, x̂0 is transformed and every other kind is derived from the transformed x̂0,
// as diffusers' convert_model_output does; data_and_epsilon() alone returns the untransformed ε̂
// beside the transformed x̂0, which is what diffusers' DDIM step uses.
//
// A problem for stochastic solvers also carries a noise source (random/noise.hpp): normal(step,
// stream, out) is the one way a solver draws, and for_rows(offset) gives the problem of a row
// slice (threads and shards), whose noise is keyed by the slice's global rows.
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/random/noise.hpp"

namespace ferry {

namespace detail {
/// Whether a problem can draw normals: pf_ode says so through its noise source; a custom problem
/// is trusted to offer normal().
template <class Problem>
inline constexpr bool has_noise = [] {
  if constexpr (requires { Problem::noise_type::active; }) return bool(Problem::noise_type::active);
  return true;
}();
}  // namespace detail

/// The default: x̂0 is used as the model gives it. A transform declares `active = true`, sizes its
/// scratch in reset(extent) and may offer `bool enabled() const` to be switched off at run time.
struct no_transform {
  static constexpr bool active = false;
  void reset(extent) {}
  template <class T>
  void operator()(batch_view<T>) {}
};

template <noise_process P, class M, class Transform = no_transform, class Noise = no_noise>
  requires model<M, typename P::value_type>
class pf_ode {
 public:
  using value_type = typename P::value_type;
  using T = value_type;
  using noise_type = Noise;

  pf_ode(const P& process, M& model, Transform transform = {}, Noise noise = {})
      : process_(process), model_(model), transform_(std::move(transform)), noise_(std::move(noise)) {}

  /// The same problem for the rows that start `offset` rows further on (fresh scratch, shifted noise).
  pf_ode for_rows(std::uint64_t offset) const {
    return pf_ode(process_, model_, transform_, noise_.for_rows(offset));
  }

  /// Sizes the scratch buffers and zeroes the NFE count; the driver calls it once per run.
  void reset(extent e) {
    raw_.resize(e);
    if constexpr (Transform::active) x0_.resize(e);
    transform_.reset(e);
    nfe_ = 0;
  }

  const P& process() const { return process_; }
  M& model() { return model_; }
  std::size_t nfe() const { return nfe_; }

  /// The process's level at time t.
  level<T> at(T t) const { return level_at(process_, t); }

  /// One model evaluation at (x, lv), converted to `want` and written into out.
  void evaluate(const_batch_view<T> x, const level<T>& lv, prediction want, batch_view<T> out) {
    if (transforming()) {
      raw_to(x, lv, prediction::data, x0_.view());
      transform_(x0_.view());
      convert<T>(prediction::data, want, lv, x, x0_.view(), out);
    } else {
      raw_to(x, lv, want, out);
    }
  }
  /// x̂0 = D(x; lv), the data prediction.
  void data(const_batch_view<T> x, const level<T>& lv, batch_view<T> x0) { evaluate(x, lv, prediction::data, x0); }
  /// ε̂(x; lv), the noise prediction.
  void epsilon(const_batch_view<T> x, const level<T>& lv, batch_view<T> eps) {
    evaluate(x, lv, prediction::epsilon, eps);
  }
  /// dx/dt of the PF-ODE at the level `lv` (whose d_alpha, d_sigma give the time variable).
  void velocity(const_batch_view<T> x, const level<T>& lv, batch_view<T> dxdt) {
    evaluate(x, lv, prediction::velocity, dxdt);
  }
  /// One evaluation giving the (transformed) x̂0 and the untransformed ε̂.
  void data_and_epsilon(const_batch_view<T> x, const level<T>& lv, batch_view<T> x0, batch_view<T> eps) {
    ++nfe_;
    model_(x, lv, raw_.view());
    const prediction given = model_.predicts;
    convert<T>(given, prediction::data, lv, x, raw_.view(), x0);
    convert<T>(given, prediction::epsilon, lv, x, raw_.view(), eps);
    if (transforming()) transform_(x0);
  }
  /// u(x, r, t), an average-velocity model's mean velocity over [r, t] (MeanFlow); one evaluation.
  void average_velocity(const_batch_view<T> x, const level<T>& r, const level<T>& t, batch_view<T> u)
    requires requires(M& m) { m.average_velocity(x, r, t, u); }
  {
    ++nfe_;
    model_.average_velocity(x, r, t, u);
  }
  /// Standard normals: array `stream` (0, 1, … within a step) of step `step`, for the rows of out.
  void normal(std::size_t step, std::uint32_t stream, batch_view<T> out) const {
    static_assert(Noise::active, "this solver draws noise: give the problem a noise source (keyed_noise or injected_noise)");
    noise_.normal(step, stream, out);
  }
  const Noise& noise() const { return noise_; }

  /// dx/dt of the PF-ODE at time t: the vector_field interface for generic ODE steppers.
  void operator()(T t, const_batch_view<T> x, batch_view<T> dxdt) { velocity(x, at(t), dxdt); }

  /// aᵀ ∂v/∂x of the velocity v = c.a·x + c.b·m(x) (the conversion from the model's kind), for a
  /// model with vjp(x, lv, a, out) and no transform: what implicit steppers and adjoints use.
  void vjp(const_batch_view<T> x, const level<T>& lv, const_batch_view<T> a, batch_view<T> out)
    requires(!Transform::active && requires(M& m) { m.vjp(x, lv, a, out); })
  {
    const auto c = conversion(model_.predicts, prediction::velocity, lv);
    model_.vjp(x, lv, a, out);
    for (std::size_t i = 0; i < out.size(); ++i) out.data[i] = c.a * a.data[i] + c.b * out.data[i];
  }
  /// The differentiable_field interface at time t (a PF-ODE has no parameters of its own).
  void vjp(T t, const_batch_view<T> x, const_batch_view<T> a, batch_view<T> a_x, std::span<T>)
    requires(!Transform::active && requires(M& m) { m.vjp(x, level<T>{}, a, a_x); })
  {
    vjp(x, at(t), a, a_x);
  }
  static constexpr std::size_t parameter_count() { return 0; }

 private:
  // A transform type may be switched off at run time (any_transform without a transform: enabled()
  // false), which takes the untransformed path and its bits.
  bool transforming() const {
    if constexpr (!Transform::active) return false;
    else if constexpr (requires { transform_.enabled(); }) return transform_.enabled();
    else return true;
  }

  // The model's own output, converted to `want` (no transform).
  void raw_to(const_batch_view<T> x, const level<T>& lv, prediction want, batch_view<T> out) {
    ++nfe_;
    const prediction given = model_.predicts;
    if (given == want) {
      model_(x, lv, out);
      return;
    }
    model_(x, lv, raw_.view());
    convert<T>(given, want, lv, x, raw_.view(), out);
  }

  const P& process_;
  M& model_;
  Transform transform_;
  Noise noise_;
  batch<T> raw_, x0_;
  std::size_t nfe_ = 0;
};

}  // namespace ferry
