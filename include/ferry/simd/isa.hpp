#pragma once
// The instruction sets ferry's kernels are compiled for when a program dispatches at run time
// (simd/kernels.hpp): one path per ISA, chosen once per process from the CPU, or forced with the
// environment variable FERRY_ISA=sse2|avx2|avx512.
//
//   sse2     baseline x86-64: 2 doubles / 4 floats per register
//   avx2     AVX2: 4 doubles / 8 floats (AVX2 instructions, no FMA)
//   avx512   AVX-512 F, DQ, VL and BW: 8 doubles / 16 floats (no fused multiply–add either)
//
// Every path computes the same operations in the same order in each lane, with no fused
// multiply–add, so every path gives the bits of the sse2 path (tests/test_isa.cpp compares them).
// The one exception is the payload and sign of a NaN made from non-finite input (a state that is
// no longer finite, which the driver refuses anyway): xsimd's comparisons and rounding differ on
// NaN from one arch to the next.
#include <optional>
#include <string_view>

namespace ferry::simd {

enum class isa { sse2, avx2, avx512 };

inline constexpr isa all_isas[] = {isa::sse2, isa::avx2, isa::avx512};

constexpr std::string_view isa_name(isa i) {
  switch (i) {
    case isa::sse2: return "sse2";
    case isa::avx2: return "avx2";
    case isa::avx512: return "avx512";
  }
  return "?";
}

/// The ISA named s ("sse2", "avx2", "avx512"), or nothing.
constexpr std::optional<isa> parse_isa(std::string_view s) {
  for (isa i : all_isas)
    if (s == isa_name(i)) return i;
  return std::nullopt;
}

}  // namespace ferry::simd
