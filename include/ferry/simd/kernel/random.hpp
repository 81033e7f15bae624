#pragma once
// The bodies of the keyed-noise kernels for one xsimd architecture (random/philox.hpp and
// random/normal.hpp hold the convention and the public calls): Philox-4x32-10 over SIMD lanes,
// the 53-bit uniforms and the Box–Muller transform. Templates on Arch only (see kernel/lincomb.hpp).
//
// Philox (Salmon et al. 2011; Random123's philox4x32, 10 rounds): per round
//   (hi0, lo0) = M0·x0, (hi1, lo1) = M1·x2 (64-bit products),
//   x ← (hi1 ⊕ x1 ⊕ k0, lo1, hi0 ⊕ x3 ⊕ k1, lo0),   k ← k + (W0, W1).
// Integer arithmetic: every width gives the same bits.
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <type_traits>
#include <xsimd/xsimd.hpp>
#if defined(__SSE2__) || defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace ferry::simd::kernel {

// Philox-4x32's multipliers and Weyl increments (Random123: PHILOX_M4x32_0/1, PHILOX_W32_0/1).
inline constexpr std::uint32_t philox_m0 = 0xD2511F53u, philox_m1 = 0xCD9E8D57u;
inline constexpr std::uint32_t philox_w0 = 0x9E3779B9u, philox_w1 = 0xBB67AE85u;

namespace detail {

// (hi, lo) = the 64-bit product m·a, lane by lane (Random123's mulhilo32). x86 multiplies the even
// 32-bit lanes to 64 bits (pmuludq), the odd lanes after a 64-bit shift, and re-interleaves.
template <class Arch>
inline void mulhilo(std::uint32_t m, const xsimd::batch<std::uint32_t, Arch>& a, xsimd::batch<std::uint32_t, Arch>& hi,
                    xsimd::batch<std::uint32_t, Arch>& lo) {
  using B = xsimd::batch<std::uint32_t, Arch>;
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    const __m512i x = a, mm = _mm512_set1_epi64(m), high = _mm512_set1_epi64(std::int64_t(0xFFFFFFFF00000000ull));
    const __m512i even = _mm512_mul_epu32(x, mm), odd = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), mm);
    lo = B(_mm512_or_si512(_mm512_andnot_si512(high, even), _mm512_slli_epi64(odd, 32)));
    hi = B(_mm512_or_si512(_mm512_srli_epi64(even, 32), _mm512_and_si512(odd, high)));
    return;
  }
#endif
#if XSIMD_WITH_AVX2
  if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
    const __m256i x = a, mm = _mm256_set1_epi64x(m), high = _mm256_set1_epi64x(std::int64_t(0xFFFFFFFF00000000ull));
    const __m256i even = _mm256_mul_epu32(x, mm), odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), mm);
    lo = B(_mm256_or_si256(_mm256_andnot_si256(high, even), _mm256_slli_epi64(odd, 32)));
    hi = B(_mm256_or_si256(_mm256_srli_epi64(even, 32), _mm256_and_si256(odd, high)));
    return;
  }
#endif
#if XSIMD_WITH_SSE2
  if constexpr (std::is_base_of_v<xsimd::sse2, Arch>) {
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

// Ten rounds on the blocks (x0, x1, step, stream) at offset i.
template <class Arch>
inline void philox_body(std::uint64_t seed, const std::uint32_t* c0, const std::uint32_t* c1, std::uint32_t step,
                        std::uint32_t stream, std::uint32_t* r0, std::uint32_t* r1, std::uint32_t* r2, std::uint32_t* r3,
                        std::size_t i) {
  using B = xsimd::batch<std::uint32_t, Arch>;
  B x0 = B::load_unaligned(c0 + i), x1 = B::load_unaligned(c1 + i), x2(step), x3(stream);
  std::uint32_t k0 = std::uint32_t(seed), k1 = std::uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    B hi0, lo0, hi1, lo1;
    mulhilo<Arch>(philox_m0, x0, hi0, lo0);
    mulhilo<Arch>(philox_m1, x2, hi1, lo1);
    x0 = hi1 ^ x1 ^ B(k0);
    x1 = lo1;
    x2 = hi0 ^ x3 ^ B(k1);
    x3 = lo0;
    k0 += philox_w0;
    k1 += philox_w1;
  }
  x0.store_unaligned(r0 + i);
  x1.store_unaligned(r1 + i);
  x2.store_unaligned(r2 + i);
  x3.store_unaligned(r3 + i);
}

// A double in (0, 1) from 64 random bits (53 used): (m + ½)·2⁻⁵³ (random::uniform_open). A template
// on Arch like every helper here, so that each ISA's translation unit has its own copy.
template <class Arch>
inline double uniform53(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t m = (std::uint64_t(hi) << 21) | (lo >> 11);
  return (double(std::int64_t(m)) + 0.5) * 0x1p-53;
}

