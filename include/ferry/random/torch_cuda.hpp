#pragma once
// torch's CUDA randn as A1111's stable-diffusion-webui ("NV" random source, modules/rng_philox.py)
// and stable-diffusion.cpp (rng_philox.hpp) compute it on the CPU. Each call is one randn of n
// elements; element i comes from its own Philox-4x32-10 block, as curand's per-element subsequence:
//
//   key = (seed mod 2³², seed div 2³²),  counter = (offset, 0, i, 0)        (offset: calls so far)
//   (x, y) = the block's first two words;  u = x·2⁻³² + 2⁻³³,  v = y·c + c/2,  c = float(2⁻³²·2π)
//   z_i = float(√(−2 ln u)·sin v)
//
// Box–Muller in double from those float32 constants and rounded once to float, as A1111 runs it
// in NumPy (uint32 × float32 arrays promote to float64); stable-diffusion.cpp evaluates the same in
// float and differs in the last bits. The block is ferry's Philox (random/philox.hpp): the same
// rounds, key and counter words.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ferry/compat/float32.hpp"
#include "ferry/core/error.hpp"
#include "ferry/random/philox.hpp"

namespace ferry::random {

/// torch.Generator('cuda') as A1111 emulates it: randn(out) is the next torch.randn(out.size(), device='cuda').
class torch_cuda_generator {
 public:
  explicit torch_cuda_generator(std::uint64_t seed = 0) { manual_seed(seed); }

  void manual_seed(std::uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  std::uint64_t initial_seed() const { return seed_; }
  std::uint32_t offset() const { return offset_; }  ///< randn calls since the seed

  /// One randn of out.size() ≤ 2³² elements (float32 only: the emulation's dtype); offset += 1.
  void randn(std::span<float> out) {
    if (out.size() > (std::uint64_t(1) << 32))
      throw domain_error(ferry::detail::cat("torch-cuda randn: ", out.size(), " elements exceed the 2^32 a call addresses"));
    for (std::size_t i = 0; i < out.size(); ++i) {
      const bits128 r = philox(seed_, {.block = offset_, .row = 0, .step = std::uint32_t(i), .stream = 0});
      out[i] = box_muller_sin(r[0], r[1]);
    }
    ++offset_;
  }

  /// √(−2 ln u)·sin v of two words, in double, rounded to float (A1111's box_muller).
  static float box_muller_sin(std::uint32_t x, std::uint32_t y) {
    static_assert(float(2.3283064e-10) == 0x1p-32f, "A1111's 2^-32 is exact in float");
    constexpr double c = float(2.3283064e-10 * 6.2831855);  // 2⁻³²·2π as A1111 rounds it
    const double u = double(x) * 0x1p-32 + 0x1p-33;              // exact
    const double v = ferry::detail::mul_rn(double(y), c) + c / 2;  // two roundings, as NumPy
    return float(std::sqrt(-2.0 * std::log(u)) * std::sin(v));
  }

 private:
  std::uint64_t seed_ = 0;
  std::uint32_t offset_ = 0;
};

}  // namespace ferry::random
