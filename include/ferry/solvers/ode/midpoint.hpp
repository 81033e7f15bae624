#pragma once
// Explicit midpoint method: k1 = f(τ, x), k2 = f(τ + h/2, x + h/2·k1), x ← x + h·k2.
// Order 2, two model evaluations per step (the second at an intermediate noise level).
#include "ferry/solvers/ode/explicit_rk.hpp"

namespace ferry {

inline constexpr butcher_tableau<2> midpoint_tableau{
    .c = {0, 0.5}, .a = {{{0, 0}, {0.5, 0}}}, .b = {0, 1}, .order = 2};

template <class T = double>
using midpoint = explicit_rk<midpoint_tableau, T>;

}  // namespace ferry
