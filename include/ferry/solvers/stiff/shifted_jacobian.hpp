#pragma once
// The linear systems of implicit steppers, (I − γ·J)·δ = r with J = ∂f/∂x at one state (the whole
// batch flattened to one vector of n = rows·cols unknowns), solved one of two ways:
//
//   dense  — J formed column by column from the problem's jvp, row by row from its vjp, or by
//            forward differences (f(y + ε e_j) − f(y))/ε; then one partial-pivot LU of I − γJ
//            (Eigen), reused for every right-hand side and refactored only when γ changes.
//   krylov — Jacobian-free restarted GMRES(m) (Saad & Schultz 1986) on v ↦ v − γ·J·v, where J·v is
//            the problem's jvp or the directional difference (f(y + εv) − f(y))/ε
//            (Knoll & Keyes 2004, Eq. 10, ε = √u·(1 + ‖y‖)/‖v‖).
//
// `automatic` takes dense up to `dense_max` unknowns. All storage is sized in reset().
#include <Eigen/Dense>
#include <cmath>
#include <cstddef>
#include <limits>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"

namespace ferry {

enum class linear_solver { automatic, dense, krylov };

/// How an implicit stepper solves (I − γJ)δ = r.
template <class T>
struct linear_options {
  linear_solver method = linear_solver::automatic;
  std::size_t dense_max = 64;     ///< automatic: dense LU up to this many unknowns, GMRES above
  std::size_t krylov_dim = 30;    ///< GMRES restart length m
  std::size_t krylov_restarts = 20;
  T krylov_tol = T(1e-12);        ///< stop when ‖r − Mδ‖ ≤ krylov_tol·‖r‖
  bool use_jacobian_products = true;  ///< false: finite differences even where the problem has jvp/vjp

  void validate(const char* who) const {
    if (dense_max == 0 || krylov_dim == 0 || krylov_restarts == 0 || !(krylov_tol > 0))
      throw config_error(detail::cat(who, ": need dense_max, krylov_dim, krylov_restarts >= 1 and krylov_tol > 0"));
  }
};

namespace detail {

template <class P, class T>
concept has_jvp = requires(P& p, const_batch_view<T> x, const level<T>& lv, batch_view<T> out) { p.jvp(x, lv, x, out); };
template <class P, class T>
concept has_vjp = requires(P& p, const_batch_view<T> x, const level<T>& lv, batch_view<T> out) { p.vjp(x, lv, x, out); };

template <class T>
class shifted_jacobian {
 public:
  using vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  using mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

  linear_options<T> opt;

  void reset(extent e) {
    shape_ = e;
    n_ = e.size();
    dense_ = opt.method == linear_solver::dense || (opt.method == linear_solver::automatic && n_ <= opt.dense_max);
    y_.resize(e);
    fy_.resize(e);
    v_.resize(e);
    jv_.resize(e);
    if (dense_) {
      jac_.resize(Eigen::Index(n_), Eigen::Index(n_));
      shifted_.resize(Eigen::Index(n_), Eigen::Index(n_));
      lu_ = Eigen::PartialPivLU<mat>(Eigen::Index(n_));
      sol_.resize(Eigen::Index(n_));
    } else {
      const auto m = Eigen::Index(opt.krylov_dim);
      basis_.resize(Eigen::Index(n_), m + 1);
      hess_.resize(m + 1, m);
      cs_.resize(m);
      sn_.resize(m);
      g_.resize(m + 1);
      w_.resize(Eigen::Index(n_));
      sol_.resize(Eigen::Index(n_));
    }
    gamma_ = std::numeric_limits<T>::quiet_NaN();
  }
  bool dense() const { return dense_; }
  /// Jacobian products or difference quotients used since reset (for reports and tests).
  std::size_t field_evaluations = 0;

  /// Linearises at (lv, y), where fy = f(lv, y) is already known.
  template <class Problem>
  void linearise(Problem& p, const level<T>& lv, const_batch_view<T> y, const_batch_view<T> fy) {
    lv_ = lv;
    copy(y, y_.view());
    copy(fy, fy_.view());
    gamma_ = std::numeric_limits<T>::quiet_NaN();
    if (!dense_) return;
    T* v = v_.data();
    for (std::size_t j = 0; j < n_; ++j) {
      if (products<Problem>() && has_jvp<Problem, T>) {                      // column j = J e_j
        unit(j);
        if constexpr (has_jvp<Problem, T>) p.jvp(y_.view(), lv_, v_.view(), jv_.view());
        for (std::size_t i = 0; i < n_; ++i) jac_(Eigen::Index(i), Eigen::Index(j)) = jv_.data()[i];
      } else if (products<Problem>() && has_vjp<Problem, T>) {               // row j = e_jᵀ J
        unit(j);
        if constexpr (has_vjp<Problem, T>) p.vjp(y_.view(), lv_, v_.view(), jv_.view());
        for (std::size_t i = 0; i < n_; ++i) jac_(Eigen::Index(j), Eigen::Index(i)) = jv_.data()[i];
      } else {                                                               // (f(y + ε e_j) − f(y))/ε
        copy(y_.view(), v_.view());
        const T eps = std::sqrt(std::numeric_limits<T>::epsilon()) * std::max(T(1), std::abs(v[j]));
        v[j] += eps;
        p.velocity(v_.view(), lv_, jv_.view());
        for (std::size_t i = 0; i < n_; ++i) jac_(Eigen::Index(i), Eigen::Index(j)) = (jv_.data()[i] - fy_.data()[i]) / eps;
      }
      ++field_evaluations;
    }
  }

