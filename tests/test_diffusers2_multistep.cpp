// diffusers' remaining multistep schedulers (issue 18 §1) as ferry policies: PNDMScheduler (PLMS and the
// pseudo-RK warm-up), IPNDMScheduler, DPMSolverSinglestepScheduler, SASolverScheduler and
// CosineDPMSolverMultistepScheduler. Each runs on the case's own recorded grid (tests/data/diffusers2,
// diffusers 58eb52c) with the injected draws and must land within 1e-4 of diffusers' samples. Runs go
// through the run-time boundary (runtime_support.hpp): the policies are the runtime library's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "multistep_support.hpp"
#include "runtime_support.hpp"
#include "test_support.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/compat/diffusers_timesteps.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/discrete_vp.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/solvers/ode/dpm_singlestep.hpp"
#include "ferry/solvers/ode/ipndm.hpp"
#include "ferry/solvers/ode/pndm.hpp"
#include "ferry/solvers/sde/dpmpp_multistep_sde.hpp"
#include "ferry/solvers/sde/sa_solver.hpp"

namespace test_diffusers2_multistep {

// The reference set: tests/data/diffusers2/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::diffusers2_refs;

using namespace ferry;

namespace {

using mixture = gaussian_mixture<double>;
const nlohmann::json& config(const std::string& name) { return refs.cases().at(name).at("scheduler_config"); }
std::vector<double> grid(const std::string& name, const char* key) { return refs.cases().at(name).at("grid").at(key).get<std::vector<double>>(); }

// step_noise.npy (S, N, D): the draw of step() call i is W[i].
struct step_noise_file {
  io::npy_array a = io::read_npy(refs.dir + "step_noise.npy");
  std::vector<double> w = a.as<double>();
  injected_noise<double> source() const { return {w.data(), a.shape[0], a.shape[1], a.shape[2], 0}; }
};
const step_noise_file& step_noise() {
  static const step_noise_file f;
  return f;
}

// The schedule through `levels`; a last step of length zero (diffusers' repeated last σ) becomes a
// landing on the same level, as schedule landings allow.
schedule<double> schedule_of(std::vector<level<double>> levels) {
  const std::size_t n = levels.size() - 1;
  if (levels[n].lambda > levels[n - 1].lambda) return make_schedule(std::move(levels));
  schedule<double> s;
  s.landings.assign(levels.begin() + 1, levels.end());
  s.points = levels;
  s.points.back() = level<double>::make(1, 0);  // never a landing; keeps the points strictly ordered
  s.validate();
  return s;
}

// Runs `solver` from x = init·z over `sched` with the mixture predicting `kind`; Model wraps the mixture.
template <class Process, class Solver, class Model = mixture>
batch<double> run(const Process& process, const schedule<double>& sched, Solver solver, double init, prediction kind,
                  bool exact_level = false) {
  mixture gmm = mixture::load(refs.dir + "gmm.json");
  gmm.predicts = kind;
  batch<double> x = refs.load("noise");
  simd::lincomb<double, 1>(x.view().span(), {init}, {x.data()});
  if (exact_level) {  // diffusers' float32 α_t, σ_t for the solver, the exact level for the model
    compat::exact_level_model<mixture> model{gmm};
    ferry_test::run_erased(solver, process, model, sched, x.view(), ferry_test::injected(step_noise().source()));
  } else {
    ferry_test::run_erased(solver, process, gmm, sched, x.view(), ferry_test::injected(step_noise().source()));
  }
  return x;
}

double report(const std::string& name, const batch<double>& x) {
  const double d = ferry_test::max_abs_diff(x, refs.load(name));
  std::printf("[diffusers2-multistep] %-32s max |ferry - diffusers| = %.3g\n", name.c_str(), d);
  return d;
}

// VP (or flow-sigma) levels of a DPM-type grid: σ̃ = grid.sigmas with diffusers' float32 α, σ, and
// t = grid.timesteps (0 at the appended end).
std::vector<level<double>> vp_levels(const std::string& name) {
  const auto sig = grid(name, "sigmas"), ts = grid(name, "timesteps");
  const bool flow_sigmas = config(name).value("use_flow_sigmas", false);
  std::vector<level<double>> lv;
  for (std::size_t i = 0; i < sig.size(); ++i) {
    const double t = i < ts.size() ? ts[i] : 0;
    if (flow_sigmas) {
      const float s = float(sig[i]);
      lv.push_back(level<double>::make(ferry::detail::f32_sub(1.0f, s), s, t));
    } else {
      lv.push_back(compat::detail::vp_level_f32(sig[i], t));
    }
  }
  return lv;
}

beta_schedule beta_schedule_of(const nlohmann::json& cfg) {
  const std::string b = cfg.value("beta_schedule", std::string("linear"));
  return b == "scaled_linear" ? beta_schedule::scaled_linear : b == "squaredcos_cap_v2" ? beta_schedule::squaredcos_cap_v2 : beta_schedule::linear;
}

// PNDM's schedule on its own ᾱ table: the distinct grid timesteps, each step landing at t − ⌊N/n⌋
// (final_alpha_cumprod below 0), the RK steps and the first improved-Euler step at the next point.
schedule<double> pndm_schedule(const std::string& name, const discrete_vp<double>& process) {
  const nlohmann::json& cfg = config(name);
  const bool skip = cfg.value("skip_prk_steps", false);
  const auto g = grid(name, "timesteps");
  std::vector<double> t;
  if (skip) {
    for (double v : g)
      if (t.empty() || v != t.back()) t.push_back(v);
  } else {
    for (std::size_t i : {0u, 4u, 8u}) t.push_back(g[i]);
    t.insert(t.end(), g.begin() + 12, g.end());
  }
  const std::size_t n = t.size(), delta = cfg.value("num_train_timesteps", 1000) / n;
  const level<double> final_level = cfg.value("set_alpha_to_one", false) ? level<double>::make(1, 0) : level_at(process, 0.0);
  schedule<double> s;
  for (double v : t) s.points.push_back(level_at(process, v));
  s.points.push_back(level<double>::make(1, 0));
  for (std::size_t i = 0; i < n; ++i) {
    const bool to_next = i + 1 < n && (skip ? i == 0 : i < 3);
    s.landings.push_back(to_next ? s.points[i + 1] : t[i] >= double(delta) ? level_at(process, t[i] - double(delta)) : final_level);
  }
  s.validate();
  return s;
}

}  // namespace

TEST_CASE("diffusers' IPNDMScheduler is iPNDM with its last combination", "[diffusers2][multistep][parity]") {
  for (const char* name : {"ipndm_12", "ipndm_20"}) {
    const std::size_t n = refs.cases().at(name).at("steps").get<std::size_t>();
    // set_timesteps in torch's float32: r = linspace(1, 0, n + 1)[:-1] then 0, β = sin(πr/2)², α = √(1 − β²);
    // the state is α·x0 + β·ε (float64 levels instead: 2.9e-5 from the peer)
    std::vector<level<double>> lv;
    const double pi = 3.141592653589793;
    for (std::size_t i = 0; i <= n; ++i) {
      const float r = i == n ? 0.0f : ferry::detail::torch_linspace_f32(1.0, 0.0, n + 1)[i];
      const float angle = float(r * float(pi)) / 2.0f, sn = float(std::sin(double(angle))), b = sn * sn;
      lv.push_back(level<double>::make(double(std::sqrt(1.0f - b * b)), double(b)));
    }
    INFO(name);
    CHECK(report(name, run(edm<double>{}, schedule_of(lv), diffusers_ipndm<double>(), 1.0, prediction::epsilon)) < 1e-4);
  }
}

TEST_CASE("diffusers' PNDMScheduler: PLMS and the pseudo Runge-Kutta warm-up", "[diffusers2][multistep][parity]") {
  for (const char* name : {"pndm_sd15_plms_20", "pndm_prk_sd_12", "pndm_prk_ddpm_8", "pndm_plms_vpred_trailing_12"}) {
    const nlohmann::json& cfg = config(name);
    const auto process = discrete_vp<double>::diffusers(beta_schedule_of(cfg), cfg.value("num_train_timesteps", 1000),
                                                        cfg.value("beta_start", 0.0001), cfg.value("beta_end", 0.02));
    const pndm<double> solver({.skip_prk_steps = cfg.value("skip_prk_steps", false),
                               .combine = parse_prediction(cfg.value("prediction_type", std::string("epsilon"))),
                               .num_train_timesteps = cfg.value("num_train_timesteps", std::size_t(1000))});
    INFO(name);
    CHECK(report(name, run(process, pndm_schedule(name, process), solver, 1.0, prediction::data)) < 1e-4);
  }
}

TEST_CASE("diffusers' DPMSolverSinglestepScheduler: orders 1-3, dpmsolver++ / dpmsolver / SDE, midpoint / heun", "[diffusers2][multistep][parity]") {
  for (const char* name : {"dpmss_o1_12", "dpmss_o2_12", "dpmss_o3_12", "dpmss_o3_20", "dpmss_o2_heun_8", "dpmss_dpmsolver_o2_sigmamin_12",
                           "dpmss_dpmsolver_o3_sigmamin_8", "dpmss_o3_karras_20", "dpmss_o3_nolof_sigmamin_12", "dpmss_sde_o2_12",
                           "dpmss_flow_shift3_12"}) {
    const nlohmann::json& cfg = config(name);
    const std::string algo = cfg.value("algorithm_type", std::string("dpmsolver++"));
    dpm_singlestep_options o;
    o.solver_order = cfg.value("solver_order", 2);
    o.algorithm_type = algo == "dpmsolver" ? dpm_algorithm::dpmsolver : dpm_algorithm::dpmsolver_pp;
    o.sde = algo == "sde-dpmsolver++";
    o.solver_type = parse_dpm_solver_type(cfg.value("solver_type", std::string("midpoint")));
    // set_timesteps turns lower_order_final on for final_sigmas_type "zero" (and for uneven step counts)
    o.lower_order_final = cfg.value("lower_order_final", false) || cfg.value("final_sigmas_type", std::string("zero")) == "zero";
    o.diffusers_d2 = true;
    const bool flow_sigmas = cfg.value("use_flow_sigmas", false);
    INFO(name);
    CHECK(report(name, run(edm<double>{}, schedule_of(vp_levels(name)), dpm_singlestep<double>(o), 1.0,
                           algo == "dpmsolver" ? prediction::epsilon : prediction::data, !flow_sigmas)) < 1e-4);
  }
}

TEST_CASE("diffusers' SASolverScheduler is the SA-Solver policy with diffusers' options", "[diffusers2][multistep][parity]") {
  for (const char* name : {"sasolver_sd_20", "sasolver_p3c4_12", "sasolver_noisepred_12", "sasolver_karras_vpred_8", "sasolver_flow_shift3_12"}) {
    const nlohmann::json& cfg = config(name);
    const bool data = cfg.value("algorithm_type", std::string("data_prediction")) == "data_prediction";
    const auto solver = diffusers_sa_solver<double>(cfg.value("predictor_order", 2), cfg.value("corrector_order", 2), data,
                                                    cfg.value("lower_order_final", true));
    INFO(name);
    CHECK(report(name, run(edm<double>{}, schedule_of(vp_levels(name)), solver, 1.0, data ? prediction::data : prediction::epsilon,
                           !cfg.value("use_flow_sigmas", false))) < 1e-4);
  }
}

TEST_CASE("diffusers' CosineDPMSolverMultistepScheduler is SDE-DPM-Solver++(2M) on its EDM grid, injected draws step by step", "[diffusers2][multistep][parity]") {
  for (const char* name : {"cosine_dpm_stableaudio_20", "cosine_dpm_karras_heun_8"}) {
    const nlohmann::json& cfg = config(name);
    const auto o = dpmpp_sde_multistep_options::cosine(parse_dpm_solver_type(cfg.value("solver_type", std::string("midpoint"))),
                                                       cfg.value("lower_order_final", true), cfg.value("euler_at_final", false));
    std::vector<level<double>> lv;
    for (double s : grid(name, "sigmas")) lv.push_back(level<double>::make(1, s));
    const double sigma_max = cfg.value("sigma_max", 500.0);
    INFO(name);
    CHECK(report(name, run(edm<double>{}, schedule_of(lv), dpmpp_multistep_sde<2, double>(o), std::sqrt(sigma_max * sigma_max + 1),
                           prediction::data)) < 1e-4);
  }
}

TEST_CASE("diffusers multistep policies: steps do not allocate", "[diffusers2][multistep][alloc]") {
  using ferry_test::step_allocations;
  CHECK(step_allocations(diffusers_ipndm<double>()) == 0);
  CHECK(step_allocations(pndm<double>({.skip_prk_steps = true})) == 0);
  CHECK(step_allocations(pndm<double>({.skip_prk_steps = false})) == 0);
  CHECK(step_allocations(pndm<double>({.skip_prk_steps = true, .combine = prediction::v})) == 0);
  CHECK(step_allocations(dpm_singlestep<double>({.solver_order = 3})) == 0);
  CHECK(step_allocations(dpm_singlestep<double>({.solver_order = 3, .solver_type = dpm_solver_type::heun, .sde = true})) == 0);
  CHECK(step_allocations(diffusers_sa_solver<double>()) == 0);
  CHECK(step_allocations(diffusers_sa_solver<double>(3, 4, false)) == 0);
  CHECK(step_allocations(dpmpp_multistep_sde<2, double>(dpmpp_sde_multistep_options::cosine())) == 0);
}

TEST_CASE("diffusers' stochastic multistep policies give the same bytes on any thread count", "[diffusers2][multistep][random]") {
  const std::string gmm = refs.dir + "gmm.json";
  ferry_test::check_thread_invariance(gmm, "dpm-singlestep sde", dpm_singlestep<double>({.solver_order = 3, .sde = true}));
  ferry_test::check_thread_invariance(gmm, "sa-solver (diffusers)", diffusers_sa_solver<double>());
  ferry_test::check_thread_invariance(gmm, "cosine dpm (Brownian tree)", dpmpp_multistep_sde<2, double>(dpmpp_sde_multistep_options::cosine()));
  // With keyed noise the cosine preset draws from the Brownian tree, not the per-step normals.
  auto per_step = dpmpp_sde_multistep_options::cosine();
  per_step.brownian_tree = false;
  CHECK(!ferry_test::same_bytes(ferry_test::keyed_run(gmm, dpmpp_multistep_sde<2, double>(per_step), 20, 10, 11),
                                ferry_test::keyed_run(gmm, dpmpp_multistep_sde<2, double>(dpmpp_sde_multistep_options::cosine()), 20, 10, 11)));
}

TEST_CASE("diffusers multistep policies: convergence orders on the PF-ODE", "[diffusers2][multistep][convergence]") {
  // Slopes as in test_comfy_multistep (EDM, σ 80 → 0.05 uniform in λ, 16384-step UniPC-3 endpoint). The
  // methods' own orders are measured without lower_order_final, which leaves a last step of first order
  // (a global O(h²)); step counts are multiples of 3 for the singlestep groups.
  const ferry_test::convergence c(refs.dir + "gmm.json");
  const std::vector<int> ns{48, 96, 192, 384, 768};
  std::printf("convergence (EDM, sigma 80 -> 0.05 uniform in lambda, error at 0.05 against a 16384-step UniPC-3 endpoint):\n");
  // fixed Adams–Bashforth weights on the geometric σ steps of this grid: second order
  CHECK(c.order("ipndm (diffusers)", diffusers_ipndm<double>(), ns) == Approx(2).margin(0.2));
  CHECK(c.order("pndm plms", pndm<double>({.skip_prk_steps = true}), ns) == Approx(2).margin(0.2));
  CHECK(c.order("pndm prk", pndm<double>({.skip_prk_steps = false}), ns) == Approx(2).margin(0.2));
  auto singlestep = [](int order, dpm_solver_type type = dpm_solver_type::midpoint, dpm_algorithm algo = dpm_algorithm::dpmsolver_pp) {
    return dpm_singlestep<double>({.solver_order = order, .algorithm_type = algo, .solver_type = type, .lower_order_final = false});
  };
  CHECK(c.order("dpm_singlestep 1", singlestep(1), ns) == Approx(1).margin(0.2));
  CHECK(c.order("dpm_singlestep 2", singlestep(2), ns) == Approx(2).margin(0.2));
  CHECK(c.order("dpm_singlestep 2 heun", singlestep(2, dpm_solver_type::heun), ns) == Approx(2).margin(0.2));
  CHECK(c.order("dpm_singlestep 3", singlestep(3), ns) == Approx(3).margin(0.3));
  CHECK(c.order("dpm_singlestep 3 heun", singlestep(3, dpm_solver_type::heun), ns) == Approx(3).margin(0.3));
  CHECK(c.order("dpm_singlestep 3 noise", singlestep(3, dpm_solver_type::midpoint, dpm_algorithm::dpmsolver), ns) == Approx(3).margin(0.3));
  // SA-Solver's corrector of order c interpolates through c outputs (the new one among them): order
  // min(p + 1, c) with τ = 0; diffusers' default 2/2 is second order, 3/4 fourth
  auto sa = [](int p, int c, bool data, bool lower_order_final) {
    auto s = diffusers_sa_solver<double>(p, c, data, lower_order_final);
    s.opt.eta = 0;
    return s;
  };
  CHECK(c.order("sa_solver 2/2 data, tau 0", sa(2, 2, true, false), ns) == Approx(2).margin(0.2));
  CHECK(c.order("sa_solver 2/2 noise, tau 0", sa(2, 2, false, false), ns) == Approx(2).margin(0.2));
  CHECK(c.order("sa_solver 3/4 noise, tau 0", sa(3, 4, false, false), {24, 48, 96, 192}) == Approx(4).margin(0.4));
  CHECK(c.order("sa_solver 2/2 data, tau 0, lof", sa(2, 2, true, true), ns) == Approx(2).margin(0.2));
}

TEST_CASE("PNDM's Runge-Kutta warm-up needs 4 steps with diffusers' timesteps, as diffusers", "[diffusers2][multistep]") {
  const auto process = discrete_vp<double>::diffusers(beta_schedule::linear, 1000, 0.0001, 0.02);
  std::vector<level<double>> lv;
  for (double t : {900.0, 600.0, 300.0, 0.0}) lv.push_back(level_at(process, t));
  CHECK_CONFIG_ERROR(run(process, make_schedule(lv), pndm<double>({.num_train_timesteps = 1000}), 1.0, prediction::data), "at least 4 steps");
  CHECK_NOTHROW(run(process, make_schedule(lv), pndm<double>({.skip_prk_steps = true, .num_train_timesteps = 1000}), 1.0, prediction::data));
  CHECK_NOTHROW(run(process, make_schedule(lv), pndm<double>{}, 1.0, prediction::data));
  CHECK_CONFIG_ERROR(pndm<double>({.combine = prediction::data}), "combine");
  CHECK_CONFIG_ERROR(dpm_singlestep<double>({.solver_order = 4}), "solver_order");
  CHECK_CONFIG_ERROR(dpm_singlestep<double>({.algorithm_type = dpm_algorithm::dpmsolver, .sde = true}), "sde-dpmsolver++");
}

}  // namespace test_diffusers2_multistep
