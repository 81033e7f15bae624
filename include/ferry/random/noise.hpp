#pragma once
// Noise sources: where a stochastic solver's standard-normal arrays come from. The problem a
// solver steps (pf_ode) carries one; a solver asks it for "the normal array `stream` of step i"
// and never knows whether it is keyed Philox, injected from a file, or absent.
//
//   no_noise        deterministic runs (a stochastic solver refuses it at compile time)
//   keyed_noise     Philox keyed by (seed, global row, step, stream): fill_normal
//   injected_noise  W (S, K, N, D) given by the caller: draw k of step i is W[i, k] (K = 1: the
//                   (S, N, D) convention of diffusers/k-diffusion reference runs with injected noise)
// for_rows(offset) gives the source of a slice of rows that starts `offset` rows further on:
// the driver hands each thread or shard its own, so a row's noise never depends on the split.
#include <algorithm>
#include <concepts>
#include <type_traits>
#include <cstddef>
#include <cstdint>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/random/torch_generator.hpp"

namespace ferry {

/// A source of standard-normal arrays for step `step`, stream `stream`, rows of `out`.
template <class N, class T>
concept noise_source = requires(const N& n, std::size_t step, std::uint32_t stream, batch_view<T> out, std::uint64_t off) {
  n.normal(step, stream, out);
  { n.for_rows(off) } -> std::same_as<N>;
};

/// No randomness.
struct no_noise {
  static constexpr bool active = false;
  no_noise for_rows(std::uint64_t) const { return {}; }
};

/// The keyed generator: step i's stream s of global row r is fill_normal(seed, ·, r, i, s).
struct keyed_noise {
  static constexpr bool active = true;
  std::uint64_t seed = 0;       ///< the run's seed
  std::uint64_t first_row = 0;  ///< global index of the first row this source serves

  keyed_noise for_rows(std::uint64_t offset) const { return {seed, first_row + offset}; }
  template <class T>
  void normal(std::size_t step, std::uint32_t stream, batch_view<T> out) const {
    random::fill_normal(seed, out, first_row, std::uint32_t(step), stream);
  }
};

/// Draws given by the caller: W is (steps, draws, rows, cols) row-major; draw k of step i (its
/// stream k) is W[i, k]. `draws` = 1 is the (steps, rows, cols) file of diffusers/k-diffusion
/// reference runs (one array per step); ComfyUI's samplers draw up to three times per step.
template <class T>
struct injected_noise {
  static constexpr bool active = true;
  const T* w = nullptr;
  std::size_t steps = 0, rows = 0, cols = 0;  ///< W's shape (rows: the whole run's N)
  std::uint64_t first_row = 0;
  std::size_t draws = 1;                      ///< arrays per step (W's second axis)

  injected_noise for_rows(std::uint64_t offset) const {
    injected_noise r = *this;
    r.first_row += offset;
    return r;
  }
  void normal(std::size_t step, std::uint32_t stream, batch_view<T> out) const {
    if (stream >= draws)
      throw config_error(detail::cat("injected step noise gives ", draws, draws == 1 ? " normal array" : " normal arrays",
                                     " per step, but this solver draws ", stream + 1, " in step ", step + 1,
                                     "; give it as (S, K, N, D) with K >= ", stream + 1));
    if (step >= steps)
      throw shape_error(detail::cat("injected step noise has ", steps, " steps; step ", step + 1, " needs one more"));
    if (out.cols != cols || first_row + out.rows > rows)
      throw shape_error(detail::cat("injected step noise is (", steps, ", ", draws, ", ", rows, ", ", cols, "); rows ", first_row,
                                    "..", first_row + out.rows, " of dimension ", out.cols, " do not fit"));
    const T* src = w + ((step * draws + stream) * rows + first_row) * cols;
    std::copy(src, src + out.size(), out.data);
  }
};

/// Keyed, injected or a torch generator, chosen at run time (one solver instantiation for programs
/// such as the CLI that decide from their input): injected when `injected.w` is set, torch's when
/// `torch` is engaged, keyed otherwise. The keyed part keeps the seed (a Brownian tree keys on it).
template <class T>
struct runtime_noise {
  static constexpr bool active = true;
  keyed_noise keyed{};  // default member initialisers: a brace list may name the leading members only
  injected_noise<T> injected{};
  torch_noise<T> torch{};

  runtime_noise for_rows(std::uint64_t offset) const {
    return {keyed.for_rows(offset), injected.for_rows(offset), torch.for_rows(offset)};
  }
  bool is_injected() const { return injected.w != nullptr; }
  void normal(std::size_t step, std::uint32_t stream, batch_view<T> out) const {
    if (is_injected())
      injected.normal(step, stream, out);
    else if (torch.engaged())
      torch.normal(step, stream, out);
    else
      keyed.normal(step, stream, out);
  }
};

/// The keyed generator behind a noise source: keyed_noise itself, a run-time choice that is keyed, or
/// null (injected draws, no noise). Samplers that key their own structures (a Brownian tree) by the
/// seed and rows ask this.
template <class N>
const keyed_noise* keyed_source(const N& n) {
  if constexpr (std::is_same_v<N, keyed_noise>)
    return &n;
  else if constexpr (requires { n.keyed; n.is_injected(); })
    return n.is_injected() ? nullptr : &n.keyed;
  else
    return nullptr;
}

}  // namespace ferry
