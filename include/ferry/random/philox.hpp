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
#include <Random123/philox.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

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

namespace detail {

// (hi, lo) = the 64-bit product m·a, lane by lane (Random123's mulhilo32). x86 multiplies the even
// 32-bit lanes to 64 bits (pmuludq), the odd lanes after a 64-bit shift, and re-interleaves; other
// architectures multiply lane by lane in 64 bits.
template <class B>
inline void mulhilo(std::uint32_t m, const B& a, B& hi, B& lo) {
#if defined(__AVX2__)
  if constexpr (std::is_base_of_v<xsimd::avx2, typename B::arch_type> && sizeof(B) == 32) {
    const __m256i x = a, mm = _mm256_set1_epi64x(m), high = _mm256_set1_epi64x(std::int64_t(0xFFFFFFFF00000000ull));
    const __m256i even = _mm256_mul_epu32(x, mm), odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), mm);
    lo = B(_mm256_or_si256(_mm256_andnot_si256(high, even), _mm256_slli_epi64(odd, 32)));
    hi = B(_mm256_or_si256(_mm256_srli_epi64(even, 32), _mm256_and_si256(odd, high)));
    return;
  }
#endif
#if defined(__SSE2__)
  if constexpr (std::is_base_of_v<xsimd::sse2, typename B::arch_type> && sizeof(B) == 16) {
    const __m128i x = a, mm = _mm_set1_epi64x(m), high = _mm_set1_epi64x(std::int64_t(0xFFFFFFFF00000000ull));
    const __m128i even = _mm_mul_epu32(x, mm), odd = _mm_mul_epu32(_mm_srli_epi64(x, 32), mm);
    lo = B(_mm_or_si128(_mm_andnot_si128(high, even), _mm_slli_epi64(odd, 32)));
    hi = B(_mm_or_si128(_mm_srli_epi64(even, 32), _mm_and_si128(odd, high)));
    return;
  }
#endif
  alignas(64) std::uint32_t v[B::size], h[B::size], l[B::size];
  a.store_aligned(v);
  for (std::size_t i = 0; i < B::size; ++i) {
    const std::uint64_t p = std::uint64_t(m) * v[i];
    h[i] = std::uint32_t(p >> 32);
    l[i] = std::uint32_t(p);
  }
  hi = B::load_aligned(h);
  lo = B::load_aligned(l);
}

}  // namespace detail

