#pragma once
// discrete::sample — the one loop of the discrete samplers. It starts every row at the noise law
// (all masks, or uniform tokens drawn at random::initial_noise_step), splits the positions into
// blocks of B decoded left to right (semi-autoregressive decoding, Arriola et al. 2025 / LLaDA,
// Nie et al. 2025; the masked kernel only, where later blocks simply stay masked), and walks each
// block over the uniform grid t_k = 1 − k/K, k = 0 … K, calling the sampler once per step
// (step index = block·K + k, the `step` of every keyed draw). Event-driven samplers
// (first-hitting) run a whole block themselves.
//
// Rows are independent: they run in chunks on OpenMP threads, each chunk with its own context
// and sampler copy, and every draw is keyed by the global row — so the tokens are bitwise the same
// for any thread count.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <vector>

#include "ferry/discrete/context.hpp"
#include "ferry/discrete/denoiser.hpp"
#include "ferry/discrete/process.hpp"
#include "ferry/random/normal.hpp"

namespace ferry::discrete {

/// One step of a block: from t to s < t over the block's positions [lo, hi).
struct step_info {
  std::uint32_t index = 0;  ///< global step number (the key of this step's draws)
  double t = 1, s = 0;
  std::size_t lo = 0, hi = 0;
  bool last = false;  ///< s = 0: the step that lands on the data
};

struct run_options {
  std::uint64_t seed = 0;
  std::size_t steps = 0;       ///< K, per block (ignored by event-driven samplers)
  std::size_t block_size = 0;  ///< B; 0: one block of all L positions
  int threads = 1;
  std::uint64_t first_row = 0;  ///< global index of x's first row (shards)
  categorical_options categorical;
};

struct run_stats {
  std::size_t steps = 0;    ///< steps per block × blocks (event-driven: events per row)
  std::size_t nfe_max = 0;  ///< the most model evaluations any row needed
  double nfe_mean = 0;      ///< model evaluations per row, averaged
};

namespace detail {
using ferry::detail::cat;
template <class S>
concept event_driven = requires { S::event_driven; } && S::event_driven;
}

/// Samples x (N×L tokens, overwritten) from the process's reverse chain with `sampler`, π from `model`.
template <class Sampler, denoiser M>
run_stats sample(const M& model, const process& p, const Sampler& sampler, token_view x, const run_options& o) {
  const std::size_t rows = x.rows, length = x.cols, vocab = p.kernel.vocab;
  if (vocab < 2) throw config_error(detail::cat("discrete::sample: vocabulary size ", vocab, "; expected at least 2"));
  if (model.vocab() != vocab)
    throw shape_error(detail::cat("discrete::sample: the model has V = ", model.vocab(), ", the process V = ", vocab));
  if (length == 0) throw shape_error("discrete::sample: sequences of length 0");
  if (!detail::event_driven<Sampler> && o.steps == 0) throw config_error("discrete::sample: steps must be at least 1");
  if (o.threads < 1) throw config_error(detail::cat("discrete::sample: threads must be at least 1, got ", o.threads));
  if (Sampler::masked_only && !p.kernel.masked())
    throw config_error(detail::cat("sampler ", Sampler::name, " needs the masked kernel"));
  const std::size_t block = o.block_size == 0 ? length : std::min(o.block_size, length);
  if (block < length && !p.kernel.masked())
    throw config_error("block decoding needs the masked kernel (later blocks stay masked)");
  o.categorical.validate();
  sampler.validate();
  random::detail::require_row_range(o.first_row, rows);

  const std::size_t blocks = (length + block - 1) / block;
  const std::size_t threads = std::min<std::size_t>(std::size_t(o.threads), std::max<std::size_t>(rows, 1));
  const std::size_t chunk = std::max<std::size_t>((rows + threads - 1) / threads, 1);
  const std::size_t chunks = (rows + chunk - 1) / chunk;
  std::vector<std::size_t> nfe_max(chunks, 0), nfe_sum(chunks, 0);
  std::vector<std::exception_ptr> errors(chunks);

  auto run_chunk = [&](std::size_t c) {
    try {
      const std::size_t first = c * chunk, count = std::min(chunk, rows - first);
      token_view xs = x.rows_slice(first, count);
      context<M> ctx(model, p, o.categorical, o.seed, o.first_row + first, count, length);
      Sampler s = sampler;
      s.reset(ctx);
      for (std::size_t i = 0; i < count; ++i)  // the noise law at t = 1
        for (std::size_t l = 0; l < length; ++l)
          xs(i, l) = p.kernel.masked()
                         ? p.kernel.mask()
                         : std::int32_t(std::min(vocab - 1, std::size_t(ctx.uniform(i, random::initial_noise_step, draw_stream::token, l) *
                                                                         double(vocab))));
      for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t lo = b * block, hi = std::min(length, lo + block);
        if constexpr (detail::event_driven<Sampler>) {
          s.run_block(ctx, xs, lo, hi);
        } else {
          for (std::size_t k = 0; k < o.steps; ++k) {
            const step_info st{std::uint32_t(b * o.steps + k), double(o.steps - k) / double(o.steps),
                               double(o.steps - k - 1) / double(o.steps), lo, hi, k + 1 == o.steps};
            s.step(ctx, st, xs);
          }
        }
      }
      for (std::size_t i = 0; i < count; ++i) {
        nfe_max[c] = std::max(nfe_max[c], ctx.nfe(i));
        nfe_sum[c] += ctx.nfe(i);
      }
    } catch (...) {
      errors[c] = std::current_exception();
    }
  };
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(int(threads))
  for (std::ptrdiff_t c = 0; c < std::ptrdiff_t(chunks); ++c) run_chunk(std::size_t(c));
#else
  for (std::size_t c = 0; c < chunks; ++c) run_chunk(c);
#endif
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  run_stats st;
  st.steps = detail::event_driven<Sampler> ? length : blocks * o.steps;
  for (std::size_t c = 0; c < chunks; ++c) {
    st.nfe_max = std::max(st.nfe_max, nfe_max[c]);
    st.nfe_mean += double(nfe_sum[c]);
  }
  st.nfe_mean /= double(std::max<std::size_t>(rows, 1));
  return st;
}

}  // namespace ferry::discrete
