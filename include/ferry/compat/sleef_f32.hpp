#pragma once
// The float32 transcendental functions torch's CPU kernels call, reproduced to the bit: torch
// evaluates exp, log, sin, cos and atan of float32 tensors (and atan2 on whole blocks of 16) with SLEEF's
// vectorised "u10" kernels (Shibata & Petrogalli, "SLEEF: A Portable Vectorized Library of C Standard
// Mathematical Functions", IEEE TPDS 2020), which are not correctly rounded. diffusers' EDM, cosine
// DPM, IPNDM, KDPM2 and Würstchen grids carry their results. Each function below is the AVX2 (FMA) kernel's
// algorithm for one lane: Cody–Waite range reduction, a minimax polynomial, and where SLEEF asks for
// 1-ulp accuracy ("u1" kernels) double-float arithmetic (a value as an unevaluated sum hi + lo of two
// floats, products made exact with FMA). A leaf: only the standard library.
//   expf    q = rint(x/ln2), s = x − q·ln2 (two parts), e^s by a degree-6 polynomial, ·2^q
//   logf    x = m·2^e with m ∈ [0.75, 1.5), log m = 2·atanh((m − 1)/(m + 1)) in double-float
//   sinf    q = rint(x/π), s = x − q·π (three parts) in double-float, sin s by an odd polynomial, (−1)^q
//   cosf    the same around the odd multiples of π/2
//   atanf   atan2 of (|x|, 1)
//   atan2f  reduce to |y/x| ≤ 1 (q quadrants of π/2), atan by a degree-19 odd polynomial in double-float
// Arguments in the ranges diffusers uses (finite; sin below 125 in magnitude). SLEEF is compiled with
// FP contraction off: a product that feeds an addition goes through f32_mul, which no compiler fuses.
#include <bit>
#include <cmath>
#include <cstdint>

#include "ferry/compat/float32.hpp"

