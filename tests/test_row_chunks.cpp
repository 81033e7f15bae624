// for_row_chunks (core/row_chunks.hpp): every row in exactly one chunk, chunk c at row c·chunk,
// one chunk inline on the caller's thread, and the first failing chunk's error whatever the threads.
#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "ferry/core/row_chunks.hpp"

namespace test_row_chunks {

using namespace ferry;

TEST_CASE("for_row_chunks covers every row once, in chunks starting at c * chunk", "[row_chunks]") {
  for (std::size_t rows : {0, 1, 7, 64, 65})
    for (std::size_t chunk : {1, 3, 16, 100})
      for (int threads : {1, 2, 5}) {
        std::vector<std::atomic<int>> seen(rows);
        std::vector<std::atomic<int>> starts(row_chunk_count(rows, chunk));
        std::atomic<int> calls{0}, misplaced{0};
        // No Catch assertion on the worker threads (Catch2 is not thread-safe): count, then check.
        for_row_chunks(rows, chunk, threads, [&](std::size_t first, std::size_t count) {
          ++calls;
          if (first % chunk != 0 || count != std::min(chunk, rows - first)) ++misplaced;
          ++starts[first / chunk];
          for (std::size_t i = first; i < first + count; ++i) ++seen[i];
        });
        INFO("rows " << rows << " chunk " << chunk << " threads " << threads);
        CHECK(misplaced == 0);
        CHECK(calls == int(row_chunk_count(rows, chunk)));
        for (auto& s : seen) CHECK(s == 1);
        for (auto& s : starts) CHECK(s == 1);
      }
  CHECK(row_chunk_count(0, 4) == 1);
  CHECK(row_chunk_count(9, 4) == 3);
  CHECK(even_row_chunk(9, 2) == 5);
  CHECK(even_row_chunk(0, 3) == 1);
}

TEST_CASE("for_row_chunks runs one chunk inline and rethrows the first failing chunk's error", "[row_chunks]") {
  const std::thread::id caller = std::this_thread::get_id();
  bool inline_call = false;
  for_row_chunks(10, 10, 4, [&](std::size_t first, std::size_t count) {
    inline_call = first == 0 && count == 10 && std::this_thread::get_id() == caller;
  });
  CHECK(inline_call);
  CHECK_THROWS_WITH(for_row_chunks(10, 20, 2, [](std::size_t, std::size_t) { throw std::runtime_error("single"); }), "single");
  for (int threads : {1, 2, 4}) {
    std::atomic<int> ran{0};
    auto failing = [&](std::size_t first, std::size_t) {
      ++ran;
      if (first / 2 == 1 || first / 2 == 3) throw std::runtime_error("chunk " + std::to_string(first / 2));
    };
    INFO("threads " << threads);
    CHECK_THROWS_WITH(for_row_chunks(10, 2, threads, failing), "chunk 1");
    CHECK(ran == 5);  // the other chunks still ran
  }
  CHECK_THROWS_AS(for_row_chunks(4, 1, 0, [](std::size_t, std::size_t) {}), config_error);
}

}  // namespace test_row_chunks
