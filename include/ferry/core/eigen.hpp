#pragma once
// batch_view::eigen(): a view as a row-major Eigen::Map, without copies. Kept out of core/batch.hpp so
// that the code that never touches Eigen does not parse it.
#include <Eigen/Core>
#include <cstddef>
#include <type_traits>

#include "ferry/core/batch.hpp"

namespace ferry::detail {

template <class T, class E>
struct eigen_map_of {
  using matrix = Eigen::Matrix<std::remove_const_t<T>, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using map = Eigen::Map<std::conditional_t<std::is_const_v<T>, const matrix, matrix>>;
  static map make(T* data, std::size_t rows, std::size_t cols) { return map(data, Eigen::Index(rows), Eigen::Index(cols)); }
};

}  // namespace ferry::detail
