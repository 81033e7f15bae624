#pragma once
// The one multistep consistency step, shared by consistency-model sampling (fewstep/consistency.hpp)
// and by LCM / TCD (the stochastic samplers): Song et al. 2023, "Consistency Models", Alg. 1 —
// map the state to an estimate at a lower level s with a consistency function, then run the
// forward process from s up to the landing level:
//
//   x̂_s    = F(x, t → s) = c_skip·x + c_out·x̂0                      (the consistency function)
//   x_next = (α'/α_s)·x̂_s + √(σ'² − (α'/α_s)²σ_s²)·z                (forward transition s → next)
//
// fused into one update of x, x̂0 and z (x̂0 is the problem's data prediction at the current level).
// A parametrisation (`Map`) gives (c_skip, c_out, s) per step. A step that lands where it denoised
// to (s = next) draws nothing, so one-step sampling also runs on a problem without a noise source;
// a step that needs noise from such a problem throws config_error before it changes the state.
// One model evaluation per step; step i draws step i's normal array (stream 0).
#include <algorithm>
#include <cmath>
#include <utility>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/schedule.hpp"

namespace ferry {

/// F(x, t → s) = skip·x + out·x̂0, an estimate of the state at level `target`.
template <class T>
struct consistency_map {
  T skip, out;
  level<T> target;
};

namespace detail {
template <class Problem>
constexpr bool draws_noise() {
  if constexpr (requires { Problem::noise_type::active; }) return Problem::noise_type::active;
  return false;
}
}  // namespace detail

/// Multistep consistency sampling with the parametrisation Map: map(problem, step) → consistency_map.
template <class Map, class T = double>
struct multistep_consistency {
  static constexpr int order = 1, evals_per_step = 1;
  static constexpr bool stochastic = true;
  Map map;

  multistep_consistency() = default;
  explicit multistep_consistency(Map m) : map(std::move(m)) {}

  void reset(extent e) {
    x0_.resize(e);
    z_.resize(e);
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const consistency_map<T> f = map(p, s);
    const T a = s.next.alpha / f.target.alpha;                                          // α'/α_s
    const T noise = std::sqrt(std::max(T(0), s.next.sigma * s.next.sigma - a * a * f.target.sigma * f.target.sigma));
    if constexpr (!detail::draws_noise<Problem>())
      if (noise > 0)
        throw config_error(detail::cat("multistep consistency sampling: step ", s.index + 1, " of ", s.count,
                                       " adds noise (sigma ", noise, "); give the problem a noise source (a seed)"));
    p.data(x, s.cur, x0_.view());
    detail::terms<T, 3> t;
    t.add(a * f.skip, x.data), t.add(a * f.out, x0_);                                   // (α'/α_s)·F(x, t → s)
    if constexpr (detail::draws_noise<Problem>()) {
      if (noise > 0) {
        p.normal(s.index, 0, z_.view());
        t.add(noise, z_);                                                               // + √(σ'² − (α'/α_s)²σ_s²)·z
      }
    }
    detail::combine(x, t);
  }

 private:
  batch<T> x0_, z_;
};

}  // namespace ferry
