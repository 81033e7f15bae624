// The run of `ferry sample` (with --init: SDEdit) and `ferry invert`, in the scalar type of --dtype:
// the model, the noise, the grid, the solver and the state are all in T. The process, model, noise
// and solver are chosen here at run time and meet the library at its run-time boundary
// (runtime_problem<T>, run_solver): every solver is compiled once per type in the runtime library,
// not once per process here. The few-step oracles are in sample_fewstep.cpp.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "ferry/compat/diffusers_inverse.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/core/error.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/grid/sigma_list.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/runtime/registry.hpp"
#include "ferry/solvers/inversion.hpp"
#include "native_args.hpp"
#include "sample_args.hpp"
#include "scheduler_args.hpp"
#include "sample_fewstep.hpp"

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

template <class T>
gaussian_mixture<T> load_model(const std::string& spec) {
  const std::string prefix = "gmm:";
  if (spec.rfind(prefix, 0) != 0 || spec.size() == prefix.size())
    throw config_error(detail::cat("--model \"", detail::escape(spec), "\": expected gmm:PATH (an exact Gaussian-mixture model from a JSON file)"));
  return gaussian_mixture<T>::load(spec.substr(prefix.size()));
}

// Keeps the state after every step (the driver's observer), for --trajectory.
template <class T>
struct trajectory_recorder {
  std::vector<T>* frames;  // null: not recording
  bool active() const { return frames != nullptr; }  // inactive, the driver may run row chunks
  void operator()(const step_report<T>& r) const {
    if (frames) frames->insert(frames->end(), r.x.data, r.x.data + r.x.size());
  }
};

// x = σ_0·z: the prior N(0, σ_0²) at the first level (x0's share α_0·x0 is below the noise there).
template <class T>
void scale_noise(batch<T>& x, double scale) { simd::lincomb<T, 1>(x.view().span(), {T(scale)}, {x.data()}); }

template <class T>
sample_stats run_diffusers(const sample_args& o, gaussian_mixture<T>& model, batch<T>& x, const trajectory_recorder<T>& rec,
                           const runtime_noise<T>& noise, const sample_options& run) {
  // invert: DDIMInverseScheduler.from_config(config) keeps the keys DDIMScheduler takes.
  const compat::diffusers_config c = o.invert ? compat::load_diffusers_config(o.scheduler_config, compat::scheduler_class::ddim)
                                              : compat::load_diffusers_config(o.scheduler_config);
  for (const auto& w : c.warnings) std::cerr << "ferry: warning: " << w << "\n";
  if (o.invert) {
    if constexpr (std::is_same_v<T, double>) {
      const compat::diffusers_grid g = compat::ddim_inverse_grid(c, o.steps);
      model.predicts = c.prediction_type;
      rec(step_report<T>{0, 0, {}, {}, 0, x.view()});
      return compat::invert(c, g, model, x.view(), rec, run);
    } else {
      throw config_error("invert --scheduler-config (DDIMInverseScheduler) runs in float64; drop --dtype float32");
    }
  }
  // --sigmas with a config is set_timesteps' sigmas argument; --mu or --image-seq-len its mu.
  std::size_t steps = o.steps;
  const compat::timestep_args args = timestep_args_of(c, scheduler_flags{o.mu, o.image_seq_len, o.native.sigmas}, steps);
  const compat::diffusers_grid g = compat::set_timesteps(c, steps, args);
  for (const auto& w : g.warnings) std::cerr << "ferry: warning: " << w << "\n";
  model.predicts = compat::model_prediction(c);
  scale_noise(x, compat::initial_scale(c, g));
  rec(step_report<T>{0, 0, {}, {}, 0, x.view()});  // the initial state is frame 0
  // step()'s keyword arguments: --eta (DDIM, TCD), --s-noise (DPMSolverSDE); other classes refuse them.
  const compat::step_kwargs kwargs{o.stochastic.eta, o.s_noise_given ? std::optional<double>(o.stochastic.s_noise) : std::nullopt};
  try {
    return compat::sample(c, g, model, x.view(), rec, noise, run, kwargs);
  } catch (const shape_error& e) {  // the states were checked before the run: a shape error is the step noise's
    if (o.step_noise.empty()) throw;
    throw shape_error(detail::cat(o.step_noise, ": ", e.what()));
  }
}

