// `ferry demo`: the library end to end on distributions whose answer is known exactly. This file is
// the command and the order of the parts; each part lives in its own file:
//
//   demo_continuous.cpp  every sampler of the roster (demo_roster.cpp) on a 2-D Gaussian mixture (EDM,
//                        Karras grids), measured by SW1, the NLL gap and the exact-endpoint RMS
//   demo_discrete.cpp    every masked discrete sampler on a discrete mixture, measured by TV to p0
//   words (ferry_words)  every masked sampler on a trained model of English words (examples/words)
//   demo_metrics.cpp     those measures
//   demo_figures.cpp     the PNG figures
//
// It writes into --out DIR (default ferry-demo/): results.md and results.csv (a row per sampler
// and step count), discrete.md and discrete.csv (the same for the discrete part), samples.png,
// ode_error_vs_nfe.png, sde_error_vs_nfe.png, trajectories.png and discrete_tv.png, and the words part's
// words.md, words.csv, words_samples.tsv and words_valid_rate.png (docs/cli.md).
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "commands.hpp"
#include "demo_common.hpp"
#include "demo_continuous.hpp"
#include "demo_discrete.hpp"
#include "demo_figures.hpp"
#include "demo_gmm.hpp"
#include "demo_metrics.hpp"
#include "ferry/core/error.hpp"
#include "ferry/random/normal.hpp"
#include "words_demo.hpp"

namespace ferry::cli {
namespace {

namespace fs = std::filesystem;
using demo::mixture;

mixture load_mixture(const std::string& path) {
  if (!path.empty()) return mixture::load(path);
  return mixture::from_json(nlohmann::json::parse(demo_gmm_json), std::string(demo_gmm_name));
}

void run_demo(const demo::options& opt) {
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
  const demo::sizes size = demo::sizes_of(opt);

  // The initial noise (keyed: row i is sample i) and two independent exact sample sets.
  batch<double> z(size.n, 2), exact(size.n, 2), reference(size.reference, 2);
  random::fill_normal(opt.seed, z.view(), 0, random::initial_noise_step);
  std::mt19937_64 rng(opt.seed);  // the exact sampler of the mixture takes a standard URBG
  gmm.sample(rng, reference.view());
  gmm.sample(rng, exact.view());
  const double entropy = demo::mean_nll(gmm, reference);  // H(p0) ≈ E_p0[−log p0]
  const demo::sliced_w1 sw1(reference);
  const double floor_sw1 = sw1(exact), floor_gap = demo::mean_nll(gmm, exact) - entropy;

  std::vector<demo::entry> samplers = demo::roster();
  std::cout << "ferry demo: " << samplers.size() << " samplers on the EDM process over Karras grids (sigma 80..0.002, rho 7, then 0)\n"
            << "mixture: " << gmm.components() << " components in 2-D (" << source << "), " << size.n << " samples, seed "
            << opt.seed << ", " << opt.threads << " threads\n\n";
  // The words part: the trained model's samplers at every step count, N words a row (--quick: at
  // most 200, at two step counts).
  words::demo_options wopt{.out = opt.out, .samplers = words::default_samplers(), .steps = {4, 8, 16, 32},
                           .samples = opt.quick ? std::min<std::size_t>(opt.n, 200) : opt.n, .threads = opt.threads, .seed = opt.seed, .progress = {}};
  if (opt.quick) wopt.steps = {4, 16};
  const std::size_t word_runs = wopt.samplers.size() * wopt.steps.size();
  demo::progress bar(samplers.size() * demo::step_counts.size() + 1 + demo::discrete_runs + word_runs + 1);
  bar.update(0, "exact PF-ODE endpoint");
  const batch<double> endpoint = demo::exact_endpoint(gmm, z);
  std::size_t done = 1;
  demo::continuous_results cont = demo::run_continuous(gmm, std::move(samplers), z, endpoint, sw1, entropy, opt, bar, done);
  const std::vector<demo::discrete_result> discrete_rows = demo::run_discrete(opt, size.discrete, bar, done);
  const std::size_t words_start = done;
  wopt.progress = [&](std::size_t k, std::size_t, const std::string& what) { bar.update(words_start + k, "words: " + what); };
  const std::vector<words::eval_row> word_rows = words::run_words_demo(wopt);
  done = words_start + word_runs;
  bar.update(done, "figures");

  std::cout << "\n";
  demo::write_tables(opt.out, cont.rows, floor_sw1, floor_gap);
  std::cout << "\nSW1: sliced Wasserstein-1 distance to " << size.reference << " exact samples (mean over " << demo::directions
            << " directions); the 'exact samples' row is the floor that sampling noise sets.\n"
            << "NLL gap: mean -log p0 of the samples minus the entropy of p0.\n"
            << "endpoint RMS: distance to the exact PF-ODE endpoint of the same noise (ODE samplers).\n";
  demo::write_discrete_tables(opt.out, discrete_rows, size.discrete);
  std::cout << "\n" << words::words_markdown(word_rows, 0)
            << "\nwords: " << wopt.samples << " words per row from the trained model of examples/words; valid: in the word list, "
               "held-out: in the held-out part the model never saw; NELBO in bits per character.\n";

  const density_plot dens = demo::density_of(gmm, reference);
  cont.shown.insert(cont.shown.begin(), {"exact samples of p0", exact});
  demo::samples_figure(opt.out / "samples.png", dens, cont.shown);
  demo::error_figure(opt.out / "ode_error_vs_nfe.png", cont.samplers, cont.rows, false, floor_sw1);
  demo::error_figure(opt.out / "sde_error_vs_nfe.png", cont.samplers, cont.rows, true, floor_sw1);
  demo::discrete_figure(opt.out / "discrete_tv.png", discrete_rows);
  demo::trajectories_figure(opt.out / "trajectories.png", gmm, cont.samplers, z, dens, opt);
  bar.update(++done, "figures");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "\nwrote " << (opt.out / "results.md").string()
            << ", results.csv, discrete.md, discrete.csv, samples.png, ode_error_vs_nfe.png, sde_error_vs_nfe.png, trajectories.png, "
               "discrete_tv.png, words.md, words.csv, words_samples.tsv, words_valid_rate.png ("
            << std::fixed << std::setprecision(1) << seconds << " s)\n";
}

}  // namespace

void add_demo_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<demo::options>();
  auto* cmd = app.add_subcommand("demo", "every sampler on a 2-D Gaussian mixture and a discrete mixture: error tables and figures");
  cmd->add_option("--out", opt->out, "directory for the tables and figures (created if missing)")
      ->type_name("DIR")
      ->capture_default_str();
  cmd->add_option("--gmm", opt->gmm, "mixture JSON {weights, means, stds|covs}; default: the built-in one")
      ->type_name("FILE");
  cmd->add_option("--n", opt->n, "number of samples (the discrete part draws 10 N sequences, the words part N words a row)")
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
