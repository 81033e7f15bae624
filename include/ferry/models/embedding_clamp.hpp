#pragma once
// Embedding-space text diffusion (Li, Thickstun, Gulrajani, Liang & Hashimoto 2022, "Diffusion-LM
// Improves Controllable Text Generation", §4.2 and §4.3): a sequence of L tokens is the row
// [e(w_1), …, e(w_L)] of L·d numbers, e the rows of a V×d embedding table.
//
//   nearest(x_l)  = argmin_v ‖x_l − e_v‖² = argmax_v (x_l·e_v − ½‖e_v‖²)   (one GEMM per batch)
//   clamping      x̂0_l ← x̂0_l + strength·(e_{nearest(x̂0_l)} − x̂0_l)       (strength 1: their "clamping
//                 trick", x̂0 replaced by its nearest embedding; < 1 pulls toward it), at levels
//                 with σ/α ≤ max_sigma (default: every level). Clamping at high noise, where x̂0
//                 is still near the table's mean, commits every sequence to the same tokens: with
//                 a deterministic sampler the rounded distribution collapses (docs/few-step.md).
//   rounding      w_l = nearest(x_l) of the final continuous sequence        (their rounding step)
//
// embedding_clamp<M> wraps any model: it converts the model's prediction to x̂0, clamps it per
// position and returns data, so every solver that asks for x̂0 or ε̂ sees the clamped prediction.
// The nearest search is an Eigen matrix product (vectorised, blocked) over positions × table.
#include <Eigen/Dense>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/prediction.hpp"

namespace ferry {

/// A V×d token-embedding table and nearest-row search.
template <class T = double>
class embedding_table {
 public:
  using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  explicit embedding_table(matrix rows) : e_(std::move(rows)) {
    if (e_.rows() == 0 || e_.cols() == 0)
      throw shape_error(detail::cat("embedding_table: the table is ", e_.rows(), "x", e_.cols(), "; need at least one row and column"));
    if (!e_.allFinite()) throw domain_error("embedding_table: the table has a non-finite entry");
    half_norm2_ = T(0.5) * e_.rowwise().squaredNorm();
  }

  std::size_t vocab() const { return std::size_t(e_.rows()); }
  std::size_t dim() const { return std::size_t(e_.cols()); }
  const matrix& rows() const { return e_; }

  /// ids[i] = nearest row to position i of x, where x holds positions of length dim() back to back
  /// (x.size() must be a multiple of dim()); ids has x.size()/dim() entries.
  void nearest(const T* x, std::size_t positions, int* ids) const {
    using map = Eigen::Map<const matrix>;
    constexpr std::size_t block = 256;  // positions per GEMM: bounded scratch, cache-sized
    matrix score;
    for (std::size_t first = 0; first < positions; first += block) {
      const std::size_t n = std::min(block, positions - first);
      const map xs(x + first * dim(), Eigen::Index(n), Eigen::Index(dim()));
      score.noalias() = xs * e_.transpose();                                    // x_l·e_v
      score.rowwise() -= half_norm2_.transpose();                               // − ½‖e_v‖²
      for (std::size_t i = 0; i < n; ++i) {
        Eigen::Index best;
        score.row(Eigen::Index(i)).maxCoeff(&best);
        ids[first + i] = int(best);
      }
    }
  }

  /// The rounding step: token ids of each row of x (N × L·d) into ids (N·L), row-major.
  std::vector<int> round(const_batch_view<T> x) const {
    if (x.cols % dim() != 0)
      throw shape_error(detail::cat("embedding_table: a row of ", x.cols, " numbers is not a whole number of ", dim(),
                                    "-dimensional embeddings"));
    std::vector<int> ids(x.size() / dim());
    nearest(x.data, ids.size(), ids.data());
    return ids;
  }

 private:
  matrix e_;
  Eigen::Matrix<T, Eigen::Dynamic, 1> half_norm2_;
};

/// The clamping trick as a model adaptor: x̂0 of each position pulled toward its nearest embedding.
template <class M, class T = double>
  requires model<const M, T>
class embedding_clamp {
 public:
  static constexpr prediction predicts = prediction::data;

  embedding_clamp(M model, embedding_table<T> table, T strength = T(1), T max_sigma = std::numeric_limits<T>::infinity())
      : model_(std::move(model)), table_(std::move(table)), strength_(strength), max_sigma_(max_sigma) {
    if (!(strength > 0 && strength <= 1))
      throw config_error(detail::cat("embedding_clamp: strength=", strength, "; must lie in (0, 1]"));
    if (!(max_sigma > 0)) throw config_error(detail::cat("embedding_clamp: max_sigma=", max_sigma, "; must be > 0"));
  }

  const embedding_table<T>& table() const { return table_; }

  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) const {
    require_same_shape(x.shape(), out.shape(), "embedding_clamp");
    if (x.cols % table_.dim() != 0)
      throw shape_error(detail::cat("embedding_clamp: a row of ", x.cols, " numbers is not a whole number of ", table_.dim(),
                                    "-dimensional embeddings"));
    model_(x, lv, out);
    convert<T>(model_.predicts, prediction::data, lv, x, out, out);             // x̂0
    if (!(lv.sigma <= max_sigma_ * lv.alpha)) return;                           // clamp only where σ/α ≤ max_sigma
    const std::size_t d = table_.dim(), positions = out.size() / d;
    std::vector<int> ids(positions);
    table_.nearest(out.data, positions, ids.data());
    for (std::size_t i = 0; i < positions; ++i) {
      const T* e = table_.rows().row(ids[i]).data();
      T* p = out.data + i * d;
      for (std::size_t j = 0; j < d; ++j) p[j] += strength_ * (e[j] - p[j]);  // x̂0 + s·(e − x̂0)
    }
  }

 private:
  M model_;
  embedding_table<T> table_;
  T strength_, max_sigma_;
};

}  // namespace ferry
