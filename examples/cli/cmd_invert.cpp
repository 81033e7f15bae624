// `ferry invert`: data to noise along the probability-flow ODE, the sampling grid reversed
// (solvers/inversion.hpp), or as diffusers' DDIMInverseScheduler with --scheduler-config
// (compat/diffusers_inverse.hpp). The run itself is `ferry sample`'s (sample_run.cpp), so the
// latents it writes sample back to the data with `ferry sample --noise Z.npy` over the same grid.
#include <memory>

#include "commands.hpp"
#include "sample_args.hpp"

namespace ferry::cli {

void add_invert_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<sample_args>();
  opt->invert = true;
  auto* cmd = app.add_subcommand("invert", "integrate data to noise along the probability-flow ODE (deterministic inversion)");
  add_run_options(cmd, *opt, false);
  cmd->add_option("--data", opt->init, "the data x, .npy (N, D) float32 or float64: the state at the grid's low end")->required();
  cmd->add_option("--out", opt->out, "where to write the latents, .npy in the dtype of the data")->required();
  cmd->callback([opt, run] {
    if (run) run_sample(*opt);
  });
}

}  // namespace ferry::cli
