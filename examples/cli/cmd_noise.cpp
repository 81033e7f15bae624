// `ferry noise`: standard normals from one of the three generators (docs/randomness.md), as .npy:
//   philox      ferry's keyed generator: row i of the array is what `ferry sample --num-samples`
//               draws as row i's initial noise (seed, row, initial_noise_step)
//   torch-cpu   torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)
//   torch-cuda  the same on a CUDA generator, as A1111 and stable-diffusion.cpp emulate it (float32)
// --shape is N,D (or any number of positive dimensions: philox keys rows by the first and spreads
// the rest along each row; torch draws the flat array).
#include <algorithm>
#include <charconv>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/random/torch_generator.hpp"

namespace ferry::cli {
namespace {

struct noise_options {
  std::string rng = "philox", shape, dtype = "float32", out;
  std::uint64_t seed = 0;
};

// "N,D": one or more whole numbers ≥ 1, at most 2^32 elements in all.
std::vector<std::size_t> parse_shape(const std::string& spec) {
  const auto bad = [&](const std::string& why) {
    return config_error(detail::cat("--shape \"", detail::escape(spec), "\": ", why, "; expected N,D (positive whole numbers, e.g. 4,2)"));
  };
  std::vector<std::size_t> dims;
  std::size_t total = 1;
  for (std::size_t begin = 0;;) {
    const std::size_t end = std::min(spec.find(',', begin), spec.size());
    const char* b = spec.data() + begin;
    const char* e = spec.data() + end;
    std::size_t d = 0;
    const auto [ptr, ec] = std::from_chars(b, e, d);
    if (b == e || ptr != e || ec != std::errc{}) throw bad("not a list of whole numbers");
    if (d == 0) throw bad("a dimension is 0");
    if (d > (std::size_t(1) << 32) / total) throw bad("more than 2^32 elements");
    if (dims.size() == 8) throw bad("more than 8 dimensions");
    dims.push_back(d);
    total *= d;
    if (end == spec.size()) break;
    begin = end + 1;
  }
  return dims;
}

template <class T>
void draw_and_write(const noise_options& o, const std::vector<std::size_t>& shape, const std::optional<random::torch_device>& torch) {
  std::size_t cols = 1;
  for (std::size_t k = 1; k < shape.size(); ++k) cols *= shape[k];
  batch<T> z(shape[0], cols);
  if (torch)
    random::torch_generator(*torch, o.seed).randn(z.view().span());
  else
    random::fill_normal<T>(o.seed, z.view(), 0, random::initial_noise_step);
  io::write_npy<T>(o.out, z.data(), shape);
}

void run_noise(const noise_options& o) {
  const std::optional<random::torch_device> torch = random::parse_rng(o.rng, "--rng");
  if (o.dtype != "float32" && o.dtype != "float64")
    throw config_error(detail::cat("--dtype \"", detail::escape(o.dtype), "\" is unknown",
                                   detail::did_you_mean(o.dtype, {"float32", "float64"}), "; expected float32 or float64"));
  const bool f64 = o.dtype == "float64";
  if (f64 && torch == random::torch_device::cuda)
    throw config_error("--rng torch-cuda draws float32 only (the CPU emulation of torch's CUDA randn); use --dtype float32");
  const std::vector<std::size_t> shape = parse_shape(o.shape);
  if (f64)
    draw_and_write<double>(o, shape, torch);
  else
    draw_and_write<float>(o, shape, torch);
}

}  // namespace

void add_noise_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<noise_options>();
  auto* cmd = app.add_subcommand("noise", "write standard normals from ferry's keyed generator or torch's (CPU, CUDA) as .npy");
  cmd->add_option("--rng", opt->rng, "philox (ferry's keyed generator, default) | torch-cpu | torch-cuda");
  cmd->add_option("--seed", opt->seed, "the seed (torch: manual_seed's argument)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--shape", opt->shape, "N,D: the array's shape (philox: N rows of D)")->required();
  cmd->add_option("--dtype", opt->dtype, "float32 (default, torch.randn's) | float64");
  cmd->add_option("--out", opt->out, "where to write the array, .npy")->required();
  cmd->callback([opt, run] {
    if (run) run_noise(*opt);
  });
}

}  // namespace ferry::cli
