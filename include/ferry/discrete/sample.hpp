#pragma once
// discrete::sample — the one loop of the discrete samplers. Every row starts at the noise law (all
// masks, or uniform tokens drawn at random::initial_noise_step), or from given tokens (init: a
// prompt or an infill template, the mask id V where to generate). The generated span [P, L) — P the
// first position any row generates — is cut into blocks of B decoded left to right
// (semi-autoregressive decoding, Arriola et al. 2025 / LLaDA, Nie et al. 2025; the masked kernel
// only, where later blocks simply stay masked), and each block walks the time grid
// 1 = t_0 > … > t_K = 0 (times.hpp: uniform by default, or the caller's, or the sampler's own),
// calling the sampler once per step (step index = block·K + k, the `step` of every keyed draw).
// Event-driven samplers (first-hitting) run a whole block themselves.
//
// A sampler may declare: `event_driven`; `total_steps` (run_options::steps counts every block's
// steps, as LLaDA's does); `uses_times = false` (it takes no grid: an explicit one is refused);
// `shapes_itself` (it applies its own temperature / top-k / top-p: run_options::categorical must be
// the identity); times(K) (its own default grid); check(run_plan) (limits that depend on the run,
// checked before the grid is made: plan.steps is run_options::steps per block there).
//
// Rows are independent: they run in chunks on OpenMP threads (for_row_chunks), each chunk with its
// own context and sampler copy, and every draw is keyed by the global row — so the tokens are
// bitwise the same for any thread count.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ferry/core/row_chunks.hpp"
#include "ferry/discrete/context.hpp"
#include "ferry/discrete/denoiser.hpp"
#include "ferry/discrete/process.hpp"
#include "ferry/discrete/step_info.hpp"
#include "ferry/discrete/times.hpp"
#include "ferry/random/normal.hpp"

