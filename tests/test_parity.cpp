// End to end parity: every reference case, run the way a user would — a diffusers
// scheduler_config through ferry::compat, or k-diffusion's Karras-grid use through the solver
// registry — must land within max-abs 1e-4 of the peer's samples (formulas agree to ~1e-6).
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "catch.hpp"
#include "runtime_support.hpp"
#include "test_support.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/runtime/registry.hpp"

namespace test_parity {

using namespace ferry;

namespace {

const std::string& dir = ferry_test::reference_dir;
const nlohmann::json& cases() { return ferry_test::reference_cases(); }
batch<double> load(const std::string& name) { return ferry_test::load_reference(name); }
using ferry_test::max_abs_diff;

// x = scale·z.
batch<double> scaled_noise(double scale) {
  batch<double> x = load("noise");
  simd::lincomb<double, 1>(x.view().span(), {scale}, {x.data()});
  return x;
}

batch<double> run_diffusers(const nlohmann::json& c, std::size_t& nfe) {
  const compat::diffusers_config cfg = compat::parse_diffusers_config(c.at("scheduler_config"));
  const compat::diffusers_grid g = compat::set_timesteps(cfg, c.at("steps").get<std::size_t>());
  auto model = gaussian_mixture<double>::load(dir + "gmm.json");
  model.predicts = cfg.kind == compat::scheduler_class::flow_euler ? prediction::velocity : cfg.prediction_type;
  batch<double> x = scaled_noise(compat::initial_scale(cfg, g));
  nfe = compat::sample(cfg, g, model, x.view()).nfe;
  return x;
}

batch<double> run_native(const nlohmann::json& c, std::size_t& nfe) {
  const edm<double> process;
  grid_spec<double> spec{.kind = grid_kind::karras, .steps = c.at("steps").get<std::size_t>(), .rho = c.at("rho").get<double>()};
  spec.sigma_min = c.at("sigma_min").get<double>();
  spec.sigma_max = c.at("sigma_max").get<double>();
  const schedule<double> sched = make_schedule(make_grid(process, spec));
  auto model = gaussian_mixture<double>::load(dir + "gmm.json");
  model.predicts = parse_prediction(c.at("prediction").get<std::string>());
  batch<double> x = scaled_noise(*spec.sigma_max);
  const solver_settings s{.name = c.at("solver").get<std::string>(), .time = ode_time::sigma};
  nfe = ferry_test::run_named(s, process, model, sched, x.view()).nfe;
  return x;
}

}  // namespace

TEST_CASE("every reference case is reproduced within 1e-4 through the user-facing paths", "[parity]") {
  std::map<std::string, std::pair<double, std::string>> worst;  // peer → (max diff, case)
  for (const auto& [name, c] : cases().items()) {
    std::size_t nfe = 0;
    const bool diffusers = c.at("kind") == "diffusers";
    const batch<double> x = diffusers ? run_diffusers(c, nfe) : run_native(c, nfe);
    const double diff = max_abs_diff(x, load(name));
    INFO(name << ": max |ferry - peer| = " << diff << " with " << nfe << " model evaluations");
    CHECK(diff < 1e-4);
    auto& w = worst[c.at("peer").get<std::string>()];
    if (diff >= w.first) w = {diff, name};
  }
  std::ostringstream summary;
  summary << "worst max-abs difference per peer sampler:";
  for (const auto& [peer, w] : worst) summary << "\n  " << peer << ": " << w.first << " (" << w.second << ")";
  WARN(summary.str());
}

TEST_CASE("model evaluations per run are the peers' counts", "[parity]") {
  std::size_t nfe = 0;
  run_diffusers(cases().at("heun_sd_12"), nfe);
  CHECK(nfe == 23);  // Heun: 2 per step, 1 for the last step to σ = 0
  run_native(cases().at("kd_heun_karras_12"), nfe);
  CHECK(nfe == 23);
  run_diffusers(cases().at("dpmpp3m_sd_12"), nfe);
  CHECK(nfe == 12);
}

TEST_CASE("a diffusers run is the same whatever the prediction kind the model answers in", "[parity]") {
  // Same config with v_prediction / sample: the model converts, the sampler's answer must not move
  // beyond the float32 rounding of the α_t, σ_t that diffusers converts model outputs with (~1e-7 here).
  const nlohmann::json base = cases().at("dpmpp2m_sd_12");
  std::size_t nfe = 0;
  const batch<double> eps = run_diffusers(base, nfe);
  for (const char* kind : {"v_prediction", "sample"}) {
    nlohmann::json c = base;
    c["scheduler_config"]["prediction_type"] = kind;
    CHECK(max_abs_diff(run_diffusers(c, nfe), eps) < 2e-6);
  }
}

}  // namespace test_parity
