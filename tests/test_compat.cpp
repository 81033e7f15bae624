// compat/: diffusers' noise tables, scheduler_config.json reading and set_timesteps grids.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "test_support.hpp"
#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/diffusers_timesteps.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/process/discrete_vp.hpp"

namespace test_compat {

using ferry::compat::diffusers_config;
using ferry::compat::parse_diffusers_config;
using ferry::compat::scheduler_class;
using nlohmann::json;

namespace {

const json& load_cases() { return ferry_test::reference_cases(); }

double rel_diff(double a, double b) {
  if (a == b) return 0;
  return std::abs(a - b) / std::max(std::abs(a), std::abs(b));
}

// Worst relative difference of two lists (infinite when the lengths differ).
double worst(const std::vector<double>& got, const json& want) {
  if (got.size() != want.size()) return INFINITY;
  double w = 0;
  for (std::size_t i = 0; i < got.size(); ++i) w = std::max(w, rel_diff(got[i], want[i].get<double>()));
  return w;
}

std::size_t bit_mismatches(const std::vector<double>& got, const json& want) {
  std::size_t m = 0;
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i)
    if (static_cast<float>(got[i]) != static_cast<float>(want[i].get<double>())) ++m;
  return m + (got.size() > want.size() ? got.size() - want.size() : want.size() - got.size());
}

using ferry_test::message_of;

}  // namespace

TEST_CASE("set_timesteps reproduces every diffusers grid in cases.json", "[compat]") {
  const json& cases = load_cases();
  std::size_t n = 0;
  for (const auto& [name, c] : cases.items()) {
    if (c.at("kind") != "diffusers") continue;
    ++n;
    const diffusers_config cfg = parse_diffusers_config(c.at("scheduler_config"), std::nullopt, name);
    const auto g = ferry::compat::set_timesteps(cfg, c.at("steps").get<std::size_t>());
    const json& grid = c.at("grid");
    const double wt = worst(g.timesteps, grid.at("timesteps"));
    const double ws = grid.contains("sigmas") ? worst(g.sigmas, grid.at("sigmas")) : 0.0;
    const std::size_t bits = bit_mismatches(g.timesteps, grid.at("timesteps")) +
                             (grid.contains("sigmas") ? bit_mismatches(g.sigmas, grid.at("sigmas")) : 0);
    std::printf("[compat] %-32s worst rel. diff: timesteps %.3g, sigmas %.3g; float32 entries differing: %zu\n", name.c_str(), wt, ws,
                bits);
    INFO(name << ": worst relative difference timesteps " << wt << ", sigmas " << ws);
    CHECK(wt <= 1e-6);
    CHECK(ws <= 1e-6);
    CHECK(cfg.warnings.empty());
    if (!grid.contains("sigmas")) CHECK(g.sigmas.empty());
  }
  CHECK(n == 27);
}

TEST_CASE("float32 beta tables match their double-precision closed forms to float rounding", "[compat]") {
  const std::size_t n = 1000;
  // ᾱ_t = Π (1 − β_s) in double from the closed-form β; the float32 table carries ~t·2⁻²⁴ relative
  // rounding from the cumulative product plus the β rounding, so 1e-4 relative bounds it comfortably
  // while a wrong formula (off-by-one, missing square) is off by far more.
  auto check = [&](ferry::beta_schedule s, double b0, double b1, auto beta_of) {
    const auto vp = ferry::discrete_vp<double>::diffusers(s, n, b0, b1);
    double prod = 1, worst_rel = 0;
    for (std::size_t t = 0; t < n; ++t) {
      prod *= 1 - beta_of(t);
      worst_rel = std::max(worst_rel, rel_diff(vp.alphas_cumprod()[t], prod));
    }
    INFO(to_string(s) << ": worst relative difference of ᾱ " << worst_rel);
    CHECK(worst_rel < 1e-4);
    CHECK(worst_rel > 0);  // the table really is float32, not double
  };
  check(ferry::beta_schedule::linear, 1e-4, 0.02, [&](std::size_t t) { return 1e-4 + (0.02 - 1e-4) * double(t) / double(n - 1); });
  check(ferry::beta_schedule::scaled_linear, 0.00085, 0.012, [&](std::size_t t) {
    const double r = std::sqrt(0.00085) + (std::sqrt(0.012) - std::sqrt(0.00085)) * double(t) / double(n - 1);
    return r * r;
  });
  // Nichol & Dhariwal's cosine: ᾱ(t) = cos²((t/N + s)/(1 + s)·π/2) and β = 1 − ᾱ(t+1)/ᾱ(t), capped.
  check(ferry::beta_schedule::squaredcos_cap_v2, 0, 0, [&](std::size_t t) {
    auto f = [](double u) { return std::pow(std::cos((u + 0.008) / 1.008 * M_PI / 2), 2); };
    return std::min(1 - f(double(t + 1) / double(n)) / f(double(t) / double(n)), 0.999);
  });
}

