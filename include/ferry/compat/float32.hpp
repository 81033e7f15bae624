#pragma once
// The float32 (and rounding-exact float64) arithmetic of torch and NumPy that peers' results carry,
// written once: ferry reproduces diffusers' tables, grids and DEIS coefficients, ComfyUI's float32
// schedules and torch's generators to the bit with these. Users: compat/, the β tables
// (process/discrete_vp.hpp), ComfyUI's grids (grid/comfy.hpp) and torch's generators
// (random/torch_cpu.hpp, random/torch_cuda.hpp). A leaf: it includes only the standard library.
//
// Why it works: for +, −, ×, ÷ and √ of floats, rounding the exact double result to float is the
// correctly rounded float result (53 ≥ 2·24 + 2, Figueroa 1995). Products go through a volatile so
// that no compiler contracts them with a following add into one FMA (GCC narrows the double
// expression back to float and fuses it under -mfma), which torch's and NumPy's loops do not do.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace ferry::detail {

// IEEE float32 +, −, ×, ÷, √ through double (see the top of this file).
inline float f32_add(float a, float b) { return static_cast<float>(double(a) + double(b)); }
inline float f32_sub(float a, float b) { return static_cast<float>(double(a) - double(b)); }
inline float f32_mul(float a, float b) {
  volatile float p = static_cast<float>(double(a) * double(b));
  return p;
}
inline float f32_div(float a, float b) { return static_cast<float>(double(a) / double(b)); }
inline float f32_sqrt(float a) { return static_cast<float>(std::sqrt(double(a))); }

/// torch.linspace(start, end, n, dtype=float32) on CPU with AVX2 kernels (ATen RangeFactoriesKernel):
/// start, end rounded to float; step = (end − start)/(n − 1) in float; the first half counts up from
/// start, the second half down from end. The vectorised loop handles two 8-lane vectors per pass, each
/// lane base + j·step (rounded twice) with base = fma(step, idx, start), or fma(−step, n − 1 − idx, end)
/// from halfway on; the tail past the last 16-block is the scalar fused formula. The reference tables
/// equal this variant bit for bit (torch's 16-lane AVX-512 kernels and the unfused scalar formula
/// differ from them in the last float bit of many entries).
inline std::vector<float> torch_linspace_f32(double start_d, double end_d, std::size_t n) {
  std::vector<float> out(n);
  if (n == 0) return out;
  const float start = static_cast<float>(start_d), end = static_cast<float>(end_d);
  if (n == 1) { out[0] = start; return out; }
  const auto steps = static_cast<long long>(n);
  const float step = f32_div(f32_sub(end, start), static_cast<float>(steps - 1));
  const long long halfway = steps / 2;
  // The compiled kernel fuses start + step·idx and end − step·(n − 1 − idx) into one FMA each.
  auto scalar_at = [&](long long idx) {
    return idx < halfway ? std::fma(step, static_cast<float>(idx), start)
                         : std::fma(-step, static_cast<float>(steps - idx - 1), end);
  };
  constexpr long long lanes = 8;
  const long long vec_end = steps - steps % (2 * lanes);
  for (long long k = 0; k < vec_end; k += lanes) {
    const float base = scalar_at(k);
    for (long long j = 0; j < lanes; ++j)
      out[static_cast<std::size_t>(k + j)] = f32_add(base, f32_mul(static_cast<float>(j), step));
  }
  for (long long k = vec_end; k < steps; ++k) out[static_cast<std::size_t>(k)] = scalar_at(k);
  return out;
}

/// torch.cumprod of a float32 tensor on CPU: the running product is kept in double
/// (at::acc_type<float, /*is_cuda=*/false> is double) and each output is rounded to float.
inline std::vector<float> torch_cumprod_f32(std::span<const float> x) {
  std::vector<float> out(x.size());
  double acc = 1;
  for (std::size_t i = 0; i < x.size(); ++i) {
    acc *= double(x[i]);
    out[i] = static_cast<float>(acc);
  }
  return out;
}

// A double product kept rounded on its own: numpy's loops never fuse it with the following add.
inline double mul_rn(double a, double b) {
  volatile double p = a * b;
  return p;
}

/// np.log on a float32 array: numpy's AVX2/AVX-512F kernel (loops_exponent_log.dispatch.c.src,
/// simd_log_FLOAT), whose results differ from the correctly rounded log by up to 3.8 ulp. Mantissa m in
/// [½, 1) and exponent e with x = m·2^e; m ≤ √½ is doubled; log x = e·ln2 + P(m − 1)/Q(m − 1), all
/// in float with FMA, a rational minimax fit of degree 5/5. Positive normal inputs only (σ tables).
inline float numpy_logf(float x) {
  if (!(x > 0) || !std::isfinite(x) || x < std::numeric_limits<float>::min()) return std::log(x);
  const auto bits = std::bit_cast<std::uint32_t>(x);
  float e = static_cast<float>(static_cast<int>(bits >> 23) - 126);
  float m = std::bit_cast<float>((bits & 0x7fffffu) | (126u << 23));
  if (m <= 0.707106781186547524400844362104849039f) {
    m = m + m;
    e = e - 1.0f;
  }
  const float y = m - 1.0f;
  constexpr float p0 = 0.0f, p1 = 9.999999999999998702752e-01f, p2 = 2.112677543073053063722e+00f,
                  p3 = 1.480000633576506585156e+00f, p4 = 3.808837741388407920751e-01f, p5 = 2.589979117907922693523e-02f;
  constexpr float q0 = 1.0f, q1 = 2.612677543073109236779e+00f, q2 = 2.453006071784736363091e+00f,
                  q3 = 9.864942958519418960339e-01f, q4 = 1.546476374983906719538e-01f, q5 = 5.875095403124574342950e-03f;
  float num = std::fma(p5, y, p4);
  num = std::fma(num, y, p3);
  num = std::fma(num, y, p2);
  num = std::fma(num, y, p1);
  num = std::fma(num, y, p0);
  float den = std::fma(q5, y, q4);
  den = std::fma(den, y, q3);
  den = std::fma(den, y, q2);
  den = std::fma(den, y, q1);
  den = std::fma(den, y, q0);
  return std::fma(e, 0.693147180559945309417232121458176568f, num / den);
}

/// The correctly rounded float32 log.
inline float log_f32_rn(float x) { return static_cast<float>(std::log(double(x))); }

}  // namespace ferry::detail

namespace ferry::compat::detail {
// compat's diffusers code reads in float32 with these names unqualified.
using ferry::detail::f32_add;
using ferry::detail::f32_div;
using ferry::detail::f32_mul;
using ferry::detail::f32_sqrt;
using ferry::detail::f32_sub;
using ferry::detail::numpy_logf;
}  // namespace ferry::compat::detail
