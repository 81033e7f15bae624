#pragma once
// The classical fourth-order Runge–Kutta method (Kutta 1901):
//   k1 = f(τ, x), k2 = f(τ + h/2, x + h/2·k1), k3 = f(τ + h/2, x + h/2·k2), k4 = f(τ + h, x + h·k3)
//   x ← x + h/6·(k1 + 2k2 + 2k3 + k4).   Order 4, four model evaluations per step.
#include "ferry/solvers/ode/explicit_rk.hpp"

namespace ferry {

inline constexpr butcher_tableau<4> rk4_tableau{
    .c = {0, 0.5, 0.5, 1},
    .a = {{{0, 0, 0, 0}, {0.5, 0, 0, 0}, {0, 0.5, 0, 0}, {0, 0, 1, 0}}},
    .b = {1. / 6, 1. / 3, 1. / 3, 1. / 6},
    .order = 4};

template <class T = double>
using rk4 = explicit_rk<rk4_tableau, T>;

}  // namespace ferry
