#pragma once
// Euler's method, x_{n+1} = x_n + h·f(τ_n, x_n). In ode_time::sigma this is k-diffusion's
// sample_euler (Karras et al. 2022, Alg. 2 without churn) and diffusers' EulerDiscreteScheduler.
// Order 1, one model evaluation per step.
#include "ferry/solvers/ode/explicit_rk.hpp"

namespace ferry {

inline constexpr butcher_tableau<1> euler_tableau{.c = {0}, .a = {{{0}}}, .b = {1}, .order = 1};

template <class T = double>
using euler = explicit_rk<euler_tableau, T>;

}  // namespace ferry
