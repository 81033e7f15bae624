#pragma once
// The kernel table of one xsimd architecture (simd/kernels.hpp declares it): every dispatched kernel
// instantiated on Arch. Only the per-ISA translation units include this (src/simd/kernels_<isa>.cpp,
// each built with its ISA's flags and -ffp-contract=off) and the tests that compare kernels directly.
#include <cstddef>
#include <utility>
#include <xsimd/xsimd.hpp>

#include "ferry/simd/kernel/categorical.hpp"
#include "ferry/simd/kernel/lincomb.hpp"
#include "ferry/simd/kernel/mixture.hpp"
#include "ferry/simd/kernel/random.hpp"
#include "ferry/simd/kernels.hpp"

namespace ferry::simd {

namespace detail {
template <class T, class Arch, std::size_t... K>
constexpr typed_kernels<T> make_typed(std::index_sequence<K...>) {
  return {{&kernel::lincomb<T, K + 1, Arch>...},
          &kernel::sum_squares<T, Arch>,
          &kernel::find_nonfinite<T, Arch>,
          &kernel::mixture_rows<T, Arch>,
          &kernel::gumbel_scores<T, Arch>,
          &kernel::fill_normal<T, Arch>};
}

template <class Arch>
std::size_t race_argmin_excluding(const double* w, const double* u, std::size_t n, std::size_t exclude) {
  return kernel::race_argmin<Arch>(w, u, n, kernel::skip_index<Arch>{exclude});
}
}  // namespace detail

/// The table of Arch's kernels. Only the per-ISA translation units instantiate it.
template <class Arch>
constexpr kernel_table make_kernel_table(isa id) {
  return {id,
          detail::make_typed<double, Arch>(std::make_index_sequence<max_lincomb_terms>{}),
          detail::make_typed<float, Arch>(std::make_index_sequence<max_lincomb_terms>{}),
          &kernel::philox<Arch>,
          &kernel::box_muller<Arch>,
          &kernel::fill_uniform<Arch>,
          &kernel::softmax<Arch>,
          &detail::race_argmin_excluding<Arch>};
}

}  // namespace ferry::simd
