#pragma once
// ferry::compat::diffusers_config: a diffusers scheduler_config.json, read with each scheduler class's
// own __init__ defaults (diffusers commit 58eb52c, src/diffusers/schedulers). Keys diffusers adds on
// save (`_class_name`, `_diffusers_version`, anything beginning with `_`) are skipped; keys the class
// does not take are collected as warnings (diffusers ignores them too); a bad type or value, a
// class ferry does not read, or an accepted key whose non-default value ferry does not implement is
// a config_error naming the key, the value and what is accepted.
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferry/core/error.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/io/read_json.hpp"
#include "ferry/process/discrete_vp.hpp"

namespace ferry::compat {

/// The diffusers scheduler classes ferry reproduces.
enum class scheduler_class { ddim, dpm_multistep, euler, heun, lms, unipc, deis, flow_euler, ddpm, euler_ancestral, lcm, tcd };

constexpr std::string_view class_name(scheduler_class c) {
  switch (c) {
    case scheduler_class::ddim: return "DDIMScheduler";
    case scheduler_class::dpm_multistep: return "DPMSolverMultistepScheduler";
    case scheduler_class::euler: return "EulerDiscreteScheduler";
    case scheduler_class::heun: return "HeunDiscreteScheduler";
    case scheduler_class::lms: return "LMSDiscreteScheduler";
    case scheduler_class::unipc: return "UniPCMultistepScheduler";
    case scheduler_class::deis: return "DEISMultistepScheduler";
    case scheduler_class::flow_euler: return "FlowMatchEulerDiscreteScheduler";
    case scheduler_class::ddpm: return "DDPMScheduler";
    case scheduler_class::euler_ancestral: return "EulerAncestralDiscreteScheduler";
    case scheduler_class::lcm: return "LCMScheduler";
    case scheduler_class::tcd: return "TCDScheduler";
  }
  return "?";
}

enum class timestep_spacing { linspace, leading, trailing };
/// Which σ grid replaces the spaced timesteps (`use_karras_sigmas`, `use_exponential_sigmas`,
/// DPMSolverMultistep's `use_lu_lambdas`).
enum class sigma_spacing { timesteps, karras, exponential, lu_lambdas };
enum class final_sigmas { zero, sigma_min };
/// DPMSolverMultistep's `algorithm_type` (DEIS's only value is `deis`); sde_dpmsolver_pp is the
/// stochastic SDE-DPM-Solver++ (solvers/sde/dpmpp_multistep_sde.hpp).
enum class algorithm { dpmsolver_pp, dpmsolver, deis, sde_dpmsolver_pp };
/// `solver_type`: midpoint|heun (DPM-Solver), logrho (DEIS), bh1|bh2 (UniPC).
enum class solver_kind { midpoint, heun, logrho, bh1, bh2 };
/// EulerDiscrete's `interpolation_type`.
enum class sigma_interpolation { linear, log_linear };

struct diffusers_config {
  scheduler_class kind = scheduler_class::ddim;
  /// Keys the class does not take (ignored, as diffusers ignores them), one message each.
  std::vector<std::string> warnings;

  std::size_t num_train_timesteps = 1000;
  double beta_start = 0.0001, beta_end = 0.02;
  beta_schedule betas = beta_schedule::linear;
  std::vector<double> trained_betas;  ///< empty: none (then beta_schedule applies)
  prediction prediction_type = prediction::epsilon;
  timestep_spacing spacing = timestep_spacing::linspace;
  long long steps_offset = 0;
  bool rescale_betas_zero_snr = false;

  // DDIM
  bool set_alpha_to_one = true;
  bool clip_sample = false;
  double clip_sample_range = 1;
  // dynamic thresholding (Saharia et al. 2022): DDIM, DPM, UniPC, DEIS
  bool thresholding = false;
  double dynamic_thresholding_ratio = 0.995, sample_max_value = 1;

  // σ grids
  sigma_spacing sigmas = sigma_spacing::timesteps;
  final_sigmas final_sigmas_type = final_sigmas::zero;
  std::optional<double> sigma_min, sigma_max;  ///< config keys, or ones diffusers still reads (see warnings)
  sigma_interpolation interpolation = sigma_interpolation::linear;
  bool continuous_timesteps = false;  ///< Euler `timestep_type: continuous`

