// `ferry sample-discrete`: token sequences from a masked or uniform discrete diffusion, with the
// exact mixture oracle as the denoiser and any of the discrete samplers, from pure noise or from
// given tokens (--init: a prompt or an infill template), over the uniform grid or --times.
// Library errors name options; this file maps them to the flags.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
  std::string model, out, init, times, kernel = "masked", schedule = "linear", sampler = "ancestral", confidence = "max-prob",
                                       gumbel = "float64", remasking = "low-confidence", alg = "origin";
  std::optional<std::string> eos_rule;
  std::optional<std::size_t> num_samples;
  std::optional<std::int64_t> eos_id;
  std::optional<double> temperature;
  std::size_t steps = 0, block_size = 0, top_k = 0, remask = 0, corrector_steps = 1;
  std::uint64_t seed = 0;
  double top_p = 1, corrector_size = 1, cfg_scale = 0, eps = 1e-3, alg_temp = 0;
  int threads = 1;
  bool no_cache = false;
  std::vector<std::string> given;  // the sampler-specific flags given on the command line
};

// The library's option names as the flags that set them, where a message quotes "option = value".
constexpr std::pair<std::string_view, std::string_view> option_flags[] = {
    {"block_size", "--block-size"}, {"cfg_scale", "--cfg-scale"}, {"eos_id", "--eos-id"}, {"top_p", "--top-p"},
    {"top_k", "--top-k"},           {"alg_temp", "--alg-temp"},   {"eps", "--eps"},       {"steps", "--steps"},
    {"temperature", "--temperature"}, {"threads", "--threads"},
};

bool word_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

// "option = v" → "--flag v" for every option of the table, whole words only.
std::string with_flags(std::string msg) {
  for (const auto& [option, flag] : option_flags) {
    const std::string pattern = std::string(option) + " = ";
    for (std::size_t at = msg.find(pattern); at != std::string::npos; at = msg.find(pattern, at + 1)) {
      if (at > 0 && (word_char(msg[at - 1]) || msg[at - 1] == '-')) continue;
      msg.replace(at, pattern.size(), std::string(flag) + " ");
    }
  }
  return msg;
}

// Runs f; a ferry::error's message is rewritten by `map`, its type kept.
template <class F, class Map>
decltype(auto) mapped(F&& f, Map&& map) {
  try {
    return f();
  } catch (const config_error& e) {
    throw config_error(map(e.what()));
  } catch (const shape_error& e) {
    throw shape_error(map(e.what()));
  } catch (const domain_error& e) {
    throw domain_error(map(e.what()));
  }
}
// A message that starts with `option` starts with `flag` instead.
auto renamed(std::string_view option, std::string flag) {
  return [option, flag = std::move(flag)](std::string msg) {
    return msg.rfind(option, 0) == 0 ? flag + msg.substr(option.size()) : flag + ": " + msg;
  };
}

discrete_mixture load_model(const std::string& spec) {
  const std::string prefix = "mixture:";
  if (spec.rfind(prefix, 0) != 0 || spec.size() == prefix.size())
    throw config_error(detail::cat("--model \"", detail::escape(spec), "\": expected mixture:PATH (an exact discrete mixture from a JSON file)"));
  return discrete_mixture::load(spec.substr(prefix.size()));
}

// --init: (N, L) int32 (or int64) tokens.
std::pair<std::vector<std::int32_t>, std::size_t> read_init(const std::string& path) {
  const io::npy_array a = io::read_npy(path);
  if (a.ndim() != 2)
    throw shape_error(detail::cat(path, ": --init must be 2-D (N, L) tokens, got ", a.ndim(), " dimensions"));
  if (a.dtype() != io::npy_dtype::i4 && a.dtype() != io::npy_dtype::i8)
    throw io_error(detail::cat(path, ": --init must hold int32 tokens, got ", io::npy_descr(a.dtype())));
  if (a.shape[0] == 0) throw shape_error(detail::cat(path, ": --init has no rows"));
  return {mapped([&] { return a.as<std::int32_t>(); }, renamed("npy_array", path + ": --init")), a.shape[0]};
}

