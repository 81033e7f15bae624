#pragma once
// ferry::compat::diffusers_config: a diffusers scheduler_config.json, read as diffusers'
// `<Class>.from_config` reads it (diffusers commit 58eb52c, src/diffusers/schedulers).
//
// One table (detail::class_table) says, per class, every key its __init__ takes with its default,
// and for each key one of three things:
//   read   ferry implements the key: the value is checked and stored (bad type or value: config_error);
//   refuse the key changes diffusers' result and ferry does not implement it: its default passes,
//          any other value is a config_error naming the key;
//   inert  the key does not change the result (CogVideoX's clip_sample, DPMSolverSDE's
//          noise_sampler_seed, …): any value passes.
// Keys diffusers adds on save (`_class_name`, `_diffusers_version`, anything beginning with `_`) are
// skipped; keys the class does not take are collected as warnings, as from_config ignores them.
// default_config(class) is the table's defaults read through the same setters.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferry/core/error.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/io/read_json.hpp"
#include "ferry/process/discrete_vp.hpp"

namespace ferry::compat {

/// The diffusers scheduler classes ferry reproduces.
enum class scheduler_class {
  ddim, dpm_multistep, euler, heun, lms, unipc, deis, flow_euler, ddpm, euler_ancestral, lcm, tcd,
  pndm, kdpm2, kdpm2_ancestral, dpm_singlestep, edm_euler, edm_dpm_multistep, flow_heun, sa_solver, ipndm, dpm_sde,
  cosine_dpm_multistep, cogvideox_ddim, ddpm_wuerstchen
};

enum class timestep_spacing { linspace, leading, trailing };
/// Which σ grid replaces the spaced timesteps (`use_karras_sigmas`, `use_exponential_sigmas`,
/// `use_beta_sigmas`, DPMSolverMultistep's `use_lu_lambdas`).
enum class sigma_spacing { timesteps, karras, exponential, beta, lu_lambdas };
enum class final_sigmas { zero, sigma_min };
/// `algorithm_type` of the DPM-Solver classes (DEIS's only value is `deis`); sde_dpmsolver_pp is the
/// stochastic SDE-DPM-Solver++.
enum class algorithm { dpmsolver_pp, dpmsolver, deis, sde_dpmsolver_pp };
/// `solver_type`: midpoint|heun (DPM-Solver), logrho (DEIS), bh1|bh2 (UniPC).
enum class solver_kind { midpoint, heun, logrho, bh1, bh2 };
/// EulerDiscrete's `interpolation_type`.
enum class sigma_interpolation { linear, log_linear };
/// `time_shift_type` of dynamic shifting: σ ← e^μ/(e^μ + (1/σ − 1)) or μ/(μ + (1/σ − 1)).
enum class time_shift { exponential, linear };
/// The EDM classes' `sigma_schedule`.
enum class edm_schedule { karras, exponential };

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

  // DDIM, PNDM, CogVideoXDDIM
  bool set_alpha_to_one = true;
  bool clip_sample = false;
  double clip_sample_range = 1;
  // dynamic thresholding (Saharia et al. 2022): DDIM, DPM, UniPC, DEIS, DPM single-step, SA-Solver, EDM DPM
  bool thresholding = false;
  double dynamic_thresholding_ratio = 0.995, sample_max_value = 1;

  // σ grids
  sigma_spacing sigmas = sigma_spacing::timesteps;  ///< resolved from the use_*_sigmas / use_lu_lambdas flags
  bool use_karras_sigmas = false, use_exponential_sigmas = false, use_beta_sigmas = false, use_lu_lambdas = false;
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
  bool predict_x0 = true;                    ///< UniPC; SA-Solver's algorithm_type data_prediction (true) | noise_prediction
  std::vector<long long> disable_corrector;  ///< UniPC: steps whose corrector is skipped
  int predictor_order = 2, corrector_order = 2;  ///< SA-Solver

  // DDPM: `variance_type` (fixed_small | fixed_large)
  bool variance_fixed_large = false;
  // LCM, TCD: the distillation schedule's step count and the boundary condition's timestep scale
  std::size_t original_inference_steps = 50;
  double timestep_scaling = 10;

  // flow matching (FlowMatchEuler/Heun) and flow sigmas in the VP classes (use_flow_sigmas + flow_shift)
  double shift = 1;
  bool invert_sigmas = false, stochastic_sampling = false;
  std::optional<double> shift_terminal;
  bool use_flow_sigmas = false;
  double flow_shift = 1;
  bool use_dynamic_shifting = false;
  time_shift time_shift_type = time_shift::exponential;
  /// FLUX's calculate_shift inputs: μ = base_shift + (L − base_len)·(max_shift − base_shift)/(max_len − base_len).
  std::optional<double> base_shift = 0.5, max_shift = 1.15;
  long long base_image_seq_len = 256, max_image_seq_len = 4096;

  // PNDM
  bool skip_prk_steps = false;
  // EDM classes (EDMEuler, EDMDPMSolverMultistep, CosineDPMSolverMultistep): σ range in sigma_min/sigma_max
  double sigma_data = 0.5, rho = 7;
  edm_schedule sigma_schedule = edm_schedule::karras;
  // CogVideoXDDIM: ᾱ ← ᾱ/(s + (1 − s)·ᾱ)
  double snr_shift_scale = 3;
  // DDPMWuerstchen: ᾱ(t) = cos²((t^scaler + s)/(1 + s)·π/2)/cos²(s/(1 + s)·π/2), clamped to [1e-4, 0.9999]
  double scaler = 1, s = 0.008;
};

namespace detail {

using json = nlohmann::json;

struct config_reader {
  std::string_view where;

