#pragma once
// One-step and multistep consistency sampling (Song et al. 2023, "Consistency Models", Alg. 1) on
// any grid, for a consistency function f with boundary ε (models/consistency_function.hpp):
//
//   x̂_ε    = f(x, t_i)                                              (one evaluation)
//   x_next = (α_next/α_ε)·x̂_ε + √(σ_next² − (α_next/α_ε)²·σ_ε²)·z    (Alg. 1's x + √(τ² − ε²)·z
//                                                                      for a general process)
//
// One step over a two-level grid is one-step generation; the step that lands on ε itself draws
// nothing. This is the shared multistep consistency step (solvers/sde/consistency.hpp, which LCM
// and TCD also use) with c_skip = 0, c_out = 1 and s = ε: the consistency function already applies
// its own c_skip/c_out.
#include "ferry/solvers/sde/consistency.hpp"

namespace ferry {

/// The parametrisation of a consistency-function model: F(x, t → ε) = f(x, t).
struct consistency_boundary {
  template <class Problem, class T>
  consistency_map<T> operator()(Problem& p, const step_span<T>&) const {
    return {T(0), T(1), p.model().boundary()};
  }
};

/// Consistency-model sampling: one step per grid interval, noise re-injected between steps.
template <class T = double>
struct consistency_sampling : multistep_consistency<consistency_boundary, T> {};

}  // namespace ferry
