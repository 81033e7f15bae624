// `ferry info`: the grid a diffusers scheduler config makes, exactly as its set_timesteps does
// (with --mu / --image-seq-len / --sigmas as a pipeline passes them); without a config, the σ list of
// ferry's own --process and --grid (ComfyUI's schedulers among them), as grid_sigmas gives it.
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include <variant>
#include <vector>

#include "commands.hpp"
#include "native_args.hpp"
#include "scheduler_args.hpp"
#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/diffusers_timesteps.hpp"
#include "ferry/grid/grid.hpp"

namespace ferry::cli {
namespace {

struct info_options {
  std::string scheduler_config;
  std::size_t steps = 0;
  scheduler_flags flags;
  bool json = false;
  native_args native;  // without a config: --process, --grid and their options
};

// Native mode: the σ list of --grid on --process with --steps steps (grid_sigmas: high noise first,
// with the final 0 where the grid ends at the data; ComfyUI's schedulers give ComfyUI's list).
void run_native_info(const info_options& o) {
  if (o.flags.mu || o.flags.image_seq_len || !o.flags.sigmas.empty())
    throw config_error("--mu, --image-seq-len and --sigmas are set_timesteps' arguments; they need --scheduler-config");
  if (o.steps == 0) throw config_error("--steps is required (the grid's number of steps)");
  const std::vector<double> sigmas = std::visit([&](const auto& p) { return grid_sigmas(p, make_grid_spec<double>(o.native, o.steps)); },
                                                make_process<double>(o.native));
  if (o.json) {
    nlohmann::json j;
    j["sigmas"] = sigmas;
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "grid " << o.native.grid << " on " << o.native.process << ", " << sigmas.size() - 1 << " steps\n  i          sigma\n"
            << std::setprecision(9);
  for (std::size_t i = 0; i < sigmas.size(); ++i) std::cout << std::setw(3) << i << std::setw(15) << sigmas[i] << "\n";
}

void run_info(const info_options& o) {
  if (o.scheduler_config.empty()) return run_native_info(o);
  const compat::diffusers_config c = compat::load_diffusers_config(o.scheduler_config);
  for (const auto& w : c.warnings) std::cerr << "ferry: warning: " << w << "\n";
  std::size_t steps = o.steps;
  const compat::timestep_args args = timestep_args_of(c, o.flags, steps);
  const compat::diffusers_grid g = compat::set_timesteps(c, steps, args);
  for (const auto& w : g.warnings) std::cerr << "ferry: warning: " << w << "\n";
  if (o.json) {
    nlohmann::json j;
    j["timesteps"] = g.timesteps;
    if (!g.sigmas.empty()) j["sigmas"] = g.sigmas;  // PNDM, IPNDM, DDIM-like classes have none
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << compat::class_name(c.kind) << ", " << g.steps() << " steps, init_noise_sigma " << std::setprecision(9)
            << g.init_noise_sigma << "\n  i    timestep          sigma\n";
  for (std::size_t i = 0; i < g.timesteps.size() || i < g.sigmas.size(); ++i) {
    std::cout << std::setw(3) << i << std::setw(12) << (i < g.timesteps.size() ? std::to_string(g.timesteps[i]) : "-");
    if (i < g.sigmas.size()) std::cout << std::setw(15) << g.sigmas[i];
    std::cout << "\n";
  }
}

}  // namespace

void add_info_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<info_options>();
  auto* cmd = app.add_subcommand("info", "print the timesteps and sigmas a diffusers scheduler config makes, or the sigmas of a --process and --grid");
  auto* cfg = cmd->add_option("--scheduler-config", opt->scheduler_config,
                              "a diffusers scheduler_config.json (without it: ferry's --process and --grid)");
  // Native mode (no config): the process and grid flags `ferry sample` has, --sigmas aside.
  add_native_options(cmd, opt->native, [cfg](CLI::Option* o) { return o->excludes(cfg); }, false, false);
  cmd->add_option("--steps", opt->steps, "the argument to set_timesteps (optional with --sigmas)")->check(count_in(1, std::size_t(1) << 24));
  cmd->add_option("--mu", opt->flags.mu, "set_timesteps(mu=M): dynamic shifting (FLUX, LTX, Wan); ignored where the config does not shift");
  cmd->add_option("--image-seq-len", opt->flags.image_seq_len,
                  "mu as the FLUX pipeline's calculate_shift from the config's base/max_image_seq_len and base/max_shift")
      ->check(count_in(1, std::size_t(1) << 40));
  cmd->add_option("--sigmas", opt->flags.sigmas, "set_timesteps(sigmas=S): a float64 1-D .npy without the final sigma the class appends (EulerDiscrete: with it; EDMEuler: the ramp in [0, 1])");
  cmd->add_flag("--json", opt->json, "print {\"timesteps\": [...], \"sigmas\": [...]} as JSON (native mode: {\"sigmas\": [...]})");
  cmd->callback([opt, run] {
    if (run) run_info(*opt);
  });
}

}  // namespace ferry::cli