/// The process (for the problem) and the schedule (made from the concrete process's grid).
template <class T>
struct native_setup {
  any_process<T> process;
  schedule<T> sched;
};

// The levels the run visits: --sigmas as given, or the grid with --steps steps; a solver that makes
// its own levels from the ends of the list it is given (ComfyUI's dpm-fast, dpm-adaptive) visits those.
template <class T, class P>
std::vector<level<T>> native_levels(const sample_args& o, const solver_settings& s, const P& p, const std::vector<double>& sigmas) {
  grid_spec<T> spec = make_grid_spec<T>(o.native, o.steps);
  // An inversion starts at the grid's low end, which must not be the data level σ = 0.
  if (o.invert && !o.native.final_zero) spec.final_zero = false;
  const std::vector<T> list = sigmas.empty() ? std::vector<T>() : std::vector<T>(sigmas.begin(), sigmas.end());
  const std::vector<T> own = own_sigmas<T>(s, sigmas.empty() ? std::span<const T>(grid_sigmas(p, spec)) : std::span<const T>(list));
  if (!own.empty()) return levels_at_sigmas(p, std::span<const T>(own));
  if (!list.empty()) {
    try {
      return levels_at_sigmas(p, std::span<const T>(list));
    } catch (const config_error& e) {  // the process's own bounds (a flow's σ <= 1)
      throw config_error(detail::cat(o.native.sigmas, ": ", e.what(), " (--process ", o.native.process, ")"));
    }
  }
  return make_grid(p, spec);
}

// What the process gives a solver that ComfyUI takes from the model sampling: SA-Solver's noise
// interval percent_to_sigma(0.2) … (0.8) (comfy_sa_solver_interval), where the flags leave it unset.
template <class P>
void process_settings(const sample_args& o, solver_settings& s, const P& p) {
  const bool sa = s.name == "sa-solver" || s.name == "sa-solver-pece";
  if (!sa || !(s.eta.value_or(1) > 0) || (s.sde_start_sigma && s.sde_end_sigma)) return;
  const std::optional<double> start = comfy_percent_to_sigma(p, 0.2), end = comfy_percent_to_sigma(p, 0.8);
  if (!start || !end)
    throw config_error(detail::cat("--solver ", s.name, " takes ComfyUI's noise interval from a model's sigma table (percent_to_sigma ",
                                   "0.2 to 0.8: --process discrete-vp or flow); --process ", o.native.process,
                                   " has none: give --sde-start-sigma and --sde-end-sigma"));
  if (!s.sde_start_sigma) s.sde_start_sigma = *start;
  if (!s.sde_end_sigma) s.sde_end_sigma = *end;
}

template <class T>
native_setup<T> make_native(const sample_args& o, solver_settings& s, batch<T>& x, std::uint64_t first_row,
                            const std::vector<double>& sigmas) {
  return std::visit(
      [&](const auto& p) {
        process_settings(o, s, p);
        const std::vector<level<T>> levels = native_levels<T>(o, s, p, sigmas);
        native_setup<T> r{any_process<T>(p), {}};
        if (o.invert) {
          r.sched = make_inverse_schedule(levels);  // x is the data, at the grid's low end
        } else if (o.strength) {
          r.sched = strength_schedule(make_schedule(levels), *o.strength);
          noise_to(r.sched.points.front(), x.view(), o.seed, first_row);  // SDEdit: x ~ q(x_t0 | x0)
        } else {
          r.sched = make_schedule(levels);
          scale_noise(x, double(r.sched.points.front().sigma));
        }
        return r;
      },
      make_process<T>(o.native));
}

