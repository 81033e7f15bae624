#pragma once
// Counter-based randomness: Philox-4x32-10 (Salmon et al. 2011, "Parallel random numbers: as easy
// as 1, 2, 3"; Random123's philox4x32). A draw is a pure function of (key, counter), so where a
// number sits in a run decides its value — not the thread, chunk, batch size or call order.
//
// ferry's keying, the one convention every stochastic part of the library uses:
//   key     = (seed mod 2³², seed div 2³²)
//   counter = (block, row, step, stream)
//     block   index of the 4×32-bit block within the row (2 doubles or 2 normals per block)
//     row     the sample's GLOBAL row index in the run (shards and threads pass their offset)
//     step    the solver step (initial_noise_step for the starting noise)
//     stream  which draw within a step (0 for the step's one normal array; see streams below)
// The kernel calls are templates (`template <class = void>`) so that a program compiles a kernel
// only where it calls it.
#include <Random123/philox.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "ferry/simd/kernels.hpp"

namespace ferry::random {

/// 128 random bits.
using bits128 = std::array<std::uint32_t, 4>;

/// Where a block of 128 bits sits in a run.
struct counter {
  std::uint32_t block = 0, row = 0, step = 0, stream = 0;
};

/// The step index reserved for the initial noise x_T = σ_max·z.
inline constexpr std::uint32_t initial_noise_step = 0xFFFFFFFFu;

/// Streams: a step that needs more than one independent array uses stream 0, 1, …; the named
/// streams below keep other consumers of the same (row, step) apart.
namespace streams {
inline constexpr std::uint32_t step_noise = 0;           ///< the step's normal draw(s): 0, 1, …
inline constexpr std::uint32_t brownian_tree = 1u << 24;  ///< virtual Brownian tree nodes
inline constexpr std::uint32_t categorical = 2u << 24;    ///< Gumbel / uniform draws of discrete samplers
inline constexpr std::uint32_t probes = 3u << 24;         ///< Hutchinson probes
}  // namespace streams

/// Philox-4x32-10 of `c` under the key made from `seed`.
inline bits128 philox(std::uint64_t seed, counter c) {
  using gen = r123::Philox4x32;
  const gen::ctr_type ctr = {{c.block, c.row, c.step, c.stream}};
  const gen::key_type key = {{std::uint32_t(seed), std::uint32_t(seed >> 32)}};
  const gen::ctr_type r = gen{}(ctr, key);
  return {r[0], r[1], r[2], r[3]};
}

/// Philox-4x32-10 of n counters at once, structure of arrays: block i has the counter
/// (c0[i], c1[i], step, stream) and gets (r0[i], r1[i], r2[i], r3[i]) — the same bits as
/// philox(seed, {c0[i], c1[i], step, stream}), computed several blocks per SIMD register (4 per
/// SSE2, 8 per AVX2, 16 per AVX-512 register: simd/kernel/random.hpp; the path is the program's,
/// simd/kernels.hpp), a partial last register on padded lanes.
template <class = void>
void philox_many(std::uint64_t seed, const std::uint32_t* c0, const std::uint32_t* c1, std::uint32_t step,
                        std::uint32_t stream, std::uint32_t* r0, std::uint32_t* r1, std::uint32_t* r2, std::uint32_t* r3,
                        std::size_t n) {
#ifdef FERRY_SIMD_DISPATCH
  simd::kernels().philox(seed, c0, c1, step, stream, r0, r1, r2, r3, n);
#else
  simd::kernel::philox<xsimd::default_arch>(seed, c0, c1, step, stream, r0, r1, r2, r3, n);
#endif
}

/// A double in the open interval (0, 1) from 64 random bits (53 used): (m + ½)·2⁻⁵³.
inline double uniform_open(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t m = (std::uint64_t(hi) << 21) | (lo >> 11);
  return (double(std::int64_t(m)) + 0.5) * 0x1p-53;  // m < 2⁵³: the signed conversion is exact and one instruction
}

}  // namespace ferry::random