namespace detail {

// Philox-4x32-10 of blocks [i, n) of the structure-of-arrays counters, B::size blocks per register
// (Random123's round: (hi0, lo0) = M0·x0, (hi1, lo1) = M1·x2, x ← (hi1⊕x1⊕k0, lo1, hi0⊕x3⊕k1, lo0),
// then k += (W0, W1)); returns the first block not done (the tail shorter than a register).
template <class B>
inline std::size_t philox_lanes(std::uint64_t seed, const std::uint32_t* c0, const std::uint32_t* c1, std::uint32_t step,
                                std::uint32_t stream, std::uint32_t* r0, std::uint32_t* r1, std::uint32_t* r2,
                                std::uint32_t* r3, std::size_t i, std::size_t n) {
  for (; i + B::size <= n; i += B::size) {
    B x0 = B::load_unaligned(c0 + i), x1 = B::load_unaligned(c1 + i), x2(step), x3(stream);
    std::uint32_t k0 = std::uint32_t(seed), k1 = std::uint32_t(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      B hi0, lo0, hi1, lo1;
      mulhilo(PHILOX_M4x32_0, x0, hi0, lo0);
      mulhilo(PHILOX_M4x32_1, x2, hi1, lo1);
      x0 = hi1 ^ x1 ^ B(k0);
      x1 = lo1;
      x2 = hi0 ^ x3 ^ B(k1);
      x3 = lo0;
      k0 += PHILOX_W32_0;
      k1 += PHILOX_W32_1;
    }
    x0.store_unaligned(r0 + i);
    x1.store_unaligned(r1 + i);
    x2.store_unaligned(r2 + i);
    x3.store_unaligned(r3 + i);
  }
  return i;
}

#if defined(__x86_64__) && !defined(__AVX2__) && (defined(__GNUC__) || defined(__clang__))
#define FERRY_PHILOX_AVX2_DISPATCH 1
__attribute__((target("avx2"))) inline void mulhilo8(__m256i m, __m256i x, __m256i& hi, __m256i& lo) {
  const __m256i high = _mm256_set1_epi64x(std::int64_t(0xFFFFFFFF00000000ull));
  const __m256i even = _mm256_mul_epu32(x, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
  lo = _mm256_or_si256(_mm256_andnot_si256(high, even), _mm256_slli_epi64(odd, 32));
  hi = _mm256_or_si256(_mm256_srli_epi64(even, 32), _mm256_and_si256(odd, high));
}

// The same rounds on 8 blocks per AVX2 register, for baseline-x86-64 builds running on a CPU that
// has AVX2 (checked once at run time). Integer arithmetic only: the bits do not depend on the path.
__attribute__((target("avx2"))) inline std::size_t philox_avx2(std::uint64_t seed, const std::uint32_t* c0,
                                                              const std::uint32_t* c1, std::uint32_t step,
                                                              std::uint32_t stream, std::uint32_t* r0, std::uint32_t* r1,
                                                              std::uint32_t* r2, std::uint32_t* r3, std::size_t n) {
  const __m256i m0 = _mm256_set1_epi64x(PHILOX_M4x32_0), m1 = _mm256_set1_epi64x(PHILOX_M4x32_1);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c0 + i)),
            x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c1 + i)), x2 = _mm256_set1_epi32(std::int32_t(step)),
            x3 = _mm256_set1_epi32(std::int32_t(stream));
    std::uint32_t k0 = std::uint32_t(seed), k1 = std::uint32_t(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      __m256i hi0, lo0, hi1, lo1;
      mulhilo8(m0, x0, hi0, lo0);
      mulhilo8(m1, x2, hi1, lo1);
      x0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), _mm256_set1_epi32(std::int32_t(k0)));
      x1 = lo1;
      x2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), _mm256_set1_epi32(std::int32_t(k1)));
      x3 = lo0;
      k0 += PHILOX_W32_0;
      k1 += PHILOX_W32_1;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r0 + i), x0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r1 + i), x1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r2 + i), x2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r3 + i), x3);
  }
  return i;
}

inline bool cpu_has_avx2() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}
#endif

}  // namespace detail

/// Philox-4x32-10 of n counters at once, structure of arrays: block i has the counter
/// (c0[i], c1[i], step, stream) and gets (r0[i], r1[i], r2[i], r3[i]) — the same bits as
/// philox(seed, {c0[i], c1[i], step, stream}), computed several blocks per SIMD register
/// (xsimd's batch of uint32, or 8 per AVX2 register where the CPU has it), the tail one by one.
inline void philox_many(std::uint64_t seed, const std::uint32_t* c0, const std::uint32_t* c1, std::uint32_t step,
                        std::uint32_t stream, std::uint32_t* r0, std::uint32_t* r1, std::uint32_t* r2, std::uint32_t* r3,
                        std::size_t n) {
  std::size_t i = 0;
#ifdef FERRY_PHILOX_AVX2_DISPATCH
  if (detail::cpu_has_avx2()) i = detail::philox_avx2(seed, c0, c1, step, stream, r0, r1, r2, r3, n);
#endif
  i = detail::philox_lanes<xsimd::batch<std::uint32_t>>(seed, c0, c1, step, stream, r0, r1, r2, r3, i, n);
  for (; i < n; ++i) {
    const bits128 r = philox(seed, {c0[i], c1[i], step, stream});
    r0[i] = r[0], r1[i] = r[1], r2[i] = r[2], r3[i] = r[3];
  }
}

/// A double in the open interval (0, 1) from 64 random bits (53 used): (m + ½)·2⁻⁵³.
inline double uniform_open(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t m = (std::uint64_t(hi) << 21) | (lo >> 11);
  return (double(std::int64_t(m)) + 0.5) * 0x1p-53;  // m < 2⁵³: the signed conversion is exact and one instruction
}

}  // namespace ferry::random