template <class T>
sample_stats run_native(const sample_args& o, gaussian_mixture<T>& model, batch<T>& x, const trajectory_recorder<T>& rec,
                        const runtime_noise<T>& noise, const sample_options& run, std::uint64_t first_row,
                        const std::vector<double>& sigmas) {
  model.predicts = o.prediction.empty() ? (o.native.process == "flow" ? prediction::velocity : prediction::data)
                                        : parse_prediction(o.prediction);
  solver_settings s = o.stochastic;
  s.name = o.solver, s.time = parse_ode_time(o.ode_time_name), s.rtol = o.rtol, s.atol = o.atol;
  s.order = o.order, s.diffusers_rules = o.diffusers_rules, s.taylor_3m = o.taylor_3m;
  s.nfe = o.steps;  // dpm-fast spends the list's length − 1 model evaluations
  const native_setup<T> setup = make_native(o, s, x, first_row, sigmas);
  rec(step_report<T>{0, 0, {}, {}, 0, x.view()});
  if (is_fewstep(o.solver)) {
    if (o.invert)
      throw config_error(detail::cat("invert: solver ", o.solver, " is a few-step map from noise to data with no inverse; use an ODE solver"));
    if constexpr (std::is_same_v<T, double>) return run_fewstep(o, setup.process, model, setup.sched, x.view(), rec, noise, run);
  }
  model_ref<T> m(model);
  runtime_problem<T> problem(setup.process, m, {}, noise);
  const sample_stats st = run_solver<T>(s, problem, setup.sched, x.view(), rec, run);
  // invert writes the unit noise z that `ferry sample --noise` scales by σ_top to start from.
  if (o.invert) scale_noise(x, 1 / double(setup.sched.points.back().sigma));
  return st;
}

void require_float(const io::npy_array& a, const std::string& path, const char* what) {
  if (a.dtype() != io::npy_dtype::f4 && a.dtype() != io::npy_dtype::f8)
    throw io_error(detail::cat(path, ": ", what, " must be float32 or float64, got ", io::npy_descr(a.dtype())));
}

// Reads a float32/float64 .npy of the given rank; `what` names it in errors.
io::npy_array read_float_array(const std::string& path, std::size_t rank, const char* what, const char* shape) {
  io::npy_array a = io::read_npy(path);
  if (a.ndim() != rank)
    throw shape_error(detail::cat(path, ": ", what, " must be ", rank, "-D ", shape, ", got ", a.ndim(), " dimensions"));
  require_float(a, path, what);
  return a;
}

template <class T>
void require_finite(std::span<const T> v, const std::string& path, const char* what, std::size_t cols) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw domain_error(detail::cat(path, ": ", what, " holds a non-finite value (", v[i], ") at row ", i / cols,
                                     ", column ", i % cols, "; expected finite values"));
}

