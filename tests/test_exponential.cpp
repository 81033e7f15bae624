// Exponential integrators and linear multistep solvers: DDIM, DPM-Solver(++) multistep, DPM-Solver++(2S),
// UniPC, DEIS, LMS. Parity with diffusers / k-diffusion on the reference set, identities between the
// first-order methods, convergence orders, history hygiene and allocation-free steps.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "runtime_support.hpp"
#include "test_support.hpp"
#include "ferry/core/level.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/ddim.hpp"
#include "ferry/solvers/ode/deis.hpp"
#include "ferry/solvers/ode/dpmpp_2s.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/solvers/ode/lms.hpp"
#include "ferry/solvers/ode/unipc.hpp"
#include "ferry/driver/pf_ode.hpp"

namespace test_exponential {

using namespace ferry;

namespace {

using mixture = gaussian_mixture<double>;

const std::string& data_dir = ferry_test::reference_dir;
const nlohmann::json& cases() { return ferry_test::reference_cases(); }
batch<double> load(const std::string& name) { return ferry_test::load_reference(name); }
using ferry_test::max_abs_diff;

// Runs `solver` on the mixture over `levels` from x (in place), the model predicting `kind`.
template <class Solver>
void run(Solver& solver, const std::vector<level<double>>& levels, batch<double>& x,
         prediction kind = prediction::data) {
  static const mixture gmm = mixture::load(data_dir + "gmm.json");
  mixture model = gmm;
  model.predicts = kind;
  const edm<double> process;
  ferry_test::run_erased(solver, process, model, make_schedule(levels), x.view());
}

// The levels and initial state of a reference case, in ferry's view of that case.
struct case_setup {
  std::vector<level<double>> levels;
  batch<double> x;
  prediction kind = prediction::epsilon;
};

case_setup setup(const std::string& name) {
  const auto& c = cases().at(name);
  case_setup s;
  s.x = load("noise");
  if (c.at("kind") == "native") {  // k-diffusion: EDM view, Karras grid with an appended 0
    const double smin = c.at("sigma_min"), smax = c.at("sigma_max"), rho = c.at("rho");
    const int n = c.at("steps");
    const double a = std::pow(smax, 1 / rho), b = std::pow(smin, 1 / rho);
    for (int i = 0; i < n; ++i)
      s.levels.push_back(level<double>::make(1, std::pow(a + double(i) / (n - 1) * (b - a), rho)));
    s.levels.push_back(level<double>::make(1, 0));
    for (auto& v : s.x.view().span()) v *= smax;
    s.kind = prediction::data;
    return s;
  }
  const auto& cfg = c.at("scheduler_config");
  for (double sig : c.at("grid").at("sigmas").get<std::vector<double>>()) s.levels.push_back(vp_level_from_edm_sigma(sig));
  s.kind = parse_prediction(cfg.value("prediction_type", std::string("epsilon")));
  if (cfg.at("_class_name") == "LMSDiscreteScheduler") {
    // diffusers' LMS state is x̃ = x0 + σ̃ε with init_noise_sigma = σ̃_max for linspace/trailing spacing
    // (√(σ̃_max²+1) for leading); ferry's VP view is x = α_0·x̃.
    const double smax = s.levels.front().sigma_edm();
    const std::string spacing = cfg.value("timestep_spacing", std::string("linspace"));
    const double init = spacing == "leading" ? std::sqrt(smax * smax + 1) : smax;
    for (auto& v : s.x.view().span()) v *= s.levels.front().alpha * init;
  }
  return s;
}

template <class Solver>
double parity(const std::string& name, Solver solver) {
  case_setup s = setup(name);
  run(solver, s.levels, s.x, s.kind);
  const double d = max_abs_diff(s.x.view(), load(name).view());
  std::printf("  parity %-32s max |ferry - peer| = %.3e\n", name.c_str(), d);
  return d;
}

template <int O>
dpmpp_multistep<O> dpm(dpmpp_multistep_options o = {}) {
  dpmpp_multistep<O> s;
  s.opt = o;
  return s;
}
template <int O>
unipc<O> uni(unipc_options o = {}) {
  unipc<O> s;
  s.opt = o;
  return s;
}

// EDM-view levels uniform in λ from σ = smax down to σ = smin, then optionally σ = 0.
std::vector<level<double>> uniform_lambda(int n, double smax = 80, double smin = 0.05, bool to_zero = false) {
  std::vector<level<double>> lv;
  const double l0 = -std::log(smax), l1 = -std::log(smin);
  for (int i = 0; i <= n; ++i) lv.push_back(level<double>::make(1, std::exp(-(l0 + (l1 - l0) * i / n))));
  if (to_zero) lv.push_back(level<double>::make(1, 0));
  return lv;
}

batch<double> start(std::size_t rows, double smax) {
  batch<double> full = load("noise"), x(rows, full.cols());
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = smax * full.data()[i];
  return x;
}

}  // namespace

TEST_CASE("exponential integrators reproduce diffusers and k-diffusion", "[solvers][expint][parity]") {
  const double tol = 1e-4;
  dpmpp_multistep_options heun;
  heun.solver_type = dpm_solver_type::heun;
  unipc_options bh1;
  bh1.solver_type = unipc_bh::bh1;

  CHECK(parity("dpmpp1_sd_12", dpm<1>()) <= tol);
  for (const char* c : {"dpmpp2m_sd_12", "dpmpp2m_sd_25", "dpmpp2m_sd_12_vpred", "dpmpp2m_sd_12_x0pred",
                        "dpmpp2m_ddpm_trailing_10", "dpmpp2m_sigmamin_12", "dpmpp2m_karras_cos_17",
                        "dpmpp2m_zsnr_trailing_vpred_12"})
    CHECK(parity(c, dpm<2>()) <= tol);
  CHECK(parity("dpmpp3m_sd_12", dpm<3>()) <= tol);
  CHECK(parity("dpmpp2m_heun_sd_12", dpm<2>(heun)) <= tol);
  CHECK(parity("unipc_sd_12", uni<2>()) <= tol);
  CHECK(parity("unipc_bh1_o3_sigmamin_12", uni<3>(bh1)) <= tol);
  CHECK(parity("deis_sd_12", deis<2>{}) <= tol);
  CHECK(parity("deis_o3_12", deis<3>{}) <= tol);
  CHECK(parity("lms_sd_25", lms<4>{}) <= tol);
  CHECK(parity("lms_karras_25", lms<4>{}) <= tol);
  CHECK(parity("kd_dpmpp2m_karras_12", dpm<2>(dpmpp_multistep_options::k_diffusion_2m())) <= tol);
  CHECK(parity("kd_dpmpp3m_karras_12", dpm<3>(dpmpp_multistep_options::k_diffusion_3m())) <= tol);
  CHECK(parity("kd_lms_karras_25", lms<4>{}) <= tol);
}

TEST_CASE("the k-diffusion option presets change the result where the peers differ", "[solvers][expint][parity]") {
  // sample_dpmpp_3m_sde warms up with the heun-type φ₂ and has no lower-order rule: diffusers' defaults
  // on the same grid must not reproduce it, or the parity case above would not test the options.
  case_setup s = setup("kd_dpmpp3m_karras_12");
  auto solver = dpm<3>();
  run(solver, s.levels, s.x, s.kind);
  CHECK(max_abs_diff(s.x.view(), load("kd_dpmpp3m_karras_12").view()) > 1e-3);
}

TEST_CASE("DDIM, DPM-Solver++(1) and DPM-Solver(1) are one method", "[solvers][expint]") {
  // VP levels (α² + σ² = 1) from the dpmpp2m_sd_12 grid, ending at σ = 0, and an ε-predicting model.
  const case_setup s = setup("dpmpp2m_sd_12");
  auto eps_levels = s.levels;
  eps_levels.back() = vp_level_from_edm_sigma(0.03);  // DPM-Solver(1) in ε also handles σ = 0; test both ends
  for (const auto& levels : {s.levels, eps_levels}) {
    batch<double> a = s.x, b = s.x, c = s.x;
    ddim<double> d;
    auto pp = dpm<1>();
    dpmpp_multistep_options eo;
    eo.algorithm_type = dpm_algorithm::dpmsolver;
    auto e = dpm<1>(eo);
    run(d, levels, a, prediction::epsilon);
    run(pp, levels, b, prediction::epsilon);
    run(e, levels, c, prediction::epsilon);
    CHECK(max_abs_diff(a.view(), b.view()) <= 1e-12);
    CHECK(max_abs_diff(a.view(), c.view()) <= 1e-12);
    // DEIS(1), LMS(1) (Euler in σ̃ on x/α) and UniP-1 without its corrector are DDIM too
    unipc_options no_corrector;
    for (std::size_t i = 0; i < levels.size(); ++i) no_corrector.disable_corrector.push_back(i);
    batch<double> d1 = s.x, l1 = s.x, u1 = s.x;
    deis<1> de;
    lms<1> lm;
    auto un = uni<1>(no_corrector);
    run(de, levels, d1, prediction::epsilon);
    run(lm, levels, l1, prediction::epsilon);
    run(un, levels, u1, prediction::epsilon);
    CHECK(max_abs_diff(a.view(), d1.view()) <= 1e-12);
    CHECK(max_abs_diff(a.view(), l1.view()) <= 1e-12);
    CHECK(max_abs_diff(a.view(), u1.view()) <= 1e-12);
  }
}

TEST_CASE("a step to sigma = 0 lands on the data prediction", "[solvers][expint]") {
  // One step from σ = 2 straight to 0: every solver must return α_next·x̂0(x, σ = 2) (LMS/DEIS at order 1).
  const std::vector<level<double>> lv{level<double>::make(1, 2), level<double>::make(1, 0)};
  batch<double> x0 = start(16, 2), expect = x0;
  const mixture g = mixture::load(data_dir + "gmm.json");
  g(x0.view(), lv[0], expect.view());
  auto check = [&](auto solver, prediction kind) {
    batch<double> x = x0;
    run(solver, lv, x, kind);
    CHECK(max_abs_diff(x.view(), expect.view()) <= 1e-12);
  };
  dpmpp_multistep_options eo;
  eo.algorithm_type = dpm_algorithm::dpmsolver;
  unipc_options ue;
  ue.predict_x0 = false;
  check(ddim<double>{}, prediction::v);
  check(dpm<2>(), prediction::epsilon);
  check(dpm<3>(eo), prediction::data);
  check(uni<3>(), prediction::epsilon);
  check(uni<2>(ue), prediction::data);
  check(deis<3>{}, prediction::data);
  check(lms<4>{}, prediction::epsilon);
  check(dpmpp_2s<double>{}, prediction::data);
}

TEST_CASE("UniPC bh1 of order 3 is finite and accurate when the last step lands on sigma = 0",
          "[solvers][expint][unipc]") {
  // The unipc_bh1_o3 configuration on a grid that ends at σ = 0, where diffusers returns NaN (B(h) = h = ∞).
  case_setup s = setup("unipc_sd_12");
  unipc_options o;
  o.solver_type = unipc_bh::bh1;
  batch<double> x1 = s.x, x2 = s.x, fine = s.x;
  auto a = uni<3>(o);
  run(a, s.levels, x1, s.kind);
  auto b = uni<3>();
  run(b, s.levels, x2, s.kind);
  for (double v : x1.view().span()) REQUIRE(std::isfinite(v));
  // fine reference: the same σ range with 400 uniform-λ steps of bh2, then the same last step to 0
  const double l0 = s.levels.front().lambda, l1 = s.levels[s.levels.size() - 2].lambda;
  auto grid = [&](int n) {  // n uniform-λ steps over the same range, then the last step to σ = 0
    std::vector<level<double>> lv;
    for (int i = 0; i <= n; ++i) lv.push_back(vp_level_from_edm_sigma(std::exp(-(l0 + (l1 - l0) * i / n))));
    lv.push_back(s.levels.back());
    return lv;
  };
  auto c = uni<3>();
  run(c, grid(800), fine, s.kind);
  batch<double> x3 = s.x;
  auto d = uni<3>(o);
  run(d, grid(100), x3, s.kind);
  const double e_100 = max_abs_diff(x3.view(), fine.view());
  std::printf("  unipc bh1 o3 with 100 steps to sigma=0: |bh1 - fine| = %.3e\n", e_100);
  CHECK(e_100 <= 3e-3);  // 12 steps are ~0.4 away; 100 steps land within a few 1e-4
  const double e_bh1 = max_abs_diff(x1.view(), fine.view()), e_bh2 = max_abs_diff(x2.view(), fine.view());
  const double gap = max_abs_diff(x1.view(), x2.view());
  std::printf("  unipc o3 to sigma=0: |bh1 - fine| = %.3e, |bh2 - fine| = %.3e, |bh1 - bh2| = %.3e\n", e_bh1, e_bh2,
              gap);
  CHECK(e_bh1 <= 2 * e_bh2 + 1e-3);
}

namespace {
// Error at σ_min against a fine DPM-Solver++(3M) reference, for n and 2n, …, steps.
template <class Solver>
std::vector<double> errors(Solver solver, const std::vector<int>& ns, const batch<double>& ref, double smax) {
  std::vector<double> e;
  for (int n : ns) {
    batch<double> x = start(ref.rows(), smax);
    run(solver, uniform_lambda(n, smax), x);
    e.push_back(max_abs_diff(x.view(), ref.view()));
  }
  return e;
}
}  // namespace

TEST_CASE("multistep solvers converge at their order on the mixture", "[solvers][expint][convergence]") {
  const double smax = 80;
  const std::size_t rows = 64;
  batch<double> ref = start(rows, smax);
  {
    auto fine = dpm<3>();
    fine.opt.taylor_d2 = true;  // truly third order (see below): the reference error is ~1e-9
    run(fine, uniform_lambda(8192, smax), ref);
  }
  const std::vector<int> ns{64, 128, 256, 512, 1024};  // asymptotic here (measured from 16)
  auto slopes = [&](const char* name, const std::vector<double>& e) {
    std::printf("  %-10s errors:", name);
    for (double v : e) std::printf(" %.2e", v);
    std::vector<double> s;
    for (std::size_t i = 0; i + 1 < e.size(); ++i) s.push_back(std::log2(e[i] / e[i + 1]));
    std::printf("  slopes:");
    for (double v : s) std::printf(" %.2f", v);
    std::printf("\n");
    return (s[s.size() - 2] + s.back()) / 2;  // mean of the last two slopes
  };
  dpmpp_multistep_options no_final;
  no_final.lower_order_final = false;
  CHECK(slopes("dpmpp_2m", errors(dpm<2>(), ns, ref, smax)) == Approx(2).margin(0.3));
  // DPM-Solver++(3M) as diffusers and k-diffusion write it weighs D2 = h²x̂0''/2 by hφ3 where the Taylor term
  // needs 2hφ3: its local error is O(h³), so it converges at order 2 (measured 2.1-2.4), not 3.
  CHECK(slopes("dpmpp_3m", errors(dpm<3>(), ns, ref, smax)) == Approx(2).margin(0.3));
  // With the Taylor weight 2hφ3 the same multistep scheme is third order.
  auto taylor = dpm<3>();
  taylor.opt.taylor_d2 = true;
  CHECK(slopes("dpmpp_3m_taylor", errors(taylor, ns, ref, smax)) == Approx(3).margin(0.3));
  CHECK(slopes("ddim", errors(ddim<double>{}, ns, ref, smax)) == Approx(1).margin(0.3));
  CHECK(slopes("dpmpp_2s", errors(dpmpp_2s<double>{}, ns, ref, smax)) == Approx(2).margin(0.3));
  CHECK(slopes("deis_3", errors(deis<3>{}, ns, ref, smax)) == Approx(3).margin(0.3));
  CHECK(slopes("unipc_2", errors(uni<2>(), ns, ref, smax)) == Approx(3).margin(0.3));  // UniC raises the order by one
  CHECK(slopes("lms_4", errors(lms<4>{}, ns, ref, smax)) == Approx(4).margin(0.3));
}

TEST_CASE("multistep history does not leak from one run into the next", "[solvers][expint]") {
  const case_setup s = setup("dpmpp3m_sd_12");
  auto twice = [&](auto solver) {
    batch<double> a = s.x, b = s.x;
    run(solver, s.levels, a, s.kind);
    run(solver, s.levels, b, s.kind);
    CHECK(max_abs_diff(a.view(), b.view()) == 0);
  };
  twice(dpm<3>());
  twice(uni<3>());
  twice(deis<3>{});
  twice(lms<4>{});
}

namespace {
// An allocation-free model: data N(μ, s²) per dimension, E[x0 | x] = μ + α s²/(α²s² + σ²)·(x − αμ).
struct gaussian_data {
  prediction predicts = prediction::data;
  double mu = 0.3, s = 0.5;
  void operator()(const_batch_view<double> x, const level<double>& lv, batch_view<double> out) const {
    const double k = lv.alpha * s * s / (lv.alpha * lv.alpha * s * s + lv.sigma * lv.sigma);
    for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = mu + k * (x.data[i] - lv.alpha * mu);
  }
};

template <class Solver>
std::size_t step_allocations(Solver solver, prediction kind) {
  gaussian_data model;
  model.predicts = kind;
  const edm<double> process;
  pf_ode<edm<double>, gaussian_data> problem(process, model);
  const auto sched = make_schedule(uniform_lambda(12, 80, 0.05, true));
  batch<double> x = start(8, 80);
  problem.reset(x.shape());
  solver.reset(x.shape());
  ferry_test::count_allocations counter;
  for (std::size_t i = 0; i < sched.steps(); ++i) solver.step(problem, sched.step(i), x.view());
  return counter.count();
}
}  // namespace

TEST_CASE("exponential-integrator steps do not allocate", "[solvers][expint][alloc]") {
  unipc_options ue;
  ue.predict_x0 = false;
  CHECK(step_allocations(dpm<2>(), prediction::epsilon) == 0);
  CHECK(step_allocations(dpm<3>(), prediction::v) == 0);
  CHECK(step_allocations(uni<3>(), prediction::epsilon) == 0);
  CHECK(step_allocations(uni<2>(ue), prediction::data) == 0);
  CHECK(step_allocations(deis<3>{}, prediction::data) == 0);
  CHECK(step_allocations(lms<4>{}, prediction::epsilon) == 0);
  CHECK(step_allocations(ddim<double>{}, prediction::epsilon) == 0);
  CHECK(step_allocations(dpmpp_2s<double>{}, prediction::data) == 0);
}

TEST_CASE("option parsers accept the diffusers names and reject others", "[solvers][expint]") {
  CHECK(parse_dpm_algorithm("dpmsolver++") == dpm_algorithm::dpmsolver_pp);
  CHECK(parse_dpm_algorithm("dpmsolver") == dpm_algorithm::dpmsolver);
  CHECK_THROWS_AS(parse_dpm_algorithm("sde-dpmsolver++"), config_error);
  CHECK(parse_dpm_solver_type("heun") == dpm_solver_type::heun);
  CHECK_THROWS_AS(parse_dpm_solver_type("logrho"), config_error);
  CHECK(parse_unipc_solver_type("bh1") == unipc_bh::bh1);
  CHECK_THROWS_AS(parse_unipc_solver_type("bh3"), config_error);
  CHECK_THROWS_AS(dpmpp_2s<double>(dpmpp_2s_options{0, dpm_solver_type::midpoint}), config_error);
}

}  // namespace test_exponential
