#pragma once
// Options shared by the Newton-based implicit steppers (backward Euler, trapezoidal).
#include <cstddef>

#include "ferry/core/error.hpp"
#include "ferry/solvers/stiff/shifted_jacobian.hpp"

namespace ferry {

template <class T>
struct implicit_options {
  T newton_tol = T(1e-12);          ///< stop when max_i |δ_i|/(1 + |y_i|) ≤ newton_tol
  std::size_t newton_max_iter = 20;
  linear_options<T> linear{};

  void validate(const char* who) const {
    if (!(newton_tol > 0) || newton_max_iter == 0)
      throw config_error(detail::cat(who, ": newton_tol=", newton_tol, ", newton_max_iter=", newton_max_iter,
                                     "; need both > 0"));
    linear.validate(who);
  }
};

}  // namespace ferry
