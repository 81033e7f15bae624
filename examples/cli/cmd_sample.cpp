// `ferry sample`: one sampling run from unit noise, either as a diffusers scheduler config
// prescribes or from ferry's own process + grid + solver. The unit noise comes from --noise or
// from the keyed generator (--seed, --num-samples); stochastic samplers draw their step noise from
// the keyed generator or from --step-noise. --threads splits the rows over threads and --shard I/K
// samples one slice of the run's rows: both give the bits of the whole single-threaded run.
// With --init X.npy --strength s it edits X (SDEdit: X noised to a level of the grid, then sampled
// back); `ferry invert` (cmd_invert.cpp) runs the same code with the grid reversed. --dtype runs it
// in float or double (the run is sample_run.cpp).
#include <memory>
#include <string>

#include "commands.hpp"
#include "ferry/runtime/solver_settings.hpp"
#include "sample_args.hpp"

namespace ferry::cli {

CLI::Option* add_run_options(CLI::App* cmd, sample_args& o, bool stochastic) {
  cmd->add_option("--model", o.model, "the model: gmm:PATH (exact Gaussian mixture, JSON)")->required();
  cmd->add_option("--threads", o.threads, "threads over rows (results are the same for any count)")->capture_default_str();
  cmd->add_option("--steps", o.steps, "number of solver steps (diffusers: set_timesteps' argument)")
      ->check(count_in(1, std::size_t(1) << 24))
      ->required();
  cmd->add_option("--dtype", o.dtype, "float32 | float64: the state, model and solver in that type end to end (default float64)");
  cmd->add_option("--trajectory", o.trajectory,
                  "also write the state before the first and after every step, .npy (steps+1, N, D) in the run's dtype");
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
  auto opt = std::make_shared<sample_args>();
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
  cmd->add_option("--out", opt->out, "where to write the samples, .npy in --dtype (default: the dtype of --noise/--init, float64 when drawn)")
      ->required();
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
