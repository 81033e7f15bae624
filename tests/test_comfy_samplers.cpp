// ComfyUI's samplers (issue 19) against its own outputs (tests/data/comfy, ComfyUI a125cd8): every
// case runs on the exact mixture, with ComfyUI's σ list turned into levels by levels_at_sigmas (EDM
// for its EPS cases, the flow with shift 3 for CONST) and its injected draws (step_noise.npy,
// (S, K, N, D): draw k of step i is stream k of step i). Also: convergence orders on the PF-ODE,
// bitwise independence of the row chunking, and allocation-free steps. Runs go through the run-time
// boundary (runtime_support.hpp) with the registry's policy types, compiled once in the runtime
// library; the policies read ComfyUI's CONST view from the levels there.
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
#include "runtime_support.hpp"
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
#include "ferry/solvers/ode/rk4.hpp"
#include "ferry/solvers/offset_first_sigma.hpp"
#include "ferry/solvers/sde/consistency.hpp"
#include "ferry/solvers/sde/dpm_2.hpp"
#include "ferry/solvers/sde/dpmpp_2s_ancestral.hpp"
#include "ferry/solvers/sde/dpmpp_multistep_sde.hpp"
#include "ferry/solvers/sde/edm_churn.hpp"
#include "ferry/solvers/sde/er_sde.hpp"
#include "ferry/solvers/sde/res_multistep.hpp"
#include "ferry/solvers/sde/sa_solver.hpp"
#include "ferry/solvers/sde/euler_ancestral.hpp"
#include "ferry/solvers/sde/seeds.hpp"