namespace ferry::detail::sleef {

using ferry::detail::f32_mul;

/// A double-float: the unevaluated sum hi + lo.
struct df {
  float hi, lo;
};

// Error-free or nearly error-free double-float steps (SLEEF's df.h, FMA variants).
inline df add(float x, float y) {  // |x| ≥ |y|
  const float s = x + y;
  return {s, (x - s) + y};
}
inline df add2(float x, float y) {  // any order
  const float s = x + y, v = s - x;
  return {s, (x - (s - v)) + (y - v)};
}
inline df add(df x, float y) {  // |x| ≥ |y|
  const float s = x.hi + y;
  return {s, ((x.hi - s) + y) + x.lo};
}
inline df add(float x, df y) {  // |x| ≥ |y|
  const float s = x + y.hi;
  return {s, ((x - s) + y.hi) + y.lo};
}
inline df add(df x, df y) {  // |x| ≥ |y|
  const float s = x.hi + y.hi;
  return {s, (((x.hi - s) + y.hi) + x.lo) + y.lo};
}
inline df add2(df x, float y) {
  const float s = x.hi + y, v = s - x.hi;
  return {s, ((x.hi - (s - v)) + (y - v)) + x.lo};
}
inline df normalize(df t) {
  const float s = t.hi + t.lo;
  return {s, (t.hi - s) + t.lo};
}
inline df scale(df d, float s) { return {f32_mul(d.hi, s), f32_mul(d.lo, s)}; }
inline df neg(df x) { return {-x.hi, -x.lo}; }
inline df mul(float x, float y) {
  const float p = f32_mul(x, y);
  return {p, std::fma(x, y, -p)};
}
inline df mul(df x, float y) {
  const float p = f32_mul(x.hi, y);
  return {p, std::fma(x.lo, y, std::fma(x.hi, y, -p))};
}
inline df mul(df x, df y) {
  const float p = f32_mul(x.hi, y.hi);
  return {p, std::fma(x.hi, y.lo, std::fma(x.lo, y.hi, std::fma(x.hi, y.hi, -p)))};
}
inline float mul_to_float(df x, df y) { return std::fma(x.hi, y.hi, std::fma(x.lo, y.hi, f32_mul(x.hi, y.lo))); }
inline df square(df x) {
  const float p = f32_mul(x.hi, x.hi);
  return {p, std::fma(x.hi + x.hi, x.lo, std::fma(x.hi, x.hi, -p))};
}
inline df div(df n, df d) {
  const float t = 1.0f / d.hi, q = f32_mul(n.hi, t);
  const float u = std::fma(t, n.hi, -q);
  const float r = std::fma(-d.lo, t, std::fma(-d.hi, t, 1.0f));
  return {q, std::fma(q, r, std::fma(n.lo, t, u))};
}

/// 2^e as a float (e within the normal exponent range).
inline float pow2i(int e) { return std::bit_cast<float>(static_cast<std::uint32_t>(e + 0x7f) << 23); }

/// SLEEF's expf (1.0 ulp).
inline float expf(float d) {
  constexpr float r_ln2 = 1.442695040888963407359924681001892137426645954152985934135449406931f;
  constexpr float l2u = 0.693145751953125f, l2l = 1.428606765330187045e-06f;
  const float qf = std::nearbyint(d * r_ln2);
  const int q = static_cast<int>(qf);
  float s = std::fma(qf, -l2u, d);
  s = std::fma(qf, -l2l, s);
  float u = 0.000198527617612853646278381f;
  u = std::fma(u, s, 0.00139304355252534151077271f);
  u = std::fma(u, s, 0.00833336077630519866943359f);
  u = std::fma(u, s, 0.0416664853692054748535156f);
  u = std::fma(u, s, 0.166666671633720397949219f);
  u = std::fma(u, s, 0.5f);
  u = 1.0f + std::fma(s * s, u, s);
  u = u * pow2i(q >> 1) * pow2i(q - (q >> 1));  // ldexp in two halves, as SLEEF's vldexp2
  if (d < -104) return 0;
  if (d > 100) return INFINITY;
  return u;
}

/// SLEEF's logf_u1 (1.0 ulp), positive normal arguments.
inline float logf(float d) {
  if (!(d > 0) || !std::isfinite(d) || d < 1.17549435e-38f) return std::log(d);
  const int e = static_cast<int>((std::bit_cast<std::uint32_t>(d * (1.0f / 0.75f)) >> 23) & 0xff) - 0x7f;
  const float m = std::bit_cast<float>(std::bit_cast<std::uint32_t>(d) - (static_cast<std::uint32_t>(e) << 23));  // d·2^−e
  df s = mul(df{0.69314718246459960938f, -1.904654323148236017e-09f}, static_cast<float>(e));
  const df x = div(add2(-1.0f, m), add2(1.0f, m));
  const float x2 = x.hi * x.hi;
  float t = 0.3027294874f;
  t = std::fma(t, x2, 0.3996108174f);
  t = std::fma(t, x2, 0.6666694880f);
  s = add(s, scale(x, 2));
  s = add(s, f32_mul(f32_mul(x2, x.hi), t));
  return s.hi + s.lo;
}

/// sin(s) for a reduced double-float argument |s| ≤ π/2: sinf_u1's and cosf_u1's shared polynomial,
/// s·(1 − s²/6 + s⁴·u(s²)), with the leading terms in double-float.
inline float sin_kernel(df s) {
  const df s2 = square(s);
  float u = 2.6083159809786593541503e-06f;
  u = std::fma(u, s2.hi, -0.0001981069071916863322258f);
  u = std::fma(u, s2.hi, 0.00833307858556509017944336f);
  const df x = add(1.0f, mul(add(-0.166666597127914428710938f, f32_mul(u, s2.hi)), s2));
  return mul_to_float(s, x);
}

/// SLEEF's sinf_u1 (1.0 ulp) for |d| < 125 (the kernel's first range).
inline float sinf(float d) {
  constexpr float pi_a2 = 3.1414794921875f, pi_b2 = 0.00011315941810607910156f, pi_c2 = 1.9841872589410058936e-09f;
  const float u0 = std::nearbyint(d * static_cast<float>(0.318309886183790671537767526745028724));
  const int q = static_cast<int>(u0);
  const float v = std::fma(u0, -pi_a2, d);
  df s = add2(v, f32_mul(u0, -pi_b2));
  s = add(s, f32_mul(u0, -pi_c2));
  float r = sin_kernel(s);
  if (q & 1) r = -r;
  if (d == 0 && std::signbit(d)) return -0.0f;
  return r;
}

/// SLEEF's cosf_u1 (1.0 ulp) for |d| < 125: the same kernel as sinf around the odd multiples of π/2.
inline float cosf(float d) {
  constexpr float pi_a2 = 3.1414794921875f, pi_b2 = 0.00011315941810607910156f, pi_c2 = 1.9841872589410058936e-09f;
  const float dq = std::fma(std::nearbyint(std::fma(d, static_cast<float>(0.318309886183790671537767526745028724), -0.5f)), 2.0f, 1.0f);
  const int q = static_cast<int>(dq);
  df s = add2(d, f32_mul(dq, -pi_a2 * 0.5f));
  s = add2(s, f32_mul(dq, -pi_b2 * 0.5f));
  s = add2(s, f32_mul(dq, -pi_c2 * 0.5f));
  const float r = sin_kernel(s);
  return (q & 2) == 0 ? -r : r;
}

/// atan2 of double-floats (SLEEF's atan2kf_u1), the angle in double-float.
inline df atan2k(df y, df x) {
  int q = x.hi < 0 ? -2 : 0;
  if (x.hi < 0) x = neg(x);
  if (x.hi < y.hi) ++q;
  const bool swap = x.hi < y.hi;
  df s = swap ? neg(x) : y, t = swap ? y : x;
  s = div(s, t);
  t = normalize(square(s));
  float u = -0.00176397908944636583328247f;
  u = std::fma(u, t.hi, 0.0107900900766253471374512f);
  u = std::fma(u, t.hi, -0.0309564601629972457885742f);
  u = std::fma(u, t.hi, 0.0577365085482597351074219f);
  u = std::fma(u, t.hi, -0.0838950723409652709960938f);
  u = std::fma(u, t.hi, 0.109463557600975036621094f);
  u = std::fma(u, t.hi, -0.142626821994781494140625f);
  u = std::fma(u, t.hi, 0.199983194470405578613281f);
  t = mul(t, add(-0.333332866430282592773438f, f32_mul(u, t.hi)));
  t = mul(s, add(1.0f, t));
  return add(mul(df{1.5707963705062866211f, -4.3711388286737928865e-08f}, static_cast<float>(q)), t);
}

/// SLEEF's atanf_u1 (1.0 ulp), finite arguments.
inline float atanf(float d) {
  const df r = atan2k({std::abs(d), 0}, {1, 0});
  return std::copysign(r.hi + r.lo, d);
}

/// SLEEF's atan2f_u1 (1.0 ulp), finite arguments with x ≠ 0 or y ≠ 0.
inline float atan2f(float y, float x) {
  if (std::abs(x) < 2.9387372783541830947e-39f) x *= float(1 << 24), y *= float(1 << 24);
  const df d = atan2k({std::abs(y), 0}, {x, 0});
  float r = d.hi + d.lo;
  r = std::signbit(x) ? -r : r;
  if (x == 0) r = static_cast<float>(3.141592653589793 / 2);
  if (y == 0) r = std::signbit(x) ? static_cast<float>(3.141592653589793) : 0.0f;
  return std::signbit(y) ? -r : r;
}

}  // namespace ferry::detail::sleef
