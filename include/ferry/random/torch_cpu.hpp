#pragma once
// torch's CPU generator, bit for bit: `torch.randn(n, generator=torch.Generator().manual_seed(S),
// dtype=float32|float64)` as ATen computes it (read from torch 1.13.1's headers, checked against its
// output; the same code stands on pytorch's main branch, see docs/randomness.md):
//
//   engine   at::mt19937 (MT19937RNGEngine.h) — std::mt19937 seeded with the seed's low 32 bits;
//            manual_seed also drops the cached normal (CPUGeneratorImpl::set_current_seed)
//   random64 (first word << 32) | second word
//   uniform  float: (w & (2²⁴ − 1))·2⁻²⁴, double: (w64 & (2⁵³ − 1))·2⁻⁵³, in [0, 1)
//            (TransformationHelper.h uniform_real)
//   n < 16   normal_distribution<double> per element (DistributionsHelper.h): u1, u2 uniform doubles,
//            r = √(−2 ln(1 − u2)), θ = 2π·u1, returns r·cos θ and caches r·sin θ in the generator for
//            the next scalar draw; float tensors get the double rounded
//   n ≥ 16   normal_fill (native/cpu/DistributionTemplates.h): n uniforms in the tensor's dtype, then
//            each block of 16 in place, pairs (j, j + 8):  u1 = 1 − d_j, u2 = d_{j+8},
//            d_j = √(−2 ln u1)·cos(2π u2), d_{j+8} = √(−2 ln u1)·sin(2π u2); when 16 ∤ n the last 16
//            elements are drawn again (16 more uniforms) and transformed again
//
// float32 blocks of 16 take one of two kernels. torch's x86-64 builds dispatch to an AVX2 kernel on
// CPUs with AVX2 (AVX-512 ones too: the normal kernel is not registered for AVX-512), whose log and
// sincos are avx_mathfun.h's Cephes polynomials, compiled by GCC with the multiply–adds fused
// (-ffp-contract=fast under -mfma); torch_cpu_kernel::avx2 replays them below in scalar float, with
// std::fma exactly where GCC fused and no fusion elsewhere. Without AVX2 (other CPUs,
// ATEN_CPU_CAPABILITY=default) torch calls libm's logf/cosf/sinf: torch_cpu_kernel::generic does
// the same. float64 always takes libm's log/cos/sin.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <optional>
#include <random>
#include <span>
#include <type_traits>

#include "ferry/compat/float32.hpp"

namespace ferry::random {

/// The kernel torch runs on float32 tensors of 16 elements or more.
enum class torch_cpu_kernel {
  avx2,     ///< x86-64 CPUs with AVX2 or AVX-512 (torch's AVX2 kernel, avx_mathfun.h)
  generic,  ///< other CPUs or ATEN_CPU_CAPABILITY=default (libm's logf, cosf, sinf)
};

namespace detail {

using ferry::detail::f32_mul;  // a product rounded on its own: never fused with a following add

// avx_mathfun.h's log256_ps, one lane: x = m·2^e with m ∈ [½, 1) (m < √½: m ← 2m, e ← e − 1);
// with f = m − 1, ln x = f − f²/2 + f³·P(f) + e·(q1 + q2), P of degree 8 (Cephes' logf), q1 + q2 = ln 2.
inline float torch_avx2_log(float x) {
  constexpr float p[9] = {7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,  -1.2420140846E-1f, 1.4249322787E-1f,
                          -1.6668057665E-1f, 2.0000714765E-1f,  -2.4999993993E-1f, 3.3333331174E-1f};
  constexpr float q1 = -2.12194440e-4f, q2 = 0.693359375f;
  x = std::max(x, std::bit_cast<float>(0x00800000u));  // the smallest normal float
  const auto bits = std::bit_cast<std::uint32_t>(x);
  float e = float(int(bits >> 23) - 127) + 1.0f;
  x = std::bit_cast<float>((bits & ~0x7f800000u) | std::bit_cast<std::uint32_t>(0.5f));
  const bool small = x < 0.707106781186547524f;
  const float doubled = small ? x : 0.0f;
  x = x - 1.0f;
  e = e - (small ? 1.0f : 0.0f);
  x = x + doubled;
  const float z = f32_mul(x, x);
  float y = p[0];
  for (int i = 1; i < 9; ++i) y = std::fma(y, x, p[i]);  // Horner, fused
  y = f32_mul(y, x);
  y = std::fma(y, z, f32_mul(e, q1));  // y·z + e·q1: GCC fuses the first product
  y = y - f32_mul(z, 0.5f);
  x = x + y;
  return std::fma(e, q2, x);
}

// avx_mathfun.h's sincos256_ps, one lane: j = the even integer nearest above ⌊|x|·4/π⌋, reduced
// x' = |x| − j·π/4 (π/4 in three parts, fused), cos x' = 1 − x'²/2 + x'⁴·C(x'²) and
// sin x' = x' + x'³·S(x'²) (Cephes' sinf/cosf), swapped and signed by j's octant.
inline void torch_avx2_sincos(float x, float& s, float& c) {
  std::uint32_t sign_sin = std::bit_cast<std::uint32_t>(x) & 0x80000000u;
  x = std::fabs(x);
  const int j = (int(f32_mul(x, 1.27323954473516f)) + 1) & ~1;  // 4/π, truncated, made even
  const float y = float(j);
  x = std::fma(y, -0.78515625f, x);
  x = std::fma(y, -2.4187564849853515625e-4f, x);
  x = std::fma(y, -3.77489497744594108e-8f, x);
  sign_sin ^= std::uint32_t(j & 4) << 29;
  const std::uint32_t sign_cos = std::uint32_t(~(j - 2) & 4) << 29;
  const bool first_poly = (j & 2) == 0;  // cos from C, sin from S
  const float z = f32_mul(x, x);
  float pc = std::fma(2.443315711809948E-005f, z, -1.388731625493765E-003f);
  pc = std::fma(pc, z, 4.166664568298827E-002f);
  pc = f32_mul(pc, z);
  pc = std::fma(pc, z, -f32_mul(z, 0.5f)) + 1.0f;
  float ps = std::fma(-1.9515295891E-4f, z, 8.3321608736E-3f);
  ps = std::fma(ps, z, -1.6666654611E-1f);
  ps = f32_mul(ps, z);
  ps = std::fma(ps, x, x);
  s = std::bit_cast<float>(std::bit_cast<std::uint32_t>(first_poly ? ps : pc) ^ sign_sin);
  c = std::bit_cast<float>(std::bit_cast<std::uint32_t>(first_poly ? pc : ps) ^ sign_cos);
}

}  // namespace detail

/// torch.Generator() on the CPU: randn<T>(out) is torch.randn(out.size(), generator=g, dtype=T).
class torch_cpu_generator {
 public:
  /// torch's default seed (c10::default_rng_seed_val), what a fresh torch.Generator() holds.
  static constexpr std::uint64_t default_seed = 67280421310721ull;

