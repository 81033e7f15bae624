// ComfyUI's multistep samplers (issue 19): ipndm, ipndm_v, deis (tabulated tAB-DEIS), res_multistep(_ancestral),
// sa_solver(_pece), uni_pc(_bh2). Parity with ComfyUI a125cd8 on tests/data/comfy (given σ lists,
// injected draws, eps and const model samplings), convergence orders against the exact PF-ODE
// endpoint, allocation-free steps and the same bytes for any thread count. Runs go through the
// run-time boundary (runtime_support.hpp), where the flow view is read from the levels.
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
#include "multistep_support.hpp"
#include "runtime_support.hpp"
#include "test_support.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/grid/sigma_list.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/discrete_vp.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/solvers/ode/deis.hpp"
#include "ferry/solvers/ode/ipndm.hpp"
#include "ferry/solvers/ode/unipc.hpp"
#include "ferry/solvers/offset_first_sigma.hpp"
#include "ferry/solvers/sde/res_multistep.hpp"
#include "ferry/solvers/sde/sa_solver.hpp"

namespace test_comfy_multistep {

// The reference set: tests/data/comfy/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::comfy_refs;

using namespace ferry;

namespace {

using mixture = gaussian_mixture<double>;
// step_noise.npy (S, K, N, D): draw k of step i is W[i, k].
struct step_noise_file {
  io::npy_array a = io::read_npy(refs.dir + "step_noise.npy");
  std::vector<double> w = a.as<double>();
  injected_noise<double> source() const { return {w.data(), a.shape[0], a.shape[2], a.shape[3], 0, a.shape[1]}; }
};
const step_noise_file& step_noise() {
  static const step_noise_file f;
  return f;
}

// A ComfyUI case: the σ list as the schedule (edm for eps, flow shift 3 for const), x = σ_0·z, the
// mixture's posterior mean as the model, the case's draws injected.
template <class Process, class Solver>
batch<double> run_case(const nlohmann::json& c, const Process& process, Solver solver) {
  const auto sigmas = c.at("sigmas").get<std::vector<double>>();
  const schedule<double> sched = make_schedule(levels_at_sigmas(process, std::span<const double>(sigmas)));
  mixture model = mixture::load(refs.dir + "gmm.json");
  model.predicts = prediction::data;
  batch<double> x = refs.load("noise");
  simd::lincomb<double, 1>(x.view().span(), {sigmas.front()}, {x.data()});
  ferry_test::run_erased(solver, process, model, sched, x.view(), ferry_test::injected(step_noise().source()));
  return x;
}

template <class Solver>
double comfy_diff(const std::string& name, Solver solver) {
  const nlohmann::json& c = refs.cases().at(name);
  const batch<double> x = c.at("model_sampling") == "const" ? run_case(c, flow<double>(3.0), solver) : run_case(c, edm<double>{}, solver);
  const double d = ferry_test::max_abs_diff(x, refs.load(name));
  std::printf("[comfy-multistep] %-42s max |ferry - ComfyUI| = %.3g\n", name.c_str(), d);
  return d;
}

}  // namespace

TEST_CASE("ComfyUI's ipndm and ipndm_v are reproduced", "[comfy][multistep][parity]") {
  CHECK(comfy_diff("ipndm_eps_karras_16", ipndm<double>{}) < 1e-4);
  CHECK(comfy_diff("ipndm_v_eps_karras_16", ipndm_v<double>()) < 1e-4);
  CHECK(comfy_diff("ipndm_v_eps_exponential_12", ipndm_v<double>()) < 1e-4);
}

TEST_CASE("ComfyUI's deis (tabulated tAB-DEIS) is reproduced", "[comfy][multistep][parity]") {
  CHECK(comfy_diff("deis_eps_karras_12", tab_deis<double>()) < 1e-4);
}

TEST_CASE("ComfyUI's res_multistep and res_multistep_ancestral are reproduced", "[comfy][multistep][parity]") {
  for (const char* name : {"res_multistep_eps_karras_12", "res_multistep_eps_exponential_8", "res_multistep_const_shift3_16"})
    CHECK(comfy_diff(name, res_multistep<double>{}) < 1e-4);
  for (const char* name : {"res_multistep_ancestral_eps_karras_12", "res_multistep_ancestral_eps_karras_8_eta05",
                           "res_multistep_ancestral_const_shift3_12"}) {
    const double eta = refs.cases().at(name).at("options").value("eta", 1.0);
    CHECK(comfy_diff(name, res_multistep_ancestral<double>(eta)) < 1e-4);
  }
}

TEST_CASE("ComfyUI's uni_pc and uni_pc_bh2 are UniPC-3 configurations", "[comfy][multistep][parity]") {
  CHECK(comfy_diff("uni_pc_eps_karras_12", comfy_unipc<double>(unipc_bh::bh1)) < 1e-4);
  CHECK(comfy_diff("uni_pc_bh2_eps_karras_12", comfy_unipc<double>(unipc_bh::bh2)) < 1e-4);
}

namespace {
// ComfyUI's sa_solver calls offset_first_sigma_for_snr: the one wrapper (a no-op on the eps cases).
offset_first_sigma<sa_solver<double>> comfy_sa(const nlohmann::json& c, bool pece) {
  const auto& o = c.at("options");
  return with_first_sigma_offset(sa_solver<double>({.use_pece = pece, .eta = o.at("eta").get<double>(),
                                                    .sde_start_sigma = o.at("sde_start_sigma").get<double>(),
                                                    .sde_end_sigma = o.at("sde_end_sigma").get<double>()}));
}
}  // namespace

TEST_CASE("ComfyUI's sa_solver and sa_solver_pece are reproduced", "[comfy][multistep][parity]") {
  for (const char* name : {"sa_solver_eps_karras_16", "sa_solver_const_shift3_12"})
    CHECK(comfy_diff(name, comfy_sa(refs.cases().at(name), false)) < 1e-4);
  for (const char* name : {"sa_solver_pece_eps_karras_12", "sa_solver_pece_const_shift3_8"})
    CHECK(comfy_diff(name, comfy_sa(refs.cases().at(name), true)) < 1e-4);
}

TEST_CASE("ComfyUI multistep steps do not allocate", "[comfy][multistep][alloc]") {
  using ferry_test::step_allocations;
  CHECK(step_allocations(ipndm<double>{}) == 0);
  CHECK(step_allocations(ipndm_v<double>()) == 0);
  CHECK(step_allocations(tab_deis<double>()) == 0);
  CHECK(step_allocations(res_multistep<double>{}) == 0);
  CHECK(step_allocations(res_multistep_ancestral<double>()) == 0);
  CHECK(step_allocations(comfy_unipc<double>()) == 0);
  CHECK(step_allocations(sa_solver<double>({.eta = 1, .sde_start_sigma = 10, .sde_end_sigma = 0.5})) == 0);
  CHECK(step_allocations(sa_solver<double>({.use_pece = true, .eta = 1, .sde_start_sigma = 10, .sde_end_sigma = 0.5})) == 0);
}

TEST_CASE("ComfyUI's stochastic multistep samplers give the same bytes on any thread count", "[comfy][multistep][random]") {
  const std::string gmm = refs.dir + "gmm.json";
  ferry_test::check_thread_invariance(gmm, "res-multistep-ancestral", res_multistep_ancestral<double>());
  ferry_test::check_thread_invariance(gmm, "sa-solver", sa_solver<double>({.eta = 1, .sde_start_sigma = 10, .sde_end_sigma = 0.5}));
  ferry_test::check_thread_invariance(gmm, "sa-solver-pece",
                                      sa_solver<double>({.use_pece = true, .eta = 1, .sde_start_sigma = 10, .sde_end_sigma = 0.5}));
}

TEST_CASE("ComfyUI multistep samplers: convergence orders on the PF-ODE", "[comfy][multistep][convergence]") {
  // Slopes of the error at σ = 0.05 (EDM, σ 80 → 0.05 uniform in λ) against a 16384-step UniPC-3 endpoint
  // (itself within 4e-14); the mean of the last two of 64 … 1024 steps. docs/samplers.md lists them.
  const ferry_test::convergence c(refs.dir + "gmm.json");
  const std::vector<int> ns{64, 128, 256, 512, 1024};
  std::printf("convergence (EDM, sigma 80 -> 0.05 uniform in lambda, error at 0.05 against a 16384-step UniPC-3 endpoint):\n");
  // iPNDM's equal-step AB4 weights on the geometric σ steps of this grid: second order
  CHECK(c.order("ipndm", ipndm<double>{}, ns) == Approx(2).margin(0.2));
  // iPNDM-v: third order (its order-3/4 weights are not the variable-step AB ones; the exact ones give 4)
  CHECK(c.order("ipndm_v", ipndm_v<double>(), ns) == Approx(3).margin(0.3));
  CHECK(c.order("ipndm lagrange", ipndm<double>({.max_order = 4, .steps = ipndm_steps::lagrange}), ns) == Approx(4).margin(0.3));
  CHECK(c.order("deis tab", tab_deis<double>(), ns) == Approx(3).margin(0.2));
  CHECK(c.order("res_multistep", res_multistep<double>{}, ns) == Approx(2).margin(0.2));
  // ComfyUI's lower_order_final leaves the last step UniP-1 without a corrector: second order overall
  CHECK(c.order("uni_pc", comfy_unipc<double>(unipc_bh::bh1), ns) == Approx(2).margin(0.2));
  CHECK(c.order("uni_pc_bh2", comfy_unipc<double>(unipc_bh::bh2), ns) == Approx(2).margin(0.2));
  auto full = comfy_unipc<double>();
  full.opt.lower_order_final = false;
  CHECK(c.order("uni_pc, no lower order", full, {128, 256, 512, 1024}) == Approx(4).margin(0.3));
  CHECK(c.order("sa_solver eta 0", sa_solver<double>({.eta = 0}), {128, 256, 512, 1024}) == Approx(4).margin(0.3));
  CHECK(c.order("sa_solver_pece eta 0", sa_solver<double>({.use_pece = true, .eta = 0}), {128, 256, 512, 1024}) == Approx(4).margin(0.3));
}

TEST_CASE("on a flow process ComfyUI's samplers step the flow state in the flow sigma", "[comfy][multistep]") {
  // One first-order step σ → σ' on a flow (ComfyUI's CONST model sampling): x' = x + (σ' − σ)·(x − D)/σ.
  const flow<double> process(3.0);
  const std::vector<double> sigmas{0.9, 0.6};
  const auto levels = levels_at_sigmas(process, std::span<const double>(sigmas));
  mixture model = mixture::load(refs.dir + "gmm.json");
  batch<double> x = refs.load("noise"), d(x.rows(), x.cols());
  model(x.view(), levels[0], d.view());
  batch<double> expect = x;
  for (std::size_t i = 0; i < x.size(); ++i) expect.data()[i] = x.data()[i] + (0.6 - 0.9) * (x.data()[i] - d.data()[i]) / 0.9;
  auto one_step = [&](auto solver) {
    batch<double> y = x;
    ferry_test::run_erased(solver, process, model, make_schedule(levels), y.view());
    return ferry_test::max_abs_diff(y, expect);
  };
  CHECK(one_step(ipndm<double>{}) < 1e-14);
  CHECK(one_step(ipndm_v<double>()) < 1e-14);
  CHECK(one_step(tab_deis<double>()) < 1e-14);
  CHECK(one_step(res_multistep<double>{}) < 1e-14);
  // UniP-1 in the flow σ as an EDM σ: e^{−h} = σ'/σ with h = log(σ/σ'), the same Euler step
  CHECK(one_step(comfy_unipc<double>()) < 1e-14);
}

TEST_CASE("multistep options are validated", "[comfy][multistep]") {
  CHECK_CONFIG_ERROR(ipndm<double>({.max_order = 5}), "max_order");
  CHECK_CONFIG_ERROR(deis<3>({.mode = deis_mode::tab, .tab_points = 1}), "tab_points");
  CHECK_CONFIG_ERROR(res_multistep<double>({.eta = -1}), "eta");
  CHECK_CONFIG_ERROR(sa_solver<double>({.predictor_order = 0}), "predictor_order");
  CHECK_CONFIG_ERROR(sa_solver<double>({.eta = 1}), "sde_start_sigma");
  CHECK_CONFIG_ERROR(sa_solver<double>({.s_noise = NAN, .sde_start_sigma = 1, .sde_end_sigma = 0}), "s_noise");
}

TEST_CASE("ComfyUI's default SA-Solver interval from the model sampling", "[comfy][multistep]") {
  // CONST with shift 3: percent_to_sigma(0.2) = 3·0.8/(1 + 2·0.8), (0.8) = 3·0.2/(1 + 2·0.2), as the cases record
  const auto [start, end] = comfy_sa_solver_interval(flow<double>(3.0));
  const auto& o = refs.cases().at("sa_solver_const_shift3_12").at("options");
  CHECK(start == Approx(o.at("sde_start_sigma").get<double>()).epsilon(1e-14));
  CHECK(end == Approx(o.at("sde_end_sigma").get<double>()).epsilon(1e-14));
  CHECK_CONFIG_ERROR(comfy_sa_solver_interval(edm<double>{}), "sde_start_sigma");
  // SD1's table as ComfyUI keeps it (discrete_vp::comfy: float64 ᾱ, σ in float32, log σ interpolated in
  // float32 at timestep 0.8·999 and 0.2·999): the eps cases' values, bit for bit
  const auto sd1 = comfy_sa_solver_interval(discrete_vp<double>::comfy(beta_schedule::scaled_linear, 1000, 0.00085, 0.012));
  const auto& e = refs.cases().at("sa_solver_eps_karras_16").at("options");
  CHECK(sd1.first == e.at("sde_start_sigma").get<double>());
  CHECK(sd1.second == e.at("sde_end_sigma").get<double>());
  // diffusers' float32 table differs from ComfyUI's by ~1e-5 relative
  const auto f32 = comfy_sa_solver_interval(discrete_vp<double>::diffusers(beta_schedule::scaled_linear, 1000, 0.00085, 0.012));
  CHECK(f32.first == Approx(e.at("sde_start_sigma").get<double>()).epsilon(1e-4));
  CHECK(f32.second == Approx(e.at("sde_end_sigma").get<double>()).epsilon(1e-4));
}

TEST_CASE("the flow view is read from the levels; flow_view = false and the plain SA-Solver refuse a flow's pure noise", "[comfy][multistep]") {
  // The const cases above run behind the run-time boundary (any_process hides the flow type) with the
  // policies' defaults: the view is the levels' (α + σ = 1). Switched off, the EDM view x/α cannot start
  // at the flow's α = 0; SA-Solver needs λ > −∞ there, which ComfyUI's first-σ offset (the wrapper) gives.
  auto erased = [](const std::string& name, auto solver) {
    const nlohmann::json& c = refs.cases().at(name);
    const auto sigmas = c.at("sigmas").get<std::vector<double>>();
    const flow<double> process(3.0);
    mixture gmm = mixture::load(refs.dir + "gmm.json");
    batch<double> x = refs.load("noise");
    simd::lincomb<double, 1>(x.view().span(), {sigmas.front()}, {x.data()});
    ferry_test::run_erased(solver, process, gmm, make_schedule(levels_at_sigmas(process, std::span<const double>(sigmas))), x.view(),
                           ferry_test::injected(step_noise().source()));
    return ferry_test::max_abs_diff(x, refs.load(name));
  };
  CHECK_THROWS_AS(erased("res_multistep_const_shift3_16", res_multistep<double>({.flow_view = false})), numeric_error);
  const auto& o = refs.cases().at("sa_solver_const_shift3_12").at("options");
  const sa_solver<double> plain({.eta = 1, .sde_start_sigma = o.at("sde_start_sigma").get<double>(), .sde_end_sigma = o.at("sde_end_sigma").get<double>()});
  CHECK_CONFIG_ERROR(erased("sa_solver_const_shift3_12", plain), "alpha");
  CHECK(erased("sa_solver_const_shift3_12", with_first_sigma_offset(plain)) < 1e-4);
}

}  // namespace test_comfy_multistep
