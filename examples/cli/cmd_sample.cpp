// `ferry sample`: one sampling run from unit noise, either as a diffusers scheduler config
// prescribes or from ferry's own process + grid + solver. The unit noise comes from --noise or
// from the keyed generator (--seed, --num-samples); stochastic samplers draw their step noise from
// the keyed generator or from --step-noise. --threads splits the rows over threads and --shard I/K
// samples one slice of the run's rows: both give the bits of the whole single-threaded run. --dtype
// runs it in float or double (the body is sample_run.hpp, one TU per type).
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "ferry/core/error.hpp"
#include "ferry/io/npy.hpp"
#include "sample_run.hpp"

namespace ferry::cli {

template void run_sample_as<double>(const sample_options&, const std::optional<io::npy_array>&, io::npy_dtype);

namespace {

// The run's scalar type: --dtype, else float64. The samples are written in --dtype when it is given,
// else in the dtype of the --noise file (float64 when the noise is drawn).
void run_sample(const sample_options& o) {
  if (o.steps == 0) throw config_error("--steps must be at least 1");
  if (o.threads < 1) throw config_error(detail::cat("--threads must be at least 1, got ", o.threads));
  if (!o.dtype.empty() && o.dtype != "float32" && o.dtype != "float64")
    throw config_error(detail::cat("--dtype \"", detail::escape(o.dtype), "\" is unknown", detail::did_you_mean(o.dtype, {"float32", "float64"}),
                                   "; expected float32 or float64"));
  const bool f32 = o.dtype == "float32";
  if (f32 && o.scheduler_config.empty() && sample_impl::is_fewstep(o.solver))
    throw config_error(detail::cat("--solver ", o.solver, " runs the mixture's exact flow map at rtol 1e-10, which needs --dtype float64"));
  if (o.noise.empty() == (o.num_samples == 0))
    throw config_error("give the initial noise as --noise Z.npy or draw it with --num-samples N (and --seed S)");
  std::optional<io::npy_array> z;
  if (!o.noise.empty()) z = sample_impl::read_float_array(o.noise, 2, "noise", "(N, D)");
  const io::npy_dtype out = !o.dtype.empty() ? (f32 ? io::npy_dtype::f4 : io::npy_dtype::f8) : z ? z->dtype() : io::npy_dtype::f8;
  if (f32)
    run_sample_as<float>(o, z, out);
  else
    run_sample_as<double>(o, z, out);
}

}  // namespace

void add_sample_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<sample_options>();
  auto* cmd = app.add_subcommand("sample", "sample from unit noise with a deterministic or stochastic sampler");
  cmd->add_option("--model", opt->model, "the model: gmm:PATH (exact Gaussian mixture, JSON)")->required();
  auto* noise = cmd->add_option("--noise", opt->noise, "unit Gaussian noise z, .npy (N, D) float32 or float64");
  cmd->add_option("--num-samples", opt->num_samples, "draw N samples' initial noise from --seed instead of --noise")
      ->excludes(noise)
      ->check(count_in(1, std::size_t(1) << 30));
  cmd->add_option("--seed", opt->seed, "keys the initial noise (with --num-samples) and every step's noise")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--step-noise", opt->step_noise,
                  "inject the step noise: .npy (S >= steps, N, D); step i uses W[i] for its one normal draw");
  cmd->add_option("--threads", opt->threads, "threads over rows (results are the same for any count)")->capture_default_str();
  cmd->add_option("--shard", opt->shard, "sample only rows [I*N/K, (I+1)*N/K) of the run: I/K");
  cmd->add_option("--steps", opt->steps, "number of solver steps (diffusers: set_timesteps' argument)")
      ->check(count_in(1, std::size_t(1) << 24))
      ->required();
  cmd->add_option("--out", opt->out, "where to write the samples, .npy in --dtype (default: the dtype of --noise, float64 when drawn)")
      ->required();
  cmd->add_option("--dtype", opt->dtype,
                  "float32 | float64: the state, model and solver in that type end to end (default float64)");
  cmd->add_option("--eta", opt->stochastic.eta,
                  "noise scale: ancestral/SDE samplers (default 1; euler-maruyama: 0 = PF-ODE, 1 = reverse SDE), "
                  "ddim and diffusers DDIM/TCD step(eta) (default 0 for ddim)");
  cmd->add_option("--trajectory", opt->trajectory,
                  "also write the state before the first and after every step, .npy (steps+1, N, D) in the run's dtype");
  auto* cfg = cmd->add_option("--scheduler-config", opt->scheduler_config,
                              "a diffusers scheduler_config.json; replaces --process/--grid/--solver");
  auto native = [&](CLI::Option* o) { return o->excludes(cfg); };
  native(cmd->add_option("--process", opt->process, "vp-linear | vp-cosine | ve | edm | flow")->capture_default_str());
  native(cmd->add_option("--grid", opt->grid, "uniform | uniform-logsnr | quadratic | karras | exponential")->capture_default_str());
  std::string names;
  for (auto v : solver_names) names += (names.empty() ? "" : " ") + std::string(v);
  names += " consistency meanflow (few-step: the mixture's exact flow map is the distilled model)";
  native(cmd->add_option("--solver", opt->solver, names)->capture_default_str());
  native(cmd->add_option("--prediction", opt->prediction,
                         "what the model predicts: epsilon | data | v | score | velocity (default: data, velocity for flow)"));
  native(cmd->add_option("--sigma-min", opt->sigma_min, "low end of the grid, as σ/α"));
  native(cmd->add_option("--sigma-max", opt->sigma_max, "high end of the grid, as σ/α"));
  native(cmd->add_option("--t-min", opt->t_min, "low end of the grid, in the process's time"));
  native(cmd->add_option("--t-max", opt->t_max, "high end of the grid, in the process's time"));
  native(cmd->add_option("--final-zero", opt->final_zero, "end with a step to sigma = 0 (default: true for karras/exponential)"));
  native(cmd->add_option("--rho", opt->rho, "Karras grid exponent")->capture_default_str());
  native(cmd->add_option("--shift", opt->shift, "flow time shift (SD3)")->capture_default_str());
  native(cmd->add_option("--rtol", opt->rtol, "dopri5 relative tolerance (few-step oracles: at most 1e-10)")->capture_default_str());
  native(cmd->add_option("--atol", opt->atol, "dopri5 absolute tolerance (few-step oracles: at most 1e-10)")->capture_default_str());
  native(cmd->add_option("--ode-time", opt->ode_time_name, "Runge–Kutta time variable: native | sigma | lambda")->capture_default_str());
  native(cmd->add_option("--order", opt->order, "unipc/deis order (1-3), lms order (1-4)"));
  native(cmd->add_flag("--diffusers-rules", opt->diffusers_rules, "multistep solvers lower their order at the end as diffusers does"));
  native(cmd->add_flag("--taylor-3m", opt->taylor_3m, "dpmpp-3m with the D2 weight that makes it third order (peers: off)"));
  native(cmd->add_option("--s-noise", opt->stochastic.s_noise, "scale of every injected normal (k-diffusion s_noise)")
             ->capture_default_str());
  native(cmd->add_option("--s-churn", opt->stochastic.s_churn, "euler/heun churn S_churn (Karras et al. 2022, Alg. 2)")
             ->capture_default_str());
  native(cmd->add_option("--s-tmin", opt->stochastic.s_tmin, "churn only for sigma >= S_tmin")->capture_default_str());
  native(cmd->add_option("--s-tmax", opt->stochastic.s_tmax, "churn only for sigma <= S_tmax")->capture_default_str());
  native(cmd->add_option("--snr", opt->stochastic.snr, "pc-langevin corrector signal-to-noise ratio r")->capture_default_str());
  native(cmd->add_option("--langevin-steps", opt->stochastic.langevin_steps, "pc-langevin corrector steps per step")
             ->capture_default_str());
  native(cmd->add_option("--solver-type", opt->stochastic.solver_type, "dpmpp-2m-sde / dpmpp-3m-sde: midpoint | heun")
             ->capture_default_str());
  cmd->callback([opt, run] {
    if (run) run_sample(*opt);
  });
}

}  // namespace ferry::cli
