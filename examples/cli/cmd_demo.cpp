// `ferry demo`: the library end to end on a distribution whose answer is known exactly.
//
// Every sampler of the registry, deterministic and stochastic, samples a 2-D Gaussian mixture
// (built in, or --gmm FILE) on the EDM process over a Karras grid (k-diffusion's setting: σ from 80
// to 0.002, ρ = 7, then 0) at several step counts, from one keyed seed. For each run it measures
//   SW1       sliced Wasserstein-1 distance to exact samples of p0 (every sampler),
//   NLL gap   mean −log p0 of the samples minus the entropy of p0,
//   endpoint  RMS distance to the exact PF-ODE endpoint of the same noise (ODE samplers; the
//             reference is DOPRI5 at rtol = atol = 1e-10 down to σ_min, then the model's x̂0),
// and writes into --out DIR (default ferry-demo/): results.md and results.csv (a row per sampler
// and step count), samples.png (samples over the true density for several samplers),
// error_vs_nfe.png (both errors against NFE, log-log, with a legend) and trajectories.png (paths of
// an ODE and an SDE sampler from the same noise).
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "demo_gmm.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/io/atomic_file.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/driver.hpp"
#include "ferry/solvers/registry.hpp"
#include "plot.hpp"

namespace ferry::cli {
namespace {

namespace fs = std::filesystem;
using mixture = gaussian_mixture<double>;

struct demo_options {
  fs::path out = "ferry-demo";
  std::string gmm;  // empty: the built-in mixture
  std::size_t n = 2000;
  std::uint64_t seed = 0;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
};

constexpr std::array<std::size_t, 5> step_counts = {4, 8, 16, 32, 64};
constexpr std::size_t reference_size = 20000;  // exact samples that stand in for p0
constexpr std::size_t directions = 64;         // slicing directions of SW1

/// A sampler of the roster: a label and the registry settings that make it.
struct entry {
  std::string label;
  solver_settings settings;
  bool stochastic = false;
};

solver_settings named(const char* name) {
  solver_settings s;
  s.name = name;
  return s;
}
solver_settings churned(const char* name, double s_churn) {
  solver_settings s = named(name);
  s.s_churn = s_churn;
  return s;
}

/// Deterministic samplers first, then stochastic ones; names the registry does not know are skipped.
std::vector<entry> roster() {
  std::vector<entry> all = {
      {"euler", named("euler"), false},       {"heun", named("heun"), false},         {"rk4", named("rk4"), false},
      {"ddim", named("ddim"), false},         {"dpmpp-2m", named("dpmpp-2m"), false}, {"dpmpp-3m", named("dpmpp-3m"), false},
      {"dpmpp-2s", named("dpmpp-2s"), false}, {"unipc", named("unipc"), false},       {"deis", named("deis"), false},
      {"lms", named("lms"), false},
      {"euler-ancestral", named("euler-ancestral"), true},
      {"dpmpp-2s-ancestral", named("dpmpp-2s-ancestral"), true},
      {"dpmpp-sde", named("dpmpp-sde"), true},
      {"dpmpp-2m-sde", named("dpmpp-2m-sde"), true},
      {"dpmpp-3m-sde", named("dpmpp-3m-sde"), true},
      {"euler-maruyama", named("euler-maruyama"), true},
      {"euler churn 40", churned("euler", 40), true},
      {"heun churn 40", churned("heun", 40), true},
  };
  std::vector<entry> known;
  for (auto& e : all)
    if (std::find(solver_names.begin(), solver_names.end(), e.settings.name) != solver_names.end()) known.push_back(std::move(e));
  return known;
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

/// Sliced W1 (Rabin et al. 2011) to a fixed reference: W1 of the 1-D projections on the directions
/// θ_k = π(k + ½)/K, averaged; the reference's sorted projections are computed once.
class sliced_w1 {
 public:
  explicit sliced_w1(const batch<double>& ref) : proj_(directions) {
    for (std::size_t k = 0; k < directions; ++k) proj_[k] = project(ref, k);
  }
  double operator()(const batch<double>& x) const {
    double total = 0;
    for (std::size_t k = 0; k < directions; ++k) total += wasserstein1_sorted(project(x, k), proj_[k]);
    return total / double(directions);
  }

 private:
  static std::vector<double> project(const batch<double>& x, std::size_t k) {
    const double th = std::numbers::pi * (double(k) + 0.5) / double(directions), c = std::cos(th), s = std::sin(th);
    std::vector<double> p(x.rows());
    for (std::size_t i = 0; i < x.rows(); ++i) p[i] = c * x(i, 0) + s * x(i, 1);
    std::sort(p.begin(), p.end());
    return p;
  }
  std::vector<std::vector<double>> proj_;
};

/// Mean of −log p0 over the rows: the cross-entropy of p0 under the samples' distribution.
double mean_nll(const mixture& gmm, const batch<double>& x) {
  double s = 0;
  for (std::size_t i = 0; i < x.rows(); ++i) s -= gmm.log_prob(x.view().row(i).data(), 1.0, 0.0);
  return s / double(x.rows());
}

double rms_distance(const batch<double>& a, const batch<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a.data()[i] - b.data()[i]) * (a.data()[i] - b.data()[i]);
  return std::sqrt(s / double(a.rows()));
}

mixture load_mixture(const std::string& path) {
  if (!path.empty()) return mixture::load(path);
  return mixture::from_json(nlohmann::json::parse(demo_gmm_json), std::string(demo_gmm_name));
}

using problem_type = pf_ode<edm<double>, mixture, no_transform, keyed_noise>;

schedule<double> karras(std::size_t steps, bool final_zero = true) {
  grid_spec<double> spec{.kind = grid_kind::karras, .steps = steps};
  spec.final_zero = final_zero;
  return make_schedule(make_grid(edm<double>{}, spec));
}

/// Sees every step of a run when set (the run is then one chunk); one type, so that every
/// sampler is instantiated once for watched and unwatched runs.
struct step_tap {
  std::function<void(const step_report<double>&)> f;
  bool active() const { return bool(f); }
  void operator()(const step_report<double>& r) const {
    if (f) f(r);
  }
};

/// One run of a sampler from x = σ_max·z; `tap` sees every step (then it runs on one thread).
batch<double> run_sampler(const mixture& gmm, const solver_settings& s, std::size_t steps, const batch<double>& z,
                          const demo_options& opt, std::size_t& nfe, const step_tap& tap = {}) {
  const edm<double> process;
  mixture model = gmm;
  model.predicts = prediction::data;
  const schedule<double> sched = karras(steps);
  batch<double> x(z.shape());
  simd::lincomb<double, 1>(x.view().span(), {sched.points.front().sigma}, {z.data()});
  problem_type problem(process, model, {}, keyed_noise{opt.seed, 0});
  const sample_options run{.threads = tap.active() ? 1 : opt.threads};
  nfe = with_solver(s, [&](auto solver) { return ferry::sample(problem, sched, solver, x.view(), tap, run).nfe; });
  return x;
}

/// The exact PF-ODE endpoint of the same noise: DOPRI5 at 1e-10 down to σ_min, then x̂0 = D(x; σ_min).
batch<double> exact_endpoint(const mixture& gmm, const batch<double>& z, const demo_options& opt) {
  dopri5<double> solver({.rtol = 1e-10, .atol = 1e-10, .time = ode_time::lambda});
  const edm<double> process;
  mixture model = gmm;
  model.predicts = prediction::data;
  const schedule<double> sched = karras(64, false);
  batch<double> x(z.shape());
  simd::lincomb<double, 1>(x.view().span(), {sched.points.front().sigma}, {z.data()});
  problem_type problem(process, model, {}, keyed_noise{opt.seed, 0});
  ferry::sample(problem, sched, solver, x.view());
  batch<double> x0(x.shape());
  model(x.view(), sched.points.back(), x0.view());
  return x0;
}

/// A progress bar on a terminal, plain lines otherwise (both on stderr).
class progress {
 public:
  explicit progress(std::size_t total) : total_(total), tty_(isatty(STDERR_FILENO) == 1) {}
  void update(std::size_t done, const std::string& what) {
    if (tty_) {
      const int width = 30, filled = int(double(width) * double(done) / double(total_));
      std::cerr << "\r[" << std::string(std::size_t(filled), '#') << std::string(std::size_t(width - filled), '.') << "] "
                << std::setw(3) << done << "/" << total_ << " " << std::left << std::setw(28) << what << std::right << std::flush;
      if (done == total_) std::cerr << "\n";
    } else if (done == total_ || what != last_) {
      std::cerr << "ferry demo: " << done << "/" << total_ << " " << what << "\n";
    }
    last_ = what;
  }

