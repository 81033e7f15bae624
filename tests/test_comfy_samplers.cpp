// ComfyUI's samplers (issue 19) against its own outputs (tests/data/comfy, ComfyUI a125cd8): every
// case runs through ferry::sample on the exact mixture, with ComfyUI's σ list turned into levels by
// levels_at_sigmas (EDM for its EPS cases, the flow with shift 3 for CONST) and its injected draws
// (step_noise.npy, (S, K, N, D): draw k of step i is stream k of step i). Also: convergence orders
// on the PF-ODE, bitwise independence of the row chunking, and allocation-free steps.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "test_support.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/grid/sigma_list.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/solvers/ode/dpm_adaptive.hpp"
#include "ferry/solvers/ode/dpm_fast.hpp"
#include "ferry/solvers/ode/gradient_estimation.hpp"
#include "ferry/solvers/ode/heunpp2.hpp"
#include "ferry/solvers/offset_first_sigma.hpp"
#include "ferry/solvers/sde/consistency.hpp"
#include "ferry/solvers/sde/dpm_2.hpp"
#include "ferry/solvers/sde/dpmpp_2s_ancestral.hpp"
#include "ferry/solvers/sde/dpmpp_multistep_sde.hpp"
#include "ferry/solvers/sde/er_sde.hpp"
#include "ferry/solvers/sde/euler_ancestral.hpp"
#include "ferry/solvers/sde/seeds.hpp"

using namespace ferry;

namespace {

using mixture = gaussian_mixture<double>;
using ferry_test::max_abs_diff;

const std::string comfy_dir = FERRY_TEST_DATA "/comfy/";

const nlohmann::json& cases() {
  static const nlohmann::json j = nlohmann::json::parse(std::ifstream(comfy_dir + "cases.json"));
  return j;
}
batch<double> load(const std::string& name) { return io::read_npy(comfy_dir + name + ".npy").as_batch<double>(); }

// step_noise.npy, (S, K, N, D), loaded once.
struct step_noise_file {
  std::vector<double> w;
  std::size_t steps = 0, draws = 0, rows = 0, cols = 0;
  injected_noise<double> source() const { return {w.data(), steps, rows, cols, 0, draws}; }
};
const step_noise_file& step_noise() {
  static const step_noise_file f = [] {
    const io::npy_array a = io::read_npy(comfy_dir + "step_noise.npy");
    REQUIRE(a.ndim() == 4);
    return step_noise_file{a.as<double>(), a.shape[0], a.shape[1], a.shape[2], a.shape[3]};
  }();
  return f;
}

// The σ list a case's sampler visits: ComfyUI's list, or what the sampler makes of it.
using sigma_rule = std::vector<double> (*)(std::span<const double>);
std::vector<double> as_given(std::span<const double> s) { return {s.begin(), s.end()}; }

// One ComfyUI case: the σ list as the run's levels, x = σ_0·z, the exact mixture answering x̂0.
template <class Process, class Solver>
batch<double> run_case(const nlohmann::json& c, const Process& process, Solver solver, sigma_rule rule) {
  const std::vector<double> given = c.at("sigmas").get<std::vector<double>>();
  const std::vector<double> sigmas = rule(given);
  const schedule<double> sched = make_schedule(levels_at_sigmas(process, std::span<const double>(sigmas)));
  mixture model = mixture::load(comfy_dir + "gmm.json");
  batch<double> x = load("noise");
  simd::lincomb<double, 1>(x.view().span(), {sigmas.front()}, {x.data()});
  pf_ode<Process, mixture, no_transform, injected_noise<double>> problem(process, model, {}, step_noise().source());
  const sample_stats st = ferry::sample(problem, sched, solver, x.view());
  INFO("model calls " << st.nfe << ", ComfyUI's " << c.at("nfe").get<std::size_t>());
  CHECK(st.nfe == c.at("nfe").get<std::size_t>());
  return x;
}

/// Runs case `name` on its model sampling (eps → EDM, const → flow with shift 3) and returns
/// max |ferry − ComfyUI|.
template <class Solver>
double comfy_diff(const std::string& name, Solver solver, sigma_rule rule = as_given) {
  const nlohmann::json& c = cases().at(name);
  const bool flow_case = c.at("model_sampling") == "const";
  const batch<double> x = flow_case ? run_case(c, flow<double>(3.0), solver, rule) : run_case(c, edm<double>(), solver, rule);
  const double d = max_abs_diff(x, load(name));
  std::printf("[comfy] %-42s max |ferry - ComfyUI| = %.3g\n", name.c_str(), d);
  return d;
}

}  // namespace

TEST_CASE("euler_ancestral, with its rectified-flow branch on CONST, reproduces ComfyUI", "[comfy][parity]") {
  CHECK(comfy_diff("euler_ancestral_eps_karras_12", euler_ancestral<double>()) < 1e-4);
  CHECK(comfy_diff("euler_ancestral_eps_karras_8_eta05", euler_ancestral<double>(0.5)) < 1e-4);
  CHECK(comfy_diff("euler_ancestral_const_shift3_12", euler_ancestral<double>()) < 1e-4);
}

