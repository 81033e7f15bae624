// No key is silently ignored (issue 18 §2) for the classes compat::sample runs since issue 18: every key
// the table reads for PNDM, KDPM2, KDPM2Ancestral, DPMSolverSDE, DPMSolverSinglestep, EDMEuler,
// EDMDPMSolverMultistep, FlowMatchHeun, SASolver, IPNDM, CosineDPMSolverMultistep, CogVideoXDDIM and
// DDPMWuerstchen changes the sampled result when it leaves its default — or is named here as one that
// does not change diffusers' result either; prediction_type changes what the model must answer
// (compat::model_prediction), which an exact model converted to it samples identically. The EDM classes
// run a fixed network through compat::edm_preconditioned, where sigma_data and prediction_type enter.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/random/normal.hpp"

namespace test_compat_keys {

using namespace ferry;
using nlohmann::json;

namespace {

struct variation {
  const char* key;
  json value;
  json context = json::object();  ///< keys set in both runs, so that the key's effect can show
};

/// trained_betas of N entries, unlike any class's default.
json betas_list(std::size_t n) {
  json b = json::array();
  for (std::size_t i = 0; i < n; ++i) b.push_back(2e-4 + 0.028 * double(i) / double(n - 1));
  return b;
}

std::vector<variation> beta_variations(const char* schedule_alternative) {
  return {{"num_train_timesteps", 500}, {"beta_start", 0.0003}, {"beta_end", 0.03}, {"beta_schedule", schedule_alternative},
          {"trained_betas", betas_list(1000)}};
}

std::vector<variation> sigma_grid_variations() {
  return {{"use_karras_sigmas", true}, {"use_exponential_sigmas", true}, {"use_beta_sigmas", true}};
}

std::vector<variation> thresholding_variations() {
  // the ratio shows only where the clamp to [1, sample_max_value] leaves the quantile free
  return {{"thresholding", true}, {"dynamic_thresholding_ratio", 0.5, {{"thresholding", true}, {"sample_max_value", 3.0}}},
          {"sample_max_value", 0.5, {{"thresholding", true}}}};
}

std::vector<variation> edm_variations(const char* schedule_alternative) {
  return {{"sigma_min", 0.01}, {"sigma_max", 50.0}, {"sigma_data", 0.8}, {"sigma_schedule", schedule_alternative},
          {"rho", 5.0, {{"sigma_schedule", "karras"}}}, {"final_sigmas_type", "sigma_min"}};
}

template <class... V>
std::vector<variation> join(V... parts) {
  std::vector<variation> out;
  (out.insert(out.end(), parts.begin(), parts.end()), ...);
  return out;
}

struct class_case {
  const char* name;
  std::vector<variation> variations;
  std::vector<const char*> no_effect;  ///< read keys that change nothing in diffusers' run either
};

std::vector<class_case> classes() {
  const std::vector<variation> spacing{{"timestep_spacing", "trailing"}, {"steps_offset", 1, {{"timestep_spacing", "leading"}}}};
  const std::vector<variation> k_keys = join(beta_variations("scaled_linear"), sigma_grid_variations(), spacing,
                                             std::vector<variation>{{"prediction_type", "v_prediction"}});
  return {
      {"PNDMScheduler",
       join(beta_variations("scaled_linear"),
            std::vector<variation>{{"timestep_spacing", "trailing"}, {"steps_offset", 1}, {"prediction_type", "v_prediction"},
                                   {"skip_prk_steps", true}, {"set_alpha_to_one", true}}),
       {}},
      {"KDPM2DiscreteScheduler", k_keys, {}},
      {"KDPM2AncestralDiscreteScheduler", k_keys, {}},
      {"DPMSolverSDEScheduler", k_keys, {}},
      {"DPMSolverSinglestepScheduler",
       join(beta_variations("scaled_linear"), sigma_grid_variations(), thresholding_variations(),
            std::vector<variation>{{"prediction_type", "v_prediction"},
                                   {"solver_order", 3},
                                   {"algorithm_type", "dpmsolver", {{"final_sigmas_type", "sigma_min"}}},
                                   {"solver_type", "heun"},
                                   {"lower_order_final", true, {{"final_sigmas_type", "sigma_min"}}},
                                   {"use_flow_sigmas", true},
                                   {"flow_shift", 3.0, {{"use_flow_sigmas", true}}},
                                   {"use_dynamic_shifting", true, {{"use_flow_sigmas", true}}},
                                   {"final_sigmas_type", "sigma_min"},
                                   {"lambda_min_clipped", -3.0}}),
       {"time_shift_type"}},  // "exponential" is its only value (DPMSolverSinglestep has no linear shift)
      {"EDMEulerScheduler", join(edm_variations("exponential"), std::vector<variation>{{"prediction_type", "v_prediction"}}),
       {"num_train_timesteps"}},  // set_timesteps never reads it (its ramp has `steps` points)
      {"EDMDPMSolverMultistepScheduler",
       join(edm_variations("exponential"), thresholding_variations(),
            std::vector<variation>{{"prediction_type", "v_prediction"},
                                   {"solver_order", 3},
                                   {"algorithm_type", "sde-dpmsolver++"},
                                   {"solver_type", "heun"},
                                   {"lower_order_final", false, {{"solver_order", 3}}}}),
       // euler_at_final lowers the last step only, which goes to σ = 0 (first order already) or, with
       // final_sigmas_type sigma_min, from the grid's σ_min to the config's (length 0, or a float32 ulp)
       {"num_train_timesteps", "euler_at_final"}},
      {"CosineDPMSolverMultistepScheduler",
       join(edm_variations("karras"),
            std::vector<variation>{{"prediction_type", "epsilon"},
                                   {"solver_order", 1},
                                   {"solver_type", "heun"}}),
       // orders 1–2: lower_order_final and euler_at_final lower the last step only (as EDMDPM's euler_at_final)
       {"num_train_timesteps", "lower_order_final", "euler_at_final"}},
      {"FlowMatchHeunDiscreteScheduler", {{"num_train_timesteps", 500}, {"shift", 3.0}}, {}},
      {"SASolverScheduler",
       join(beta_variations("scaled_linear"), sigma_grid_variations(), thresholding_variations(), spacing,
            std::vector<variation>{{"prediction_type", "v_prediction"},
                                   {"use_flow_sigmas", true},
                                   {"flow_shift", 3.0, {{"use_flow_sigmas", true}}},
                                   {"predictor_order", 3},
                                   {"corrector_order", 3},
                                   {"algorithm_type", "noise_prediction"},
                                   {"lower_order_final", false},
                                   {"lambda_min_clipped", -3.0}}),
       {}},
      {"IPNDMScheduler", {}, {"num_train_timesteps"}},  // its betas are sin² of the step ramp
      {"CogVideoXDDIMScheduler",
       join(beta_variations("linear"),
            std::vector<variation>{{"prediction_type", "v_prediction"},
                                   {"timestep_spacing", "trailing"},
                                   {"steps_offset", 1},
                                   {"rescale_betas_zero_snr", true},
                                   {"set_alpha_to_one", false},
                                   {"snr_shift_scale", 1.0}}),
       {}},
      {"DDPMWuerstchenScheduler", {{"scaler", 2.0}, {"s", 0.02}}, {}},
  };
}

/// 8 steps of 64 keyed samples (mu 0.5 where the class shifts dynamically), the model answering `answers`.
batch<double> run(const json& j, prediction answers) {
  const auto cfg = compat::parse_diffusers_config(j);
  compat::timestep_args args;
  if (cfg.use_dynamic_shifting) args.mu = 0.5;
  const auto g = compat::set_timesteps(cfg, 8, args);
  auto model = gaussian_mixture<double>::load(FERRY_TEST_DATA "/diffusers2/gmm.json");
  model.predicts = answers;
  batch<double> x(64, 2);
  random::fill_normal(std::uint64_t(5), x.view(), 0, random::initial_noise_step);
  simd::lincomb<double, 1>(x.view().span(), {compat::initial_scale(cfg, g)}, {x.data()});
  using sc = compat::scheduler_class;
  if (cfg.kind == sc::edm_euler || cfg.kind == sc::edm_dpm_multistep || cfg.kind == sc::cosine_dpm_multistep) {
    // the EDM classes: a fixed network F (the mixture's ε̂), preconditioned with the config's sigma_data
    model.predicts = prediction::epsilon;
    auto net = compat::edm_preconditioned(cfg, model);
    compat::sample(cfg, g, net, x.view(), no_observer{}, keyed_noise{5, 0});
  } else {
    compat::sample(cfg, g, model, x.view(), no_observer{}, keyed_noise{5, 0});
  }
  return x;
}

double max_diff(const batch<double>& a, const batch<double>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

}  // namespace

TEST_CASE("every key the newly sampled classes read changes their result", "[compat][keys]") {
  for (const class_case& c : classes()) {
    const auto kind = compat::parse_diffusers_config(json{{"_class_name", c.name}}).kind;
    const auto& rule = compat::detail::rule_of(kind);
    // every read key is varied here or named as one without effect
    for (const auto& k : rule.keys) {
      if (k.effect != compat::detail::key_effect::read) continue;
      const bool varied = std::any_of(c.variations.begin(), c.variations.end(), [&](const variation& v) { return k.key == v.key; });
      const bool named = std::any_of(c.no_effect.begin(), c.no_effect.end(), [&](const char* n) { return k.key == n; });
      INFO(c.name << ": key " << k.key);
      CHECK(varied != named);
    }
    for (const variation& v : c.variations) {
      json base = v.context;
      base["_class_name"] = c.name;
      json changed = base;
      changed[v.key] = v.value;
      const prediction answers = compat::model_prediction(compat::parse_diffusers_config(base));
      INFO(c.name << ": " << v.key << " = " << v.value.dump().substr(0, 40) << " (with " << v.context.dump() << ")");
      if (std::string(v.key) == "prediction_type" && compat::model_prediction(compat::parse_diffusers_config(changed)) != answers) {
        // what the class expects of the model: an exact model converted to it samples the same, so the
        // key shows in what the model must answer (ferry sample sets the model's kind from it); the EDM
        // classes' models answer x̂0 and the key enters their preconditioning (edm_preconditioned)
        continue;
      }
      const double d = max_diff(run(base, answers), run(changed, answers));
      INFO("max change " << d);
      CHECK(d > 1e-9);
    }
  }
}

}  // namespace test_compat_keys
