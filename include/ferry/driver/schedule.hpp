#pragma once
// A sampling schedule: the levels at which the model is evaluated, from high noise to low, and
// where each step lands. Step i goes from points[i] to target(i); target(i) is points[i+1]
// unless a peer lands elsewhere (diffusers' DDIM steps to t − T/n, which may differ from the next
// grid timestep by one). An inversion schedule (solvers/inversion.hpp) runs the other way, from
// data to noise: its direction is `invert` and λ decreases along it.
#include <cmath>
#include <cstddef>
#include <vector>

#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"

namespace ferry {

/// One step of a schedule, as a solver sees it.
template <class T>
struct step_span {
  level<T> cur, next;           ///< where the state is, where the step lands
  std::size_t index = 0;        ///< 0-based step number
  std::size_t count = 1;        ///< steps in the run
  bool first() const { return index == 0; }
  bool last() const { return index + 1 == count; }
  /// Steps left after this one, this one excluded.
  std::size_t remaining() const { return count - index - 1; }
};

/// Which way a schedule runs: sampling goes from noise to data (λ increases), inversion from data
/// to noise (λ decreases).
enum class direction { sample, invert };

template <class T>
struct schedule {
  std::vector<level<T>> points;    ///< n + 1 levels: model evaluation points, then the end
  std::vector<level<T>> landings;  ///< empty, or n levels where step i lands
  direction dir = direction::sample;
  /// The last step may have length 0 (diffusers' final_sigmas_type "sigma_min" on a grid that already
  /// ends at σ_min: the solver takes it with h = 0 and leaves the state as it is). Off for every other grid.
  bool zero_length_end = false;

  std::size_t steps() const { return points.empty() ? 0 : points.size() - 1; }
  step_span<T> step(std::size_t i) const {
    return {points[i], landings.empty() ? points[i + 1] : landings[i], i, steps()};
  }
  /// Throws config_error unless σ decreases strictly (ties allowed only in landings, and at the end
  /// with zero_length_end) and all finite;
  /// an inversion schedule mirrors it (σ increases strictly).
  void validate() const {
    if (points.size() < 2) throw config_error(detail::cat("schedule: needs at least 2 levels, got ", points.size()));
    if (!landings.empty() && landings.size() != steps())
      throw config_error(detail::cat("schedule: ", landings.size(), " landings for ", steps(), " steps"));
    const bool inv = dir == direction::invert;
    for (std::size_t i = 0; i < points.size(); ++i) {
      const auto& l = points[i];
      const bool open_end = inv ? i == 0 : i + 1 == points.size();  // the end that may be σ = 0
      if (!(l.alpha >= 0) || !(l.sigma >= 0) || (!open_end && !std::isfinite(l.sigma)))
        throw config_error(detail::cat("schedule: level ", i, " has alpha=", l.alpha, ", sigma=", l.sigma));
      const bool zero_last = zero_length_end && !inv && i >= 2 && i + 1 == points.size() && l.lambda == points[i - 1].lambda;
      if (i > 0 && !zero_last && !(inv ? l.lambda < points[i - 1].lambda : l.lambda > points[i - 1].lambda))
        throw config_error(detail::cat("schedule: noise must ", inv ? "increase" : "decrease", " strictly, but level ", i,
                                       " (sigma=", l.sigma, ", alpha=", l.alpha, ") is not ", inv ? "above" : "below",
                                       " level ", i - 1, " (sigma=", points[i - 1].sigma, ", alpha=", points[i - 1].alpha,
                                       ")"));
    }
  }
};

namespace detail {
/// For solvers that work on x/α or σ/α: every level they start a step from needs α > 0.
template <class T>
void require_positive_alpha(const schedule<T>& s, const char* solver) {
  for (std::size_t i = 0; i < s.steps(); ++i)
    if (!(s.points[i].alpha > 0))
      throw config_error(detail::cat(solver, " works with sigma/alpha, which is infinite at level ", i, " (t=", s.points[i].t,
                                     ", alpha=", s.points[i].alpha, "); start the grid below pure noise (e.g. t_max < 1)"));
}
}  // namespace detail

/// The schedule through consecutive levels.
template <class T>
schedule<T> make_schedule(std::vector<level<T>> points) {
  schedule<T> s{std::move(points), {}, direction::sample};
  s.validate();
  return s;
}

}  // namespace ferry