TEST_CASE("zero-terminal-SNR rescale ends at ᾱ = 0 and keeps ᾱ_0", "[compat]") {
  const auto b = ferry::diffusers_betas(ferry::beta_schedule::scaled_linear, 1000, 0.00085, 0.012, true);
  const auto a = ferry::diffusers_alphas_cumprod(b);
  const auto a_plain = ferry::diffusers_alphas_cumprod(ferry::diffusers_betas(ferry::beta_schedule::scaled_linear, 1000, 0.00085, 0.012));
  CHECK(b.back() == 1.0f);
  CHECK(a.back() == 0.0f);
  CHECK(a.front() == Approx(a_plain.front()).epsilon(1e-6));
  // √ᾱ is an affine map of the original √ᾱ (Lin et al. 2024, Alg. 1): check it at the midpoint.
  const double s0 = std::sqrt(double(a_plain.front())), sT = std::sqrt(double(a_plain.back()));
  const double want = (std::sqrt(double(a_plain[500])) - sT) * s0 / (s0 - sT);
  CHECK(std::sqrt(double(a[500])) == Approx(want).epsilon(1e-5));
  // The process clamps the terminal ᾱ to 2⁻²⁴ as DPMSolverMultistep/UniPC/Euler do.
  const ferry::discrete_vp<double> vp(a);
  CHECK(vp.alphas_cumprod().back() == std::ldexp(1.0, -24));
  CHECK_THROWS_AS(ferry::discrete_vp<double>(a, false), ferry::domain_error);
}

TEST_CASE("discrete_vp is a noise process whose λ and t_of_lambda invert each other", "[compat]") {
  static_assert(ferry::noise_process<ferry::discrete_vp<double>>);
  const auto vp = ferry::discrete_vp<double>::diffusers(ferry::beta_schedule::scaled_linear, 1000, 0.00085, 0.012);
  for (double t : {0.0, 0.25, 1.0, 17.5, 420.0, 998.75, 999.0}) {
    INFO("t = " << t);
    CHECK(vp.t_of_lambda(vp.lambda(t)) == Approx(t).margin(1e-9));
    CHECK(vp.alpha(t) * vp.alpha(t) + vp.sigma(t) * vp.sigma(t) == Approx(1).epsilon(1e-14));
  }
  for (std::size_t t : {0u, 1u, 500u, 999u}) {
    CHECK(vp.alpha(double(t)) == Approx(std::sqrt(vp.alphas_cumprod()[t])).epsilon(1e-14));
    CHECK(vp.sigma(double(t)) / vp.alpha(double(t)) == Approx(vp.sigma_edm(t)).epsilon(1e-6));
  }
  // log σ̃ is linear between integers: the midpoint is the mean of the neighbours' logs.
  const double mid = std::log(vp.sigma(10.5) / vp.alpha(10.5));
  CHECK(mid == Approx(0.5 * (std::log(vp.sigma(10.0) / vp.alpha(10.0)) + std::log(vp.sigma(11.0) / vp.alpha(11.0)))).epsilon(1e-13));
  // d_alpha, d_sigma agree with central differences inside a segment.
  const double t = 300.4, h = 1e-5;
  CHECK(vp.d_alpha(t) == Approx((vp.alpha(t + h) - vp.alpha(t - h)) / (2 * h)).epsilon(1e-6));
  CHECK(vp.d_sigma(t) == Approx((vp.sigma(t + h) - vp.sigma(t - h)) / (2 * h)).epsilon(1e-6));
}

