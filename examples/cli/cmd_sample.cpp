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
  cmd->add_option("--steps", o.steps, "number of solver steps (diffusers: set_timesteps' argument; with --sigmas, its length - 1)")
      ->check(count_in(1, std::size_t(1) << 24));
  cmd->add_option("--dtype", o.dtype, "float32 | float64: the state, model and solver in that type end to end (default float64)");
  cmd->add_option("--trajectory", o.trajectory,
                  "also write the state before the first and after every step, .npy (steps+1, N, D) in the run's dtype");
  auto* cfg = cmd->add_option("--scheduler-config", o.scheduler_config,
                              stochastic ? "a diffusers scheduler_config.json; replaces --process/--grid/--solver"
                                         : "a diffusers scheduler_config.json: invert as DDIMInverseScheduler.from_config(it) "
                                           "does; replaces --process/--grid/--solver");
  auto native = [&](CLI::Option* opt) { return opt->excludes(cfg); };
  cmd->add_option("--mu", o.mu, "with --scheduler-config: set_timesteps(mu=M), dynamic shifting (FLUX, LTX, Wan)")->needs(cfg);
  cmd->add_option("--image-seq-len", o.image_seq_len,
                  "with --scheduler-config: mu as the FLUX pipeline's calculate_shift computes it from the config")
      ->needs(cfg);
  add_native_options(cmd, o.native, native, !stochastic);
  std::string names;
  for (auto v : solver_names) names += (names.empty() ? "" : " ") + std::string(v);
  if (stochastic) names += " consistency meanflow (few-step: the mixture's exact flow map is the distilled model)";
  else
    names = "a deterministic solver: euler heun midpoint rk4 dopri5 ddim dpmpp-1 dpmpp-2m dpmpp-3m dpmpp-2s unipc uni-pc uni-pc-bh2 "
            "deis lms ipndm ipndm-v pndm heunpp2 gradient-estimation";
  native(cmd->add_option("--solver", o.solver, names)->capture_default_str());
  native(cmd->add_option("--prediction", o.prediction,
                         "what the model predicts: epsilon | data | v | score | velocity (default: data, velocity for flow)"));
  native(cmd->add_option("--rtol", o.rtol, "relative tolerance: dopri5 (default 1e-5), dpm-adaptive (0.05); few-step oracles: at most 1e-10"));
  native(cmd->add_option("--atol", o.atol, "absolute tolerance: dopri5 (default 1e-5), dpm-adaptive (0.0078); few-step oracles: at most 1e-10"));
  native(cmd->add_option("--ode-time", o.ode_time_name, "Runge–Kutta time variable: native | sigma | lambda")->capture_default_str());
  native(cmd->add_option("--order", o.order,
                         "unipc, dpm-singlestep order (1-3, default 2), lms (1-4), dpm-adaptive (2-3); deis, ipndm: as --max-order"));
  native(cmd->add_option("--max-order", o.stochastic.max_order,
                         "ipndm, ipndm-v: max_order (1-4, default 4); deis: max_order (tab 1-4, default 3; logrho 1-3, default 2)"));
  native(cmd->add_option("--deis-mode", o.stochastic.deis_mode,
                         "deis: tab (ComfyUI's tAB-DEIS, its quadrature) | logrho (rhoAB-DEIS in log rho, diffusers' DEISMultistepScheduler)")
             ->capture_default_str());
  native(cmd->add_flag("--skip-prk-steps", o.stochastic.skip_prk_steps, "pndm: PLMS from the first step (no pseudo Runge-Kutta warm-up)"));
  native(cmd->add_option("--algorithm-type", o.stochastic.algorithm_type,
                         stochastic ? "dpm-singlestep: dpmsolver++ | dpmsolver | sde-dpmsolver++" : "dpm-singlestep: dpmsolver++ | dpmsolver")
             ->capture_default_str());
  native(cmd->add_option("--ge-gamma", o.stochastic.ge_gamma, "gradient-estimation: gamma")->capture_default_str());
  native(cmd->add_option("--h-init", o.stochastic.h_init, "dpm-adaptive: the first step in lambda")->capture_default_str());
  native(cmd->add_option("--pcoeff", o.stochastic.pcoeff, "dpm-adaptive: the PID controller's P")->capture_default_str());
  native(cmd->add_option("--icoeff", o.stochastic.icoeff, "dpm-adaptive: the PID controller's I")->capture_default_str());
  native(cmd->add_option("--dcoeff", o.stochastic.dcoeff, "dpm-adaptive: the PID controller's D")->capture_default_str());
  native(cmd->add_option("--accept-safety", o.stochastic.accept_safety, "dpm-adaptive: accept a step at error <= 1/accept_safety")
             ->capture_default_str());
  native(cmd->add_flag("--diffusers-rules", o.diffusers_rules, "multistep solvers lower their order at the end as diffusers does"));
  native(cmd->add_flag("--taylor-3m", o.taylor_3m, "dpmpp-3m with the D2 weight that makes it third order (peers: off)"));
  if (!stochastic) return cfg;
  cmd->add_option("--s-noise", o.stochastic.s_noise,
                  "scale of every injected normal (k-diffusion s_noise); with --scheduler-config, DPMSolverSDEScheduler's step(s_noise)")
      ->capture_default_str();
  native(cmd->add_option("--s-churn", o.stochastic.s_churn, "euler/heun churn S_churn (Karras et al. 2022, Alg. 2)")
             ->capture_default_str());
  native(cmd->add_option("--s-tmin", o.stochastic.s_tmin, "churn only for sigma >= S_tmin")->capture_default_str());
  native(cmd->add_option("--s-tmax", o.stochastic.s_tmax, "churn only for sigma <= S_tmax")->capture_default_str());
  native(cmd->add_option("--snr", o.stochastic.snr, "pc-langevin corrector signal-to-noise ratio r")->capture_default_str());
  native(cmd->add_option("--langevin-steps", o.stochastic.langevin_steps, "pc-langevin corrector steps per step")
             ->capture_default_str());
  native(cmd->add_option("--solver-type", o.stochastic.solver_type,
                         "dpmpp-2m-sde / dpmpp-3m-sde: midpoint | heun (default midpoint); seeds-2: phi_1 | phi_2 (default phi_1)"));
  native(cmd->add_option("--langevin-step", o.stochastic.langevin_step,
                         "pc-langevin: the corrector's step size from the expected norms (expected) or each row's own (per-sample)")
             ->capture_default_str());
  native(cmd->add_option("--r", o.stochastic.r, "seeds-2, dpmpp-sde: the intermediate stage's share of the step (default 0.5)"));
  native(cmd->add_option("--r-1", o.stochastic.r_1, "seeds-3: its first stage")->capture_default_str());
  native(cmd->add_option("--r-2", o.stochastic.r_2, "seeds-3: its second stage")->capture_default_str());
  native(cmd->add_option("--max-stage", o.stochastic.max_stage, "er-sde: its stages, 1 to 3")->capture_default_str());
  native(cmd->add_option("--predictor-order", o.stochastic.predictor_order, "sa-solver: the predictor's order, 1 to 4")->capture_default_str());
  native(cmd->add_option("--corrector-order", o.stochastic.corrector_order, "sa-solver: the corrector's order, 1 to 4")->capture_default_str());
  native(cmd->add_flag("--use-pece", o.stochastic.use_pece, "sa-solver: evaluate the corrected state again (= sa-solver-pece)"));
  native(cmd->add_flag("--simple-order-2", o.stochastic.simple_order_2, "sa-solver: the paper's simpler weights at order 2"));
  native(cmd->add_option("--sde-start-sigma", o.stochastic.sde_start_sigma,
                         "sa-solver: tau = eta on sigma <= this (default: percent_to_sigma(0.2) of discrete-vp or flow; required on "
                         "other processes)"));
  native(cmd->add_option("--sde-end-sigma", o.stochastic.sde_end_sigma,
                         "sa-solver: tau = eta on sigma >= this (default: percent_to_sigma(0.8) of discrete-vp or flow)"));
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
  cmd->add_option("--rng", opt->rng,
                  "philox (ferry's keyed generator, default) | torch-cpu | torch-cuda: torch's generator seeded --seed draws the "
                  "initial noise and then every step's noise, in order, as a diffusers pipeline spends its generator")
      ->capture_default_str();
  cmd->add_option("--step-noise", opt->step_noise,
                  "inject the step noise: .npy (S >= steps, N, D), step i uses W[i] for its one normal draw; or (S, K, N, D), "
                  "draw k of step i is W[i, k]");
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
  cmd->callback([opt, run, cmd] {
    opt->s_noise_given = cmd->count("--s-noise") > 0;  // with a config: step(s_noise=…), which only some classes take
    if (run) run_sample(*opt);
  });
}

}  // namespace ferry::cli
