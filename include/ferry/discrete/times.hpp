#pragma once
// The times the discrete loop walks in every block, 1 = t_0 > t_1 > … > t_K = 0, named as the
// continuous side names its grids (grid/grid_spec.hpp):
//
//   uniform   t_k = (K − k)/K, each point correctly rounded (the loop's grid before it took grids)
//   custom    the caller's list, checked as the continuous custom grid is: finite, strictly
//             decreasing, from exactly 1 (all noise) to exactly 0 (the data)
//
// The other kinds space points in a continuous process's σ or λ, which a discrete schedule does not
// have. A custom list carries its own range, so t_min, t_max, sigma_min and sigma_max must be unset.
#include <cmath>
#include <cstddef>
#include <vector>

#include "ferry/core/error.hpp"
#include "ferry/grid/grid_kind.hpp"
#include "ferry/grid/grid_spec.hpp"

namespace ferry::discrete {

/// The K + 1 times of `spec` (uniform: spec.steps = K; custom: spec.times, spec.steps 0 or K).
inline std::vector<double> make_times(const grid_spec<double>& spec) {
  using ferry::detail::cat;
  if (spec.t_min || spec.t_max || spec.sigma_min || spec.sigma_max)
    throw config_error("discrete times: the grid runs from t = 1 to t = 0; t_min, t_max, sigma_min and sigma_max must be unset");
  if (spec.kind == grid_kind::uniform) {
    if (spec.steps < 1) throw config_error(cat("discrete times: steps = ", spec.steps, "; expected at least 1"));
    if (!spec.times.empty())
      throw config_error(cat("discrete times: ", spec.times.size(), " times given but the kind is uniform; use kind custom"));
    std::vector<double> t(spec.steps + 1);
    for (std::size_t k = 0; k <= spec.steps; ++k) t[k] = double(spec.steps - k) / double(spec.steps);
    return t;
  }
  if (spec.kind != grid_kind::custom)
    throw config_error(cat("discrete times: grid kind ", to_string(spec.kind),
                           " spaces a continuous process's noise levels; expected uniform or custom"));
  const std::vector<double>& t = spec.times;
  if (t.size() < 2) throw config_error(cat("discrete times: need at least 2 times (1, then 0), got ", t.size()));
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!std::isfinite(t[i]) || t[i] < 0 || t[i] > 1)
      throw config_error(cat("discrete times: time ", i, " is t = ", t[i], ", outside [0, 1]"));
    if (i > 0 && !(t[i] < t[i - 1]))
      throw config_error(cat("discrete times: times must decrease strictly (noise first), but time ", i, " (t = ", t[i], ") ",
                             t[i] == t[i - 1] ? "repeats" : "is above", " time ", i - 1, " (t = ", t[i - 1], ")"));
  }
  if (t.front() != 1) throw config_error(cat("discrete times: time 0 is t = ", t.front(), "; the grid starts at t = 1 (all noise)"));
  if (t.back() != 0)
    throw config_error(cat("discrete times: the last time is t = ", t.back(), "; the grid ends at t = 0 (the data)"));
  if (spec.steps != 0 && spec.steps != t.size() - 1)
    throw config_error(cat("discrete times: steps = ", spec.steps, " but the ", t.size(), " times give ", t.size() - 1,
                           " steps; set steps to 0 or ", t.size() - 1));
  return t;
}

}  // namespace ferry::discrete
