#pragma once
// The workspace one chunk of rows runs in: the model's answer π = p(x0 | x_t) per row and
// position (converted from logits or ratios, carried over at unmasked positions, then shaped by
// temperature / top-k / top-p), per-row model caching, NFE counts, and the keyed draws.
//
// Caching (MDLM, Sahoo et al. 2024, §3.3): under the masked kernel p(x0 | x_t) does not depend
// on t — the α factors cancel from Bayes' rule — so when a row's tokens did not change since its
// last evaluation, its π is still exact. Samplers call changed(row) when they move a token.
// Given tokens (a prompt, infill) are flagged per row and position (give, given): samplers never
// move them, and a conditional_denoiser is told which they are.
// Everything is sized in the constructor; nothing here allocates afterwards.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ferry/discrete/categorical.hpp"
#include "ferry/discrete/denoiser.hpp"
#include "ferry/discrete/process.hpp"
#include "ferry/random/normal.hpp"

namespace ferry::discrete {

template <denoiser M>
class context {
 public:
  context(const M& model, const discrete::process& p, const categorical_options& c, std::uint64_t seed,
          std::uint64_t first_row, std::size_t rows, std::size_t length)
      : model_(&model), process_(p), categorical_(c), seed_(seed), first_row_(first_row), rows_(rows), length_(length),
        vocab_(p.kernel.vocab), probs_(rows * length * vocab_), given_(rows * length, 0), fresh_(rows, 0), nfe_(rows, 0),
        order_(vocab_), scratch_(vocab_), gumbel_(vocab_) {}

  const discrete::process& process() const { return process_; }
  const discrete::kernel& kernel() const { return process_.kernel; }
  noise_level level(double t) const { return process_.level(t); }
  std::size_t rows() const { return rows_; }
  std::size_t length() const { return length_; }
  std::size_t vocab() const { return vocab_; }
  std::uint64_t seed() const { return seed_; }

  /// π for every row at level lv; with reuse, rows unchanged since their last evaluation keep theirs.
  void posterior(const_token_view x, const noise_level& lv, bool reuse = false) {
    std::size_t i = 0;
    while (i < rows_) {
      if (reuse && fresh_[i]) { ++i; continue; }
      std::size_t j = i + 1;
      while (j < rows_ && !(reuse && fresh_[j])) ++j;
      evaluate(x, i, j - i, lv, probs_.data());  // one model call per run of rows that need it
      i = j;
    }
  }
  /// π for row i alone (samplers whose rows sit at different times).
  void posterior_row(const_token_view x, std::size_t i, const noise_level& lv) { evaluate(x, i, 1, lv, probs_.data()); }
  /// π of other tokens y (rows()×L, e.g. an unconditional input) into out (rows()×L×V), as
  /// posterior() would compute it; counts one evaluation per row and leaves pi() as it was.
  void posterior_into(const_token_view y, const noise_level& lv, std::span<double> out) {
    evaluate(y, 0, rows_, lv, out.data());
  }

  /// π at (row i, position ℓ): V probabilities, shaped.
  std::span<const double> pi(std::size_t i, std::size_t l) const { return {probs_.data() + (i * length_ + l) * vocab_, vocab_}; }
  /// A scratch array of V doubles for a sampler's per-position weights.
  std::span<double> scratch() { return scratch_; }
  /// Marks row i as changed: its next posterior(…, reuse = true) calls the model.
  void changed(std::size_t i) { fresh_[i] = 0; }

  /// Flags x(i, ℓ) as given: samplers never move it.
  void give(std::size_t i, std::size_t l) {
    given_[i * length_ + l] = 1;
    any_given_ = true;
  }
  bool given(std::size_t i, std::size_t l) const { return given_[i * length_ + l] != 0; }
  /// Whether any position of the chunk is given.
  bool any_given() const { return any_given_; }

