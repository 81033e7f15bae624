// `ferry sample`: one sampling run from unit noise, either as a diffusers scheduler config
// prescribes or from ferry's own process + grid + solver. The unit noise comes from --noise or
// from the keyed generator (--seed, --num-samples); stochastic samplers draw their step noise from
// the keyed generator or from --step-noise. --threads splits the rows over threads and --shard I/K
// samples one slice of the run's rows: both give the bits of the whole single-threaded run.
// With --init X.npy --strength s it edits X (SDEdit: X noised to a level of the grid, then sampled
// back); `ferry invert` (cmd_invert.cpp) runs the same code with the grid reversed.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "commands.hpp"
#include "sample_run.hpp"
#include "ferry/compat/diffusers_inverse.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/core/error.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/flow_map.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/ve.hpp"
#include "ferry/process/vp_cosine.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/solvers/fewstep/consistency.hpp"
#include "ferry/solvers/fewstep/meanflow.hpp"
#include "ferry/solvers/inversion.hpp"
#include "ferry/solvers/registry.hpp"

namespace ferry::cli {
namespace {

// --shard I/K: rows [I·N/K, (I+1)·N/K) of the run.
struct row_range {
  std::size_t begin = 0, end = 0;
};
row_range parse_shard(const std::string& spec, std::size_t n) {
  if (spec.empty()) return {0, n};
  const auto slash = spec.find('/');
  std::size_t i = 0, k = 0;
  const char* b = spec.data();
  const char* e = b + spec.size();
  const bool ok = slash != std::string::npos && std::from_chars(b, b + slash, i).ptr == b + slash &&
                  std::from_chars(b + slash + 1, e, k).ptr == e && slash > 0 && slash + 1 < spec.size();
  if (!ok || k == 0 || i >= k)
    throw config_error(detail::cat("--shard \"", spec, "\": expected I/K with 0 <= I < K (e.g. 0/4)"));
  return {i * n / k, (i + 1) * n / k};
}

gaussian_mixture<double> load_model(const std::string& spec) {
  const std::string prefix = "gmm:";
  if (spec.rfind(prefix, 0) != 0 || spec.size() == prefix.size())
    throw config_error(detail::cat("--model \"", detail::escape(spec), "\": expected gmm:PATH (an exact Gaussian-mixture model from a JSON file)"));
  return gaussian_mixture<double>::load(spec.substr(prefix.size()));
}

using any_process = std::variant<vp_linear<double>, vp_cosine<double>, ve<double>, edm<double>, flow<double>>;

any_process make_process(const sample_options& o) {
  if (o.process == "vp-linear") return vp_linear<double>{};
  if (o.process == "vp-cosine") return vp_cosine<double>{};
  if (o.process == "ve") return ve<double>{};
  if (o.process == "edm") return edm<double>{};
  if (o.process == "flow") return flow<double>(o.shift);
  throw config_error(detail::cat("--process \"", detail::escape(o.process), "\" is unknown",
                                 detail::did_you_mean(o.process, {"vp-linear", "vp-cosine", "ve", "edm", "flow"}), "; expected vp-linear, vp-cosine, ve, edm or flow"));
}

// Keeps the state after every step (the driver's observer), for --trajectory.
struct trajectory_recorder {
  std::vector<double>* frames;  // null: not recording
  bool active() const { return frames != nullptr; }  // inactive, the driver may run row chunks
  void operator()(const step_report<double>& r) const {
    if (frames) frames->insert(frames->end(), r.x.data, r.x.data + r.x.size());
  }
};

// x = σ_0·z: the prior N(0, σ_0²) at the first level (x0's share α_0·x0 is below the noise there).
void scale_noise(batch<double>& x, double scale) { simd::lincomb<double, 1>(x.view().span(), {scale}, {x.data()}); }

sample_stats run_diffusers(const sample_options& o, gaussian_mixture<double>& model, batch<double>& x, const trajectory_recorder& rec, const runtime_noise<double>& noise, const ferry::sample_options& run) {
  // invert: DDIMInverseScheduler.from_config(config) keeps the keys DDIMScheduler takes.
  const compat::diffusers_config c = o.invert ? compat::load_diffusers_config(o.scheduler_config, compat::scheduler_class::ddim)
                                              : compat::load_diffusers_config(o.scheduler_config);
  for (const auto& w : c.warnings) std::cerr << "ferry: warning: " << w << "\n";
  if (o.invert) {
    const compat::diffusers_grid g = compat::ddim_inverse_grid(c, o.steps);
    model.predicts = c.prediction_type;
    rec(step_report<double>{0, 0, {}, {}, 0, x.view()});
    return compat::invert(c, g, model, x.view(), rec, run);
  }
  const compat::diffusers_grid g = compat::set_timesteps(c, o.steps);
  model.predicts = c.kind == compat::scheduler_class::flow_euler ? prediction::velocity : c.prediction_type;
  scale_noise(x, compat::initial_scale(c, g));
  rec(step_report<double>{0, 0, {}, {}, 0, x.view()});  // the initial state is frame 0
  return compat::sample(c, g, model, x.view(), rec, noise, run, compat::step_kwargs{o.stochastic.eta});
}

// Few-step solvers need a distilled model; the mixture's exact one is its PF-ODE flow map (dopri5 at
// --rtol/--atol, at most 1e-10): the consistency function to the grid's last level, or the average velocity.
template <class P>
sample_stats run_fewstep(const sample_options& o, const P& p, const gaussian_mixture<double>& model,
                         const schedule<double>& sched, batch<double>& x, const trajectory_recorder& rec,
                         const runtime_noise<double>& noise, const ferry::sample_options& run) {
  using oracle = pf_ode_flow_map<P, gaussian_mixture<double>>;
  const oracle flow(p, model, {.rtol = std::min(o.rtol, 1e-10), .atol = std::min(o.atol, 1e-10)});
  auto go = [&](auto& distilled, auto solver) {
    pf_ode<P, std::decay_t<decltype(distilled)>, no_transform, runtime_noise<double>> problem(p, distilled, {}, noise);
    return ferry::sample(problem, sched, solver, x.view(), rec, run);
  };
  if (o.solver == "consistency") {
    flow_map_consistency<P, gaussian_mixture<double>> f(flow, sched.points.back());
    return go(f, consistency_sampling<double>{});
  }
  flow_map_average_velocity<P, gaussian_mixture<double>> u(flow);
  return go(u, meanflow<double>{});
}

sample_stats run_native(const sample_options& o, gaussian_mixture<double>& model, batch<double>& x, const trajectory_recorder& rec,
                        const runtime_noise<double>& noise, const ferry::sample_options& run, std::uint64_t first_row) {
  const any_process process = make_process(o);
  model.predicts = o.prediction.empty() ? (o.process == "flow" ? prediction::velocity : prediction::data)
                                        : parse_prediction(o.prediction);
  solver_settings s = o.stochastic;
  s.name = o.solver, s.time = parse_ode_time(o.ode_time_name), s.rtol = o.rtol, s.atol = o.atol;
  s.order = o.order, s.diffusers_rules = o.diffusers_rules, s.taylor_3m = o.taylor_3m;
  return std::visit(
      [&](const auto& p) {
        grid_spec<double> spec{.kind = parse_grid_kind(o.grid), .steps = o.steps, .rho = o.rho};
        spec.t_min = o.t_min, spec.t_max = o.t_max, spec.sigma_min = o.sigma_min, spec.sigma_max = o.sigma_max;
        // An inversion starts at the grid's low end, which must not be the data level σ = 0.
        spec.final_zero = o.invert && !o.final_zero ? std::optional<bool>(false) : o.final_zero;
        const std::vector<level<double>> levels = make_grid(p, spec);
        schedule<double> sched;
        if (o.invert) {
          sched = make_inverse_schedule(levels);  // x is the data, at the grid's low end
        } else if (o.strength) {
          sched = strength_schedule(make_schedule(levels), *o.strength);
          noise_to(sched.points.front(), x.view(), o.seed, first_row);  // SDEdit: x ~ q(x_t0 | x0)
        } else {
          sched = make_schedule(levels);
          scale_noise(x, sched.points.front().sigma);
        }
        rec(step_report<double>{0, 0, {}, {}, 0, x.view()});
        if (o.solver == "consistency" || o.solver == "meanflow") {
          if (o.invert) throw config_error(detail::cat("invert: solver ", o.solver, " is a few-step map from noise to data with no inverse; use an ODE solver"));
          return run_fewstep(o, p, model, sched, x, rec, noise, run);
        }
        const sample_stats st = with_solver(s, [&](auto solver) {
          pf_ode<std::decay_t<decltype(p)>, gaussian_mixture<double>, no_transform, runtime_noise<double>> problem(p, model, {},
                                                                                                            noise);
          if (o.invert) return ferry::invert(problem, sched, solver, x.view(), rec, run);
          return ferry::sample(problem, sched, solver, x.view(), rec, run);
        });
        // invert writes the unit noise z that `ferry sample --noise` scales by σ_top to start from.
        if (o.invert) scale_noise(x, 1 / sched.points.back().sigma);
        return st;
      },
      process);
}

// Reads a float32/float64 .npy of the given rank; `what` names it in errors.
io::npy_array read_float_array(const std::string& path, std::size_t rank, const char* what, const char* shape) {
  io::npy_array a = io::read_npy(path);
  if (a.ndim() != rank)
    throw shape_error(detail::cat(path, ": ", what, " must be ", rank, "-D ", shape, ", got ", a.ndim(), " dimensions"));
  if (a.dtype() != io::npy_dtype::f4 && a.dtype() != io::npy_dtype::f8)
    throw io_error(detail::cat(path, ": ", what, " must be float32 or float64, got ", io::npy_descr(a.dtype())));
  return a;
}

void require_finite(std::span<const double> v, const std::string& path, const char* what, std::size_t cols) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw domain_error(detail::cat(path, ": ", what, " holds a non-finite value (", v[i], ") at row ", i / cols,
                                     ", column ", i % cols, "; expected finite values"));
}

}  // namespace