 private:
  std::size_t total_;
  bool tty_;
  std::string last_;
};

struct result {
  const entry* who;
  std::size_t steps, nfe;
  double sw1, nll_gap, endpoint, seconds;  // endpoint: NaN for stochastic samplers
};

std::string fmt(double v, int precision = 4) {
  if (!std::isfinite(v)) return "";
  std::ostringstream os;
  os << std::setprecision(precision) << v;
  return os.str();
}

void write_tables(const fs::path& dir, const std::vector<result>& rows, double floor_sw1, double floor_gap) {
  std::ostringstream csv, md;
  csv << "sampler,kind,steps,nfe,sw1,nll_gap,endpoint_rms,seconds\n";
  md << "| sampler | kind | steps | NFE | SW1 | NLL gap | endpoint RMS |\n|---|---|---:|---:|---:|---:|---:|\n";
  for (const result& r : rows) {
    const char* kind = r.who->stochastic ? "sde" : "ode";
    csv << r.who->label << "," << kind << "," << r.steps << "," << r.nfe << "," << fmt(r.sw1, 6) << "," << fmt(r.nll_gap, 6)
        << "," << fmt(r.endpoint, 6) << "," << fmt(r.seconds, 4) << "\n";
    md << "| " << r.who->label << " | " << kind << " | " << r.steps << " | " << r.nfe << " | " << fmt(r.sw1) << " | "
       << fmt(r.nll_gap, 3) << " | " << fmt(r.endpoint, 3) << " |\n";
  }
  csv << "exact,exact,,," << fmt(floor_sw1, 6) << "," << fmt(floor_gap, 6) << ",,\n";
  md << "| exact samples | | | | " << fmt(floor_sw1) << " | " << fmt(floor_gap, 3) << " | |\n";
  io::write_file_atomically(dir / "results.csv", csv.str());
  io::write_file_atomically(dir / "results.md", md.str());
  std::cout << md.str();
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
  const auto start = std::chrono::steady_clock::now();

  // The initial noise (keyed: row i is sample i) and two independent exact sample sets.
  batch<double> z(opt.n, 2), exact(opt.n, 2), reference(reference_size, 2);
  random::fill_normal(opt.seed, z.view(), 0, random::initial_noise_step);
  std::mt19937_64 rng(opt.seed);  // the exact sampler of the mixture takes a standard URBG
  gmm.sample(rng, reference.view());
  gmm.sample(rng, exact.view());
  const double entropy = mean_nll(gmm, reference);  // H(p0) ≈ E_p0[−log p0]
  const sliced_w1 sw1(reference);
  const double floor_sw1 = sw1(exact), floor_gap = mean_nll(gmm, exact) - entropy;

  const std::vector<entry> samplers = roster();
  std::cout << "ferry demo: " << samplers.size() << " samplers on the EDM process over Karras grids (sigma 80..0.002, rho 7, then 0)\n"
            << "mixture: " << gmm.components() << " components in 2-D (" << source << "), " << opt.n << " samples, seed "
            << opt.seed << ", " << opt.threads << " threads\n\n";
  progress bar(samplers.size() * step_counts.size() + 1);
  bar.update(0, "exact PF-ODE endpoint");
  const batch<double> endpoint = exact_endpoint(gmm, z, opt);

  std::vector<result> rows;
  std::vector<std::pair<std::string, batch<double>>> shown;  // samples for samples.png
  std::size_t done = 1;
  for (const entry& e : samplers)
    for (const std::size_t steps : step_counts) {
      bar.update(done, e.label + ", " + std::to_string(steps) + " steps");
      const auto t0 = std::chrono::steady_clock::now();
      std::size_t nfe = 0;
      const batch<double> x = run_sampler(gmm, e.settings, steps, z, opt, nfe);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rows.push_back({&e, steps, nfe, sw1(x), mean_nll(gmm, x) - entropy,
                      e.stochastic ? std::numeric_limits<double>::quiet_NaN() : rms_distance(x, endpoint), secs});
      const bool show = (steps == 8 && (e.label == "euler" || e.label == "dpmpp-2m")) ||
                        (steps == 32 && (e.label == "euler-ancestral" || e.label == "dpmpp-2m-sde" || e.label == "dpmpp-sde"));
      if (show) shown.emplace_back(ferry::detail::cat(e.label, ", ", steps, " steps"), x);
      bar.update(++done, e.label + ", " + std::to_string(steps) + " steps");
    }
  std::cout << "\n";
  write_tables(opt.out, rows, floor_sw1, floor_gap);
  std::cout << "\nSW1: sliced Wasserstein-1 distance to " << reference_size << " exact samples (mean over " << directions
            << " directions); the 'exact samples' row is the floor that sampling noise sets.\n"
            << "NLL gap: mean -log p0 of the samples minus the entropy of p0.\n"
            << "endpoint RMS: distance to the exact PF-ODE endpoint of the same noise (ODE samplers).\n";

  // ---- figures ------------------------------------------------------------------------------------
  double lo[2], hi[2];
  for (std::size_t d = 0; d < 2; ++d) {
    lo[d] = std::numeric_limits<double>::infinity(), hi[d] = -lo[d];
    for (std::size_t i = 0; i < reference.rows(); ++i) lo[d] = std::min(lo[d], reference(i, d)), hi[d] = std::max(hi[d], reference(i, d));
  }
  const double half = 0.54 * std::max(hi[0] - lo[0], hi[1] - lo[1]), cx = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2;
  density_plot dens;
  dens.frame = {cx - half, cx + half, cy - half, cy + half};
  dens.log_density = [&](double x, double y) {
    const double p[2] = {x, y};
    return gmm.log_prob(p, 1.0, 0.0);
  };

  // samples.png: exact samples and the chosen runs, 3 panels a row.
  shown.insert(shown.begin(), {"exact samples of p0", exact});
  {
    constexpr int cell = 400, data = 320, left = 60, top = 40;
    const int cols = 3, rows_n = int(shown.size() + 2) / 3;
    detail::canvas img(cols * cell, rows_n * cell);
    for (std::size_t i = 0; i < shown.size(); ++i) {
      density_plot p = dens;
      p.title = shown[i].first;
      draw_density_panel(img, {int(i % 3) * cell + left, int(i / 3) * cell + top, data, data}, p, shown[i].second.view().span());
    }
    write_png(opt.out / "samples.png", img);
  }

  // error_vs_nfe.png: endpoint RMS (ODE samplers) and SW1 (all) against NFE.
  {
    loglog_chart ode{"ODE samplers: RMS distance to the exact PF-ODE endpoint", "NFE", {}, 0, ""};
    loglog_chart all{"all samplers: sliced W1 to p0", "NFE", {}, floor_sw1, "exact-sample floor"};
    for (std::size_t k = 0; k < samplers.size(); ++k) {
      series s{samplers[k].label, {}, {}, detail::palette(k), samplers[k].stochastic};
      series e = s;
      for (const result& r : rows)
        if (r.who == &samplers[k]) {
          s.x.push_back(double(r.nfe)), s.y.push_back(r.sw1);
          e.x.push_back(double(r.nfe)), e.y.push_back(r.endpoint);
        }
      all.lines.push_back(s);
      if (!samplers[k].stochastic) ode.lines.push_back(e);
    }
    detail::canvas img(1600, 640);
    draw_loglog_panel(img, {80, 50, 560, 520}, ode);
    draw_loglog_panel(img, {740, 50, 560, 520}, all);
    draw_legend(img, 1320, 60, all.lines);
    img.text(1320, 60 + 22 * int(all.lines.size()) + 10, "dashed: stochastic", 2, detail::rgb{20, 20, 20});
    write_png(opt.out / "error_vs_nfe.png", img);
  }

  // trajectories.png: 24 paths of an ODE and an SDE sampler from the same noise, in the VP view
  // x/sqrt(1 + sigma^2), which keeps the whole path (sigma 80 -> 0) inside the frame.
  {
    constexpr std::size_t paths = 24, steps = 32;
    batch<double> z_few(paths, 2);
    std::copy(z.data(), z.data() + z_few.size(), z_few.data());
    detail::canvas img(800, 420);
    const std::array<std::string, 2> names = {"dpmpp-2m", "euler-ancestral"};
    for (std::size_t k = 0; k < names.size(); ++k) {
      const auto it = std::find_if(samplers.begin(), samplers.end(), [&](const entry& e) { return e.label == names[k]; });
      if (it == samplers.end()) continue;
      std::vector<path2d> lines(paths);
      const schedule<double> sched = karras(steps);
      for (std::size_t i = 0; i < paths; ++i) {
        lines[i].color = detail::palette(i);
        const double s0 = sched.points.front().sigma;
        lines[i].xy = {z_few(i, 0) * s0 / std::sqrt(1 + s0 * s0), z_few(i, 1) * s0 / std::sqrt(1 + s0 * s0)};
      }
      std::size_t nfe = 0;
      const batch<double> end = run_sampler(gmm, it->settings, steps, z_few, opt, nfe, {[&](const step_report<double>& r) {
        const double scale = 1 / std::sqrt(1 + r.to.sigma * r.to.sigma);
        for (std::size_t i = 0; i < paths; ++i) lines[i].xy.insert(lines[i].xy.end(), {r.x(i, 0) * scale, r.x(i, 1) * scale});
      }});
      density_plot p = dens;
      p.title = ferry::detail::cat(names[k], ", ", steps, " steps");
      draw_density_panel(img, {int(k) * 400 + 60, 40, 320, 320}, p, end.view().span(), lines);
    }
    write_png(opt.out / "trajectories.png", img);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "\nwrote " << (opt.out / "results.md").string() << ", results.csv, samples.png, error_vs_nfe.png, trajectories.png"
            << " (" << std::fixed << std::setprecision(1) << seconds << " s)\n";
}

}  // namespace

void add_demo_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<demo_options>();
  auto* cmd = app.add_subcommand("demo", "every sampler on a 2-D Gaussian mixture: error tables and figures");
  cmd->add_option("--out", opt->out, "directory for the tables and figures (created if missing)")
      ->type_name("DIR")
      ->capture_default_str();
  cmd->add_option("--gmm", opt->gmm, "mixture JSON {weights, means, stds|covs}; default: the built-in one")
      ->type_name("FILE");
  cmd->add_option("--n", opt->n, "number of samples")
      ->type_name("N")
      ->check(count_in(2, std::size_t(1) << 24))
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of the initial noise, the step noise and the exact samples")
      ->type_name("S")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--threads", opt->threads, "threads over rows (the results do not depend on it)")
      ->type_name("T")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->callback([opt, run] {
    if (run) run_demo(*opt);
  });
}

}  // namespace ferry::cli