  // multistep solvers
  int solver_order = 2;
  solver_kind solver_type = solver_kind::midpoint;
  algorithm algorithm_type = algorithm::dpmsolver_pp;
  bool lower_order_final = true, euler_at_final = false;
  double lambda_min_clipped = -std::numeric_limits<double>::infinity();
  bool predict_x0 = true;                 ///< UniPC
  std::vector<long long> disable_corrector;  ///< UniPC: steps whose corrector is skipped

  // DDPM: `variance_type` (fixed_small | fixed_large)
  bool variance_fixed_large = false;
  // LCM, TCD: the distillation schedule's step count and the boundary condition's timestep scale
  std::size_t original_inference_steps = 50;
  double timestep_scaling = 10;

  // flow matching
  double shift = 1;
  bool invert_sigmas = false;
  std::optional<double> shift_terminal;
};

namespace detail {

using json = nlohmann::json;

struct config_reader {
  const json& j;
  std::string_view where;
  diffusers_config& c;

  /// The value as JSON text, escaped (strings from the file may hold any bytes).
  static std::string show(const json& v) { return ferry::detail::escape(v.dump(-1, ' ', false, json::error_handler_t::replace)); }
  [[noreturn]] void bad(std::string_view key, const json& v, std::string_view expected) const {
    throw config_error(ferry::detail::cat(where, ": \"", key, "\" is ", show(v), "; expected ", expected));
  }
  bool as_bool(std::string_view key, const json& v) const {
    if (v.is_null()) return false;  // Python truthiness of None, which some classes use as the default
    if (!v.is_boolean()) bad(key, v, "true or false");
    return v.get<bool>();
  }
  double as_number(std::string_view key, const json& v) const {
    if (!v.is_number()) bad(key, v, "a number");
    const double x = v.get<double>();
    if (!std::isfinite(x)) bad(key, v, "a finite number");
    return x;
  }
  double as_positive(std::string_view key, const json& v) const {
    const double x = as_number(key, v);
    if (!(x > 0)) bad(key, v, "a number > 0");
    return x;
  }
  long long as_int(std::string_view key, const json& v, long long lo, long long hi) const {
    if (!v.is_number_integer() && !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()))
      bad(key, v, ferry::detail::cat("an integer in [", lo, ", ", hi, "]"));
    const double x = v.get<double>();
    if (x < double(lo) || x > double(hi)) bad(key, v, ferry::detail::cat("an integer in [", lo, ", ", hi, "]"));
    return static_cast<long long>(x);
  }
  template <class E>
  E as_enum(std::string_view key, const json& v, std::initializer_list<std::pair<std::string_view, E>> choices) const {
    std::string accepted;
    std::size_t i = 0;
    for (const auto& [name, value] : choices) {
      accepted += (i == 0 ? "" : (i + 1 == choices.size() ? " or " : ", "));
      accepted += name;
      ++i;
    }
    if (!v.is_string()) bad(key, v, accepted);
    const auto s = v.get<std::string>();
    for (const auto& [name, value] : choices)
      if (s == name) return value;
    bad(key, v, accepted);
  }
  /// A key the class accepts but ferry does not implement: only its default value passes.
  void only_default(std::string_view key, const json& v, const json& def, std::string_view what) const {
    if (v == def || (def.is_boolean() && !def.get<bool>() && v.is_null())) return;
    bad(key, v, ferry::detail::cat(def.dump(), " (ferry does not implement ", what, ")"));
  }
};

inline bool is_vp(scheduler_class k) { return k != scheduler_class::flow_euler; }

// The keys each class's __init__ takes.
inline const std::vector<std::string_view>& accepted_keys(scheduler_class k) {
  using sc = scheduler_class;
  static const std::vector<std::string_view> ddim{
      "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "clip_sample",
      "set_alpha_to_one", "steps_offset", "prediction_type", "thresholding", "dynamic_thresholding_ratio",
      "clip_sample_range", "sample_max_value", "timestep_spacing", "rescale_betas_zero_snr"};
  static const std::vector<std::string_view> dpm{
      "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "solver_order",
      "prediction_type", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "algorithm_type",
      "solver_type", "lower_order_final", "euler_at_final", "use_karras_sigmas", "use_exponential_sigmas",
      "use_beta_sigmas", "use_lu_lambdas", "use_flow_sigmas", "flow_shift", "final_sigmas_type",
      "lambda_min_clipped", "variance_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr",
      "use_dynamic_shifting", "time_shift_type"};
  static const std::vector<std::string_view> euler{
      "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type",
      "interpolation_type", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "sigma_min",
      "sigma_max", "timestep_spacing", "timestep_type", "steps_offset", "rescale_betas_zero_snr",
      "final_sigmas_type"};
  static const std::vector<std::string_view> heun{
      "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type",
      "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "clip_sample", "clip_sample_range",
      "timestep_spacing", "steps_offset"};
  static const std::vector<std::string_view> lms{
      "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "use_karras_sigmas",
      "use_exponential_sigmas", "use_beta_sigmas", "prediction_type", "timestep_spacing", "steps_offset"};
  static const std::vector<std::string_view> unipc{
      "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "solver_order",
      "prediction_type", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "predict_x0",
      "solver_type", "lower_order_final", "disable_corrector", "solver_p", "use_karras_sigmas",
      "use_exponential_sigmas", "use_beta_sigmas", "use_flow_sigmas", "flow_shift", "timestep_spacing",
      "steps_offset", "final_sigmas_type", "rescale_betas_zero_snr", "use_dynamic_shifting", "time_shift_type",
      "sigma_min", "sigma_max", "shift_terminal"};
  static const std::vector<std::string_view> deis{
      "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "solver_order",
      "prediction_type", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "algorithm_type",
      "solver_type", "lower_order_final", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
      "use_flow_sigmas", "flow_shift", "timestep_spacing", "steps_offset", "use_dynamic_shifting",
      "time_shift_type"};
  static const std::vector<std::string_view> flow{
      "num_train_timesteps", "shift", "use_dynamic_shifting", "base_shift", "max_shift", "base_image_seq_len",
      "max_image_seq_len", "invert_sigmas", "shift_terminal", "use_karras_sigmas", "use_exponential_sigmas",
      "use_beta_sigmas", "time_shift_type", "stochastic_sampling"};
  static const std::vector<std::string_view> ddpm{
      "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "variance_type", "clip_sample",
      "prediction_type", "thresholding", "dynamic_thresholding_ratio", "clip_sample_range", "sample_max_value",
      "timestep_spacing", "steps_offset", "rescale_betas_zero_snr"};
  static const std::vector<std::string_view> euler_ancestral{
      "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type",
      "timestep_spacing", "steps_offset", "rescale_betas_zero_snr"};
  static const std::vector<std::string_view> lcm{
      "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "original_inference_steps",
      "clip_sample", "clip_sample_range", "set_alpha_to_one", "steps_offset", "prediction_type", "thresholding",
      "dynamic_thresholding_ratio", "sample_max_value", "timestep_spacing", "timestep_scaling", "rescale_betas_zero_snr"};
  switch (k) {
    case sc::ddpm: return ddpm;
    case sc::euler_ancestral: return euler_ancestral;
    case sc::lcm:
    case sc::tcd: return lcm;  // the same __init__ arguments
    case sc::ddim: return ddim;
    case sc::dpm_multistep: return dpm;
    case sc::euler: return euler;
    case sc::heun: return heun;
    case sc::lms: return lms;
    case sc::unipc: return unipc;
    case sc::deis: return deis;
    case sc::flow_euler: return flow;
  }
  return ddim;
}

inline bool accepts(scheduler_class k, std::string_view key) {
  for (auto a : accepted_keys(k))
    if (a == key) return true;
  return false;
}

}  // namespace detail

