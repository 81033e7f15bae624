#pragma once
// The φ functions of exponential integrators (Hochbruck & Ostermann 2010, Eq. 2.10):
//   φ_0(z) = e^z,   φ_{k+1}(z) = (φ_k(z) − 1/k!)/z,   i.e.  φ_k(z) = Σ_{j≥0} z^j/(j+k)!
// The recursion cancels for small |z| (error ≈ ε/|z|^k), so there we sum the series instead.
// At z = −∞ (a step to σ = 0 in data prediction) φ_k = 0 for every k ≥ 1.
#include <cmath>

namespace ferry::detail {

/// φ_k(z) for k ≥ 1, accurate to a few ulps for all z < +∞.
template <class T>
T phi(int k, T z) {
  if (std::abs(z) < 1) {  // Σ_j z^j/(j+k)!: 1/(j+k)! < 1e-19 beyond j + k = 21
    T inv_fact = 1;       // 1/k!
    for (int i = 2; i <= k; ++i) inv_fact /= T(i);
    T sum = 0, term = inv_fact;
    for (int j = 0; j + k <= 24; ++j) {
      sum += term;
      term *= z / T(j + k + 1);
    }
    return sum;
  }
  T value = std::expm1(z) / z;  // φ_1
  T inv_fact = 1;               // 1/1!
  for (int i = 1; i < k; ++i) {
    value = (value - inv_fact) / z;  // φ_{i+1} = (φ_i − 1/i!)/z
    inv_fact /= T(i + 1);
  }
  return value;
}

}  // namespace ferry::detail
