#pragma once
// What `ferry sample` and `ferry invert` share (both in cmd_sample.cpp, registered by cmd_sample.cpp
// and cmd_invert.cpp): their options and the one run over model × process × grid × solver, so an
// inversion and an SDEdit edit instantiate nothing a plain sampling run does not.
#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "ferry/solvers/registry.hpp"

namespace ferry::cli {

struct sample_options {
  std::string model, noise, step_noise, out, trajectory, scheduler_config, process = "edm", grid = "karras", solver = "euler",
      prediction, ode_time_name = "native", shard;
  std::size_t steps = 0, num_samples = 0;
  std::uint64_t seed = 0;
  int threads = 1;
  std::optional<double> sigma_min, sigma_max, t_min, t_max;
  std::optional<bool> final_zero;
  double rho = 7, shift = 1, rtol = 1e-5, atol = 1e-5;
  int order = 0;
  bool diffusers_rules = false, taylor_3m = false;
  solver_settings stochastic;  // eta, s_noise, s_churn, s_tmin, s_tmax, snr, solver_type, langevin_steps
  // SDEdit (sample --init X.npy --strength s): start from X noised to the grid's level n − int(n·s).
  std::string init;
  std::optional<double> strength;
  // ferry invert: the data X (--data) integrated from the grid's low end to its top.
  bool invert = false;
};

/// --model, --steps, --out, --threads, --trajectory, --scheduler-config and the process / grid /
/// solver options (with the stochastic samplers' ones when `stochastic`); returns --scheduler-config.
CLI::Option* add_run_options(CLI::App* cmd, sample_options& o, bool stochastic);

/// `ferry sample` (with --init: SDEdit) and `ferry invert`.
void run_sample(const sample_options& o);

}  // namespace ferry::cli
