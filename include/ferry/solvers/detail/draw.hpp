#pragma once
// A stochastic solver's draw through its problem, for solvers that may also be instantiated on a
// problem without noise (the registry hands every solver to the same generic code): there the
// run stops with a config_error at the first draw instead of failing to compile.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"

namespace ferry::detail {

/// p.normal(step, stream, out), or a config_error naming `solver` when p carries no noise source.
template <class Problem, class T>
void draw_normal(const Problem& p, const char* solver, std::size_t step, std::uint32_t stream, batch_view<T> out) {
  if constexpr (std::remove_cvref_t<decltype(p.noise())>::active)
    p.normal(step, stream, out);
  else
    throw config_error(cat(solver, " draws noise: give the problem a noise source (keyed_noise or injected_noise)"));
}

}  // namespace ferry::detail
