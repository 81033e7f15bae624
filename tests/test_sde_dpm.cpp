// The DPM-Solver SDE family (solvers/sde/): SDE-DPM-Solver++ 1/2M/3M, DPM-Solver++(2S) ancestral and
// k-diffusion's dpmpp_sde. Parity with the peers under injected noise (tests/data/diffusion_sde),
// bitwise independence of the row chunking, the η = 0 limits, allocation-free steps, and the
// distribution sampled on the 2-D mixture against the exact one.
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
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/dpmpp_2s.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/runtime/registry.hpp"
#include "ferry/solvers/sde/dpmpp_2s_ancestral.hpp"
#include "ferry/solvers/sde/dpmpp_multistep_sde.hpp"
#include "ferry/solvers/sde/dpmpp_sde.hpp"

namespace test_sde_dpm {

using namespace ferry;

namespace {

using mixture = gaussian_mixture<double>;
using ferry_test::max_abs_diff;

using ferry_test::sde_dir;
using ferry_test::sde_cases;
using ferry_test::load_sde;

// step_noise.npy, loaded once; step i of a run uses W[i].
struct step_noise_file {
  std::vector<double> w;
  std::size_t steps = 0, rows = 0, cols = 0;
  injected_noise<double> source() const { return {w.data(), steps, rows, cols}; }
};
const step_noise_file& step_noise() {
  static const step_noise_file f = [] {
    const io::npy_array a = io::read_npy(sde_dir + "step_noise.npy");
    REQUIRE(a.ndim() == 3);
    return step_noise_file{a.as<double>(), a.shape[0], a.shape[1], a.shape[2]};
  }();
  return f;
}

mixture load_mixture() { return mixture::load(sde_dir + "gmm.json"); }

// A k-diffusion case (cases.json "native"): EDM process, Karras grid with the final σ = 0, x = σ_max·z,
// data-predicting model, step noise injected.
template <class Solver>
batch<double> run_k_diffusion(const nlohmann::json& c, Solver solver) {
  const edm<double> process;
  grid_spec<double> spec{.kind = grid_kind::karras, .steps = c.at("steps").get<std::size_t>(), .rho = c.at("rho").get<double>()};
  spec.sigma_min = c.at("sigma_min").get<double>();
  spec.sigma_max = c.at("sigma_max").get<double>();
  const schedule<double> sched = make_schedule(make_grid(process, spec));
  mixture model = load_mixture();
  model.predicts = prediction::data;
  batch<double> x = load_sde("noise");
  simd::lincomb<double, 1>(x.view().span(), {*spec.sigma_max}, {x.data()});
  ferry_test::run_erased(solver, process, model, sched, x.view(), ferry_test::injected(step_noise().source()));
  return x;
}

double k_diffusion_diff(const std::string& name, auto solver) {
  const double d = max_abs_diff(run_k_diffusion(sde_cases().at(name), solver), load_sde(name));
  std::printf("[sde-dpm] %-34s max |ferry - peer| = %.3g\n", name.c_str(), d);
  return d;
}

// A diffusers case through compat (the user's path): scheduler_config → process, schedule, solver.
batch<double> run_diffusers(const nlohmann::json& c) {
  const compat::diffusers_config cfg = compat::parse_diffusers_config(c.at("scheduler_config"));
  const compat::diffusers_grid g = compat::set_timesteps(cfg, c.at("steps").get<std::size_t>());
  mixture model = load_mixture();
  model.predicts = cfg.prediction_type;
  batch<double> x = load_sde("noise");
  simd::lincomb<double, 1>(x.view().span(), {compat::initial_scale(cfg, g)}, {x.data()});
  compat::sample(cfg, g, model, x.view(), no_observer{}, step_noise().source());
  return x;
}

// A k-diffusion case through the registry, as the CLI picks its solver.
batch<double> run_registry(const nlohmann::json& c) {
  solver_settings s{.name = c.at("solver").get<std::string>(), .time = ode_time::sigma};
  s.eta = c.at("options").at("--eta").get<double>();
  return with_solver(s, [&](auto solver) { return run_k_diffusion(c, solver); });
}

// A keyed run on a 2-D mixture: EDM process, Karras grid σ 80 → 0.002 with the final σ = 0.
template <class Solver>
batch<double> keyed_run(Solver solver, std::size_t rows, std::size_t steps, std::uint64_t seed, sample_options opt = {}) {
  const edm<double> process;
  const schedule<double> sched =
      make_schedule(make_grid(process, grid_spec<double>{.kind = grid_kind::karras, .steps = steps, .sigma_min = 0.002, .sigma_max = 80.0}));
  mixture model = load_mixture();
  batch<double> x(rows, model.dim());
  random::fill_normal(seed, x.view(), 0, random::initial_noise_step);
  simd::lincomb<double, 1>(x.view().span(), {80.0}, {x.data()});
  ferry_test::run_erased(solver, process, model, sched, x.view(), ferry_test::keyed(seed), opt);
  return x;
}

bool same_bytes(const batch<double>& a, const batch<double>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("k-diffusion's DPM-Solver++ SDE samplers are reproduced with injected noise", "[sde][sde-dpm][parity]") {
  CHECK(k_diffusion_diff("kd_dpmpp_2m_sde_karras_12", dpmpp_2m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_2m()}) < 1e-4);
  CHECK(k_diffusion_diff("kd_dpmpp_3m_sde_karras_12", dpmpp_3m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_3m()}) < 1e-4);
  CHECK(k_diffusion_diff("kd_dpmpp_2s_ancestral_karras_12", dpmpp_2s_ancestral<double>{}) < 1e-4);
}

TEST_CASE("diffusers' sde-dpmsolver++ and the registry's SDE-DPM solvers reproduce the peers", "[sde][sde-dpm][parity]") {
  for (const char* name : {"dpmpp2m_sde_sd_12", "dpmpp1_sde_sd_12", "dpmpp2m_sde_heun_karras_12", "dpmpp3m_sde_sd_12"}) {
    const double d = max_abs_diff(run_diffusers(sde_cases().at(name)), load_sde(name));
    std::printf("[sde-dpm] %-34s max |ferry - peer| = %.3g\n", name, d);
    INFO(name);
    CHECK(d < 1e-4);
  }
  for (const char* name : {"kd_dpmpp_2m_sde_karras_12", "kd_dpmpp_3m_sde_karras_12", "kd_dpmpp_2s_ancestral_karras_12"}) {
    INFO(name);
    CHECK(max_abs_diff(run_registry(sde_cases().at(name)), load_sde(name)) < 1e-4);
  }
  // Without a noise source the stochastic class stops with a config_error (no silent ODE run).
  const auto cfg = compat::parse_diffusers_config(sde_cases().at("dpmpp2m_sde_sd_12").at("scheduler_config"));
  const auto g = compat::set_timesteps(cfg, 12);
  mixture model = load_mixture();
  batch<double> x = load_sde("noise");
  CHECK_CONFIG_ERROR(compat::sample(cfg, g, model, x.view()), "sde-dpmsolver++");
}

TEST_CASE("with eta = 0 the SDE samplers are their deterministic solvers", "[sde][sde-dpm]") {
  // Same keyed run (the noise is never drawn at η = 0): the SDE update with ĥ = h and e^{−ηh} = 1 is the
  // ODE update term for term, so only rounding may differ.
  auto sde2 = dpmpp_2m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_2m(dpm_solver_type::heun)};
  auto sde3 = dpmpp_3m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_3m()};
  sde2.opt.eta = sde3.opt.eta = 0;
  auto ode2 = dpmpp_2m<double>{};
  ode2.opt = dpmpp_multistep_options::k_diffusion_2m();
  ode2.opt.solver_type = dpm_solver_type::heun;
  auto ode3 = dpmpp_3m<double>{};
  ode3.opt = dpmpp_multistep_options::k_diffusion_3m();
  CHECK(max_abs_diff(keyed_run(sde2, 64, 15, 3), keyed_run(ode2, 64, 15, 3)) < 1e-12);
  CHECK(max_abs_diff(keyed_run(sde3, 64, 15, 3), keyed_run(ode3, 64, 15, 3)) < 1e-12);
  CHECK(max_abs_diff(keyed_run(dpmpp_2s_ancestral<double>({.eta = 0}), 64, 15, 3), keyed_run(dpmpp_2s<double>{}, 64, 15, 3)) < 1e-12);
  CHECK(max_abs_diff(keyed_run(dpmpp_sde<double>({.eta = 0}), 64, 15, 3), keyed_run(dpmpp_2s<double>{}, 64, 15, 3)) < 1e-12);
}