void run_sample(const sample_options& o) {
  if (o.steps == 0) throw config_error("--steps must be at least 1");
  if (o.threads < 1) throw config_error(detail::cat("--threads must be at least 1, got ", o.threads));
  // From data: the inversion's data (invert --data) or the image to edit (sample --init).
  const bool from_data = !o.init.empty();
  if (!from_data && o.noise.empty() == (o.num_samples == 0))
    throw config_error("give the initial noise as --noise Z.npy or draw it with --num-samples N (and --seed S)");
  if (o.strength && !(*o.strength > 0 && *o.strength <= 1))
    throw config_error(detail::cat("--strength ", *o.strength, " is outside (0, 1]; 1 starts from the top of the grid"));
  gaussian_mixture<double> model = load_model(o.model);
  const std::size_t dim = model.dim();

  // The initial state of the whole run: the data, the unit noise from the file, or keyed noise
  // (seed, row, initial_noise_step).
  const std::string& file = from_data ? o.init : o.noise;
  const char* what = from_data ? "data" : "noise";
  std::optional<io::npy_array> z;
  std::size_t n = o.num_samples;
  if (!file.empty()) {
    z = read_float_array(file, 2, what, "(N, D)");
    n = z->shape[0];
    if (z->shape[1] != dim)
      throw shape_error(detail::cat(file, ": ", what, " has D = ", z->shape[1], " but the model's mixture has dimension ", dim));
  }
  const row_range rows = parse_shard(o.shard, n);
  batch<double> x(rows.end - rows.begin, dim);
  if (z) {
    const batch<double> all = z->as_batch<double>();
    require_finite(all.view().span(), file, what, dim);
    std::copy(all.data() + rows.begin * dim, all.data() + rows.end * dim, x.data());
  } else {
    random::fill_normal(o.seed, x.view(), rows.begin, random::initial_noise_step);
  }

  // Step noise: injected (S >= steps, N, D) or keyed by the seed; either serves global rows.
  std::optional<io::npy_array> w_file;
  batch<double> w;
  runtime_noise<double> noise{keyed_noise{o.seed, rows.begin}, {}};
  if (!o.step_noise.empty()) {
    w_file = read_float_array(o.step_noise, 3, "step noise", "(S, N, D)");
    const auto& sh = w_file->shape;
    if (sh[0] < o.steps || sh[1] != n || sh[2] != dim)
      throw shape_error(detail::cat(o.step_noise, ": step noise is (", sh[0], ", ", sh[1], ", ", sh[2], "); this run needs (S >= ",
                                    o.steps, ", ", n, ", ", dim, ")"));
    w = batch<double>(sh[0] * sh[1], sh[2]);
    const std::vector<double> all = w_file->as<double>();
    std::copy(all.begin(), all.end(), w.data());
    require_finite(w.view().span(), o.step_noise, "step noise", dim);
    noise.injected = injected_noise<double>{w.data(), sh[0], n, dim, rows.begin};
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<double> frames;
  const trajectory_recorder rec{o.trajectory.empty() ? nullptr : &frames};
  // The observer records whole states after each step, so a recorded run is one chunk.
  const ferry::sample_options run{.threads = o.trajectory.empty() ? o.threads : 1};
  // One observer type for recorded and plain runs: every solver × process is instantiated once.
  const sample_stats st = o.scheduler_config.empty() ? run_native(o, model, x, rec, noise, run, rows.begin)
                                                     : run_diffusers(o, model, x, rec, noise, run);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (z && z->dtype() == io::npy_dtype::f4) {
    std::vector<float> f(x.size());
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = float(x.data()[i]);
    io::write_npy<float>(o.out, f.data(), {x.rows(), x.cols()});
  } else {
    io::write_npy(o.out, x);
  }
  if (!o.trajectory.empty()) io::write_npy<double>(o.trajectory, frames.data(), {st.steps + 1, x.rows(), x.cols()});
  std::cerr << (o.invert ? "ferry invert: " : "ferry sample: ") << x.rows() << " samples, " << st.steps << " steps, NFE " << st.nfe
            << ", " << seconds << " s -> " << o.out << "\n";
}

CLI::Option* add_run_options(CLI::App* cmd, sample_options& o, bool stochastic) {
  cmd->add_option("--model", o.model, "the model: gmm:PATH (exact Gaussian mixture, JSON)")->required();
  cmd->add_option("--threads", o.threads, "threads over rows (results are the same for any count)")->capture_default_str();
  cmd->add_option("--steps", o.steps, "number of solver steps (diffusers: set_timesteps' argument)")
      ->check(count_in(1, std::size_t(1) << 24))
      ->required();
  cmd->add_option("--trajectory", o.trajectory,
                  "also write the state before the first and after every step, .npy (steps+1, N, D) float64");
  auto* cfg = cmd->add_option("--scheduler-config", o.scheduler_config,
                              stochastic ? "a diffusers scheduler_config.json; replaces --process/--grid/--solver"
                                         : "a diffusers scheduler_config.json: invert as DDIMInverseScheduler.from_config(it) "
                                           "does; replaces --process/--grid/--solver");
  auto native = [&](CLI::Option* opt) { return opt->excludes(cfg); };
  native(cmd->add_option("--process", o.process, "vp-linear | vp-cosine | ve | edm | flow")->capture_default_str());
  native(cmd->add_option("--grid", o.grid, "uniform | uniform-logsnr | quadratic | karras | exponential")->capture_default_str());
  std::string names;
  for (auto v : solver_names) names += (names.empty() ? "" : " ") + std::string(v);
  if (stochastic) names += " consistency meanflow (few-step: the mixture's exact flow map is the distilled model)";
  else names = "a deterministic solver: euler heun midpoint rk4 dopri5 ddim dpmpp-1 dpmpp-2m dpmpp-3m dpmpp-2s unipc deis lms";
  native(cmd->add_option("--solver", o.solver, names)->capture_default_str());
  native(cmd->add_option("--prediction", o.prediction,
                         "what the model predicts: epsilon | data | v | score | velocity (default: data, velocity for flow)"));
  native(cmd->add_option("--sigma-min", o.sigma_min, "low end of the grid, as σ/α"));
  native(cmd->add_option("--sigma-max", o.sigma_max, "high end of the grid, as σ/α"));
  native(cmd->add_option("--t-min", o.t_min, "low end of the grid, in the process's time"));
  native(cmd->add_option("--t-max", o.t_max, "high end of the grid, in the process's time"));
  native(cmd->add_option("--final-zero", o.final_zero,
                         stochastic ? "end with a step to sigma = 0 (default: true for karras/exponential)"
                                    : "invert: the grid's low end is the data's level, never sigma = 0 (default false)"));
  native(cmd->add_option("--rho", o.rho, "Karras grid exponent")->capture_default_str());
  native(cmd->add_option("--shift", o.shift, "flow time shift (SD3)")->capture_default_str());
  native(cmd->add_option("--rtol", o.rtol, "dopri5 relative tolerance (few-step oracles: at most 1e-10)")->capture_default_str());
  native(cmd->add_option("--atol", o.atol, "dopri5 absolute tolerance (few-step oracles: at most 1e-10)")->capture_default_str());
  native(cmd->add_option("--ode-time", o.ode_time_name, "Runge–Kutta time variable: native | sigma | lambda")->capture_default_str());
  native(cmd->add_option("--order", o.order, "unipc/deis order (1-3), lms order (1-4)"));
  native(cmd->add_flag("--diffusers-rules", o.diffusers_rules, "multistep solvers lower their order at the end as diffusers does"));
  native(cmd->add_flag("--taylor-3m", o.taylor_3m, "dpmpp-3m with the D2 weight that makes it third order (peers: off)"));
  if (!stochastic) return cfg;
  native(cmd->add_option("--s-noise", o.stochastic.s_noise, "scale of every injected normal (k-diffusion s_noise)")
             ->capture_default_str());
  native(cmd->add_option("--s-churn", o.stochastic.s_churn, "euler/heun churn S_churn (Karras et al. 2022, Alg. 2)")
             ->capture_default_str());
  native(cmd->add_option("--s-tmin", o.stochastic.s_tmin, "churn only for sigma >= S_tmin")->capture_default_str());
  native(cmd->add_option("--s-tmax", o.stochastic.s_tmax, "churn only for sigma <= S_tmax")->capture_default_str());
  native(cmd->add_option("--snr", o.stochastic.snr, "pc-langevin corrector signal-to-noise ratio r")->capture_default_str());
  native(cmd->add_option("--langevin-steps", o.stochastic.langevin_steps, "pc-langevin corrector steps per step")
             ->capture_default_str());
  native(cmd->add_option("--solver-type", o.stochastic.solver_type, "dpmpp-2m-sde / dpmpp-3m-sde: midpoint | heun")
             ->capture_default_str());
  return cfg;
}

void add_sample_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<sample_options>();
  auto* cmd = app.add_subcommand("sample", "sample from unit noise with a deterministic or stochastic sampler");
  auto* cfg = add_run_options(cmd, *opt, true);
  auto* noise = cmd->add_option("--noise", opt->noise, "unit Gaussian noise z, .npy (N, D) float32 or float64");
  auto* count = cmd->add_option("--num-samples", opt->num_samples, "draw N samples' initial noise from --seed instead of --noise")
                    ->excludes(noise)
                    ->check(count_in(1, std::size_t(1) << 30));
  cmd->add_option("--seed", opt->seed, "keys the initial noise (with --num-samples or --init) and every step's noise")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--step-noise", opt->step_noise,
                  "inject the step noise: .npy (S >= steps, N, D); step i uses W[i] for its one normal draw");
  cmd->add_option("--shard", opt->shard, "sample only rows [I*N/K, (I+1)*N/K) of the run: I/K");
  cmd->add_option("--out", opt->out, "where to write the samples, .npy in the dtype of the noise (float64 when drawn)")->required();
  cmd->add_option("--eta", opt->stochastic.eta,
                  "noise scale: ancestral/SDE samplers (default 1; euler-maruyama: 0 = PF-ODE, 1 = reverse SDE), "
                  "ddim and diffusers DDIM/TCD step(eta) (default 0 for ddim)");
  auto* init = cmd->add_option("--init", opt->init,
                               "SDEdit: edit this data, .npy (N, D): noised with --seed to the grid's level "
                               "steps - int(steps*strength), then sampled back over the grid's last steps")
                   ->excludes(noise)
                   ->excludes(count)
                   ->excludes(cfg);
  auto* strength = cmd->add_option("--strength", opt->strength,
                                   "SDEdit: the share of the grid to run back from the noised data, in (0, 1] (diffusers' "
                                   "img2img strength)");
  init->needs(strength);
  strength->needs(init);
  cmd->callback([opt, run] {
    if (run) run_sample(*opt);
  });
}

}  // namespace ferry::cli
