#pragma once
// torch's seeds for a whole sampling run, as a diffusers pipeline spends its one `generator`:
// prepare_latents draws randn(latents shape, generator=g) first, then every
// scheduler.step(..., generator=g) that needs noise draws randn of the whole batch's shape again.
// One generator, whole-batch arrays, in call order — so, unlike ferry's keyed noise, a row's noise
// depends on the batch: sample 17 of a batch of 1000 is not sample 17 drawn alone.
//
// torch_noise<T> is that generator as a noise source (the noise_source concept, random/noise.hpp):
//   initial(out)             the generator's first array: the initial noise, rows of out
//   normal(step, stream, out) the array of the pair (step, stream): on the pair's first request
//                            the generator draws its next torch.randn((N, D), dtype=T); later
//                            requests (the other row chunks) read that array
//   for_rows(offset)         the same generator for the rows `offset` further on (threads, shards)
// The driver's row chunks run concurrently, each asking for its rows in the solver's order; a pair
// is drawn by whichever chunk asks first, under a lock, so the sequence of draws follows the
// solver's order, never the threads': any --threads gives the same bytes (a chunk that asks for the
// pairs in another order is refused). A shard (rows [b, e) of N) builds the source with the whole
// batch and its first row: it draws every array whole, as the single run does, and keeps its rows.
// An array is kept until every row of the process has asked for a later pair, then its buffer is
// reused: memory is one (N, D) array per pair still in use (chunks running one after another on a
// thread keep them all).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/random/torch_cpu.hpp"
#include "ferry/random/torch_cuda.hpp"

namespace ferry {

namespace random {

/// Which of torch's generators.
enum class torch_device { cpu, cuda };

/// The generator named by `name`: "torch-cpu", "torch-cuda", or nothing for "philox" (ferry's keyed
/// generator); config_error naming the option `what` otherwise.
inline std::optional<torch_device> parse_rng(std::string_view name, std::string_view what = "rng") {
  if (name == "philox") return std::nullopt;
  if (name == "torch-cpu") return torch_device::cpu;
  if (name == "torch-cuda") return torch_device::cuda;
  throw config_error(ferry::detail::cat(what, " \"", ferry::detail::escape(name), "\" is unknown",
                                        ferry::detail::did_you_mean(name, {"philox", "torch-cpu", "torch-cuda"}),
                                        "; expected philox, torch-cpu or torch-cuda"));
}
inline std::string_view rng_name(torch_device d) { return d == torch_device::cpu ? "torch-cpu" : "torch-cuda"; }

/// One torch generator chosen at run time: randn<T>(out) is the next torch.randn(out.size(), dtype=T).
class torch_generator {
 public:
  torch_generator(torch_device device, std::uint64_t seed, torch_cpu_kernel kernel = torch_cpu_kernel::avx2) {
    if (device == torch_device::cpu)
      g_.emplace<torch_cpu_generator>(seed, kernel);
    else
      g_.emplace<torch_cuda_generator>(seed);
  }
  torch_device device() const { return g_.index() == 0 ? torch_device::cpu : torch_device::cuda; }

  /// Whether randn<T> exists: torch-cpu draws float32 and float64, torch-cuda float32 only.
  template <class T>
  static bool draws(torch_device device) {
    return std::is_same_v<T, float> || device == torch_device::cpu;
  }
  template <class T>
  void randn(std::span<T> out) {
    if (auto* cpu = std::get_if<torch_cpu_generator>(&g_))
      cpu->randn(out);
    else if constexpr (std::is_same_v<T, float>)
      std::get<torch_cuda_generator>(g_).randn(out);
    else
      throw config_error("torch-cuda draws float32 only (the emulation of torch's CUDA randn is float32); run in float32");
  }

 private:
  std::variant<torch_cpu_generator, torch_cuda_generator> g_;
};

}  // namespace random

/// A torch generator for a run of N rows of dimension D (see the top of this file).
struct torch_noise_options {
  random::torch_device device = random::torch_device::cpu;
  std::uint64_t seed = 0;
  extent batch{};                    ///< (N, D) of the whole run: every draw is randn((N, D))
  std::uint64_t first_row = 0;       ///< the first row this process samples (a shard's start)
  std::optional<std::size_t> rows{}; ///< rows this process samples (default: N − first_row)
  random::torch_cpu_kernel kernel = random::torch_cpu_kernel::avx2;
};

template <class T>
class torch_noise {
 public:
  static constexpr bool active = true;

  torch_noise() = default;  ///< no generator: engaged() is false
  explicit torch_noise(const torch_noise_options& o) : first_row_(o.first_row) {
    const std::size_t n = o.batch.rows, d = o.batch.cols, rows = o.rows.value_or(n > o.first_row ? n - o.first_row : 0);
    if (n == 0 || d == 0) throw shape_error(ferry::detail::cat("torch_noise: batch (", n, ", ", d, ") is empty"));
    if (o.first_row > n || rows > n - o.first_row)
      throw shape_error(ferry::detail::cat("torch_noise: rows ", o.first_row, "..", o.first_row + rows, " exceed the batch's ", n));
    if (!random::torch_generator::draws<T>(o.device))
      throw config_error("torch_noise: torch-cuda draws float32 only (the emulation of torch's CUDA randn); run in float32");
    if (o.device == random::torch_device::cuda && n > (std::uint64_t(1) << 32) / d)
      throw domain_error(ferry::detail::cat("torch_noise: torch-cuda draws at most 2^32 elements per call; the batch has ", n, " x ", d));
    state_ = std::make_shared<state>(random::torch_generator(o.device, o.seed, o.kernel), o.batch, rows);
  }