/// The config a class has with no keys set: each class's __init__ defaults.
inline diffusers_config default_config(scheduler_class k) {
  using sc = scheduler_class;
  diffusers_config c;
  c.kind = k;
  switch (k) {
    case sc::ddim:
      c.spacing = timestep_spacing::leading;
      c.clip_sample = true;
      break;
    case sc::heun:
      c.beta_start = 0.00085;
      c.beta_end = 0.012;
      break;
    case sc::unipc: c.solver_type = solver_kind::bh2; break;
    case sc::deis:
      c.solver_type = solver_kind::logrho;
      c.algorithm_type = algorithm::deis;
      break;
    case sc::flow_euler: c.prediction_type = prediction::velocity; break;
    case sc::ddpm:
      c.spacing = timestep_spacing::leading;
      c.clip_sample = true;
      break;
    case sc::lcm:
    case sc::tcd:
      c.beta_start = 0.00085;
      c.beta_end = 0.012;
      c.betas = beta_schedule::scaled_linear;
      c.spacing = timestep_spacing::leading;
      break;
    default: break;
  }
  return c;
}

/// The float32 β table of a config: trained_betas if given, else its beta_schedule, then the
/// zero-terminal-SNR rescale if asked (DDIM, DPM, Euler, UniPC take that key).
inline std::vector<float> config_betas(const diffusers_config& c) {
  std::vector<float> b;
  if (!c.trained_betas.empty()) {
    for (double x : c.trained_betas) b.push_back(static_cast<float>(x));
    return c.rescale_betas_zero_snr ? ferry::detail::rescale_zero_terminal_snr(b) : b;
  }
  return diffusers_betas(c.betas, c.num_train_timesteps, c.beta_start, c.beta_end, c.rescale_betas_zero_snr);
}