template <class B>
constexpr B bits_as(std::uint64_t bits) {
  return B(__builtin_bit_cast(double, bits));
}

// Polynomial q(z) = c0 + z·(c1 + z·(… + z·cn)), evaluated as xsimd's horner does (each step z·h + c).
template <class B, std::size_t N>
inline B horner(const B& z, const std::uint64_t (&c)[N]) {
  B h = bits_as<B>(c[N - 1]);
  for (std::size_t i = N - 1; i-- > 0;) h = z * h + bits_as<B>(c[i]);
  return h;
}

}  // namespace detail

/// Philox-4x32-10 of n structure-of-arrays counters (c0[i], c1[i], step, stream) into
/// (r0[i], r1[i], r2[i], r3[i]); a partial last register runs on a zero-padded copy.
template <class Arch>
void philox(std::uint64_t seed, const std::uint32_t* c0, const std::uint32_t* c1, std::uint32_t step, std::uint32_t stream,
            std::uint32_t* r0, std::uint32_t* r1, std::uint32_t* r2, std::uint32_t* r3, std::size_t n) {
  constexpr std::size_t L = xsimd::batch<std::uint32_t, Arch>::size;
  std::size_t i = 0;
  for (; i + L <= n; i += L) detail::philox_body<Arch>(seed, c0, c1, step, stream, r0, r1, r2, r3, i);
  if (i == n) return;
  alignas(64) std::uint32_t a[L] = {}, b[L] = {}, o0[L], o1[L], o2[L], o3[L];
  for (std::size_t j = i; j < n; ++j) a[j - i] = c0[j], b[j - i] = c1[j];
  detail::philox_body<Arch>(seed, a, b, step, stream, o0, o1, o2, o3, 0);
  for (std::size_t j = i; j < n; ++j) r0[j] = o0[j - i], r1[j] = o1[j - i], r2[j] = o2[j - i], r3[j] = o3[j - i];
}

/// (sin x, cos x) for |x| ≤ 20π, lane by lane: xsimd's sincos (Cephes' polynomials, the Cody–Waite
/// reduction by π/2 in three parts) with its reduction taken in every lane. xsimd picks the
/// reduction for a whole register (none when every lane is ≤ π/4, one quadrant when ≤ π/2), so its
/// result could depend on the neighbouring lanes, and so on the register width; here a lane's
/// result depends on the lane alone, and equals xsimd's in every lane (tests/test_isa.cpp checks
/// this against xsimd on 2-lane registers, including every angle 2π·u near π/4 and π/2).
template <class B>
inline void sincos_small(const B& self, B& sin_out, B& cos_out) {
  namespace c = xsimd::constants;
  const B x = xsimd::abs(self);
  const B xi = xsimd::nearbyint(x * c::twoopi<B>());
  B xr = (-xi) * c::pio2_1<B>() + x;
  xr -= xi * c::pio2_2<B>();
  xr -= xi * c::pio2_3<B>();
  const B a = xi * B(0.25);
  const B n = (a - xsimd::floor(a)) * B(4.);  // the quadrant
  const B tmp = xsimd::select(n >= B(2.), B(1.), B(0.));
  const B swap_bit = B(-2.) * tmp + n;
  const B z = xr * xr;
  // Cephes' sin and cos on [−π/4, π/4] (xsimd's sin_eval / cos_eval).
  constexpr std::uint64_t sc[] = {0xbfc5555555555548ull, 0x3f8111111110f7d0ull, 0xbf2a01a019bfdf03ull,
                                  0x3ec71de3567d4896ull, 0xbe5ae5e5a9291691ull, 0x3de5d8fd1fcf0ec1ull};
  constexpr std::uint64_t cc[] = {0x3fe0000000000000ull, 0xbfa5555555555551ull, 0x3f56c16c16c15d47ull,
                                  0xbefa01a019ddbcd9ull, 0x3e927e4f8e06d9a5ull, 0xbe21eea7c1e514d4ull,
                                  0x3da8ff831ad9b219ull};
  const B se = (detail::horner(z, sc) * z) * xr + xr;
  const B ce = B(1.) - detail::horner(z, cc) * z;
  // xsimd's sincos tests `a != 0`, which is unordered (true for NaN) on SSE2 but ordered on AVX in
  // xsimd 8.1; !(a == 0) is SSE2's answer on every arch.
  const B sign = c::signmask<B>(), zero(0.);
  const B sin_sign = xsimd::bitofsign(self) ^ xsimd::select(tmp == zero, zero, sign);
  const B cos_sign = xsimd::select((swap_bit ^ tmp) == zero, zero, sign);
  sin_out = xsimd::select(swap_bit == zero, se, ce) ^ sin_sign;
  cos_out = xsimd::select(swap_bit == zero, ce, se) ^ cos_sign;
}