  /// rhs ← (I − γJ)⁻¹ rhs.
  template <class Problem>
  void solve(Problem& p, T gamma, batch_view<T> rhs) {
    Eigen::Map<vec> r(rhs.data, Eigen::Index(n_));
    if (dense_) {
      if (!(gamma == gamma_)) {
        shifted_.noalias() = -gamma * jac_;
        shifted_.diagonal().array() += T(1);
        lu_.compute(shifted_);
        gamma_ = gamma;
      }
      sol_.noalias() = lu_.solve(r);  // not in place: Eigen's in-place permutation allocates a mask
      r = sol_;
      return;
    }
    gmres(p, gamma, r);
  }

 private:
  template <class Problem>
  bool products() const {
    return opt.use_jacobian_products && (has_jvp<Problem, T> || has_vjp<Problem, T>);
  }
  static void copy(const_batch_view<T> a, batch_view<T> b) { std::copy(a.data, a.data + a.size(), b.data); }
  void unit(std::size_t j) {
    std::fill(v_.data(), v_.data() + n_, T(0));
    v_.data()[j] = 1;
  }

  // out = (I − γJ)·v.
  template <class Problem>
  void apply(Problem& p, T gamma, const Eigen::Ref<const vec>& v, vec& out) {
    Eigen::Map<vec> vb(v_.data(), Eigen::Index(n_));
    Eigen::Map<const vec> jvb(jv_.data(), Eigen::Index(n_));
    ++field_evaluations;
    if (opt.use_jacobian_products && has_jvp<Problem, T>) {
      vb = v;
      if constexpr (has_jvp<Problem, T>) p.jvp(y_.view(), lv_, v_.view(), jv_.view());
      out = v - gamma * jvb;
      return;
    }
    const T vn = v.norm();
    if (vn == 0) {
      out.setZero();
      return;
    }
    const Eigen::Map<const vec> y(y_.data(), Eigen::Index(n_)), fy(fy_.data(), Eigen::Index(n_));
    const T eps = std::sqrt(std::numeric_limits<T>::epsilon()) * (1 + y.norm()) / vn;
    vb = y + eps * v;
    p.velocity(v_.view(), lv_, jv_.view());
    out = v - (gamma / eps) * (jvb - fy);
  }

  // Restarted GMRES(m) with Givens rotations (Saad 2003, Alg. 6.11), from δ = 0.
  template <class Problem>
  void gmres(Problem& p, T gamma, Eigen::Map<vec> r) {
    const T rnorm0 = r.norm();
    sol_.setZero();
    if (rnorm0 == 0) return;
    const auto m = Eigen::Index(opt.krylov_dim);
    for (std::size_t restart = 0; restart < opt.krylov_restarts; ++restart) {
      apply(p, gamma, sol_, w_);
      w_ = r - w_;                                       // residual r − Mδ
      const T beta = w_.norm();
      if (beta <= opt.krylov_tol * rnorm0) break;
      basis_.col(0) = w_ / beta;
      g_.setZero();
      g_[0] = beta;
      Eigen::Index k = 0;
      for (; k < m; ++k) {
        apply(p, gamma, basis_.col(k), w_);
        for (Eigen::Index i = 0; i <= k; ++i) {          // modified Gram–Schmidt
          hess_(i, k) = basis_.col(i).dot(w_);
          w_ -= hess_(i, k) * basis_.col(i);
        }
        const T h_next = w_.norm();
        hess_(k + 1, k) = h_next;
        if (h_next > 0) basis_.col(k + 1) = w_ / h_next;
        for (Eigen::Index i = 0; i < k; ++i) {           // earlier rotations
          const T a = hess_(i, k), b = hess_(i + 1, k);
          hess_(i, k) = cs_[i] * a + sn_[i] * b;
          hess_(i + 1, k) = -sn_[i] * a + cs_[i] * b;
        }
        const T a = hess_(k, k), b = hess_(k + 1, k), rho = std::hypot(a, b);
        cs_[k] = a / rho;
        sn_[k] = b / rho;
        hess_(k, k) = rho;
        hess_(k + 1, k) = 0;
        g_[k + 1] = -sn_[k] * g_[k];
        g_[k] = cs_[k] * g_[k];
        if (std::abs(g_[k + 1]) <= opt.krylov_tol * rnorm0 || h_next == 0) {  // converged or lucky breakdown
          ++k;
          break;
        }
      }
      // δ += V_k y_k with H_k y_k = g_k (upper triangular back substitution, in place in g_).
      for (Eigen::Index i = k - 1; i >= 0; --i) {
        T s = g_[i];
        for (Eigen::Index j = i + 1; j < k; ++j) s -= hess_(i, j) * g_[j];
        g_[i] = s / hess_(i, i);
      }
      for (Eigen::Index i = 0; i < k; ++i) sol_ += g_[i] * basis_.col(i);
    }
    r = sol_;
  }

  extent shape_{};
  std::size_t n_ = 0;
  bool dense_ = true;
  level<T> lv_{};
  T gamma_{};
  batch<T> y_, fy_, v_, jv_;
  mat jac_, shifted_;
  Eigen::PartialPivLU<mat> lu_;
  mat basis_, hess_;
  vec cs_, sn_, g_, w_, sol_;
};

}  // namespace detail
}  // namespace ferry
