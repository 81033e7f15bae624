// compat::sample on the diffusers2 reference set (tests/data/diffusers2): every case — the thirteen
// classes beyond the first twelve (PNDM, KDPM2, KDPM2Ancestral, DPMSolverSinglestep, EDMEuler,
// EDMDPMSolverMultistep, FlowMatchHeun, SASolver, IPNDM, DPMSolverSDE, CosineDPMSolverMultistep,
// CogVideoXDDIM, DDPMWuerstchen) and the options of the classes already covered (flow sigmas, dynamic
// shifting, Karras/exponential/beta sigmas, invert_sigmas, stochastic flow sampling, final_sigmas_type,
// use_lu_lambdas, euler_at_final, continuous timesteps, zero SNR) — must give diffusers' samples to 1e-4
// from the same noise and the same injected step noise, read in the reference's convention (step()
// call i uses step_noise[i]), with diffusers' model calls.
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

namespace test_compat_sampling {

// The reference set: tests/data/diffusers2/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::diffusers2_refs;

using namespace ferry;
using nlohmann::json;

namespace {

/// step_noise.npy (40, N, D), optionally rounded to float32 (diffusers draws FlowMatchEuler's noise in
/// the state's float32 inside step()).
struct step_noise {
  io::npy_array a = io::read_npy(refs.dir + "step_noise.npy");
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

/// The step() calls of a case: its interleaved timesteps (DDPMWuerstchen's end at 0, where no call is made).
std::size_t step_calls(const json& c) {
  const std::size_t n = c.at("grid").at("timesteps").size();
  return c.at("scheduler_config").at("_class_name") == "DDPMWuerstchenScheduler" ? n - 1 : n;
}

/// The case run as a user of compat runs it: config, grid, model answering what the class needs,
/// x = init·z, the loop, step()'s keyword arguments.
double run_case(const std::string& name, std::size_t* nfe = nullptr) {
  const json& c = refs.cases().at(name);
  const compat::diffusers_config cfg = compat::parse_diffusers_config(c.at("scheduler_config"), std::nullopt, name);
  std::size_t steps = c.at("steps").get<std::size_t>();
  const compat::timestep_args args = args_of(c, steps);
  const compat::diffusers_grid g = compat::set_timesteps(cfg, steps, args);
  auto model = gaussian_mixture<double>::load(refs.dir + "gmm.json");
  model.predicts = compat::model_prediction(cfg);
  batch<double> x = refs.load("noise");
  const double scale = compat::initial_scale(cfg, g);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] *= scale;
  compat::step_kwargs kw;
  if (c.at("step_kwargs").contains("s_noise")) kw.s_noise = c.at("step_kwargs").at("s_noise").get<double>();
  sample_stats st;
  if (c.at("draws").empty()) {
    st = compat::sample(cfg, g, model, x.view(), no_observer{}, no_noise{}, sample_options{}, kw);
  } else {
    const step_noise w(cfg.kind == compat::scheduler_class::flow_euler);
    st = compat::sample(cfg, g, model, x.view(), no_observer{}, w.source(), sample_options{}, kw);
  }
  if (nfe) *nfe = st.nfe;
  return ferry_test::max_abs_diff(x, refs.load(name));
}

}  // namespace

TEST_CASE("compat::sample reproduces every diffusers2 case, with diffusers' model calls", "[compat][parity]") {
  std::size_t n = 0;
  for (const auto& [name, c] : refs.cases().items()) {
    ++n;
    std::size_t nfe = 0;
    const double d = run_case(name, &nfe);
    std::printf("[compat sample] %-30s max |ferry - diffusers| = %.3g (%zu model evaluations)\n", name.c_str(), d, nfe);
    INFO(name << ": max |ferry - diffusers| = " << d);
    CHECK(d < 1e-4);
    CHECK(nfe == step_calls(c));  // one model evaluation per step() call: two-call classes, PNDM's warm-up
  }
  CHECK(n == 71);
}

TEST_CASE("the same draws give the same bytes on any thread count, with two step() calls per ferry step", "[compat][random]") {
  for (const char* name : {"kdpm2a_sd_12", "dpmsde_vpred_snoise_12", "sasolver_sd_20", "wuerstchen_12", "dpmss_sde_o2_12"}) {
    const json& c = refs.cases().at(name);
    const auto cfg = compat::parse_diffusers_config(c.at("scheduler_config"), std::nullopt, name);
    const auto g = compat::set_timesteps(cfg, c.at("steps").get<std::size_t>());
    auto model = gaussian_mixture<double>::load(refs.dir + "gmm.json");
    model.predicts = compat::model_prediction(cfg);
    compat::step_kwargs kw;
    if (c.at("step_kwargs").contains("s_noise")) kw.s_noise = c.at("step_kwargs").at("s_noise").get<double>();
    const step_noise w(false);
    auto run = [&](sample_options o) {
      batch<double> x = refs.load("noise");
      simd::lincomb<double, 1>(x.view().span(), {compat::initial_scale(cfg, g)}, {x.data()});
      compat::sample(cfg, g, model, x.view(), no_observer{}, w.source(), o, kw);
      return x;
    };
    const batch<double> one = run({}), many = run({.threads = 2, .chunk_rows = 7});
    INFO(name);
    CHECK(std::equal(one.data(), one.data() + one.size(), many.data()));
  }
}

TEST_CASE("DPMSolverSinglestep's order list is the policy's order rule", "[compat]") {
  // set_timesteps' get_order_list (diffusers_grid::orders) and dpm_singlestep_order with the
  // lower_order_final that set_timesteps leaves, for every order, step count and final sigma.
  for (int order = 1; order <= 3; ++order)
    for (std::size_t steps = 1; steps <= 25; ++steps)
      for (const char* final_sigmas : {"zero", "sigma_min"})
        for (bool lof : {true, false}) {
          const json j = {{"_class_name", "DPMSolverSinglestepScheduler"}, {"solver_order", order}, {"final_sigmas_type", final_sigmas},
                          {"lower_order_final", lof}};
          const auto cfg = compat::parse_diffusers_config(j);
          const auto g = compat::set_timesteps(cfg, steps);
          REQUIRE(g.orders.size() == steps);
          for (std::size_t i = 0; i < steps; ++i) {
            const int k = g.next[i].sigma == 0 ? 1 : dpm_singlestep_order(order, steps, i, g.lower_order_final);
            INFO("order " << order << ", " << steps << " steps, " << final_sigmas << ", lower_order_final " << lof << ", step " << i);
            CHECK(std::min(k, int(i) + 1) == g.orders[i]);
          }
        }
}

TEST_CASE("diffusers' own refusals at step(): EDMDPM's third-order SDE step, step() arguments a class does not take", "[compat]") {
  auto model = gaussian_mixture<double>::load(refs.dir + "gmm.json");
  batch<double> x = refs.load("noise");
  const step_noise w(false);
  const auto edm3 = compat::parse_diffusers_config(json{{"_class_name", "EDMDPMSolverMultistepScheduler"}, {"solver_order", 3},
                                                        {"algorithm_type", "sde-dpmsolver++"}});
  model.predicts = compat::model_prediction(edm3);
  CHECK_CONFIG_ERROR(compat::sample(edm3, compat::set_timesteps(edm3, 12), model, x.view(), no_observer{}, w.source()), "solver_order 2");
  // 4 steps never take a third-order step (steps 0, 1 warm up, the last two are lowered): diffusers runs it
  CHECK_NOTHROW(compat::sample(edm3, compat::set_timesteps(edm3, 4), model, x.view(), no_observer{}, w.source()));
  const auto ddpm = compat::parse_diffusers_config(json{{"_class_name", "DDPMScheduler"}});
  const auto sde = compat::parse_diffusers_config(json{{"_class_name", "DPMSolverSDEScheduler"}});
  compat::step_kwargs eta, s_noise;
  eta.eta = 0.5, s_noise.s_noise = 0.5;
  CHECK_CONFIG_ERROR(compat::sample(ddpm, compat::set_timesteps(ddpm, 10), model, x.view(), no_observer{}, w.source(), {}, eta),
                     "DDPMScheduler.step takes no eta");
  CHECK_CONFIG_ERROR(compat::sample(ddpm, compat::set_timesteps(ddpm, 10), model, x.view(), no_observer{}, w.source(), {}, s_noise),
                     "DDPMScheduler.step takes no s_noise");
  CHECK_CONFIG_ERROR(compat::sample(sde, compat::set_timesteps(sde, 10), model, x.view(), no_observer{}, w.source(), {}, eta),
                     "takes no eta");
  // DPMSolverSDE's 10 steps make 19 step() calls, drawing in calls 0 … 17
  const std::vector<double> short_w(17 * x.size(), 0.0);
  CHECK_THROWS_WITH(compat::sample(sde, compat::set_timesteps(sde, 10), model, x.view(), no_observer{},
                                   injected_noise<double>{short_w.data(), 17, x.rows(), x.cols()}),
                    Catch::Contains("needs at least 18"));
  // stochastic classes need a noise source
  for (const char* cls : {"KDPM2AncestralDiscreteScheduler", "SASolverScheduler", "DDPMWuerstchenScheduler", "CosineDPMSolverMultistepScheduler"}) {
    const auto cfg = compat::parse_diffusers_config(json{{"_class_name", cls}});
    INFO(cls);
    CHECK_THROWS_AS(compat::sample(cfg, compat::set_timesteps(cfg, 6), model, x.view()), config_error);
  }
}

TEST_CASE("a zero-length last step is accepted only where a diffusers grid asks for it", "[compat]") {
  const json& c = refs.cases().at("euler_sigmamin_8");
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

}  // namespace test_compat_sampling
