#pragma once
// for_row_chunks — the one row-chunk runner of ferry's sampling loops. Rows are independent
// samples, so [0, rows) is cut into chunks of `chunk` rows (the last may be shorter) and
// run(first, count) is called once per chunk; the chunks run concurrently on up to `threads`
// OpenMP threads, static schedule. A chunk's exception is caught in that chunk and, once every
// chunk has finished, the first one in chunk order is rethrown, so the error a caller sees does not
// depend on the thread count. A single chunk runs inline on the calling thread (no parallel region;
// its exception propagates as it is). Chunk c starts at row c·chunk: a caller keeping per-chunk
// results indexes them by first / chunk (row_chunk_count sizes them).
#include <algorithm>
#include <cstddef>
#include <exception>
#include <vector>

#include "ferry/core/error.hpp"

namespace ferry {

/// The number of chunks of `chunk` rows (at least 1) that cover `rows` rows; 1 for rows = 0.
inline std::size_t row_chunk_count(std::size_t rows, std::size_t chunk) {
  chunk = std::max<std::size_t>(chunk, 1);
  return std::max<std::size_t>((rows + chunk - 1) / chunk, 1);
}

/// The chunk size that splits `rows` evenly over `threads`: ⌈rows/threads⌉, at least 1.
inline std::size_t even_row_chunk(std::size_t rows, int threads) {
  const auto n = std::size_t(std::max(threads, 1));
  return std::max<std::size_t>((rows + n - 1) / n, 1);
}

/// Calls run(first, count) for the chunks of `chunk` rows of [0, rows), on up to `threads` threads.
template <class Run>
void for_row_chunks(std::size_t rows, std::size_t chunk, int threads, Run&& run) {
  if (threads < 1) throw config_error(detail::cat("for_row_chunks: threads = ", threads, "; expected at least 1"));
  chunk = std::max<std::size_t>(chunk, 1);
  const std::size_t chunks = row_chunk_count(rows, chunk);
  if (chunks == 1) {
    run(std::size_t(0), rows);
    return;
  }
  std::vector<std::exception_ptr> errors(chunks);
  auto one = [&](std::size_t c) {
    try {
      const std::size_t first = c * chunk;
      run(first, std::min(chunk, rows - first));
    } catch (...) {
      errors[c] = std::current_exception();
    }
  };
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::ptrdiff_t c = 0; c < std::ptrdiff_t(chunks); ++c) one(std::size_t(c));
#else
  for (std::size_t c = 0; c < chunks; ++c) one(c);
#endif
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace ferry