namespace ferry::discrete {

struct run_options {
  std::uint64_t seed = 0;
  std::size_t steps = 0;       ///< K per block (a total_steps sampler: over all blocks); 0 with times: from them
  std::size_t block_size = 0;  ///< B; 0: one block of the generated span
  int threads = 1;
  std::uint64_t first_row = 0;  ///< global index of x's first row (shards)
  categorical_options categorical;
  std::vector<double> times{};  ///< the grid 1 = t_0 > … > t_K = 0 of every block; empty: the sampler's own, else uniform
  /// Given tokens, 1 row (every row) or x.rows rows of L: a token in [0, V) is given and never
  /// changes, V marks a position to generate. Empty: every position is generated.
  const_token_view init{};
};

struct run_stats {
  std::size_t steps = 0;    ///< steps per block × blocks (event-driven: the most events in a row)
  std::size_t nfe_max = 0;  ///< the most model evaluations any row needed
  double nfe_mean = 0;      ///< model evaluations per row, averaged
};

namespace detail {
using ferry::detail::cat;
template <class S>
concept event_driven = requires { S::event_driven; } && S::event_driven;
template <class S>
concept total_steps = requires { S::total_steps; } && S::total_steps;
template <class S>
concept timeless = requires { S::uses_times; } && !S::uses_times;
template <class S>
concept shapes_itself = requires { S::shapes_itself; } && S::shapes_itself;

}  // namespace detail

/// What init holds: the first position any row generates (the generated span's start P) and the
/// most positions a row generates.
struct init_shape {
  std::size_t span_start = 0, most_masked = 0;
};

/// Checks init (see run_options::init) against a batch of `rows` and a model of L = length, V = vocab.
inline init_shape check_init(const_token_view init, std::size_t rows, std::size_t length, std::size_t vocab) {
  using ferry::detail::cat;
  if (init.data == nullptr) return {0, length};
  if (init.cols != length)
    throw shape_error(cat("discrete::sample: init has rows of ", init.cols, " tokens; the model has L = ", length));
  if (init.rows != 1 && init.rows != rows)
    throw shape_error(cat("discrete::sample: init has ", init.rows, " rows; expected 1 (for every row) or ", rows));
  init_shape shape{length, 0};
  for (std::size_t i = 0; i < init.rows; ++i) {
    std::size_t masked = 0;
    for (std::size_t l = 0; l < length; ++l) {
      const std::int32_t v = init(i, l);
      if (v < 0 || std::size_t(v) > vocab)
        throw domain_error(cat("discrete::sample: init token ", v, " at row ", i, ", position ", l, " is outside [0, ", vocab,
                               "] (tokens 0..", vocab - 1, ", the mask ", vocab, " where to generate)"));
      if (std::size_t(v) == vocab) shape.span_start = std::min(shape.span_start, l), ++masked;
    }
    if (masked == 0)
      throw config_error(cat("discrete::sample: init row ", i, " has no masked position (the mask id ", vocab,
                             " marks the positions to generate)"));
    shape.most_masked = std::max(shape.most_masked, masked);
  }
  return shape;
}

/// Samples x (N×L tokens, overwritten) from the process's reverse chain with `sampler`, π from `model`.
template <class Sampler, denoiser M>
run_stats sample(const M& model, const process& p, const Sampler& sampler, token_view x, const run_options& o) {
  const std::size_t rows = x.rows, length = x.cols, vocab = p.kernel.vocab;
  if (vocab < 2) throw config_error(detail::cat("discrete::sample: vocabulary size ", vocab, "; expected at least 2"));
  if (model.vocab() != vocab)
    throw shape_error(detail::cat("discrete::sample: the model has V = ", model.vocab(), ", the process V = ", vocab));
  if (length == 0) throw shape_error("discrete::sample: sequences of length 0");
  if (o.threads < 1) throw config_error(detail::cat("discrete::sample: threads must be at least 1, got ", o.threads));
  if (Sampler::masked_only && !p.kernel.masked())
    throw config_error(detail::cat("sampler ", Sampler::name, " needs the masked kernel"));
  if (detail::shapes_itself<Sampler> && !o.categorical.is_identity())
    throw config_error(detail::cat("sampler ", Sampler::name,
                                   " applies its own temperature, top_k and top_p; leave run_options::categorical at its defaults"));
  if ((detail::timeless<Sampler> || detail::event_driven<Sampler>) && !o.times.empty())
    throw config_error(detail::cat("sampler ", Sampler::name, " takes no time grid; leave times empty"));
  o.categorical.validate();
  sampler.validate();
  random::detail::require_row_range(o.first_row, rows);
  const init_shape shape = check_init(o.init, rows, length, vocab);
  const std::size_t span_start = shape.span_start;  // a variable, not a binding: the chunk lambda captures it

  run_plan plan{.rows = rows, .length = length, .vocab = vocab, .span_start = span_start};
  const std::size_t span = length - span_start;
  plan.block_size = o.block_size == 0 ? span : o.block_size;  // B > span: one block (LLaDA refuses it)
  if (plan.block_size < span && !p.kernel.masked())
    throw config_error("discrete::sample: block decoding needs the masked kernel (later blocks stay masked)");
  plan.blocks = (span + plan.block_size - 1) / plan.block_size;
  for (std::size_t i = 0; o.init.data && i < o.init.rows && !plan.given; ++i)
    for (std::size_t l = 0; l < length; ++l) plan.given = plan.given || std::size_t(o.init(i, l)) != vocab;

  plan.steps = detail::total_steps<Sampler> ? o.steps / plan.blocks : o.steps;  // set from the grid below
  if constexpr (requires { sampler.check(plan); }) sampler.check(plan);

  std::vector<double> times;  // the grid every block walks
  if constexpr (!detail::event_driven<Sampler>) {
    std::size_t steps = o.steps;
    if constexpr (detail::total_steps<Sampler>) {
      if (steps % plan.blocks != 0)
        throw config_error(detail::cat("sampler ", Sampler::name, ": steps = ", steps, " is not a multiple of the ", plan.blocks,
                                       " blocks (steps count every block's)"));
      steps /= plan.blocks;
    }
    if (!o.times.empty()) times = make_times({.kind = grid_kind::custom, .steps = steps, .times = o.times});
    else if (steps == 0)
      throw config_error(detail::cat("discrete::sample: steps must be at least ", detail::total_steps<Sampler> ? plan.blocks : 1));
    else if constexpr (requires { sampler.times(steps); }) times = sampler.times(steps);
    else times = make_times({.kind = grid_kind::uniform, .steps = steps});
    plan.steps = times.size() - 1;
  }

  const std::size_t chunk = even_row_chunk(rows, o.threads);
  std::vector<std::size_t> nfe_max(row_chunk_count(rows, chunk), 0), nfe_sum(nfe_max.size(), 0);
  for_row_chunks(rows, chunk, o.threads, [&](std::size_t first, std::size_t count) {
    token_view xs = x.rows_slice(first, count);
    context<M> ctx(model, p, o.categorical, o.seed, o.first_row + first, count, length);
    Sampler s = sampler;
    s.reset(ctx);
    for (std::size_t i = 0; i < count; ++i)  // the noise law at t = 1, or the given tokens
      for (std::size_t l = 0; l < length; ++l) {
        const std::int32_t given = o.init.data ? o.init(o.init.rows == 1 ? 0 : first + i, l) : std::int32_t(vocab);
        if (std::size_t(given) != vocab) {
          xs(i, l) = given;
          ctx.give(i, l);
        } else {
          xs(i, l) = p.kernel.masked() ? p.kernel.mask()
                                       : std::int32_t(std::min(vocab - 1, std::size_t(ctx.uniform(i, random::initial_noise_step,
                                                                                                  draw_stream::token, l) *
                                                                                      double(vocab))));
        }
      }
    for (std::size_t b = 0; b < plan.blocks; ++b) {
      const std::size_t lo = span_start + b * plan.block_size, hi = std::min(length, lo + plan.block_size);
      if constexpr (detail::event_driven<Sampler>) {
        s.run_block(ctx, xs, lo, hi);
      } else {
        for (std::size_t k = 0; k < plan.steps; ++k)
          s.step(ctx, step_info{std::uint32_t(b * plan.steps + k), times[k], times[k + 1], lo, hi, k + 1 == plan.steps, k, plan.steps},
                 xs);
      }
    }
    const std::size_t c = first / chunk;
    for (std::size_t i = 0; i < count; ++i) {
      nfe_max[c] = std::max(nfe_max[c], ctx.nfe(i));
      nfe_sum[c] += ctx.nfe(i);
    }
  });
  run_stats st;
  st.steps = detail::event_driven<Sampler> ? shape.most_masked : plan.blocks * plan.steps;
  for (std::size_t c = 0; c < nfe_max.size(); ++c) {
    st.nfe_max = std::max(st.nfe_max, nfe_max[c]);
    st.nfe_mean += double(nfe_sum[c]);
  }
  st.nfe_mean /= double(std::max<std::size_t>(rows, 1));
  return st;
}

}  // namespace ferry::discrete
