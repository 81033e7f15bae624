#pragma once
// Keyed standard normals and uniforms: the value at (seed, row, step, stream, d) is fixed by those
// five numbers alone, so any split of the rows over threads, shards or batches gives the same bits.
//
// Normals: element d of a row comes from Philox block d/2 (philox.hpp's counter), whose 128 bits
// make two uniforms u1, u2 ∈ (0, 1) of 53 bits each; Box–Muller (Box & Muller 1958)
//   z_{2b} = √(−2 ln u1)·cos(2π u2),   z_{2b+1} = √(−2 ln u1)·sin(2π u2).
// The transform runs in double through xsimd's log and sqrt and ferry's lane-wise sincos, on full
// SIMD batches only (a partial batch is padded), so every element takes the same operations
// wherever it falls and whatever the ISA path; float states get the double normals rounded, so
// float and double runs of one seed see the same noise.
// The kernel calls are templates (`template <class = void>`) so that a program compiles a kernel
// only where it calls it.
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/random/philox.hpp"

namespace ferry::random {

namespace detail {
inline void require_row_range(std::uint64_t first_row, std::size_t rows) {
  if (first_row + rows > (std::uint64_t(1) << 32))
    throw domain_error(ferry::detail::cat("random: rows up to ", first_row + rows, " exceed the 2^32 rows a key addresses"));
}

// (u1, u2) → (z0, z1) for n pairs (any n; a partial last register runs on padded lanes).
template <class = void>
void box_muller(const double* u1, const double* u2, double* z0, double* z1, std::size_t n) {
#ifdef FERRY_SIMD_DISPATCH
  simd::kernels().box_muller(u1, u2, z0, z1, n);
#else
  simd::kernel::box_muller<xsimd::default_arch>(u1, u2, z0, z1, n);
#endif
}
}  // namespace detail

/// Fills every row of `out` with standard normals; row i of `out` is global row first_row + i.
/// Blocks are gathered 64 at a time: Philox runs over them in SIMD lanes, then the uniforms and
/// the vector Box–Muller (simd/kernel/random.hpp) — the same bits as one philox() call per block,
/// on every ISA path. Other scalar types get the double normals rounded, as float does.
template <class T>
void fill_normal(std::uint64_t seed, batch_view<T> out, std::uint64_t first_row, std::uint32_t step,
                 std::uint32_t stream = streams::step_noise) {
  detail::require_row_range(first_row, out.rows);
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
#ifdef FERRY_SIMD_DISPATCH
    simd::kernels().of<T>().fill_normal(seed, out.data, out.rows, out.cols, first_row, step, stream);
#else
    simd::kernel::fill_normal<T, xsimd::default_arch>(seed, out.data, out.rows, out.cols, first_row, step, stream);
#endif
  } else {
    std::vector<double> row(out.cols);
    for (std::size_t i = 0; i < out.rows; ++i) {
      fill_normal<double>(seed, batch_view<double>(row.data(), 1, out.cols), first_row + i, step, stream);
      for (std::size_t j = 0; j < out.cols; ++j) out(i, j) = T(row[j]);
    }
  }
}

/// The uniform in (0, 1) at position `index` of a row: block index/2, bits 64·(index mod 2)….
inline double uniform_at(std::uint64_t seed, std::uint32_t row, std::uint32_t step, std::uint32_t stream,
                         std::uint64_t index) {
  const bits128 r = philox(seed, {std::uint32_t(index / 2), row, step, stream});
  return index % 2 == 0 ? uniform_open(r[0], r[1]) : uniform_open(r[2], r[3]);
}

/// out[j] = uniform_at(seed, row, step, stream, first_index + j), one Philox block per two values,
/// the blocks in SIMD lanes.
template <class = void>
void fill_uniform(std::uint64_t seed, std::span<double> out, std::uint32_t row, std::uint32_t step,
                         std::uint32_t stream, std::uint64_t first_index = 0) {
#ifdef FERRY_SIMD_DISPATCH
  simd::kernels().fill_uniform(seed, out.data(), out.size(), row, step, stream, first_index);
#else
  simd::kernel::fill_uniform<xsimd::default_arch>(seed, out.data(), out.size(), row, step, stream, first_index);
#endif
}

}  // namespace ferry::random