TEST_CASE("absent keys take each class's diffusers defaults", "[compat]") {
  auto parse = [](const char* cls) { return parse_diffusers_config(json{{"_class_name", cls}, {"_diffusers_version", "0.30.0"}}); };
  const auto ddim = parse("DDIMScheduler");
  CHECK(ddim.kind == scheduler_class::ddim);
  CHECK(ddim.spacing == ferry::compat::timestep_spacing::leading);
  CHECK(ddim.clip_sample);
  CHECK(ddim.set_alpha_to_one);
  CHECK(ddim.betas == ferry::beta_schedule::linear);
  CHECK(ddim.beta_start == 0.0001);
  CHECK(ddim.beta_end == 0.02);
  CHECK(ddim.warnings.empty());
  const auto dpm = parse("DPMSolverMultistepScheduler");
  CHECK(dpm.spacing == ferry::compat::timestep_spacing::linspace);
  CHECK(dpm.solver_order == 2);
  CHECK(dpm.algorithm_type == ferry::compat::algorithm::dpmsolver_pp);
  CHECK(dpm.solver_type == ferry::compat::solver_kind::midpoint);
  CHECK(dpm.lower_order_final);
  CHECK(!dpm.euler_at_final);
  CHECK(dpm.final_sigmas_type == ferry::compat::final_sigmas::zero);
  const auto heun = parse("HeunDiscreteScheduler");
  CHECK(heun.beta_start == 0.00085);
  CHECK(heun.beta_end == 0.012);
  CHECK(!heun.clip_sample);
  CHECK(parse("UniPCMultistepScheduler").solver_type == ferry::compat::solver_kind::bh2);
  CHECK(parse("UniPCMultistepScheduler").predict_x0);
  CHECK(parse("DEISMultistepScheduler").solver_type == ferry::compat::solver_kind::logrho);
  CHECK(parse("DEISMultistepScheduler").algorithm_type == ferry::compat::algorithm::deis);
  CHECK(parse("EulerDiscreteScheduler").interpolation == ferry::compat::sigma_interpolation::linear);
  CHECK(parse("LMSDiscreteScheduler").spacing == ferry::compat::timestep_spacing::linspace);
  const auto flow = parse("FlowMatchEulerDiscreteScheduler");
  CHECK(flow.shift == 1.0);
  CHECK(flow.prediction_type == ferry::prediction::velocity);
  // A class given explicitly needs no _class_name; other classes' solver names map as diffusers maps them.
  const auto d = parse_diffusers_config(json{{"solver_type", "bh2"}, {"algorithm_type", "deis"}}, scheduler_class::dpm_multistep);
  CHECK(d.solver_type == ferry::compat::solver_kind::midpoint);
  CHECK(d.algorithm_type == ferry::compat::algorithm::dpmsolver_pp);
}

TEST_CASE("unknown keys are warnings, bad values and classes are config_errors", "[compat]") {
  const auto c = parse_diffusers_config(json{{"_class_name", "EulerDiscreteScheduler"}, {"skip_prk_steps", true}, {"clip_sample", false}});
  REQUIRE(c.warnings.size() == 2);
  CHECK(c.warnings[0].find("\"clip_sample\"") != std::string::npos);
  CHECK(c.warnings[1].find("\"skip_prk_steps\"") != std::string::npos);

  const std::string m1 = message_of([] { parse_diffusers_config(json{{"_class_name", "DDIMScheduler"}, {"beta_schedule", "foo"}}); });
  CHECK(m1 == "scheduler_config.json: \"beta_schedule\" is \"foo\"; expected linear, scaled_linear or squaredcos_cap_v2");
  const std::string m2 = message_of([] { parse_diffusers_config(json{{"_class_name", "DDIMScheduler"}, {"clip_sample", "yes"}}); });
  CHECK(m2.find("\"clip_sample\" is \"yes\"; expected true or false") != std::string::npos);
  const std::string m3 = message_of([] { parse_diffusers_config(json{{"_class_name", "KarrasVeScheduler"}}); });
  CHECK(m3.find("\"_class_name\" is \"KarrasVeScheduler\", a diffusers scheduler ferry does not reproduce") != std::string::npos);
  const std::string m4 = message_of([] { parse_diffusers_config(json{{"_class_name", "DPMSolverMultistepScheduler"}, {"variance_type", "learned"}}); });
  CHECK(m4 == "scheduler_config.json: \"variance_type\" is \"learned\"; expected null (ferry does not implement learned variances)");
  const std::string m5 = message_of([] { parse_diffusers_config(json{{"_class_name", "DPMSolverMultistepScheduler"}, {"num_train_timesteps", 0}}); });
  CHECK(m5.find("\"num_train_timesteps\" is 0") != std::string::npos);
  const std::string m6 = message_of([] {
    parse_diffusers_config(json{{"_class_name", "EulerDiscreteScheduler"}, {"use_karras_sigmas", true}, {"use_exponential_sigmas", true}});
  });
  CHECK(m6.find("use_karras_sigmas") != std::string::npos);
  const std::string m7 = message_of([] { parse_diffusers_config(json{{"_class_name", "DPMSolverMultistepScheduler"}, {"algorithm_type", "dpmsolver"}}); });
  CHECK(m7.find("\"final_sigmas_type\"") != std::string::npos);

  const auto cfg = parse_diffusers_config(json{{"_class_name", "DDIMScheduler"}});
  CHECK(message_of([&] { ferry::compat::set_timesteps(cfg, 0); }).find("steps = 0") != std::string::npos);
  CHECK(message_of([&] { ferry::compat::set_timesteps(cfg, 1001); }).find("steps = 1001") != std::string::npos);
  CHECK_THROWS_AS(ferry::compat::load_diffusers_config(std::string(FERRY_TEST_DATA) + "/no_such_scheduler_config.json"), ferry::io_error);
}

