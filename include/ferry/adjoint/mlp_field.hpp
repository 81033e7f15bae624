#pragma once
// A small time-dependent network as a vector field, one tanh hidden layer of width H:
//   z = W1·x + u·t + b1,   h = tanh(z),   f(t, x) = W2·h + b2,
//   θ = [W1 (H×D), u (H), b1 (H), W2 (D×H), b2 (D)], matrices row-major.
// With s = 1 − h² (= tanh'(z)) and δ = s ⊙ (W2ᵀa), the exact products are
//   (∂f/∂x)·v = W2·(s ⊙ W1 v),   aᵀ∂f/∂x = W1ᵀδ,
//   aᵀ∂f/∂W1 = δ xᵀ,  aᵀ∂f/∂u = t·δ,  aᵀ∂f/∂b1 = δ,  aᵀ∂f/∂W2 = a hᵀ,  aᵀ∂f/∂b2 = a.
// For continuous normalizing flows it also gives the divergence and its gradient:
//   tr ∂f/∂x = Σ_h s_h c_h,      c_h = Σ_j W2[j,h]·W1[h,j]                  (exact)
//   εᵀ(∂f/∂x)ε = Σ_h s_h c_h,    c_h = (W2ᵀε)_h·(W1ε)_h                      (Hutchinson 1989 probe ε)
// and with s' = ds/dz = −2 h s the weighted gradient of Σ_i α_i·div_i (FFJORD's second-order terms,
// Grathwohl et al. 2019, written out for one layer).
// Rows are samples; the batch is the rows of an N×D view. Workspaces grow with N only.
#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/eigen.hpp"
#include "ferry/core/error.hpp"

namespace ferry {

template <class T = double>
class mlp_field {
 public:
  using row_mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

  mlp_field(std::size_t dim, std::size_t hidden) : d_(dim), h_(hidden), theta_(2 * dim * hidden + 2 * hidden + dim, T(0)) {
    if (dim == 0 || hidden == 0) throw config_error(detail::cat("mlp_field: dim=", dim, ", hidden=", hidden, "; need both >= 1"));
  }

  std::size_t dim() const { return d_; }
  std::size_t hidden() const { return h_; }
  std::size_t parameter_count() const { return theta_.size(); }
  std::span<T> parameters() { return theta_; }
  std::span<const T> parameters() const { return theta_; }

  /// dxdt = f(t, x) row by row.
  void operator()(T t, const_batch_view<T> x, batch_view<T> dxdt) {
    hidden_layer(t, x);
    dxdt.eigen().noalias() = act_ * w2().transpose();
    dxdt.eigen().rowwise() += b2().transpose();
  }
  /// out = (∂f/∂x)·v row by row.
  void jvp(T t, const_batch_view<T> x, const_batch_view<T> v, batch_view<T> out) {
    hidden_layer(t, x);
    tmp_.noalias() = v.eigen() * w1().transpose();
    tmp_.array() *= slope_.array();
    out.eigen().noalias() = tmp_ * w2().transpose();
  }
  /// a_x = aᵀ∂f/∂x row by row; a_theta = Σ_rows aᵀ∂f/∂θ (skipped when empty).
  void vjp(T t, const_batch_view<T> x, const_batch_view<T> a, batch_view<T> a_x, std::span<T> a_theta) {
    hidden_layer(t, x);
    tmp_.noalias() = a.eigen() * w2();  // δ = s ⊙ (a W2)
    tmp_.array() *= slope_.array();
    a_x.eigen().noalias() = tmp_ * w1();
    if (a_theta.empty()) return;
    check_theta(a_theta.size(), "vjp");
    grads g = split(a_theta);
    g.w1.noalias() = tmp_.transpose() * x.eigen();
    g.b1 = tmp_.colwise().sum().transpose();
    g.u = t * g.b1;
    g.w2.noalias() = a.eigen().transpose() * act_;
    g.b2 = a.eigen().colwise().sum().transpose();
  }

