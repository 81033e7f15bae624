#pragma once
// The flags that choose ferry's own noise process and grid (everything but a diffusers config):
// `ferry sample`, `ferry invert` and `ferry info` share them, and their meaning, here.
//
//   --process vp-linear | vp-cosine | ve | edm | flow [--shift S] [--num-train-timesteps N]
//             | discrete-vp [--beta-schedule B] [--beta-start b0] [--beta-end b1] [--num-train-timesteps N]
//   --grid KIND [its options]   or   --sigmas S.npy   (the exact σ list the run visits)
#include <CLI/CLI.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ferry/grid/grid_spec.hpp"
#include "ferry/process/discrete_vp.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/ve.hpp"
#include "ferry/process/vp_cosine.hpp"
#include "ferry/process/vp_linear.hpp"

namespace ferry::cli {

struct native_args {
  std::string process = "edm", grid = "karras";
  std::string sigmas;  ///< a .npy σ list: the run visits exactly these levels (replaces --grid)
  double shift = 1;
  std::optional<std::size_t> num_train_timesteps;
  std::string beta_schedule = "scaled_linear";
  double beta_start = 0.00085, beta_end = 0.012;
  std::optional<double> sigma_min, sigma_max, t_min, t_max, rho, alpha, beta, coeff, beta_d, beta_min, eps_s;
  std::optional<bool> final_zero;
};

/// Adds the process and grid flags; `native` marks each as excluded by --scheduler-config (or is
/// the identity where there is none). `invert`: --final-zero's help speaks of inversion. `sigmas`:
/// add --sigmas too (`ferry info` has its own, set_timesteps' argument).
template <class Native>
void add_native_options(CLI::App* cmd, native_args& a, Native&& native, bool invert, bool sigmas = true) {
  native(cmd->add_option("--process", a.process, "vp-linear | vp-cosine | ve | edm | flow | discrete-vp")->capture_default_str());
  native(cmd->add_option("--shift", a.shift, "flow: the time shift of its sigmas (SD3)")->capture_default_str());
  native(cmd->add_option("--num-train-timesteps", a.num_train_timesteps,
                         "discrete-vp: its table's length (default 1000); flow: a model's discrete sigma table of N entries"));
  native(cmd->add_option("--beta-schedule", a.beta_schedule, "discrete-vp: linear | scaled_linear | squaredcos_cap_v2")
             ->capture_default_str());
  native(cmd->add_option("--beta-start", a.beta_start, "discrete-vp: the first beta")->capture_default_str());
  native(cmd->add_option("--beta-end", a.beta_end, "discrete-vp: the last beta")->capture_default_str());
  auto* grid = native(cmd->add_option("--grid", a.grid,
                                      "uniform | uniform-logsnr | quadratic | karras | exponential | simple | sgm-uniform | normal | "
                                      "ddim-uniform | beta | linear-quadratic | kl-optimal | ays-sd1 | ays-sdxl | gits | "
                                      "polyexponential | vp")
                          ->capture_default_str());
  // Not excluded by --scheduler-config: with one it is set_timesteps' sigmas argument.
  if (sigmas)
    cmd->add_option("--sigmas", a.sigmas,
                    "the exact sigma list to visit, .npy 1-D float64, decreasing (edm/ve: sigma; flow: the flow sigma; "
                    "others: sigma/alpha); a final 0 steps to the data; replaces --grid. With --scheduler-config: "
                    "set_timesteps' sigmas (no final 0; the class appends what it appends)")
        ->excludes(grid);
  native(cmd->add_option("--sigma-min", a.sigma_min, "low end of the grid, as sigma/alpha (polyexponential, kl-optimal: their sigma_min)"));
  native(cmd->add_option("--sigma-max", a.sigma_max, "high end of the grid, as sigma/alpha (polyexponential, kl-optimal: their sigma_max)"));
  native(cmd->add_option("--t-min", a.t_min, "low end of the grid, in the process's time"));
  native(cmd->add_option("--t-max", a.t_max, "high end of the grid, in the process's time"));
  native(cmd->add_option("--final-zero", a.final_zero,
                         invert ? "invert: the grid's low end is the data's level, never sigma = 0 (default false)"
                                : "end with a step to sigma = 0 (default: true for karras, exponential and ComfyUI's schedulers)"));
  native(cmd->add_option("--rho", a.rho, "karras: its exponent (default 7); polyexponential: its rho (default 1)"));
  native(cmd->add_option("--alpha", a.alpha, "beta grid: alpha of its Beta distribution (default 0.6)"));
  native(cmd->add_option("--beta", a.beta, "beta grid: beta of its Beta distribution (default 0.6)"));
  native(cmd->add_option("--coeff", a.coeff, "gits: its coefficient, 0.80 to 1.50 in steps of 0.05 (default 1.20)"));
  native(cmd->add_option("--beta-d", a.beta_d, "vp grid: beta_d (default 19.9)"));
  native(cmd->add_option("--beta-min", a.beta_min, "vp grid: beta_min (default 0.1)"));
  native(cmd->add_option("--eps-s", a.eps_s, "vp grid: eps_s, its last t (default 1e-3)"));
}

template <class T>
using native_process = std::variant<vp_linear<T>, vp_cosine<T>, ve<T>, edm<T>, flow<T>, discrete_vp<T>>;

/// The process the flags name (one line naming the flag where they do not fit).
template <class T>
native_process<T> make_process(const native_args& a);

/// The grid the flags name, with `steps` steps.
template <class T>
grid_spec<T> make_grid_spec(const native_args& a, std::size_t steps);

/// --sigmas: the file's 1-D float64 list, finite, > 0 but for a final 0, strictly decreasing (one line
/// naming the file and the entry otherwise; a flow's bound σ <= 1 is levels_at_sigmas').
std::vector<double> read_sigmas(const std::string& path);

extern template native_process<double> make_process<double>(const native_args&);
extern template native_process<float> make_process<float>(const native_args&);
extern template grid_spec<double> make_grid_spec<double>(const native_args&, std::size_t);
extern template grid_spec<float> make_grid_spec<float>(const native_args&, std::size_t);

}  // namespace ferry::cli
