#pragma once
// Consistency functions (Song, Dhariwal, Chen & Sutskever 2023, "Consistency Models"): f(x, t)
// maps any point of a PF-ODE trajectory to the trajectory's point at the boundary level ε, with
// f(x, ε) = x (their Eq. 3–4). In ferry a consistency function is a model whose data prediction is
// that estimate, with boundary() naming ε (x0 itself when ε is the data level σ = 0); the samplers
// in solvers/fewstep/consistency.hpp take it through the ordinary pf_ode.
//
// Their parameterisation (§3, Eq. 5 and App. C) of a free network F_θ, in the EDM view
// x̃ = x/α, σ̃ = σ/α (the state stays in the model's own view, scaled back by α_ε):
//
//   f(x, t) = α_ε·(c_skip(σ̃)·x/α + c_out(σ̃)·F_θ(x, t))
//   c_skip(σ̃) = σ_d² / ((σ̃ − σ̃_ε)² + σ_d²),     c_out(σ̃) = σ_d·(σ̃ − σ̃_ε) / √(σ_d² + σ̃²)
//
// so c_skip(σ̃_ε) = 1 and c_out(σ̃_ε) = 0 give the boundary condition exactly, whatever F_θ is.
#include <cmath>
#include <concepts>
#include <utility>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/simd/lincomb.hpp"

namespace ferry {

/// A model whose data prediction is f(x, t), its estimate at the level boundary() (f(x, ε) = x).
template <class F, class T>
concept consistency_function = model<F, T> && requires(const F& f) {
  { f.boundary() } -> std::convertible_to<level<T>>;
};

/// c_skip and c_out of Song et al. 2023 (App. C), with σ_d = sigma_data and boundary ε.
template <class T>
struct consistency_scalings {
  T sigma_data = T(0.5);
  level<T> boundary;

  /// c_skip(σ̃) = σ_d² / ((σ̃ − σ̃_ε)² + σ_d²)
  T skip(const level<T>& lv) const {
    const T d = lv.sigma / lv.alpha - boundary.sigma / boundary.alpha, sd2 = sigma_data * sigma_data;
    return sd2 / (d * d + sd2);
  }
  /// c_out(σ̃) = σ_d·(σ̃ − σ̃_ε) / √(σ_d² + σ̃²)
  T out(const level<T>& lv) const {
    const T s = lv.sigma / lv.alpha;
    return sigma_data * (s - boundary.sigma / boundary.alpha) / std::sqrt(sigma_data * sigma_data + s * s);
  }
};

/// f(x, t) = α_ε·(c_skip·x/α + c_out·F_θ(x, t)) for a network `net` that writes F_θ(x, t).
template <class Net, class T = double>
  requires requires(const Net& n, const_batch_view<T> x, const level<T>& lv, batch_view<T> out) { n(x, lv, out); }
class parameterised_consistency {
 public:
  static constexpr prediction predicts = prediction::data;

  parameterised_consistency(Net net, consistency_scalings<T> c) : net_(std::move(net)), c_(c) {
    if (!(c.sigma_data > 0)) throw config_error(detail::cat("consistency: sigma_data=", c.sigma_data, "; must be > 0"));
    if (!(c.boundary.alpha > 0))
      throw config_error(detail::cat("consistency: the boundary level needs alpha > 0, got ", c.boundary.alpha));
  }

  level<T> boundary() const { return c_.boundary; }
  const consistency_scalings<T>& scalings() const { return c_; }

  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) const {
    require_same_shape(x.shape(), out.shape(), "parameterised_consistency");
    net_(x, lv, out);                                                           // F_θ(x, t)
    const T ae = c_.boundary.alpha;
    simd::lincomb<T, 2>(out.span(), {ae * c_.skip(lv) / lv.alpha, ae * c_.out(lv)}, {x.data, out.data});
  }

 private:
  Net net_;
  consistency_scalings<T> c_;
};

}  // namespace ferry