/// The run in scalar type T. z: the --noise / --init / --data file, read (or empty: draw from
/// --seed); out: the dtype of the array written to --out.
template <class T>
void run_sample_as(const sample_args& o, const std::optional<io::npy_array>& z, io::npy_dtype out, const std::vector<double>& sigmas) {
  gaussian_mixture<T> model = load_model<T>(o.model);
  const std::size_t dim = model.dim();

  // The initial state of the whole run: the data (invert --data, sample --init), the unit noise
  // from --noise, or keyed noise (seed, row, initial_noise_step).
  const bool from_data = !o.init.empty();
  const std::string& file = from_data ? o.init : o.noise;
  const char* what = from_data ? "data" : "noise";
  std::size_t n = o.num_samples;
  if (z) {
    n = z->shape[0];
    if (z->shape[1] != dim)
      throw shape_error(detail::cat(file, ": ", what, " has D = ", z->shape[1], " but the model's mixture has dimension ", dim));
  }
  const row_range rows = parse_shard(o.shard, n);
  batch<T> x(rows.end - rows.begin, dim);
  if (z) {
    const batch<T> all = z->as_batch<T>();
    require_finite<T>(all.view().span(), file, what, dim);
    std::copy(all.data() + rows.begin * dim, all.data() + rows.end * dim, x.data());
  }
  // Step noise: injected (S >= steps, [K,] N, D; draw k of step i is W[i, k]), torch's generator
  // (--rng), or keyed by the seed; each serves global rows. A torch generator draws the initial
  // noise first (unless --noise gave it), each array over the whole batch N: a shard advances it
  // over every row, so its rows are the single run's.
  batch<T> w;
  runtime_noise<T> noise{keyed_noise{o.seed, rows.begin}, {}, {}};
  if (const auto torch = random::parse_rng(o.rng, "--rng")) {
    noise.torch = torch_noise<T>({.device = *torch, .seed = o.seed, .batch = {n, dim}, .first_row = rows.begin,
                                  .rows = rows.end - rows.begin});
    if (!z) noise.torch.initial(x.view());
  } else if (!z) {
    random::fill_normal(o.seed, x.view(), rows.begin, random::initial_noise_step);
  }
  if (!o.step_noise.empty()) {
    const io::npy_array w_file = io::read_npy(o.step_noise);
    if (w_file.ndim() != 3 && w_file.ndim() != 4)
      throw shape_error(detail::cat(o.step_noise, ": step noise must be 3-D (S, N, D) or 4-D (S, K, N, D), got ", w_file.ndim(),
                                    " dimensions"));
    require_float(w_file, o.step_noise, "step noise");
    const bool drawn = w_file.ndim() == 4;  // K draws per step
    const std::size_t s = w_file.shape[0], k = drawn ? w_file.shape[1] : 1, rows_w = w_file.shape[drawn ? 2 : 1],
                      cols_w = w_file.shape[drawn ? 3 : 2];
    if (s < o.steps || rows_w != n || cols_w != dim)
      throw shape_error(detail::cat(o.step_noise, ": step noise is (", s, drawn ? detail::cat(", ", k) : std::string(), ", ", rows_w, ", ",
                                    cols_w, "); this run needs (S >= ", o.steps, drawn ? ", K" : "", ", ", n, ", ", dim, ")"));
    w = batch<T>(s * k * rows_w, cols_w);
    const std::vector<T> all = w_file.as<T>();
    std::copy(all.begin(), all.end(), w.data());
    require_finite<T>(w.view().span(), o.step_noise, "step noise", dim);
    noise.injected = injected_noise<T>{w.data(), s, n, dim, rows.begin, k};
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<T> frames;
  const trajectory_recorder<T> rec{o.trajectory.empty() ? nullptr : &frames};
  // The observer records whole states after each step, so a recorded run is one chunk.
  const sample_options run{.threads = o.trajectory.empty() ? o.threads : 1};
  const sample_stats st = o.scheduler_config.empty() ? run_native(o, model, x, rec, noise, run, rows.begin, sigmas)
                                                     : run_diffusers(o, model, x, rec, noise, run);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (out == io::npy_dtype::f4 && !std::is_same_v<T, float>) {  // float32 input file, float64 run (the default rule)
    std::vector<float> f(x.size());
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = float(x.data()[i]);
    io::write_npy<float>(o.out, f.data(), {x.rows(), x.cols()});
  } else {
    io::write_npy(o.out, x);
  }
  if (!o.trajectory.empty()) io::write_npy<T>(o.trajectory, frames.data(), {st.steps + 1, x.rows(), x.cols()});
  std::cerr << (o.invert ? "ferry invert: " : "ferry sample: ") << x.rows() << " samples, " << st.steps << " steps, NFE " << st.nfe << ", "
            << seconds << " s -> " << o.out << "\n";
}

}  // namespace

