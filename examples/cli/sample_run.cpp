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
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/ve.hpp"
#include "ferry/process/vp_cosine.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/runtime/registry.hpp"
#include "ferry/solvers/inversion.hpp"
#include "sample_args.hpp"
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

template <class T>
using any_concrete_process = std::variant<vp_linear<T>, vp_cosine<T>, ve<T>, edm<T>, flow<T>>;

template <class T>
any_concrete_process<T> make_process(const sample_args& o) {
  if (o.process == "vp-linear") return vp_linear<T>{};
  if (o.process == "vp-cosine") return vp_cosine<T>{};
  if (o.process == "ve") return ve<T>{};
  if (o.process == "edm") return edm<T>{};
  if (o.process == "flow") return flow<T>(T(o.shift));
  throw config_error(detail::cat("--process \"", detail::escape(o.process), "\" is unknown",
                                 detail::did_you_mean(o.process, {"vp-linear", "vp-cosine", "ve", "edm", "flow"}), "; expected vp-linear, vp-cosine, ve, edm or flow"));
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
  const compat::diffusers_grid g = compat::set_timesteps(c, o.steps);
  model.predicts = c.kind == compat::scheduler_class::flow_euler ? prediction::velocity : c.prediction_type;
  scale_noise(x, compat::initial_scale(c, g));
  rec(step_report<T>{0, 0, {}, {}, 0, x.view()});  // the initial state is frame 0
  return compat::sample(c, g, model, x.view(), rec, noise, run, compat::step_kwargs{o.stochastic.eta});
}

/// The process (for the problem) and the schedule (made from the concrete process's grid).
template <class T>
struct native_setup {
  any_process<T> process;
  schedule<T> sched;
};

template <class T>
native_setup<T> make_native(const sample_args& o, batch<T>& x, std::uint64_t first_row) {
  auto opt = [](const std::optional<double>& v) { return v ? std::optional<T>(T(*v)) : std::nullopt; };
  return std::visit(
      [&](const auto& p) {
        grid_spec<T> spec{.kind = parse_grid_kind(o.grid), .steps = o.steps, .rho = T(o.rho)};
        spec.t_min = opt(o.t_min), spec.t_max = opt(o.t_max), spec.sigma_min = opt(o.sigma_min), spec.sigma_max = opt(o.sigma_max);
        // An inversion starts at the grid's low end, which must not be the data level σ = 0.
        spec.final_zero = o.invert && !o.final_zero ? std::optional<bool>(false) : o.final_zero;
        const std::vector<level<T>> levels = make_grid(p, spec);
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
      make_process<T>(o));
}

template <class T>
sample_stats run_native(const sample_args& o, gaussian_mixture<T>& model, batch<T>& x, const trajectory_recorder<T>& rec,
                        const runtime_noise<T>& noise, const sample_options& run, std::uint64_t first_row) {
  model.predicts = o.prediction.empty() ? (o.process == "flow" ? prediction::velocity : prediction::data)
                                        : parse_prediction(o.prediction);
  solver_settings s = o.stochastic;
  s.name = o.solver, s.time = parse_ode_time(o.ode_time_name), s.rtol = o.rtol, s.atol = o.atol;
  s.order = o.order, s.diffusers_rules = o.diffusers_rules, s.taylor_3m = o.taylor_3m;
  const native_setup<T> setup = make_native(o, x, first_row);
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

// Reads a float32/float64 .npy of the given rank; `what` names it in errors.
io::npy_array read_float_array(const std::string& path, std::size_t rank, const char* what, const char* shape) {
  io::npy_array a = io::read_npy(path);
  if (a.ndim() != rank)
    throw shape_error(detail::cat(path, ": ", what, " must be ", rank, "-D ", shape, ", got ", a.ndim(), " dimensions"));
  if (a.dtype() != io::npy_dtype::f4 && a.dtype() != io::npy_dtype::f8)
    throw io_error(detail::cat(path, ": ", what, " must be float32 or float64, got ", io::npy_descr(a.dtype())));
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
void run_sample_as(const sample_args& o, const std::optional<io::npy_array>& z, io::npy_dtype out) {
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
  } else {
    random::fill_normal(o.seed, x.view(), rows.begin, random::initial_noise_step);
  }

  // Step noise: injected (S >= steps, N, D) or keyed by the seed; either serves global rows.
  batch<T> w;
  runtime_noise<T> noise{keyed_noise{o.seed, rows.begin}, {}};
  if (!o.step_noise.empty()) {
    const io::npy_array w_file = read_float_array(o.step_noise, 3, "step noise", "(S, N, D)");
    const auto& sh = w_file.shape;
    if (sh[0] < o.steps || sh[1] != n || sh[2] != dim)
      throw shape_error(detail::cat(o.step_noise, ": step noise is (", sh[0], ", ", sh[1], ", ", sh[2], "); this run needs (S >= ",
                                    o.steps, ", ", n, ", ", dim, ")"));
    w = batch<T>(sh[0] * sh[1], sh[2]);
    const std::vector<T> all = w_file.as<T>();
    std::copy(all.begin(), all.end(), w.data());
    require_finite<T>(w.view().span(), o.step_noise, "step noise", dim);
    noise.injected = injected_noise<T>{w.data(), sh[0], n, dim, rows.begin};
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<T> frames;
  const trajectory_recorder<T> rec{o.trajectory.empty() ? nullptr : &frames};
  // The observer records whole states after each step, so a recorded run is one chunk.
  const sample_options run{.threads = o.trajectory.empty() ? o.threads : 1};
  const sample_stats st = o.scheduler_config.empty() ? run_native(o, model, x, rec, noise, run, rows.begin)
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
void run_sample(const sample_args& o) {
  if (o.steps == 0) throw config_error("--steps must be at least 1");
  if (o.threads < 1) throw config_error(detail::cat("--threads must be at least 1, got ", o.threads));
  if (!o.dtype.empty() && o.dtype != "float32" && o.dtype != "float64")
    throw config_error(detail::cat("--dtype \"", detail::escape(o.dtype), "\" is unknown", detail::did_you_mean(o.dtype, {"float32", "float64"}),
                                   "; expected float32 or float64"));
  const bool f32 = o.dtype == "float32";
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
  const io::npy_dtype out = !o.dtype.empty() ? (f32 ? io::npy_dtype::f4 : io::npy_dtype::f8) : z ? z->dtype() : io::npy_dtype::f8;
  if (f32)
    run_sample_as<float>(o, z, out);
  else
    run_sample_as<double>(o, z, out);
}

}  // namespace ferry::cli