  bool engaged() const { return state_ != nullptr; }
  torch_noise for_rows(std::uint64_t offset) const {
    torch_noise r = *this;
    r.first_row_ += offset;
    return r;
  }

  /// The initial noise: rows of the generator's first array. Ask for it before any step's draw
  /// (a run that starts from given noise skips it, as a pipeline given `latents` does).
  void initial(batch_view<T> out) const {
    const state& s = checked(out);
    std::lock_guard lock(state_->m);
    if (s.draws.empty())
      state_->draw_next(initial_step, 0, true);
    else if (!s.draws.front().initial)
      throw config_error("torch_noise: the initial noise is the generator's first draw, but the steps have drawn already");
    next_ = std::max<std::size_t>(next_, 1);
    copy(0, out);
  }

  /// Step `step`'s normal array `stream`, the rows of out.
  void normal(std::size_t step, std::uint32_t stream, batch_view<T> out) const {
    checked(out);
    std::lock_guard lock(state_->m);
    copy(locate(step, stream, out.rows), out);
  }

  /// Arrays drawn so far, the initial one included.
  std::size_t draws() const {
    std::lock_guard lock(state_->m);
    return state_->draws.size();
  }

 private:
  static constexpr std::size_t initial_step = ~std::size_t(0);
  struct drawn {
    std::size_t step;
    std::uint32_t stream;
    bool initial;
    std::vector<T> z;            // (N, D); empty once released
    std::size_t moved_on = 0;    // rows that have asked for a later pair
    bool released = false;
  };
  struct state {
    state(random::torch_generator g, extent b, std::size_t r) : gen(std::move(g)), batch(b), rows(r) {}
    std::mutex m;
    random::torch_generator gen;
    extent batch;
    std::size_t rows;                    // rows of this process: a pair is done when all moved on
    std::vector<drawn> draws;            // in the order drawn
    std::vector<std::vector<T>> spare;   // released buffers

    void draw_next(std::size_t step, std::uint32_t stream, bool initial) {
      std::vector<T> z;
      if (!spare.empty()) z = std::move(spare.back()), spare.pop_back();
      z.resize(batch.size());
      gen.randn(std::span<T>(z));
      draws.push_back({step, stream, initial, std::move(z)});
    }
    // `rows` rows have asked for the pair after p.
    void moved_past(std::size_t p, std::size_t n) {
      drawn& d = draws[p];
      d.moved_on += n;
      if (d.moved_on >= rows && !d.released) {
        spare.push_back(std::move(d.z));
        d.z = {};
        d.released = true;
      }
    }
  };

  const state& checked(batch_view<T> out) const {
    if (!state_) throw config_error("torch_noise: no generator (a default-constructed source)");
    const extent b = state_->batch;
    if (out.cols != b.cols || first_row_ + out.rows > b.rows)
      throw shape_error(ferry::detail::cat("torch_noise: rows ", first_row_, "..", first_row_ + out.rows, " of dimension ", out.cols,
                                           " are not in the generator's batch (", b.rows, ", ", b.cols, ")"));
    return *state_;
  }

  // The position of the pair's array in the draw sequence, drawing it if it is the generator's next.
  std::size_t locate(std::size_t step, std::uint32_t stream, std::size_t rows) const {
    state& s = *state_;
    auto is = [&](std::size_t p) { return !s.draws[p].initial && s.draws[p].step == step && s.draws[p].stream == stream; };
    if (next_ == 0 && !s.draws.empty() && s.draws.front().initial) next_ = 1;  // made before initial()
    if (next_ < s.draws.size() && is(next_)) {  // drawn by another chunk: this chunk's next pair
      if (next_ > 0) s.moved_past(next_ - 1, rows);
      return next_++;
    }
    for (std::size_t p = next_; p-- > 0;)
      if (is(p)) return p;  // asked again
    if (next_ < s.draws.size()) {
      const drawn& d = s.draws[next_];
      throw config_error(ferry::detail::cat("torch_noise: row chunks ask for the generator's draws in different orders (step ", step,
                                            " stream ", stream, " here, step ", d.step, " stream ", d.stream,
                                            " elsewhere); a torch generator needs the same order in every chunk"));
    }
    s.draw_next(step, stream, false);
    if (next_ > 0) s.moved_past(next_ - 1, rows);
    return next_++;
  }

  void copy(std::size_t p, batch_view<T> out) const {
    const drawn& d = state_->draws[p];
    if (d.released) {
      const std::string what = d.initial ? "the initial noise" : ferry::detail::cat("step ", d.step, " stream ", d.stream);
      throw config_error(ferry::detail::cat("torch_noise: the draw of ", what,
                                            " was released after every row moved on; a torch generator serves one run"));
    }
    const std::size_t cols = state_->batch.cols;
    std::copy_n(d.z.data() + first_row_ * cols, out.size(), out.data);
  }

  std::shared_ptr<state> state_;
  std::uint64_t first_row_ = 0;
  mutable std::size_t next_ = 0;  // this copy's position in the draw sequence
};

}  // namespace ferry
