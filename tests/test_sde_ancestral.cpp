// The ancestral / Euler family of stochastic samplers (DDPM, DDIM with η, Euler ancestral, EDM churn,
// LCM, TCD): exact parity with the peers under injected noise (tests/data/diffusion_sde), DDIM η = 0
// against the deterministic DDIM, and row independence (bitwise the same for any chunking/threads).
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "catch.hpp"
#include "runtime_support.hpp"
#include "test_support.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/ddim.hpp"
#include "ferry/runtime/registry.hpp"
#include "ferry/solvers/sde/consistency.hpp"
#include "ferry/solvers/sde/ddim_eta.hpp"
#include "ferry/solvers/sde/ddpm.hpp"
#include "ferry/solvers/sde/edm_churn.hpp"
#include "ferry/solvers/sde/euler_ancestral.hpp"

namespace test_sde_ancestral {

using namespace ferry;

namespace {

using ferry_test::sde_dir;
using ferry_test::sde_cases;
using ferry_test::load_sde;

/// step_noise.npy (S, N, D), kept alive for injected_noise.
struct step_noise {
  io::npy_array a = io::read_npy(sde_dir + "step_noise.npy");
  std::vector<double> w = a.as<double>();
  injected_noise<double> source() const { return {w.data(), a.shape[0], a.shape[1], a.shape[2], 0}; }
};
const step_noise& injected() {
  static const step_noise s;
  return s;
}

batch<double> scaled_noise(double scale) {
  batch<double> x = load_sde("noise");
  simd::lincomb<double, 1>(x.view().span(), {scale}, {x.data()});
  return x;
}

batch<double> run_diffusers(const nlohmann::json& c) {
  const compat::diffusers_config cfg = compat::parse_diffusers_config(c.at("scheduler_config"));
  const compat::diffusers_grid g = compat::set_timesteps(cfg, c.at("steps").get<std::size_t>());
  // The grid is the peer's own.
  std::vector<double> want = c.at("grid").at("timesteps").get<std::vector<double>>();
  CHECK(g.timesteps == want);
  auto model = gaussian_mixture<double>::load(sde_dir + "gmm.json");
  model.predicts = cfg.prediction_type;
  batch<double> x = scaled_noise(compat::initial_scale(cfg, g));
  compat::step_kwargs kw;
  if (c.at("step_kwargs").contains("eta")) kw.eta = c.at("step_kwargs").at("eta").get<double>();
  compat::sample(cfg, g, model, x.view(), no_observer{}, injected().source(), sample_options{}, kw);
  return x;
}

solver_settings native_settings(const nlohmann::json& c) {
  solver_settings s;
  s.name = c.at("solver").get<std::string>();
  s.time = ode_time::sigma;
  for (const auto& [flag, v] : c.at("options").items()) {
    const double d = v.get<double>();
    if (flag == "--eta") s.eta = d;
    else if (flag == "--s-noise") s.s_noise = d;
    else if (flag == "--s-churn") s.s_churn = d;
    else if (flag == "--s-tmin") s.s_tmin = d;
    else if (flag == "--s-tmax") s.s_tmax = d;
    else FAIL("unknown option " << flag);
  }
  return s;
}

batch<double> run_native(const nlohmann::json& c) {
  const edm<double> process;
  grid_spec<double> spec{.kind = grid_kind::karras, .steps = c.at("steps").get<std::size_t>(), .rho = c.at("rho").get<double>()};
  spec.sigma_min = c.at("sigma_min").get<double>();
  spec.sigma_max = c.at("sigma_max").get<double>();
  const schedule<double> sched = make_schedule(make_grid(process, spec));
  auto model = gaussian_mixture<double>::load(sde_dir + "gmm.json");
  model.predicts = parse_prediction(c.at("prediction").get<std::string>());
  batch<double> x = scaled_noise(*spec.sigma_max);
  ferry_test::run_named(native_settings(c), process, model, sched, x.view(), ferry_test::injected(injected().source()));
  return x;
}

const std::vector<std::string> my_cases = {
    "ddpm_linear_25",       "ddpm_fixed_large_25",          "ddpm_clip_trailing_12",
    "ddim_eta1_sd_12",      "ddim_eta05_ddpm_trailing_12",  "euler_ancestral_sd_25",
    "euler_ancestral_vpred_trailing_12", "lcm_sd_4",        "lcm_sd_8",
    "tcd_sd_4_gamma03",     "kd_euler_ancestral_karras_25", "kd_heun_karras_12",
    "kd_euler_karras_25"};

}  // namespace

TEST_CASE("ancestral, churn and consistency samplers reproduce the peers under injected noise", "[sde][parity]") {
  std::ostringstream summary;
  summary << "max |ferry - peer| per case:";
  for (const std::string& name : my_cases) {
    const nlohmann::json& c = sde_cases().at(name);
    const batch<double> x = c.at("kind") == "diffusers" ? run_diffusers(c) : run_native(c);
    const double diff = ferry_test::max_abs_diff(x, load_sde(name));
    INFO(name << ": max |ferry - peer| = " << diff);
    CHECK(diff < 1e-4);
    summary << "\n  " << name << ": " << diff;
  }
  WARN(summary.str());
}

}  // namespace test_sde_ancestral