/// Box–Muller for n pairs (any n): z0 = √(−2 ln u1)·cos(2π u2), z1 = √(−2 ln u1)·sin(2π u2), for
/// u1, u2 ∈ [0, 1] (the keyed stream's are in (0, 1)); elsewhere the result is NaN, whose sign and
/// payload may differ between ISA paths.
template <class Arch>
void box_muller(const double* u1, const double* u2, double* z0, double* z1, std::size_t n) {
  using B = xsimd::batch<double, Arch>;
  const B two_pi(2 * std::numbers::pi), minus_two(-2.0);
  auto body = [&](const double* a, const double* b, double* o0, double* o1, std::size_t i) {
    const B r = xsimd::sqrt(minus_two * xsimd::log(B::load_unaligned(a + i)));
    B s, c;
    sincos_small(two_pi * B::load_unaligned(b + i), s, c);
    (r * c).store_unaligned(o0 + i);
    (r * s).store_unaligned(o1 + i);
  };
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) body(u1, u2, z0, z1, i);
  if (i == n) return;
  alignas(64) double a[B::size], b[B::size], o0[B::size], o1[B::size];
  for (std::size_t j = 0; j < B::size; ++j) a[j] = b[j] = 0.5;
  for (std::size_t j = i; j < n; ++j) a[j - i] = u1[j], b[j - i] = u2[j];
  body(a, b, o0, o1, 0);
  for (std::size_t j = i; j < n; ++j) z0[j] = o0[j - i], z1[j] = o1[j - i];
}

/// Standard normals into out (rows × cols, row-major), row i being global row first_row + i:
/// element (i, 2b + e) is z_e of Philox block (b, first_row + i, step, stream), the blocks taken
/// 64 at a time through philox, the uniforms and box_muller.
template <class T, class Arch>
void fill_normal(std::uint64_t seed, T* out, std::size_t rows, std::size_t cols, std::uint64_t first_row, std::uint32_t step,
                 std::uint32_t stream) {
  constexpr std::size_t chunk = 64;
  alignas(64) std::uint32_t c0[chunk], c1[chunk], r0[chunk], r1[chunk], r2[chunk], r3[chunk];
  alignas(64) double u1[chunk], u2[chunk], z0[chunk], z1[chunk];
  T* dst[chunk];
  bool pair[chunk];
  std::size_t n = 0;
  auto flush = [&] {
    philox<Arch>(seed, c0, c1, step, stream, r0, r1, r2, r3, n);
    for (std::size_t j = 0; j < n; ++j) {
      u1[j] = detail::uniform53<Arch>(r0[j], r1[j]);
      u2[j] = detail::uniform53<Arch>(r2[j], r3[j]);
    }
    box_muller<Arch>(u1, u2, z0, z1, n);
    for (std::size_t j = 0; j < n; ++j) {
      dst[j][0] = T(z0[j]);
      if (pair[j]) dst[j][1] = T(z1[j]);
    }
    n = 0;
  };
  const std::size_t blocks = (cols + 1) / 2;
  for (std::size_t i = 0; i < rows; ++i) {
    const auto row = std::uint32_t(first_row + i);
    T* r = out + i * cols;
    for (std::size_t b = 0; b < blocks; ++b) {
      c0[n] = std::uint32_t(b);
      c1[n] = row;
      dst[n] = r + 2 * b;
      pair[n] = 2 * b + 1 < cols;
      if (++n == chunk) flush();
    }
  }
  if (n) flush();
}

/// out[j] = the uniform at index first + j of (row, step, stream): block (first + j)/2, its bits
/// 0–63 for an even index and 64–127 for an odd one (random::uniform_at).
template <class Arch>
void fill_uniform(std::uint64_t seed, double* out, std::size_t n, std::uint32_t row, std::uint32_t step, std::uint32_t stream,
                  std::uint64_t first) {
  if (n == 0) return;
  constexpr std::size_t chunk = 64;
  alignas(64) std::uint32_t c0[chunk], c1[chunk], r0[chunk], r1[chunk], r2[chunk], r3[chunk];
  for (std::size_t b = 0; b < chunk; ++b) c1[b] = row;
  const std::uint64_t end = first + n, last_block = (end - 1) / 2;
  for (std::uint64_t b0 = first / 2; b0 <= last_block; b0 += chunk) {
    const std::size_t blocks = last_block - b0 + 1 < chunk ? std::size_t(last_block - b0 + 1) : chunk;
    for (std::size_t b = 0; b < blocks; ++b) c0[b] = std::uint32_t(b0 + b);
    philox<Arch>(seed, c0, c1, step, stream, r0, r1, r2, r3, blocks);
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::uint64_t even = 2 * (b0 + b);
      if (even >= first) out[even - first] = detail::uniform53<Arch>(r0[b], r1[b]);
      if (even + 1 < end) out[even + 1 - first] = detail::uniform53<Arch>(r2[b], r3[b]);
    }
  }
}

}  // namespace ferry::simd::kernel
