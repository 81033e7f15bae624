// `ferry info`: the grid a diffusers scheduler config makes, exactly as its set_timesteps does.
#include <iomanip>
#include <memory>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/diffusers_timesteps.hpp"

namespace ferry::cli {
namespace {

struct info_options {
  std::string scheduler_config;
  std::size_t steps = 0;
  bool json = false;
};

void run_info(const info_options& o) {
  if (o.steps == 0) throw config_error("--steps must be at least 1");
  const compat::diffusers_config c = compat::load_diffusers_config(o.scheduler_config);
  for (const auto& w : c.warnings) std::cerr << "ferry: warning: " << w << "\n";
  const compat::diffusers_grid g = compat::set_timesteps(c, o.steps);
  if (o.json) {
    nlohmann::json j;
    j["timesteps"] = g.timesteps;
    if (c.kind != compat::scheduler_class::ddim) j["sigmas"] = g.sigmas;  // DDIM has no sigmas
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << compat::class_name(c.kind) << ", " << o.steps << " steps, init_noise_sigma " << std::setprecision(9)
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
  auto* cmd = app.add_subcommand("info", "print the timesteps and sigmas a diffusers scheduler config makes");
  cmd->add_option("--scheduler-config", opt->scheduler_config, "a diffusers scheduler_config.json")->required();
  cmd->add_option("--steps", opt->steps, "the argument to set_timesteps")->check(count_in(1, std::size_t(1) << 24))->required();
  cmd->add_flag("--json", opt->json, "print {\"timesteps\": [...], \"sigmas\": [...]} as JSON");
  cmd->callback([opt, run] {
    if (run) run_info(*opt);
  });
}

}  // namespace ferry::cli