TEST_CASE("grid quirks: DDIM prev_timestep, Euler init_noise_sigma, Heun interleaving, flow double shift", "[compat]") {
  // DDIM steps back by N // steps whatever the spacing, so with trailing spacing a step can land off
  // the next timestep; the last step uses final_alpha_cumprod.
  const auto ddim = ferry::compat::set_timesteps(
      parse_diffusers_config(json{{"_class_name", "DDIMScheduler"}, {"timestep_spacing", "trailing"}, {"set_alpha_to_one", false}}), 12);
  REQUIRE(ddim.steps() == 12);
  for (std::size_t i = 0; i < 12; ++i) CHECK(ddim.prev_timesteps[i] == static_cast<long long>(ddim.timesteps[i]) - 83);
  CHECK(ddim.alphas_cumprod_prev.back() == ddim.final_alpha_cumprod);
  CHECK(ddim.final_alpha_cumprod == Approx(1 - 0.0001).epsilon(1e-7));

  // Euler: init_noise_sigma = σ_max for linspace/trailing, √(σ_max² + 1) for leading.
  const auto e_lin = ferry::compat::set_timesteps(parse_diffusers_config(json{{"_class_name", "EulerDiscreteScheduler"}}), 10);
  const auto e_lead = ferry::compat::set_timesteps(
      parse_diffusers_config(json{{"_class_name", "EulerDiscreteScheduler"}, {"timestep_spacing", "leading"}, {"steps_offset", 1}}), 10);
  CHECK(e_lin.init_noise_sigma == e_lin.sigmas.front());
  CHECK(e_lead.init_noise_sigma == Approx(std::sqrt(e_lead.sigmas.front() * e_lead.sigmas.front() + 1)).epsilon(1e-7));

  // Heun: 2n − 1 timesteps and 2n sigmas, interleaved; n steps.
  const auto h = ferry::compat::set_timesteps(parse_diffusers_config(json{{"_class_name", "HeunDiscreteScheduler"}}), 7);
  CHECK(h.timesteps.size() == 13);
  CHECK(h.sigmas.size() == 14);
  CHECK(h.steps() == 7);
  CHECK(h.sigmas[1] == h.sigmas[2]);
  CHECK(h.next.back().sigma == 0);

  // Flow: __init__ shifts σ_max/σ_min, set_timesteps shifts the grid between them again.
  const double shift = 3;
  const auto f = ferry::compat::set_timesteps(parse_diffusers_config(json{{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"shift", shift}}), 5);
  const double smin_once = shift * 0.001 / (1 + (shift - 1) * 0.001);
  const double smin_twice = shift * smin_once / (1 + (shift - 1) * smin_once);
  CHECK(f.sigmas[4] == Approx(smin_twice).epsilon(1e-6));
  CHECK(f.sigmas[0] == 1.0f);
  CHECK(f.timesteps[0] == 1000.0);
  CHECK(f.sigmas.back() == 0);
}