  /// The value as JSON text, escaped (strings from the file may hold any bytes).
  static std::string show(const json& v) {
    if (v.is_number_float() && !std::isfinite(v.get<double>()))  // nlohmann writes these as null
      return std::isnan(v.get<double>()) ? "NaN" : v.get<double>() > 0 ? "Infinity" : "-Infinity";
    return ferry::detail::escape(v.dump(-1, ' ', false, json::error_handler_t::replace));
  }
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
  std::optional<double> as_optional_positive(std::string_view key, const json& v) const {
    if (v.is_null()) return std::nullopt;
    return as_positive(key, v);
  }
  long long as_int(std::string_view key, const json& v, long long lo, long long hi) const {
    const std::string range = ferry::detail::cat("an integer in [", lo, ", ", hi, "]");
    if (!v.is_number_integer() && !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>())) bad(key, v, range);
    const double x = v.get<double>();
    if (x < double(lo) || x > double(hi)) bad(key, v, range);
    return static_cast<long long>(x);
  }
  /// One of `choices` (name → value); `refused` are names diffusers takes and ferry does not implement.
  template <class E>
  E as_enum(std::string_view key, const json& v, std::initializer_list<std::pair<std::string_view, E>> choices,
            std::initializer_list<std::string_view> refused = {}) const {
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
    for (std::string_view r : refused)
      if (s == r) bad(key, v, ferry::detail::cat(accepted, " (ferry does not implement ", r, ")"));
    bad(key, v, accepted);
  }
};

/// Reads one key's value into the config.
using key_setter = void (*)(const config_reader&, std::string_view key, const json& v, diffusers_config& c);
enum class key_effect { read, refuse, inert };

/// One key of a class's __init__: its default, and what ferry does with it.
struct key_rule {
  std::string_view key;
  json default_value;
  key_effect effect = key_effect::read;
  key_setter set = nullptr;      ///< effect read
  std::string_view what;         ///< effect refuse: what ferry does not implement
};
inline key_rule key_read(std::string_view key, json def, key_setter set) { return {key, std::move(def), key_effect::read, set, {}}; }
inline key_rule key_refuse(std::string_view key, json def, std::string_view what) {
  return {key, std::move(def), key_effect::refuse, nullptr, what};
}
inline key_rule key_inert(std::string_view key, json def) { return {key, std::move(def), key_effect::inert, nullptr, {}}; }

// ---- setters ------------------------------------------------------------------------------------

using R = config_reader;
using C = diffusers_config;
using K = std::string_view;

