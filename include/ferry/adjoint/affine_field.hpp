#pragma once
// A small parametric vector field, affine in x with a time-linear matrix:
//   f(t, x) = A(t)·x + b,   A(t) = A0 + t·A1,   θ = [A0 (D×D, row-major), A1 (D×D), b (D)].
// Its Jacobians are exact:
//   ∂f/∂x = A(t),   aᵀ∂f/∂A0 = a·xᵀ,   aᵀ∂f/∂A1 = t·a·xᵀ,   aᵀ∂f/∂b = a   (summed over rows).
#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/eigen.hpp"
#include "ferry/core/error.hpp"

namespace ferry {

template <class T = double>
class affine_field {
 public:
  using row_mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using cmap = Eigen::Map<const row_mat>;
  using map = Eigen::Map<row_mat>;

  explicit affine_field(std::size_t dim) : d_(dim), theta_(2 * dim * dim + dim, T(0)) {
    if (dim == 0) throw config_error("affine_field: dimension 0; need at least 1");
  }

  std::size_t dim() const { return d_; }
  std::size_t parameter_count() const { return theta_.size(); }
  std::span<T> parameters() { return theta_; }
  std::span<const T> parameters() const { return theta_; }

  /// dxdt = x·A(t)ᵀ + 1·bᵀ (rows are samples).
  void operator()(T t, const_batch_view<T> x, batch_view<T> dxdt) const {
    check(x.cols, "affine_field");
    dxdt.eigen().noalias() = x.eigen() * a0().transpose();
    dxdt.eigen().noalias() += t * (x.eigen() * a1().transpose());
    dxdt.eigen().rowwise() += b().transpose();
  }
  /// out = v·A(t)ᵀ: (∂f/∂x)·v row by row.
  void jvp(T t, const_batch_view<T>, const_batch_view<T> v, batch_view<T> out) const {
    out.eigen().noalias() = v.eigen() * a0().transpose();
    out.eigen().noalias() += t * (v.eigen() * a1().transpose());
  }
  /// a_x = a·A(t);  a_theta = [Σ a xᵀ, t·Σ a xᵀ, Σ a] (skipped when a_theta is empty).
  void vjp(T t, const_batch_view<T> x, const_batch_view<T> a, batch_view<T> a_x, std::span<T> a_theta) const {
    a_x.eigen().noalias() = a.eigen() * a0();
    a_x.eigen().noalias() += t * (a.eigen() * a1());
    if (a_theta.empty()) return;
    if (a_theta.size() != parameter_count())
      throw shape_error(detail::cat("affine_field::vjp: ", a_theta.size(), " parameter slots, expected ", parameter_count()));
    const Eigen::Index d = Eigen::Index(d_);
    map g0(a_theta.data(), d, d), g1(a_theta.data() + d * d, d, d);
    g0.noalias() = a.eigen().transpose() * x.eigen();
    g1 = t * g0;
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(a_theta.data() + 2 * d * d, d) = a.eigen().colwise().sum().transpose();
  }

 private:
  void check(std::size_t cols, const char* who) const {
    if (cols != d_) throw shape_error(detail::cat(who, ": state has ", cols, " dimensions, the field has ", d_));
  }
  cmap a0() const { return cmap(theta_.data(), Eigen::Index(d_), Eigen::Index(d_)); }
  cmap a1() const { return cmap(theta_.data() + d_ * d_, Eigen::Index(d_), Eigen::Index(d_)); }
  Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> b() const {
    return {theta_.data() + 2 * d_ * d_, Eigen::Index(d_)};
  }

  std::size_t d_;
  std::vector<T> theta_;
};

}  // namespace ferry
