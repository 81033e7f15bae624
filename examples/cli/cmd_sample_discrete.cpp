// `ferry sample-discrete`: token sequences from a masked or uniform discrete diffusion, with the
// exact mixture oracle as the denoiser and any of the discrete samplers.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "discrete_run.hpp"
#include "ferry/core/error.hpp"
#include "ferry/io/npy.hpp"

namespace ferry::cli {

discrete::run_stats sample_discrete_mixture(const discrete_mixture& model, const discrete::process& p,
                                            const discrete::sampler_settings& s, discrete::token_view x,
                                            const discrete::run_options& o) {
  return discrete::with_sampler(s, [&](const auto& sampler) { return discrete::sample(model, p, sampler, x, o); });
}

namespace {

struct sample_discrete_options {
  std::string model, out, kernel = "masked", schedule = "linear", sampler = "ancestral", confidence = "max-prob",
                          gumbel = "float64";
  std::size_t steps = 0, num_samples = 0, block_size = 0, top_k = 0, remask = 0, corrector_steps = 1;
  std::uint64_t seed = 0;
  double temperature = 1, top_p = 1, corrector_size = 1;
  int threads = 1;
  bool no_cache = false;
};

discrete_mixture load_model(const std::string& spec) {
  const std::string prefix = "mixture:";
  if (spec.rfind(prefix, 0) != 0 || spec.size() == prefix.size())
    throw config_error(detail::cat("--model \"", detail::escape(spec), "\": expected mixture:PATH (an exact discrete mixture from a JSON file)"));
  return discrete_mixture::load(spec.substr(prefix.size()));
}

void run_sample_discrete(const sample_discrete_options& o) {
  using namespace ferry::discrete;
  discrete_mixture model = load_model(o.model);
  model.kernel = parse_kernel_kind(o.kernel);
  const process p{kernel{model.kernel, model.vocab()}, alpha_schedule(parse_schedule_kind(o.schedule))};
  sampler_settings s{.name = o.sampler, .corrector_steps = o.corrector_steps, .corrector_size = o.corrector_size,
                     .cache = !o.no_cache, .score = parse_confidence_score(o.confidence), .remask = o.remask};
  if (o.num_samples == 0) throw config_error("--num-samples must be at least 1");
  if (o.steps == 0 && o.sampler != "first-hitting") throw config_error("--steps must be at least 1");
  if (o.gumbel != "float64" && o.gumbel != "float32")
    throw config_error(ferry::detail::cat("--gumbel \"", ferry::detail::escape(o.gumbel), "\" is unknown",
                                          ferry::detail::did_you_mean(o.gumbel, {"float64", "float32"}), "; expected float64 or float32"));
  run_options opt{.seed = o.seed, .steps = o.steps, .block_size = o.block_size, .threads = o.threads, .first_row = 0,
                  .categorical = {.temperature = o.temperature, .top_k = o.top_k, .top_p = o.top_p,
                                  .precision = o.gumbel == "float32" ? gumbel_precision::float32 : gumbel_precision::float64}};

  std::vector<std::int32_t> tokens(o.num_samples * model.length());
  const auto start = std::chrono::steady_clock::now();
  const run_stats st = sample_discrete_mixture(model, p, s, token_view(tokens.data(), o.num_samples, model.length()), opt);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io::write_npy<std::int32_t>(o.out, tokens.data(), {o.num_samples, model.length()});
  std::cerr << "ferry sample-discrete: " << o.num_samples << " samples, " << st.steps << " steps, NFE " << st.nfe_max
            << " (mean " << st.nfe_mean << " per sample), " << seconds << " s -> " << o.out << "\n";
}

}  // namespace

void add_sample_discrete_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<sample_discrete_options>();
  auto* cmd = app.add_subcommand("sample-discrete", "sample token sequences from a masked or uniform discrete diffusion");
  cmd->add_option("--model", opt->model, "the model: mixture:PATH (exact discrete mixture, JSON)")->required();
  cmd->add_option("--num-samples", opt->num_samples, "number of sequences N")->required()->check(count_in(1, std::size_t(1) << 40));
  cmd->add_option("--out", opt->out, "where to write the tokens, .npy (N, L) int32")->required();
  cmd->add_option("--steps", opt->steps, "steps K per block (first-hitting: unused, one event per token)")
      ->check(count_in(0, std::size_t(1) << 32));
  cmd->add_option("--kernel", opt->kernel, "masked | uniform")->capture_default_str();
  cmd->add_option("--schedule", opt->schedule, "linear | cosine | loglinear | geometric")->capture_default_str();
  cmd->add_option("--sampler", opt->sampler, "euler | tau-leaping | pc | tweedie | ancestral | first-hitting | confidence")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of every draw (keyed Philox)")->capture_default_str();
  cmd->add_option("--block-size", opt->block_size, "semi-autoregressive blocks of B positions (masked; 0: one block)")
      ->capture_default_str();
  cmd->add_option("--temperature", opt->temperature, "temperature on p(x0|x_t); 0 is the argmax")->capture_default_str();
  cmd->add_option("--top-k", opt->top_k, "keep the k most probable tokens (0: all)")->capture_default_str();
  cmd->add_option("--top-p", opt->top_p, "nucleus: the fewest tokens with this much mass")->capture_default_str();
  cmd->add_option("--remask", opt->remask, "confidence: tokens remasked per step")->capture_default_str();
  cmd->add_option("--confidence", opt->confidence, "confidence score: max-prob | margin")->capture_default_str();
  cmd->add_option("--corrector-steps", opt->corrector_steps, "pc: corrector leaps per step")->capture_default_str();
  cmd->add_option("--corrector-size", opt->corrector_size, "pc: corrector leap length as a multiple of the step")
      ->capture_default_str();
  cmd->add_option("--gumbel", opt->gumbel, "precision of Gumbel-max draws: float64 | float32")->capture_default_str();
  cmd->add_flag("--no-cache", opt->no_cache, "ancestral: call the model every step even when no token changed");
  cmd->add_option("--threads", opt->threads, "threads over the samples (the tokens do not depend on it)")->capture_default_str();
  cmd->callback([opt, run] {
    if (run) run_sample_discrete(*opt);
  });
}

}  // namespace ferry::cli