// The run's scalar type: --dtype, else float64. The output is written in --dtype when it is given,
// else in the dtype of the input file (--noise, --init, --data; float64 when the noise is drawn).
void run_sample(const sample_args& args) {
  // --sigmas: the run visits exactly that list, so --steps is its length - 1 (or must say so). With a
  // config it is set_timesteps' argument instead, and the class decides the steps.
  sample_args o = args;
  std::vector<double> sigmas;
  const bool config = !o.scheduler_config.empty();
  if (!config && !o.native.sigmas.empty()) {
    sigmas = read_sigmas(o.native.sigmas);
    if (sigmas.size() < 2) throw config_error(detail::cat(o.native.sigmas, ": sigmas has ", sigmas.size(), " entries; a run needs at least 2"));
    if (o.steps != 0 && o.steps != sigmas.size() - 1)
      throw config_error(detail::cat("--steps ", o.steps, " but ", o.native.sigmas, " has ", sigmas.size(), " sigmas, which make ",
                                     sigmas.size() - 1, " steps; leave --steps out or give ", sigmas.size() - 1));
    o.steps = sigmas.size() - 1;
  }
  if (o.steps == 0 && !(config && !o.native.sigmas.empty())) throw config_error("--steps must be at least 1 (or give --sigmas)");
  if (o.threads < 1) throw config_error(detail::cat("--threads must be at least 1, got ", o.threads));
  if (!o.dtype.empty() && o.dtype != "float32" && o.dtype != "float64")
    throw config_error(detail::cat("--dtype \"", detail::escape(o.dtype), "\" is unknown", detail::did_you_mean(o.dtype, {"float32", "float64"}),
                                   "; expected float32 or float64"));
  // --rng: torch's generators draw the initial noise and every step's; torch-cuda is float32 only
  // (and makes float32 the run's dtype when --dtype is not given).
  const std::optional<random::torch_device> torch = random::parse_rng(o.rng, "--rng");
  if (torch && !o.step_noise.empty())
    throw config_error(detail::cat("--rng ", o.rng, " draws every step's noise from torch's generator; drop --step-noise (or --rng)"));
  if (torch && !o.init.empty())
    throw config_error(detail::cat("--rng ", o.rng, " with --init is not supported; SDEdit noises the data with the keyed generator"));
  if (torch == random::torch_device::cuda && o.dtype == "float64")
    throw config_error("--rng torch-cuda draws float32 only (the CPU emulation of torch's CUDA randn); use --dtype float32");
  const bool f32 = o.dtype == "float32" || (o.dtype.empty() && torch == random::torch_device::cuda);
  if (f32 && o.scheduler_config.empty() && is_fewstep(o.solver))
    throw config_error(detail::cat("--solver ", o.solver, " runs the mixture's exact flow map at rtol 1e-10, which needs --dtype float64"));
  // From data: the inversion's data (invert --data) or the data to edit (sample --init).
  const bool from_data = !o.init.empty();
  if (!from_data && o.noise.empty() == (o.num_samples == 0))
    throw config_error("give the initial noise as --noise Z.npy or draw it with --num-samples N (and --seed S)");
  if (o.strength && !(*o.strength > 0 && *o.strength <= 1))
    throw config_error(detail::cat("--strength ", *o.strength, " is outside (0, 1]; 1 starts from the top of the grid"));
  const std::string& file = from_data ? o.init : o.noise;
  std::optional<io::npy_array> z;
  if (!file.empty()) z = read_float_array(file, 2, from_data ? "data" : "noise", "(N, D)");
  const io::npy_dtype out = !o.dtype.empty() || f32 ? (f32 ? io::npy_dtype::f4 : io::npy_dtype::f8) : z ? z->dtype() : io::npy_dtype::f8;
  if (f32)
    run_sample_as<float>(o, z, out, sigmas);
  else
    run_sample_as<double>(o, z, out, sigmas);
}

}  // namespace ferry::cli