  /// div_i = tr ∂f/∂x at row i (probe empty), or the Hutchinson estimate εᵢᵀ(∂f/∂x)εᵢ with probe row εᵢ.
  void divergence(T t, const_batch_view<T> x, const_batch_view<T> probe, std::span<T> div) {
    hidden_layer(t, x);
    probe_coefficients(probe, x.rows);
    for (std::size_t i = 0; i < x.rows; ++i) div[i] = slope_.row(Eigen::Index(i)).dot(coef_.row(Eigen::Index(i)));
  }
  /// Adds the gradient of Σ_i α_i·div_i to a_x (row by row) and to a_theta (when not empty).
  void divergence_vjp(T t, const_batch_view<T> x, const_batch_view<T> probe, std::span<const T> alpha,
                      batch_view<T> a_x, std::span<T> a_theta) {
    hidden_layer(t, x);
    probe_coefficients(probe, x.rows);
    const Eigen::Index n = Eigen::Index(x.rows);
    // r_ih = α_i s'_ih c_ih with s' = −2 h s;  w_ih = α_i s_ih.
    for (Eigen::Index i = 0; i < n; ++i) {
      const T al = alpha[std::size_t(i)];
      tmp_.row(i) = (T(-2) * al) * act_.row(i).array() * slope_.row(i).array() * coef_.row(i).array();
      wts_.row(i) = al * slope_.row(i);
    }
    a_x.eigen().noalias() += tmp_ * w1();
    if (a_theta.empty()) return;
    check_theta(a_theta.size(), "divergence_vjp");
    grads g = split(a_theta);
    g.w1.noalias() += tmp_.transpose() * x.eigen();
    sums_ = tmp_.colwise().sum().transpose();
    g.b1 += sums_;
    g.u += t * sums_;
    if (probe.data == nullptr) {  // c_h = Σ_j W2[j,h] W1[h,j]: ∂/∂W1[h,j] = Σ_i w_ih W2[j,h], ∂/∂W2[j,h] = Σ_i w_ih W1[h,j]
      sums_ = wts_.colwise().sum().transpose();
      g.w1.noalias() += sums_.asDiagonal() * w2().transpose();
      g.w2.noalias() += w1().transpose() * sums_.asDiagonal();
    } else {                      // c_ih = q_ih p_ih, p = ε W1ᵀ, q = ε W2
      tmp_ = wts_.array() * q_.array();
      g.w1.noalias() += tmp_.transpose() * probe.eigen();
      tmp_ = wts_.array() * p_.array();
      g.w2.noalias() += probe.eigen().transpose() * tmp_;
    }
  }

 private:
  struct grads {
    Eigen::Map<row_mat> w1;
    Eigen::Map<vec> u, b1;
    Eigen::Map<row_mat> w2;
    Eigen::Map<vec> b2;
  };
  grads split(std::span<T> g) const {
    T* p = g.data();
    const auto d = Eigen::Index(d_), h = Eigen::Index(h_);
    return {Eigen::Map<row_mat>(p, h, d), Eigen::Map<vec>(p + h * d, h), Eigen::Map<vec>(p + h * d + h, h),
            Eigen::Map<row_mat>(p + h * d + 2 * h, d, h), Eigen::Map<vec>(p + 2 * h * d + 2 * h, d)};
  }
  Eigen::Map<const row_mat> w1() const { return {theta_.data(), Eigen::Index(h_), Eigen::Index(d_)}; }
  Eigen::Map<const vec> u() const { return {theta_.data() + h_ * d_, Eigen::Index(h_)}; }
  Eigen::Map<const vec> b1() const { return {theta_.data() + h_ * d_ + h_, Eigen::Index(h_)}; }
  Eigen::Map<const row_mat> w2() const { return {theta_.data() + h_ * d_ + 2 * h_, Eigen::Index(d_), Eigen::Index(h_)}; }
  Eigen::Map<const vec> b2() const { return {theta_.data() + 2 * h_ * d_ + 2 * h_, Eigen::Index(d_)}; }

  void check_theta(std::size_t n, const char* who) const {
    if (n != parameter_count())
      throw shape_error(detail::cat("mlp_field::", who, ": ", n, " parameter slots, expected ", parameter_count()));
  }
  // act_ = tanh(x W1ᵀ + t uᵀ + b1ᵀ), slope_ = 1 − act_², and the workspaces sized to the batch.
  void hidden_layer(T t, const_batch_view<T> x) {
    if (x.cols != d_) throw shape_error(detail::cat("mlp_field: state has ", x.cols, " dimensions, the field has ", d_));
    const auto n = Eigen::Index(x.rows), h = Eigen::Index(h_);
    if (act_.rows() != n) {
      for (row_mat* m : {&act_, &slope_, &tmp_, &wts_, &p_, &q_, &coef_}) m->resize(n, h);
      sums_.resize(h);
      bias_.resize(h);
    }
    act_.noalias() = x.eigen() * w1().transpose();
    bias_.noalias() = t * u() + b1();  // a plain vector: rowwise += of an expression would allocate its value
    act_.rowwise() += bias_.transpose();
    act_ = act_.array().tanh();
    slope_ = 1 - act_.array().square();
  }
  // coef_ (N×H): exact, every row is diag(W1 W2); Hutchinson, c_ih = p_ih q_ih with p_ = ε W1ᵀ, q_ = ε W2.
  void probe_coefficients(const_batch_view<T> probe, std::size_t rows) {
    if (probe.data == nullptr) {
      for (std::size_t k = 0; k < h_; ++k) sums_[Eigen::Index(k)] = w1().row(Eigen::Index(k)).dot(w2().col(Eigen::Index(k)));
      coef_.rowwise() = sums_.transpose();
      return;
    }
    if (probe.rows != rows || probe.cols != d_)
      throw shape_error(detail::cat("mlp_field: probe is ", probe.rows, "x", probe.cols, ", expected ", rows, "x", d_));
    p_.noalias() = probe.eigen() * w1().transpose();
    q_.noalias() = probe.eigen() * w2();
    coef_ = p_.array() * q_.array();
  }

  std::size_t d_, h_;
  std::vector<T> theta_;
  row_mat act_, slope_, tmp_, wts_, p_, q_, coef_;
  vec sums_, bias_;
};

}  // namespace ferry