TEST_CASE("SDE-DPM samples do not depend on the row chunking or the thread count", "[sde][sde-dpm][random]") {
  const std::size_t n = 100;
  auto check = [&](const char* name, auto solver) {
    INFO(name);
    const batch<double> whole = keyed_run(solver, n, 10, 11);
    for (std::size_t chunk : {std::size_t(1), std::size_t(7), std::size_t(64), n})
      for (int threads : {1, 2}) {
        INFO("chunk_rows " << chunk << ", threads " << threads);
        CHECK(same_bytes(keyed_run(solver, n, 10, 11, {.threads = threads, .chunk_rows = chunk}), whole));
      }
    // Row i drawn alone is row i of the batch only when the key follows the global row: a shifted
    // seed must change it (the test can fail).
    CHECK(!same_bytes(keyed_run(solver, n, 10, 12), whole));
  };
  check("dpmpp-2m-sde", dpmpp_2m_sde<double>{});
  check("dpmpp-3m-sde", dpmpp_3m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_3m()});
  check("dpmpp-2s-ancestral", dpmpp_2s_ancestral<double>{});
  check("dpmpp-sde", dpmpp_sde<double>{});
}

TEST_CASE("dpmpp-sde needs two injected arrays per step (its tree increments)", "[sde][sde-dpm]") {
  // Under injected noise its two increments are streams 0 and 1 of the step (tests/test_diffusers2_samplers.cpp);
  // the (S, N, D) file of this set has one array per step.
  const nlohmann::json& c = sde_cases().at("kd_dpmpp_2m_sde_karras_12");
  CHECK_CONFIG_ERROR(run_k_diffusion(c, dpmpp_sde<double>{}), "K >= 2");
  CHECK_CONFIG_ERROR(dpmpp_sde<double>({.eta = -1}), "eta");
  CHECK_CONFIG_ERROR(dpmpp_2s_ancestral<double>({.s_noise = NAN}), "s_noise");
  auto bad = dpmpp_2m_sde<double>{};
  bad.opt.eta = -0.5;
  CHECK_CONFIG_ERROR(keyed_run(bad, 4, 5, 0), "eta");
}