/// Reads a scheduler_config.json object. The class is `kind` if given, else the `_class_name` key.
inline diffusers_config parse_diffusers_config(const nlohmann::json& j, std::optional<scheduler_class> kind = std::nullopt,
                                               std::string_view where = "scheduler_config.json") {
  using sc = scheduler_class;
  using ferry::detail::cat;
  if (!j.is_object()) throw config_error(cat(where, ": expected a JSON object, got ", detail::config_reader::show(j)));
  if (!kind) {
    const auto it = j.find("_class_name");
    if (it == j.end())
      throw config_error(cat(where, ": no \"_class_name\"; expected one of DDIMScheduler, DPMSolverMultistepScheduler, "
                                    "EulerDiscreteScheduler, HeunDiscreteScheduler, LMSDiscreteScheduler, "
                                    "UniPCMultistepScheduler, DEISMultistepScheduler, FlowMatchEulerDiscreteScheduler, "
                                    "DDPMScheduler, EulerAncestralDiscreteScheduler, LCMScheduler or TCDScheduler"));
    bool found = false;
    for (sc k : {sc::ddim, sc::dpm_multistep, sc::euler, sc::heun, sc::lms, sc::unipc, sc::deis, sc::flow_euler, sc::ddpm,
                 sc::euler_ancestral, sc::lcm, sc::tcd})
      if (it->is_string() && it->get<std::string>() == class_name(k)) { kind = k; found = true; }
    if (!found) {
      std::vector<std::string_view> names;
      for (sc k : {sc::ddim, sc::dpm_multistep, sc::euler, sc::heun, sc::lms, sc::unipc, sc::deis, sc::flow_euler, sc::ddpm,
                   sc::euler_ancestral, sc::lcm, sc::tcd})
        names.push_back(class_name(k));
      throw config_error(cat(where, ": \"_class_name\" is ", detail::config_reader::show(*it),
                             it->is_string() ? ferry::detail::did_you_mean(it->get<std::string>(), names) : std::string(),
                             "; expected DDIMScheduler, "
                             "DPMSolverMultistepScheduler, EulerDiscreteScheduler, HeunDiscreteScheduler, "
                             "LMSDiscreteScheduler, UniPCMultistepScheduler, DEISMultistepScheduler, "
                             "FlowMatchEulerDiscreteScheduler, DDPMScheduler, EulerAncestralDiscreteScheduler, LCMScheduler or "
                             "TCDScheduler"));
    }
  }
  diffusers_config c = default_config(*kind);
  const detail::config_reader r{j, where, c};
  const sc k = *kind;
  const bool dpm = k == sc::dpm_multistep, unipc = k == sc::unipc, deis = k == sc::deis;
  bool karras = false, exponential = false, lu = false;

  for (const auto& [key, v] : j.items()) {
    if (!key.empty() && key.front() == '_') continue;  // _class_name, _diffusers_version, …
    if (!detail::accepts(k, key)) {
      const bool still_read = (key == "sigma_min" || key == "sigma_max") && v.is_number();
      if (still_read) {
        // diffusers registers unexpected keys into the config, and _convert_to_karras/_exponential read
        // `self.config.sigma_min` whenever it exists: so they still take effect.
        (key == "sigma_min" ? c.sigma_min : c.sigma_max) = r.as_positive(key, v);
        c.warnings.push_back(cat(where, ": \"", ferry::detail::escape(key), "\" is not a ", class_name(k),
                                 " argument; diffusers still uses it as the Karras/exponential σ bound, and so does ferry"));
      } else {
        c.warnings.push_back(cat(where, ": \"", ferry::detail::escape(key), "\" is not a ", class_name(k), " argument; ignored",
                                 ferry::detail::did_you_mean(key, detail::accepted_keys(k))));
      }
      continue;
    }
    if (key == "num_train_timesteps") c.num_train_timesteps = static_cast<std::size_t>(r.as_int(key, v, 2, 1 << 24));
    else if (key == "beta_start" || key == "beta_end") {
      const double b = r.as_number(key, v);
      if (!(b > 0 && b < 1)) r.bad(key, v, "a number in (0, 1)");
      (key == "beta_start" ? c.beta_start : c.beta_end) = b;
    }
    else if (key == "beta_schedule") {
      if (k == sc::heun)
        c.betas = r.as_enum<beta_schedule>(key, v, {{"linear", beta_schedule::linear}, {"scaled_linear", beta_schedule::scaled_linear},
                                                    {"squaredcos_cap_v2", beta_schedule::squaredcos_cap_v2}, {"exp", beta_schedule::exp}});
      else
        c.betas = r.as_enum<beta_schedule>(key, v, {{"linear", beta_schedule::linear}, {"scaled_linear", beta_schedule::scaled_linear},
                                                    {"squaredcos_cap_v2", beta_schedule::squaredcos_cap_v2}});
    } else if (key == "trained_betas") {
      if (v.is_null()) continue;
      if (!v.is_array() || v.empty()) r.bad(key, v, "null or a list of numbers in [0, 1)");
      c.trained_betas.clear();
      for (const auto& b : v) {
        const double x = r.as_number(key, b);
        if (!(x >= 0 && x < 1)) r.bad(key, b, "a list of numbers in [0, 1)");
        c.trained_betas.push_back(x);
      }
    } else if (key == "prediction_type") {
      if (dpm || unipc || deis)
        c.prediction_type = r.as_enum<prediction>(key, v, {{"epsilon", prediction::epsilon}, {"sample", prediction::data},
                                                           {"v_prediction", prediction::v}, {"flow_prediction", prediction::velocity}});
      else
        c.prediction_type = r.as_enum<prediction>(key, v, {{"epsilon", prediction::epsilon}, {"sample", prediction::data},
                                                           {"v_prediction", prediction::v}});
    } else if (key == "timestep_spacing")
      c.spacing = r.as_enum<timestep_spacing>(key, v, {{"linspace", timestep_spacing::linspace}, {"leading", timestep_spacing::leading},
                                                       {"trailing", timestep_spacing::trailing}});
    else if (key == "steps_offset") c.steps_offset = r.as_int(key, v, 0, 1 << 24);
    else if (key == "rescale_betas_zero_snr") c.rescale_betas_zero_snr = r.as_bool(key, v);
    else if (key == "set_alpha_to_one") c.set_alpha_to_one = r.as_bool(key, v);
    else if (key == "clip_sample") c.clip_sample = r.as_bool(key, v);
    else if (key == "clip_sample_range") c.clip_sample_range = r.as_positive(key, v);
    else if (key == "thresholding") c.thresholding = r.as_bool(key, v);
    else if (key == "dynamic_thresholding_ratio") {
      c.dynamic_thresholding_ratio = r.as_number(key, v);
      if (!(c.dynamic_thresholding_ratio > 0 && c.dynamic_thresholding_ratio <= 1)) r.bad(key, v, "a number in (0, 1]");
    } else if (key == "sample_max_value") c.sample_max_value = r.as_positive(key, v);
    else if (key == "use_karras_sigmas") karras = r.as_bool(key, v);
    else if (key == "use_exponential_sigmas") exponential = r.as_bool(key, v);
    else if (key == "use_lu_lambdas") lu = r.as_bool(key, v);
    else if (key == "use_beta_sigmas") r.only_default(key, v, false, "beta-distributed sigmas");
    else if (key == "use_flow_sigmas") r.only_default(key, v, false, "flow sigmas in a VP scheduler");
    else if (key == "use_dynamic_shifting") r.only_default(key, v, false, "resolution-dependent shifting");
    else if (key == "variance_type" && k == sc::ddpm)
      c.variance_fixed_large = r.as_enum<bool>(key, v, {{"fixed_small", false}, {"fixed_large", true}});
    else if (key == "variance_type") r.only_default(key, v, nullptr, "learned variances");
    else if (key == "original_inference_steps") c.original_inference_steps = static_cast<std::size_t>(r.as_int(key, v, 1, 1 << 24));
    else if (key == "timestep_scaling") c.timestep_scaling = r.as_positive(key, v);
    else if (key == "solver_p") r.only_default(key, v, nullptr, "a custom UniPC predictor");
    else if (key == "stochastic_sampling") r.only_default(key, v, false, "stochastic flow sampling");
    else if (key == "flow_shift") r.as_positive(key, v);  // read only with use_flow_sigmas
    else if (key == "time_shift_type") {
      if (k == sc::flow_euler) r.as_enum<int>(key, v, {{"exponential", 0}, {"linear", 1}});
      else r.as_enum<int>(key, v, {{"exponential", 0}});
    } else if (key == "base_shift" || key == "max_shift") {
      if (!v.is_null()) r.as_number(key, v);  // read only with use_dynamic_shifting
    } else if (key == "base_image_seq_len" || key == "max_image_seq_len") r.as_int(key, v, 1, 1LL << 40);
    else if (key == "final_sigmas_type")
      c.final_sigmas_type = r.as_enum<final_sigmas>(key, v, {{"zero", final_sigmas::zero}, {"sigma_min", final_sigmas::sigma_min}});
    else if (key == "sigma_min") c.sigma_min = v.is_null() ? std::nullopt : std::optional<double>(r.as_positive(key, v));
    else if (key == "sigma_max") c.sigma_max = v.is_null() ? std::nullopt : std::optional<double>(r.as_positive(key, v));
    else if (key == "interpolation_type")
      c.interpolation = r.as_enum<sigma_interpolation>(key, v, {{"linear", sigma_interpolation::linear}, {"log_linear", sigma_interpolation::log_linear}});
    else if (key == "timestep_type")
      c.continuous_timesteps = r.as_enum<bool>(key, v, {{"discrete", false}, {"continuous", true}});
    else if (key == "solver_order") c.solver_order = static_cast<int>(r.as_int(key, v, 1, unipc ? 16 : 3));
    else if (key == "solver_type") {
      // Each class maps the other classes' names onto its own default, as its __init__ does.
      if (dpm)
        c.solver_type = r.as_enum<solver_kind>(key, v, {{"midpoint", solver_kind::midpoint}, {"heun", solver_kind::heun},
                                                        {"logrho", solver_kind::midpoint}, {"bh1", solver_kind::midpoint},
                                                        {"bh2", solver_kind::midpoint}});
      else if (unipc)
        c.solver_type = r.as_enum<solver_kind>(key, v, {{"bh1", solver_kind::bh1}, {"bh2", solver_kind::bh2},
                                                        {"midpoint", solver_kind::bh2}, {"heun", solver_kind::bh2},
                                                        {"logrho", solver_kind::bh2}});
      else
        c.solver_type = r.as_enum<solver_kind>(key, v, {{"logrho", solver_kind::logrho}, {"midpoint", solver_kind::logrho},
                                                        {"heun", solver_kind::logrho}, {"bh1", solver_kind::logrho},
                                                        {"bh2", solver_kind::logrho}});
    } else if (key == "algorithm_type") {
      if (dpm)
        c.algorithm_type = r.as_enum<algorithm>(key, v, {{"dpmsolver++", algorithm::dpmsolver_pp}, {"dpmsolver", algorithm::dpmsolver},
                                                         {"sde-dpmsolver++", algorithm::sde_dpmsolver_pp},
                                                         {"deis", algorithm::dpmsolver_pp}});
      else
        c.algorithm_type = r.as_enum<algorithm>(key, v, {{"deis", algorithm::deis}, {"dpmsolver", algorithm::deis},
                                                         {"dpmsolver++", algorithm::deis}});
    } else if (key == "lower_order_final") c.lower_order_final = r.as_bool(key, v);
    else if (key == "euler_at_final") c.euler_at_final = r.as_bool(key, v);
    else if (key == "lambda_min_clipped") {
      if (v.is_number() && std::isinf(v.get<double>())) c.lambda_min_clipped = v.get<double>();
      else if (!v.is_null()) c.lambda_min_clipped = r.as_number(key, v);
    } else if (key == "predict_x0") c.predict_x0 = r.as_bool(key, v);
    else if (key == "disable_corrector") {
      if (!v.is_array()) r.bad(key, v, "a list of step indices");
      for (const auto& s : v) c.disable_corrector.push_back(r.as_int(key, s, 0, 1 << 24));
    } else if (key == "shift") c.shift = r.as_positive(key, v);
    else if (key == "invert_sigmas") c.invert_sigmas = r.as_bool(key, v);
    else if (key == "shift_terminal") {
      if (v.is_null()) continue;
      const double x = r.as_number(key, v);
      if (k != sc::flow_euler) r.only_default(key, v, nullptr, "shift_terminal without use_flow_sigmas");
      if (!(x > 0 && x < 1)) r.bad(key, v, "null or a number in (0, 1)");
      c.shift_terminal = x;
    }
  }

  if (int(karras) + int(exponential) > 1)
    throw config_error(cat(where, ": \"use_karras_sigmas\" and \"use_exponential_sigmas\" are both true; expected at most one"));
  if (lu && (karras || exponential))
    throw config_error(cat(where, ": \"use_lu_lambdas\" is true together with another σ spacing; expected at most one"));
  c.sigmas = karras ? sigma_spacing::karras : exponential ? sigma_spacing::exponential : lu ? sigma_spacing::lu_lambdas
                                                                                             : sigma_spacing::timesteps;
  if (!c.trained_betas.empty() && c.trained_betas.size() != c.num_train_timesteps)
    throw config_error(cat(where, ": \"trained_betas\" has ", c.trained_betas.size(), " entries but \"num_train_timesteps\" is ",
                           c.num_train_timesteps, "; expected equal lengths"));
  if (dpm && c.algorithm_type == algorithm::dpmsolver && c.final_sigmas_type == final_sigmas::zero)
    throw config_error(cat(where, ": \"final_sigmas_type\" is \"zero\" with \"algorithm_type\" \"dpmsolver\"; expected "
                                  "\"sigma_min\" (diffusers rejects this pair)"));
  if (k == sc::flow_euler && c.sigmas == sigma_spacing::lu_lambdas)
    throw config_error(cat(where, ": use_lu_lambdas is not a FlowMatchEulerDiscreteScheduler argument"));
  if (detail::is_vp(k)) {
    // Large βs over many timesteps drive the float32 ᾱ = Π(1 − β) to 0 (or so close that
    // σ̃ = √((1 − ᾱ)/ᾱ) overflows): the sampler would start from an infinite or NaN σ. Only the
    // zero-terminal-SNR rescale may end at ᾱ = 0 (the classes clamp or special-case that entry).
    const std::vector<float> abar = diffusers_alphas_cumprod(config_betas(c));
    const std::size_t checked = c.rescale_betas_zero_snr ? abar.size() - 1 : abar.size();
    for (std::size_t i = 0; i < checked; ++i)
      if (!(abar[i] > 0) || !std::isfinite(diffusers_sigma_f32(abar[i])))
        throw config_error(cat(where, ": the beta schedule (", c.trained_betas.empty() ? "beta_start, beta_end" : "trained_betas",
                               ") drives alphas_cumprod to ", abar[i], " at timestep ", i, " of ", abar.size(),
                               " in float32; expected a schedule whose alphas_cumprod stays above 0 (smaller betas or fewer timesteps)"));
  }
  return c;
}

/// Reads a scheduler_config.json file (io_error if it cannot be read or is not JSON).
inline diffusers_config load_diffusers_config(const std::filesystem::path& path,
                                              std::optional<scheduler_class> kind = std::nullopt) {
  return parse_diffusers_config(io::read_json(path, "a diffusers scheduler_config.json"), kind,
                                ferry::detail::escape(path.string()));
}


}  // namespace ferry::compat
