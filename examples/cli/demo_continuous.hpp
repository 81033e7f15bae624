#pragma once
// The continuous part of `ferry demo`: every sampler of the roster (the registry's solver_names, plus
// Karras churn on euler and heun) samples a 2-D Gaussian mixture (built in, or --gmm FILE) on the EDM
// process over Karras grids (k-diffusion's setting: σ from 80 to 0.002, ρ = 7, then 0) at several step
// counts, from one keyed seed, with the mixture's exact denoiser as the model. Each run is measured
// by SW1 and the NLL gap against p0 and, for the samplers that draw no noise, by the RMS distance to
// the exact PF-ODE endpoint of the same noise.
#include <array>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "demo_common.hpp"
#include "demo_metrics.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/runtime/solver_settings.hpp"

namespace ferry::cli::demo {

using mixture = gaussian_mixture<double>;

inline constexpr std::array<std::size_t, 5> step_counts = {4, 8, 16, 32, 64};

/// A sampler of the roster: a label and the registry settings that make it. `stochastic` comes
/// from the solver type (is_stochastic) on its first run.
struct entry {
  std::string label;
  solver_settings settings;
  bool stochastic = false;
};

/// The samplers of the continuous part, in the registry's order (demo_roster.cpp).
std::vector<entry> roster();

/// The Karras grid of the EDM process with `steps` steps (then σ = 0 when final_zero).
schedule<double> karras(std::size_t steps, bool final_zero = true);

/// Sees every step of a run when set (the run is then one chunk); one type, so that every
/// sampler is instantiated once for watched and unwatched runs.
struct step_tap {
  std::function<void(const step_report<double>&)> f;
  bool active() const { return bool(f); }
  void operator()(const step_report<double>& r) const {
    if (f) f(r);
  }
};

struct run_result {
  batch<double> x;
  std::size_t nfe = 0;
  bool stochastic = false;
};

/// One run of a sampler from x = σ_max·z; `tap` sees every step (then it runs on one thread).
run_result run_sampler(const mixture& gmm, const solver_settings& s, std::size_t steps, const batch<double>& z, const options& opt,
                       const step_tap& tap = {});

/// The exact PF-ODE endpoint of the same noise: DOPRI5 at 1e-10 down to σ_min, then x̂0 = D(x; σ_min).
batch<double> exact_endpoint(const mixture& gmm, const batch<double>& z);

/// A row of the table.
struct result {
  std::string label;
  bool stochastic = false;
  std::size_t steps = 0, nfe = 0;
  double sw1 = 0, nll_gap = 0, endpoint = 0, seconds = 0;  // endpoint: NaN for stochastic samplers
};

/// The continuous part's results, for the tables and figures.
struct continuous_results {
  std::vector<entry> samplers;                                // deterministic first, each kind in roster order
  std::vector<result> rows;                                   // in that order, steps ascending
  std::vector<std::pair<std::string, batch<double>>> shown;  // the runs samples.png shows
};

/// Every sampler of `samplers` at every step count from z (row i: sample i); `done` counts the
/// progress bar's items.
continuous_results run_continuous(const mixture& gmm, std::vector<entry> samplers, const batch<double>& z, const batch<double>& endpoint,
                                  const sliced_w1& sw1, double entropy, const options& opt, progress& bar, std::size_t& done);

/// results.csv and results.md (a row per sampler and step count, then the exact-sample floor); prints the Markdown.
void write_tables(const std::filesystem::path& dir, const std::vector<result>& rows, double floor_sw1, double floor_gap);

}  // namespace ferry::cli::demo
