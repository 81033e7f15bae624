#pragma once
// The ferry subcommands. Each lives in its own cmd_<name>.cpp and registers itself on the app
// (options + callback); main.cpp only calls the add_*_command functions and maps errors to exit codes.
#include <CLI/CLI.hpp>

namespace ferry::cli {

/// `ferry version`: prints the library version.
void add_version_command(CLI::App& app);
/// `ferry demo`: samples a 2-D Gaussian mixture with Euler on the EDM PF-ODE, prints errors vs steps, writes demo.png.
void add_demo_command(CLI::App& app);
/// `ferry sample`: one run from unit noise, from a diffusers config or a process + grid + solver.
void add_sample_command(CLI::App& app);
/// `ferry likelihood`: log p(x) per row through the probability-flow ODE.
void add_likelihood_command(CLI::App& app);
/// `ferry info`: the timesteps and sigmas a diffusers scheduler config makes.
void add_info_command(CLI::App& app);

}  // namespace ferry::cli