inline void set_num_train_timesteps(const R& r, K k, const json& v, C& c) { c.num_train_timesteps = std::size_t(r.as_int(k, v, 2, 1 << 24)); }
inline void set_beta_bound(const R& r, K k, const json& v, C& c) {
  const double b = r.as_number(k, v);
  if (!(b > 0 && b < 1)) r.bad(k, v, "a number in (0, 1)");
  (k == "beta_start" ? c.beta_start : c.beta_end) = b;
}
inline void set_beta_schedule(const R& r, K k, const json& v, C& c) {
  c.betas = r.as_enum<beta_schedule>(k, v, {{"linear", beta_schedule::linear}, {"scaled_linear", beta_schedule::scaled_linear},
                                            {"squaredcos_cap_v2", beta_schedule::squaredcos_cap_v2}});
}
inline void set_beta_schedule_heun(const R& r, K k, const json& v, C& c) {
  c.betas = r.as_enum<beta_schedule>(k, v, {{"linear", beta_schedule::linear}, {"scaled_linear", beta_schedule::scaled_linear},
                                            {"squaredcos_cap_v2", beta_schedule::squaredcos_cap_v2}, {"exp", beta_schedule::exp}});
}
inline void set_trained_betas(const R& r, K k, const json& v, C& c) {
  c.trained_betas.clear();
  if (v.is_null()) return;
  if (!v.is_array() || v.empty()) r.bad(k, v, "null or a list of numbers in [0, 1)");
  for (const auto& b : v) {
    const double x = r.as_number(k, b);
    if (!(x >= 0 && x < 1)) r.bad(k, b, "a list of numbers in [0, 1)");
    c.trained_betas.push_back(x);
  }
}
inline void set_prediction(const R& r, K k, const json& v, C& c) {
  c.prediction_type = r.as_enum<prediction>(k, v, {{"epsilon", prediction::epsilon}, {"sample", prediction::data}, {"v_prediction", prediction::v}});
}
inline void set_prediction_flow(const R& r, K k, const json& v, C& c) {
  c.prediction_type = r.as_enum<prediction>(k, v, {{"epsilon", prediction::epsilon}, {"sample", prediction::data},
                                                   {"v_prediction", prediction::v}, {"flow_prediction", prediction::velocity}});
}
// PNDM's _get_prev_sample and the EDM classes' precondition_outputs take only these two (diffusers
// raises at step() for "sample").
inline void set_prediction_eps_v(const R& r, K k, const json& v, C& c) {
  c.prediction_type = r.as_enum<prediction>(k, v, {{"epsilon", prediction::epsilon}, {"v_prediction", prediction::v}}, {"sample"});
}
inline void set_spacing(const R& r, K k, const json& v, C& c) {
  c.spacing = r.as_enum<timestep_spacing>(k, v, {{"linspace", timestep_spacing::linspace}, {"leading", timestep_spacing::leading},
                                                 {"trailing", timestep_spacing::trailing}});
}
inline void set_steps_offset(const R& r, K k, const json& v, C& c) { c.steps_offset = r.as_int(k, v, 0, 1 << 24); }
inline void set_rescale_zsnr(const R& r, K k, const json& v, C& c) { c.rescale_betas_zero_snr = r.as_bool(k, v); }
inline void set_alpha_to_one(const R& r, K k, const json& v, C& c) { c.set_alpha_to_one = r.as_bool(k, v); }
inline void set_clip_sample(const R& r, K k, const json& v, C& c) { c.clip_sample = r.as_bool(k, v); }
inline void set_clip_sample_range(const R& r, K k, const json& v, C& c) { c.clip_sample_range = r.as_positive(k, v); }
inline void set_thresholding(const R& r, K k, const json& v, C& c) { c.thresholding = r.as_bool(k, v); }
inline void set_thresholding_ratio(const R& r, K k, const json& v, C& c) {
  c.dynamic_thresholding_ratio = r.as_number(k, v);
  if (!(c.dynamic_thresholding_ratio > 0 && c.dynamic_thresholding_ratio <= 1)) r.bad(k, v, "a number in (0, 1]");
}
inline void set_sample_max_value(const R& r, K k, const json& v, C& c) { c.sample_max_value = r.as_positive(k, v); }
inline void set_use_karras(const R& r, K k, const json& v, C& c) { c.use_karras_sigmas = r.as_bool(k, v); }
inline void set_use_exponential(const R& r, K k, const json& v, C& c) { c.use_exponential_sigmas = r.as_bool(k, v); }
inline void set_use_beta(const R& r, K k, const json& v, C& c) { c.use_beta_sigmas = r.as_bool(k, v); }
inline void set_use_lu(const R& r, K k, const json& v, C& c) { c.use_lu_lambdas = r.as_bool(k, v); }
inline void set_use_flow_sigmas(const R& r, K k, const json& v, C& c) { c.use_flow_sigmas = r.as_bool(k, v); }
inline void set_flow_shift(const R& r, K k, const json& v, C& c) { c.flow_shift = r.as_positive(k, v); }
inline void set_dynamic_shifting(const R& r, K k, const json& v, C& c) { c.use_dynamic_shifting = r.as_bool(k, v); }
inline void set_time_shift_exp(const R& r, K k, const json& v, C& c) {
  c.time_shift_type = r.as_enum<time_shift>(k, v, {{"exponential", time_shift::exponential}});
}
inline void set_time_shift(const R& r, K k, const json& v, C& c) {
  c.time_shift_type = r.as_enum<time_shift>(k, v, {{"exponential", time_shift::exponential}, {"linear", time_shift::linear}});
}
inline void set_shift_bound(const R& r, K k, const json& v, C& c) {
  (k == "base_shift" ? c.base_shift : c.max_shift) = v.is_null() ? std::nullopt : std::optional<double>(r.as_number(k, v));
}
inline void set_seq_len(const R& r, K k, const json& v, C& c) {
  (k == "base_image_seq_len" ? c.base_image_seq_len : c.max_image_seq_len) = r.as_int(k, v, 1, 1LL << 40);
}
inline void set_final_sigmas(const R& r, K k, const json& v, C& c) {
  c.final_sigmas_type = r.as_enum<final_sigmas>(k, v, {{"zero", final_sigmas::zero}, {"sigma_min", final_sigmas::sigma_min}});
}
inline void set_sigma_bound(const R& r, K k, const json& v, C& c) { (k == "sigma_min" ? c.sigma_min : c.sigma_max) = r.as_optional_positive(k, v); }
inline void set_interpolation(const R& r, K k, const json& v, C& c) {
  c.interpolation = r.as_enum<sigma_interpolation>(k, v, {{"linear", sigma_interpolation::linear}, {"log_linear", sigma_interpolation::log_linear}});
}
inline void set_timestep_type(const R& r, K k, const json& v, C& c) { c.continuous_timesteps = r.as_enum<bool>(k, v, {{"discrete", false}, {"continuous", true}}); }
inline void set_order_3(const R& r, K k, const json& v, C& c) { c.solver_order = int(r.as_int(k, v, 1, 3)); }
inline void set_order_2(const R& r, K k, const json& v, C& c) { c.solver_order = int(r.as_int(k, v, 1, 2)); }
inline void set_order_unipc(const R& r, K k, const json& v, C& c) { c.solver_order = int(r.as_int(k, v, 1, 16)); }
inline void set_sa_order(const R& r, K k, const json& v, C& c) {
  (k == "predictor_order" ? c.predictor_order : c.corrector_order) = int(r.as_int(k, v, 1, 4));
}
// Each class maps the other classes' solver names onto its own default, as its __init__ does.
inline void set_solver_type_dpm(const R& r, K k, const json& v, C& c) {
  c.solver_type = r.as_enum<solver_kind>(k, v, {{"midpoint", solver_kind::midpoint}, {"heun", solver_kind::heun}, {"logrho", solver_kind::midpoint},
                                                {"bh1", solver_kind::midpoint}, {"bh2", solver_kind::midpoint}});
}
inline void set_solver_type_unipc(const R& r, K k, const json& v, C& c) {
  c.solver_type = r.as_enum<solver_kind>(k, v, {{"bh1", solver_kind::bh1}, {"bh2", solver_kind::bh2}, {"midpoint", solver_kind::bh2},
                                                {"heun", solver_kind::bh2}, {"logrho", solver_kind::bh2}});
}
inline void set_solver_type_deis(const R& r, K k, const json& v, C& c) {
  c.solver_type = r.as_enum<solver_kind>(k, v, {{"logrho", solver_kind::logrho}, {"midpoint", solver_kind::logrho}, {"heun", solver_kind::logrho},
                                                {"bh1", solver_kind::logrho}, {"bh2", solver_kind::logrho}});
}
inline void set_algorithm_dpm(const R& r, K k, const json& v, C& c) {
  c.algorithm_type = r.as_enum<algorithm>(k, v, {{"dpmsolver++", algorithm::dpmsolver_pp}, {"dpmsolver", algorithm::dpmsolver},
                                                 {"sde-dpmsolver++", algorithm::sde_dpmsolver_pp}, {"deis", algorithm::dpmsolver_pp}},
                                          {"sde-dpmsolver"});
}
inline void set_algorithm_dpm_singlestep(const R& r, K k, const json& v, C& c) {
  c.algorithm_type = r.as_enum<algorithm>(k, v, {{"dpmsolver++", algorithm::dpmsolver_pp}, {"dpmsolver", algorithm::dpmsolver},
                                                 {"sde-dpmsolver++", algorithm::sde_dpmsolver_pp}, {"deis", algorithm::dpmsolver_pp}});
}
inline void set_algorithm_edm(const R& r, K k, const json& v, C& c) {
  c.algorithm_type = r.as_enum<algorithm>(k, v, {{"dpmsolver++", algorithm::dpmsolver_pp}, {"sde-dpmsolver++", algorithm::sde_dpmsolver_pp},
                                                 {"deis", algorithm::dpmsolver_pp}});
}
inline void set_algorithm_deis(const R& r, K k, const json& v, C& c) {
  c.algorithm_type = r.as_enum<algorithm>(k, v, {{"deis", algorithm::deis}, {"dpmsolver", algorithm::deis}, {"dpmsolver++", algorithm::deis}});
}
inline void set_algorithm_sa(const R& r, K k, const json& v, C& c) {
  c.predict_x0 = r.as_enum<bool>(k, v, {{"data_prediction", true}, {"noise_prediction", false}});
}
inline void set_lower_order_final(const R& r, K k, const json& v, C& c) { c.lower_order_final = r.as_bool(k, v); }
inline void set_euler_at_final(const R& r, K k, const json& v, C& c) { c.euler_at_final = r.as_bool(k, v); }
inline void set_lambda_min_clipped(const R& r, K k, const json& v, C& c) {
  if (v.is_null()) return;
  if (!v.is_number() || std::isnan(v.get<double>())) r.bad(k, v, "a number or -Infinity");
  c.lambda_min_clipped = v.get<double>();
}
inline void set_predict_x0(const R& r, K k, const json& v, C& c) { c.predict_x0 = r.as_bool(k, v); }
inline void set_disable_corrector(const R& r, K k, const json& v, C& c) {
  if (!v.is_array()) r.bad(k, v, "a list of step indices");
  c.disable_corrector.clear();
  for (const auto& s : v) c.disable_corrector.push_back(r.as_int(k, s, 0, 1 << 24));
}
inline void set_ddpm_variance(const R& r, K k, const json& v, C& c) {
  c.variance_fixed_large = r.as_enum<bool>(k, v, {{"fixed_small", false}, {"fixed_large", true}},
                                           {"fixed_small_log", "fixed_large_log", "learned", "learned_range"});
}
inline void set_original_steps(const R& r, K k, const json& v, C& c) { c.original_inference_steps = std::size_t(r.as_int(k, v, 1, 1 << 24)); }
inline void set_timestep_scaling(const R& r, K k, const json& v, C& c) { c.timestep_scaling = r.as_positive(k, v); }
inline void set_shift(const R& r, K k, const json& v, C& c) { c.shift = r.as_positive(k, v); }
inline void set_invert_sigmas(const R& r, K k, const json& v, C& c) { c.invert_sigmas = r.as_bool(k, v); }
inline void set_stochastic(const R& r, K k, const json& v, C& c) { c.stochastic_sampling = r.as_bool(k, v); }
inline void set_shift_terminal(const R& r, K k, const json& v, C& c) {
  // diffusers tests `if self.config.shift_terminal:`, so 0 means off as null does.
  if (v.is_null() || (v.is_number() && v.get<double>() == 0)) { c.shift_terminal.reset(); return; }
  const double x = r.as_number(k, v);
  if (!(x > 0 && x < 1)) r.bad(k, v, "null or a number in (0, 1)");
  c.shift_terminal = x;
}
inline void set_skip_prk(const R& r, K k, const json& v, C& c) { c.skip_prk_steps = r.as_bool(k, v); }
inline void set_sigma_data(const R& r, K k, const json& v, C& c) { c.sigma_data = r.as_positive(k, v); }
inline void set_rho(const R& r, K k, const json& v, C& c) { c.rho = r.as_positive(k, v); }
inline void set_edm_schedule(const R& r, K k, const json& v, C& c) {
  c.sigma_schedule = r.as_enum<edm_schedule>(k, v, {{"karras", edm_schedule::karras}, {"exponential", edm_schedule::exponential}});
}
inline void set_snr_shift(const R& r, K k, const json& v, C& c) { c.snr_shift_scale = r.as_positive(k, v); }
inline void set_scaler(const R& r, K k, const json& v, C& c) { c.scaler = r.as_positive(k, v); }
inline void set_wuerstchen_s(const R& r, K k, const json& v, C& c) { c.s = r.as_positive(k, v); }