// --times: a 1-D float64 (or float32) grid from 1 to 0, checked as the library checks times.
std::vector<double> read_times(const std::string& path, std::size_t steps) {
  const io::npy_array a = io::read_npy(path);
  if (a.ndim() != 1) throw shape_error(detail::cat(path, ": --times must be 1-D, got ", a.ndim(), " dimensions"));
  if (a.dtype() != io::npy_dtype::f8 && a.dtype() != io::npy_dtype::f4)
    throw io_error(detail::cat(path, ": --times must be float64, got ", io::npy_descr(a.dtype())));
  std::vector<double> t = a.as<double>();
  mapped([&] { return discrete::make_times({.kind = grid_kind::custom, .steps = steps, .times = t}); },
         [rename = renamed("discrete times", path + ": --times")](std::string msg) { return with_flags(rename(std::move(msg))); });
  return t;
}

// LLaDA's and Dream's flags given for another sampler, and flags those two do not take. (The older
// samplers' own flags, --remask, --corrector-steps, …, are ignored by the others, as they always were.)
void check_sampler_flags(const sample_discrete_options& o) {
  static constexpr std::pair<std::string_view, std::string_view> owners[] = {
      {"--remasking", "llada"}, {"--cfg-scale", "llada"}, {"--eos-id", "llada"}, {"--eos-rule", "llada"},
      {"--alg", "dream"},       {"--alg-temp", "dream"},  {"--eps", "dream"},
  };
  const bool llm = o.sampler == "llada" || o.sampler == "dream";
  for (const std::string& f : o.given) {
    if (o.sampler == "llada" && (f == "--top-k" || f == "--top-p"))
      throw config_error(detail::cat(f, " is not an option of --sampler llada (its proposals are the argmax, or draws at --temperature)"));
    if (f == "--times" && (o.sampler == "llada" || o.sampler == "first-hitting"))
      throw config_error(detail::cat("--times is not an option of --sampler ", o.sampler,
                                     o.sampler == "llada" ? " (its schedule is the token counts)" : " (it draws its own times)"));
    if (llm && f == "--gumbel")
      throw config_error(detail::cat("--gumbel is not an option of --sampler ", o.sampler, " (its draws are float64, as the peer's)"));
    for (const auto& [flag, sampler] : owners)
      if (f == flag && o.sampler != sampler)
        throw config_error(detail::cat(f, " is an option of --sampler ", sampler, ", not of ", o.sampler));
  }
}

