#pragma once
// The evenly spaced points of torch.linspace and numpy.linspace, one point at a time, as the peers'
// scalar formulas compute them (the tables and grids ferry reproduces are built with them). A leaf.
#include <cstddef>

namespace ferry::detail {

/// torch.linspace(start, end, n)[i]: step = (end − start)/(n − 1); the first half counts up from the
/// start, the second half down from the end, so both ends are exact.
template <class T>
T linspace_at(T start, T end, std::size_t n, std::size_t i) {
  if (n == 1) return start;
  const T step = (end - start) / static_cast<T>(n - 1);
  return i < n / 2 ? start + step * static_cast<T>(i) : end - step * static_cast<T>(n - 1 - i);
}

/// numpy.linspace(start, stop, n, endpoint)[i]: i·step + start with step = (stop − start)/(n − 1), or
/// /n without the endpoint; with the endpoint the last point is stop itself.
template <class T>
T numpy_linspace_at(T start, T stop, std::size_t n, std::size_t i, bool endpoint = true) {
  const std::size_t div = endpoint ? n - 1 : n;
  if (div == 0) return start;
  if (endpoint && i + 1 == n) return stop;
  return static_cast<T>(i) * ((stop - start) / static_cast<T>(div)) + start;
}

}  // namespace ferry::detail