TEST_CASE("the class table: each class reads its own defaults back, and every key at its default", "[compat][table]") {
  namespace cd = ferry::compat::detail;
  const auto classes = ferry::compat::scheduler_classes();
  CHECK(classes.size() == 25);
  for (const scheduler_class k : classes) {
    const std::string name(ferry::compat::class_name(k));
    INFO(name);
    json j{{"_class_name", name}, {"_diffusers_version", "0.35.0"}};
    if (cd::find_key(cd::rule_of(k), "trained_betas")) j["trained_betas"] = nullptr;
    const diffusers_config c = parse_diffusers_config(j);
    CHECK(c.kind == k);
    CHECK(c.warnings.empty());
    for (const auto& key : cd::rule_of(k).keys) {
      INFO("key " << key.key);
      const diffusers_config d = parse_diffusers_config(json{{"_class_name", name}, {std::string(key.key), key.default_value}});
      CHECK(d.warnings.empty());
    }
    // Every class gives a finite grid with the steps each step() call needs.
    const auto g = ferry::compat::set_timesteps(c, 10);
    CHECK(g.steps() > 0);
    CHECK(g.cur.size() == g.steps());
    for (double t : g.timesteps) CHECK(std::isfinite(t));
    for (double s : g.sigmas) CHECK(std::isfinite(s));
  }
  // The defaults that differ between classes come from the table.
  using ferry::compat::default_config;
  CHECK(default_config(scheduler_class::kdpm2).beta_start == 0.00085);
  CHECK(!default_config(scheduler_class::dpm_singlestep).lower_order_final);
  CHECK(default_config(scheduler_class::cogvideox_ddim).betas == ferry::beta_schedule::scaled_linear);
  CHECK(default_config(scheduler_class::cogvideox_ddim).snr_shift_scale == 3.0);
  CHECK(*default_config(scheduler_class::cosine_dpm_multistep).sigma_max == 500.0);
  CHECK(default_config(scheduler_class::cosine_dpm_multistep).prediction_type == ferry::prediction::v);
  CHECK(default_config(scheduler_class::pndm).spacing == ferry::compat::timestep_spacing::leading);
  CHECK(!default_config(scheduler_class::pndm).set_alpha_to_one);
  CHECK(default_config(scheduler_class::flow_heun).prediction_type == ferry::prediction::velocity);
}

TEST_CASE("class names: a did-you-mean for typos only, never toward another algorithm", "[compat][table]") {
  auto msg = [](const char* cls) { return message_of([&] { parse_diffusers_config(json{{"_class_name", cls}}); }); };
  CHECK(parse_diffusers_config(json{{"_class_name", "PNDMScheduler"}}).kind == scheduler_class::pndm);
  CHECK(msg("EulerDiscreteSchedular").find("(did you mean \"EulerDiscreteScheduler\"?)") != std::string::npos);
  CHECK(msg("DPMSolverSinglestepSchedulr").find("(did you mean \"DPMSolverSinglestepScheduler\"?)") != std::string::npos);
  for (const char* other : {"KarrasVeScheduler", "CogVideoXDPMScheduler", "DDIMParallelScheduler", "RePaintScheduler"}) {
    INFO(other);
    const std::string m = msg(other);
    CHECK(m.find("a diffusers scheduler ferry does not reproduce") != std::string::npos);
    CHECK(m.find("did you mean") == std::string::npos);
  }
  // A typo of a class ferry does not reproduce is nearest to that class: no suggestion either.
  CHECK(msg("CogVideoXDPMSchedulr").find("did you mean") == std::string::npos);
  CHECK(msg("DDPMParallelSchedulr").find("did you mean") == std::string::npos);
  CHECK(msg("NoSuchScheduler").find("expected DDIMScheduler, ") != std::string::npos);
}

