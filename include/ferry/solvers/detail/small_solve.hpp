#pragma once
// Solves a tiny dense system A·w = b (n ≤ N) in place by Gaussian elimination with partial pivoting;
// used for UniPC's order conditions, so it must not allocate.
#include <array>
#include <cmath>
#include <cstddef>
#include <utility>

namespace ferry::detail {

template <class T, std::size_t N>
std::array<T, N> solve_small(std::array<std::array<T, N>, N> a, std::array<T, N> b, std::size_t n) {
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t piv = col;
    for (std::size_t r = col + 1; r < n; ++r)
      if (std::abs(a[r][col]) > std::abs(a[piv][col])) piv = r;
    std::swap(a[col], a[piv]);
    std::swap(b[col], b[piv]);
    for (std::size_t r = col + 1; r < n; ++r) {
      const T f = a[r][col] / a[col][col];
      for (std::size_t c = col; c < n; ++c) a[r][c] -= f * a[col][c];
      b[r] -= f * b[col];
    }
  }
  std::array<T, N> w{};
  for (std::size_t r = n; r-- > 0;) {
    T s = b[r];
    for (std::size_t c = r + 1; c < n; ++c) s -= a[r][c] * w[c];
    w[r] = s / a[r][r];
  }
  return w;
}

}  // namespace ferry::detail
