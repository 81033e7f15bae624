#pragma once
// What `ferry info` and `ferry sample` pass to a diffusers config's set_timesteps beside --steps:
//   --mu M             μ of dynamic shifting (ignored, with a warning, where the config does not shift)
//   --image-seq-len L  μ as the FLUX pipeline computes it from the config (calculate_shift)
//   --sigmas S.npy     the `sigmas` argument: a float64 1-D array, without the final 0 the class appends
// and the step count they imply when --steps is not given.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/diffusers_timesteps.hpp"
#include "ferry/core/error.hpp"
#include "ferry/io/npy.hpp"

namespace ferry::cli {

struct scheduler_flags {
  std::optional<double> mu;
  std::optional<std::size_t> image_seq_len;
  std::string sigmas;  ///< a .npy path, or empty
};

/// set_timesteps' arguments from the flags; `steps` (0 when --steps was not given) becomes the count
/// the sigmas imply.
inline compat::timestep_args timestep_args_of(const compat::diffusers_config& c, const scheduler_flags& f, std::size_t& steps) {
  using ferry::detail::cat;
  compat::timestep_args a;
  if (f.mu && f.image_seq_len) throw config_error("--mu and --image-seq-len both give mu; give one");
  a.mu = f.mu;
  if (f.image_seq_len) a.mu = compat::calculate_shift(c, double(*f.image_seq_len));
  if (!f.sigmas.empty()) {
    const io::npy_array s = io::read_npy(f.sigmas);
    if (s.dtype() != io::npy_dtype::f8 || s.shape.size() != 1)
      throw io_error(cat(ferry::detail::escape(f.sigmas), ": --sigmas must be a float64 1-D array, got ", io::npy_descr(s.dtype()), " of shape ",
                         io::detail::shape_string(s.shape)));
    const auto v = s.values<double>();
    a.sigmas = std::vector<double>(v.begin(), v.end());
    if (a.sigmas->empty()) throw io_error(cat(ferry::detail::escape(f.sigmas), ": --sigmas is empty"));
  } else if (steps == 0) {
    throw config_error("--steps is required (or --sigmas, whose length gives it)");
  }
  return a;
}

}  // namespace ferry::cli
