#pragma once
// What the discrete loop (sample.hpp) tells a sampler: the shape of the run once, before any step
// (a sampler's optional check(run_plan)), then each step (step_info). Samplers and their helpers
// include this header, not the loop.
#include <cstddef>
#include <cstdint>

namespace ferry::discrete {

/// One step of a block: from t to s < t over the block's positions [lo, hi).
struct step_info {
  std::uint32_t index = 0;  ///< global step number, block·K + k: the key of this step's draws
  double t = 1, s = 0;
  std::size_t lo = 0, hi = 0;
  bool last = false;             ///< the block's last step (s = 0, onto the data)
  std::size_t k = 0, steps = 0;  ///< step k of the block's K
};

/// The shape of a run. Positions before span_start are given in every row (a common prompt); the
/// generated span [span_start, L) is cut into blocks of block_size, the last one possibly shorter.
struct run_plan {
  std::size_t rows = 0, length = 0, vocab = 0;
  std::size_t span_start = 0;  ///< P: the first position to generate in any row (0 without init)
  std::size_t block_size = 0;  ///< B as asked (L − P when not given; above L − P: one block)
  std::size_t blocks = 0;
  std::size_t steps = 0;       ///< K, per block
  bool given = false;          ///< some row has given tokens (a prompt or infill)
};

}  // namespace ferry::discrete
