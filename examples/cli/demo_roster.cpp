// The samplers of `ferry demo`'s continuous part: one small list, so that a new solver name or a
// demo setting for one is a line here.
#include "demo_continuous.hpp"

namespace ferry::cli::demo {

/// Every registry name (dopri5 at rtol = atol = 1e-3: its error is set by the tolerance, the grid
/// only sets where it stops; SA-Solver with ComfyUI's noise interval of SD1, percent_to_sigma(0.2) …
/// (0.8), which EDM has no table to give), then Karras churn on euler and heun.
std::vector<entry> roster() {
  std::vector<entry> all;
  for (const std::string_view name : solver_names) {
    entry e{std::string(name), {}};
    e.settings.name = name;
    if (name == "dopri5") e.label = "dopri5 tol 1e-3", e.settings.rtol = e.settings.atol = 1e-3;
    if (name == "sa-solver" || name == "sa-solver-pece") e.settings.sde_start_sigma = 5.0924, e.settings.sde_end_sigma = 0.5712;
    all.push_back(std::move(e));
  }
  for (const char* name : {"euler", "heun"}) {
    entry e{std::string(name) + " churn 40", {}};
    e.settings.name = name, e.settings.s_churn = 40;
    all.push_back(std::move(e));
  }
  return all;
}

}  // namespace ferry::cli::demo