TEST_CASE("SDE-DPM steps do not allocate", "[sde][sde-dpm][alloc]") {
  // Data N(0, s²·I): x̂0 = α·s²·x/(α²s² + σ²), a model that allocates nothing itself.
  struct gaussian_data {
    prediction predicts = prediction::data;
    void operator()(const_batch_view<double> x, const level<double>& lv, batch_view<double> out) const {
      const double s2 = 0.25, c = lv.alpha * s2 / (lv.alpha * lv.alpha * s2 + lv.sigma * lv.sigma);
      for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = c * x.data[i];
    }
  };
  auto allocations = [](auto solver) {
    const edm<double> process;
    gaussian_data model;
    pf_ode<edm<double>, gaussian_data, no_transform, keyed_noise> problem(process, model, {}, keyed_noise{5, 0});
    const auto sched = make_schedule(make_grid(process, grid_spec<double>{.kind = grid_kind::karras, .steps = 8, .sigma_min = 0.002, .sigma_max = 80.0}));
    batch<double> x(16, 2);
    random::fill_normal(std::uint64_t(5), x.view(), 0, random::initial_noise_step);
    if constexpr (requires { solver.check(sched); }) solver.check(sched);
    problem.reset(x.shape());
    solver.reset(x.shape());
    ferry_test::count_allocations counter;
    for (std::size_t i = 0; i < sched.steps(); ++i) solver.step(problem, sched.step(i), x.view());
    return counter.count();
  };
  CHECK(allocations(dpmpp_multistep_sde<1, double>{}) == 0);
  CHECK(allocations(dpmpp_3m_sde<double>{}) == 0);
  CHECK(allocations(dpmpp_2s_ancestral<double>{}) == 0);
  CHECK(allocations(dpmpp_sde<double>{}) == 0);
}