  explicit torch_cpu_generator(std::uint64_t seed = default_seed, torch_cpu_kernel kernel = torch_cpu_kernel::avx2)
      : kernel_(kernel) {
    manual_seed(seed);
  }

  /// g.manual_seed(seed): the engine from the seed's low 32 bits (seeds S and S + 2³² draw alike).
  void manual_seed(std::uint64_t seed) {
    seed_ = seed;
    engine_.seed(std::uint32_t(seed));
    next_normal_.reset();
  }
  std::uint64_t initial_seed() const { return seed_; }
  torch_cpu_kernel kernel() const { return kernel_; }

  std::uint32_t random() { return std::uint32_t(engine_()); }
  std::uint64_t random64() {
    const std::uint64_t hi = random();
    return (hi << 32) | random();
  }
  /// uniform_real_distribution<T>(0, 1): 24 (float) or 53 (double) random bits in [0, 1).
  template <class T>
  T uniform() {
    if constexpr (std::is_same_v<T, double>)
      return double(random64() & ((std::uint64_t(1) << 53) - 1)) * 0x1p-53;
    else
      return float(random() & ((1u << 24) - 1)) * 0x1p-24f;
  }
  /// normal_distribution<double>(0, 1): the cached sine of the last pair, else a new pair.
  double normal() {
    if (next_normal_) {
      const double z = *next_normal_;
      next_normal_.reset();
      return z;
    }
    const double u1 = uniform<double>(), u2 = uniform<double>();
    const double r = std::sqrt(-2.0 * std::log(1.0 - u2)), theta = 2.0 * std::numbers::pi * u1;
    next_normal_ = r * std::sin(theta);
    return r * std::cos(theta);
  }

  /// torch.randn(out.size(), generator=this, dtype=T) into out, for T = float or double.
  template <class T>
  void randn(std::span<T> out) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "torch's randn: float32 or float64");
    const std::size_t n = out.size();
    if (n < 16) {
      for (T& z : out) z = T(normal());
      return;
    }
    for (T& u : out) u = uniform<T>();
    for (std::size_t i = 0; i + 16 <= n; i += 16) fill_16(out.data() + i);
    if (n % 16 != 0) {  // the last 16, drawn and transformed again
      T* tail = out.data() + n - 16;
      for (std::size_t i = 0; i < 16; ++i) tail[i] = uniform<T>();
      fill_16(tail);
    }
  }

 private:
  // normal_fill_16: 16 uniforms → 16 normals in place, pairs (j, j + 8).
  template <class T>
  void fill_16(T* d) const {
    for (int j = 0; j < 8; ++j) {
      const T u1 = 1 - d[j], u2 = d[j + 8];
      if constexpr (std::is_same_v<T, float>) {
        if (kernel_ == torch_cpu_kernel::avx2) {  // θ = float(2π)·u2 in float
          const float r = std::sqrt(-2.0f * detail::torch_avx2_log(u1));
          float s, c;
          detail::torch_avx2_sincos(detail::f32_mul(float(2 * std::numbers::pi), u2), s, c);
          d[j] = r * c, d[j + 8] = r * s;
          continue;
        }
      }
      const T r = std::sqrt(-2 * std::log(u1));  // generic / float64: θ = 2π·u2 in double, rounded to T
      const T theta = T(2 * std::numbers::pi * double(u2));
      d[j] = r * std::cos(theta), d[j + 8] = r * std::sin(theta);
    }
  }

  std::mt19937 engine_;
  std::optional<double> next_normal_;  // CPUGeneratorImpl::next_double_normal_sample_
  std::uint64_t seed_ = 0;
  torch_cpu_kernel kernel_;
};

}  // namespace ferry::random
