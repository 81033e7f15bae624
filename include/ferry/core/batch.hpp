#pragma once
// Batch state: N samples of dimension D, row-major and contiguous. batch_view is a non-owning view
// (pointer, rows, cols) that maps onto Eigen without copies; batch<T> owns aligned storage. Eigen is
// not included here (most of ferry does not need it): a view is made from any plain row-major Eigen
// matrix, and view.eigen() needs ferry/core/eigen.hpp.
#include <concepts>
#include <cstddef>
#include <new>
#include <span>
#include <type_traits>
#include <vector>

#include "ferry/core/error.hpp"

namespace ferry {

namespace detail {
/// The Eigen::Map of a view of T (core/eigen.hpp defines it; E only defers the lookup).
template <class T, class E>
struct eigen_map_of;
}  // namespace detail

/// Rows (samples) × cols (dimensions).
struct extent {
  std::size_t rows = 0, cols = 0;
  constexpr std::size_t size() const { return rows * cols; }
  friend constexpr bool operator==(const extent&, const extent&) = default;
};

/// Non-owning N×D row-major view; T may be const-qualified.
template <class T>
struct batch_view {
  using value_type = std::remove_const_t<T>;

  T* data = nullptr;
  std::size_t rows = 0, cols = 0;

  constexpr batch_view() = default;
  constexpr batch_view(T* d, std::size_t r, std::size_t c) : data(d), rows(r), cols(c) {}
  constexpr batch_view(T* d, extent e) : data(d), rows(e.rows), cols(e.cols) {}
  /// A mutable view converts to a read-only one.
  template <class U>
    requires(std::is_const_v<T> && std::is_same_v<const U, T>)
  constexpr batch_view(batch_view<U> v) : data(v.data), rows(v.rows), cols(v.cols) {}
  /// Zero-copy view of a plain (contiguous) row-major Eigen matrix or array, or a column vector.
  template <class M>
    requires(std::is_same_v<std::remove_const_t<M>, typename M::PlainObject> &&
             (bool(M::IsRowMajor) || M::ColsAtCompileTime == 1) && requires(M& m) {
               { m.data() } -> std::convertible_to<T*>;
             })
  batch_view(M& m) : data(m.data()), rows(std::size_t(m.rows())), cols(std::size_t(m.cols())) {}

  constexpr std::size_t size() const { return rows * cols; }
  constexpr extent shape() const { return {rows, cols}; }
  constexpr std::span<T> span() const { return {data, size()}; }
  constexpr std::span<T> row(std::size_t i) const { return {data + i * cols, cols}; }
  constexpr T& operator()(std::size_t i, std::size_t j) const { return data[i * cols + j]; }
  /// Rows [first, first + count): the unit of work for threads and shards.
  constexpr batch_view rows_slice(std::size_t first, std::size_t count) const {
    return {data + first * cols, count, cols};
  }
  /// The view as a row-major Eigen::Map, no copy (include ferry/core/eigen.hpp).
  template <class E = void>
  auto eigen() const {
    return detail::eigen_map_of<T, E>::make(data, rows, cols);
  }
};

template <class T>
using const_batch_view = batch_view<const T>;

/// Allocator aligned for the widest SIMD batch (64 bytes covers AVX-512).
template <class T, std::size_t Align = 64>
struct aligned_allocator {
  using value_type = T;
  template <class U>
  struct rebind { using other = aligned_allocator<U, Align>; };
  aligned_allocator() = default;
  template <class U>
  aligned_allocator(const aligned_allocator<U, Align>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{Align})); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{Align}); }
  template <class U>
  bool operator==(const aligned_allocator<U, Align>&) const noexcept { return true; }
};

/// Owning N×D row-major storage, 64-byte aligned, value-initialised.
template <class T>
class batch {
 public:
  batch() = default;
  explicit batch(extent e) { resize(e); }
  batch(std::size_t rows, std::size_t cols) { resize({rows, cols}); }

  /// Sizes the storage; keeps the allocation when it is already large enough.
  void resize(extent e) {
    data_.resize(e.size());
    shape_ = e;
  }
  extent shape() const { return shape_; }
  std::size_t rows() const { return shape_.rows; }
  std::size_t cols() const { return shape_.cols; }
  std::size_t size() const { return shape_.size(); }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  batch_view<T> view() { return {data_.data(), shape_}; }
  const_batch_view<T> view() const { return {data_.data(), shape_}; }
  operator batch_view<T>() { return view(); }
  operator const_batch_view<T>() const { return view(); }
  T& operator()(std::size_t i, std::size_t j) { return data_[i * shape_.cols + j]; }
  const T& operator()(std::size_t i, std::size_t j) const { return data_[i * shape_.cols + j]; }

 private:
  std::vector<T, aligned_allocator<T>> data_;
  extent shape_{};
};

/// Throws shape_error unless two extents agree; `what` names the caller.
inline void require_same_shape(extent a, extent b, const char* what) {
  if (a != b)
    throw shape_error(detail::cat(what, ": shape ", a.rows, "x", a.cols, " does not match ", b.rows, "x", b.cols));
}

}  // namespace ferry