// ---- the table -----------------------------------------------------------------------------------

/// A class: its name, the facts of it that are no key (init), and every key its __init__ takes.
struct class_rule {
  scheduler_class kind;
  std::string_view name;
  void (*init)(diffusers_config&);
  std::vector<key_rule> keys;
  bool vp = true;  ///< builds a β/ᾱ table from the beta keys
};

using rules = std::vector<key_rule>;
inline rules operator+(rules a, const rules& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
inline rules betas(double start, double end, const char* schedule, key_setter schedule_setter = set_beta_schedule) {
  return {key_read("num_train_timesteps", 1000, set_num_train_timesteps), key_read("beta_start", start, set_beta_bound),
          key_read("beta_end", end, set_beta_bound), key_read("beta_schedule", schedule, schedule_setter),
          key_read("trained_betas", nullptr, set_trained_betas)};
}
inline rules spacing(const char* def) { return {key_read("timestep_spacing", def, set_spacing), key_read("steps_offset", 0, set_steps_offset)}; }
inline rules thresholding() {
  return {key_read("thresholding", false, set_thresholding), key_read("dynamic_thresholding_ratio", 0.995, set_thresholding_ratio),
          key_read("sample_max_value", 1.0, set_sample_max_value)};
}
inline rules sigma_grids() {
  return {key_read("use_karras_sigmas", false, set_use_karras), key_read("use_exponential_sigmas", false, set_use_exponential),
          key_read("use_beta_sigmas", false, set_use_beta)};
}
inline rules flow_sigmas() { return {key_read("use_flow_sigmas", false, set_use_flow_sigmas), key_read("flow_shift", 1.0, set_flow_shift)}; }
inline rules dynamic_shifting_exp() {
  return {key_read("use_dynamic_shifting", false, set_dynamic_shifting), key_read("time_shift_type", "exponential", set_time_shift_exp)};
}
inline rules edm(double sigma_min, double sigma_max, double sigma_data, const char* schedule) {
  return {key_read("sigma_min", sigma_min, set_sigma_bound), key_read("sigma_max", sigma_max, set_sigma_bound),
          key_read("sigma_data", sigma_data, set_sigma_data), key_read("sigma_schedule", schedule, set_edm_schedule),
          key_read("num_train_timesteps", 1000, set_num_train_timesteps), key_read("rho", 7.0, set_rho),
          key_read("final_sigmas_type", "zero", set_final_sigmas)};
}
inline rules dpm_common(const char* algorithm, key_setter algorithm_setter, bool lower_order_final) {
  return rules{key_read("solver_order", 2, set_order_3), key_read("algorithm_type", algorithm, algorithm_setter),
               key_read("solver_type", "midpoint", set_solver_type_dpm), key_read("lower_order_final", lower_order_final, set_lower_order_final)} +
         thresholding();
}

inline void no_init(diffusers_config&) {}
inline void init_flow(diffusers_config& c) { c.prediction_type = prediction::velocity; }

inline const std::vector<class_rule>& class_table() {
  using sc = scheduler_class;
  static const std::vector<class_rule> table = [] {
    const rules eps_sample_v{key_read("prediction_type", "epsilon", set_prediction)};
    const rules with_flow_prediction{key_read("prediction_type", "epsilon", set_prediction_flow)};
    const rules zsnr{key_read("rescale_betas_zero_snr", false, set_rescale_zsnr)};
    const rules learned_variance{key_refuse("variance_type", nullptr, "learned variances")};
    std::vector<class_rule> t;
    t.push_back({sc::ddim, "DDIMScheduler", no_init,
                 betas(0.0001, 0.02, "linear") + eps_sample_v + spacing("leading") + thresholding() + zsnr +
                     rules{key_read("clip_sample", true, set_clip_sample), key_read("set_alpha_to_one", true, set_alpha_to_one),
                           key_read("clip_sample_range", 1.0, set_clip_sample_range)}});
    t.push_back({sc::dpm_multistep, "DPMSolverMultistepScheduler", no_init,
                 betas(0.0001, 0.02, "linear") + with_flow_prediction + dpm_common("dpmsolver++", set_algorithm_dpm, true) +
                     sigma_grids() + flow_sigmas() + dynamic_shifting_exp() + spacing("linspace") + zsnr + learned_variance +
                     rules{key_read("euler_at_final", false, set_euler_at_final), key_read("use_lu_lambdas", false, set_use_lu),
                           key_read("final_sigmas_type", "zero", set_final_sigmas),
                           key_read("lambda_min_clipped", -std::numeric_limits<double>::infinity(), set_lambda_min_clipped)}});
    t.push_back({sc::euler, "EulerDiscreteScheduler", no_init,
                 betas(0.0001, 0.02, "linear") + eps_sample_v + sigma_grids() + spacing("linspace") + zsnr +
                     rules{key_read("interpolation_type", "linear", set_interpolation), key_read("sigma_min", nullptr, set_sigma_bound),
                           key_read("sigma_max", nullptr, set_sigma_bound), key_read("timestep_type", "discrete", set_timestep_type),
                           key_read("final_sigmas_type", "zero", set_final_sigmas)}});
    t.push_back({sc::heun, "HeunDiscreteScheduler", no_init,
                 betas(0.00085, 0.012, "linear", set_beta_schedule_heun) + eps_sample_v + sigma_grids() + spacing("linspace") +
                     rules{key_read("clip_sample", false, set_clip_sample), key_read("clip_sample_range", 1.0, set_clip_sample_range)}});
    t.push_back({sc::lms, "LMSDiscreteScheduler", no_init, betas(0.0001, 0.02, "linear") + eps_sample_v + sigma_grids() + spacing("linspace")});
    t.push_back({sc::unipc, "UniPCMultistepScheduler", no_init,
                 betas(0.0001, 0.02, "linear") + with_flow_prediction + thresholding() + sigma_grids() + flow_sigmas() +
                     spacing("linspace") + zsnr +
                     rules{key_read("solver_order", 2, set_order_unipc), key_read("predict_x0", true, set_predict_x0),
                           key_read("solver_type", "bh2", set_solver_type_unipc), key_read("lower_order_final", true, set_lower_order_final),
                           key_read("disable_corrector", json::array(), set_disable_corrector),
                           key_refuse("solver_p", nullptr, "a separate predictor scheduler"), key_read("final_sigmas_type", "zero", set_final_sigmas),
                           key_read("use_dynamic_shifting", false, set_dynamic_shifting),
                           key_read("time_shift_type", "exponential", set_time_shift), key_read("sigma_min", nullptr, set_sigma_bound),
                           key_read("sigma_max", nullptr, set_sigma_bound), key_read("shift_terminal", nullptr, set_shift_terminal)}});
    t.push_back({sc::deis, "DEISMultistepScheduler", no_init,
                 betas(0.0001, 0.02, "linear") + with_flow_prediction + thresholding() + sigma_grids() + flow_sigmas() +
                     dynamic_shifting_exp() + spacing("linspace") +
                     rules{key_read("solver_order", 2, set_order_3), key_read("algorithm_type", "deis", set_algorithm_deis),
                           key_read("solver_type", "logrho", set_solver_type_deis), key_read("lower_order_final", true, set_lower_order_final)}});
    const rules flow_keys = {key_read("num_train_timesteps", 1000, set_num_train_timesteps), key_read("shift", 1.0, set_shift)};
    t.push_back({sc::flow_euler, "FlowMatchEulerDiscreteScheduler", init_flow,
                 flow_keys + sigma_grids() +
                     rules{key_read("use_dynamic_shifting", false, set_dynamic_shifting), key_read("base_shift", 0.5, set_shift_bound),
                           key_read("max_shift", 1.15, set_shift_bound), key_read("base_image_seq_len", 256, set_seq_len),
                           key_read("max_image_seq_len", 4096, set_seq_len), key_read("invert_sigmas", false, set_invert_sigmas),
                           key_read("shift_terminal", nullptr, set_shift_terminal), key_read("time_shift_type", "exponential", set_time_shift),
                           key_read("stochastic_sampling", false, set_stochastic)},
                 false});
    t.push_back({sc::ddpm, "DDPMScheduler", no_init,
                 betas(0.0001, 0.02, "linear") + eps_sample_v + spacing("leading") + thresholding() + zsnr +
                     rules{key_read("variance_type", "fixed_small", set_ddpm_variance), key_read("clip_sample", true, set_clip_sample),
                           key_read("clip_sample_range", 1.0, set_clip_sample_range)}});
    t.push_back({sc::euler_ancestral, "EulerAncestralDiscreteScheduler", no_init,
                 betas(0.0001, 0.02, "linear") + eps_sample_v + spacing("linspace") + zsnr});
    const rules lcm_keys = betas(0.00085, 0.012, "scaled_linear") + eps_sample_v + spacing("leading") + thresholding() + zsnr +
                           rules{key_read("original_inference_steps", 50, set_original_steps), key_read("clip_sample", false, set_clip_sample),
                                 key_read("clip_sample_range", 1.0, set_clip_sample_range), key_read("set_alpha_to_one", true, set_alpha_to_one),
                                 key_read("timestep_scaling", 10.0, set_timestep_scaling)};
    t.push_back({sc::lcm, "LCMScheduler", no_init, lcm_keys});
    t.push_back({sc::tcd, "TCDScheduler", no_init, lcm_keys});
    t.push_back({sc::pndm, "PNDMScheduler", no_init,
                 betas(0.0001, 0.02, "linear") + spacing("leading") +
                     rules{key_read("prediction_type", "epsilon", set_prediction_eps_v), key_read("skip_prk_steps", false, set_skip_prk),
                           key_read("set_alpha_to_one", false, set_alpha_to_one)}});
    // KDPM2, KDPM2Ancestral and DPMSolverSDE raise NotImplementedError for "sample" at step().
    const rules k_keys = betas(0.00085, 0.012, "linear") + rules{key_read("prediction_type", "epsilon", set_prediction_eps_v)} + sigma_grids() +
                         spacing("linspace");
    t.push_back({sc::kdpm2, "KDPM2DiscreteScheduler", no_init, k_keys});
    t.push_back({sc::kdpm2_ancestral, "KDPM2AncestralDiscreteScheduler", no_init, k_keys});
    t.push_back({sc::dpm_sde, "DPMSolverSDEScheduler", no_init, k_keys + rules{key_inert("noise_sampler_seed", nullptr)}});
    t.push_back({sc::dpm_singlestep, "DPMSolverSinglestepScheduler", no_init,
                 betas(0.0001, 0.02, "linear") + with_flow_prediction + dpm_common("dpmsolver++", set_algorithm_dpm_singlestep, false) +
                     sigma_grids() + flow_sigmas() + dynamic_shifting_exp() + learned_variance +
                     rules{key_read("final_sigmas_type", "zero", set_final_sigmas),
                           key_read("lambda_min_clipped", -std::numeric_limits<double>::infinity(), set_lambda_min_clipped)}});
    t.push_back({sc::edm_euler, "EDMEulerScheduler", no_init,
                 edm(0.002, 80.0, 0.5, "karras") + rules{key_read("prediction_type", "epsilon", set_prediction_eps_v)}, false});
    t.push_back({sc::edm_dpm_multistep, "EDMDPMSolverMultistepScheduler", no_init,
                 edm(0.002, 80.0, 0.5, "karras") + dpm_common("dpmsolver++", set_algorithm_edm, true) +
                     rules{key_read("prediction_type", "epsilon", set_prediction_eps_v), key_read("euler_at_final", false, set_euler_at_final)},
                 false});
    t.push_back({sc::cosine_dpm_multistep, "CosineDPMSolverMultistepScheduler", no_init,
                 edm(0.3, 500.0, 1.0, "exponential") +
                     rules{key_read("prediction_type", "v_prediction", set_prediction_eps_v), key_read("solver_order", 2, set_order_2),
                           key_read("solver_type", "midpoint", set_solver_type_dpm), key_read("lower_order_final", true, set_lower_order_final),
                           key_read("euler_at_final", false, set_euler_at_final)},
                 false});
    t.push_back({sc::flow_heun, "FlowMatchHeunDiscreteScheduler", init_flow, flow_keys, false});
    t.push_back({sc::sa_solver, "SASolverScheduler", no_init,
                 betas(0.0001, 0.02, "linear") + with_flow_prediction + thresholding() + sigma_grids() + flow_sigmas() +
                     spacing("linspace") + learned_variance +
                     rules{key_read("predictor_order", 2, set_sa_order), key_read("corrector_order", 2, set_sa_order),
                           key_refuse("tau_func", nullptr, "a custom tau function (the default: 1 for 200 <= t <= 800, else 0)"),
                           key_read("algorithm_type", "data_prediction", set_algorithm_sa), key_read("lower_order_final", true, set_lower_order_final),
                           key_read("lambda_min_clipped", -std::numeric_limits<double>::infinity(), set_lambda_min_clipped)}});
    t.push_back({sc::ipndm, "IPNDMScheduler", no_init,
                 {key_read("num_train_timesteps", 1000, set_num_train_timesteps),
                  key_refuse("trained_betas", nullptr, "IPNDM with trained betas (its betas are sin² of the step ramp)")},
                 false});
    t.push_back({sc::cogvideox_ddim, "CogVideoXDDIMScheduler", no_init,
                 betas(0.00085, 0.012, "scaled_linear") + eps_sample_v + spacing("leading") + zsnr +
                     rules{key_read("set_alpha_to_one", true, set_alpha_to_one), key_read("snr_shift_scale", 3.0, set_snr_shift),
                           // CogVideoXDDIMScheduler.step neither clips nor thresholds.
                           key_inert("clip_sample", true), key_inert("clip_sample_range", 1.0), key_inert("sample_max_value", 1.0)}});
    t.push_back({sc::ddpm_wuerstchen, "DDPMWuerstchenScheduler", no_init,
                 {key_read("scaler", 1.0, set_scaler), key_read("s", 0.008, set_wuerstchen_s)},
                 false});
    return t;
  }();
  return table;
}

inline const class_rule& rule_of(scheduler_class k) {
  for (const auto& c : class_table())
    if (c.kind == k) return c;
  throw config_error("diffusers_config: unknown scheduler class");
}

inline const key_rule* find_key(const class_rule& c, std::string_view key) {
  for (const auto& k : c.keys)
    if (k.key == key) return &k;
  return nullptr;
}

/// diffusers' scheduler classes ferry does not reproduce (58eb52c): named so that a "did you mean"
/// never points from one of them to another algorithm.
inline constexpr std::string_view other_diffusers_classes[] = {
    "AmusedScheduler", "BlockRefinementScheduler", "CMStochasticIterativeScheduler", "CogVideoXDPMScheduler",
    "ConsistencyDecoderScheduler", "DDIMInverseScheduler", "DDIMParallelScheduler", "DDPMParallelScheduler",
    "DPMSolverMultistepInverseScheduler", "DiscreteDDIMScheduler", "EntropyBoundScheduler", "FlowMapEulerDiscreteScheduler",
    "FlowMatchLCMScheduler", "HeliosDMDScheduler", "HeliosScheduler", "KarrasVeScheduler", "LTXEulerAncestralRFScheduler",
    "MiniMaxH3Scheduler", "RePaintScheduler", "SCMScheduler", "ScoreSdeVeScheduler", "ScoreSdeVpScheduler", "UnCLIPScheduler",
    "VQDiffusionScheduler"};

inline std::string class_list() {
  std::string s;
  const auto& t = class_table();
  for (std::size_t i = 0; i < t.size(); ++i) s += ferry::detail::cat(i == 0 ? "" : i + 1 == t.size() ? " or " : ", ", t[i].name);
  return s;
}

inline scheduler_class class_of_name(const json& name, std::string_view where) {
  using ferry::detail::cat;
  if (name.is_string()) {
    const std::string s = name.get<std::string>();
    for (const auto& c : class_table())
      if (c.name == s) return c.kind;
    for (std::string_view other : other_diffusers_classes)
      if (other == s)
        throw config_error(cat(where, ": \"_class_name\" is ", config_reader::show(name), ", a diffusers scheduler ferry does not reproduce; expected ",
                               class_list()));
    // A typo: suggest the nearest name among all diffusers classes, only if that one is ferry's.
    std::vector<std::string_view> all;
    for (const auto& c : class_table()) all.push_back(c.name);
    all.insert(all.end(), std::begin(other_diffusers_classes), std::end(other_diffusers_classes));
    std::string hint = ferry::detail::did_you_mean(s, all);
    bool ours = false;
    for (const auto& c : class_table())
      if (hint.find(cat("\"", c.name, "\"")) != std::string::npos) ours = true;
    if (!ours) hint.clear();
    throw config_error(cat(where, ": \"_class_name\" is ", config_reader::show(name), hint, "; expected ", class_list()));
  }
  throw config_error(cat(where, ": \"_class_name\" is ", config_reader::show(name), "; expected ", class_list()));
}

}  // namespace detail