namespace {

// Responsibility-weighted moments of samples x against the exact mixture p0 = Σ_k w_k N(μ_k, diag s_k²).
// With r_k(x) = w_k N(x; μ_k, s_k²)/p0(x) the exact posterior responsibility,
//   E[r_k(X)] = w_k,   E[r_k(X)·X]/w_k = μ_k,   E[r_k(X)·(X − μ_k)²]/w_k = s_k²      exactly under X ~ p0,
// however much the components overlap (∫ r_k p0 = ∫ w_k N_k), so these targets carry no assignment
// bias; nearest-mean assignment would (its masses and moments are those of truncated components).
// Standard errors are the delta-method ones of the ratio estimators, from the samples themselves.
struct component_fit {
  double mass = 0;
  double mean[2] = {}, var[2] = {}, se_mean[2] = {}, se_var[2] = {};
};

std::vector<component_fit> fit_components(const batch<double>& x) {
  std::ifstream in(sde_dir + "gmm.json");
  const nlohmann::json g = nlohmann::json::parse(in);
  const auto w = g.at("weights").get<std::vector<double>>();
  const auto mu = g.at("means").get<std::vector<std::vector<double>>>();
  const auto sd = g.at("stds").get<std::vector<std::vector<double>>>();
  const std::size_t K = w.size(), n = x.rows();
  std::vector<double> r(n * K);
  for (std::size_t i = 0; i < n; ++i) {
    double lp[8], m = -INFINITY, sum = 0;
    for (std::size_t k = 0; k < K; ++k) {
      lp[k] = std::log(w[k]);
      for (std::size_t d = 0; d < 2; ++d) {
        const double z = (x(i, d) - mu[k][d]) / sd[k][d];
        lp[k] -= 0.5 * z * z + std::log(sd[k][d]);
      }
      m = std::max(m, lp[k]);
    }
    for (std::size_t k = 0; k < K; ++k) sum += std::exp(lp[k] - m);
    for (std::size_t k = 0; k < K; ++k) r[i * K + k] = std::exp(lp[k] - m) / sum;
  }
  std::vector<component_fit> out(K);
  for (std::size_t k = 0; k < K; ++k) {
    component_fit& f = out[k];
    double sr = 0;
    for (std::size_t i = 0; i < n; ++i) sr += r[i * K + k];
    f.mass = sr / double(n);
    for (std::size_t d = 0; d < 2; ++d) {
      double sm = 0, sv = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double ri = r[i * K + k], dx = x(i, d) - mu[k][d];
        sm += ri * x(i, d);
        sv += ri * dx * dx;
      }
      f.mean[d] = sm / sr;
      f.var[d] = sv / sr;
      double em = 0, ev = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double ri = r[i * K + k], dx = x(i, d) - mu[k][d];
        em += ri * ri * (x(i, d) - f.mean[d]) * (x(i, d) - f.mean[d]);
        ev += ri * ri * (dx * dx - f.var[d]) * (dx * dx - f.var[d]);
      }
      f.se_mean[d] = std::sqrt(em) / sr;
      f.se_var[d] = std::sqrt(ev) / sr;
    }
  }
  return out;
}

// Worst departures from the exact mixture, in standard errors beyond an allowance.
struct fit_summary {
  double mass_err = 0;           ///< max_k |mass_k − w_k|
  double mean_err = 0, var_err = 0;  ///< max |estimate − exact| over components and dimensions
  double mean_z = -INFINITY, var_z = -INFINITY;  ///< max (|estimate − exact| − allowance)/SE
};

fit_summary summarize(const batch<double>& x, double mean_allow, double var_rel_allow) {
  std::ifstream in(sde_dir + "gmm.json");
  const nlohmann::json g = nlohmann::json::parse(in);
  const auto w = g.at("weights").get<std::vector<double>>();
  const auto mu = g.at("means").get<std::vector<std::vector<double>>>();
  const auto sd = g.at("stds").get<std::vector<std::vector<double>>>();
  const auto fits = fit_components(x);
  fit_summary s;
  for (std::size_t k = 0; k < fits.size(); ++k) {
    s.mass_err = std::max(s.mass_err, std::abs(fits[k].mass - w[k]));
    for (std::size_t d = 0; d < 2; ++d) {
      const double em = std::abs(fits[k].mean[d] - mu[k][d]), v = sd[k][d] * sd[k][d], ev = std::abs(fits[k].var[d] - v);
      s.mean_err = std::max(s.mean_err, em);
      s.var_err = std::max(s.var_err, ev / v);
      s.mean_z = std::max(s.mean_z, (em - mean_allow) / fits[k].se_mean[d]);
      s.var_z = std::max(s.var_z, (ev - var_rel_allow * v) / fits[k].se_var[d]);
    }
  }
  return s;
}