  /// The keyed uniform of (row i, step, stream offset, index).
  double uniform(std::size_t i, std::uint32_t step, std::uint32_t stream, std::uint64_t index) const {
    return random::uniform_at(seed_, global_row(i), step, draw_stream::of(stream), index);
  }
  /// A token drawn ∝ w (V weights) for (row i, position ℓ), skipping `exclude`; V if no weight is positive.
  std::size_t draw(std::span<const double> w, std::size_t i, std::uint32_t step, std::uint32_t stream, std::size_t l,
                   std::size_t exclude = std::size_t(-1)) {
    return gumbel_draw(w, seed_, global_row(i), step, draw_stream::of(stream), l, categorical_.precision, gumbel_, exclude);
  }
  /// Moves x(i, ℓ) with probability p_move to a token drawn ∝ w (the current token excluded);
  /// the coin is the uniform at index ℓ of stream `coin`, the token the Gumbel draw of stream `token`.
  bool jump(token_view x, std::size_t i, std::size_t l, double p_move, std::span<const double> w, std::uint32_t step,
            std::uint32_t coin = draw_stream::coin, std::uint32_t token = draw_stream::token) {
    if (p_move <= 0 || (p_move < 1 && uniform(i, step, coin, l) >= p_move)) return false;
    const std::size_t v = draw(w, i, step, token, l, std::size_t(x(i, l)));
    if (v >= vocab_) return false;  // no allowed target has weight
    x(i, l) = std::int32_t(v);
    changed(i);
    return true;
  }

  /// Model evaluations of row i so far.
  std::size_t nfe(std::size_t i) const { return nfe_[i]; }

 private:
  std::uint32_t global_row(std::size_t i) const { return std::uint32_t(first_row_ + i); }

  void evaluate(const_token_view x, std::size_t first, std::size_t count, const noise_level& lv, double* base) {
    const std::size_t per_row = length_ * vocab_;
    const std::span<double> out(base + first * per_row, count * per_row);
    if constexpr (conditional_denoiser<M>) {
      if (any_given_) (*model_)(x.rows_slice(first, count), given_view(given_.data(), rows_, length_).rows_slice(first, count), lv, out);
      else (*model_)(x.rows_slice(first, count), lv, out);
    } else {
      (*model_)(x.rows_slice(first, count), lv, out);
    }
    const discrete::kernel& k = process_.kernel;
    for (std::size_t i = first; i < first + count; ++i) {
      ++nfe_[i];
      if (base == probs_.data()) fresh_[i] = 1;
      for (std::size_t l = 0; l < length_; ++l) {
        const std::span<double> p(base + (i * length_ + l) * vocab_, vocab_);
        const int xl = x(i, l);
        if (k.masked() && xl != k.mask()) {  // carry-over: an unmasked token is its own x0
          std::fill(p.begin(), p.end(), 0.0);
          p[std::size_t(xl)] = 1;
          continue;
        }
        to_probabilities(p, xl, lv);
        if (!categorical_.is_identity()) shape_probabilities(p, categorical_, order_);
      }
    }
  }

  // Logits → softmax; ratios → π through the kernel (reverse.hpp's relations solved for π); then clip and normalise.
  void to_probabilities(std::span<double> p, int xl, const noise_level& lv) const {
    const output_kind kind = model_->outputs;
    if (kind == output_kind::logits) {
      simd::softmax(p.data(), p.size());
      return;
    }
    if (kind == output_kind::ratios && !process_.kernel.masked()) {
      // s_j = α w_j + β Σw with β = (1 − α)/V and Σw = Σ_j s_j, so π_j ∝ (s_j − β Σ s)·q_t(x | j).
      double s_sum = 0;
      for (double s : p) s_sum += s;
      const double beta = (1 - lv.alpha) / double(p.size());
      for (std::size_t j = 0; j < p.size(); ++j) p[j] = (p[j] - beta * s_sum) * (lv.alpha * (int(j) == xl) + beta);
    }  // masked ratios are α/(1 − α)·π: normalising is enough
    double z = 0;
    for (double& v : p) z += v = std::max(v, 0.0);
    if (z > 0)
      for (double& v : p) v /= z;
    else
      std::fill(p.begin(), p.end(), 1.0 / double(p.size()));
  }

  const M* model_;
  discrete::process process_;
  categorical_options categorical_;
  std::uint64_t seed_, first_row_;
  std::size_t rows_, length_, vocab_;
  std::vector<double> probs_;
  std::vector<std::uint8_t> given_;
  bool any_given_ = false;
  std::vector<unsigned char> fresh_;
  std::vector<std::size_t> nfe_;
  std::vector<std::size_t> order_;
  std::vector<double> scratch_;
  gumbel_workspace gumbel_;
};

}  // namespace ferry::discrete