TEST_CASE("dpmpp_2m_sde on CONST (logit half-log-SNR, first-sigma offset, injected draws) reproduces ComfyUI",
          "[comfy][parity]") {
  auto comfy_2m_sde = [](double eta) {
    auto o = dpmpp_sde_multistep_options::k_diffusion_2m();
    o.eta = eta;
    return with_first_sigma_offset(dpmpp_2m_sde<double>(o));
  };
  CHECK(comfy_diff("dpmpp_2m_sde_const_shift3_12", comfy_2m_sde(1)) < 1e-4);
  CHECK(comfy_diff("dpmpp_2m_sde_const_shift3_16_eta05", comfy_2m_sde(0.5)) < 1e-4);
}

TEST_CASE("dpmpp_2s_ancestral, with its rectified-flow branch on CONST, reproduces ComfyUI", "[comfy][parity]") {
  CHECK(comfy_diff("dpmpp_2s_ancestral_eps_karras_12", dpmpp_2s_ancestral<double>()) < 1e-4);
  CHECK(comfy_diff("dpmpp_2s_ancestral_const_shift3_12", dpmpp_2s_ancestral<double>()) < 1e-4);
}

TEST_CASE("dpm_2 and dpm_2_ancestral, with its rectified-flow branch on CONST, reproduce ComfyUI", "[comfy][parity]") {
  CHECK(comfy_diff("dpm_2_eps_karras_12", dpm_2<double>{}) < 1e-4);
  CHECK(comfy_diff("dpm_2_ancestral_eps_karras_12", dpm_2_ancestral<double>()) < 1e-4);
  CHECK(comfy_diff("dpm_2_ancestral_eps_exponential_16", dpm_2_ancestral<double>()) < 1e-4);
  CHECK(comfy_diff("dpm_2_ancestral_eps_karras_8_snoise08", dpm_2_ancestral<double>(1, 0.8)) < 1e-4);
  CHECK(comfy_diff("dpm_2_ancestral_const_shift3_8", dpm_2_ancestral<double>()) < 1e-4);
}

TEST_CASE("heunpp2 and gradient_estimation reproduce ComfyUI", "[comfy][parity]") {
  CHECK(comfy_diff("heunpp2_eps_karras_12", heunpp2<double>{}) < 1e-4);
  CHECK(comfy_diff("gradient_estimation_eps_karras_12", gradient_estimation<double>{}) < 1e-4);
  CHECK(comfy_diff("gradient_estimation_const_shift3_12", gradient_estimation<double>{}) < 1e-4);
}

TEST_CASE("dpm_fast and dpm_adaptive reproduce ComfyUI, ending at sigma_min as it does", "[comfy][parity]") {
  const auto sigmas = cases().at("dpm_fast_eps_karras_12").at("sigmas").get<std::vector<double>>();
  CHECK(comfy_diff("dpm_fast_eps_karras_12", comfy_dpm_fast<double>(sigmas), comfy_dpm_fast_sigmas<double>) < 1e-4);
  CHECK(comfy_diff("dpm_adaptive_eps_karras_12", dpm_adaptive<double>{}, comfy_dpm_adaptive_sigmas<double>) < 1e-4);
}

TEST_CASE("seeds_2 and seeds_3 (with the first-sigma offset on CONST) reproduce ComfyUI", "[comfy][parity]") {
  CHECK(comfy_diff("seeds_2_eps_karras_8", with_first_sigma_offset(seeds_2<double>{})) < 1e-4);
  CHECK(comfy_diff("seeds_2_eps_karras_12_eta05", with_first_sigma_offset(seeds_2<double>({.eta = 0.5}))) < 1e-4);
  CHECK(comfy_diff("seeds_2_const_shift3_8", with_first_sigma_offset(seeds_2<double>{})) < 1e-4);
  CHECK(comfy_diff("seeds_3_eps_karras_8", with_first_sigma_offset(seeds_3<double>{})) < 1e-4);
  CHECK(comfy_diff("seeds_3_eps_exponential_12", with_first_sigma_offset(seeds_3<double>{})) < 1e-4);
  CHECK(comfy_diff("seeds_3_const_shift3_8", with_first_sigma_offset(seeds_3<double>{})) < 1e-4);
}

TEST_CASE("er_sde (with the first-sigma offset on CONST) reproduces ComfyUI", "[comfy][parity]") {
  for (bool f32 : {true, false}) {
    std::printf("[comfy] er_sde, float32 quadrature %s:\n", f32 ? "on" : "off");
    er_sde<double>::options o;
    o.float32_quadrature = f32;
    CHECK(comfy_diff("er_sde_eps_karras_12", with_first_sigma_offset(er_sde<double>(o))) < 1e-4);
    CHECK(comfy_diff("er_sde_const_shift3_12", with_first_sigma_offset(er_sde<double>(o))) < 1e-4);
    o.s_noise = 0.8;
    CHECK(comfy_diff("er_sde_eps_karras_16_snoise08", with_first_sigma_offset(er_sde<double>(o))) < 1e-4);
  }
}

TEST_CASE("ComfyUI's lcm (x = x0-hat, then noise_scaling to the next sigma) reproduces ComfyUI", "[comfy][parity]") {
  CHECK(comfy_diff("lcm_eps_karras_8", comfy_lcm<double>()) < 1e-4);
  CHECK(comfy_diff("lcm_const_shift3_8", comfy_lcm<double>()) < 1e-4);
}
