#pragma once
// A virtual Brownian tree (Li et al. 2020, "Scalable gradients for stochastic differential
// equations", §4; as torchsde's BrownianTree and diffrax's VirtualBrownianTree): W(t) on [t0, t1]
// for every element of a batch, consistent on re-query, in O(N·D) memory, a pure function of
// (seed, global row, element, t).
//
//   W(t0) = 0,  W(t1) = √(t1 − t0)·Z_root
//   bisection: on [a, b] with midpoint m,  W(m) = ½(W(a) + W(b)) + ½√(b − a)·Z_node   (Brownian bridge)
//   leaf (b − a ≤ tol):  W(t) = W(a) + (t − a)/(b − a)·(W(b) − W(a)) + √((t − a)(b − t)/(b − a))·Z_leaf
// Node k of the heap (root interval 1, children 2k, 2k + 1) keys its Z by step = k mod 2³², stream =
// streams::brownian_tree + k div 2³²; leaves use the stream with bit 23 set. Query t descends the
// tree, so W(s) and W(t) share every node above their split: increments over disjoint intervals
// are independent N(0, Δt) up to the leaf resolution.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/simd/lincomb.hpp"

namespace ferry::random {

template <class T>
class brownian_tree {
 public:
  brownian_tree() = default;
  /// W on [t0, t1] (either order of the ends is accepted); leaves narrower than tol·|t1 − t0|.
  brownian_tree(std::uint64_t seed, std::uint64_t first_row, T t0, T t1, T rel_tol = T(1e-6))
      : seed_(seed), first_row_(first_row), t0_(std::min(t0, t1)), t1_(std::max(t0, t1)) {
    if (!(t1_ > t0_) || !std::isfinite(t0_) || !std::isfinite(t1_))
      throw domain_error(ferry::detail::cat("brownian_tree: needs t0 < t1, got [", t0, ", ", t1, "]"));
    if (!(rel_tol > 0 && rel_tol < 1)) throw domain_error(ferry::detail::cat("brownian_tree: tolerance ", rel_tol, " not in (0, 1)"));
    depth_ = 0;
    for (T w = t1_ - t0_; w > rel_tol * (t1_ - t0_) && depth_ < 48; w /= 2) ++depth_;
  }
  /// The tree of the rows starting `offset` rows further on (threads, shards).
  brownian_tree for_rows(std::uint64_t offset) const {
    brownian_tree r = *this;
    r.first_row_ += offset;
    return r;
  }
  /// The same tree (interval, resolution) keyed by another seed and first row; keeps the scratch,
  /// so a solver sized in reset() can key its tree at the first step without allocating.
  void rekey(std::uint64_t seed, std::uint64_t first_row) {
    seed_ = seed;
    first_row_ = first_row;
  }
  /// Sizes the scratch (three arrays of the batch's shape).
  void reset(extent e) {
    wa_.resize(e), wb_.resize(e), z_.resize(e);
  }
  T t0() const { return t0_; }
  T t1() const { return t1_; }

  /// W(t) into w, for t clamped to [t0, t1].
  void value(T t, batch_view<T> w) {
    require_same_shape(w.shape(), wa_.shape(), "brownian_tree::value");
    t = std::clamp(t, t0_, t1_);
    T a = t0_, b = t1_;
    std::fill(wa_.data(), wa_.data() + wa_.size(), T(0));
    draw(0, 0, wb_.view());
    scale(wb_, std::sqrt(b - a));
    std::uint64_t node = 1;
    for (int level = 0; level < depth_; ++level) {
      const T m = a + (b - a) / 2;
      draw(node, 0, z_.view());
      // W(m) = ½W(a) + ½W(b) + ½√(b − a)·Z, written over the end that m replaces
      batch<T>& side = t < m ? wb_ : wa_;
      simd::lincomb<T, 3>(side.view().span(), {T(0.5), T(0.5), std::sqrt(b - a) / 2}, {wa_.data(), wb_.data(), z_.data()});
      if (t < m) b = m, node = 2 * node;
      else a = m, node = 2 * node + 1;
    }
    const T f = (t - a) / (b - a), s = std::sqrt((t - a) * (b - t) / (b - a));
    draw(node, 1u << 23, z_.view());
    simd::lincomb<T, 3>(w.span(), {1 - f, f, s}, {wa_.data(), wb_.data(), z_.data()});
  }

  /// W(tb) − W(ta) into out; `tmp` is a second batch of the same shape.
  void increment(T ta, T tb, batch_view<T> out, batch_view<T> tmp) {
    value(ta, tmp);
    value(tb, out);
    simd::lincomb<T, 2>(out.span(), {T(1), T(-1)}, {out.data, tmp.data});
  }

 private:
  void draw(std::uint64_t node, std::uint32_t leaf, batch_view<T> z) const {
    fill_normal(seed_, z, first_row_, std::uint32_t(node), streams::brownian_tree + leaf + std::uint32_t(node >> 32));
  }
  static void scale(batch<T>& b, T c) { simd::lincomb<T, 1>(b.view().span(), {c}, {b.data()}); }

  std::uint64_t seed_ = 0, first_row_ = 0;
  T t0_ = 0, t1_ = 1;
  int depth_ = 0;
  batch<T> wa_, wb_, z_;
};

}  // namespace ferry::random
