// `ferry demo`: the library end to end on distributions whose answer is known exactly.
//
// Every sampler of the registry (solver_names, plus Karras churn on euler and heun), deterministic
// and stochastic, samples a 2-D Gaussian mixture (built in, or --gmm FILE) on the EDM process over a
// Karras grid (k-diffusion's setting: σ from 80 to 0.002, ρ = 7, then 0) at several step counts,
// from one keyed seed. For each run it measures
//   SW1       sliced Wasserstein-1 distance to exact samples of p0 (every sampler),
//   NLL gap   mean −log p0 of the samples minus the entropy of p0,
//   endpoint  RMS distance to the exact PF-ODE endpoint of the same noise (ODE samplers; the
//             reference is DOPRI5 at rtol = atol = 1e-10 down to σ_min, then the model's x̂0).
// Then every masked discrete sampler samples a discrete mixture (tests/data/discrete/mixture.json,
// built in) at several step counts; it measures the total variation between the empirical law of
// the samples and p0, enumerated over all V^L sequences.
// It writes into --out DIR (default ferry-demo/): results.md and results.csv (a row per sampler
// and step count), discrete.md and discrete.csv (the same for the discrete part), samples.png
// (samples over the true density for several samplers), ode_error_vs_nfe.png and
// sde_error_vs_nfe.png (errors against NFE, log-log, with legends), trajectories.png (paths of an
// ODE and an SDE sampler from the same noise) and discrete_tv.png (TV against steps).
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
#include "discrete_run.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/io/atomic_file.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/runtime/registry.hpp"
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
  bool quick = false;
};

constexpr std::array<std::size_t, 5> step_counts = {4, 8, 16, 32, 64};
constexpr std::size_t directions = 64;  // slicing directions of SW1
constexpr std::array<std::size_t, 6> discrete_step_counts = {2, 4, 8, 16, 32, 64};
// tweedie is left out: on the masked kernel it draws what ancestral draws (the same TV at every K), without caching.
constexpr std::array<const char*, 6> discrete_samplers = {"ancestral", "euler", "tau-leaping", "pc", "confidence", "first-hitting"};

/// Sample counts: --n samplers' samples; the exact samples that stand in for p0; the discrete samples.
struct sizes {
  std::size_t n, reference, discrete;
};
sizes sizes_of(const demo_options& o) {
  if (o.quick) return {std::min<std::size_t>(o.n, 300), 2000, 1000};
  return {o.n, 20000, 10 * o.n};
}

/// A sampler of the roster: a label and the registry settings that make it. `stochastic` comes
/// from the solver type (is_stochastic) on its first run.
struct entry {
  std::string label;
  solver_settings settings;
  bool stochastic = false;
};

