#pragma once
// The ferry subcommands. Each lives in its own cmd_<name>.cpp and registers itself on the app
// (options + callback, which owns the options); main.cpp only calls add_commands and maps errors to
// exit codes. `run = false` registers a command that parses but does nothing (the CLI fuzz harness).
#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>

namespace ferry::cli {

/// A whole number in [lo, hi] written with digits only (so "-3" is rejected, not wrapped to 2^64 − 3).
inline CLI::Validator count_in(std::size_t lo, std::size_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        const bool digits = !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos;
        const std::size_t v = digits ? std::stoull(s) : 0;
        if (digits && v >= lo && v <= hi) return {};
        return "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got \"" + s + "\"";
      },
      "N");
}

/// `ferry version`: prints the library version.
void add_version_command(CLI::App& app, bool run = true);
/// `ferry demo`: every registry sampler on a 2-D Gaussian mixture and every masked discrete sampler on a
/// discrete mixture; writes error tables (markdown, CSV) and PNG figures (docs/cli.md).
void add_demo_command(CLI::App& app, bool run = true);
/// `ferry sample`: one run from unit noise, from a diffusers config or a process + grid + solver.
void add_sample_command(CLI::App& app, bool run = true);
/// `ferry invert`: data to noise along the PF-ODE (any ODE solver), or as diffusers' DDIMInverseScheduler.
void add_invert_command(CLI::App& app, bool run = true);
/// `ferry sample-discrete`: token sequences from a masked or uniform discrete diffusion (exact mixture oracle).
void add_sample_discrete_command(CLI::App& app, bool run = true);
/// `ferry likelihood`: log p(x) per row through the probability-flow ODE.
void add_likelihood_command(CLI::App& app, bool run = true);
/// `ferry info`: the timesteps and sigmas a diffusers scheduler config makes.
void add_info_command(CLI::App& app, bool run = true);
/// `ferry noise`: standard normals from ferry's keyed generator or torch's (CPU, CUDA), as .npy.
void add_noise_command(CLI::App& app, bool run = true);

/// Every subcommand, as `ferry` has them (main.cpp, and the CLI fuzz harness). With run = false
/// the commands parse and validate their options but their callbacks do nothing.
inline void add_commands(CLI::App& app, bool run = true) {
  add_version_command(app, run);
  add_demo_command(app, run);
  add_sample_command(app, run);
  add_invert_command(app, run);
  add_sample_discrete_command(app, run);
  add_info_command(app, run);
  add_likelihood_command(app, run);
  add_noise_command(app, run);
}

}  // namespace ferry::cli
