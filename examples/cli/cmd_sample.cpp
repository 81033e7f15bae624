// `ferry sample`: one sampling run from unit noise, either as a diffusers scheduler config
// prescribes or from ferry's own process + grid + solver.
#include <chrono>
#include <cmath>
#include <memory>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "commands.hpp"
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
#include "ferry/solvers/registry.hpp"

namespace ferry::cli {
namespace {

struct sample_options {
  std::string model, noise, out, trajectory, scheduler_config, process = "edm", grid = "karras", solver = "euler", prediction,
      ode_time_name = "native";
  std::size_t steps = 0;
  std::optional<double> sigma_min, sigma_max, t_min, t_max;
  std::optional<bool> final_zero;
  double rho = 7, shift = 1, rtol = 1e-5, atol = 1e-5;
  int order = 0;
  bool diffusers_rules = false, taylor_3m = false;
};

gaussian_mixture<double> load_model(const std::string& spec) {
  const std::string prefix = "gmm:";
  if (spec.rfind(prefix, 0) != 0 || spec.size() == prefix.size())
    throw config_error(detail::cat("--model \"", spec, "\": expected gmm:PATH (an exact Gaussian-mixture model from a JSON file)"));
  return gaussian_mixture<double>::load(spec.substr(prefix.size()));
}

using any_process = std::variant<vp_linear<double>, vp_cosine<double>, ve<double>, edm<double>, flow<double>>;

any_process make_process(const sample_options& o) {
  if (o.process == "vp-linear") return vp_linear<double>{};
  if (o.process == "vp-cosine") return vp_cosine<double>{};
  if (o.process == "ve") return ve<double>{};
  if (o.process == "edm") return edm<double>{};
  if (o.process == "flow") return flow<double>(o.shift);
  throw config_error(detail::cat("--process \"", o.process, "\" is unknown; expected vp-linear, vp-cosine, ve, edm or flow"));
}

// Keeps the state after every step (the driver's observer), for --trajectory.
struct trajectory_recorder {
  std::vector<double>* frames;  // null: not recording
  void operator()(const step_report<double>& r) const {
    if (frames) frames->insert(frames->end(), r.x.data, r.x.data + r.x.size());
  }
};

// x = σ_0·z: the prior N(0, σ_0²) at the first level (x0's share α_0·x0 is below the noise there).
void scale_noise(batch<double>& x, double scale) { simd::lincomb<double, 1>(x.view().span(), {scale}, {x.data()}); }

sample_stats run_diffusers(const sample_options& o, gaussian_mixture<double>& model, batch<double>& x,
                           const trajectory_recorder& rec) {
  const compat::diffusers_config c = compat::load_diffusers_config(o.scheduler_config);
  for (const auto& w : c.warnings) std::cerr << "ferry: warning: " << w << "\n";
  const compat::diffusers_grid g = compat::set_timesteps(c, o.steps);
  model.predicts = c.kind == compat::scheduler_class::flow_euler ? prediction::velocity : c.prediction_type;
  scale_noise(x, compat::initial_scale(c, g));
  rec(step_report<double>{0, 0, {}, {}, 0, x.view()});  // the initial state is frame 0
  return compat::sample(c, g, model, x.view(), rec);
}

sample_stats run_native(const sample_options& o, gaussian_mixture<double>& model, batch<double>& x,
                        const trajectory_recorder& rec) {
  const any_process process = make_process(o);
  model.predicts = o.prediction.empty() ? (o.process == "flow" ? prediction::velocity : prediction::data)
                                        : parse_prediction(o.prediction);
  solver_settings s{.name = o.solver, .time = parse_ode_time(o.ode_time_name), .rtol = o.rtol, .atol = o.atol,
                    .order = o.order, .diffusers_rules = o.diffusers_rules, .taylor_3m = o.taylor_3m};
  return std::visit(
      [&](const auto& p) {
        grid_spec<double> spec{.kind = parse_grid_kind(o.grid), .steps = o.steps, .rho = o.rho};
        spec.t_min = o.t_min, spec.t_max = o.t_max, spec.sigma_min = o.sigma_min, spec.sigma_max = o.sigma_max;
        spec.final_zero = o.final_zero;
        const schedule<double> sched = make_schedule(make_grid(p, spec));
        scale_noise(x, sched.points.front().sigma);
        rec(step_report<double>{0, 0, {}, {}, 0, x.view()});
        return with_solver(s, [&](auto solver) { return ferry::sample(model, p, sched, solver, x.view(), rec); });
      },
      process);
}

void run_sample(const sample_options& o) {
  if (o.steps == 0) throw config_error("--steps must be at least 1");
  gaussian_mixture<double> model = load_model(o.model);
  const io::npy_array z = io::read_npy(o.noise);
  if (z.ndim() != 2) throw shape_error(detail::cat(o.noise, ": noise must be 2-D (N, D), got ", z.ndim(), " dimensions"));
  if (z.dtype() != io::npy_dtype::f4 && z.dtype() != io::npy_dtype::f8)
    throw io_error(detail::cat(o.noise, ": noise must be float32 or float64, got ", io::npy_descr(z.dtype())));
  batch<double> x = z.as_batch<double>();
  if (x.cols() != model.dim())
    throw shape_error(detail::cat(o.noise, ": noise has D = ", x.cols(), " but the model's mixture has dimension ", model.dim()));
  for (double v : x.view().span())
    if (!std::isfinite(v)) throw domain_error(detail::cat(o.noise, ": noise contains a non-finite value"));

  const auto start = std::chrono::steady_clock::now();
  std::vector<double> frames;
  const trajectory_recorder rec{o.trajectory.empty() ? nullptr : &frames};
  const sample_stats st = o.scheduler_config.empty() ? run_native(o, model, x, rec) : run_diffusers(o, model, x, rec);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (z.dtype() == io::npy_dtype::f4) {
    std::vector<float> f(x.size());
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = float(x.data()[i]);
    io::write_npy<float>(o.out, f.data(), {x.rows(), x.cols()});
  } else {
    io::write_npy(o.out, x);
  }
  if (!o.trajectory.empty()) io::write_npy<double>(o.trajectory, frames.data(), {st.steps + 1, x.rows(), x.cols()});
  std::cerr << "ferry sample: " << x.rows() << " samples, " << st.steps << " steps, NFE " << st.nfe << ", " << seconds
            << " s -> " << o.out << "\n";
}

}  // namespace

void add_sample_command(CLI::App& app) {
  auto opt = std::make_shared<sample_options>();
  auto* cmd = app.add_subcommand("sample", "sample from unit noise with a deterministic sampler");
  cmd->add_option("--model", opt->model, "the model: gmm:PATH (exact Gaussian mixture, JSON)")->required();
  cmd->add_option("--noise", opt->noise, "unit Gaussian noise z, .npy (N, D) float32 or float64")->required();
  cmd->add_option("--steps", opt->steps, "number of solver steps (diffusers: set_timesteps' argument)")->required();
  cmd->add_option("--out", opt->out, "where to write the samples, .npy in the dtype of the noise")->required();
  cmd->add_option("--trajectory", opt->trajectory,
                  "also write the state before the first and after every step, .npy (steps+1, N, D) float64");
  auto* cfg = cmd->add_option("--scheduler-config", opt->scheduler_config,
                              "a diffusers scheduler_config.json; replaces --process/--grid/--solver");
  auto native = [&](CLI::Option* o) { return o->excludes(cfg); };
  native(cmd->add_option("--process", opt->process, "vp-linear | vp-cosine | ve | edm | flow")->capture_default_str());
  native(cmd->add_option("--grid", opt->grid, "uniform | uniform-logsnr | quadratic | karras | exponential")->capture_default_str());
  native(cmd->add_option("--solver", opt->solver,
                         "euler heun midpoint rk4 dopri5 ddim dpmpp-1 dpmpp-2m dpmpp-3m dpmpp-2s unipc deis lms")
             ->capture_default_str());
  native(cmd->add_option("--prediction", opt->prediction,
                         "what the model predicts: epsilon | data | v | score | velocity (default: data, velocity for flow)"));
  native(cmd->add_option("--sigma-min", opt->sigma_min, "low end of the grid, as σ/α"));
  native(cmd->add_option("--sigma-max", opt->sigma_max, "high end of the grid, as σ/α"));
  native(cmd->add_option("--t-min", opt->t_min, "low end of the grid, in the process's time"));
  native(cmd->add_option("--t-max", opt->t_max, "high end of the grid, in the process's time"));
  native(cmd->add_option("--final-zero", opt->final_zero, "end with a step to sigma = 0 (default: true for karras/exponential)"));
  native(cmd->add_option("--rho", opt->rho, "Karras grid exponent")->capture_default_str());
  native(cmd->add_option("--shift", opt->shift, "flow time shift (SD3)")->capture_default_str());
  native(cmd->add_option("--rtol", opt->rtol, "dopri5 relative tolerance")->capture_default_str());
  native(cmd->add_option("--atol", opt->atol, "dopri5 absolute tolerance")->capture_default_str());
  native(cmd->add_option("--ode-time", opt->ode_time_name, "Runge–Kutta time variable: native | sigma | lambda")->capture_default_str());
  native(cmd->add_option("--order", opt->order, "unipc/deis order (1-3), lms order (1-4)"));
  native(cmd->add_flag("--diffusers-rules", opt->diffusers_rules, "multistep solvers lower their order at the end as diffusers does"));
  native(cmd->add_flag("--taylor-3m", opt->taylor_3m, "dpmpp-3m with the D2 weight that makes it third order (peers: off)"));
  cmd->callback([opt] { run_sample(*opt); });
}

}  // namespace ferry::cli
