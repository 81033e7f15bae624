#pragma once
// Keyed standard normals and uniforms: the value at (seed, row, step, stream, d) is fixed by those
// five numbers alone, so any split of the rows over threads, shards or batches gives the same bits.
//
// Normals: element d of a row comes from Philox block d/2 (philox.hpp's counter), whose 128 bits
// make two uniforms u1, u2 ∈ (0, 1) of 53 bits each; Box–Muller (Box & Muller 1958)
//   z_{2b} = √(−2 ln u1)·cos(2π u2),   z_{2b+1} = √(−2 ln u1)·sin(2π u2).
// The transform runs in double through xsimd's log/sincos on full SIMD batches only (a partial
// batch is padded), so every element takes the same instruction path wherever it falls; float
// states get the double normals rounded, so float and double runs of one seed see the same noise.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <span>
#include <xsimd/xsimd.hpp>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/random/philox.hpp"

namespace ferry::random {

namespace detail {
inline void require_row_range(std::uint64_t first_row, std::size_t rows) {
  if (first_row + rows > (std::uint64_t(1) << 32))
    throw domain_error(ferry::detail::cat("random: rows up to ", first_row + rows, " exceed the 2^32 rows a key addresses"));
}

// (u1, u2) → (z0, z1) for n pairs, n a multiple of the SIMD width, arrays aligned.
inline void box_muller(const double* u1, const double* u2, double* z0, double* z1, std::size_t n) {
  using B = xsimd::batch<double>;
  const B two_pi(2 * std::numbers::pi), minus_two(-2.0);
  for (std::size_t i = 0; i < n; i += B::size) {
    const B r = xsimd::sqrt(minus_two * xsimd::log(B::load_aligned(u1 + i)));
    const auto [s, c] = xsimd::sincos(two_pi * B::load_aligned(u2 + i));
    (r * c).store_aligned(z0 + i);
    (r * s).store_aligned(z1 + i);
  }
}
}  // namespace detail

/// Fills every row of `out` with standard normals; row i of `out` is global row first_row + i.
/// Blocks are gathered 64 at a time: Philox runs over them in SIMD lanes (philox_many), then the
/// uniforms and the vector Box–Muller — the same bits as one philox() call per block.
template <class T>
void fill_normal(std::uint64_t seed, batch_view<T> out, std::uint64_t first_row, std::uint32_t step,
                 std::uint32_t stream = streams::step_noise) {
  detail::require_row_range(first_row, out.rows);
  using B = xsimd::batch<double>;
  using U = xsimd::batch<std::uint32_t>;
  constexpr std::size_t chunk = 64, lanes = B::size > U::size ? B::size : U::size;
  static_assert(chunk % lanes == 0);
  alignas(64) std::uint32_t c0[chunk], c1[chunk], r0[chunk], r1[chunk], r2[chunk], r3[chunk];
  alignas(64) double u1[chunk], u2[chunk], z0[chunk], z1[chunk];
  T* dst[chunk];
  bool pair[chunk];
  std::size_t n = 0;
  auto flush = [&] {
    const std::size_t full = (n + lanes - 1) / lanes * lanes;
    for (std::size_t j = n; j < full; ++j) c0[j] = c1[j] = 0;  // padding lanes, discarded
    philox_many(seed, c0, c1, step, stream, r0, r1, r2, r3, full);
    for (std::size_t j = 0; j < full; ++j) {
      u1[j] = uniform_open(r0[j], r1[j]);
      u2[j] = uniform_open(r2[j], r3[j]);
    }
    detail::box_muller(u1, u2, z0, z1, full);
    for (std::size_t j = 0; j < n; ++j) {
      dst[j][0] = T(z0[j]);
      if (pair[j]) dst[j][1] = T(z1[j]);
    }
    n = 0;
  };
  const std::size_t d = out.cols, blocks = (d + 1) / 2;
  for (std::size_t i = 0; i < out.rows; ++i) {
    const auto row = std::uint32_t(first_row + i);
    for (std::size_t b = 0; b < blocks; ++b) {
      c0[n] = std::uint32_t(b);
      c1[n] = row;
      dst[n] = &out(i, 2 * b);
      pair[n] = 2 * b + 1 < d;
      if (++n == chunk) flush();
    }
  }
  if (n) flush();
}

/// The uniform in (0, 1) at position `index` of a row: block index/2, bits 64·(index mod 2)….
inline double uniform_at(std::uint64_t seed, std::uint32_t row, std::uint32_t step, std::uint32_t stream,
                         std::uint64_t index) {
  const bits128 r = philox(seed, {std::uint32_t(index / 2), row, step, stream});
  return index % 2 == 0 ? uniform_open(r[0], r[1]) : uniform_open(r[2], r[3]);
}

/// out[j] = uniform_at(seed, row, step, stream, first_index + j), one Philox block per two values,
/// 64 blocks at a time through philox_many.
inline void fill_uniform(std::uint64_t seed, std::span<double> out, std::uint32_t row, std::uint32_t step,
                         std::uint32_t stream, std::uint64_t first_index = 0) {
  std::size_t j = 0;
  if (first_index % 2 == 1 && !out.empty()) out[j++] = uniform_at(seed, row, step, stream, first_index);
  constexpr std::size_t chunk = 64;
  alignas(64) std::uint32_t c0[chunk], c1[chunk], r0[chunk], r1[chunk], r2[chunk], r3[chunk];
  std::fill(c1, c1 + chunk, row);
  while (j + 1 < out.size()) {
    const std::size_t blocks = std::min(chunk, (out.size() - j) / 2);
    const std::uint64_t first_block = (first_index + j) / 2;
    for (std::size_t b = 0; b < blocks; ++b) c0[b] = std::uint32_t(first_block + b);
    philox_many(seed, c0, c1, step, stream, r0, r1, r2, r3, blocks);
    for (std::size_t b = 0; b < blocks; ++b, j += 2) {
      out[j] = uniform_open(r0[b], r1[b]);
      out[j + 1] = uniform_open(r2[b], r3[b]);
    }
  }
  if (j < out.size()) out[j] = uniform_at(seed, row, step, stream, first_index + j);
}

}  // namespace ferry::random
