#pragma once
// The step-size control that the adaptive steppers (dopri5, rosenbrock23) share: Hairer's error norm
// and the step factor with safety and bounds (Hairer, Nørsett & Wanner, "Solving ODEs I", §II.4,
// Eq. 4.11–4.13):
//
//   err = √(mean_i (e_i / (atol + rtol·max(|y_i|, |y_new_i|)))²),   accept when err ≤ 1
//   h ← h·clamp(safety·err^(−1/q), factor_min, factor_max),   q = the error estimate's order + 1
//
// with no growth right after a rejection (factor_max = 1 there).
//
// pid_controller: k-diffusion's PIDStepSizeController (dpm_adaptive; Söderlind 2003, "Digital filters
// in adaptive time-stepping", with the limiter of Söderlind & Wang 2006): with ε_k = 1/(err_k + 10⁻⁸),
//   factor = 1 + atan(ε_0^{b1}·ε_1^{b2}·ε_2^{b3} − 1),  b1 = (p + i + d)/q, b2 = −(p + 2d)/q, b3 = d/q
//   accept when factor ≥ accept_safety (then the history shifts), and h ← h·factor either way.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"

namespace ferry::detail {

/// Checks the controller's options once, naming the solver.
template <class T>
void check_step_control(const char* solver, T rtol, T atol, T safety, T factor_min, T factor_max) {
  if (!(rtol >= 0) || !(atol >= 0) || (rtol == 0 && atol == 0))
    throw config_error(cat(solver, ": rtol=", rtol, ", atol=", atol, "; need both >= 0 and one > 0"));
  if (!(safety > 0 && safety <= 1) || !(factor_min > 0 && factor_min < 1) || !(factor_max > 1))
    throw config_error(cat(solver, ": need 0 < safety <= 1, 0 < factor_min < 1 < factor_max"));
}

/// Hairer's weighted RMS norm of the error estimate e of a step from y to y_new.
template <class T>
T error_norm(const batch<T>& e, const batch<T>& y, const batch<T>& y_new, T atol, T rtol) {
  T acc = 0;
  const std::size_t n = y.size();
  for (std::size_t i = 0; i < n; ++i) {
    const T scale = atol + rtol * std::max(std::abs(y.data()[i]), std::abs(y_new.data()[i]));
    const T r = e.data()[i] / scale;
    acc += r * r;
  }
  return std::sqrt(acc / T(n));
}

/// The factor the next attempt's h is multiplied by, err^(−1/q) written as pow(err, exponent).
template <class T>
T step_factor(T err, T exponent, T safety, T factor_min, T factor_max, bool rejected_last) {
  const T grow = rejected_last ? T(1) : factor_max;
  return err == 0 ? grow : std::clamp(safety * std::pow(err, exponent), factor_min, grow);
}

/// k-diffusion's PID step-size controller (see above); q is the order it controls for.
template <class T>
struct pid_controller {
  T h = 0, b1 = 1, b2 = 0, b3 = 0, accept_safety = T(0.81);
  T inv_err[3] = {};
  bool started = false;

  pid_controller() = default;
  pid_controller(T h_init, T pcoeff, T icoeff, T dcoeff, T q, T safety)
      : h(h_init), b1((pcoeff + icoeff + dcoeff) / q), b2(-(pcoeff + 2 * dcoeff) / q), b3(dcoeff / q), accept_safety(safety) {}

  /// Scales h by the controller's factor for this error and says whether the step is accepted.
  bool propose(T err) {
    const T inv = 1 / (err + T(1e-8));
    if (!started) inv_err[1] = inv_err[2] = inv, started = true;
    inv_err[0] = inv;
    const T factor = 1 + std::atan(std::pow(inv_err[0], b1) * std::pow(inv_err[1], b2) * std::pow(inv_err[2], b3) - 1);
    const bool accept = factor >= accept_safety;
    if (accept) inv_err[2] = inv_err[1], inv_err[1] = inv_err[0];
    h *= factor;
    return accept;
  }
};

}  // namespace ferry::detail
