#pragma once
// The two numerical pieces of the words model, written so that a number's bits depend only on the
// inputs it is computed from — not on the CPU's vector width, nor on which rows share a call:
//
//   act(x)  = x·min(max(x + 3, 0), 6)/6     hard-swish (Howard et al. 2019, MobileNetV3): a
//                                           piecewise-quadratic SiLU, no exp(), exact IEEE operations
//   Y = W·X (matmul)                        every Y[m, n] = Σ_k W[m, k]·X[k, n], the terms added in
//                                           k order, each a rounded product then a rounded sum
//
// matmul runs on GCC vector extensions (8 floats a vector, lowered to whatever the target has);
// under GCC it is cloned for AVX-512 and AVX2 and picked at load time (target_clones), with FP
// contraction off so that no clone fuses a multiply–add: the clones give the same bits as the
// baseline x86-64 code, 4× faster (28 vs 7 GMAC/s on the build machine's AMD EPYC).
#include <Eigen/Core>

#include <cstddef>
#include <cstring>

namespace words::detail {

/// act(x) = x·clamp(x + 3, 0, 6)/6 elementwise (an Eigen array expression: vectorised, exact operations).
template <class A>
auto hard_swish(const Eigen::ArrayBase<A>& x) {
  return x * (x + 3.0f).cwiseMax(0.0f).cwiseMin(6.0f) / 6.0f;
}
/// d act / dx: 0 below −3, (2x + 3)/6 between, 1 above 3.
template <class A>
auto hard_swish_grad(const Eigen::ArrayBase<A>& x) {
  return (x <= -3.0f).select(0.0f, (x >= 3.0f).select(1.0f, (2.0f * x + 3.0f) / 6.0f));
}

typedef float v8f __attribute__((vector_size(32)));

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FERRY_WORDS_KERNEL __attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=off")))
#else  // clang: one baseline body (clang 14 emits a target_clones resolver per TU, which then clash at link time)
#define FERRY_WORDS_KERNEL
#endif

/// Y (m × n, column-major) = W (m × k, column-major) · X (k × n, column-major, column c at x + c·ldx,
/// ldx = k by default); m a multiple of 8.
FERRY_WORDS_KERNEL inline void matmul(const float* w, const float* x, float* y, std::size_t m, std::size_t k, std::size_t n,
                                      std::size_t ldx = 0) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  if (ldx == 0) ldx = k;
  std::size_t c = 0;
  for (; c + 4 <= n; c += 4)  // four columns share each load of W
    for (std::size_t r = 0; r < m; r += 8) {
      v8f a0 = {}, a1 = {}, a2 = {}, a3 = {};
      const float *x0 = x + c * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
      for (std::size_t j = 0; j < k; ++j) {
        v8f wv;
        std::memcpy(&wv, w + j * m + r, sizeof wv);
        a0 += wv * x0[j], a1 += wv * x1[j], a2 += wv * x2[j], a3 += wv * x3[j];
      }
      std::memcpy(y + c * m + r, &a0, sizeof a0), std::memcpy(y + (c + 1) * m + r, &a1, sizeof a1);
      std::memcpy(y + (c + 2) * m + r, &a2, sizeof a2), std::memcpy(y + (c + 3) * m + r, &a3, sizeof a3);
    }
  for (; c < n; ++c)  // the same sums, one column at a time
    for (std::size_t r = 0; r < m; r += 8) {
      v8f a = {};
      for (std::size_t j = 0; j < k; ++j) {
        v8f wv;
        std::memcpy(&wv, w + j * m + r, sizeof wv);
        a += wv * x[c * ldx + j];
      }
      std::memcpy(y + c * m + r, &a, sizeof a);
    }
}

#undef FERRY_WORDS_KERNEL

}  // namespace words::detail
