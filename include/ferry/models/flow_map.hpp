#pragma once
// Exact few-step oracles from any model's probability-flow ODE: the flow map Φ_{t→s}, computed by
// adaptive Dormand–Prince at tight tolerances (solvers/ode/dopri5.hpp on the same pf_ode every
// other solver steps), and the two distilled-model interfaces built on it:
//
//   flow_map_consistency     f(x, t) = Φ_{t→ε}(x)                  (Song et al. 2023, Eq. 3: the
//                            consistency function of the PF-ODE, with boundary level ε)
//   flow_map_average_velocity u(z, r, t) = (z − Φ_{t→r}(z))/(t − r) (Geng et al. 2025, "Mean Flows",
//                            Eq. 3: the average velocity over [r, t] in the process's own time)
//
// Φ_{t→s} to the data level (σ_s = 0) follows the ODE down to σ/α = tail_sigma and denoises there,
// x_s = α_s·x̂0: for a mixture whose components have covariance ≥ c·I, x̂0 differs from the limit of
// the flow by O(tail_sigma²/c), far below the integration tolerance at the default 1e-6.
// Each call integrates from scratch (it allocates): an oracle for tests and the CLI, not a network.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/driver/pf_ode.hpp"

namespace ferry {

/// Φ_{from→to} of the PF-ODE of `process` driven by `model` (held by value, called const).
template <noise_process P, class M>
  requires model<const M, typename P::value_type>
class pf_ode_flow_map {
 public:
  using T = typename P::value_type;
  struct options {
    T rtol = T(1e-11), atol = T(1e-11);  ///< dopri5 tolerances (native time)
    T tail_sigma = T(1e-6);              ///< σ/α where a flow to σ = 0 switches to x̂0
  };

  pf_ode_flow_map(P process, M model, options o = {}) : process_(std::move(process)), model_(std::move(model)), opt_(o) {
    if (!(o.tail_sigma > 0)) throw config_error(detail::cat("pf_ode_flow_map: tail_sigma=", o.tail_sigma, "; must be > 0"));
    dopri5<T>({.rtol = o.rtol, .atol = o.atol});  // validates the tolerances
  }

  const P& process() const { return process_; }
  const M& model() const { return model_; }

  /// x ← Φ_{from→to}(x), from a noisier level to a less noisy one (λ_to ≥ λ_from).
  void operator()(const level<T>& from, const level<T>& to, batch_view<T> x) const {
    if (to.lambda == from.lambda) return;
    if (!(to.lambda > from.lambda))
      throw domain_error(detail::cat("pf_ode_flow_map: runs from noise to data, but sigma ", from.sigma, " -> ", to.sigma,
                                     " (alpha ", from.alpha, " -> ", to.alpha, ") goes the other way"));
    std::vector<level<T>> points{from};
    if (to.sigma == 0) {  // follow the ODE to σ/α = tail_sigma, then x_s = α_s·x̂0 there (dopri5's last step)
      const level<T> tail = level_at(process_, process_.t_of_lambda(-std::log(opt_.tail_sigma)));
      if (tail.lambda > from.lambda && std::isfinite(tail.lambda)) points.push_back(tail);
    }
    points.push_back(to);
    pf_ode<P, const M> problem(process_, model_);
    dopri5<T> solver({.rtol = opt_.rtol, .atol = opt_.atol});
    ferry::sample(problem, make_schedule(std::move(points)), solver, x);
  }

 private:
  P process_;
  M model_;
  options opt_;
};

/// The consistency function of the PF-ODE with boundary ε: f(x, t) = Φ_{t→ε}(x), f(x, ε) = x.
/// A consistency model is a model whose data prediction is its estimate at its boundary level.
template <noise_process P, class M>
class flow_map_consistency {
 public:
  using T = typename P::value_type;
  static constexpr prediction predicts = prediction::data;

  flow_map_consistency(pf_ode_flow_map<P, M> flow, level<T> boundary) : flow_(std::move(flow)), boundary_(boundary) {}

  level<T> boundary() const { return boundary_; }
  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) const {
    require_same_shape(x.shape(), out.shape(), "flow_map_consistency");
    std::copy(x.data, x.data + x.size(), out.data);
    flow_(lv, boundary_, out);
  }

 private:
  pf_ode_flow_map<P, M> flow_;
  level<T> boundary_;
};

/// The average velocity of the PF-ODE in the process's time: u(z, r, t) = (z − Φ_{t→r}(z))/(t − r).
/// As a plain model it predicts the instantaneous velocity u(z, t, t) = v(z, t).
template <noise_process P, class M>
class flow_map_average_velocity {
 public:
  using T = typename P::value_type;
  static constexpr prediction predicts = prediction::velocity;

  explicit flow_map_average_velocity(pf_ode_flow_map<P, M> flow) : flow_(std::move(flow)) {}

  /// v(z, t): the model's prediction converted to dx/dt.
  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) const {
    const M& m = flow_.model();
    m(x, lv, out);
    convert<T>(m.predicts, prediction::velocity, lv, x, out, out);
  }
  /// u(z, r, t) over [r, t] (r below t).
  void average_velocity(const_batch_view<T> z, const level<T>& r, const level<T>& t, batch_view<T> u) const {
    require_same_shape(z.shape(), u.shape(), "flow_map_average_velocity");
    std::copy(z.data, z.data + z.size(), u.data);
    flow_(t, r, u);                                                              // u = Φ_{t→r}(z)
    const T inv = 1 / (t.t - r.t);
    simd::lincomb<T, 2>(u.span(), {inv, -inv}, {z.data, u.data});              // (z − Φ_{t→r}(z))/(t − r)
  }

 private:
  pf_ode_flow_map<P, M> flow_;
};

}  // namespace ferry