/// Every registry name (dopri5 at rtol = atol = 1e-3: its error is set by the tolerance, the grid
/// only sets where it stops), then Karras churn on euler and heun.
std::vector<entry> roster() {
  std::vector<entry> all;
  for (const std::string_view name : solver_names) {
    entry e{std::string(name), {}};
    e.settings.name = name;
    if (name == "dopri5") e.label = "dopri5 tol 1e-3", e.settings.rtol = e.settings.atol = 1e-3;
    all.push_back(std::move(e));
  }
  for (const char* name : {"euler", "heun"}) {
    entry e{std::string(name) + " churn 40", {}};
    e.settings.name = name, e.settings.s_churn = 40;
    all.push_back(std::move(e));
  }
  return all;
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

struct run_result {
  batch<double> x;
  std::size_t nfe = 0;
  bool stochastic = false;
};

/// One run of a sampler from x = σ_max·z; `tap` sees every step (then it runs on one thread).
run_result run_sampler(const mixture& gmm, const solver_settings& s, std::size_t steps, const batch<double>& z,
                       const demo_options& opt, const step_tap& tap = {}) {
  const edm<double> process;
  mixture model = gmm;
  model.predicts = prediction::data;
  const schedule<double> sched = karras(steps);
  run_result r{batch<double>(z.shape())};
  simd::lincomb<double, 1>(r.x.view().span(), {sched.points.front().sigma}, {z.data()});
  const any_process<double> ap(process);
  model_ref<double> m(model);
  runtime_problem<double> problem(ap, m, {}, runtime_noise<double>{keyed_noise{opt.seed, 0}, {}});
  const sample_options run{.threads = tap.active() ? 1 : opt.threads};
  r.stochastic = solver_is_stochastic(s);
  r.nfe = run_solver<double>(s, problem, sched, r.x.view(), tap, run).nfe;
  return r;
}

/// The exact PF-ODE endpoint of the same noise: DOPRI5 at 1e-10 down to σ_min, then x̂0 = D(x; σ_min).
batch<double> exact_endpoint(const mixture& gmm, const batch<double>& z) {
  dopri5<double> solver({.rtol = 1e-10, .atol = 1e-10, .time = ode_time::lambda});
  const edm<double> process;
  mixture model = gmm;
  model.predicts = prediction::data;
  const schedule<double> sched = karras(64, false);
  batch<double> x(z.shape());
  simd::lincomb<double, 1>(x.view().span(), {sched.points.front().sigma}, {z.data()});
  const any_process<double> ap(process);
  model_ref<double> m(model);
  runtime_problem<double> problem(ap, m, {}, {});
  run_policy(solver, problem, sched, x.view(), {}, {});
  batch<double> x0(x.shape());
  model(x.view(), sched.points.back(), x0.view());
  return x0;
}

/// A progress bar on a terminal, plain lines otherwise (both on stderr).
class progress {
 public:
  explicit progress(std::size_t total) : total_(total), tty_(isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()) {}
  void update(std::size_t done, const std::string& what) {
    if (tty_) {
      const int width = 30, filled = int(double(width) * double(done) / double(total_));
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      std::cerr << "\r[" << std::string(std::size_t(filled), '#') << std::string(std::size_t(width - filled), '.') << "] "
                << std::setw(3) << done << "/" << total_ << " " << std::fixed << std::setprecision(1) << std::setw(5) << secs
                << " s  " << std::left << std::setw(32) << what << std::right << std::defaultfloat << std::flush;
      if (done == total_) std::cerr << "\n";
    } else if (done == total_ || what != last_) {
      std::cerr << "ferry demo: " << done << "/" << total_ << " " << what << "\n";
    }
    last_ = what;
  }

 private:
  std::size_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
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

// ---- the discrete part ----------------------------------------------------------------------------

struct discrete_result {
  std::string sampler;
  std::size_t steps, nfe_max;  // steps: K (first-hitting: L events); nfe_max = 0 for the exact row
  double nfe_mean, tv;
};

/// Index of a sequence among the V^L: Σ_ℓ x^ℓ V^ℓ.
std::size_t sequence_index(const std::int32_t* x, std::size_t length, std::size_t vocab) {
  std::size_t k = 0;
  for (std::size_t l = length; l-- > 0;) k = k * vocab + std::size_t(x[l]);
  return k;
}

/// Total variation between p0 (enumerated) and the empirical law of the rows of `tokens`.
double total_variation(const std::vector<double>& p0, const std::vector<std::int32_t>& tokens, std::size_t length, std::size_t vocab) {
  std::vector<double> q(p0.size(), 0.0);
  const std::size_t rows = tokens.size() / length;
  for (std::size_t i = 0; i < rows; ++i) q[sequence_index(tokens.data() + i * length, length, vocab)] += 1.0 / double(rows);
  double tv = 0;
  for (std::size_t k = 0; k < p0.size(); ++k) tv += 0.5 * std::abs(p0[k] - q[k]);
  return tv;
}

/// Every masked discrete sampler on the built-in discrete mixture (linear schedule), TV against K.
std::vector<discrete_result> run_discrete(const demo_options& opt, std::size_t n, progress& bar, std::size_t& done) {
  discrete_mixture model = discrete_mixture::from_json(nlohmann::json::parse(demo_discrete_json), std::string(demo_discrete_name));
  model.kernel = discrete::kernel_kind::masked;
  const std::size_t length = model.length(), vocab = model.vocab();
  std::vector<double> p0(std::size_t(std::pow(double(vocab), double(length)) + 0.5));
  std::vector<std::int32_t> seq(length);
  for (std::size_t k = 0; k < p0.size(); ++k) {
    for (std::size_t l = 0, r = k; l < length; ++l, r /= vocab) seq[l] = std::int32_t(r % vocab);
    p0[k] = std::exp(model.log_prob(seq));
  }
  const discrete::process p{discrete::kernel{model.kernel, vocab}, discrete::alpha_schedule(discrete::schedule_kind::linear)};
  std::vector<std::int32_t> tokens(n * length);
  const discrete::token_view x(tokens.data(), n, length);
  std::vector<discrete_result> rows;
  for (const char* name : discrete_samplers) {
    const bool event_driven = std::string_view(name) == "first-hitting";
    for (const std::size_t steps : discrete_step_counts) {
      const std::string what = ferry::detail::cat("discrete ", name, event_driven ? "" : ferry::detail::cat(", ", steps, " steps"));
      bar.update(done, what);
      const discrete::run_stats st = sample_discrete_mixture(
          model, p, discrete::sampler_settings{.name = name}, x,
          discrete::run_options{.seed = opt.seed, .steps = steps, .block_size = 0, .threads = opt.threads, .first_row = 0, .categorical = {}});
      rows.push_back({name, st.steps, st.nfe_max, st.nfe_mean, total_variation(p0, tokens, length, vocab)});
      bar.update(++done, what);
      if (event_driven) break;  // one run: its steps are the L events whatever K is
    }
  }
  model.sample(opt.seed, x);  // exact draws: the floor that n samples set
  rows.push_back({"exact", 0, 0, 0, total_variation(p0, tokens, length, vocab)});
  return rows;
}

void write_discrete_tables(const fs::path& dir, const std::vector<discrete_result>& rows, std::size_t n) {
  std::ostringstream csv, md;
  csv << "sampler,steps,nfe_max,nfe_mean,tv\n";
  md << "| sampler | steps | NFE (max) | NFE (mean) | TV |\n|---|---:|---:|---:|---:|\n";
  for (const discrete_result& r : rows) {
    if (r.sampler == "exact") {
      csv << "exact,,,," << fmt(r.tv, 6) << "\n";
      md << "| exact samples | | | | " << fmt(r.tv, 3) << " |\n";
      continue;
    }
    csv << r.sampler << "," << r.steps << "," << r.nfe_max << "," << fmt(r.nfe_mean, 6) << "," << fmt(r.tv, 6) << "\n";
    md << "| " << r.sampler << " | " << r.steps << " | " << r.nfe_max << " | " << fmt(r.nfe_mean, 3) << " | " << fmt(r.tv, 3) << " |\n";
  }
  io::write_file_atomically(dir / "discrete.csv", csv.str());
  io::write_file_atomically(dir / "discrete.md", md.str());
  std::cout << "\nmasked discrete diffusion on a mixture of 3 product laws (L = 4, V = 3; linear schedule), " << n
            << " samples: total variation to p0\n\n"
            << md.str();
}

// ---- figures --------------------------------------------------------------------------------------

/// Longest legend label in pixels.
int legend_width(const std::vector<series>& lines) {
  int w = 0;
  for (const series& s : lines) w = std::max(w, detail::canvas::text_width(s.label, 2));
  return 36 + w;
}

/// Log-log charts side by side (`pitch` apart, `panel` pixels square) and one legend at legend_x.
void draw_figure_with_legend(const fs::path& path, const std::vector<loglog_chart>& charts, const std::vector<series>& legend,
                             int left, int pitch, int panel, int legend_x) {
  detail::canvas img(legend_x + legend_width(legend) + 20, panel + 120);
  for (std::size_t c = 0; c < charts.size(); ++c) draw_loglog_panel(img, {left + int(c) * pitch, 50, panel, panel}, charts[c]);
  draw_legend(img, legend_x, 56, legend);
  write_png(path, img);
}

/// samples.png: exact samples and the chosen runs, 3 panels a row.
void samples_figure(const fs::path& path, const density_plot& dens, const std::vector<std::pair<std::string, batch<double>>>& shown) {
  constexpr int cell_w = 400, cell_h = 410, data = 300, left = 78, top = 36;
  const int cols = 3, rows_n = int(shown.size() + 2) / 3;
  detail::canvas img(cols * cell_w, rows_n * cell_h);
  for (std::size_t i = 0; i < shown.size(); ++i) {
    density_plot p = dens;
    p.title = shown[i].first;
    p.x_label = "x1", p.y_label = "x2";
    draw_density_panel(img, {int(i % 3) * cell_w + left, int(i / 3) * cell_h + top, data, data}, p, shown[i].second.view().span());
  }
  write_png(path, img);
}

/// A chart per quantity of the chosen samplers' rows, side by side, and the legend on the right.
void error_figure(const fs::path& path, const std::vector<entry>& samplers, const std::vector<result>& rows, bool stochastic,
                  double floor_sw1) {
  std::vector<series> sw, ep;
  std::size_t k = 0;
  for (const entry& e : samplers) {
    if (e.stochastic != stochastic) continue;
    series s{e.label, {}, {}, detail::palette(k), k >= 10 ? 5 : 0, int(k / 10) * 2};
    series t = s;
    for (const result& r : rows)
      if (r.who == &e) {
        s.x.push_back(double(r.nfe)), s.y.push_back(r.sw1);
        t.x.push_back(double(r.nfe)), t.y.push_back(r.endpoint);
      }
    sw.push_back(s), ep.push_back(t), ++k;
  }
  std::vector<loglog_chart> charts;
  const std::string nfe = "NFE (model evaluations)";
  if (!stochastic) charts.push_back({"ODE samplers: distance to the exact endpoint", nfe, "RMS distance", ep, 0});
  charts.push_back({stochastic ? "stochastic samplers: sliced W1 to p0" : "ODE samplers: sliced W1 to p0", nfe, "sliced W1", sw, floor_sw1});
  sw.push_back({"exact-sample floor (SW1)", {}, {}, floor_grey, floor_dash, -1});
  constexpr int panel = 500, pitch = 650, left = 110;
  const int legend_x = left + int(charts.size() - 1) * pitch + panel + 40;
  draw_figure_with_legend(path, charts, sw, left, pitch, panel, legend_x);
}

/// discrete_tv.png: TV against steps per sampler, with the exact-sample floor.
void discrete_figure(const fs::path& path, const std::vector<discrete_result>& rows) {
  std::vector<series> lines;
  double floor = 0;
  for (const discrete_result& r : rows) {
    if (r.sampler == "exact") {
      floor = r.tv;
      continue;
    }
    if (lines.empty() || lines.back().label != r.sampler) {
      const std::size_t k = lines.size();
      lines.push_back({r.sampler, {}, {}, detail::palette(k), 0, int(k % 4)});
    }
    lines.back().x.push_back(double(r.steps)), lines.back().y.push_back(r.tv);
  }
  for (series& s : lines)
    if (s.label == "first-hitting") s.label = "first-hitting (L events)";
  const loglog_chart chart{"masked diffusion on a discrete mixture: TV to p0", "steps K", "total variation", lines, floor};
  lines.push_back({"exact-sample floor", {}, {}, floor_grey, floor_dash, -1});
  draw_figure_with_legend(path, {chart}, lines, 110, 0, 500, 650);
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
  const sizes size = sizes_of(opt);

  // The initial noise (keyed: row i is sample i) and two independent exact sample sets.
  batch<double> z(size.n, 2), exact(size.n, 2), reference(size.reference, 2);
  random::fill_normal(opt.seed, z.view(), 0, random::initial_noise_step);
  std::mt19937_64 rng(opt.seed);  // the exact sampler of the mixture takes a standard URBG
  gmm.sample(rng, reference.view());
  gmm.sample(rng, exact.view());
  const double entropy = mean_nll(gmm, reference);  // H(p0) ≈ E_p0[−log p0]
  const sliced_w1 sw1(reference);
  const double floor_sw1 = sw1(exact), floor_gap = mean_nll(gmm, exact) - entropy;

  std::vector<entry> samplers = roster();
  std::cout << "ferry demo: " << samplers.size() << " samplers on the EDM process over Karras grids (sigma 80..0.002, rho 7, then 0)\n"
            << "mixture: " << gmm.components() << " components in 2-D (" << source << "), " << size.n << " samples, seed "
            << opt.seed << ", " << opt.threads << " threads\n\n";
  const std::size_t discrete_runs = (discrete_samplers.size() - 1) * discrete_step_counts.size() + 1;
  progress bar(samplers.size() * step_counts.size() + 1 + discrete_runs + 1);
  bar.update(0, "exact PF-ODE endpoint");
  const batch<double> endpoint = exact_endpoint(gmm, z);

  std::vector<result> rows;
  std::vector<std::pair<std::string, batch<double>>> shown;  // samples for samples.png
  std::size_t done = 1;
  for (entry& e : samplers)
    for (const std::size_t steps : step_counts) {
      const std::string what = e.label + ", " + std::to_string(steps) + " steps";
      bar.update(done, what);
      const auto t0 = std::chrono::steady_clock::now();
      const run_result run = run_sampler(gmm, e.settings, steps, z, opt);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      e.stochastic = run.stochastic;
      rows.push_back({&e, steps, run.nfe, sw1(run.x), mean_nll(gmm, run.x) - entropy,
                      e.stochastic ? std::numeric_limits<double>::quiet_NaN() : rms_distance(run.x, endpoint), secs});
      const bool show = (steps == 8 && (e.label == "euler" || e.label == "dpmpp-2m")) ||
                        (steps == 32 && (e.label == "euler-ancestral" || e.label == "dpmpp-2m-sde" || e.label == "dpmpp-sde"));
      if (show) shown.emplace_back(ferry::detail::cat(e.label, ", ", steps, " steps"), run.x);
      bar.update(++done, what);
    }
  // Deterministic samplers first, each kind in registry order (moving the vector keeps the addresses).
  std::vector<entry> ordered;
  for (const bool stochastic : {false, true})
    for (const entry& e : samplers)
      if (e.stochastic == stochastic) ordered.push_back(e);
  std::vector<result> sorted;
  for (const entry& e : ordered)
    for (result r : rows)
      if (r.who->label == e.label) r.who = &e, sorted.push_back(r);
  samplers = std::move(ordered);
  rows = std::move(sorted);

  const std::vector<discrete_result> discrete_rows = run_discrete(opt, size.discrete, bar, done);
  bar.update(done, "figures");

  std::cout << "\n";
  write_tables(opt.out, rows, floor_sw1, floor_gap);
  std::cout << "\nSW1: sliced Wasserstein-1 distance to " << size.reference << " exact samples (mean over " << directions
            << " directions); the 'exact samples' row is the floor that sampling noise sets.\n"
            << "NLL gap: mean -log p0 of the samples minus the entropy of p0.\n"
            << "endpoint RMS: distance to the exact PF-ODE endpoint of the same noise (ODE samplers).\n";
  write_discrete_tables(opt.out, discrete_rows, size.discrete);

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
  dens.bands = 12;  // one band a nat: filled contours, and a PNG a fraction of the size

  shown.insert(shown.begin(), {"exact samples of p0", exact});
  samples_figure(opt.out / "samples.png", dens, shown);
  error_figure(opt.out / "ode_error_vs_nfe.png", samplers, rows, false, floor_sw1);
  error_figure(opt.out / "sde_error_vs_nfe.png", samplers, rows, true, floor_sw1);
  discrete_figure(opt.out / "discrete_tv.png", discrete_rows);

  // trajectories.png: 12 paths of an ODE and an SDE sampler from the same noise, in the VP view
  // x/sqrt(1 + sigma^2), which keeps the whole path (sigma 80 -> 0) inside the frame; white dots
  // mark the starts, red dots the ends.
  {
    constexpr std::size_t paths = 12, steps = 32;
    batch<double> z_few(paths, 2);
    std::copy(z.data(), z.data() + z_few.size(), z_few.data());
    detail::canvas img(800, 420);
    const std::array<std::string, 2> names = {"dpmpp-2m", "euler-ancestral"};
    for (std::size_t k = 0; k < names.size(); ++k) {
      const auto it = std::find_if(samplers.begin(), samplers.end(), [&](const entry& e) { return e.label == names[k]; });
      if (it == samplers.end()) continue;
      std::vector<path2d> lines(paths);
      const schedule<double> sched = karras(steps);
      const double s0 = sched.points.front().sigma, scale0 = s0 / std::sqrt(1 + s0 * s0);
      for (std::size_t i = 0; i < paths; ++i) lines[i].color = detail::palette(i), lines[i].xy = {z_few(i, 0) * scale0, z_few(i, 1) * scale0};
      const run_result end = run_sampler(gmm, it->settings, steps, z_few, opt, {[&](const step_report<double>& r) {
        const double scale = 1 / std::sqrt(1 + r.to.sigma * r.to.sigma);
        for (std::size_t i = 0; i < paths; ++i) lines[i].xy.insert(lines[i].xy.end(), {r.x(i, 0) * scale, r.x(i, 1) * scale});
      }});
      density_plot p = dens;
      p.title = ferry::detail::cat(names[k], ", ", steps, " steps");
      p.x_label = "x1 / sqrt(1 + sigma^2)", p.y_label = "x2 / sqrt(1 + sigma^2)";
      const panel_box box{int(k) * 400 + 78, 36, 300, 300};
      draw_density_panel(img, box, p, {}, lines);
      const plot_frame& f = p.frame;
      auto dot = [&](double x, double y, detail::rgb c) {
        img.disc(box.x + (x - f.x_min) / (f.x_max - f.x_min) * box.w, box.y + (f.y_max - y) / (f.y_max - f.y_min) * box.h, 3, c, 1);
      };
      for (std::size_t i = 0; i < paths; ++i) dot(lines[i].xy[0], lines[i].xy[1], {255, 255, 255}), dot(end.x(i, 0), end.x(i, 1), {240, 50, 40});
    }
    write_png(opt.out / "trajectories.png", img);
  }
  bar.update(++done, "figures");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "\nwrote " << (opt.out / "results.md").string()
            << ", results.csv, discrete.md, discrete.csv, samples.png, ode_error_vs_nfe.png, sde_error_vs_nfe.png, trajectories.png, "
               "discrete_tv.png ("
            << std::fixed << std::setprecision(1) << seconds << " s)\n";
}

}  // namespace

void add_demo_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<demo_options>();
  auto* cmd = app.add_subcommand("demo", "every sampler on a 2-D Gaussian mixture and a discrete mixture: error tables and figures");
  cmd->add_option("--out", opt->out, "directory for the tables and figures (created if missing)")
      ->type_name("DIR")
      ->capture_default_str();
  cmd->add_option("--gmm", opt->gmm, "mixture JSON {weights, means, stds|covs}; default: the built-in one")
      ->type_name("FILE");
  cmd->add_option("--n", opt->n, "number of samples (the discrete part draws 10 N)")
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
  cmd->add_flag("--quick", opt->quick, "a fast smoke run: at most 300 samples, 2000 exact and 1000 discrete samples");
  cmd->callback([opt, run] {
    if (run) run_demo(*opt);
  });
}

}  // namespace ferry::cli