TEST_CASE("keys: unknown ones warned, result-changing unimplemented ones refused by name, inert ones pass", "[compat][table]") {
  const auto ddim = parse_diffusers_config(json{{"_class_name", "DDIMScheduler"}, {"skip_prk_steps", true}});
  REQUIRE(ddim.warnings.size() == 1);
  CHECK(ddim.warnings[0] == "scheduler_config.json: \"skip_prk_steps\" is not a DDIMScheduler argument; ignored");
  const auto euler = parse_diffusers_config(json{{"_class_name", "EulerDiscreteScheduler"}, {"use_uniform_sigmas", true}});
  REQUIRE(euler.warnings.size() == 1);
  CHECK(euler.warnings[0].find("\"use_uniform_sigmas\" is not a EulerDiscreteScheduler argument; ignored") != std::string::npos);

  auto refused = [](json j) { return message_of([&] { parse_diffusers_config(j); }); };
  CHECK(refused({{"_class_name", "DPMSolverMultistepScheduler"}, {"variance_type", "learned_range"}}) ==
        "scheduler_config.json: \"variance_type\" is \"learned_range\"; expected null (ferry does not implement learned variances)");
  CHECK(refused({{"_class_name", "UniPCMultistepScheduler"}, {"solver_p", json::object()}}).find("\"solver_p\" is {}; expected null (ferry does not implement") !=
        std::string::npos);
  CHECK(refused({{"_class_name", "SASolverScheduler"}, {"tau_func", "lambda t: 1"}}).find("\"tau_func\"") != std::string::npos);
  CHECK(refused({{"_class_name", "IPNDMScheduler"}, {"trained_betas", {0.1, 0.2}}}).find("\"trained_betas\"") != std::string::npos);
  CHECK(refused({{"_class_name", "DPMSolverMultistepScheduler"}, {"algorithm_type", "sde-dpmsolver"}}) ==
        "scheduler_config.json: \"algorithm_type\" is \"sde-dpmsolver\"; expected dpmsolver++, dpmsolver, sde-dpmsolver++ or deis (ferry does not "
        "implement sde-dpmsolver)");
  CHECK(refused({{"_class_name", "PNDMScheduler"}, {"prediction_type", "sample"}}).find("(ferry does not implement sample)") != std::string::npos);
  CHECK(refused({{"_class_name", "KDPM2DiscreteScheduler"}, {"prediction_type", "sample"}}).find("\"prediction_type\"") != std::string::npos);
  CHECK(refused({{"_class_name", "DDPMScheduler"}, {"variance_type", "learned"}}).find("(ferry does not implement learned)") != std::string::npos);

  // Inert keys: any value, no warning (CogVideoXDDIM's step neither clips nor thresholds; ferry's seed keys the SDE noise).
  CHECK(parse_diffusers_config(json{{"_class_name", "CogVideoXDDIMScheduler"}, {"clip_sample", true}, {"sample_max_value", 3}}).warnings.empty());
  CHECK(parse_diffusers_config(json{{"_class_name", "DPMSolverSDEScheduler"}, {"noise_sampler_seed", 42}}).warnings.empty());
  // Keys that once were refused and are implemented now.
  const auto beta = parse_diffusers_config(json{{"_class_name", "DPMSolverMultistepScheduler"}, {"use_beta_sigmas", true}});
  CHECK(beta.sigmas == ferry::compat::sigma_spacing::beta);
  const auto flow = parse_diffusers_config(json{{"_class_name", "UniPCMultistepScheduler"}, {"use_flow_sigmas", true}, {"flow_shift", 5.0},
                                                {"prediction_type", "flow_prediction"}});
  CHECK(ferry::compat::set_timesteps(flow, 8).space == ferry::compat::grid_space::flow);
  CHECK(message_of([] {
          parse_diffusers_config(json{{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"use_karras_sigmas", true}, {"use_beta_sigmas", true}});
        }).find("expected at most one") != std::string::npos);
}