void run_sample_discrete(const sample_discrete_options& o) {
  using namespace ferry::discrete;
  discrete_mixture model = load_model(o.model);
  model.kernel = mapped([&] { return parse_kernel_kind(o.kernel); }, renamed("kernel", "--kernel"));
  const schedule_kind sched = mapped([&] { return parse_schedule_kind(o.schedule); }, renamed("schedule", "--schedule"));
  const process p{kernel{model.kernel, model.vocab()}, alpha_schedule(sched)};
  mapped([&] { return check_sampler_name(o.sampler); }, renamed("sampler", "--sampler"));
  check_sampler_flags(o);
  const bool llm = o.sampler == "llada" || o.sampler == "dream";
  sampler_settings s{.name = o.sampler, .corrector_steps = o.corrector_steps, .corrector_size = o.corrector_size,
                     .cache = !o.no_cache,
                     .score = mapped([&] { return parse_confidence_score(o.confidence); }, renamed("confidence score", "--confidence")),
                     .remask = o.remask};
  s.llada_opts = {.temperature = o.temperature.value_or(0),
                  .remasking = mapped([&] { return parse_remasking(o.remasking); }, renamed("remasking", "--remasking")),
                  .cfg_scale = o.cfg_scale,
                  .eos_id = o.eos_id.value_or(-1),
                  .eos = o.eos_rule ? mapped([&] { return parse_eos_rule(*o.eos_rule); }, renamed("eos rule", "--eos-rule")) : eos_rule::none};
  s.dream_opts = {.alg = mapped([&] { return parse_dream_alg(o.alg); }, renamed("alg", "--alg")),
                  .eps = o.eps,
                  .alg_temp = o.alg_temp,
                  .temperature = o.temperature.value_or(0),
                  .top_p = o.top_p,
                  .top_k = o.top_k};
  if (o.gumbel != "float64" && o.gumbel != "float32")
    throw config_error(ferry::detail::cat("--gumbel \"", ferry::detail::escape(o.gumbel), "\" is unknown",
                                          ferry::detail::did_you_mean(o.gumbel, {"float64", "float32"}), "; expected float64 or float32"));
  run_options opt{.seed = o.seed, .steps = o.steps, .block_size = o.block_size, .threads = o.threads, .first_row = 0, .categorical = {}};
  if (!llm)
    opt.categorical = {.temperature = o.temperature.value_or(1), .top_k = o.top_k, .top_p = o.top_p,
                       .precision = o.gumbel == "float32" ? gumbel_precision::float32 : gumbel_precision::float64};
  if (o.eos_rule.has_value() != o.eos_id.has_value()) throw config_error("--eos-id and --eos-rule go together: give both or neither");
  if (!o.times.empty()) opt.times = read_times(o.times, o.sampler == "llada" ? 0 : o.steps);
  if (o.steps == 0 && opt.times.empty() && o.sampler != "first-hitting") throw config_error("--steps must be at least 1 (or give --times)");

  std::size_t n = 0;
  std::vector<std::int32_t> init;
  if (!o.init.empty()) {
    std::size_t init_rows = 0;
    std::tie(init, init_rows) = read_init(o.init);
    if (init.size() / init_rows != model.length())
      throw shape_error(ferry::detail::cat(o.init, ": --init has rows of ", init.size() / init_rows, " tokens; the model has L = ", model.length()));
    if (init_rows > 1 && o.num_samples && *o.num_samples != init_rows)
      throw config_error(ferry::detail::cat("--num-samples ", *o.num_samples, " but --init ", o.init, " has ", init_rows,
                                     " rows; give one row to repeat it, or leave --num-samples out"));
    n = init_rows > 1 ? init_rows : o.num_samples.value_or(1);
    opt.init = const_token_view(init.data(), init_rows, model.length());
    mapped([&] { return check_init(opt.init, n, model.length(), model.vocab()); }, renamed("discrete::sample: init", o.init + ": --init"));
  } else {
    if (!o.num_samples) throw config_error("--num-samples is required (or give --init, whose rows are the samples)");
    n = *o.num_samples;
  }

  std::vector<std::int32_t> tokens(n * model.length());
  const auto start = std::chrono::steady_clock::now();
  const run_stats st = mapped([&] { return sample_discrete_mixture(model, p, s, token_view(tokens.data(), n, model.length()), opt); },
                              [](std::string msg) { return with_flags(std::move(msg)); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io::write_npy<std::int32_t>(o.out, tokens.data(), {n, model.length()});
  std::cerr << "ferry sample-discrete: " << n << " samples, " << st.steps << " steps, NFE " << st.nfe_max << " (mean " << st.nfe_mean
            << " per sample), " << seconds << " s -> " << o.out << "\n";
}

}  // namespace

void add_sample_discrete_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<sample_discrete_options>();
  auto* cmd = app.add_subcommand("sample-discrete", "sample token sequences from a masked or uniform discrete diffusion");
  cmd->add_option("--model", opt->model, "the model: mixture:PATH (exact discrete mixture, JSON)")->required();
  cmd->add_option("--num-samples", opt->num_samples, "number of sequences N (with --init: repeats its one row N times)")
      ->check(count_in(1, std::size_t(1) << 40));
  cmd->add_option("--out", opt->out, "where to write the tokens, .npy (N, L) int32")->required();
  cmd->add_option("--init", opt->init,
                  "given tokens, .npy (N, L) int32: tokens in [0, V) are kept, V (the mask) marks where to generate; "
                  "its rows are the samples (one row: repeated --num-samples times)");
  cmd->add_option("--steps", opt->steps, "steps K per block (llada: over all blocks; first-hitting: unused, one event per token)")
      ->check(count_in(0, std::size_t(1) << 32));
  cmd->add_option("--times", opt->times, "the time grid of every block, .npy float64 1-D from 1 down to 0 (default: uniform in t)");
  cmd->add_option("--kernel", opt->kernel, "masked | uniform")->capture_default_str();
  cmd->add_option("--schedule", opt->schedule, "linear | cosine | loglinear | geometric")->capture_default_str();
  cmd->add_option("--sampler", opt->sampler, "euler | tau-leaping | pc | tweedie | ancestral | first-hitting | confidence | llada | dream")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of every draw (keyed Philox)")->capture_default_str();
  cmd->add_option("--block-size", opt->block_size, "semi-autoregressive blocks of B positions from the first to generate (masked; 0: one block)")
      ->capture_default_str();
  cmd->add_option("--temperature", opt->temperature, "temperature on p(x0|x_t); 0 is the argmax (default 1; llada, dream: 0)");
  cmd->add_option("--top-k", opt->top_k, "keep the k most probable tokens (0: all; dream: those >= the k-th)")->capture_default_str();
  cmd->add_option("--top-p", opt->top_p, "nucleus: the fewest tokens with this much mass")->capture_default_str();
  cmd->add_option("--remask", opt->remask, "confidence: tokens remasked per step")->capture_default_str();
  cmd->add_option("--confidence", opt->confidence, "confidence score: max-prob | margin")->capture_default_str();
  cmd->add_option("--corrector-steps", opt->corrector_steps, "pc: corrector leaps per step")->capture_default_str();
  cmd->add_option("--corrector-size", opt->corrector_size, "pc: corrector leap length as a multiple of the step")
      ->capture_default_str();
  cmd->add_option("--gumbel", opt->gumbel, "precision of Gumbel-max draws: float64 | float32")->capture_default_str();
  cmd->add_flag("--no-cache", opt->no_cache, "ancestral: call the model every step even when no token changed");
  cmd->add_option("--remasking", opt->remasking, "llada: which masks to reveal, low-confidence | random")->capture_default_str();
  cmd->add_option("--cfg-scale", opt->cfg_scale, "llada: classifier-free guidance W against the input with the given tokens masked")
      ->capture_default_str();
  cmd->add_option("--eos-id", opt->eos_id, "llada: the EOS token E (with --eos-rule)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--eos-rule", opt->eos_rule, "llada: logits (E never generated) | confidence (E scores 0)");
  cmd->add_option("--alg", opt->alg, "dream: origin | maskgit-plus | topk-margin | entropy")->capture_default_str();
  cmd->add_option("--alg-temp", opt->alg_temp, "dream: draw the positions to reveal from softmax(score / A) (0: the best)")
      ->capture_default_str();
  cmd->add_option("--eps", opt->eps, "dream: its grid runs from 1 to eps")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "threads over the samples (the tokens do not depend on it)")->capture_default_str();
  cmd->callback([opt, run, cmd] {
    opt->given.clear();
    for (const char* f : {"--remasking", "--cfg-scale", "--eos-id", "--eos-rule", "--alg", "--alg-temp", "--eps", "--gumbel", "--top-k",
                          "--top-p", "--times"})
      if (cmd->count(f) > 0) opt->given.emplace_back(f);
    if (run) run_sample_discrete(*opt);
  });
}

}  // namespace ferry::cli
