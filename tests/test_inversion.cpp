// Inversion and editing (solvers/inversion.hpp, compat/diffusers_inverse.hpp): PF-ODE inversion
// then sampling returns the data; diffusers' DDIMInverseScheduler grid and step, from its formulas
// written out here; SDEdit's strength rule (diffusers' img2img get_timesteps), its seeds and threads,
// and strength 1 on flow as plain sampling; `ferry invert` and `ferry sample --init` end to end.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "ferry/compat/diffusers_inverse.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/solvers/inversion.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/solvers/ode/euler.hpp"
#include "ferry/solvers/ode/rk4.hpp"
#include "ferry/solvers/sde/euler_ancestral.hpp"
#include "runtime_support.hpp"
#include "test_support.hpp"
#ifdef FERRY_CLI_PATH
#include "cli_runner.hpp"
#endif

namespace test_inversion {

using namespace ferry;

namespace {

using gmm = gaussian_mixture<double>;
gmm mixture() { return gmm::load(FERRY_TEST_DATA "/diffusion/gmm.json"); }

// Exact draws from the mixture: the data to invert and edit.
batch<double> data(std::size_t n = 64) {
  const gmm g = mixture();
  batch<double> x(n, g.dim());
  std::mt19937_64 rng(7);
  g.sample(rng, x.view());
  return x;
}

// x → latent over the grid reversed, then latent → x over the grid: the largest error.
template <class Solver>
double round_trip(Solver solver, const std::vector<level<double>>& levels, const batch<double>& x0) {
  gmm model = mixture();
  const vp_linear<double> process;
  batch<double> x = x0;
  ferry_test::run_erased(solver, process, model, make_inverse_schedule(levels), x.view());  // ferry::invert
  const double moved = ferry_test::max_abs_diff(x, x0);
  REQUIRE(moved > 0.5);  // the latent is noise, far from the data
  ferry_test::run_erased(solver, process, model, make_schedule(levels), x.view());
  return ferry_test::max_abs_diff(x, x0);
}

}  // namespace

TEST_CASE("PF-ODE inversion then sampling reconstructs the data with a high-order solver", "[inversion]") {
  const batch<double> x0 = data();
  const vp_linear<double> process;
  // λ-uniform levels from t = 1 down to t_min = 1e-3, where the data is taken.
  const auto levels = [&](std::size_t n) { return make_grid(process, {.kind = grid_kind::uniform_logsnr, .steps = n}); };
  const rk4<double> rk({.time = ode_time::lambda});
  const double e_rk_25 = round_trip(rk, levels(25), x0), e_rk_50 = round_trip(rk, levels(50), x0);
  const dopri5<double> adaptive({.rtol = 1e-6, .atol = 1e-6});
  const double e_dopri = round_trip(adaptive, levels(10), x0);
  INFO("RK4 in lambda: 25 steps " << e_rk_25 << ", 50 steps " << e_rk_50 << "; DOPRI5 (1e-6) over 10 levels " << e_dopri);
  CHECK(e_rk_50 < 1e-4);
  CHECK(e_rk_50 < e_rk_25 / 8);  // discretisation error, shrinking at the solver's order
  CHECK(e_dopri < 1e-4);
}

TEST_CASE("DPM-Solver++(3M) inverts: its third-order term keeps the step's sign going toward noise", "[inversion]") {
  // With |h| in place of h in that term the round trip was off by 1.37 at 50 steps; now 3.4e-3
  // (the multistep warm-up sits at the data end, docs/inversion.md).
  const batch<double> x0 = data();
  const vp_linear<double> process;
  const double e = round_trip(dpmpp_3m<double>{}, make_grid(process, {.kind = grid_kind::uniform_logsnr, .steps = 50}), x0);
  INFO("DPM-Solver++(3M), 50 steps: " << e);
  CHECK(e < 1e-2);
}

TEST_CASE("inversion refuses a grid ending at sigma = 0 and stochastic solvers", "[inversion]") {
  const edm<double> process;
  const auto with_zero = make_grid(process, {.kind = grid_kind::karras, .steps = 8});
  REQUIRE(with_zero.back().sigma == 0);
  CHECK_CONFIG_ERROR(make_inverse_schedule(with_zero), "final_zero");
  gmm model = mixture();
  pf_ode<edm<double>, gmm> problem(process, model);
  const auto levels = make_grid(process, {.kind = grid_kind::karras, .steps = 8, .final_zero = false});
  batch<double> x = data(4);
  auto ancestral = euler_ancestral<double>();
  const schedule<double> up = make_inverse_schedule(levels), down = make_schedule(levels);
  CHECK_CONFIG_ERROR(invert(problem, up, ancestral, x.view()), "deterministic");
  euler<double> e;
  CHECK_CONFIG_ERROR(invert(problem, down, e, x.view()), "make_inverse_schedule");
}

// ---- diffusers' DDIMInverseScheduler ---------------------------------------------------------

namespace {
// What DDIMInverseScheduler.set_timesteps gives and which timestep each step's state is at,
// worked out by hand from scheduling_ddim_inverse.py (diffusers commit 58eb52c):
//   leading:  (arange(0, n) * (N // n)).round() + steps_offset
//   trailing: round(arange(N, 0, -N / n)[::-1]) - 1
//   state:    min(t - N // n, N - 1), initial_alpha_cumprod below 0.
struct inverse_case {
  std::string config;
  std::size_t steps;
  std::vector<long long> timesteps, states;
};
}  // namespace

TEST_CASE("the DDIM inverse grid is DDIMInverseScheduler's", "[inversion][compat]") {
  const std::vector<inverse_case> cases = {
      {R"({"steps_offset": 1, "set_alpha_to_one": false, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012})",
       10,
       {1, 101, 201, 301, 401, 501, 601, 701, 801, 901},
       {-99, 1, 101, 201, 301, 401, 501, 601, 701, 801}},
      {R"({"timestep_spacing": "trailing"})", 3, {332, 666, 999}, {-1, 333, 666}},
      {R"({"timestep_spacing": "trailing"})", 7, {142, 285, 428, 570, 713, 856, 999}, {0, 143, 286, 428, 571, 714, 857}},
      {R"({"num_train_timesteps": 100})", 8, {0, 12, 24, 36, 48, 60, 72, 84}, {-12, 0, 12, 24, 36, 48, 60, 72}},
  };
  for (const auto& c : cases) {
    INFO(c.config << " steps " << c.steps);
    const compat::diffusers_config cfg = compat::parse_diffusers_config(nlohmann::json::parse(c.config), compat::scheduler_class::ddim);
    const compat::diffusers_grid g = compat::ddim_inverse_grid(cfg, c.steps);
    const std::vector<float> abar = diffusers_alphas_cumprod(compat::config_betas(cfg));
    const double initial = cfg.set_alpha_to_one ? 1.0 : double(abar[0]);
    REQUIRE(g.steps() == c.steps);
    for (std::size_t i = 0; i < c.steps; ++i) {
      CHECK(g.timesteps[i] == double(c.timesteps[i]));
      CHECK(g.prev_timesteps[i] == c.states[i]);
      const double a_s = c.states[i] < 0 ? initial : double(abar[std::size_t(c.states[i])]), a_t = abar[std::size_t(c.timesteps[i])];
      CHECK(g.cur[i].alpha == std::sqrt(a_s));
      CHECK(g.cur[i].sigma == std::sqrt(1 - a_s));
      CHECK(g.next[i].alpha == std::sqrt(a_t));
    }
  }
  const auto linspace = compat::parse_diffusers_config(nlohmann::json::parse(R"({"timestep_spacing": "linspace"})"),
                                                        compat::scheduler_class::ddim);
  CHECK_CONFIG_ERROR(compat::ddim_inverse_grid(linspace, 10), "leading or trailing");
}

TEST_CASE("compat::invert is DDIMInverseScheduler's loop: the model at t, the state at t - N/n", "[inversion][compat]") {
  for (const char* json : {R"({"clip_sample": false, "set_alpha_to_one": false, "steps_offset": 1})",
                           R"({"clip_sample": true, "clip_sample_range": 0.8, "timestep_spacing": "trailing"})"}) {
    INFO(json);
    const compat::diffusers_config c = compat::parse_diffusers_config(nlohmann::json::parse(json), compat::scheduler_class::ddim);
    const std::size_t n = 12;
    const compat::diffusers_grid g = compat::ddim_inverse_grid(c, n);
    gmm model = mixture();
    model.predicts = prediction::epsilon;
    const batch<double> x0 = data(16);
    batch<double> x = x0;
    const sample_stats st = compat::invert(c, g, model, x.view());
    CHECK(st.nfe == n);

    // The same loop written from diffusers' step(): for t in timesteps: x = step(unet(x, t), t, x).
    const std::vector<float> abar = diffusers_alphas_cumprod(compat::config_betas(c));
    const auto N = static_cast<long long>(c.num_train_timesteps), r = N / static_cast<long long>(n);
    batch<double> y = x0, eps(y.shape());
    for (double tv : g.timesteps) {
      const auto t = static_cast<long long>(tv), s = std::min(t - r, N - 1);
      const double a_t = abar[std::size_t(t)], a_s = s >= 0 ? double(abar[std::size_t(s)]) : (c.set_alpha_to_one ? 1.0 : double(abar[0]));
      model(y.view(), level<double>::make(std::sqrt(a_t), std::sqrt(1 - a_t), tv), eps.view());  // unet(latents, t)
      for (std::size_t i = 0; i < y.size(); ++i) {
        double x0_hat = (y.data()[i] - std::sqrt(1 - a_s) * eps.data()[i]) / std::sqrt(a_s);
        if (c.clip_sample) x0_hat = std::clamp(x0_hat, -c.clip_sample_range, c.clip_sample_range);
        y.data()[i] = std::sqrt(a_t) * x0_hat + std::sqrt(1 - a_t) * eps.data()[i];
      }
    }
    CHECK(ferry_test::max_abs_diff(x, y) < 1e-12);
  }
}

// ---- SDEdit ------------------------------------------------------------------------------------

TEST_CASE("SDEdit's strength keeps diffusers' img2img steps", "[inversion][sdedit]") {
  // get_timesteps: init_timestep = min(int(n * strength), n): int() truncates the float product.
  CHECK(strength_steps(10, 0.75) == 7);
  CHECK(strength_steps(10, 0.3) == 3);  // 3.0000000000000004
  CHECK(strength_steps(10, 0.7) == 7);  // 7.000000000000001
  CHECK(strength_steps(10, 0.29) == 2);
  CHECK(strength_steps(50, 0.8) == 40);
  CHECK(strength_steps(10, 1.0) == 10);
  CHECK(strength_steps(3, 0.34) == 1);
  for (double bad : {0.0, -0.5, 1.5, std::nan("")})
    CHECK_CONFIG_ERROR(strength_steps(10, bad), "(0, 1]");
  CHECK_CONFIG_ERROR(strength_steps(4, 0.2), "keeps no step");

  const edm<double> process;
  const schedule<double> full = make_schedule(make_grid(process, {.kind = grid_kind::karras, .steps = 10}));
  const schedule<double> part = strength_schedule(full, 0.75);
  REQUIRE(part.steps() == 7);
  CHECK(part.points.front().sigma == full.points[3].sigma);
  CHECK(part.points.back().sigma == 0);
}

TEST_CASE("SDEdit: small strengths change little, seeds reproduce, threads do not matter", "[inversion][sdedit]") {
  gmm model = mixture();
  const edm<double> process;
  pf_ode<edm<double>, gmm> problem(process, model);
  const schedule<double> full = make_schedule(make_grid(process, {.kind = grid_kind::karras, .steps = 40}));
  const batch<double> x0 = data(64);
  auto edit = [&](double strength, std::uint64_t seed, int threads) {
    const schedule<double> s = strength_schedule(full, strength);
    batch<double> x = x0;
    noise_to(s.points.front(), x.view(), seed);
    euler<double> e;
    sample(problem, s, e, x.view(), no_observer{}, {.threads = threads, .chunk_rows = threads > 1 ? 5u : 0u});
    return x;
  };
  double last = 0;
  for (double strength : {0.1, 0.4, 0.7, 1.0}) {
    const batch<double> x = edit(strength, 3, 1);
    double mean = 0;
    for (std::size_t i = 0; i < x.size(); ++i) mean += std::abs(x.data()[i] - x0.data()[i]);
    mean /= double(x.size());
    INFO("strength " << strength << ": mean |edit - x0| " << mean << ", max " << ferry_test::max_abs_diff(x, x0));
    if (strength == 0.1) CHECK(ferry_test::max_abs_diff(x, x0) < 0.05);
    CHECK(mean > last);  // the edit moves the data further as the strength grows
    last = mean;
  }
  const batch<double> a = edit(0.6, 11, 1), b = edit(0.6, 11, 1), c = edit(0.6, 11, 3), d = edit(0.6, 12, 1);
  CHECK(ferry_test::max_abs_diff(a, b) == 0);
  CHECK(ferry_test::max_abs_diff(a, c) == 0);
  CHECK(ferry_test::max_abs_diff(a, d) > 0.01);
}

TEST_CASE("SDEdit at strength 1 on flow (alpha = 0 at the top) is plain sampling from the same seed", "[inversion][sdedit]") {
  gmm model = mixture();
  model.predicts = prediction::velocity;
  const flow<double> process;
  pf_ode<flow<double>, gmm> problem(process, model);
  const schedule<double> s = make_schedule(make_grid(process, {.kind = grid_kind::uniform, .steps = 12}));
  REQUIRE(s.points.front().alpha == 0);
  const std::uint64_t seed = 5;
  batch<double> plain(16, 2);  // the CLI's plain run: x = σ_top·z, z keyed (seed, row, initial_noise_step)
  random::fill_normal(seed, plain.view(), 0, random::initial_noise_step);
  simd::lincomb<double, 1>(plain.view().span(), {s.points.front().sigma}, {plain.data()});
  batch<double> edited = data(16);
  noise_to(strength_schedule(s, 1.0).points.front(), edited.view(), seed);
  euler<double> e;
  sample(problem, s, e, plain.view());
  sample(problem, strength_schedule(s, 1.0), e, edited.view());
  CHECK(ferry_test::max_abs_diff(plain, edited) == 0);
}

// ---- the CLI -----------------------------------------------------------------------------------

#ifdef FERRY_CLI_PATH
TEST_CASE("ferry invert then ferry sample --noise returns the data; sample --init edits it", "[cli][inversion]") {
  using namespace ferry_test;
  scratch_dir dir;
  const batch<double> x0 = data(32);
  const fs::path x_path = dir.path / "x.npy", z_path = dir.path / "z.npy", back = dir.path / "back.npy";
  io::write_npy(x_path.string(), x0);
  const std::string model = "--model gmm:" + quoted(fs::path(reference_dir + "gmm.json"));
  const std::string grid = " --process vp-linear --grid uniform-logsnr --solver rk4 --ode-time lambda --steps 50";
  run_result r = run_cli("invert " + model + grid + " --threads 2 --data " + quoted(x_path) + " --out " + quoted(z_path), dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("ferry invert: 32 samples, 50 steps") != std::string::npos);
  const batch<double> z = io::read_npy(z_path.string()).as_batch<double>();
  double var = 0;
  for (std::size_t i = 0; i < z.size(); ++i) var += z.data()[i] * z.data()[i];
  CHECK(var / double(z.size()) > 0.3);  // unit-scale noise, not the data
  r = run_cli("sample " + model + grid + " --final-zero false --noise " + quoted(z_path) + " --out " + quoted(back), dir);
  REQUIRE(r.code == 0);
  const double err = max_abs_diff(io::read_npy(back.string()).as_batch<double>(), x0);
  INFO("CLI round trip: max error " << err);
  CHECK(err < 1e-4);

  // DDIM inversion as diffusers' DDIMInverseScheduler.
  const fs::path cfg = dir.path / "ddim.json";
  std::ofstream(cfg) << R"({"_class_name": "DDIMScheduler", "clip_sample": false, "steps_offset": 1, "set_alpha_to_one": false})";
  r = run_cli("invert " + model + " --scheduler-config " + quoted(cfg) + " --steps 20 --data " + quoted(x_path) + " --out " +
                  quoted(z_path), dir);
  CHECK(r.code == 0);
  CHECK(r.err.find("NFE 20") != std::string::npos);

  // SDEdit: the same seed gives the same bytes for any thread count.
  const fs::path e1 = dir.path / "e1.npy", e2 = dir.path / "e2.npy";
  const std::string edit = "sample " + model + " --process edm --grid karras --solver heun --steps 20 --init " + quoted(x_path) +
                           " --strength 0.5 --seed 9";
  REQUIRE(run_cli(edit + " --out " + quoted(e1), dir).code == 0);
  r = run_cli(edit + " --threads 2 --out " + quoted(e2), dir);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("10 steps") != std::string::npos);  // int(20 · 0.5) of the grid's 20
  CHECK(slurp(e1) == slurp(e2));
}
#endif

}  // namespace test_inversion