TEST_CASE("scheduler configs as Python's json writes them: NaN, Infinity, -Infinity", "[compat][table]") {
  using ferry::io::json_literals;
  using ferry::io::parse_json_text;
  const json j = parse_json_text(R"({"a": -Infinity, "b": [Infinity, NaN], "c": "NaN", "Infinity": 1, "d": {"e": -Infinity}})", json_literals::python);
  CHECK(j.at("a").get<double>() == -INFINITY);
  CHECK(j.at("b")[0].get<double>() == INFINITY);
  CHECK(std::isnan(j.at("b")[1].get<double>()));
  CHECK(j.at("c") == "NaN");       // strings stay strings
  CHECK(j.at("Infinity") == 1);    // and keys keys
  CHECK(j.at("d").at("e").get<double>() == -INFINITY);
  CHECK_THROWS_AS(parse_json_text(R"({"a": -Infinity})"), nlohmann::json::parse_error);                     // strict by default
  CHECK_THROWS_AS(parse_json_text(R"({NaN: 1})", json_literals::python), nlohmann::json::parse_error);        // not a value
  CHECK_THROWS_AS(parse_json_text(R"({"a": NaNa})", json_literals::python), nlohmann::json::parse_error);     // not a word
  CHECK_THROWS_AS(parse_json_text(R"({"a": Infinity1})", json_literals::python), nlohmann::json::parse_error);

  // PixArt-α's config as diffusers saved it, read from a file.
  ferry_test::scratch_dir dir;
  const std::string path = (dir.path / "scheduler_config.json").string();
  std::ofstream(path) << R"({"_class_name": "DPMSolverMultistepScheduler", "_diffusers_version": "0.22.0.dev0", "algorithm_type": "dpmsolver++",
    "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001, "dynamic_thresholding_ratio": 0.995, "euler_at_final": false,
    "lambda_min_clipped": -Infinity, "lower_order_final": true, "num_train_timesteps": 1000, "prediction_type": "epsilon",
    "sample_max_value": 1.0, "solver_order": 2, "solver_type": "midpoint", "steps_offset": 0, "thresholding": false,
    "timestep_spacing": "linspace", "trained_betas": null, "use_karras_sigmas": false, "use_lu_lambdas": false, "variance_type": null})";
  const diffusers_config c = ferry::compat::load_diffusers_config(path);
  CHECK(c.lambda_min_clipped == -INFINITY);
  CHECK(c.warnings.empty());
  std::ofstream(path) << R"({"_class_name": "DDIMScheduler", "beta_start": NaN})";
  CHECK(message_of([&] { ferry::compat::load_diffusers_config(path); }).find("\"beta_start\" is NaN; expected a finite number") != std::string::npos);
  // A mixture file stays strict JSON.
  CHECK_THROWS_AS(ferry::io::read_json(path, "a Gaussian-mixture JSON object"), ferry::io_error);
}

TEST_CASE("set_timesteps' mu and sigmas: ignored, required, checked", "[compat][table]") {
  using ferry::compat::set_timesteps;
  using ferry::compat::timestep_args;
  const auto schnell = parse_diffusers_config(json{{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"use_dynamic_shifting", false}});
  const auto g = set_timesteps(schnell, 4, timestep_args{1.15, {}});
  REQUIRE(g.warnings.size() == 1);
  CHECK(g.warnings[0].find("is ignored (use_dynamic_shifting is false)") != std::string::npos);
  CHECK(g.timesteps == set_timesteps(schnell, 4).timesteps);
  const auto flux = parse_diffusers_config(json{{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"use_dynamic_shifting", true}});
  CHECK(message_of([&] { set_timesteps(flux, 4); }).find("use_dynamic_shifting is true; give mu") != std::string::npos);
  CHECK(set_timesteps(flux, 4, timestep_args{0.5, {}}).timesteps != set_timesteps(flux, 4, timestep_args{1.0, {}}).timesteps);

  // sigmas: no final 0 for FlowMatchEuler (it appends one), decreasing, the step count's length.
  const auto s = set_timesteps(flux, 0, timestep_args{1.0, std::vector<double>{1.0, 0.75, 0.5, 0.25}});
  CHECK(s.steps() == 4);
  CHECK(s.sigmas.size() == 5);
  CHECK(s.sigmas.back() == 0);
  CHECK(message_of([&] { set_timesteps(flux, 5, timestep_args{1.0, std::vector<double>{1.0, 0.75, 0.5, 0.25}}); })
            .find("sigmas has 4 entries; expected 5 for 5 steps") != std::string::npos);
  CHECK(message_of([&] { set_timesteps(flux, 0, timestep_args{1.0, std::vector<double>{1.0, 0.5, 0.75, 0.25}}); })
            .find("sigmas[2] = 0.75; expected finite sigmas >= 0 that decrease strictly") != std::string::npos);
  // EulerDiscrete's sigmas carry their last entry; DDIM takes none.
  const auto euler = parse_diffusers_config(json{{"_class_name", "EulerDiscreteScheduler"}});
  const auto e = set_timesteps(euler, 0, timestep_args{{}, std::vector<double>{14.6, 5.0, 1.0, 0.0}});
  CHECK(e.steps() == 3);
  CHECK(e.sigmas.back() == 0);
  CHECK(message_of([] { set_timesteps(parse_diffusers_config(json{{"_class_name", "DDIMScheduler"}}), 0, timestep_args{{}, std::vector<double>{1, 0.5}}); })
            .find("DDIMScheduler.set_timesteps takes no sigmas") != std::string::npos);
}

}  // namespace test_compat