namespace test_comfy_samplers {

// The reference set: tests/data/comfy/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::comfy_refs;

using namespace ferry;

namespace {

using mixture = gaussian_mixture<double>;
using ferry_test::max_abs_diff;

// step_noise.npy, (S, K, N, D), loaded once.
struct step_noise_file {
  std::vector<double> w;
  std::size_t steps = 0, draws = 0, rows = 0, cols = 0;
  injected_noise<double> source() const { return {w.data(), steps, rows, cols, 0, draws}; }
};
const step_noise_file& step_noise() {
  static const step_noise_file f = [] {
    const io::npy_array a = io::read_npy(refs.dir + "step_noise.npy");
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
  mixture model = mixture::load(refs.dir + "gmm.json");
  batch<double> x = refs.load("noise");
  simd::lincomb<double, 1>(x.view().span(), {sigmas.front()}, {x.data()});
  const sample_stats st = ferry_test::run_erased(solver, process, model, sched, x.view(), ferry_test::injected(step_noise().source()));
  INFO("model calls " << st.nfe << ", ComfyUI's " << c.at("nfe").get<std::size_t>());
  CHECK(st.nfe == c.at("nfe").get<std::size_t>());
  return x;
}

/// Runs case `name` on its model sampling (eps → EDM, const → flow with shift 3) and returns
/// max |ferry − ComfyUI|.
template <class Solver>
double comfy_diff(const std::string& name, Solver solver, sigma_rule rule = as_given) {
  const nlohmann::json& c = refs.cases().at(name);
  const bool flow_case = c.at("model_sampling") == "const";
  const batch<double> x = flow_case ? run_case(c, flow<double>(3.0), solver, rule) : run_case(c, edm<double>(), solver, rule);
  const double d = max_abs_diff(x, refs.load(name));
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
  const auto sigmas = refs.cases().at("dpm_fast_eps_karras_12").at("sigmas").get<std::vector<double>>();
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

namespace {

// ODE convergence: EDM (or the flow, shift 3) on the case mixture from σ_hi down to σ_lo, uniform in
// log σ (no σ = 0 end, so the error is smooth in h), against RK4 with 4096 steps in the sampler's own
// time (σ on EDM; the flow σ on the flow, where dx/dσ = (x − x̂0)/σ too).
template <class Process>
std::vector<level<double>> log_uniform_levels(const Process& process, std::size_t n, double hi, double lo) {
  std::vector<double> s(n + 1);
  for (std::size_t i = 0; i <= n; ++i) s[i] = std::exp(std::log(hi) + (std::log(lo) - std::log(hi)) * double(i) / double(n));
  return levels_at_sigmas(process, std::span<const double>(s));
}

template <class Process, class Solver>
batch<double> solve_ode(const Process& process, Solver solver, std::size_t n, double hi, double lo) {
  mixture model = mixture::load(refs.dir + "gmm.json");
  batch<double> x(32, 2);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = hi * std::sin(1.7 * double(i) + 0.3);
  ferry_test::run_erased(solver, process, model, make_schedule(log_uniform_levels(process, n, hi, lo)), x.view());
  return x;
}

// The mean of the last two slopes log2(e(n)/e(2n)) over n = 16 … 256, printed with the errors.
template <class Process, class Solver>
double ode_order(const char* name, const Process& process, Solver solver, double hi, double lo) {
  const batch<double> ref = solve_ode(process, rk4<double>({.time = ode_time::native}), 4096, hi, lo);
  std::vector<double> e;
  for (std::size_t n : {16u, 32u, 64u, 128u, 256u}) e.push_back(max_abs_diff(solve_ode(process, solver, n, hi, lo), ref));
  std::printf("[comfy] %-24s PF-ODE errors", name);
  for (double v : e) std::printf(" %.2e", v);
  std::printf("  slopes");
  for (std::size_t i = 0; i + 1 < e.size(); ++i) std::printf(" %.2f", std::log2(e[i] / e[i + 1]));
  std::printf("\n");
  return (std::log2(e[2] / e[3]) + std::log2(e[3] / e[4])) / 2;
}

}  // namespace

TEST_CASE("ComfyUI's ODE samplers converge at their orders on the PF-ODE", "[comfy][convergence]") {
  const edm<double> e;
  const flow<double> f(3.0);
  CHECK(ode_order("dpm_2", e, dpm_2<double>{}, 10, 0.1) == Approx(2).margin(0.3));
  CHECK(ode_order("dpm_2 (flow)", f, dpm_2<double>{}, 0.95, 0.05) == Approx(2).margin(0.3));
  CHECK(ode_order("dpm_fast (all third order)", e, dpm_fast<double>{}, 10, 0.1) == Approx(3).margin(0.3));
  // seeds as the registry builds them (the first-σ offset is a no-op off a flow)
  CHECK(ode_order("seeds_2 eta=0", e, with_first_sigma_offset(seeds_2<double>({.eta = 0})), 10, 0.1) == Approx(2).margin(0.3));
  CHECK(ode_order("seeds_3 eta=0", e, with_first_sigma_offset(seeds_3<double>({.eta = 0})), 10, 0.1) == Approx(3).margin(0.3));
  CHECK(ode_order("heunpp2", e, heunpp2<double>{}, 10, 0.1) == Approx(1).margin(0.3));
  CHECK(ode_order("gradient_estimation", e, gradient_estimation<double>{}, 10, 0.1) == Approx(1).margin(0.3));
  CHECK(ode_order("gradient_estimation (flow)", f, gradient_estimation<double>{}, 0.95, 0.05) == Approx(1).margin(0.3));
}

TEST_CASE("dpm_adaptive meets tighter tolerances with more evaluations", "[comfy][convergence]") {
  // One schedule step 10 → 0.1 (as ComfyUI runs it, σ_max → σ_min), error against RK4 with 4096 steps.
  const edm<double> e;
  const batch<double> ref = solve_ode(e, rk4<double>({.time = ode_time::native}), 4096, 10, 0.1);
  std::vector<double> err;
  for (double tol : {1e-2, 1e-3, 1e-4, 1e-5}) {
    dpm_adaptive<double>::options o;
    o.rtol = o.atol = tol;
    mixture model = mixture::load(refs.dir + "gmm.json");
    batch<double> x(32, 2);
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = 10 * std::sin(1.7 * double(i) + 0.3);
    dpm_adaptive<double> solver(o);
    const sample_stats st = ferry_test::run_erased(solver, e, model, make_schedule(log_uniform_levels(e, 1, 10, 0.1)), x.view());
    err.push_back(max_abs_diff(x, ref));
    std::printf("[comfy] dpm_adaptive rtol = atol = %.0e: error %.2e with %zu evaluations\n", tol, err.back(), st.nfe);
  }
  CHECK(err[2] < err[0] / 10);
  CHECK(err[3] < err[1] / 10);
}

namespace {

// Weak error of a stochastic sampler, computed exactly: on 1-D Gaussian data N(0, s²) the exact x̂0 is
// linear in x, so every sampler here maps (x_start, draws) linearly to its result. Row 0 starts at
// √(σ_0² + α_0²s²) (the exact marginal's spread) with all draws 0; row 1 + i·K + k starts at 0 with
// draw k of step i set to 1. The result's variance is the sum of the squared rows, and its error
// against the exact law of the same pipeline (the marginal at the last σ > 0, then x̂0) is the weak
// error in E[x²], free of sampling noise.
constexpr double data_std = 0.5;

template <class Process, class Solver>
double variance_error(const Process& process, Solver solver, const std::vector<level<double>>& levels) {
  const std::size_t steps = levels.size() - 1, draws = 3, rows = 1 + steps * draws;
  Eigen::VectorXd mean(1), sd(1);
  mean << 0.0;
  sd << data_std;
  auto model = mixture::diagonal({1.0}, {mean}, {sd});
  std::vector<double> w(steps * draws * rows, 0.0);
  for (std::size_t i = 0; i < steps; ++i)
    for (std::size_t k = 0; k < draws; ++k) w[(i * draws + k) * rows + 1 + i * draws + k] = 1;
  batch<double> x(rows, 1);
  const level<double>& l0 = levels.front();
  x(0, 0) = std::sqrt(l0.sigma * l0.sigma + l0.alpha * l0.alpha * data_std * data_std);
  ferry_test::run_erased(solver, process, model, make_schedule(levels), x.view(),
                         ferry_test::injected(injected_noise<double>{w.data(), steps, rows, 1, 0, draws}));
  double var = 0;
  for (std::size_t r = 0; r < rows; ++r) var += x(r, 0) * x(r, 0);
  const level<double>& last = levels[levels.size() - 2];  // the law there, then x̂0 = αs²x/(α²s² + σ²)
  const double s2 = data_std * data_std, m = last.alpha * last.alpha * s2 + last.sigma * last.sigma;
  return std::abs(var - last.alpha * last.alpha * s2 * s2 / m);
}

// Karras σ 80 → 0.002 then 0 on EDM; on the flow (shift 3) uniform t from 1 to 0.
std::vector<level<double>> weak_levels(bool on_flow, std::size_t n) {
  std::vector<double> s;
  for (std::size_t i = 0; i < n; ++i) {
    if (on_flow) {
      const double t = 1 - double(i) / double(n);
      s.push_back(3 * t / (1 + 2 * t));
    } else {
      const double ramp = double(i) / double(n - 1), a = std::pow(80.0, 1 / 7.0), b = std::pow(0.002, 1 / 7.0);
      s.push_back(std::pow(a + ramp * (b - a), 7.0));
    }
  }
  s.push_back(0);
  return on_flow ? levels_at_sigmas(flow<double>(3.0), std::span<const double>(s)) : levels_at_sigmas(edm<double>(), std::span<const double>(s));
}

// The mean of the last two slopes of the weak error over 16 … 256 steps, printed with the errors.
template <class Solver>
double weak_order(const char* name, bool on_flow, Solver solver) {
  std::vector<double> e;
  for (std::size_t n : {16u, 32u, 64u, 128u, 256u, 512u, 1024u})
    e.push_back(on_flow ? variance_error(flow<double>(3.0), solver, weak_levels(true, n)) : variance_error(edm<double>(), solver, weak_levels(false, n)));
  std::printf("[comfy] %-30s weak errors (E x^2)", name);
  for (double v : e) std::printf(" %.2e", v);
  std::printf("  slopes");
  for (std::size_t i = 0; i + 1 < e.size(); ++i) std::printf(" %.2f", std::log2(e[i] / e[i + 1]));
  std::printf("\n");
  return (std::log2(e[4] / e[5]) + std::log2(e[5] / e[6])) / 2;
}

}  // namespace

TEST_CASE("ComfyUI's stochastic samplers converge weakly (exact variance on Gaussian data)", "[comfy][convergence]") {
  // Slopes of the error in E[x²] from 256 to 1024 steps. On Gaussian data the second moment of some
  // first-order ancestral schemes converges at order 2; the flow runs start at σ = 1 (α = 0) and are
  // still approaching their slope at 1024 steps.
  CHECK(weak_order("euler_ancestral", false, euler_ancestral<double>()) == Approx(1).margin(0.15));
  CHECK(weak_order("euler_ancestral RF (flow)", true, euler_ancestral<double>()) == Approx(1).margin(0.15));
  CHECK(weak_order("dpm_2_ancestral", false, dpm_2_ancestral<double>()) == Approx(2).margin(0.2));
  CHECK(weak_order("dpm_2_ancestral RF (flow)", true, dpm_2_ancestral<double>()) > 1.5);
  CHECK(weak_order("dpmpp_2s_ancestral", false, dpmpp_2s_ancestral<double>()) == Approx(2).margin(0.2));
  CHECK(weak_order("dpmpp_2s_ancestral RF (flow)", true, dpmpp_2s_ancestral<double>()) > 1.5);
  auto o = dpmpp_sde_multistep_options::k_diffusion_2m();
  CHECK(weak_order("dpmpp_2m_sde (flow, offset)", true, with_first_sigma_offset(dpmpp_2m_sde<double>(o))) > 1.5);
  CHECK(weak_order("seeds_2", false, with_first_sigma_offset(seeds_2<double>{})) == Approx(2).margin(0.2));
  CHECK(weak_order("seeds_3", false, with_first_sigma_offset(seeds_3<double>{})) > 1.8);
  CHECK(weak_order("seeds_3 (flow, offset)", true, with_first_sigma_offset(seeds_3<double>{})) > 1.3);
  CHECK(weak_order("er_sde", false, with_first_sigma_offset(er_sde<double>{})) > 1);
  CHECK(weak_order("er_sde (flow, offset)", true, with_first_sigma_offset(er_sde<double>{})) > 1.5);
  // The multistep SDE samplers: RES ancestral (η = 1) and SA-Solver with τ = 1 on every step (its
  // predictor 3 / corrector 4 with the same draw re-added by the corrector), both with ComfyUI's defaults.
  CHECK(weak_order("res_multistep_ancestral", false, res_multistep_ancestral<double>()) == Approx(2).margin(0.2));
  const sa_solver<double> sa_everywhere({.eta = 1, .sde_start_sigma = 1e9, .sde_end_sigma = 0});
  CHECK(weak_order("sa_solver, tau = 1", false, with_first_sigma_offset(sa_everywhere)) == Approx(2).margin(0.2));
  CHECK(weak_order("sa_solver, tau = 1 (flow, offset)", true, with_first_sigma_offset(sa_everywhere)) > 1.5);
  // ComfyUI's res_multistep_ancestral has no CONST branch: on a flow it adds the VE split's noise to the
  // flow state, whose signal share (1 − σ) then never matches the landing level's, so it does not
  // converge (E[x²] error 0.26 from 64 to 1024 steps). Reproduced under ComfyUI's name (docs/samplers.md).
  CHECK(weak_order("res_multistep_ancestral (flow)", true, res_multistep_ancestral<double>()) < 0.2);
  // ComfyUI's lcm re-noises x̂0: with an exact (not consistency-distilled) model it collapses the spread
  // and does not converge (its error stays at 0.13 from 64 to 1024 steps).
  CHECK(weak_order("lcm (ComfyUI)", false, comfy_lcm<double>()) < 0.2);
}

namespace {

// A keyed run over a case's σ list (EDM for eps, the flow with shift 3 for const).
template <class Solver>
batch<double> keyed_run(const std::string& case_name, Solver solver, std::size_t rows, std::uint64_t seed, sample_options opt = {}) {
  const nlohmann::json& c = refs.cases().at(case_name);
  const std::vector<double> sigmas = c.at("sigmas").get<std::vector<double>>();
  mixture model = mixture::load(refs.dir + "gmm.json");
  batch<double> x(rows, 2);
  random::fill_normal(seed, x.view(), 0, random::initial_noise_step);
  simd::lincomb<double, 1>(x.view().span(), {sigmas.front()}, {x.data()});
  auto go = [&](const auto& process) {
    ferry_test::run_erased(solver, process, model, make_schedule(levels_at_sigmas(process, std::span<const double>(sigmas))), x.view(),
                           ferry_test::keyed(seed), opt);
  };
  if (c.at("model_sampling") == "const") go(flow<double>(3.0));
  else go(edm<double>());
  return x;
}

bool same_bytes(const batch<double>& a, const batch<double>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// x̂0 = α·s²·x/(α²s² + σ²): data N(0, s²), a model that allocates nothing itself.
struct gaussian_data {
  prediction predicts = prediction::data;
  void operator()(const_batch_view<double> x, const level<double>& lv, batch_view<double> out) const {
    const double s2 = 0.25, c = lv.alpha * s2 / (lv.alpha * lv.alpha * s2 + lv.sigma * lv.sigma);
    for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = c * x.data[i];
  }
};

// Allocations while stepping (after check and reset, which size everything) over a case's σ list.
template <class Solver>
std::size_t step_allocations(const std::string& case_name, Solver solver) {
  const nlohmann::json& c = refs.cases().at(case_name);
  const std::vector<double> sigmas = c.at("sigmas").get<std::vector<double>>();
  gaussian_data model;
  batch<double> x(16, 2);
  random::fill_normal(std::uint64_t(5), x.view(), 0, random::initial_noise_step);
  auto count = [&](const auto& process) {
    using P = std::remove_cvref_t<decltype(process)>;
    pf_ode<P, gaussian_data, no_transform, keyed_noise> problem(process, model, {}, keyed_noise{5, 0});
    const schedule<double> sched = make_schedule(levels_at_sigmas(process, std::span<const double>(sigmas)));
    if constexpr (requires { solver.check(sched); }) solver.check(sched);
    problem.reset(x.shape());
    solver.reset(x.shape());
    ferry_test::count_allocations counter;
    for (std::size_t i = 0; i < sched.steps(); ++i) solver.step(problem, sched.step(i), x.view());
    return counter.count();
  };
  return c.at("model_sampling") == "const" ? count(flow<double>(3.0)) : count(edm<double>());
}

}  // namespace

TEST_CASE("ComfyUI's stochastic samplers give the same bits for any chunking and thread count", "[comfy][random]") {
  const std::size_t n = 50;
  auto check = [&](const char* name, const std::string& case_name, auto solver) {
    INFO(name << " on " << case_name);
    const batch<double> whole = keyed_run(case_name, solver, n, 11);
    for (std::size_t chunk : {std::size_t(1), std::size_t(7), n})
      for (int threads : {1, 2}) {
        INFO("chunk_rows " << chunk << ", threads " << threads);
        CHECK(same_bytes(keyed_run(case_name, solver, n, 11, {.threads = threads, .chunk_rows = chunk}), whole));
      }
    CHECK(!same_bytes(keyed_run(case_name, solver, n, 12), whole));  // the noise is keyed: another seed moves it
  };
  check("euler_ancestral RF", "euler_ancestral_const_shift3_12", euler_ancestral<double>());
  check("dpm_2_ancestral", "dpm_2_ancestral_eps_karras_12", dpm_2_ancestral<double>());
  check("dpm_2_ancestral RF", "dpm_2_ancestral_const_shift3_8", dpm_2_ancestral<double>());
  check("dpmpp_2s_ancestral RF", "dpmpp_2s_ancestral_const_shift3_12", dpmpp_2s_ancestral<double>());
  check("dpmpp_2m_sde (offset)", "dpmpp_2m_sde_const_shift3_12",
        with_first_sigma_offset(dpmpp_2m_sde<double>(dpmpp_sde_multistep_options::k_diffusion_2m())));
  check("seeds_2", "seeds_2_eps_karras_8", with_first_sigma_offset(seeds_2<double>{}));
  check("seeds_3 (offset)", "seeds_3_const_shift3_8", with_first_sigma_offset(seeds_3<double>{}));
  check("er_sde", "er_sde_eps_karras_12", with_first_sigma_offset(er_sde<double>{}));
  check("er_sde (offset)", "er_sde_const_shift3_12", with_first_sigma_offset(er_sde<double>{}));
  check("lcm", "lcm_const_shift3_8", comfy_lcm<double>());
  check("dpm_fast eta=1", "dpm_fast_eps_karras_12", dpm_fast<double>({.nfe = 0, .eta = 1, .s_noise = 1, .flow_view = true}));
  // dpm_adaptive's error norm couples the rows: the driver runs it as one chunk, so threads change nothing.
  dpm_adaptive<double>::options a;
  a.eta = 1;
  check("dpm_adaptive eta=1", "dpm_adaptive_eps_karras_12", dpm_adaptive<double>(a));
}

TEST_CASE("dpm_adaptive's error norm couples the rows (as ComfyUI's): a row depends on the batch", "[comfy]") {
  // Row 0 alone and row 0 in a batch of 50 take different step sequences.
  const batch<double> batch50 = keyed_run("dpm_adaptive_eps_karras_12", dpm_adaptive<double>{}, 50, 11);
  const batch<double> alone = keyed_run("dpm_adaptive_eps_karras_12", dpm_adaptive<double>{}, 1, 11);
  CHECK((alone(0, 0) != batch50(0, 0) || alone(0, 1) != batch50(0, 1)));
}

TEST_CASE("ComfyUI's samplers do not allocate while stepping", "[comfy][alloc]") {
  CHECK(step_allocations("euler_ancestral_const_shift3_12", euler_ancestral<double>()) == 0);
  CHECK(step_allocations("dpm_2_ancestral_eps_karras_12", dpm_2_ancestral<double>()) == 0);
  CHECK(step_allocations("dpm_2_ancestral_const_shift3_8", dpm_2_ancestral<double>()) == 0);
  CHECK(step_allocations("dpmpp_2s_ancestral_const_shift3_12", dpmpp_2s_ancestral<double>()) == 0);
  CHECK(step_allocations("dpmpp_2m_sde_const_shift3_12", with_first_sigma_offset(dpmpp_2m_sde<double>())) == 0);
  CHECK(step_allocations("heunpp2_eps_karras_12", heunpp2<double>{}) == 0);
  CHECK(step_allocations("gradient_estimation_const_shift3_12", gradient_estimation<double>{}) == 0);
  CHECK(step_allocations("dpm_fast_eps_karras_12", dpm_fast<double>({.nfe = 0, .eta = 1, .s_noise = 1, .flow_view = true})) == 0);
  CHECK(step_allocations("dpm_adaptive_eps_karras_12", dpm_adaptive<double>{}) == 0);
  CHECK(step_allocations("seeds_3_const_shift3_8", with_first_sigma_offset(seeds_3<double>{})) == 0);
  CHECK(step_allocations("seeds_2_eps_karras_8", seeds_2<double>{}) == 0);
  CHECK(step_allocations("er_sde_const_shift3_12", with_first_sigma_offset(er_sde<double>{})) == 0);
  CHECK(step_allocations("lcm_eps_karras_8", comfy_lcm<double>()) == 0);
}

TEST_CASE("churn (s_churn, s_tmin, s_tmax, s_noise) wraps dpm_2 and heunpp2 as ComfyUI's keyword arguments", "[comfy]") {
  const churn_options off{}, on{.s_churn = 10, .s_tmin = 0.05, .s_tmax = 50, .s_noise = 1};
  auto churned = [&](auto solver, const churn_options& c) {
    return keyed_run("heunpp2_eps_karras_12", edm_churn<decltype(solver)>(solver, c), 20, 4);
  };
  CHECK(same_bytes(churned(heunpp2<double>{}, off), keyed_run("heunpp2_eps_karras_12", heunpp2<double>{}, 20, 4)));
  CHECK(same_bytes(churned(dpm_2<double>{}, off), keyed_run("heunpp2_eps_karras_12", dpm_2<double>{}, 20, 4)));
  CHECK(!same_bytes(churned(heunpp2<double>{}, on), churned(heunpp2<double>{}, off)));
  CHECK(!same_bytes(churned(dpm_2<double>{}, on), churned(dpm_2<double>{}, off)));
}

}  // namespace test_comfy_samplers
