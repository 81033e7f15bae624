#pragma once
// The figures of `ferry demo` (PNG, examples/common/plot.hpp):
//   samples.png           exact samples and a few samplers' samples over the true density
//   ode_error_vs_nfe.png  the ODE samplers' endpoint RMS and SW1 against NFE (log-log)
//   sde_error_vs_nfe.png  the stochastic samplers' SW1 against NFE
//   trajectories.png      paths of an ODE and an SDE sampler from the same noise
//   discrete_tv.png       the discrete samplers' TV against the steps K
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "demo_common.hpp"
#include "demo_continuous.hpp"
#include "demo_discrete.hpp"
#include "plot.hpp"

namespace ferry::cli::demo {

/// The density panels' setting: log p0 in filled bands over a square frame around the reference samples.
density_plot density_of(const mixture& gmm, const batch<double>& reference);

void samples_figure(const std::filesystem::path& path, const density_plot& dens,
                    const std::vector<std::pair<std::string, batch<double>>>& shown);

/// The error charts of the deterministic (stochastic = false) or the stochastic samplers.
void error_figure(const std::filesystem::path& path, const std::vector<entry>& samplers, const std::vector<result>& rows, bool stochastic,
                  double floor_sw1);

void discrete_figure(const std::filesystem::path& path, const std::vector<discrete_result>& rows);

/// 12 paths of dpmpp-2m and euler-ancestral (when the roster has them) from the first rows of z.
void trajectories_figure(const std::filesystem::path& path, const mixture& gmm, const std::vector<entry>& samplers, const batch<double>& z,
                         const density_plot& dens, const options& opt);

}  // namespace ferry::cli::demo
