// `ferry demo`: the library end to end on a distribution whose answer is known exactly.
//
// It samples a 2-D Gaussian mixture (built in, or --gmm FILE) with Euler on the probability-flow
// ODE of the EDM process, dx/dσ = (x − D(x; σ))/σ (Karras et al. 2022, Eq. 3; the model D is the
// mixture's exact posterior mean), over a Karras grid (Eq. 5), for several step counts, and prints
// how far each sample set is from the exact distribution. The 64-step samples go into demo.png
// over a heat map of the true density.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "commands.hpp"
#include "demo_gmm.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/solvers/driver.hpp"
#include "ferry/solvers/ode/euler.hpp"
#include "plot.hpp"

namespace ferry::cli {
namespace {

namespace fs = std::filesystem;
using mixture = gaussian_mixture<double>;

struct demo_options {
  fs::path out = ".";
  std::string gmm;  // empty: the built-in mixture
  std::size_t n = 2000;
  std::uint64_t seed = 0;
};

constexpr std::array<std::size_t, 6> step_counts = {4, 8, 16, 32, 64, 128};
constexpr std::size_t plotted_steps = 64;
constexpr std::size_t reference_size = 20000;  // exact samples that stand in for p0
constexpr std::size_t directions = 64;         // slicing directions of SW1

/// Euler on the EDM PF-ODE (k-diffusion's sample_euler: Karras et al. 2022, Alg. 2 without churn) over
/// the Karras grid σ_max → σ_min with σ = 0 appended, from x = σ_max·z.
batch<double> euler_samples(const mixture& gmm, std::size_t steps, const batch<double>& z) {
  const edm<double> process;
  mixture model = gmm;
  model.predicts = prediction::data;
  const schedule<double> sched = make_schedule(make_grid(process, {.kind = grid_kind::karras, .steps = steps}));
  batch<double> x(z.shape());
  simd::lincomb<double, 1>(x.view().span(), {sched.points.front().sigma}, {z.data()});
  euler<double> solver;
  sample(model, process, sched, solver, x.view());
  return x;
}

/// W1 between the empirical distributions of two sorted samples: ∫|F_a(t) − F_b(t)| dt.
double wasserstein1_sorted(const std::vector<double>& a, const std::vector<double>& b) {
  std::size_t i = 0, j = 0;
  double w = 0, prev = std::min(a.front(), b.front());
  while (i < a.size() || j < b.size()) {
    const bool take_a = j == b.size() || (i < a.size() && a[i] <= b[j]);
    const double t = take_a ? a[i] : b[j];
    w += std::abs(double(i) / double(a.size()) - double(j) / double(b.size())) * (t - prev);
    prev = t;
    (take_a ? i : j) += 1;
  }
  return w;
}

/// Sliced W1 (Rabin et al. 2011): W1 of the 1-D projections on fixed directions θ_k = π(k + ½)/K, averaged.
double sliced_w1(const batch<double>& x, const batch<double>& y) {
  double total = 0;
  std::vector<double> px(x.rows()), py(y.rows());
  for (std::size_t k = 0; k < directions; ++k) {
    const double th = std::numbers::pi * (double(k) + 0.5) / double(directions), c = std::cos(th), s = std::sin(th);
    for (std::size_t i = 0; i < x.rows(); ++i) px[i] = c * x(i, 0) + s * x(i, 1);
    for (std::size_t i = 0; i < y.rows(); ++i) py[i] = c * y(i, 0) + s * y(i, 1);
    std::sort(px.begin(), px.end());
    std::sort(py.begin(), py.end());
    total += wasserstein1_sorted(px, py);
  }
  return total / double(directions);
}

/// Mean of −log p0 over the rows: the cross-entropy of p0 under the samples' distribution.
double mean_nll(const mixture& gmm, const batch<double>& x) {
  double s = 0;
  for (std::size_t i = 0; i < x.rows(); ++i) s -= gmm.log_prob(x.view().row(i).data(), 1.0, 0.0);
  return s / double(x.rows());
}

mixture load_mixture(const std::string& path) {
  if (!path.empty()) return mixture::load(path);
  return mixture::from_json(nlohmann::json::parse(demo_gmm_json), std::string(demo_gmm_name));
}

void run_demo(const demo_options& opt) {
  const mixture gmm = load_mixture(opt.gmm);
  const std::string source = opt.gmm.empty() ? std::string(demo_gmm_name) : opt.gmm;
  if (gmm.dim() != 2)
    throw config_error(ferry::detail::cat("--gmm ", source, ": the demo plots 2-D mixtures, this one has dimension ", gmm.dim()));
  std::error_code ec;
  fs::create_directories(opt.out, ec);
  if (ec || !fs::is_directory(opt.out))
    throw io_error(ferry::detail::cat("--out ", opt.out.string(), ": not a directory and cannot be created",
                               ec ? ": " + ec.message() : std::string()));
  const fs::path png = opt.out / "demo.png";

  // The initial noise z and two independent exact sample sets, all from the one seed.
  std::mt19937_64 rng(opt.seed);
  std::normal_distribution<double> normal;
  batch<double> z(opt.n, 2), exact(opt.n, 2), reference(reference_size, 2);
  for (double& v : z.view().span()) v = normal(rng);
  gmm.sample(rng, reference.view());
  gmm.sample(rng, exact.view());
  const double entropy = mean_nll(gmm, reference);  // H(p0) ≈ E_p0[−log p0], estimated on the reference

  const edm<double> process;
  std::cout << "ferry demo: Euler on the EDM PF-ODE over a Karras grid (sigma " << process.sigma_min << ".."
            << process.sigma_max << ", rho 7, then 0)\n"
            << "mixture: " << gmm.components() << " components in 2-D (" << source << "), " << opt.n
            << " samples, seed " << opt.seed << "\n"
            << "entropy of p0 (mean -log p0 of " << reference_size << " exact samples): " << std::fixed
            << std::setprecision(4) << entropy << " nats\n\n"
            << " steps   NFE      SW1   NLL gap\n";
  batch<double> plotted;
  auto row = [&](const std::string& label, const std::string& nfe, const batch<double>& x) {
    std::cout << std::setw(6) << label << std::setw(6) << nfe << std::setw(9) << std::setprecision(4)
              << sliced_w1(x, reference) << std::setw(10) << std::showpos << mean_nll(gmm, x) - entropy
              << std::noshowpos << "\n";
  };
  for (const std::size_t steps : step_counts) {
    const batch<double> x = euler_samples(gmm, steps, z);
    row(std::to_string(steps), std::to_string(steps), x);
    if (steps == plotted_steps) plotted = x;
  }
  row("exact", "-", exact);
  std::cout << "\nSW1: sliced Wasserstein-1 distance to the exact samples, mean over " << directions
            << " fixed directions (the 'exact' row is the floor set by sampling noise).\n"
            << "NLL gap: mean -log p0 of the samples minus the entropy of p0; 0 when the samples follow p0.\n";

  // Frame: the reference samples' bounding box, padded by 8% and made square around its centre.
  double lo[2], hi[2];
  for (std::size_t d = 0; d < 2; ++d) {
    lo[d] = std::numeric_limits<double>::infinity();
    hi[d] = -lo[d];
    for (std::size_t i = 0; i < reference.rows(); ++i) lo[d] = std::min(lo[d], reference(i, d)), hi[d] = std::max(hi[d], reference(i, d));
  }
  const double half = 0.54 * std::max(hi[0] - lo[0], hi[1] - lo[1]);
  const double cx = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2;
  density_plot plot;
  plot.frame = {cx - half, cx + half, cy - half, cy + half};
  plot.log_density = [&](double x, double y) {
    const double p[2] = {x, y};
    return gmm.log_prob(p, 1.0, 0.0);
  };
  plot.title = ferry::detail::cat("p0 and ", opt.n, " Euler samples, ", plotted_steps, " steps");
  write_density_scatter_png(png, plot, plotted.view().span());
  std::cout << "wrote " << png.string() << "\n";
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto opt = std::make_shared<demo_options>();
  auto* cmd = app.add_subcommand("demo", "sample a 2-D Gaussian mixture, print errors vs steps, write demo.png");
  cmd->add_option("--out", opt->out, "directory for demo.png (created if missing)")
      ->type_name("DIR")
      ->capture_default_str();
  cmd->add_option("--gmm", opt->gmm, "mixture JSON {weights, means, stds|covs}; default: the built-in one")
      ->type_name("FILE");
  cmd->add_option("--n", opt->n, "number of samples")
      ->type_name("N")
      ->check(CLI::Range(std::size_t(2), std::size_t(1) << 24))
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of the initial noise and the exact samples")
      ->type_name("S")
      ->capture_default_str();
  cmd->callback([opt] { run_demo(*opt); });
}

}  // namespace ferry::cli
