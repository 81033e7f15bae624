#pragma once
// Butcher tableaus for explicit Runge–Kutta methods, checked at compile time.
#include <array>
#include <cstddef>

namespace ferry {

/// c (nodes), a (strictly lower triangular), b (weights), optional b_err = b − b̂ of an embedded
/// lower-order pair (all zero when the method has none).
template <std::size_t S>
struct butcher_tableau {
  std::array<double, S> c{};
  std::array<std::array<double, S>, S> a{};
  std::array<double, S> b{};
  std::array<double, S> b_err{};
  int order = 1;
  int error_order = 0;  ///< order of the embedded method (0: none)
  bool fsal = false;    ///< first stage of the next step = last stage of this one (b = last row of a)
  static constexpr std::size_t stages = S;
};

namespace detail {
constexpr bool near(double x, double y) { return (x - y < 0 ? y - x : x - y) < 1e-14; }
}  // namespace detail

/// Σ_j a_ij = c_i for every stage, Σ_i b_i = 1, a strictly lower triangular, Σ b_err = 0.
template <std::size_t S>
constexpr bool is_consistent(const butcher_tableau<S>& tab) {
  double sb = 0, se = 0;
  for (std::size_t i = 0; i < S; ++i) {
    double row = 0;
    for (std::size_t j = 0; j < S; ++j) {
      if (j >= i && tab.a[i][j] != 0) return false;
      row += tab.a[i][j];
    }
    if (!detail::near(row, tab.c[i])) return false;
    sb += tab.b[i];
    se += tab.b_err[i];
  }
  return detail::near(sb, 1) && detail::near(se, 0);
}

}  // namespace ferry
