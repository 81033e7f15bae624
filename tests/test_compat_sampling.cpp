// compat::sample on the diffusers2 reference set (tests/data/diffusers2): the classes that run on
// ferry's existing policies (EDMEuler, EDMDPMSolverMultistep, FlowMatchHeun) and the options of the
// classes already covered (flow sigmas, dynamic shifting, Karras/exponential/beta sigmas, invert_sigmas,
// stochastic flow sampling, final_sigmas_type, use_lu_lambdas, euler_at_final, continuous timesteps,
// zero SNR) must give diffusers' samples to 1e-4 from the same noise and injected step noise.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "test_support.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/solvers/ode/ddim.hpp"
#include "ferry/solvers/sde/ddpm.hpp"

using namespace ferry;
using nlohmann::json;

namespace {

const std::string dir = FERRY_TEST_DATA "/diffusers2/";

const json& cases() {
  static const json j = json::parse(std::ifstream(dir + "cases.json"));
  return j;
}

batch<double> load(const std::string& name) { return io::read_npy(dir + name + ".npy").as_batch<double>(); }

/// step_noise.npy (40, N, D), optionally rounded to float32 (diffusers draws FlowMatchEuler's noise in
/// the state's float32 inside step()).
struct step_noise {
  io::npy_array a = io::read_npy(dir + "step_noise.npy");
  std::vector<double> w;
  explicit step_noise(bool f32) : w(a.values<double>().begin(), a.values<double>().end()) {
    if (f32)
      for (double& v : w) v = static_cast<float>(v);
  }
  injected_noise<double> source() const { return {w.data(), a.shape[0], a.shape[1], a.shape[2]}; }
};

compat::timestep_args args_of(const json& c, std::size_t& steps) {
  compat::timestep_args a;
  if (!c.contains("set_timesteps_kwargs")) return a;
  const json& k = c.at("set_timesteps_kwargs");
  if (k.contains("mu")) a.mu = k.at("mu").get<double>();
  if (k.contains("sigmas")) {
    a.sigmas = k.at("sigmas").get<std::vector<double>>();
    steps = 0;
  }
  return a;
}

/// The case run as a user of compat runs it: config, grid, model answering what the class needs,
/// x = init·z, the loop.
double run_case(const std::string& name, std::size_t* nfe = nullptr) {
  const json& c = cases().at(name);
  const compat::diffusers_config cfg = compat::parse_diffusers_config(c.at("scheduler_config"), std::nullopt, name);
  std::size_t steps = c.at("steps").get<std::size_t>();
  const compat::timestep_args args = args_of(c, steps);
  const compat::diffusers_grid g = compat::set_timesteps(cfg, steps, args);
  auto model = gaussian_mixture<double>::load(dir + "gmm.json");
  model.predicts = compat::model_prediction(cfg);
  batch<double> x = load("noise");
  const double scale = compat::initial_scale(cfg, g);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] *= scale;
  sample_stats st;
  if (c.at("draws").empty()) {
    st = compat::sample(cfg, g, model, x.view());
  } else {
    const step_noise w(cfg.kind == compat::scheduler_class::flow_euler);
    st = compat::sample(cfg, g, model, x.view(), no_observer{}, w.source());
  }
  if (nfe) *nfe = st.nfe;
  return ferry_test::max_abs_diff(x, load(name));
}

}  // namespace

TEST_CASE("compat::sample reproduces the diffusers2 cases that run on ferry's existing policies", "[compat][parity]") {
  using sc = compat::scheduler_class;
  const std::set<sc> runs{sc::euler, sc::flow_euler, sc::flow_heun, sc::dpm_multistep, sc::unipc, sc::deis, sc::edm_euler, sc::edm_dpm_multistep};
  std::size_t n = 0;
  for (const auto& [name, c] : cases().items()) {
    const auto cfg = compat::parse_diffusers_config(c.at("scheduler_config"), std::nullopt, name);
    if (!runs.count(cfg.kind)) continue;
    ++n;
    std::size_t nfe = 0;
    const double d = run_case(name, &nfe);
    std::printf("[compat sample] %-30s max |ferry - diffusers| = %.3g (%zu model evaluations)\n", name.c_str(), d, nfe);
    INFO(name << ": max |ferry - diffusers| = " << d);
    CHECK(d < 1e-4);
  }
  CHECK(n == 35);
}

TEST_CASE("two-call classes count diffusers' model calls", "[compat][parity]") {
  std::size_t nfe = 0;
  run_case("flow_heun_8", &nfe);
  CHECK(nfe == 15);  // 2·steps − 1, as diffusers' interleaved timesteps
  run_case("edm_euler_20", &nfe);
  CHECK(nfe == 20);
}

