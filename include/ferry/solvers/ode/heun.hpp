#pragma once
// Heun's method (explicit trapezoid): k1 = f(τ, x), k2 = f(τ + h, x + h·k1), x ← x + h(k1 + k2)/2.
// In ode_time::sigma this is Karras et al. 2022, Alg. 1 — k-diffusion's sample_heun and diffusers'
// HeunDiscreteScheduler; the last step to σ = 0 is an Euler step (one evaluation), as theirs is.
// Order 2, two model evaluations per step.
#include "ferry/solvers/ode/explicit_rk.hpp"

namespace ferry {

inline constexpr butcher_tableau<2> heun_tableau{
    .c = {0, 1}, .a = {{{0, 0}, {1, 0}}}, .b = {0.5, 0.5}, .order = 2};

template <class T = double>
using heun = explicit_rk<heun_tableau, T>;

}  // namespace ferry
