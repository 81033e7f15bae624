#pragma once
// What `ferry sample` and `ferry invert` take from the command line, the flags they share, and the
// run they share (sample_run.cpp: once per scalar type, through the run-time registry). Light on
// purpose: a command that only declares its flags includes this and CLI11, not the library.
#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "ferry/runtime/solver_settings.hpp"

namespace ferry::cli {

/// The parsed flags of `ferry sample` / `ferry invert`.
struct sample_args {
  std::string model, noise, step_noise, out, trajectory, scheduler_config, process = "edm", grid = "karras", solver = "euler",
      prediction, ode_time_name = "native", shard, dtype;  // dtype: float32 | float64, empty = the default rule
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
  // ferry invert: the data X (--data, kept in `init`) integrated from the grid's low end to its top.
  bool invert = false;
};

/// --model, --steps, --out, --threads, --dtype, --trajectory, --scheduler-config and the process /
/// grid / solver options (with the stochastic samplers' ones when `stochastic`); returns
/// --scheduler-config.
CLI::Option* add_run_options(CLI::App* cmd, sample_args& o, bool stochastic);

/// `ferry sample` (with --init: SDEdit) and `ferry invert`: checks the flags, reads the initial
/// state's file and runs in the --dtype (sample_run.cpp).
void run_sample(const sample_args& o);

/// The few-step solvers that need the mixture's exact flow map as their distilled model.
inline bool is_fewstep(const std::string& solver) { return solver == "consistency" || solver == "meanflow"; }

}  // namespace ferry::cli