TEST_CASE("CogVideoXDDIM is DDIM (η = 0) on its SNR-shifted ᾱ table", "[compat][parity]") {
  // CogVideoXDDIMScheduler.step: x ← a_t·x + b_t·x̂0 with a_t = σ_prev/σ_t, b_t = α_prev − α_t·a_t,
  // DDIM's update with ε̂ taken from the state; it neither clips nor thresholds.
  for (const char* name : {"cogvideox_ddim_8", "cogvideox_ddim_vpred_zsnr_12"}) {
    const json& c = cases().at(name);
    const auto cfg = compat::parse_diffusers_config(c.at("scheduler_config"), std::nullopt, name);
    const auto g = compat::set_timesteps(cfg, c.at("steps").get<std::size_t>());
    auto model = gaussian_mixture<double>::load(dir + "gmm.json");
    model.predicts = compat::model_prediction(cfg);
    batch<double> x = load("noise");
    const schedule<double> s = compat::to_schedule(g);
    const discrete_vp<double> process(diffusers_alphas_cumprod(compat::config_betas(cfg)));
    ddim<double> solver;
    ferry::sample(model, process, s, solver, x.view());
    const double d = ferry_test::max_abs_diff(x, load(name));
    std::printf("[compat sample] %-30s max |ferry - diffusers| = %.3g (ddim on the grid's levels)\n", name, d);
    INFO(name << ": " << d);
    CHECK(d < 1e-4);
  }
}

TEST_CASE("a zero-length last step is accepted only where a diffusers grid asks for it", "[compat]") {
  const json& c = cases().at("euler_sigmamin_8");
  const auto cfg = compat::parse_diffusers_config(c.at("scheduler_config"));
  const auto g = compat::set_timesteps(cfg, c.at("steps").get<std::size_t>());
  REQUIRE(g.sigmas[g.sigmas.size() - 1] == g.sigmas[g.sigmas.size() - 2]);  // σ_min appended to a grid ending at σ_min
  const schedule<double> s = compat::to_schedule(g);
  CHECK(s.zero_length_end);
  schedule<double> plain = s;
  plain.zero_length_end = false;
  CHECK_THROWS_AS(plain.validate(), config_error);
  CHECK_THROWS_AS(make_schedule(s.points), config_error);
}

TEST_CASE("DDPMWuerstchen is DDPM (fixed_small) on its clamped cosine ᾱ", "[compat][parity]") {
  // DDPMWuerstchenScheduler.step: μ = (x − (1 − α)·ε̂/√(1 − ᾱ))/√α with α = ᾱ/ᾱ_prev, σ_t² = (1 − α)(1 − ᾱ_prev)/(1 − ᾱ),
  // the DDPM posterior; no noise on the step that lands at t = 0 (there ᾱ is clamped to 0.9999, not 1).
  // ferry's ddpm policy draws on every step but from t = 0: the last step's injected draw is zeroed
  // here, which is what the policy has to do for this class.
  for (const char* name : {"wuerstchen_12", "wuerstchen_scaler2_8"}) {
    const json& c = cases().at(name);
    const auto cfg = compat::parse_diffusers_config(c.at("scheduler_config"), std::nullopt, name);
    const auto g = compat::set_timesteps(cfg, c.at("steps").get<std::size_t>());
    auto model = gaussian_mixture<double>::load(dir + "gmm.json");
    model.predicts = compat::model_prediction(cfg);
    batch<double> x = load("noise");
    step_noise w(false);
    const std::size_t per_step = w.a.shape[1] * w.a.shape[2];
    std::fill(w.w.begin() + std::ptrdiff_t((g.steps() - 1) * per_step), w.w.begin() + std::ptrdiff_t(g.steps() * per_step), 0.0);
    const schedule<double> s = compat::to_schedule(g);
    const discrete_vp<double> process(diffusers_alphas_cumprod(diffusers_betas(beta_schedule::linear, 1000, 1e-4, 0.02)));  // unused by ddpm
    pf_ode<discrete_vp<double>, gaussian_mixture<double>, no_transform, injected_noise<double>> problem(process, model, {}, w.source());
    auto solver = ddpm<double>();
    ferry::sample(problem, s, solver, x.view());
    const double d = ferry_test::max_abs_diff(x, load(name));
    std::printf("[compat sample] %-30s max |ferry - diffusers| = %.3g (ddpm, last draw zeroed)\n", name, d);
    INFO(name << ": " << d);
    CHECK(d < 1e-4);
  }
}

TEST_CASE("classes whose step() policy is not wired yet say so before anything runs", "[compat]") {
  for (const char* name : {"pndm_sd15_plms_20", "kdpm2_sd_12", "dpmss_o2_12", "ipndm_12", "sasolver_sd_20"}) {
    const json& c = cases().at(name);
    const auto cfg = compat::parse_diffusers_config(c.at("scheduler_config"), std::nullopt, name);
    const auto g = compat::set_timesteps(cfg, c.at("steps").get<std::size_t>());
    auto model = gaussian_mixture<double>::load(dir + "gmm.json");
    batch<double> x = load("noise");
    CHECK_CONFIG_ERROR(compat::sample(cfg, g, model, x.view()), "has no sampling run in compat::sample yet");
  }
}