/// The diffusers name of a class ("DDIMScheduler", …).
inline std::string_view class_name(scheduler_class c) { return detail::rule_of(c).name; }

/// Every class the loader takes, in the table's order.
inline std::vector<scheduler_class> scheduler_classes() {
  std::vector<scheduler_class> v;
  for (const auto& c : detail::class_table()) v.push_back(c.kind);
  return v;
}

/// Whether the class builds diffusers' β/ᾱ table from the beta keys (the VP classes).
inline bool has_beta_table(scheduler_class k) { return detail::rule_of(k).vp; }

/// The config a class has with no keys set: its __init__ defaults, read through the table.
inline diffusers_config default_config(scheduler_class k) {
  const detail::class_rule& rule = detail::rule_of(k);
  diffusers_config c;
  c.kind = k;
  rule.init(c);
  const detail::config_reader r{rule.name};
  for (const auto& key : rule.keys)
    if (key.effect == detail::key_effect::read) key.set(r, key.key, key.default_value, c);
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

namespace detail {

// Checks across keys, as the classes' __init__ make them (and what ferry needs for a finite grid).
inline void check_config(const diffusers_config& c, std::string_view where) {
  using sc = scheduler_class;
  using ferry::detail::cat;
  if (int(c.use_karras_sigmas) + int(c.use_exponential_sigmas) + int(c.use_beta_sigmas) > 1)
    throw config_error(cat(where, ": more than one of \"use_karras_sigmas\", \"use_exponential_sigmas\" and \"use_beta_sigmas\" is true; "
                                  "expected at most one"));
  if (c.use_lu_lambdas && (c.use_karras_sigmas || c.use_exponential_sigmas || c.use_beta_sigmas))
    throw config_error(cat(where, ": \"use_lu_lambdas\" is true together with another σ spacing; expected at most one"));
  if (!c.trained_betas.empty() && c.trained_betas.size() != c.num_train_timesteps)
    throw config_error(cat(where, ": \"trained_betas\" has ", c.trained_betas.size(), " entries but \"num_train_timesteps\" is ",
                           c.num_train_timesteps, "; expected equal lengths"));
  if ((c.kind == sc::dpm_multistep || c.kind == sc::dpm_singlestep) && c.algorithm_type == algorithm::dpmsolver &&
      c.final_sigmas_type == final_sigmas::zero)
    throw config_error(cat(where, ": \"final_sigmas_type\" is \"zero\" with \"algorithm_type\" \"dpmsolver\"; expected "
                                  "\"sigma_min\" (diffusers rejects this pair)"));
  const bool edm = c.kind == sc::edm_euler || c.kind == sc::edm_dpm_multistep || c.kind == sc::cosine_dpm_multistep;
  if (edm) {
    if (!c.sigma_min || !c.sigma_max || !(*c.sigma_min < *c.sigma_max))
      throw config_error(cat(where, ": \"sigma_min\" and \"sigma_max\" must be numbers with sigma_min < sigma_max"));
  }
  if (has_beta_table(c.kind)) {
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
}

}  // namespace detail

/// Reads a scheduler_config.json object. The class is `kind` if given, else the `_class_name` key.
inline diffusers_config parse_diffusers_config(const nlohmann::json& j, std::optional<scheduler_class> kind = std::nullopt,
                                               std::string_view where = "scheduler_config.json") {
  using ferry::detail::cat;
  using ferry::detail::escape;
  if (!j.is_object()) throw config_error(cat(where, ": expected a JSON object, got ", detail::config_reader::show(j)));
  std::string flax_alias;  // diffusers' Flax twin of a class (FlaxDDIMScheduler): the same algorithm and keys
  if (!kind) {
    const auto it = j.find("_class_name");
    if (it == j.end()) throw config_error(cat(where, ": no \"_class_name\"; expected one of ", detail::class_list()));
    if (it->is_string() && it->get<std::string>().rfind("Flax", 0) == 0)
      for (const auto& r : detail::class_table())
        if (it->get<std::string>() == cat("Flax", r.name)) kind = r.kind, flax_alias = it->get<std::string>();
    if (!kind) kind = detail::class_of_name(*it, where);
  }
  const detail::class_rule& rule = detail::rule_of(*kind);
  diffusers_config c = default_config(*kind);
  if (!flax_alias.empty())
    c.warnings.push_back(cat(where, ": \"_class_name\" is \"", flax_alias, "\", read as ", rule.name,
                             " (its PyTorch class, which a pipeline loads from this file)"));
  const detail::config_reader r{where};
  std::vector<std::string_view> names;
  for (const auto& k : rule.keys) names.push_back(k.key);

  for (const auto& [key, v] : j.items()) {
    if (!key.empty() && key.front() == '_') continue;  // _class_name, _diffusers_version, …
    const detail::key_rule* k = detail::find_key(rule, key);
    if (!k) {
      if ((key == "sigma_min" || key == "sigma_max") && v.is_number() && detail::find_key(rule, "use_karras_sigmas")) {
        // diffusers registers unexpected keys into the config, and _convert_to_karras/_exponential/_beta
        // read `self.config.sigma_min` whenever it exists: so they still take effect.
        (key == "sigma_min" ? c.sigma_min : c.sigma_max) = r.as_positive(key, v);
        c.warnings.push_back(cat(where, ": \"", escape(key), "\" is not a ", rule.name,
                                 " argument; diffusers still uses it as the Karras/exponential/beta σ bound, and so does ferry"));
      } else {
        c.warnings.push_back(cat(where, ": \"", escape(key), "\" is not a ", rule.name, " argument; ignored",
                                 ferry::detail::did_you_mean(key, names)));
      }
      continue;
    }
    switch (k->effect) {
      case detail::key_effect::read: k->set(r, k->key, v, c); break;
      case detail::key_effect::inert: break;
      case detail::key_effect::refuse:
        if (!(v == k->default_value || (k->default_value.is_null() && v.is_null())))
          r.bad(key, v, cat(detail::config_reader::show(k->default_value), " (ferry does not implement ", k->what, ")"));
        break;
    }
  }
  c.sigmas = c.use_karras_sigmas ? sigma_spacing::karras
             : c.use_exponential_sigmas ? sigma_spacing::exponential
             : c.use_beta_sigmas ? sigma_spacing::beta
             : c.use_lu_lambdas ? sigma_spacing::lu_lambdas
                                : sigma_spacing::timesteps;
  detail::check_config(c, where);
  return c;
}

/// Reads a scheduler_config.json file (io_error if it cannot be read or is not JSON). Python's NaN,
/// Infinity and -Infinity, which diffusers' save_config writes, are read as numbers.
inline diffusers_config load_diffusers_config(const std::filesystem::path& path,
                                              std::optional<scheduler_class> kind = std::nullopt) {
  return parse_diffusers_config(io::read_json(path, "a diffusers scheduler_config.json", io::json_literals::python), kind,
                                ferry::detail::escape(path.string()));
}

}  // namespace ferry::compat
