#pragma once
// memo_denoiser<M>: a masked-kernel denoiser that remembers its answers. Under the masked kernel
// p(x0 | x_t) does not depend on t (the α factors cancel from Bayes' rule), so a model that ignores
// the noise level is a pure function of the row's tokens: a row seen before needs no evaluation.
// Ancestral sampling exploits this within a run (MDLM §3.3, discrete/context.hpp); the samplers that
// call the model at every step (τ-leaping, PC, confidence, …) mostly ask again about rows that did
// not change — with K = 64 steps and L = 12 positions, most steps move nothing in a given row.
//
// Each thread keeps its own direct-mapped table of the last rows it evaluated (rows of up to 12
// tokens below 32, packed 5 bits a token into one 64-bit key), so the wrapper stays const and
// lock-free; the answers are the model's own floats, bit for bit, whatever hits or misses (the
// table stores what the model wrote). NFE counts in run_stats are unchanged: they count calls as
// the sampler makes them.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <span>
#include <vector>

#include "ferry/core/scratch.hpp"
#include "ferry/discrete/denoiser.hpp"

namespace words {

template <ferry::discrete::denoiser M>
class memo_denoiser {
 public:
  static constexpr ferry::discrete::output_kind outputs = M::outputs;

  /// `slots` rows remembered per thread (a power of two).
  explicit memo_denoiser(const M& model, std::size_t slots = 8192) : model_(&model), slots_(std::bit_ceil(std::max<std::size_t>(slots, 1))) {}

  std::size_t vocab() const { return model_->vocab(); }

  void operator()(ferry::discrete::const_token_view x, const ferry::discrete::noise_level& lv, std::span<double> out) const {
    const std::size_t l = x.cols, per_row = l * model_->vocab();
    const bool packable = l <= 12 && std::all_of(x.data, x.data + x.size(), [](std::int32_t v) { return v >= 0 && v < 32; });
    if (!packable || out.size() != x.rows * per_row) return (*model_)(x, lv, out);  // no memo (the model checks the input)
    table& t = local();
    if (t.owner != id_ || t.per_row != per_row) t.reset(id_, slots_, per_row);
    // Rows not in the table are gathered, evaluated in one call, then stored and scattered.
    const ferry::detail::thread_scratch<std::int32_t> miss_tokens(x.size());
    const ferry::detail::thread_scratch<std::size_t> miss_rows(x.rows);
    std::size_t misses = 0;
    for (std::size_t i = 0; i < x.rows; ++i) {
      const std::uint64_t k = key(x, i);
      const std::size_t s = slot(k);
      if (t.keys[s] == k) {
        std::copy_n(t.values.data() + s * per_row, per_row, out.data() + i * per_row);
        continue;
      }
      std::copy_n(x.data + i * l, l, miss_tokens.data() + misses * l);
      miss_rows.data()[misses++] = i;
    }
    if (misses == 0) return;
    const ferry::detail::thread_scratch<double> miss_out(misses * per_row);
    (*model_)(ferry::discrete::const_token_view(miss_tokens.data(), misses, l), lv, std::span<double>(miss_out.data(), misses * per_row));
    for (std::size_t j = 0; j < misses; ++j) {
      const std::size_t i = miss_rows.data()[j];
      const double* v = miss_out.data() + j * per_row;
      std::copy_n(v, per_row, out.data() + i * per_row);
      const std::uint64_t k = key(x, i);
      const std::size_t s = slot(k);
      t.keys[s] = k;
      std::copy_n(v, per_row, t.values.data() + s * per_row);
    }
  }

 private:
  struct table {
    std::uint64_t owner = 0;
    std::size_t per_row = 0;
    std::vector<std::uint64_t> keys;  // empty slot: all ones (no row packs to it: tokens < 32, L ≤ 12)
    std::vector<double> values;
    void reset(std::uint64_t id, std::size_t slots, std::size_t row) {
      owner = id, per_row = row;
      keys.assign(slots, ~std::uint64_t(0));
      values.assign(slots * row, 0.0);
    }
  };
  static table& local() {
    thread_local table t;
    return t;
  }
  static std::uint64_t key(ferry::discrete::const_token_view x, std::size_t i) {
    std::uint64_t k = 0;
    for (std::size_t j = 0; j < x.cols; ++j) k = k << 5 | std::uint64_t(x(i, j) & 31);
    return k;
  }
  std::size_t slot(std::uint64_t k) const { return std::size_t((k * 0x9E3779B97F4A7C15ull) >> 40) & (slots_ - 1); }

  static std::uint64_t next_id() {
    static std::atomic<std::uint64_t> n{0};
    return ++n;
  }

  const M* model_;
  std::size_t slots_;
  std::uint64_t id_ = next_id();
};

}  // namespace words