#if FERRY_TEST_SANITIZED
constexpr std::size_t distribution_rows = 10000;
#else
constexpr std::size_t distribution_rows = 100000;
#endif

template <class Solver>
fit_summary distribution_of(Solver solver, std::size_t steps, std::size_t rows, double mean_allow, double var_rel_allow) {
  return summarize(keyed_run(solver, rows, steps, 2024, {.threads = 2}), mean_allow, var_rel_allow);
}

}  // namespace

// The figures behind the allowances below: errors against the exact mixture at 25, 50, 100 steps.
TEST_CASE("SDE-DPM distribution errors against the step count (measurement)", "[.sde-dpm-measure]") {
  auto show = [](const char* name, auto solver) {
    for (std::size_t steps : {25u, 50u, 100u}) {
      const fit_summary s = distribution_of(solver, steps, distribution_rows, 0, 0);
      std::printf("[sde-dpm] %-20s %3zu steps: mass %.4f  mean %.4f (%.1f SE)  var %.3f rel (%.1f SE)\n", name, steps, s.mass_err,
                  s.mean_err, s.mean_z, s.var_err, s.var_z);
    }
  };
  show("dpmpp-2m-sde", dpmpp_2m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_2m()});
  show("dpmpp-2m-sde heun", dpmpp_2m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_2m(dpm_solver_type::heun)});
  show("dpmpp-3m-sde", dpmpp_3m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_3m()});
  show("dpmpp-2s-ancestral", dpmpp_2s_ancestral<double>{});
  show("dpmpp-sde", dpmpp_sde<double>{});
}

namespace {
// 10⁵ keyed samples (10⁴ under sanitizers), EDM process, Karras grid σ 80 → 0.002 then σ = 0.
// Masses: within 0.01 (no allowance). Means and variances: within 3 standard errors plus a
// discretisation allowance, from the measurement test above ([.sde-dpm-measure]): the errors fall
// about as 1/steps (weak order 1 of the SDE limit; 2M at 25/50/100 steps: variance 22%, 7.3%, 3.1%
// relative; means 0.043, 0.0066, 0.0040), so the bias left at 100 steps is about the change from
// 50 to 100 steps: ≤ 4.2% relative in variance and ≤ 0.003 in the means, over all five samplers.
// Allowances 5% and 0.005 cover that; a wrong noise scale (e.g. σ_next instead of σ_next·√(1 − e^{−2h}))
// or a wrong order rule moves the variances by far more (25 steps: 15–80%).
void check_distribution(const char* name, auto solver) {
  const double mean_allow = 0.005, var_allow = 0.05;
  const fit_summary s = distribution_of(solver, 100, distribution_rows, mean_allow, var_allow);
  std::printf("[sde-dpm] %-20s 100 steps, %zu samples: mass err %.4f, mean err %.4f (%.1f SE past allowance), var err %.3f rel (%.1f SE)\n",
              name, distribution_rows, s.mass_err, s.mean_err, s.mean_z, s.var_err, s.var_z);
  INFO(name);
  CHECK(s.mass_err < 0.01);
  CHECK(s.mean_z < 3);
  CHECK(s.var_z < 3);
}
}  // namespace

TEST_CASE("SDE-DPM-Solver++(2M) draws the exact mixture", "[sde][sde-dpm][distribution]") {
  check_distribution("dpmpp-2m-sde", dpmpp_2m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_2m()});
}
TEST_CASE("SDE-DPM-Solver++(2M), heun type, draws the exact mixture", "[sde][sde-dpm][distribution]") {
  check_distribution("dpmpp-2m-sde heun", dpmpp_2m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_2m(dpm_solver_type::heun)});
}
TEST_CASE("SDE-DPM-Solver++(3M) draws the exact mixture", "[sde][sde-dpm][distribution]") {
  check_distribution("dpmpp-3m-sde", dpmpp_3m_sde<double>{dpmpp_sde_multistep_options::k_diffusion_3m()});
}
TEST_CASE("DPM-Solver++(2S) ancestral draws the exact mixture", "[sde][sde-dpm][distribution]") {
  check_distribution("dpmpp-2s-ancestral", dpmpp_2s_ancestral<double>{});
}
TEST_CASE("dpmpp-sde (Brownian tree) draws the exact mixture", "[sde][sde-dpm][distribution]") {
  check_distribution("dpmpp-sde", dpmpp_sde<double>{});
}

}  // namespace test_sde_dpm
